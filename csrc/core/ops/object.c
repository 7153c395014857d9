/* object: the simple object operations putObject, appendObject, headObject, getObject,
 * deleteObject: one request each (built and read by ops/messages.c), on the engine. */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/url.h"
#include "base/params.h"
#include "base/errors.h"
#include "client.h"
#include "http/transport.h"
#include "ops/integrity.h"
#include "ops/messages.h"
#include "ops/object.h"
#include "ops/task_body.h"
#include "task/queue.h"
#include "upload/upload.h"
#include "base/validate.h"

/* ---------------------------------------------------------------------------------------- */
/* Shared pieces                                                                             */

static int validate_object(cos_task *t, cos_value **err)
{
    cos_value *e = cos_validate_object_params(t->params, 1);
    if (!e) e = cos_validate_traffic_limit(t->params);
    return e ? cos_error_out(err, e) : 0;
}

static int submit(cos_task *t, cos_request *r, cos_req_done_fn done)
{
    cos_req_on_done(r, done, t);
    t->req = r;
    return cos_transport_submit(r);
}

/* ---------------------------------------------------------------------------------------- */
/* putObject                                                                                 */

static void put_run(cos_task *t);

/* putObject succeeds only when the answer vouches for the bytes sent, as integrity.c decides
 * (docs/upload-engine.md, "Integrity"). A damaged or unverifiable answer is an error; the first
 * answer without CRC-64 the client meets sends the body again, hashing MD5 (a pulled body hashed
 * MD5 from the start, as it cannot be sent again). */
static void put_done(void *ud, cos_http_result *res)
{
    cos_task *t = ud;
    t->req = NULL;
    cos_integrity_verdict v = cos_integrity_judge_task(t, res, 0);
    if (v == COS_INTEGRITY_RECHECK) {
        put_run(t);
        return;
    }
    if (v != COS_INTEGRITY_OK) return; /* finished with the error */
    cos_msg_to to = cos_msg_to_task(t);
    cos_value *err = NULL, *data = cos_msg_put_object_read(&to, res, &err);
    cos_task_finish(t, data ? NULL : err, data);
}

/* The request of an upload (putObject / appendObject), with the task's body. No ContentType
 * given: the type of the file's extension, else of the key's (the MIME table); file-like bodies
 * fall back to application/octet-stream, strings to none (COS then decides, as the Node SDK
 * leaves it). */
static cos_request *upload_request(cos_task *t, int is_append, int64_t *size, cos_value **err)
{
    cos_task_body tb;
    char meta_hex[33] = "";
    int meta = !is_append && cos_param_bool(t->params, "UploadAddMetaMd5", 0) == 1;
    /* Content-MD5 as integrity.c says (file bodies are hashed here; messages.c hashes in-memory
     * ones itself), and x-cos-meta-md5: one pass for both. */
    int content = cos_integrity_wants_content_md5(t->client, is_append ? COS_API_APPEND_OBJECT : COS_API_PUT_OBJECT) &&
                  t->body.kind != COS_BODY_MEM;
    if (cos_task_body_open(t, &tb, err) != 0 || ((content || meta) && cos_task_body_md5(t, &tb, content, err) != 0)) {
        cos_task_body_close(&tb);
        return NULL;
    }
    if (meta) cos_integrity_md5_hex_of(tb.md5, meta_hex);
    *size = tb.size;
    const char *path = t->body.kind == COS_BODY_PATH ? t->body.path : NULL;
    const char *type = mime_lookup_upload(t->client->mime, path, cos_task_key(t));
    if (!type && tb.file_like) type = "application/octet-stream";
    cos_msg_to to = cos_msg_to_task(t);
    char pos[40];
    cos_request *r = is_append ? cos_msg_append_object(&to, cos_param_string(t->params, "Position", pos, sizeof pos),
                                                       &tb.msg, type)
                               : cos_msg_put_object(&to, &tb.msg, type, meta ? meta_hex : NULL);
    cos_task_body_close(&tb);
    if (!r) cos_error_out(err, NULL);
    return r;
}

/* No Body and no FilePath: refused, unless the key names a "directory" (ends in '/'). An empty
 * object needs Body = "": a nil Body is usually a failed io.open, not an intent. */
static cos_value *check_body_given(cos_task *t)
{
    if (t->body.kind != COS_BODY_NONE) return NULL;
    const char *fp = cos_task_str(t, "FilePath");
    if (fp && *fp) { /* FilePath in params (the C API), no body source given */
        if (!(t->body.path = strdup(fp))) return cos_error_new("Error", "out of memory");
        t->body.kind = COS_BODY_PATH;
        return NULL;
    }
    const char *key = cos_task_key(t);
    size_t n = key ? strlen(key) : 0;
    if (n && key[n - 1] == '/') return NULL;
    return cos_validate_error("Body", "missing param Body (or FilePath); Body is nil, e.g. a failed io.open? "
                                      "For an empty object give Body = \"\"");
}

/* An io file body with a ContentLength beyond what the file holds would end early: refused
 * now, stating both sizes. */
static cos_value *check_fd_length(cos_task *t)
{
    struct stat st;
    const cos_body *b = &t->body;
    if (b->kind != COS_BODY_FD || b->length < 0 || fstat(b->fd, &st) != 0 || !S_ISREG(st.st_mode)) return NULL;
    int64_t left = (int64_t)st.st_size - b->offset;
    if (left < 0) left = 0;
    if (b->length <= left) return NULL;
    return cos_validate_error("ContentLength", "param ContentLength is %lld but the Body file has only %lld bytes left",
                              (long long)b->length, (long long)left);
}

static int validate_upload(cos_task *t, int is_append, cos_value **err)
{
    if (validate_object(t, err) != 0) return -1;
    if (is_append) {
        cos_value *e = cos_validate_position(t->params);
        if (e) return cos_error_out(err, e);
    }
    cos_value *e = check_body_given(t);
    if (!e) e = check_fd_length(t);
    if (e) return cos_error_out(err, e);
    /* A pulled body's length is the caller's word (ContentLength): the queue lists it. */
    if (t->body.kind == COS_BODY_PULL && t->body.length < 0) t->body.length = cos_task_body_param_length(t);
    if (t->body.kind == COS_BODY_PULL && t->body.length < 0)
        return cos_error_out(err, cos_validate_error("ContentLength", "ContentLength is required for a pulled body"));
    if (!is_append && t->body.kind == COS_BODY_PULL && cos_param_bool(t->params, "UploadAddMetaMd5", 0) == 1)
        return cos_error_out(err, cos_validate_error("UploadAddMetaMd5", "UploadAddMetaMd5 needs the body's MD5 before it is "
                                            "sent: not with a function Body (give a string or FilePath)"));
    return 0;
}

/* The body size known before the upload starts (-1 if unknown); fails on a missing file. */
static int body_size(cos_task *t, double *size, cos_value **err)
{
    struct stat st;
    switch (t->body.kind) {
    case COS_BODY_NONE: *size = 0; return 0;
    case COS_BODY_MEM: *size = (double)t->body.len; return 0;
    case COS_BODY_PULL: *size = (double)t->body.length; return 0;
    case COS_BODY_STREAM: return cos_error_out(err, cos_validate_error("Body", "a stream Body (no known length) is accepted by sliceUploadFile and uploadFile only"));
    case COS_BODY_FD:
        if (t->body.length >= 0) {
            *size = (double)t->body.length;
            return 0;
        }
        if (fstat(t->body.fd, &st) != 0) return cos_error_out(err, cos_error_errno(errno, "stat", NULL));
        *size = (double)st.st_size - (double)t->body.offset;
        return 0;
    case COS_BODY_PATH:
        if (stat(t->body.path, &st) != 0) return cos_error_out(err, cos_error_errno(errno, "stat", t->body.path));
        if (!S_ISREG(st.st_mode))
            return cos_error_out(err, cos_validate_error("FilePath", "param FilePath must be a regular file: '%s'", t->body.path));
        *size = (double)st.st_size;
        return 0;
    }
    return 0;
}

/* Queue hooks of putObject: run (first start, or again after pause/restart) and stop. */
static void put_run(cos_task *t)
{
    cos_value *err = NULL;
    int64_t size = 0;
    cos_request *r = upload_request(t, 0, &size, &err);
    if (!r) {
        cos_task_finish(t, err, NULL);
        return;
    }
    cos_task_track_progress(t, r, 1);
    cos_task_progress_now(t, 0, (double)size); /* the immediate start emission */
    submit(t, r, put_done); /* verified against the answer (put_done) */
}

static void put_stop(cos_task *t)
{
    if (t->req) cos_transport_abort(t->req);
    t->req = NULL;
}

static void put_abort(cos_task *t) { put_stop(t); }

static const cos_queue_ops PUT_OPS = {put_run, put_stop, NULL, NULL};
static const cos_queue_ops PUT_PULL_OPS = {put_run, NULL, NULL, NULL}; /* a pulled body cannot be replayed */

int cos_op_put_object(cos_task *t, cos_value **err)
{
    double size = -1;
    if (validate_upload(t, 0, err) != 0 || body_size(t, &size, err) != 0) return -1;
    t->op_abort = put_abort;
    const cos_queue_ops *ops = t->body.kind == COS_BODY_PULL ? &PUT_PULL_OPS : &PUT_OPS;
    /* Last: the queue may run the task right away. */
    if (cos_queue_add(t, t->body.kind == COS_BODY_PATH ? t->body.path : NULL, size, ops, 0) != 0)
        return cos_error_out(err, NULL);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* appendObject                                                                              */

/* Verified before it is reported: an appended chunk cannot be sent again, so a damaged one is
 * an error for the caller (the object holds it), never a success. */
static void append_done(void *ud, cos_http_result *res)
{
    cos_task *t = ud;
    cos_value *bad = NULL;
    int64_t position = 0;
    cos_param_integer(cos_obj_get(t->params, "Position"), &position); /* validated */
    if (!res->error && cos_integrity_check_append(res, position, t->body.kind != COS_BODY_PULL, &bad) != COS_INTEGRITY_OK) {
        cos_integrity_fail_task(t, res, bad);
        return;
    }
    cos_value *err = NULL, *data = cos_msg_append_object_read(res, &err);
    cos_task_finish(t, data ? NULL : err, data);
}

int cos_op_append_object(cos_task *t, cos_value **err)
{
    if (validate_upload(t, 1, err) != 0) return -1;
    int64_t size = 0;
    cos_request *r = upload_request(t, 1, &size, err);
    if (!r) return -1;
    return submit(t, r, append_done);
}

/* ---------------------------------------------------------------------------------------- */
/* headObject                                                                                */

static void head_done(void *ud, cos_http_result *res)
{
    cos_value *err = NULL, *data = cos_msg_head_object_read(res, &err);
    cos_task_finish(ud, data ? NULL : err, data);
}

int cos_op_head_object(cos_task *t, cos_value **err)
{
    if (validate_object(t, err) != 0) return -1;
    cos_msg_to to = cos_msg_to_task(t);
    cos_request *r = cos_msg_head_object(&to);
    if (!r) return cos_error_out(err, NULL);
    return submit(t, r, head_done);
}

/* ---------------------------------------------------------------------------------------- */
/* getObject                                                                                 */

static void get_done(void *ud, cos_http_result *res)
{
    cos_task *t = ud;
    cos_value *err = NULL, *data = cos_msg_get_object_read(res, t->output.kind == COS_BODY_NONE, &err);
    cos_task_finish(t, data ? NULL : err, data);
}

static int open_output(cos_task *t, cos_request *r, cos_value **err)
{
    if (t->output.kind == COS_BODY_NONE) return 0;
    int fd = t->output.kind == COS_BODY_FD ? t->output.fd
                                           : open(t->output.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return cos_error_out(err, cos_error_errno(errno, "open", t->output.path));
    int rc = cos_req_output_fd(r, fd);
    if (t->output.kind == COS_BODY_PATH) close(fd);
    return rc == 0 ? 0 : cos_error_out(err, NULL);
}

int cos_op_get_object(cos_task *t, cos_value **err)
{
    if (validate_object(t, err) != 0) return -1;
    cos_msg_to to = cos_msg_to_task(t);
    cos_request *r = cos_msg_get_object(&to, t->output.kind == COS_BODY_NONE);
    if (!r) return cos_error_out(err, NULL);
    cos_task_track_progress(t, r, 2);
    if (open_output(t, r, err) != 0) {
        cos_req_free(r);
        return -1;
    }
    cos_task_progress_now(t, 0, -1); /* the immediate start emission; the total comes later */
    return submit(t, r, get_done);
}

/* ---------------------------------------------------------------------------------------- */
/* deleteObject                                                                              */

static void delete_done(void *ud, cos_http_result *res)
{
    cos_value *err = NULL, *data = cos_msg_delete_object_read(res, &err);
    cos_task_finish(ud, data ? NULL : err, data);
}

int cos_op_delete_object(cos_task *t, cos_value **err)
{
    if (validate_object(t, err) != 0) return -1;
    cos_msg_to to = cos_msg_to_task(t);
    cos_request *r = cos_msg_delete_object(&to);
    if (!r) return cos_error_out(err, NULL);
    return submit(t, r, delete_done);
}
