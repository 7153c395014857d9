/* put_file: the verified whole-file PUT that uploadFile takes for small (and empty) files, and
 * putObject for a memory body through the queue (docs/upload-engine.md#uploadfile-and-uploadfiles):
 * one request, checked by the integrity policy (ops/integrity.c), resent (bounded) when damaged. */
#include "upload/put_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/params.h"
#include "base/errors.h"
#include "base/options.h"
#include "client.h"
#include "http/transport.h"
#include "ops/integrity.h"
#include "ops/messages.h"
#include "task/queue.h"

/* ---------------------------------------------------------------------------------------- */
/* The verified whole-file PUT                                                               */

typedef struct put_file {
    cos_task *t;
    char *path;      /* NULL: the task's memory body */
    int64_t size;
    int integrity_retries;
    int want_md5;     /* UploadAddMetaMd5: x-cos-meta-md5 */
    int want_content; /* UploadCheckContentMd5: Content-MD5, from the same MD5 */
    int have_md5;
    unsigned char md5[16];
    char meta_md5[33];
    /* The body's MD5 (either need above) of a file: hashed in slices from cos_poll steps (op_step),
     * so that even a file of SliceSize (up to 5 GiB) never stalls a step; pause/cancel stop it at once. */
    cos_integrity_hasher hasher;
    int hash_fd;
} put_file;

static int put_submit(put_file *pf);

static void put_done(void *ud, cos_http_result *res)
{
    put_file *pf = ud;
    cos_task *t = pf->t;
    if (res->error) {
        cos_value *e = res->error;
        res->error = NULL;
        cos_task_finish(t, e, NULL);
        return;
    }
    cos_value *bad = NULL;
    cos_integrity_verdict v = cos_integrity_check(t->client, res, pf->size, "", &bad);
    if (v != COS_INTEGRITY_OK) {
        /* Sent again: a PUT replaces the object, so the damaged copy does not survive. A RECHECK
         * (no CRC-64, MD5 now on) is not counted: it happens once per client. */
        int again = v == COS_INTEGRITY_RECHECK || (v == COS_INTEGRITY_DAMAGED && pf->integrity_retries++ < 2);
        if (again && put_submit(pf) == 0) {
            cos_value_free(bad);
            return;
        }
        cos_task_finish(t, bad, NULL);
        return;
    }
    cos_msg_to to = cos_msg_to_task(t);
    cos_value *err = NULL, *data = cos_msg_put_object_read(&to, res, &err);
    cos_task_finish(t, data ? NULL : err, data);
}

/* The PUT's body: the task's memory body, an empty file, or the file (*fd_open: a descriptor
 * opened here, to close once the request is built). 0, or -1 (errno set for the file's own errors). */
static int put_body(put_file *pf, cos_msg_body *mb, int *fd_open)
{
    cos_task *t = pf->t;
    *fd_open = -1;
    if (!pf->path) {
        const void *data = t->body.kind == COS_BODY_MEM ? t->body.data : "";
        size_t len = t->body.kind == COS_BODY_MEM ? t->body.len : 0;
        *mb = (cos_msg_body){.kind = COS_MSG_BODY_MEM_COPY, .data = data, .len = len}; /* restart sends it again */
        return 0;
    }
    if (pf->size == 0) {
        *mb = (cos_msg_body){.kind = COS_MSG_BODY_NONE}; /* an empty file */
        return 0;
    }
    /* O_NONBLOCK: never hang on a FIFO swapped in since validation. */
    int fd = open(pf->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0) return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        errno = S_ISREG(st.st_mode) ? errno : EINVAL;
        close(fd);
        return -1;
    }
    *fd_open = fd;
    *mb = (cos_msg_body){.kind = COS_MSG_BODY_FD, .fd = fd, .offset = 0, .length = pf->size};
    return 0;
}

/* One attempt chain of the PUT (the engine retries 5xx and network errors with backoff). */
static int put_submit(put_file *pf)
{
    cos_task *t = pf->t;
    cos_msg_body body;
    int fd = -1;
    errno = 0;
    if (put_body(pf, &body, &fd) != 0) return errno && pf->path ? -2 : -1; /* -2: the file's own error (EACCES, ...) */
    if (pf->want_content) body.content_md5 = pf->md5; /* Content-MD5 (unless given) */
    const char *type = mime_lookup_upload(t->client->mime, pf->path, cos_task_key(t));
    if (!type && pf->path) type = "application/octet-stream";
    cos_msg_to to = cos_msg_to_task(t);
    cos_request *r = cos_msg_put_object(&to, &body, type, pf->want_md5 ? pf->meta_md5 : NULL);
    if (fd >= 0) close(fd);
    if (!r) return -1;
    cos_task_track_progress(t, r, 1);
    cos_req_on_done(r, put_done, pf);
    return cos_transport_submit(r);
}

/* The PUT itself, once the x-cos-meta-md5 (if asked for) is known. */
static void put_send(put_file *pf)
{
    cos_task *t = pf->t;
    cos_task_progress_now(t, 0, (double)pf->size); /* the start emission: "uploading" */
    int rc = put_submit(pf);
    if (rc == -2) cos_task_finish(t, cos_error_errno(errno, "open", pf->path), NULL);
    else if (rc != 0) cos_task_finish(t, cos_error_newf("Error", "cannot build the PUT request"), NULL);
}

static void put_hash_stop(put_file *pf)
{
    cos_integrity_hasher_stop(&pf->hasher);
    if (pf->hash_fd >= 0) close(pf->hash_fd);
    pf->hash_fd = -1;
    cos_task_set_step(pf->t, NULL);
}

/* One cos_poll step of the whole-file MD5: as many bytes as the step budget leaves. */
static void put_hash_step(cos_task *t)
{
    put_file *pf = t->op_state;
    int64_t used = 0;
    unsigned char md5[16];
    uint64_t crc = 0;
    int rc = cos_integrity_hasher_step(&pf->hasher, t->client, &used, md5, &crc);
    if (rc == 0 && used == 0) return; /* the step's budget is spent */
    if (rc == 0) {
        cos_task_hash_progress_now(t, (double)pf->hasher.done, (double)pf->size);
        return;
    }
    int e = errno;
    put_hash_stop(pf);
    if (rc < 0) {
        cos_task_finish(t, cos_error_errno(e, "read", pf->path), NULL);
        return;
    }
    memcpy(pf->md5, md5, sizeof pf->md5);
    pf->have_md5 = 1;
    cos_integrity_md5_hex_of(md5, pf->meta_md5);
    cos_task_hash_progress_now(t, (double)pf->size, (double)pf->size);
    put_send(pf);
}

/* Starts the sliced MD5 of the file (put_hash_step goes on from the next steps). */
static void put_hash_start(put_file *pf)
{
    cos_task *t = pf->t;
    pf->hash_fd = open(pf->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* never blocks on a FIFO */
    if (pf->hash_fd < 0) {
        cos_task_finish(t, cos_error_errno(errno, "open", pf->path), NULL);
        return;
    }
    if (cos_integrity_hasher_start(&pf->hasher, pf->hash_fd, 0, pf->size) != 0) {
        put_hash_stop(pf);
        cos_task_finish(t, cos_error_newf("Error", "out of memory"), NULL);
        return;
    }
    cos_task_hash_progress_now(t, 0, (double)pf->size);
    cos_task_set_step(t, put_hash_step);
}

static void put_run(cos_task *t)
{
    put_file *pf = t->op_state;
    if (pf->path && pf->size > 0) { /* the size was taken at the call; the file may have changed since */
        struct stat st;
        if (stat(pf->path, &st) != 0) {
            cos_task_finish(t, cos_error_errno(errno, "stat", pf->path), NULL);
            return;
        }
        if (S_ISREG(st.st_mode)) pf->size = st.st_size;
        cos_queue_set_size(t, (double)pf->size);
    }
    if ((pf->want_md5 || pf->want_content) && !pf->have_md5) {
        if (pf->path && pf->size > 0) {
            put_hash_start(pf);
            return;
        }
        const void *d = !pf->path && t->body.kind == COS_BODY_MEM ? t->body.data : "";
        size_t n = !pf->path && t->body.kind == COS_BODY_MEM ? t->body.len : 0;
        cos_integrity_md5(d ? d : "", n, pf->md5);
        pf->have_md5 = 1;
        cos_integrity_md5_hex_of(pf->md5, pf->meta_md5);
    }
    put_send(pf);
}

static void put_stop(cos_task *t)
{
    put_hash_stop(t->op_state);
    cos_transport_abort_task(t->client, t->id);
}

static const cos_queue_ops PUT_OPS = {put_run, put_stop, NULL, NULL};

static void put_abort(cos_task *t) { put_stop(t); }

static void put_free(void *ud)
{
    put_file *pf = ud;
    if (!pf) return;
    cos_integrity_hasher_stop(&pf->hasher);
    if (pf->hash_fd >= 0) close(pf->hash_fd);
    free(pf->path);
    free(pf);
}

int cos_put_file_start(cos_task *t, const char *path, int64_t size, int file_finish, cos_value **err)
{
    put_file *pf = calloc(1, sizeof *pf);
    if (!pf || (path && !(pf->path = strdup(path)))) {
        put_free(pf);
        *err = cos_error_newf("Error", "out of memory");
        return -1;
    }
    pf->t = t;
    pf->hash_fd = -1;
    pf->size = size;
    pf->want_md5 = cos_param_bool(t->params, "UploadAddMetaMd5", 0) == 1;
    pf->want_content = cos_integrity_wants_content_md5(t->client, COS_API_PUT_OBJECT);
    t->op_state = pf;
    t->op_free = put_free;
    t->op_abort = put_abort;
    if (cos_queue_add(t, path, (double)size, &PUT_OPS, file_finish) != 0) {
        t->op_state = NULL;
        t->op_free = NULL;
        t->op_abort = NULL;
        put_free(pf);
        *err = cos_error_newf("Error", "out of memory");
        return -1;
    }
    return 0;
}

