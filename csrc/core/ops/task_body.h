/* task_body: a task's body (cos_body of cos.h: a string, an io file or fd, a FilePath, pulled
 * chunks) as the body of one request (cos_msg_body of messages.h), the same way for every
 * single-request operation: putObject, appendObject, multipartUpload and postObject's file part. */
#ifndef COS_OPS_TASK_BODY_H
#define COS_OPS_TASK_BODY_H
#include <stdint.h>
#include "ops/messages.h"
#include "task/task.h"

typedef struct cos_task_body {
    cos_msg_body msg;       /* what the request sends */
    int64_t size;           /* its length in bytes */
    int fd_open;            /* a descriptor opened here (FilePath), else -1: cos_task_body_close */
    int file_like;          /* a file or a pulled stream rather than a string (Content-Type default) */
    unsigned char md5[16];  /* after cos_task_body_md5 */
} cos_task_body;

/* The task's body as a message body. Its length: the body's own, else param ContentLength, else
 * (a file) the rest of the file from its offset. A FilePath is opened without ever blocking and
 * must be a regular file; no body is an empty one (the caller refuses it first where a body is
 * required); a stream is refused naming Body, a pulled body of unknown length naming
 * ContentLength. A memory body is borrowed: the task outlives its requests, and a restarted task
 * sends it again. 0, or -1 and *err. */
int cos_task_body_open(cos_task *t, cos_task_body *b, cos_value **err);
/* The MD5 of the body's bytes (not of a pulled body) into b->md5, now, in one pass: the headers
 * precede the body. `content`: it also becomes the request's Content-MD5. 0, or -1 and *err. */
int cos_task_body_md5(cos_task *t, cos_task_body *b, int content, cos_value **err);
/* The body length the caller announced in param ContentLength, or -1 (absent or negative). */
int64_t cos_task_body_param_length(const cos_task *t);
/* Closes what cos_task_body_open opened (the request keeps its own duplicate). */
void cos_task_body_close(cos_task_body *b);
/* The pull source of a task's pulled body: the caller's on_pull, called from cos_poll. */
int cos_task_body_pull(void *ud, const void **chunk, size_t *len);

#endif
