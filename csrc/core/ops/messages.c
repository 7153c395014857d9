/* messages: one builder per COS API and one reader per answer worth reading (messages.h). The
 * wire facts each one relies on: docs/cos-wire.md, one section per COS API (named in the
 * headings below as COS names them: "UploadPart" finds cos_msg_upload_part). */
#include "ops/messages.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/params.h"
#include "base/errors.h"
#include "base/url.h"
#include "base/xml.h"
#include "client.h"
#include "ops/integrity.h"

/* ---------------------------------------------------------------------------------------- */
/* Common pieces                                                                             */

cos_msg_to cos_msg_to_task(const cos_task *t)
{
    return (cos_msg_to){.client = t->client,
                        .task = t->id,
                        .bucket = cos_task_str(t, "Bucket"),
                        .region = cos_task_str(t, "Region"),
                        .key = cos_task_key(t),
                        .params = t->params,
                        .share = COS_MSG_PARAMS_REQUEST};
}

/* A request of `api` for `to` (object level unless `bucket_level`), with every param applied
 * when they are the request's own. */
static cos_request *msg_new(const cos_msg_to *to, cos_api api, int bucket_level)
{
    cos_request *r = cos_req_new(to->client, api, to->bucket, to->region, bucket_level ? NULL : to->key);
    if (!r) return NULL;
    cos_req_task(r, to->task);
    if (to->share == COS_MSG_PARAMS_REQUEST && to->params && cos_req_apply_params(r, to->params) != 0) {
        cos_req_free(r);
        return NULL;
    }
    return r;
}

/* The request, or NULL (freed) when building it failed (rc != 0). */
static cos_request *built(cos_request *r, int rc)
{
    if (rc == 0) return r;
    cos_req_free(r);
    return NULL;
}

/* A query parameter from a param when it is set (strings, or numbers formatted as JS does). */
static int query_param(cos_request *r, const cos_value *params, const char *param, const char *name)
{
    char buf[64];
    const char *v = cos_param_string(params, param, buf, sizeof buf);
    return v ? cos_req_query(r, name, v) : 0;
}

/* A header from a param when it is set. */
static int header_param(cos_request *r, const cos_value *params, const char *param, const char *name)
{
    char buf[64];
    const char *v = cos_param_string(params, param, buf, sizeof buf);
    return v ? cos_req_header(r, name, v) : 0;
}

/* A header unless the request has it already. */
static int header_default(cos_request *r, const char *name, const char *value)
{
    return value && !cos_req_get_header(r, name) ? cos_req_header(r, name, value) : 0;
}

/* Attaches a body; in-memory bodies get Content-MD5 when integrity.c asks for it. */
static int attach_body(const cos_msg_to *to, cos_request *r, const cos_msg_body *b)
{
    static const cos_msg_body none = {0};
    if (!b) b = &none;
    int rc = -1;
    switch (b->kind) {
    case COS_MSG_BODY_NONE: rc = cos_req_body_mem(r, "", 0); break;
    case COS_MSG_BODY_MEM: rc = cos_req_body_mem_ref(r, b->data ? b->data : "", b->len); break;
    case COS_MSG_BODY_MEM_COPY: rc = cos_req_body_mem(r, b->data ? b->data : "", b->len); break;
    case COS_MSG_BODY_FD: rc = cos_req_body_fd(r, b->fd, b->offset, b->length); break;
    case COS_MSG_BODY_PULL: rc = cos_req_body_pull(r, b->length, b->pull, b->pull_ud); break;
    }
    if (rc != 0) return -1;
    if (b->content_md5) return cos_integrity_content_md5_header(r, b->content_md5);
    if (b->kind == COS_MSG_BODY_MEM || b->kind == COS_MSG_BODY_MEM_COPY)
        return cos_integrity_content_md5_mem(to->client, r, b->data ? b->data : "", b->len);
    return 0;
}

/* An upload body is hashed while it streams, as integrity.c says, for cos_integrity_check. */
static void hash_upload(const cos_msg_to *to, cos_request *r, const cos_msg_body *b)
{
    cos_req_hash(r, cos_integrity_stream_hashes(to->client, !b || b->kind != COS_MSG_BODY_PULL));
}

static cos_value *take_error(cos_http_result *res)
{
    cos_value *e = res->error;
    res->error = NULL;
    return e;
}

static cos_value *oom(void) { return cos_error_new("Error", "out of memory"); }

cos_value *cos_msg_read(cos_http_result *res, cos_value **err)
{
    if (res->error) {
        *err = take_error(res);
        return NULL;
    }
    cos_value *data = cos_result_data(res);
    if (!data) *err = oom();
    return data;
}

/* The common data with the XML body's root children merged in; `arrays` are always arrays. */
static cos_value *read_xml(cos_http_result *res, const char *const *arrays, cos_value **err)
{
    cos_value *data = cos_msg_read(res, err);
    if (!data) return NULL;
    if (cos_result_merge_xml(data, res, arrays) != 0) {
        cos_value *e = cos_error_new("Error", "malformed XML in the response body");
        if (e) {
            cos_obj_set_num(e, "statusCode", res->status_code);
            const cos_value *h = cos_obj_get(data, "headers");
            if (h) cos_obj_set(e, "headers", cos_value_clone(h));
            if (res->request_id) cos_obj_set_str(e, "RequestId", res->request_id);
        }
        cos_value_free(data);
        *err = e ? e : oom();
        return NULL;
    }
    for (size_t i = 0; arrays && arrays[i]; i++)
        if (!cos_obj_get(data, arrays[i])) cos_obj_set(data, arrays[i], cos_arr_new());
    return data;
}

/* ETag from the response headers, verbatim with its quotes ("" when none). */
static void add_etag(cos_value *data)
{
    const char *etag = cos_obj_get_str(cos_obj_get(data, "headers"), "etag");
    cos_obj_set_str(data, "ETag", etag ? etag : "");
}

static int set_location(const cos_msg_to *to, cos_value *data)
{
    char *loc = cos_url_location(to->client, to->bucket, to->region, to->key);
    int rc = loc ? cos_obj_set_str(data, "Location", loc) : -1;
    free(loc);
    return rc;
}

static const char *text(const cos_value *obj, const char *name)
{
    const char *s = cos_obj_get_str(obj, name);
    return s ? s : "";
}

/* ---------------------------------------------------------------------------------------- */
/* PutObject (cos-wire.md#put-object)                                                        */

cos_request *cos_msg_put_object(const cos_msg_to *to, const cos_msg_body *body, const char *default_type,
                                const char *meta_md5)
{
    cos_request *r = msg_new(to, COS_API_PUT_OBJECT, 0);
    if (!r) return NULL;
    /* As the SDK: Cache-Control "" (sent, unsigned) unless the caller gave one. */
    int rc = header_default(r, "Cache-Control", "");
    if (!rc && meta_md5) rc = cos_req_header(r, "x-cos-meta-md5", meta_md5);
    if (!rc) rc = attach_body(to, r, body);
    if (!rc) rc = header_default(r, "Content-Type", default_type);
    if (!rc) hash_upload(to, r, body);
    return built(r, rc);
}

/* {<XML fields>, common fields, Location, ETag}: what an upload of one object answers. A
 * malformed document is dropped, the upload itself succeeded. */
static cos_value *read_upload(const cos_msg_to *to, cos_http_result *res, cos_value **err)
{
    cos_value *data = cos_msg_read(res, err);
    if (!data) return NULL;
    cos_result_merge_xml(data, res, NULL);
    if (set_location(to, data) != 0) {
        cos_value_free(data);
        *err = oom();
        return NULL;
    }
    add_etag(data);
    return data;
}

cos_value *cos_msg_put_object_read(const cos_msg_to *to, cos_http_result *res, cos_value **err)
{
    return read_upload(to, res, err); /* Pic-Operations answers carry an UploadResult */
}

/* ---------------------------------------------------------------------------------------- */
/* AppendObject (cos-wire.md#append-object)                                                  */

cos_request *cos_msg_append_object(const cos_msg_to *to, const char *position, const cos_msg_body *body,
                                   const char *default_type)
{
    cos_request *r = msg_new(to, COS_API_APPEND_OBJECT, 0);
    if (!r) return NULL;
    int rc = header_default(r, "Cache-Control", "");
    if (!rc) rc = cos_req_query(r, "append", "") || cos_req_query(r, "position", position);
    if (!rc) rc = attach_body(to, r, body);
    if (!rc) cos_req_hash(r, cos_integrity_append_hashes());
    if (!rc) rc = header_default(r, "Content-Type", default_type);
    return built(r, rc);
}

cos_value *cos_msg_append_object_read(cos_http_result *res, cos_value **err)
{
    cos_value *data = cos_msg_read(res, err);
    if (data) cos_result_merge_xml(data, res, NULL);
    return data;
}

/* ---------------------------------------------------------------------------------------- */
/* PostObject (cos-wire.md#post-object)                                                      */

cos_request *cos_msg_post_object(const cos_msg_to *to)
{
    cos_request *r = cos_req_new(to->client, COS_API_POST_OBJECT, to->bucket, to->region, NULL);
    if (!r) return NULL;
    cos_req_task(r, to->task);
    /* Form uploads: 204 by default, 200/201 with success_action_status, 303 with a redirect. */
    cos_req_accept_status(r, 303);
    return r;
}

cos_value *cos_msg_post_object_read(const cos_msg_to *to, cos_http_result *res, cos_value **err)
{
    return read_upload(to, res, err); /* a 201 may carry a PostResponse document */
}

/* ---------------------------------------------------------------------------------------- */
/* HeadObject (cos-wire.md#head-object)                                                      */

cos_request *cos_msg_head_object(const cos_msg_to *to)
{
    cos_request *r = msg_new(to, COS_API_HEAD_OBJECT, 0);
    if (r) cos_req_accept_status(r, 304);
    return r;
}

cos_value *cos_msg_head_object_read(cos_http_result *res, cos_value **err)
{
    cos_value *data = cos_msg_read(res, err);
    if (!data) return NULL;
    if (res->status_code == 304) cos_obj_set_bool(data, "NotModified", 1);
    add_etag(data);
    return data;
}

/* ---------------------------------------------------------------------------------------- */
/* GetObject (cos-wire.md#get-object)                                                        */

static const char *const RESPONSE_PARAMS[][2] = {
    {"ResponseContentType", "response-content-type"},
    {"ResponseContentLanguage", "response-content-language"},
    {"ResponseExpires", "response-expires"},
    {"ResponseCacheControl", "response-cache-control"},
    {"ResponseContentDisposition", "response-content-disposition"},
    {"ResponseContentEncoding", "response-content-encoding"},
};

cos_request *cos_msg_get_object(const cos_msg_to *to, int in_memory)
{
    cos_request *r = msg_new(to, COS_API_GET_OBJECT, 0);
    if (!r) return NULL;
    int rc = 0;
    for (size_t i = 0; i < sizeof RESPONSE_PARAMS / sizeof RESPONSE_PARAMS[0] && rc == 0; i++)
        rc = query_param(r, to->params, RESPONSE_PARAMS[i][0], RESPONSE_PARAMS[i][1]);
    cos_req_accept_status(r, 304);
    if (in_memory) cos_req_body_limit(r, -1); /* the caller asked for Body in memory */
    return built(r, rc);
}

cos_value *cos_msg_get_object_read(cos_http_result *res, int in_memory, cos_value **err)
{
    cos_value *data = cos_msg_read(res, err);
    if (!data) return NULL;
    if (res->status_code == 304) cos_obj_set_bool(data, "NotModified", 1);
    else if (in_memory) cos_obj_set(data, "Body", cos_str_new(res->body.data ? res->body.data : "", res->body.len));
    add_etag(data);
    return data;
}

/* ---------------------------------------------------------------------------------------- */
/* DeleteObject (cos-wire.md#delete-object)                                                  */

cos_request *cos_msg_delete_object(const cos_msg_to *to)
{
    cos_request *r = msg_new(to, COS_API_DELETE_OBJECT, 0);
    if (r) cos_req_accept_status(r, 404);
    return r;
}

cos_value *cos_msg_delete_object_read(cos_http_result *res, cos_value **err)
{
    cos_value *data = cos_msg_read(res, err);
    /* The SDK reports a 404 as success {BucketNotFound: true, statusCode: 404}. */
    if (data && res->status_code == 404) cos_obj_set_bool(data, "BucketNotFound", 1);
    return data;
}

/* ---------------------------------------------------------------------------------------- */
/* GetBucket, List Objects (cos-wire.md#get-bucket)                                          */

static const char *const LIST_BUCKET_ARRAYS[] = {"Contents", "CommonPrefixes", NULL};

cos_request *cos_msg_get_bucket(const cos_msg_to *to)
{
    cos_request *r = msg_new(to, COS_API_GET_BUCKET, 1);
    if (!r) return NULL;
    const cos_value *p = to->params;
    const char *prefix = cos_obj_get_str(p, "Prefix");
    /* The SDK's reqParams order; prefix is always sent, even empty. */
    int rc = cos_req_query(r, "prefix", prefix ? prefix : "");
    rc = rc || query_param(r, p, "Delimiter", "delimiter");
    rc = rc || query_param(r, p, "Marker", "marker");
    rc = rc || query_param(r, p, "MaxKeys", "max-keys");
    rc = rc || query_param(r, p, "EncodingType", "encoding-type");
    return built(r, rc);
}

cos_value *cos_msg_get_bucket_read(cos_http_result *res, cos_value **err)
{
    return read_xml(res, LIST_BUCKET_ARRAYS, err);
}

/* ---------------------------------------------------------------------------------------- */
/* InitiateMultipartUpload (cos-wire.md#initiate-multipart-upload)                           */

cos_request *cos_msg_initiate(const cos_msg_to *to, const char *default_type, const char *meta_md5)
{
    cos_request *r = msg_new(to, COS_API_INITIATE_MULTIPART_UPLOAD, 0);
    if (!r) return NULL;
    int rc = 0;
    /* An upload's Initiate carries every header of the call (Content-Type, meta, ACL, storage
     * class...), but not those that describe the whole body rather than this request. */
    if (to->share == COS_MSG_PARAMS_UPLOAD)
        rc = cos_req_apply_params(r, to->params) || cos_req_header(r, "Content-Length", NULL) ||
             cos_req_header(r, "Content-MD5", NULL);
    if (!rc) rc = cos_req_query(r, "uploads", "");
    if (!rc && meta_md5) rc = cos_req_header(r, "x-cos-meta-md5", meta_md5);
    /* Sent empty (and so unsigned) unless given, so no proxy adds its own. */
    if (!rc) rc = header_default(r, "Cache-Control", "");
    if (!rc) rc = header_default(r, "Content-Type", default_type);
    return built(r, rc);
}

cos_value *cos_msg_initiate_read(cos_http_result *res, cos_value **err)
{
    cos_value *data = read_xml(res, NULL, err);
    if (data && !*text(data, "UploadId")) {
        cos_value *e = cos_error_new("Error", "InitiateMultipartUpload returned no usable UploadId");
        if (e) {
            cos_obj_set_num(e, "statusCode", res->status_code);
            cos_obj_set(e, "headers", cos_value_clone(cos_obj_get(data, "headers")));
            if (res->request_id) cos_obj_set_str(e, "RequestId", res->request_id);
        }
        cos_value_free(data);
        *err = e ? e : oom();
        return NULL;
    }
    return data;
}

/* ---------------------------------------------------------------------------------------- */
/* UploadPart (cos-wire.md#upload-part)                                                      */

cos_request *cos_msg_upload_part(const cos_msg_to *to, const char *upload_id, int part_number,
                                 const cos_msg_body *body)
{
    cos_request *r = msg_new(to, COS_API_UPLOAD_PART, 0);
    if (!r) return NULL;
    char num[16];
    snprintf(num, sizeof num, "%d", part_number);
    /* partNumber then uploadId: the order the SDK sends and signs. */
    int rc = cos_req_query(r, "partNumber", num) || cos_req_query(r, "uploadId", upload_id);
    /* An upload's parts carry only its traffic limit and SSE. */
    if (!rc && to->share == COS_MSG_PARAMS_UPLOAD) {
        rc = header_param(r, to->params, "TrafficLimit", "x-cos-traffic-limit");
        const char *sse = cos_obj_get_str(to->params, "ServerSideEncryption");
        if (!rc && sse) rc = cos_req_header(r, "x-cos-server-side-encryption", sse);
    }
    if (!rc) rc = attach_body(to, r, body);
    if (!rc && to->share == COS_MSG_PARAMS_REQUEST) rc = header_default(r, "Content-Type", "application/octet-stream");
    if (!rc) hash_upload(to, r, body);
    return built(r, rc);
}

const char *cos_msg_upload_part_etag(const cos_http_result *res)
{
    const char *etag = res->headers ? cos_obj_get_str(res->headers, "etag") : NULL;
    return etag && *etag ? etag : NULL;
}

cos_value *cos_msg_upload_part_read(cos_http_result *res, cos_value **err)
{
    if (res->error) {
        *err = take_error(res);
        return NULL;
    }
    const char *etag = cos_msg_upload_part_etag(res);
    cos_value *data = cos_obj_new(), *common = NULL;
    /* ETag first, verbatim with its quotes (cos-wire.md#result-shaping), then statusCode,
     * headers, RequestId. */
    if (data && cos_obj_set_str(data, "ETag", etag ? etag : "") == 0 && (common = cos_result_data(res))) {
        for (size_t i = 0; i < cos_value_len(common); i++)
            cos_obj_set(data, cos_obj_key(common, i), cos_value_clone(cos_obj_at(common, i)));
    } else {
        cos_value_free(data);
        data = NULL;
        *err = oom();
    }
    cos_value_free(common);
    return data;
}

/* ---------------------------------------------------------------------------------------- */
/* CompleteMultipartUpload (cos-wire.md#complete-multipart-upload)                           */

/* An upload's Complete gets only the x-cos-meta-* headers and Pic-Operations of the call. */
static int complete_upload_headers(cos_request *r, const cos_value *params)
{
    const cos_value *h = cos_obj_get(params, "Headers");
    char buf[64];
    for (int pass = 0; pass < 2; pass++) {
        const cos_value *o = pass ? h : params;
        for (size_t i = 0; cos_value_type(o) == COS_OBJ && i < cos_value_len(o); i++) {
            const char *k = cos_obj_key(o, i), *v = cos_param_string(o, k, buf, sizeof buf);
            if (v && strncasecmp(k, "x-cos-meta-", 11) == 0 && cos_req_header(r, k, v)) return -1;
        }
    }
    return header_param(r, params, "PicOperations", "Pic-Operations");
}

cos_request *cos_msg_complete(const cos_msg_to *to, const char *upload_id, const cos_value *parts,
                              const char *meta_md5)
{
    size_t len = 0;
    char *xml = cos_xml_complete_body(parts, &len);
    cos_request *r = xml ? msg_new(to, COS_API_COMPLETE_MULTIPART_UPLOAD, 0) : NULL;
    int rc = !r || cos_req_query(r, "uploadId", upload_id) || cos_req_header(r, "Content-Type", "application/xml") ||
             cos_integrity_body_md5(r, xml, len);
    if (!rc && to->share == COS_MSG_PARAMS_UPLOAD) rc = complete_upload_headers(r, to->params);
    if (!rc && meta_md5) rc = cos_req_header(r, "x-cos-meta-md5", meta_md5);
    if (!rc) rc = cos_req_body_mem_take(r, xml, len);
    if (rc) free(xml);
    return r ? built(r, rc) : NULL;
}

/* With Pic-Operations, ProcessResults and ImageInfo move under UploadResult. */
static void shape_upload_result(cos_value *data)
{
    cos_value *process = cos_obj_take(data, "ProcessResults");
    if (!process) return;
    cos_value *image = cos_obj_take(data, "ImageInfo");
    cos_value *orig = cos_obj_new(), *ur = cos_obj_new();
    const char *key = cos_obj_get_str(data, "Key"), *etag = cos_obj_get_str(data, "ETag");
    if (key) cos_obj_set_str(orig, "Key", key);
    cos_obj_set_str(orig, "Location", text(data, "Location"));
    if (etag) cos_obj_set_str(orig, "ETag", etag);
    if (image) cos_obj_set(orig, "ImageInfo", image);
    cos_obj_set(ur, "OriginalInfo", orig);
    cos_obj_set(ur, "ProcessResults", process);
    cos_obj_set(data, "UploadResult", ur);
}

/* A 200 whose body is an <Error> document (COS answers Complete, and copies, that way when they
 * fail after the status went out): the error it is, shaped as any HTTP error of that API. */
static cos_value *error_in_200(const cos_msg_to *to, cos_api api, cos_http_result *res)
{
    cos_value *parsed = cos_xml_parse_error(res->body.data, res->body.len);
    if (!parsed) return NULL;
    cos_value_free(parsed);
    char *url = cos_url_build(to->client, NULL, NULL, to->bucket, to->region, to->key);
    cos_value *headers = res->headers;
    res->headers = NULL;
    cos_value *e = cos_error_http(res->status_code, "OK", headers, res->body.data, res->body.len,
                                  cos_api_method(api), url);
    free(url);
    return e ? e : oom();
}

cos_value *cos_msg_complete_read(const cos_msg_to *to, cos_http_result *res, cos_value **err)
{
    if (!res->error && (*err = error_in_200(to, COS_API_COMPLETE_MULTIPART_UPLOAD, res))) return NULL;
    cos_value *data = read_xml(res, NULL, err);
    if (!data) return NULL;
    if (set_location(to, data) != 0) { /* replaces the XML's in place */
        cos_value_free(data);
        *err = oom();
        return NULL;
    }
    shape_upload_result(data);
    return data;
}

int cos_msg_complete_retryable(const cos_value *err)
{
    const cos_value *sv = cos_obj_get(err, "statusCode");
    int status = cos_value_type(sv) == COS_NUM ? (int)cos_value_num(sv) : 0;
    if (status >= 500 || status == 0) return 1;
    const char *code = cos_obj_get_str(err, "code");
    return status == 200 && code &&
           (strcmp(code, "InternalError") == 0 || strcmp(code, "ServiceUnavailable") == 0 ||
            strcmp(code, "SlowDown") == 0);
}

/* ---------------------------------------------------------------------------------------- */
/* AbortMultipartUpload (cos-wire.md#abort-multipart-upload)                                 */

cos_request *cos_msg_abort(const cos_msg_to *to, const char *upload_id)
{
    cos_request *r = msg_new(to, COS_API_ABORT_MULTIPART_UPLOAD, 0);
    return r ? built(r, cos_req_query(r, "uploadId", upload_id)) : NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* ListParts (cos-wire.md#list-parts)                                                        */

#define MAX_PART_NUMBER 10000

static const char *const LIST_PARTS_ARRAYS[] = {"Part", NULL};

cos_request *cos_msg_list_parts(const cos_msg_to *to, const char *upload_id, const char *part_number_marker)
{
    cos_request *r = msg_new(to, COS_API_LIST_PARTS, 0);
    if (!r) return NULL;
    int rc = cos_req_query(r, "uploadId", upload_id);
    if (to->share == COS_MSG_PARAMS_REQUEST) {
        rc = rc || query_param(r, to->params, "EncodingType", "encoding-type");
        rc = rc || query_param(r, to->params, "MaxParts", "max-parts");
    }
    if (!rc && part_number_marker) rc = cos_req_query(r, "part-number-marker", part_number_marker);
    return built(r, rc);
}

cos_value *cos_msg_list_parts_read(cos_http_result *res, cos_value **err)
{
    return read_xml(res, LIST_PARTS_ARRAYS, err);
}

int cos_msg_list_parts_next(const cos_value *page, long asked, char **next, cos_value **err)
{
    const char *marker = text(page, "NextPartNumberMarker");
    *next = NULL;
    if (strcmp(text(page, "IsTruncated"), "true") != 0 || !*marker) return 0;
    /* The next marker must be a part number past the one asked for and below 10000 (no part
     * can follow part 10000). */
    char *end = NULL;
    errno = 0;
    long n = strtol(marker, &end, 10);
    if (errno || !end || *end || n <= asked) {
        *err = cos_error_newf("InvalidResponse", "List Parts answered IsTruncated=true with NextPartNumberMarker "
                              "%.40s after part-number-marker %ld: the listing does not advance", marker, asked);
        return -1;
    }
    if (n >= MAX_PART_NUMBER) {
        *err = cos_error_newf("InvalidResponse", "List Parts answered IsTruncated=true after part %ld: more "
                              "parts than the %d an upload can have", n, MAX_PART_NUMBER);
        return -1;
    }
    if (!(*next = strdup(marker))) {
        *err = oom();
        return -1;
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* ListMultipartUploads (cos-wire.md#list-multipart-uploads)                                 */

static const char *const LIST_UPLOADS_ARRAYS[] = {"Upload", "CommonPrefixes", NULL};

cos_request *cos_msg_list_uploads(const cos_msg_to *to, const char *prefix, const char *key_marker,
                                  const char *upload_id_marker)
{
    cos_request *r = msg_new(to, COS_API_LIST_MULTIPART_UPLOADS, 1);
    if (!r) return NULL;
    int req = to->share == COS_MSG_PARAMS_REQUEST;
    /* The action first, then the SDK's reqParams order; prefix is always sent. */
    int rc = cos_req_query(r, "uploads", "");
    if (req) rc = rc || query_param(r, to->params, "Delimiter", "delimiter");
    if (req) rc = rc || query_param(r, to->params, "EncodingType", "encoding-type");
    rc = rc || cos_req_query(r, "prefix", prefix ? prefix : "");
    if (req) rc = rc || query_param(r, to->params, "MaxUploads", "max-uploads");
    if (!rc && key_marker) rc = cos_req_query(r, "key-marker", key_marker);
    if (!rc && upload_id_marker) rc = cos_req_query(r, "upload-id-marker", upload_id_marker);
    return built(r, rc);
}

cos_value *cos_msg_list_uploads_read(cos_http_result *res, cos_value **err)
{
    return read_xml(res, LIST_UPLOADS_ARRAYS, err);
}

int cos_msg_list_uploads_next(const cos_value *page, const char *asked_key, const char *asked_id, char **key_marker,
                              char **id_marker, cos_value **err)
{
    const char *km = text(page, "NextKeyMarker"), *im = text(page, "NextUploadIdMarker");
    *key_marker = *id_marker = NULL;
    if (strcmp(text(page, "IsTruncated"), "true") != 0 || !*km) return 0;
    if (asked_key && strcmp(km, asked_key) == 0 && strcmp(im, asked_id ? asked_id : "") == 0) {
        *err = cos_error_newf("InvalidResponse", "List Multipart Uploads answered IsTruncated=true with the markers "
                              "it was asked for (NextKeyMarker %.200s, NextUploadIdMarker %.200s): the listing "
                              "does not advance", km, im);
        return -1;
    }
    *key_marker = strdup(km);
    *id_marker = strdup(im);
    if (!*key_marker || !*id_marker) {
        free(*key_marker);
        free(*id_marker);
        *key_marker = *id_marker = NULL;
        *err = oom();
        return -1;
    }
    return 1;
}
