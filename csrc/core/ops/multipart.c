/* ops_multipart: the six multipart operations (their requests and answers:
 * docs/cos-wire.md#the-cos-apis-the-client-sends, List Multipart Uploads to Abort). Each is one
 * request; results are shaped as the Node SDK shapes them: XML values stay strings, the Upload/Part
 * lists are always arrays, ETags keep their quotes, and Complete's Location is the SDK-built one. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/url.h"
#include "base/errors.h"
#include "http/transport.h"
#include "ops/integrity.h"
#include "ops/ops.h"
#include "client.h"
#include "base/validate.h"
#include "base/xml.h"

/* ------------------------------------------------------------------------------------------ */
/* Shared plumbing                                                                             */

static int fail(cos_value **err, cos_value *e)
{
    *err = e ? e : cos_validate_error(NULL, "out of memory");
    return -1;
}

/* A request for the task (docs/cos-wire.md#parameters-to-headers applied). key NULL: bucket level. */
static cos_request *task_request(cos_task *t, const char *method, const char *key, int progress, cos_value **err)
{
    cos_request *r = cos_task_request(t, method, key, progress);
    if (!r) fail(err, cos_validate_error(NULL, "cannot build the %s request", t->op));
    return r;
}

/* Adds a query parameter from a param when it is set (strings, or numbers formatted as JS does). */
static int query_from_param(cos_request *r, const cos_value *params, const char *param, const char *name)
{
    char buf[64];
    const char *v = cos_param_string(params, param, buf, sizeof buf);
    return v ? cos_req_query(r, name, v) : 0;
}

/* Hands the request to the engine; `done` finishes the task. */
static int submit(cos_task *t, cos_request *r, cos_req_done_fn done)
{
    cos_req_on_done(r, done, t);
    t->req = r;
    cos_transport_submit(r); /* on failure `done` still runs (with an error) from cos_poll */
    return 0;
}

static cos_value *parse_error(cos_http_result *res, const cos_value *data)
{
    cos_value *e = cos_validate_error(NULL, "malformed XML in the response body");
    if (e) {
        cos_obj_set_num(e, "statusCode", res->status_code);
        const cos_value *h = cos_obj_get(data, "headers");
        if (h) cos_obj_set(e, "headers", cos_value_clone(h));
    }
    return e;
}

/* data = {<root's children>..., statusCode, headers, RequestId}; the listed array fields are
 * always arrays (present even when the XML had none). */
static cos_value *xml_result(cos_http_result *res, const char *const *array_fields, cos_value **err)
{
    cos_value *data = cos_result_data(res);
    if (!data) {
        *err = cos_validate_error(NULL, "out of memory");
        return NULL;
    }
    if (cos_result_merge_xml(data, res, array_fields) != 0) {
        *err = parse_error(res, data);
        cos_value_free(data);
        return NULL;
    }
    for (size_t i = 0; array_fields && array_fields[i]; i++)
        if (!cos_obj_get(data, array_fields[i])) cos_obj_set(data, array_fields[i], cos_arr_new());
    return data;
}

static void finish_xml(cos_task *t, cos_http_result *res, const char *const *array_fields)
{
    if (cos_task_fail_on_error(t, res)) return;
    cos_value *err = NULL;
    cos_value *data = xml_result(res, array_fields, &err);
    cos_task_finish(t, err, data);
}

/* Common object-level checks: Bucket, Region, Key, and the UploadId when `need_upload_id`. */
static cos_value *check_object(const cos_task *t, int need_upload_id)
{
    cos_value *e = cos_validate_object_params(t->params, 1);
    if (!e && need_upload_id) e = cos_validate_upload_id(t->params);
    if (!e) e = cos_validate_traffic_limit(t->params);
    return e;
}

/* ------------------------------------------------------------------------------------------ */
/* multipartList (cos-wire.md#list-multipart-uploads)                                         */

static const char *const LIST_UPLOADS_ARRAYS[] = {"Upload", "CommonPrefixes", NULL};

static void list_done(void *ud, cos_http_result *res) { finish_xml(ud, res, LIST_UPLOADS_ARRAYS); }

int cos_op_multipart_list(cos_task *t, cos_value **err)
{
    static const char *const strings[] = {"Prefix", "Delimiter", "EncodingType", "KeyMarker", "UploadIdMarker", NULL};
    static const char *const numbers[] = {"MaxUploads", NULL};
    cos_value *e = cos_validate_bucket_params(t->params);
    if (!e) e = cos_validate_optional_strings(t->params, strings, 0);
    if (!e) e = cos_validate_optional_strings(t->params, numbers, 1);
    if (e) return fail(err, e);
    cos_request *r = task_request(t, "GET", NULL, 0, err);
    if (!r) return -1;
    const cos_value *p = t->params;
    const char *prefix = cos_obj_get_str(p, "Prefix");
    /* The action first, then the SDK's reqParams order; prefix is always sent. */
    int rc = cos_req_query(r, "uploads", "");
    rc = rc || query_from_param(r, p, "Delimiter", "delimiter");
    rc = rc || query_from_param(r, p, "EncodingType", "encoding-type");
    rc = rc || cos_req_query(r, "prefix", prefix ? prefix : "");
    rc = rc || query_from_param(r, p, "MaxUploads", "max-uploads");
    rc = rc || query_from_param(r, p, "KeyMarker", "key-marker");
    rc = rc || query_from_param(r, p, "UploadIdMarker", "upload-id-marker");
    if (rc) {
        cos_req_free(r);
        return fail(err, NULL);
    }
    return submit(t, r, list_done);
}

/* ------------------------------------------------------------------------------------------ */
/* multipartInit (cos-wire.md#initiate-multipart-upload)                                      */

static void init_done(void *ud, cos_http_result *res) { finish_xml(ud, res, NULL); }

int cos_op_multipart_init(cos_task *t, cos_value **err)
{
    cos_value *e = check_object(t, 0);
    if (e) return fail(err, e);
    cos_request *r = task_request(t, "POST", cos_task_key(t), 0, err);
    if (!r) return -1;
    int rc = cos_req_query(r, "uploads", "");
    /* Sent empty (and so unsigned) unless given, so no proxy adds its own. */
    if (!rc && !cos_req_get_header(r, "Cache-Control")) rc = cos_req_header(r, "Cache-Control", "");
    if (!rc && !cos_req_get_header(r, "Content-Type")) { /* by the key's extension, else empty */
        const char *type = mime_lookup_upload(t->client->mime, NULL, cos_task_key(t));
        rc = cos_req_header(r, "Content-Type", type ? type : "");
    }
    if (rc) {
        cos_req_free(r);
        return fail(err, NULL);
    }
    return submit(t, r, init_done);
}

/* ------------------------------------------------------------------------------------------ */
/* multipartUpload (cos-wire.md#upload-part)                                                  */

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

/* An fd body from `offset`: `length` bytes, or (length < 0) to the end of a regular file. */
static int attach_fd(cos_request *r, int fd, int64_t offset, int64_t length, cos_value **err)
{
    if (length < 0) {
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
            return fail(err, cos_validate_error("ContentLength",
                                                "missing param ContentLength (the body is not a regular file)"));
        length = st.st_size > offset ? (int64_t)st.st_size - offset : 0;
    }
    if (cos_req_body_fd(r, fd, offset, length) != 0)
        return fail(err, cos_validate_error("Body", "cannot read the body"));
    return 0;
}

/* Body like putObject's: string, fd, file path or pulled chunks. Stream bodies get
 * application/octet-stream unless a Content-Type was given (cos-wire.md#upload-part).
 * Returns 0, or -1 and *err. */
static int attach_body(cos_task *t, cos_request *r, cos_value **err)
{
    const cos_body *b = &t->body;
    int64_t given = param_length(t->params);
    int rc = 0;
    switch (b->kind) {
    case COS_BODY_NONE: return fail(err, cos_validate_error("Body", "missing param Body")); /* as the SDK */
    case COS_BODY_MEM: return cos_req_body_mem(r, b->data, b->len) == 0 ? 0 : fail(err, NULL);
    case COS_BODY_FD: rc = attach_fd(r, b->fd, b->offset, b->length >= 0 ? b->length : given, err); break;
    case COS_BODY_PATH: {
        int fd = open(b->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO never blocks */
        if (fd < 0) {
            int en = errno;
            cos_value *e = cos_validate_error("FilePath", "cannot open %s: %s", b->path, strerror(en));
            if (e && strerrorname_np(en)) cos_obj_set_str(e, "code", strerrorname_np(en));
            return fail(err, e);
        }
        rc = attach_fd(r, fd, 0, given, err); /* the request keeps its own dup */
        close(fd);
        break;
    }
    case COS_BODY_PULL:
        if (cos_req_body_pull(r, b->length >= 0 ? b->length : given, pull_from_task, t) != 0)
            return fail(err, cos_validate_error("ContentLength", "missing param ContentLength"));
        break;
    case COS_BODY_STREAM: return fail(err, cos_validate_error("Body", "a stream Body (no known length) is accepted by sliceUploadFile and uploadFile only"));
    }
    if (rc == 0 && !cos_req_get_header(r, "Content-Type") &&
        cos_req_header(r, "Content-Type", "application/octet-stream") != 0)
        rc = fail(err, NULL);
    return rc;
}

static void upload_done(void *ud, cos_http_result *res)
{
    cos_task *t = ud;
    if (cos_task_fail_on_error(t, res)) return;
    const char *etag = res->headers ? cos_obj_get_str(res->headers, "etag") : NULL;
    cos_value *data = cos_obj_new(), *common = NULL;
    /* ETag first, verbatim with its quotes (cos-wire.md#result-shaping), then statusCode,
     * headers, RequestId. */
    if (data && cos_obj_set_str(data, "ETag", etag ? etag : "") == 0 && (common = cos_result_data(res))) {
        for (size_t i = 0; i < cos_value_len(common); i++)
            cos_obj_set(data, cos_obj_key(common, i), cos_value_clone(cos_obj_at(common, i)));
    } else {
        cos_value_free(data);
        data = NULL;
    }
    cos_value_free(common);
    cos_task_finish(t, data ? NULL : cos_validate_error(NULL, "out of memory"), data);
}

int cos_op_multipart_upload(cos_task *t, cos_value **err)
{
    cos_value *e = check_object(t, 1);
    if (!e) e = cos_validate_part_number(t->params);
    if (e) return fail(err, e);
    cos_request *r = task_request(t, "PUT", cos_task_key(t), 1, err);
    if (!r) return -1;
    char pn[64];
    /* partNumber then uploadId: the order the SDK sends and signs. */
    int rc = cos_req_query(r, "partNumber", cos_param_string(t->params, "PartNumber", pn, sizeof pn));
    rc = rc || cos_req_query(r, "uploadId", cos_task_str(t, "UploadId"));
    if (rc) {
        cos_req_free(r);
        return fail(err, NULL);
    }
    if (attach_body(t, r, err) != 0) {
        cos_req_free(r);
        return -1;
    }
    /* UploadCheckContentMd5 applies to in-memory bodies only, as in the SDK. */
    if (t->body.kind == COS_BODY_MEM && cos_integrity_content_md5_mem(t->client, r, t->body.data, t->body.len) != 0) {
        cos_req_free(r);
        return fail(err, NULL);
    }
    return submit(t, r, upload_done);
}

/* ------------------------------------------------------------------------------------------ */
/* multipartListPart (cos-wire.md#list-parts)                                                 */

static const char *const LIST_PARTS_ARRAYS[] = {"Part", NULL};

static void list_part_done(void *ud, cos_http_result *res) { finish_xml(ud, res, LIST_PARTS_ARRAYS); }

int cos_op_multipart_list_part(cos_task *t, cos_value **err)
{
    static const char *const strings[] = {"EncodingType", NULL};
    static const char *const numbers[] = {"MaxParts", "PartNumberMarker", NULL};
    cos_value *e = check_object(t, 1);
    if (!e) e = cos_validate_optional_strings(t->params, strings, 0);
    if (!e) e = cos_validate_optional_strings(t->params, numbers, 1);
    if (e) return fail(err, e);
    cos_request *r = task_request(t, "GET", cos_task_key(t), 0, err);
    if (!r) return -1;
    const cos_value *p = t->params;
    int rc = cos_req_query(r, "uploadId", cos_task_str(t, "UploadId"));
    rc = rc || query_from_param(r, p, "EncodingType", "encoding-type");
    rc = rc || query_from_param(r, p, "MaxParts", "max-parts");
    rc = rc || query_from_param(r, p, "PartNumberMarker", "part-number-marker");
    if (rc) {
        cos_req_free(r);
        return fail(err, NULL);
    }
    return submit(t, r, list_part_done);
}

/* ------------------------------------------------------------------------------------------ */
/* multipartComplete (cos-wire.md#complete-multipart-upload)                                  */

/* With Pic-Operations, ProcessResults and ImageInfo move under UploadResult. */
static void shape_upload_result(cos_value *data, const char *location)
{
    cos_value *process = cos_obj_take(data, "ProcessResults");
    if (!process) return;
    cos_value *image = cos_obj_take(data, "ImageInfo");
    cos_value *orig = cos_obj_new(), *ur = cos_obj_new();
    const char *key = cos_obj_get_str(data, "Key"), *etag = cos_obj_get_str(data, "ETag");
    if (key) cos_obj_set_str(orig, "Key", key);
    cos_obj_set_str(orig, "Location", location);
    if (etag) cos_obj_set_str(orig, "ETag", etag);
    if (image) cos_obj_set(orig, "ImageInfo", image);
    cos_obj_set(ur, "OriginalInfo", orig);
    cos_obj_set(ur, "ProcessResults", process);
    cos_obj_set(data, "UploadResult", ur);
}

/* A 200 whose body is an <Error> document (COS answers Complete at once and streams the
 * outcome) is an error with statusCode 200
 * (cos-wire.md#complete-multipart-upload). */
static cos_value *error_in_200(cos_task *t, cos_http_result *res)
{
    cos_value *parsed = cos_xml_parse_error(res->body.data, res->body.len);
    if (!parsed) return NULL;
    cos_value_free(parsed);
    char *url = cos_url_build(t->client, NULL, NULL, cos_task_str(t, "Bucket"), cos_task_str(t, "Region"),
                              cos_task_key(t));
    cos_value *headers = res->headers;
    res->headers = NULL;
    cos_value *e = cos_error_http(res->status_code, "OK", headers, res->body.data, res->body.len, "POST", url);
    free(url);
    return e;
}

static void complete_done(void *ud, cos_http_result *res)
{
    cos_task *t = ud;
    if (cos_task_fail_on_error(t, res)) return;
    cos_value *e = error_in_200(t, res);
    if (e) {
        cos_task_finish(t, e, NULL);
        return;
    }
    cos_value *data = xml_result(res, NULL, &e);
    const char *bucket = cos_task_str(t, "Bucket"), *region = cos_task_str(t, "Region");
    char *location = data ? cos_url_location(t->client, bucket, region, cos_task_key(t)) : NULL;
    if (data && location) {
        cos_obj_set_str(data, "Location", location); /* replaces the XML's in place */
        shape_upload_result(data, location);
    } else if (data) {
        cos_value_free(data);
        data = NULL;
        e = cos_validate_error(NULL, "out of memory");
    }
    free(location);
    cos_task_finish(t, e, data);
}

int cos_op_multipart_complete(cos_task *t, cos_value **err)
{
    cos_value *e = check_object(t, 1);
    if (!e) e = cos_validate_parts(t->params);
    if (e) return fail(err, e);
    size_t len = 0;
    char *xml = cos_xml_complete_body(cos_obj_get(t->params, "Parts"), &len);
    if (!xml) return fail(err, cos_validate_error("Parts", "cannot build the CompleteMultipartUpload body"));
    cos_request *r = task_request(t, "POST", cos_task_key(t), 0, err);
    if (!r) {
        free(xml);
        return -1;
    }
    int rc = cos_req_query(r, "uploadId", cos_task_str(t, "UploadId"));
    rc = rc || cos_req_header(r, "Content-Type", "application/xml");
    rc = rc || cos_integrity_body_md5(r, xml, len);
    if (rc || cos_req_body_mem_take(r, xml, len) != 0) {
        free(xml);
        cos_req_free(r);
        return fail(err, NULL);
    }
    return submit(t, r, complete_done);
}

/* ------------------------------------------------------------------------------------------ */
/* multipartAbort (cos-wire.md#abort-multipart-upload)                                        */

static void abort_done(void *ud, cos_http_result *res)
{
    cos_task *t = ud;
    if (cos_task_fail_on_error(t, res)) return;
    cos_value *data = cos_result_data(res);
    cos_task_finish(t, data ? NULL : cos_validate_error(NULL, "out of memory"), data);
}

int cos_op_multipart_abort(cos_task *t, cos_value **err)
{
    cos_value *e = check_object(t, 1);
    if (e) return fail(err, e);
    cos_request *r = task_request(t, "DELETE", cos_task_key(t), 0, err);
    if (!r) return -1;
    if (cos_req_query(r, "uploadId", cos_task_str(t, "UploadId")) != 0) {
        cos_req_free(r);
        return fail(err, NULL);
    }
    return submit(t, r, abort_done);
}

/* A multipartAbort task of its own (its row of the index, operations.c), for an upload a failed
 * task left on the server: cancelTask of an "error" entry (queue.h, abort_upload). */
static const cos_operation MULTIPART_ABORT = {"multipartAbort", cos_op_multipart_abort, 0};

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
