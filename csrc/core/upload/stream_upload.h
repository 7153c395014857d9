/* stream_upload: sliceUploadFile and uploadFile from a stream (COS_BODY_STREAM) of unknown
 * length, with bounded memory (stream_upload.c). Joins the task queue like file uploads. */
#ifndef COS_STREAM_UPLOAD_H
#define COS_STREAM_UPLOAD_H
#include <stdint.h>
#include "task/task.h"

/* The operation for a task whose body is a stream: validates (Bucket, Region, Key, traffic
 * limit; resume parameters are refused), then starts. `upload_file`: uploadFile (a stream that
 * ends within SliceSize goes as one PUT; on_file_finish) rather than sliceUploadFile.
 * 0, or -1 with *err. */
int cos_stream_upload_op(cos_task *t, int upload_file, cos_value **err);
/* Starts the upload of t's stream: at most `threshold` bytes (capped to the first part's size)
 * go as one PUT. Joins the queue. 0, or -1 with *err. */
int cos_stream_upload_start(cos_task *t, int64_t threshold, int file_finish, cos_value **err);

#endif
