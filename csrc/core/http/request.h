/* request: the internal request API that every operation is built on.
 *
 * An operation describes one HTTP exchange with COS as a cos_request: method, Bucket/Region/Key
 * (or bucket level), ordered query parameters, ordered headers, a body source and where the
 * response body goes. cos_transport_submit() hands it to the client's engine, which signs it (again on
 * every attempt), schedules it on the client's CURLM when a connection slot is free, retries it
 * (bounded, exponential backoff with jitter, 5xx / network errors / timeouts only, plus one
 * clock-skew correction) and finally calls `done` FROM cos_poll (never from inside libcurl), so
 * `done` may submit further requests or finish the task.
 *
 * Lifecycle / ownership
 * - cos_req_new() returns a request owned by the caller until cos_transport_submit(), which takes it
 *   (even when it fails: then `done` still runs from the next cos_poll with an error).
 * - All strings passed in are copied. Memory bodies are copied (or taken with _take).
 * - `done` receives a cos_http_result that lives only during the call; the callee may take
 *   `headers`, `error` or the body (set the pointer to NULL / use sb_detach) to keep them.
 * - After `done` returns, the engine frees the request. Never touch it again.
 * - cos_transport_abort() on a submitted request: libcurl stops, `done` is NOT called, the request
 *   is freed at the next safe point. Use it for pause/cancel.
 */
#ifndef COS_REQUEST_H
#define COS_REQUEST_H
#include <stddef.h>
#include <stdint.h>
#include "api.h"
#include "cos.h"
#include "strbuf.h"

typedef struct cos_request cos_request;

/* What the engine hands to `done`. */
typedef struct cos_http_result {
    int status_code;     /* HTTP status of the final attempt; 0 on network errors */
    cos_value *headers;  /* object, lower-case names (repeated headers joined with ", ") */
    strbuf body;         /* response body, unless it was streamed to an output fd */
    /* NULL when the request succeeded (2xx, or a status allowed by cos_req_accept_status).
     * Otherwise a ready-made error object in cos.h shape: {code, name, message, statusCode?,
     * headers?, error? (parsed <Error> children), RequestId?, url, method}. */
    cos_value *error;
    const char *request_id; /* x-cos-request-id (or x-ci-request-id) or NULL; points into headers */
    /* Hashes of the REQUEST body actually sent in the final attempt (cos_req_hash). */
    unsigned char md5[16];
    uint64_t crc64;
    int hashes;             /* COS_HASH_* computed (md5 / crc64 are only meaningful when set) */
    int64_t bytes_sent;     /* request body bytes sent in the final attempt */
    int64_t bytes_received; /* response body bytes received (memory or output fd) */
    int attempts;           /* 1 + retries */
} cos_http_result;

typedef void (*cos_req_done_fn)(void *ud, cos_http_result *r);
/* Transfer progress of the current attempt (bytes of request body sent / response body
 * received). Called from cos_poll after libcurl returns; it must only record numbers (no
 * submitting, no user callbacks): the task layer turns this into throttled onProgress events. */
typedef void (*cos_req_progress_fn)(void *ud, int64_t sent, int64_t send_total, int64_t received,
                                    int64_t recv_total);
/* Pull body source: give the next chunk (copied by the engine); *len = 0 means end of body.
 * Return 0, or -1 to fail the request (code "EBODYREAD"). Called from cos_poll only. */
typedef int (*cos_req_pull_fn)(void *ud, const void **chunk, size_t *len);

/* A new request of COS API `api` (api.h; its HTTP method follows from it, and it names the request
 * in the credentials provider's STS scope "name/cos:<API>") on Bucket/Region; key NULL means
 * bucket level (path "/"). `key` is used as given (the caller strips the leading '/' unless
 * UseRawKey). The builders of ops/messages.c are its callers: one per COS API. NULL when out of
 * memory or `api` is not one of api.h's. */
cos_request *cos_req_new(cos_client *c, cos_api api, const char *bucket, const char *region, const char *key);
/* The COS API the request was built for. */
cos_api cos_req_api(const cos_request *r);
/* Frees a request that was never submitted. */
void cos_req_free(cos_request *r);

/* Query parameters, kept in insertion order; value NULL or "" goes out as "name=" and is signed
 * as such. Re-adding a name replaces its value. */
int cos_req_query(cos_request *r, const char *name, const char *value);
/* Headers, kept in insertion order, names as given. Re-adding a name (any case) replaces it.
 * A header with value "" is sent empty but not signed; value NULL removes the header. */
int cos_req_header(cos_request *r, const char *name, const char *value);
const char *cos_req_get_header(const cos_request *r, const char *name); /* any case; NULL if absent */
/* Adds the headers and query of a params object (cos-wire.md#common-request-machinery): every
 * top-level param whose name contains "x-cos-", the named params (ContentType -> Content-Type, ACL
 * -> x-cos-acl, GrantRead, StorageClass, TrafficLimit, Range, IfModifiedSince, SSE...,
 * PicOperations, ...), then the Headers table, then the Query table (and VersionId -> versionId).
 * Numbers are stringified, booleans become "true"/"false", nil is skipped. */
int cos_req_apply_params(cos_request *r, const cos_value *params);

/* Body sources (at most one). Content-Length is set from the body length and signed. */
int cos_req_body_mem(cos_request *r, const void *data, size_t len);       /* copies */
int cos_req_body_mem_take(cos_request *r, void *data, size_t len);        /* takes a malloc'd buffer */
/* No copy: `data` must stay valid until the request is done or aborted (e.g. a task's body). */
int cos_req_body_mem_ref(cos_request *r, const void *data, size_t len);
int cos_req_body_fd(cos_request *r, int fd, int64_t offset, int64_t len); /* dup's fd; pread at offset */
int cos_req_body_pull(cos_request *r, int64_t len, cos_req_pull_fn fn, void *ud); /* never retried */

/* multipart/form-data (POST Object, cos-wire.md#post-object), built with libcurl's MIME API.
 * On EVERY attempt the engine creates a fresh curl_mime, calls fields(ud, mime) to add the
 * leading text parts (so a retry re-signs them), then appends one last part `part_name`
 * (filename `filename`, application/octet-stream) whose bytes come from the request's body source
 * (cos_req_body_mem/_fd/_pull, set as usual): the file is streamed, never read whole, and
 * hashing, progress (file bytes only) and retries work as for any body. libcurl sets the
 * Content-Type (with its boundary) and Content-Length; any Content-Type header set on the request
 * is dropped. No Authorization header is sent: a form upload is authorised by its fields.
 * `fields` returns 0, or -1 to fail the attempt. `ud` must outlive the request. */
struct curl_mime;
typedef int (*cos_req_mime_fn)(void *ud, struct curl_mime *mime);
int cos_req_body_mime(cos_request *r, cos_req_mime_fn fields, void *ud, const char *part_name,
                      const char *filename);

/* The credentials the current attempt is signed with (valid while the attempt is being built,
 * e.g. inside a cos_req_mime_fn): the client's SecretId/SecretKey/SecurityToken, or what the
 * credentials provider gave. authorization: a ready header value (no keys then). key_time NULL:
 * compute it. All NULL when there is nothing to sign with. */
typedef struct cos_req_creds {
    const char *secret_id, *secret_key, *token, *key_time, *authorization;
} cos_req_creds;
void cos_req_credentials(const cos_request *r, cos_req_creds *out);

/* Hash the request body while it streams (restarted on every attempt / rewind). */
#define COS_HASH_MD5 1
#define COS_HASH_CRC64 2
void cos_req_hash(cos_request *r, int flags);

/* Stream a successful (2xx) response body to `fd` (dup'ed) with write(); error bodies are still
 * captured in memory. Once bytes went to the fd, the request is no longer retried. */
int cos_req_output_fd(cos_request *r, int fd);

/* Response bodies kept in memory are capped (a hostile or broken server must not make us buffer
 * without bound): beyond COS_RESP_MAX_BODY bytes the transfer stops and the request fails with
 * code "ResponseTooLarge" (not retried). COS's XML answers are far below it (a page of 1000 list
 * entries is a few hundred KiB). cos_req_body_limit changes the cap for SUCCESSFUL (2xx)
 * answers only, -1 meaning none (getObject's in-memory Body: the caller asked for the object);
 * error bodies always keep the default. */
#define COS_RESP_MAX_BODY ((int64_t)8 * 1024 * 1024)
/* Response headers, all lines together: COS sends a few KiB. Beyond this the transfer stops
 * with "ResponseTooLarge" too (libcurl before 8.3 keeps taking header lines without a limit). */
#define COS_RESP_MAX_HEADERS ((int64_t)256 * 1024)
void cos_req_body_limit(cos_request *r, int64_t max);

/* Statuses >= 300 that count as success for this request (e.g. 304 for headObject with
 * If-Modified-Since, 404 for deleteObject). Up to 4. */
void cos_req_accept_status(cos_request *r, int status);
/* Extra attempts after the first; default the client's RetryTimes (3). 0 disables retries. */
void cos_req_retries(cos_request *r, int n);
/* The task this request belongs to (0 = none): used for cos_task cancel/pause bookkeeping. */
void cos_req_task(cos_request *r, cos_task_id id);

void cos_req_on_done(cos_request *r, cos_req_done_fn fn, void *ud);
void cos_req_on_progress(cos_request *r, cos_req_progress_fn fn, void *ud);

/* Submitting and aborting are the transport's: cos_transport_submit / cos_transport_abort
 * (http/transport.h), with the lifecycle above. */

/* One response header line as libcurl delivers it (CRLF included or not) into *headers (object,
 * lower-case names, repeated headers joined with ", "); a status line ("HTTP/...") starts a new
 * response: *headers is replaced by an empty object and *reason set to its reason phrase. Lines
 * before the first status line, without a colon or with a name of 256 bytes or more are ignored.
 * 0, or -1 on out of memory. */
int cos_resp_header_line(cos_value **headers, char **reason, const char *buf, size_t len);

/* The common success data: {statusCode, headers, RequestId?, VersionId?, DeleteMarker?}. Takes
 * r->headers (sets it to NULL). */
cos_value *cos_result_data(cos_http_result *r);
/* Parses r->body as XML (cos_xml_to_value) and merges the root's children into `data` first
 * (so statusCode/headers/RequestId set afterwards win). No-op for an empty body. */
int cos_result_merge_xml(cos_value *data, const cos_http_result *r, const char *const *array_fields);



#endif
