/* stream_source: reading a stream body, and the part-size rule (stream_source.h). */
#include "base/errors.h"
#include "upload/stream_source.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#define MAX_PART_SIZE ((int64_t)5 * 1024 * 1024 * 1024) /* COS: a part holds at most 5 GiB */

struct cos_stream {
    cos_task *t;
    int fd; /* the task's (dup'ed) descriptor, or -1 */
    /* The caller's reader, taken before the task queue wraps t->cb (it passes on only the
     * callbacks it knows). */
    long (*read)(void *ud, cos_task_id id, void *buf, size_t cap, cos_value **err);
    void *ud;
};

cos_stream *cos_stream_new(cos_task *t)
{
    cos_stream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->t = t;
    s->fd = t->body.fd;
    s->read = t->cb.on_read;
    s->ud = t->cb.ud;
    return s;
}

void cos_stream_free(cos_stream *s) { free(s); }

int cos_stream_wait_fd(const cos_stream *s) { return s->fd; }

/* A descriptor without on_read: read() only after poll() says it will not block, so a pipe
 * whose writer is slow never stalls the host's cos_poll. */
static long read_fd(cos_stream *s, void *buf, size_t cap, cos_value **err)
{
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    int n = poll(&p, 1, 0);
    if (n == 0 || (n < 0 && errno == EINTR)) return COS_READ_AGAIN;
    ssize_t got = n < 0 ? -1 : read(s->fd, buf, cap);
    if (got >= 0) return (long)got;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return COS_READ_AGAIN;
    *err = cos_error_errno(errno, "read", "Body");
    return COS_READ_ERROR;
}

long cos_stream_read(cos_stream *s, void *buf, size_t cap, cos_value **err)
{
    *err = NULL;
    if (!s->read) return read_fd(s, buf, cap, err);
    long n = s->read(s->ud, s->t->id, buf, cap, err);
    if (n > (long)cap || n < COS_READ_AGAIN) n = COS_READ_ERROR; /* a broken callback */
    if (n == COS_READ_ERROR && !*err) *err = cos_error_newf("EBODYREAD", "the Body stream failed to read");
    if (n != COS_READ_ERROR && *err) {
        cos_value_free(*err);
        *err = NULL;
    }
    return n;
}

int64_t cos_stream_part_size(int64_t chunk, int max_parts, int number)
{
    int flat = max_parts / 10, step = max_parts / 100;
    int64_t size = chunk;
    for (int n = number - flat; n > 0 && size < MAX_PART_SIZE; n -= step) size *= 2;
    return size < MAX_PART_SIZE ? size : MAX_PART_SIZE;
}
