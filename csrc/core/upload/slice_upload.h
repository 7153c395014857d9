/* slice_upload: sliceUploadFile's multipart upload of a file (slice_upload.c): parts in parallel,
 * each verified, checkpoint and resume (docs/upload-engine.md). */
#ifndef COS_UPLOAD_SLICE_UPLOAD_H
#define COS_UPLOAD_SLICE_UPLOAD_H
#include <sys/stat.h>
#include "task/task.h"

/* Multipart upload of the file at `path` (stat'ed as *st) by task t: sets t's op state and joins
 * the queue. `file_finish`: uploadFile semantics (on_file_finish before on_done). 0 or -1 *err. */
int cos_slice_upload_start(cos_task *t, const char *path, const struct stat *st, int file_finish, cos_value **err);

#endif
