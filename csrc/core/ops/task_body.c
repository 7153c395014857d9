/* task_body: a task's body as one request's body (task_body.h). */
#include "ops/task_body.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/errors.h"
#include "base/params.h"
#include "base/validate.h"
#include "ops/integrity.h"

int cos_task_body_pull(void *ud, const void **chunk, size_t *len)
{
    cos_task *t = ud;
    return t->cb.on_pull ? t->cb.on_pull(t->cb.ud, t->id, chunk, len) : -1;
}

int64_t cos_task_body_param_length(const cos_task *t)
{
    int64_t n = -1;
    if (cos_param_integer(cos_obj_get(t->params, "ContentLength"), &n) != 0 || n < 0) return -1;
    return n;
}

/* Opens a file to upload without ever blocking (O_NONBLOCK: a FIFO swapped in after validation
 * does not hang the process) and only if it is a regular file. The fd, or -1 and *err. */
static int task_body_open_file(const char *path, struct stat *st, cos_value **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return cos_error_out(err, cos_error_errno(errno, "open", path));
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        int e = errno, reg = S_ISREG(st->st_mode);
        close(fd);
        if (!reg) return cos_error_out(err, cos_validate_error("FilePath", "param FilePath must be a regular file: '%s'", path));
        return cos_error_out(err, cos_error_errno(e, "stat", path));
    }
    return fd;
}

/* A file body: `len` bytes (< 0: the rest of the file) of fd from `off`. */
static int task_body_file(cos_task_body *b, const char *path, int fd, int64_t off, int64_t len, cos_value **err)
{
    struct stat st;
    if (len < 0) {
        if (fstat(fd, &st) != 0) return cos_error_out(err, cos_error_errno(errno, "stat", path));
        if (!S_ISREG(st.st_mode))
            return cos_error_out(err, cos_validate_error("ContentLength", "missing param ContentLength (the body is not a regular file)"));
        len = st.st_size > off ? (int64_t)st.st_size - off : 0;
    }
    b->msg = (cos_msg_body){.kind = COS_MSG_BODY_FD, .fd = fd, .offset = off, .length = len};
    b->size = len;
    b->file_like = 1;
    return 0;
}

int cos_task_body_open(cos_task *t, cos_task_body *b, cos_value **err)
{
    const cos_body *in = &t->body;
    int64_t given = in->length >= 0 ? in->length : cos_task_body_param_length(t);
    struct stat st;
    *b = (cos_task_body){.fd_open = -1};
    switch (in->kind) {
    case COS_BODY_NONE: b->msg.kind = COS_MSG_BODY_NONE; return 0;
    case COS_BODY_MEM:
        b->msg = (cos_msg_body){.kind = COS_MSG_BODY_MEM, .data = in->data, .len = in->len};
        b->size = (int64_t)in->len;
        return 0;
    case COS_BODY_FD: return task_body_file(b, NULL, in->fd, in->offset, given, err);
    case COS_BODY_PATH:
        if ((b->fd_open = task_body_open_file(in->path, &st, err)) < 0) return -1;
        return task_body_file(b, in->path, b->fd_open, 0, given, err);
    case COS_BODY_PULL:
        if (given < 0) return cos_error_out(err, cos_validate_error("ContentLength", "missing param ContentLength (the body size is unknown)"));
        b->msg = (cos_msg_body){.kind = COS_MSG_BODY_PULL, .length = given, .pull = cos_task_body_pull, .pull_ud = t};
        b->size = given;
        b->file_like = 1;
        return 0;
    case COS_BODY_STREAM:
        return cos_error_out(err, cos_validate_error("Body", "a stream Body (no known length) is accepted by "
                                                             "sliceUploadFile and uploadFile only"));
    }
    return cos_error_out(err, NULL);
}

int cos_task_body_md5(cos_task *t, cos_task_body *b, int content, cos_value **err)
{
    const cos_msg_body *m = &b->msg;
    if (m->kind == COS_MSG_BODY_PULL) return 0; /* its bytes are not known before they are sent */
    int fd = m->kind == COS_MSG_BODY_FD ? m->fd : -1;
    int64_t len = m->kind == COS_MSG_BODY_FD ? m->length : (int64_t)m->len;
    if (cos_integrity_md5_of(fd, m->offset, len, m->kind == COS_MSG_BODY_NONE ? "" : m->data, b->md5) != 0)
        return cos_error_out(err, cos_error_errno(errno, "read", t->body.kind == COS_BODY_PATH ? t->body.path : NULL));
    if (content) b->msg.content_md5 = b->md5;
    return 0;
}

void cos_task_body_close(cos_task_body *b)
{
    if (b->fd_open >= 0) close(b->fd_open);
    b->fd_open = -1;
}
