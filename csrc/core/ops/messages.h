/* messages: one builder per COS API, and one reader per API whose answer has something to read
 * (messages.c; the wire facts: docs/cos-wire.md#the-cos-apis-the-client-sends). The single
 * operations (ops/) and the upload engine (upload/) build every request here, so that what goes
 * on the wire for "Upload Part" (say) is written once: cos_msg_upload_part.
 *
 * A builder returns a ready request of its COS API (cos_req_new with the API's enum: its method
 * and STS scope follow from it), with the query, headers and body of that API, or NULL (out of
 * memory, a body that cannot be attached). The caller sets done / progress (cos_req_on_done,
 * cos_req_on_progress) and submits it (cos_transport_submit), or frees it (cos_req_free).
 *
 * A reader takes the result given to `done` and returns the operation's data in the Node SDK's
 * shape ({<XML fields>, statusCode, headers, RequestId, ...}), or NULL with *err: the request's
 * error (taken from the result), or one the answer itself is (Complete's 200 with an <Error>
 * body, malformed XML). */
#ifndef COS_OPS_MESSAGES_H
#define COS_OPS_MESSAGES_H
#include <stddef.h>
#include <stdint.h>
#include "http/request.h"
#include "task/task.h"

/* How the call's params apply to a request. */
typedef enum cos_msg_share {
    /* The params are this request's own (a single operation: putObject, multipartUpload, ...):
     * every header and query param they name is sent (docs/cos-wire.md#parameters-to-headers). */
    COS_MSG_PARAMS_REQUEST = 0,
    /* The params describe a whole multipart upload (sliceUploadFile, uploadFile): each request
     * takes its share (docs/upload-engine.md, "Which headers go where"): Initiate every header
     * but Content-Length / Content-MD5 (they describe the whole body), each part the traffic
     * limit and SSE, Complete the x-cos-meta-* headers and Pic-Operations, the rest nothing. */
    COS_MSG_PARAMS_UPLOAD
} cos_msg_share;

/* Where a message goes, and the call it belongs to. */
typedef struct cos_msg_to {
    cos_client *client;
    cos_task_id task;        /* the task whose pause / cancel stops the request; 0: none */
    const char *bucket, *region;
    const char *key;         /* object APIs (as sent: cos_task_key); bucket APIs ignore it */
    const cos_value *params; /* the call's params, or NULL */
    cos_msg_share share;
} cos_msg_to;

/* A single operation's target: t's Bucket, Region, Key (cos_task_key) and params, all its own. */
cos_msg_to cos_msg_to_task(const cos_task *t);

/* A request body. */
typedef enum cos_msg_body_kind {
    COS_MSG_BODY_NONE = 0,   /* empty */
    COS_MSG_BODY_MEM,        /* data/len, borrowed: it must outlive the request (a task's body) */
    COS_MSG_BODY_MEM_COPY,   /* data/len, copied */
    COS_MSG_BODY_FD,         /* `length` bytes of fd at `offset` (read with pread; fd dup'ed) */
    COS_MSG_BODY_PULL        /* `length` bytes from pull(pull_ud) (never sent twice) */
} cos_msg_body_kind;

typedef struct cos_msg_body {
    cos_msg_body_kind kind;
    const void *data;
    size_t len;
    int fd;
    int64_t offset, length;
    cos_req_pull_fn pull;
    void *pull_ud;
    /* The body's MD5, hashed beforehand by the caller (file bodies and sliceUploadFile's parts
     * with UploadCheckContentMd5: cos_integrity_md5_of, or in slices), sent as Content-MD5 unless
     * one is given; NULL: an in-memory body gets one when integrity.c asks for it. */
    const unsigned char *content_md5;
} cos_msg_body;

/* ---------------------------------------------------------------------------------------- */
/* Objects                                                                                   */

/* PutObject: PUT /<key>. Every param; Cache-Control "" (sent, unsigned) unless given;
 * x-cos-meta-md5 when meta_md5 is not NULL; Content-Type `default_type` unless given (NULL:
 * none, COS decides). The body is hashed as integrity.c says, for cos_integrity_check. */
cos_request *cos_msg_put_object(const cos_msg_to *to, const cos_msg_body *body, const char *default_type,
                                const char *meta_md5);
/* {<XML fields, if any>, statusCode, headers, RequestId, Location, ETag}. The caller checks the
 * answer against the body first (cos_integrity_check reads res->headers, which this takes). */
cos_value *cos_msg_put_object_read(const cos_msg_to *to, cos_http_result *res, cos_value **err);

/* AppendObject: POST /<key>?append&position=<position>. As PutObject, not hashed. */
cos_request *cos_msg_append_object(const cos_msg_to *to, const char *position, const cos_msg_body *body,
                                   const char *default_type);
cos_value *cos_msg_append_object_read(cos_http_result *res, cos_value **err);

/* PostObject: POST / (bucket level), a form upload: its form (ops/post_object.c) is attached with
 * cos_req_body_mime; no param is applied here (the form carries them). Accepts 303. */
cos_request *cos_msg_post_object(const cos_msg_to *to);
/* {<PostResponse fields, if any>, statusCode, headers, RequestId, Location, ETag}. */
cos_value *cos_msg_post_object_read(const cos_msg_to *to, cos_http_result *res, cos_value **err);

/* HeadObject: HEAD /<key>; 304 (If-Modified-Since) is a success: NotModified. */
cos_request *cos_msg_head_object(const cos_msg_to *to);
cos_value *cos_msg_head_object_read(cos_http_result *res, cos_value **err);

/* GetObject: GET /<key>, with the Response* params as response-* query; 304 is a success. A
 * body kept in memory is not capped (the caller asked for the object): `in_memory`. */
cos_request *cos_msg_get_object(const cos_msg_to *to, int in_memory);
/* `in_memory`: data.Body is the response body. */
cos_value *cos_msg_get_object_read(cos_http_result *res, int in_memory, cos_value **err);

/* DeleteObject: DELETE /<key>; 404 is a success (BucketNotFound, as the SDK reports it). */
cos_request *cos_msg_delete_object(const cos_msg_to *to);
cos_value *cos_msg_delete_object_read(cos_http_result *res, cos_value **err);

/* ---------------------------------------------------------------------------------------- */
/* Buckets                                                                                   */

/* GetBucket (List Objects): GET /?prefix=&delimiter&marker&max-keys&encoding-type from the
 * params Prefix (always sent), Delimiter, Marker, MaxKeys, EncodingType. */
cos_request *cos_msg_get_bucket(const cos_msg_to *to);
/* Contents and CommonPrefixes are always arrays. */
cos_value *cos_msg_get_bucket_read(cos_http_result *res, cos_value **err);

/* ---------------------------------------------------------------------------------------- */
/* Multipart uploads                                                                         */

/* InitiateMultipartUpload: POST /<key>?uploads. Cache-Control "" unless given; x-cos-meta-md5
 * when meta_md5 is not NULL; Content-Type `default_type` unless given (NULL: none). */
cos_request *cos_msg_initiate(const cos_msg_to *to, const char *default_type, const char *meta_md5);
/* {Bucket, Key, UploadId, statusCode, headers, RequestId}; an answer without an UploadId is an
 * error ("InitiateMultipartUpload returned no usable UploadId"). */
cos_value *cos_msg_initiate_read(cos_http_result *res, cos_value **err);

/* UploadPart: PUT /<key>?partNumber=N&uploadId=ID with the body. With COS_MSG_PARAMS_REQUEST the
 * body gets Content-Type application/octet-stream unless one is given. Hashed as integrity.c says. */
cos_request *cos_msg_upload_part(const cos_msg_to *to, const char *upload_id, int part_number,
                                 const cos_msg_body *body);
/* {ETag (as sent, quotes kept; "" when none), statusCode, headers, RequestId}. The engine checks
 * the answer with cos_integrity_check before reading it (this takes res->headers). */
cos_value *cos_msg_upload_part_read(cos_http_result *res, cos_value **err);
/* The ETag of an Upload Part answer, NULL when it has none (a part needs one for Complete). */
const char *cos_msg_upload_part_etag(const cos_http_result *res);

/* CompleteMultipartUpload: POST /<key>?uploadId=ID, the XML list of `parts` ({PartNumber, ETag}
 * array, in order) with its Content-MD5; x-cos-meta-md5 when meta_md5 is not NULL. */
cos_request *cos_msg_complete(const cos_msg_to *to, const char *upload_id, const cos_value *parts,
                              const char *meta_md5);
/* COS answers Complete at once and streams the outcome, so a 200 whose body is an <Error>
 * document is an error, in the same shape as any HTTP error (statusCode 200, headers, code,
 * message, RequestId, error, url, method). Data: {<XML fields>, statusCode, headers, RequestId}
 * with the SDK-built Location and, with Pic-Operations, ProcessResults / ImageInfo under
 * UploadResult. */
cos_value *cos_msg_complete_read(const cos_msg_to *to, cos_http_result *res, cos_value **err);
/* Whether a Complete that failed with err may be sent again: a 5xx or network error, or a 200
 * <Error> of a server-side kind (InternalError, ServiceUnavailable, SlowDown). */
int cos_msg_complete_retryable(const cos_value *err);

/* AbortMultipartUpload: DELETE /<key>?uploadId=ID. Nothing to read: cos_msg_read. */
cos_request *cos_msg_abort(const cos_msg_to *to, const char *upload_id);

/* ListParts: GET /<key>?uploadId=ID, one page from part_number_marker (NULL: the first);
 * with COS_MSG_PARAMS_REQUEST also encoding-type and max-parts from EncodingType / MaxParts. */
cos_request *cos_msg_list_parts(const cos_msg_to *to, const char *upload_id, const char *part_number_marker);
/* One page: Part is always an array. */
cos_value *cos_msg_list_parts_read(cos_http_result *res, cos_value **err);
/* Paging, for a caller that follows the pages (the upload engine): 1 and *next (malloc'd) when
 * the page says more follows, 0 when it is the last, -1 and *err (InvalidResponse) when its
 * NextPartNumberMarker does not move past `asked` (the marker this page was asked from, 0 for
 * the first) or claims parts after 10000: so a listing ends within 10000 pages whatever a
 * server says. */
int cos_msg_list_parts_next(const cos_value *page, long asked, char **next, cos_value **err);

/* ListMultipartUploads: GET /?uploads&prefix=<prefix> (always sent) from key_marker /
 * upload_id_marker (NULL: not sent); with COS_MSG_PARAMS_REQUEST also delimiter, encoding-type and
 * max-uploads from Delimiter / EncodingType / MaxUploads. */
cos_request *cos_msg_list_uploads(const cos_msg_to *to, const char *prefix, const char *key_marker,
                                  const char *upload_id_marker);
/* One page: Upload and CommonPrefixes are always arrays. */
cos_value *cos_msg_list_uploads_read(cos_http_result *res, cos_value **err);
/* Paging: 1 and *key_marker, *id_marker (malloc'd) when more follows, 0 on the last page, -1 and
 * *err (InvalidResponse) when the page answers with the very markers it was asked from. */
int cos_msg_list_uploads_next(const cos_value *page, const char *asked_key, const char *asked_id, char **key_marker,
                              char **id_marker, cos_value **err);

/* ---------------------------------------------------------------------------------------- */

/* An answer with nothing to read (Abort): {statusCode, headers, RequestId}, or *err. */
cos_value *cos_msg_read(cos_http_result *res, cos_value **err);

#endif
