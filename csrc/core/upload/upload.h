/* upload: the entry points of sliceUploadFile and uploadFile (upload.c), which pick the path a
 * body takes: a multipart upload of a file (slice_upload.c) or of a stream (stream_upload.c), or
 * one verified PUT (put_file.c). operations.c lists them. */
#ifndef COS_UPLOAD_UPLOAD_H
#define COS_UPLOAD_UPLOAD_H
#include "task/task.h"

int cos_op_slice_upload_file(cos_task *t, cos_value **err);
int cos_op_upload_file(cos_task *t, cos_value **err);

#endif
