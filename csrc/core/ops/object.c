/* ops_object: the simple object operations putObject, appendObject, headObject, getObject,
 * deleteObject (docs/cos-wire.md#the-cos-apis-the-client-sends). One request each, on the engine. */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/url.h"
#include "base/errors.h"
#include "client.h"
#include "http/transport.h"
#include "ops/integrity.h"
#include "ops/ops.h"
#include "task/queue.h"
#include "upload/upload.h"
#include "base/validate.h"

/* ---------------------------------------------------------------------------------------- */
/* Shared pieces                                                                             */

static int fail(cos_value **err, cos_value *e)
{
    *err = e ? e : cos_error_new("Error", "out of memory");
    return -1;
}

static cos_value *errno_error(int e, const char *what, const char *path)
{
    char msg[512];
    const char *name = strerrorname_np(e);
    snprintf(msg, sizeof msg, "%s: %s '%s'", strerror(e), what, path ? path : "");
    cos_value *v = cos_error_new(name ? name : "Error", msg);
    if (v && path) cos_obj_set_str(v, "path", path);
    return v;
}

static int validate_object(cos_task *t, cos_value **err)
{
    cos_value *e = cos_validate_object_params(t->params, 1);
    if (!e) e = cos_validate_traffic_limit(t->params);
    return e ? fail(err, e) : 0;
}

/* The pull body of a task: the user's on_pull, called from cos_poll. */
static int task_pull(void *ud, const void **chunk, size_t *len)
{
    cos_task *t = ud;
    return t->cb.on_pull(t->cb.ud, t->id, chunk, len);
}

/* Opens a file to upload without ever blocking (O_NONBLOCK: a FIFO swapped in after validation
 * does not hang the process) and only if it is a regular file. The fd, or -1 and *err. */
static int open_regular(const char *path, struct stat *st, cos_value **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return fail(err, errno_error(errno, "open", path));
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        int e = errno;
        int reg = S_ISREG(st->st_mode);
        close(fd);
        if (!reg) return fail(err, cos_validate_error("FilePath", "param FilePath must be a regular file: '%s'", path));
        return fail(err, errno_error(e, "stat", path));
    }
    return fd;
}

/* No ContentType given: the type of the file's extension, else of the key's (the MIME table);
 * file-like bodies fall back to application/octet-stream, strings to none (COS then decides,
 * as the Node SDK leaves it). */
static int default_content_type(cos_task *t, cos_request *r, int file_like)
{
    if (cos_req_get_header(r, "Content-Type")) return 0;
    const char *path = t->body.kind == COS_BODY_PATH ? t->body.path : NULL;
    const char *type = mime_lookup_upload(t->client->mime, path, cos_task_key(t));
    if (!type && file_like) type = "application/octet-stream";
    return type ? cos_req_header(r, "Content-Type", type) : 0;
}

/* Attaches the task's body to the request; *size gets its length. */
static int attach_body(cos_task *t, cos_request *r, int64_t *size, cos_value **err)
{
    cos_body *b = &t->body;
    int file_like = 0;
    switch (b->kind) {
    case COS_BODY_NONE:
        *size = 0;
        if (cos_req_body_mem(r, "", 0) != 0) return fail(err, NULL);
        break;
    case COS_BODY_MEM:
        *size = (int64_t)b->len;
        if (cos_integrity_content_md5_mem(t->client, r, b->data, b->len) != 0) return fail(err, NULL);
        /* The request borrows the task's copy (no second copy of a large body): the task
         * outlives its requests, and a restarted task sends it again. */
        if (cos_req_body_mem_ref(r, b->data, b->len) != 0) return fail(err, NULL);
        break;
    case COS_BODY_FD:
    case COS_BODY_PATH: {
        struct stat st;
        int fd = b->kind == COS_BODY_FD ? b->fd : open_regular(b->path, &st, err);
        if (fd < 0) return -1;
        int64_t off = b->kind == COS_BODY_FD ? b->offset : 0;
        int64_t len = b->kind == COS_BODY_FD ? b->length : -1;
        int rc = b->kind == COS_BODY_FD ? fstat(fd, &st) : 0;
        if (rc == 0 && len < 0) len = (int64_t)st.st_size - off;
        if (rc != 0 || len < 0 || off < 0) {
            int e = rc != 0 ? errno : EINVAL;
            if (b->kind == COS_BODY_PATH) close(fd);
            return fail(err, errno_error(e, "stat", b->path));
        }
        rc = cos_req_body_fd(r, fd, off, len);
        if (b->kind == COS_BODY_PATH) close(fd);
        if (rc != 0) return fail(err, NULL);
        *size = len;
        file_like = 1;
        break;
    }
    case COS_BODY_PULL:
        if (cos_req_body_pull(r, b->length, task_pull, t) != 0) return fail(err, NULL);
        *size = b->length;
        file_like = 1;
        break;
    case COS_BODY_STREAM: return fail(err, cos_validate_error("Body", "a stream Body (no known length) is accepted by sliceUploadFile and uploadFile only"));
    }
    if (default_content_type(t, r, file_like) != 0) return fail(err, NULL);
    return 0;
}

/* The body length the caller announced for pulled bodies (ContentLength param). */
static void pull_length_from_params(cos_task *t)
{
    if (t->body.kind != COS_BODY_PULL || t->body.length >= 0) return;
    int64_t n;
    if (cos_param_integer(cos_obj_get(t->params, "ContentLength"), &n) == 0) t->body.length = n;
}

static void add_etag(cos_value *data)
{
    const char *etag = cos_obj_get_str(cos_obj_get(data, "headers"), "etag");
    cos_obj_set_str(data, "ETag", etag ? etag : "");
}

/* Takes the result's error or shapes the success data with `shape`. */
static void finish_simple(cos_task *t, cos_http_result *res, void (*shape)(cos_task *, cos_http_result *, cos_value *))
{
    if (cos_task_fail_on_error(t, res)) return;
    cos_value *data = cos_result_data(res);
    if (!data) {
        cos_task_finish(t, cos_error_new("Error", "out of memory"), NULL);
        return;
    }
    if (shape) shape(t, res, data);
    cos_task_finish(t, NULL, data);
}

static int submit(cos_task *t, cos_request *r, cos_req_done_fn done)
{
    cos_req_on_done(r, done, t);
    t->req = r;
    return cos_transport_submit(r);
}

/* ---------------------------------------------------------------------------------------- */
/* putObject                                                                                 */

static void put_shape(cos_task *t, cos_http_result *res, cos_value *data)
{
    cos_result_merge_xml(data, res, NULL);
    char *loc = cos_url_location(t->client, cos_task_str(t, "Bucket"), cos_task_str(t, "Region"), cos_task_key(t));
    cos_obj_set_str(data, "Location", loc ? loc : "");
    free(loc);
    add_etag(data);
}

static void put_run(cos_task *t);

/* putObject succeeds only when the answer vouches for the bytes sent, as integrity.c decides
 * (docs/upload-engine.md, "Integrity"). A damaged or unverifiable answer is an error; the first
 * answer without CRC-64 the client meets sends the body again, hashing MD5 (a pulled body hashed
 * MD5 from the start, as it cannot be sent again). */
static void put_done(void *ud, cos_http_result *res)
{
    cos_task *t = ud;
    cos_value *bad = NULL;
    if (!res->error && cos_integrity_check(t->client, res, -1, "", &bad) == COS_INTEGRITY_RECHECK) {
        cos_value_free(bad);
        t->req = NULL;
        put_run(t);
        return;
    }
    if (bad) {
        if (res->request_id) cos_obj_set_str(bad, "RequestId", res->request_id);
        cos_obj_set_num(bad, "statusCode", res->status_code);
        cos_task_finish(t, bad, NULL);
        return;
    }
    finish_simple(t, res, put_shape);
}

/* The request of an upload (putObject / appendObject): headers, query, body. */
static cos_request *upload_request(cos_task *t, const char *method, int is_append, int64_t *size, cos_value **err)
{
    cos_request *r = cos_task_request(t, method, cos_task_key(t), is_append ? 0 : 1);
    if (!r) {
        fail(err, NULL);
        return NULL;
    }
    /* As the SDK: Cache-Control "" (sent, unsigned) unless the caller gave one. */
    int rc = cos_req_get_header(r, "Cache-Control") ? 0 : cos_req_header(r, "Cache-Control", "");
    if (rc == 0 && is_append) {
        char pos[40];
        rc = cos_req_query(r, "append", "") ||
             cos_req_query(r, "position", cos_param_string(t->params, "Position", pos, sizeof pos));
    }
    if (rc != 0) {
        cos_req_free(r);
        fail(err, NULL);
        return NULL;
    }
    if (attach_body(t, r, size, err) != 0) {
        cos_req_free(r);
        return NULL;
    }
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
        if (e) return fail(err, e);
    }
    cos_value *e = check_body_given(t);
    if (!e) e = check_fd_length(t);
    if (e) return fail(err, e);
    pull_length_from_params(t);
    if (t->body.kind == COS_BODY_PULL && t->body.length < 0)
        return fail(err, cos_validate_error("ContentLength", "ContentLength is required for a pulled body"));
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
    case COS_BODY_STREAM: return fail(err, cos_validate_error("Body", "a stream Body (no known length) is accepted by sliceUploadFile and uploadFile only"));
    case COS_BODY_FD:
        if (t->body.length >= 0) {
            *size = (double)t->body.length;
            return 0;
        }
        if (fstat(t->body.fd, &st) != 0) return fail(err, errno_error(errno, "stat", NULL));
        *size = (double)st.st_size - (double)t->body.offset;
        return 0;
    case COS_BODY_PATH:
        if (stat(t->body.path, &st) != 0) return fail(err, errno_error(errno, "stat", t->body.path));
        if (!S_ISREG(st.st_mode))
            return fail(err, cos_validate_error("FilePath", "param FilePath must be a regular file: '%s'", t->body.path));
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
    cos_request *r = upload_request(t, "PUT", 0, &size, &err);
    if (!r) {
        cos_task_finish(t, err, NULL);
        return;
    }
    cos_task_progress_now(t, 0, (double)size); /* the immediate start emission */
    /* verified against the answer (put_done) */
    cos_req_hash(r, cos_integrity_stream_hashes(t->client, t->body.kind != COS_BODY_PULL));
    submit(t, r, put_done);
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
        return fail(err, NULL);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* appendObject                                                                              */

static void append_shape(cos_task *t, cos_http_result *res, cos_value *data)
{
    (void)t;
    cos_result_merge_xml(data, res, NULL);
}

static void append_done(void *ud, cos_http_result *res) { finish_simple(ud, res, append_shape); }

int cos_op_append_object(cos_task *t, cos_value **err)
{
    if (validate_upload(t, 1, err) != 0) return -1;
    int64_t size = 0;
    cos_request *r = upload_request(t, "POST", 1, &size, err);
    if (!r) return -1;
    return submit(t, r, append_done);
}

/* ---------------------------------------------------------------------------------------- */
/* headObject                                                                                */

static void head_shape(cos_task *t, cos_http_result *res, cos_value *data)
{
    (void)t;
    if (res->status_code == 304) cos_obj_set_bool(data, "NotModified", 1);
    add_etag(data);
}

static void head_done(void *ud, cos_http_result *res) { finish_simple(ud, res, head_shape); }

int cos_op_head_object(cos_task *t, cos_value **err)
{
    if (validate_object(t, err) != 0) return -1;
    cos_request *r = cos_task_request(t, "HEAD", cos_task_key(t), 0);
    if (!r) return fail(err, NULL);
    cos_req_accept_status(r, 304);
    return submit(t, r, head_done);
}

/* ---------------------------------------------------------------------------------------- */
/* getObject                                                                                 */

static const char *const RESPONSE_PARAMS[][2] = {
    {"ResponseContentType", "response-content-type"},
    {"ResponseContentLanguage", "response-content-language"},
    {"ResponseExpires", "response-expires"},
    {"ResponseCacheControl", "response-cache-control"},
    {"ResponseContentDisposition", "response-content-disposition"},
    {"ResponseContentEncoding", "response-content-encoding"},
};

static void get_shape(cos_task *t, cos_http_result *res, cos_value *data)
{
    if (res->status_code == 304) {
        cos_obj_set_bool(data, "NotModified", 1);
    } else if (t->output.kind == COS_BODY_NONE) {
        cos_obj_set(data, "Body", cos_str_new(res->body.data ? res->body.data : "", res->body.len));
    }
    add_etag(data);
}

static void get_done(void *ud, cos_http_result *res) { finish_simple(ud, res, get_shape); }

static int open_output(cos_task *t, cos_request *r, cos_value **err)
{
    if (t->output.kind == COS_BODY_NONE) return 0;
    int fd = t->output.kind == COS_BODY_FD ? t->output.fd
                                           : open(t->output.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return fail(err, errno_error(errno, "open", t->output.path));
    int rc = cos_req_output_fd(r, fd);
    if (t->output.kind == COS_BODY_PATH) close(fd);
    return rc == 0 ? 0 : fail(err, NULL);
}

int cos_op_get_object(cos_task *t, cos_value **err)
{
    if (validate_object(t, err) != 0) return -1;
    cos_request *r = cos_task_request(t, "GET", cos_task_key(t), 2);
    if (!r) return fail(err, NULL);
    int rc = 0;
    for (size_t i = 0; i < sizeof RESPONSE_PARAMS / sizeof RESPONSE_PARAMS[0] && rc == 0; i++) {
        char buf[40];
        const char *v = cos_param_string(t->params, RESPONSE_PARAMS[i][0], buf, sizeof buf);
        if (v) rc = cos_req_query(r, RESPONSE_PARAMS[i][1], v);
    }
    cos_req_accept_status(r, 304);
    if (t->output.kind == COS_BODY_NONE) cos_req_body_limit(r, -1); /* the caller asked for Body in memory */
    if (rc != 0) {
        cos_req_free(r);
        return fail(err, NULL);
    }
    if (open_output(t, r, err) != 0) {
        cos_req_free(r);
        return -1;
    }
    cos_task_progress_now(t, 0, -1); /* the immediate start emission; the total comes later */
    return submit(t, r, get_done);
}

/* ---------------------------------------------------------------------------------------- */
/* deleteObject                                                                              */

static void delete_shape(cos_task *t, cos_http_result *res, cos_value *data)
{
    (void)t;
    /* The SDK reports a 404 as success {BucketNotFound: true, statusCode: 404}. */
    if (res->status_code == 404) cos_obj_set_bool(data, "BucketNotFound", 1);
}

static void delete_done(void *ud, cos_http_result *res) { finish_simple(ud, res, delete_shape); }

int cos_op_delete_object(cos_task *t, cos_value **err)
{
    if (validate_object(t, err) != 0) return -1;
    cos_request *r = cos_task_request(t, "DELETE", cos_task_key(t), 0);
    if (!r) return fail(err, NULL);
    cos_req_accept_status(r, 404);
    return submit(t, r, delete_done);
}
