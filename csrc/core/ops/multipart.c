/* multipart: the six multipart operations, one request each: validation here, the request and
 * the reading of its answer in ops/messages.c (the same builders and readers the upload engine
 * uses). Results are shaped as the Node SDK shapes them: XML values stay strings, the Upload/Part
 * lists are always arrays, ETags keep their quotes, and Complete's Location is the SDK-built one. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/validate.h"
#include "base/params.h"
#include "client.h"
#include "http/transport.h"
#include "base/errors.h"
#include "ops/integrity.h"
#include "ops/messages.h"
#include "ops/multipart.h"

/* ------------------------------------------------------------------------------------------ */
/* Shared plumbing                                                                             */

static int fail(cos_value **err, cos_value *e)
{
    *err = e ? e : cos_validate_error(NULL, "out of memory");
    return -1;
}

/* Hands the request built for t (NULL: building failed) to the engine; `done` finishes the task. */
static int submit(cos_task *t, cos_request *r, cos_req_done_fn done, cos_value **err)
{
    if (!r) return fail(err, cos_validate_error(NULL, "cannot build the %s request", t->op));
    cos_req_on_done(r, done, t);
    t->req = r;
    cos_transport_submit(r); /* on failure `done` still runs (with an error) from cos_poll */
    return 0;
}

/* Finishes t with what a reader made of the answer (data, or *err). */
static void finish_read(cos_task *t, cos_value *data, cos_value *err) { cos_task_finish(t, data ? NULL : err, data); }

/* Common object-level checks: Bucket, Region, Key, and the UploadId when `need_upload_id`. */
static cos_value *check_object(const cos_task *t, int need_upload_id)
{
    cos_value *e = cos_validate_object_params(t->params, 1);
    if (!e && need_upload_id) e = cos_validate_upload_id(t->params);
    if (!e) e = cos_validate_traffic_limit(t->params);
    return e;
}

/* A string param's value, or NULL when absent (strings, or numbers formatted as JS does). */
#define PARAM(t, name, buf) cos_param_string((t)->params, (name), (buf), sizeof(buf))

/* ------------------------------------------------------------------------------------------ */
/* multipartList (ListMultipartUploads)                                                        */

static void list_done(void *ud, cos_http_result *res)
{
    cos_value *err = NULL, *data = cos_msg_list_uploads_read(res, &err);
    finish_read(ud, data, err);
}

int cos_op_multipart_list(cos_task *t, cos_value **err)
{
    static const char *const strings[] = {"Prefix", "Delimiter", "EncodingType", "KeyMarker", "UploadIdMarker", NULL};
    static const char *const numbers[] = {"MaxUploads", NULL};
    cos_value *e = cos_validate_bucket_params(t->params);
    if (!e) e = cos_validate_optional_strings(t->params, strings, 0);
    if (!e) e = cos_validate_optional_strings(t->params, numbers, 1);
    if (e) return fail(err, e);
    cos_msg_to to = cos_msg_to_task(t);
    char km[64], im[64];
    return submit(t, cos_msg_list_uploads(&to, cos_task_str(t, "Prefix"), PARAM(t, "KeyMarker", km),
                                          PARAM(t, "UploadIdMarker", im)), list_done, err);
}

/* ------------------------------------------------------------------------------------------ */
/* multipartInit (InitiateMultipartUpload)                                                     */

static void init_done(void *ud, cos_http_result *res)
{
    cos_value *err = NULL, *data = cos_msg_initiate_read(res, &err);
    finish_read(ud, data, err);
}

int cos_op_multipart_init(cos_task *t, cos_value **err)
{
    cos_value *e = check_object(t, 0);
    if (e) return fail(err, e);
    cos_msg_to to = cos_msg_to_task(t);
    /* Content-Type by the key's extension, else sent empty (and so unsigned). */
    const char *type = mime_lookup_upload(t->client->mime, NULL, to.key);
    return submit(t, cos_msg_initiate(&to, type ? type : "", NULL), init_done, err);
}

/* ------------------------------------------------------------------------------------------ */
/* multipartUpload (UploadPart)                                                                */

static int pull_from_task(void *ud, const void **chunk, size_t *len)
{
    cos_task *t = ud;
    if (!t->cb.on_pull) return -1;
    return t->cb.on_pull(t->cb.ud, t->id, chunk, len);
}

/* ContentLength as given, or -1. */
static int64_t param_length(const cos_value *params)
{
    int64_t n = -1;
    if (cos_param_integer(cos_obj_get(params, "ContentLength"), &n) != 0 || n < 0) return -1;
    return n;
}

/* An fd body from `offset`: `length` bytes, or (length < 0) to the end of a regular file. With
 * UploadCheckContentMd5 it is hashed now into md5 (its Content-MD5 precedes it; messages.c hashes
 * in-memory bodies itself). */
static int fd_body(const cos_task *t, cos_msg_body *mb, unsigned char md5[16], int fd, int64_t offset, int64_t length,
                   cos_value **err)
{
    if (length < 0) {
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
            return fail(err, cos_validate_error("ContentLength",
                                                "missing param ContentLength (the body is not a regular file)"));
        length = st.st_size > offset ? (int64_t)st.st_size - offset : 0;
    }
    *mb = (cos_msg_body){.kind = COS_MSG_BODY_FD, .fd = fd, .offset = offset, .length = length};
    if (!cos_integrity_wants_content_md5(t->client)) return 0;
    if (cos_integrity_md5_of(fd, offset, length, NULL, md5) != 0)
        return fail(err, cos_error_errno(errno, "read", t->body.kind == COS_BODY_PATH ? t->body.path : NULL));
    mb->content_md5 = md5;
    return 0;
}

/* The part's body like putObject's: string, fd, file path or pulled chunks. *fd_open gets a
 * descriptor this opened (the request keeps its own dup; close it after building), or -1.
 * Returns 0, or -1 and *err. */
static int part_body(cos_task *t, cos_msg_body *mb, unsigned char md5[16], int *fd_open, cos_value **err)
{
    const cos_body *b = &t->body;
    int64_t given = param_length(t->params);
    *fd_open = -1;
    switch (b->kind) {
    case COS_BODY_NONE: return fail(err, cos_validate_error("Body", "missing param Body")); /* as the SDK */
    case COS_BODY_MEM: *mb = (cos_msg_body){.kind = COS_MSG_BODY_MEM_COPY, .data = b->data, .len = b->len}; return 0;
    case COS_BODY_FD: return fd_body(t, mb, md5, b->fd, b->offset, b->length >= 0 ? b->length : given, err);
    case COS_BODY_PATH: {
        int fd = open(b->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO never blocks */
        if (fd < 0) return fail(err, cos_error_errno(errno, "open", b->path));
        *fd_open = fd;
        return fd_body(t, mb, md5, fd, 0, given, err);
    }
    case COS_BODY_PULL: {
        int64_t len = b->length >= 0 ? b->length : given;
        if (len < 0) return fail(err, cos_validate_error("ContentLength", "missing param ContentLength"));
        *mb = (cos_msg_body){.kind = COS_MSG_BODY_PULL, .length = len, .pull = pull_from_task, .pull_ud = t};
        return 0;
    }
    case COS_BODY_STREAM: return fail(err, cos_validate_error("Body", "a stream Body (no known length) is accepted by sliceUploadFile and uploadFile only"));
    }
    return fail(err, NULL);
}

static void upload_done(void *ud, cos_http_result *res)
{
    cos_value *err = NULL, *data = cos_msg_upload_part_read(res, &err);
    finish_read(ud, data, err);
}

int cos_op_multipart_upload(cos_task *t, cos_value **err)
{
    cos_value *e = check_object(t, 1);
    if (!e) e = cos_validate_part_number(t->params);
    if (e) return fail(err, e);
    cos_msg_body body;
    unsigned char md5[16];
    int fd = -1;
    if (part_body(t, &body, md5, &fd, err) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    int64_t pn = 0;
    cos_param_integer(cos_obj_get(t->params, "PartNumber"), &pn); /* validated: 1..10000 */
    cos_msg_to to = cos_msg_to_task(t);
    cos_request *r = cos_msg_upload_part(&to, cos_task_str(t, "UploadId"), (int)pn, &body);
    if (fd >= 0) close(fd);
    if (r) cos_task_track_progress(t, r, 1);
    return submit(t, r, upload_done, err);
}

/* ------------------------------------------------------------------------------------------ */
/* multipartListPart (ListParts)                                                               */

static void list_part_done(void *ud, cos_http_result *res)
{
    cos_value *err = NULL, *data = cos_msg_list_parts_read(res, &err);
    finish_read(ud, data, err);
}

int cos_op_multipart_list_part(cos_task *t, cos_value **err)
{
    static const char *const strings[] = {"EncodingType", NULL};
    static const char *const numbers[] = {"MaxParts", "PartNumberMarker", NULL};
    cos_value *e = check_object(t, 1);
    if (!e) e = cos_validate_optional_strings(t->params, strings, 0);
    if (!e) e = cos_validate_optional_strings(t->params, numbers, 1);
    if (e) return fail(err, e);
    cos_msg_to to = cos_msg_to_task(t);
    char marker[64];
    return submit(t, cos_msg_list_parts(&to, cos_task_str(t, "UploadId"), PARAM(t, "PartNumberMarker", marker)),
                  list_part_done, err);
}

/* ------------------------------------------------------------------------------------------ */
/* multipartComplete (CompleteMultipartUpload)                                                 */

static void complete_done(void *ud, cos_http_result *res)
{
    cos_task *t = ud;
    cos_msg_to to = cos_msg_to_task(t);
    cos_value *err = NULL, *data = cos_msg_complete_read(&to, res, &err);
    finish_read(t, data, err);
}

int cos_op_multipart_complete(cos_task *t, cos_value **err)
{
    cos_value *e = check_object(t, 1);
    if (!e) e = cos_validate_parts(t->params);
    if (e) return fail(err, e);
    cos_msg_to to = cos_msg_to_task(t);
    return submit(t, cos_msg_complete(&to, cos_task_str(t, "UploadId"), cos_obj_get(t->params, "Parts"), NULL),
                  complete_done, err);
}

/* ------------------------------------------------------------------------------------------ */
/* multipartAbort (AbortMultipartUpload)                                                       */

static void abort_done(void *ud, cos_http_result *res)
{
    cos_value *err = NULL, *data = cos_msg_read(res, &err);
    finish_read(ud, data, err);
}

int cos_op_multipart_abort(cos_task *t, cos_value **err)
{
    cos_value *e = check_object(t, 1);
    if (e) return fail(err, e);
    cos_msg_to to = cos_msg_to_task(t);
    return submit(t, cos_msg_abort(&to, cos_task_str(t, "UploadId")), abort_done, err);
}

/* A multipartAbort task of its own (its row of the index, operations.c), for an upload a failed
 * task left on the server: cancelTask of an "error" entry (queue.h, abort_upload). */
static const cos_operation MULTIPART_ABORT = {"multipartAbort", cos_op_multipart_abort, 0, 0};

void cos_op_multipart_abort_upload(cos_client *c, const char *bucket, const char *region, const char *key,
                                   const char *upload_id)
{
    cos_value *p = cos_obj_new();
    if (!p) return;
    if (cos_obj_set_str(p, "Bucket", bucket) || cos_obj_set_str(p, "Region", region) || cos_obj_set_str(p, "Key", key) ||
        cos_obj_set_str(p, "UploadId", upload_id)) {
        cos_value_free(p);
        return;
    }
    cos_callbacks none = {0};
    cos_value *err = NULL;
    cos_task_start(c, &MULTIPART_ABORT, MULTIPART_ABORT.name, p, NULL, NULL, &none, NULL, &err);
    cos_value_free(err);
}
