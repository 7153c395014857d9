/* put_file: the verified whole-file PUT of uploadFile (put_file.c). */
#ifndef COS_UPLOAD_PUT_FILE_H
#define COS_UPLOAD_PUT_FILE_H
#include <stdint.h>
#include "task/task.h"

/* One PUT of a whole file (or of t's memory body when path is NULL) by task t, verified against
 * the ETag and x-cos-hash-crc64ecma the server returns. Joins the queue. 0 or -1 *err. */
int cos_put_file_start(cos_task *t, const char *path, int64_t size, int file_finish, cos_value **err);

#endif
