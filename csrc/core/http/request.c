/* request: building a cos_request, and turning one attempt of it into a signed libcurl easy
 * handle (URL, headers, body source, response capture). The libcurl callbacks here are pure C:
 * they only move bytes and record numbers; cos_poll (poll.c, through transport.c) acts on what they record. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/params.h"
#include "base/url.h"
#include "crc64.h"
#include "http/auth.h"
#include "http/request_state.h"
#include "base/xml.h"

/* ---------------------------------------------------------------------------------------- */
/* Ordered name/value lists                                                                  */

static long rkv_find(const cos_rkv_list *l, const char *name, int nocase)
{
    for (size_t i = 0; i < l->len; i++)
        if ((nocase ? strcasecmp : strcmp)(l->items[i].name, name) == 0) return (long)i;
    return -1;
}

static void rkv_remove(cos_rkv_list *l, size_t i)
{
    free(l->items[i].name);
    free(l->items[i].value);
    memmove(&l->items[i], &l->items[i + 1], (l->len - i - 1) * sizeof *l->items);
    l->len--;
}

/* Sets name=value (replacing an existing name); value NULL removes. */
static int rkv_set(cos_rkv_list *l, const char *name, const char *value, int nocase)
{
    long at = rkv_find(l, name, nocase);
    if (!value) {
        if (at >= 0) rkv_remove(l, (size_t)at);
        return 0;
    }
    char *v = strdup(value);
    if (!v) return -1;
    if (at >= 0) {
        free(l->items[at].value);
        l->items[at].value = v;
        return 0;
    }
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        cos_rkv *items = realloc(l->items, cap * sizeof *items);
        if (!items) {
            free(v);
            return -1;
        }
        l->items = items;
        l->cap = cap;
    }
    char *n = strdup(name);
    if (!n) {
        free(v);
        return -1;
    }
    l->items[l->len++] = (cos_rkv){n, v};
    return 0;
}

static void rkv_free(cos_rkv_list *l)
{
    for (size_t i = 0; i < l->len; i++) {
        free(l->items[i].name);
        free(l->items[i].value);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* ---------------------------------------------------------------------------------------- */
/* Building                                                                                  */

cos_request *cos_req_new(cos_client *c, cos_api api, const char *bucket, const char *region, const char *key)
{
    if (!*cos_api_method(api)) return NULL; /* not one of api.h's */
    cos_request *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->c = c;
    r->api = api;
    r->fd = -1;
    r->out_fd = -1;
    r->body_len = -1;
    r->body_limit = COS_RESP_MAX_BODY;
    r->max_retries = -1;
    r->method = strdup(cos_api_method(api));
    r->bucket = strdup(bucket ? bucket : "");
    r->region = strdup(region ? region : "");
    r->key = key ? strdup(key) : NULL;
    sb_init(&r->pullbuf);
    sb_init(&r->resp_body);
    if (!r->method || !r->bucket || !r->region || (key && !r->key)) {
        cos_req_free(r);
        return NULL;
    }
    return r;
}

void cos_req_destroy(cos_request *r)
{
    if (!r) return;
    free(r->method);
    free(r->bucket);
    free(r->region);
    free(r->key);
    rkv_free(&r->query);
    rkv_free(&r->headers);
    free(r->mem);
    if (r->fd >= 0) close(r->fd);
    if (r->out_fd >= 0) close(r->out_fd);
    sb_free(&r->pullbuf);
    sb_free(&r->resp_body);
    if (r->md5) EVP_MD_CTX_free(r->md5);
    if (r->mime) curl_mime_free(r->mime);
    free(r->mime_part);
    free(r->mime_filename);
    cos_req_clear_creds(r);
    cos_value_free(r->resp_headers);
    cos_value_free(r->final_error);
    cos_value_free(r->last_error);
    free(r->reason);
    if (r->slist) curl_slist_free_all(r->slist);
    if (r->connect_to) curl_slist_free_all(r->connect_to);
    free(r->url);
    free(r->url_noquery);
    free(r);
}

void cos_req_free(cos_request *r)
{
    if (r && r->state == COS_RQ_NEW) cos_req_destroy(r);
}

int cos_req_query(cos_request *r, const char *name, const char *value)
{
    return rkv_set(&r->query, name, value ? value : "", 0);
}

/* Validation refuses these earlier, naming the param; this is the last line of defence, so no
 * caller can ever put a second header line (or a cut-short one) on the wire. */
static int header_text_ok(const char *s)
{
    for (; s && *s; s++)
        if (*s == '\r' || *s == '\n') return 0;
    return 1;
}

int cos_req_header(cos_request *r, const char *name, const char *value)
{
    if (!*name || strpbrk(name, ":\r\n \t") || !header_text_ok(value)) return -1;
    return rkv_set(&r->headers, name, value, 1);
}

const char *cos_req_get_header(const cos_request *r, const char *name)
{
    long at = rkv_find(&r->headers, name, 1);
    return at >= 0 ? r->headers.items[at].value : NULL;
}

static int body_unset(cos_request *r) { return r->src == COS_SRC_NONE ? 0 : -1; }

int cos_req_body_mem(cos_request *r, const void *data, size_t len)
{
    char *copy = malloc(len ? len : 1);
    if (!copy) return -1;
    if (len) memcpy(copy, data, len);
    if (cos_req_body_mem_take(r, copy, len) != 0) {
        free(copy);
        return -1;
    }
    return 0;
}

int cos_req_body_mem_take(cos_request *r, void *data, size_t len)
{
    if (body_unset(r) != 0) return -1;
    r->src = COS_SRC_MEM;
    r->mem = data;
    r->mem_len = len;
    r->body_len = (int64_t)len;
    return 0;
}

int cos_req_body_mem_ref(cos_request *r, const void *data, size_t len)
{
    if (body_unset(r) != 0) return -1;
    r->src = COS_SRC_MEM;
    r->mem_ref = data;
    r->mem_len = len;
    r->body_len = (int64_t)len;
    return 0;
}

int cos_req_body_fd(cos_request *r, int fd, int64_t offset, int64_t len)
{
    if (body_unset(r) != 0 || fd < 0 || offset < 0 || len < 0) return -1;
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0) return -1;
    r->src = COS_SRC_FD;
    r->fd = d;
    r->fd_offset = offset;
    r->body_len = len;
    return 0;
}

int cos_req_body_pull(cos_request *r, int64_t len, cos_req_pull_fn fn, void *ud)
{
    if (body_unset(r) != 0 || len < 0 || !fn) return -1;
    r->src = COS_SRC_PULL;
    r->body_len = len;
    r->pull = fn;
    r->pull_ud = ud;
    return 0;
}

int cos_req_body_mime(cos_request *r, cos_req_mime_fn fields, void *ud, const char *part_name,
                      const char *filename)
{
    if (r->mime_part || !part_name) return -1;
    r->mime_part = strdup(part_name);
    r->mime_filename = filename ? strdup(filename) : NULL;
    if (!r->mime_part || (filename && !r->mime_filename)) return -1; /* freed with the request */
    r->mime_fields = fields;
    r->mime_ud = ud;
    return 0;
}

void cos_req_hash(cos_request *r, int flags) { r->hash_flags = flags; }

int cos_req_output_fd(cos_request *r, int fd)
{
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0) return -1;
    if (r->out_fd >= 0) close(r->out_fd);
    r->out_fd = d;
    return 0;
}

void cos_req_body_limit(cos_request *r, int64_t max) { r->body_limit = max < 0 ? -1 : max; }

void cos_req_accept_status(cos_request *r, int status)
{
    if (r->naccept < 4) r->accept[r->naccept++] = status;
}

void cos_req_retries(cos_request *r, int n) { r->max_retries = n < 0 ? 0 : n; }
void cos_req_task(cos_request *r, cos_task_id id) { r->task = id; }

void cos_req_on_done(cos_request *r, cos_req_done_fn fn, void *ud)
{
    r->done = fn;
    r->ud = ud;
}

void cos_req_on_progress(cos_request *r, cos_req_progress_fn fn, void *ud)
{
    r->progress = fn;
    r->progress_ud = ud;
}

int cos_req_replayable(const cos_request *r)
{
    return r->src != COS_SRC_PULL && r->out_written == 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Parameter mapping (cos-wire.md#parameters-to-headers)                                    */

static const char *const PARAM_HEADERS[][2] = {
    {"ContentType", "Content-Type"},
    {"ContentLength", "Content-Length"},
    {"ContentMD5", "Content-MD5"},
    {"CacheControl", "Cache-Control"},
    {"ContentDisposition", "Content-Disposition"},
    {"ContentEncoding", "Content-Encoding"},
    {"ContentLanguage", "Content-Language"},
    {"Expires", "Expires"},
    {"Expect", "Expect"},
    {"Range", "Range"},
    {"IfModifiedSince", "If-Modified-Since"},
    {"IfUnmodifiedSince", "If-Unmodified-Since"},
    {"IfMatch", "If-Match"},
    {"IfNoneMatch", "If-None-Match"},
    {"ACL", "x-cos-acl"},
    {"GrantRead", "x-cos-grant-read"},
    {"GrantWrite", "x-cos-grant-write"},
    {"GrantFullControl", "x-cos-grant-full-control"},
    {"GrantReadAcp", "x-cos-grant-read-acp"},
    {"GrantWriteAcp", "x-cos-grant-write-acp"},
    {"StorageClass", "x-cos-storage-class"},
    {"TrafficLimit", "x-cos-traffic-limit"},
    {"MimeLimit", "x-cos-mime-limit"},
    {"MFA", "x-cos-mfa"},
    {"Tagging", "x-cos-tagging"},
    {"ServerSideEncryption", "x-cos-server-side-encryption"},
    {"SSEKMSKeyId", "x-cos-server-side-encryption-cos-kms-key-id"},
    {"SSEContext", "x-cos-server-side-encryption-context"},
    {"SSECustomerAlgorithm", "x-cos-server-side-encryption-customer-algorithm"},
    {"SSECustomerKey", "x-cos-server-side-encryption-customer-key"},
    {"SSECustomerKeyMD5", "x-cos-server-side-encryption-customer-key-MD5"},
    {"PicOperations", "Pic-Operations"},
    {"CopySource", "x-cos-copy-source"},
    {"CopySourceRange", "x-cos-copy-source-range"},
    {"CopySourceIfModifiedSince", "x-cos-copy-source-If-Modified-Since"},
    {"CopySourceIfUnmodifiedSince", "x-cos-copy-source-If-Unmodified-Since"},
    {"CopySourceIfMatch", "x-cos-copy-source-If-Match"},
    {"CopySourceIfNoneMatch", "x-cos-copy-source-If-None-Match"},
    {"MetadataDirective", "x-cos-metadata-directive"},
};

static int apply_object(cos_request *r, const cos_value *obj, int query)
{
    if (cos_value_type(obj) != COS_OBJ) return 0;
    for (size_t i = 0; i < cos_value_len(obj); i++) {
        char buf[40];
        const char *v = cos_param_string(obj, cos_obj_key(obj, i), buf, sizeof buf);
        if (!v) continue; /* undefined / null / tables are dropped */
        int rc = query ? cos_req_query(r, cos_obj_key(obj, i), v) : cos_req_header(r, cos_obj_key(obj, i), v);
        if (rc != 0) return -1;
    }
    return 0;
}

int cos_req_apply_params(cos_request *r, const cos_value *params)
{
    char buf[40];
    /* Top-level params whose name contains x-cos- go to the headers as they are. */
    for (size_t i = 0; i < cos_value_len(params); i++) {
        const char *name = cos_obj_key(params, i);
        if (!name || !strcasestr(name, "x-cos-")) continue;
        const char *v = cos_param_string(params, name, buf, sizeof buf);
        if (v && cos_req_header(r, name, v) != 0) return -1;
    }
    for (size_t i = 0; i < sizeof PARAM_HEADERS / sizeof PARAM_HEADERS[0]; i++) {
        const char *v = cos_param_string(params, PARAM_HEADERS[i][0], buf, sizeof buf);
        if (v && cos_req_header(r, PARAM_HEADERS[i][1], v) != 0) return -1;
    }
    if (apply_object(r, cos_obj_get(params, "Headers"), 0) != 0) return -1;
    const char *vid = cos_param_string(params, "VersionId", buf, sizeof buf);
    if (vid && *vid && cos_req_query(r, "versionId", vid) != 0) return -1;
    return apply_object(r, cos_obj_get(params, "Query"), 1);
}

/* libcurl's upload buffer: larger than its 64 KiB default so each read callback moves (and hashes)
 * a bigger chunk per call; per transfer in flight, so memory stays flat with the file size. */
#define UPLOAD_BUFFER_BYTES (512L * 1024L)

/* ---------------------------------------------------------------------------------------- */
/* libcurl callbacks (pure C: they record, cos_poll acts)                                    */

static void hash_update(cos_request *r, const void *p, size_t n)
{
    if (r->md5) EVP_DigestUpdate(r->md5, p, n);
    if (r->hash_flags & COS_HASH_CRC64) r->crc = cos_crc64_update(r->crc, p, n);
}

static int hash_restart(cos_request *r)
{
    r->crc = 0;
    if (!(r->hash_flags & COS_HASH_MD5)) return 0;
    if (!r->md5 && !(r->md5 = EVP_MD_CTX_new())) return -1;
    return EVP_DigestInit_ex(r->md5, EVP_md5(), NULL) == 1 ? 0 : -1;
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    cos_request *r = ud;
    size_t want = size * nitems;
    int64_t left = r->body_len - r->sent;
    if (left <= 0) return 0;
    if ((int64_t)want > left) want = (size_t)left;
    /* The step budget: what one cos_poll step reads, hashes and hands to libcurl is bounded
     * across all transfers (cos.h, COS_STEP_MAX_BYTES); past it the transfer pauses until the
     * next step. Form bodies (postObject) are left alone: libcurl's MIME reader keeps its own
     * pause state. Pulled bodies are bounded by the chunks the caller gives. */
    if (!r->mime && r->src != COS_SRC_PULL) {
        int64_t room = COS_STEP_MAX_BYTES - r->c->step_bytes;
        if (room <= 0) {
            r->budget_paused = 1;
            return CURL_READFUNC_PAUSE;
        }
        if ((int64_t)want > room) want = (size_t)room;
    }
    size_t got = 0;
    switch (r->src) {
    case COS_SRC_MEM:
        memcpy(buf, (r->mem_ref ? r->mem_ref : r->mem) + r->sent, want);
        got = want;
        break;
    case COS_SRC_FD: {
        ssize_t n;
        do n = pread(r->fd, buf, want, (off_t)(r->fd_offset + r->sent));
        while (n < 0 && errno == EINTR);
        if (n <= 0) { /* error, or the file ended before body_len bytes (EPIPE: "body ended early") */
            r->body_error = n < 0 ? errno : EPIPE;
            return CURL_READFUNC_ABORT;
        }
        got = (size_t)n;
        break;
    }
    case COS_SRC_PULL: {
        size_t avail = r->pullbuf.len - r->pullpos;
        if (!avail) {
            if (r->pull_eof) { /* on_pull failed, or ended before ContentLength bytes */
                if (!r->body_error) r->body_error = EPIPE;
                return CURL_READFUNC_ABORT;
            }
            r->need_data = 1; /* cos_poll will pull and unpause */
            return CURL_READFUNC_PAUSE;
        }
        got = avail < want ? avail : want;
        memcpy(buf, r->pullbuf.data + r->pullpos, got);
        r->pullpos += got;
        if (r->pullpos == r->pullbuf.len) {
            sb_reset(&r->pullbuf);
            r->pullpos = 0;
        }
        break;
    }
    default: return 0;
    }
    hash_update(r, buf, got);
    r->sent += (int64_t)got;
    r->c->step_bytes += (int64_t)got;
    return got;
}

static int seek_cb(void *ud, curl_off_t offset, int origin)
{
    cos_request *r = ud;
    /* Rewinds (auth retries, 100-continue rejections) restart from 0; hashes restart with them. */
    if (origin != SEEK_SET || offset != 0 || r->src == COS_SRC_PULL) return CURL_SEEKFUNC_CANTSEEK;
    r->sent = 0;
    return hash_restart(r) == 0 ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_FAIL;
}

int cos_resp_header_line(cos_value **headers, char **reason, const char *buf, size_t len)
{
    while (len && (buf[len - 1] == '\r' || buf[len - 1] == '\n')) len--;
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        /* A new response (100 Continue, then the real one): forget the previous headers. */
        cos_value_free(*headers);
        *headers = cos_obj_new();
        free(*reason);
        const char *sp = memchr(buf, ' ', len);
        const char *sp2 = sp ? memchr(sp + 1, ' ', len - (size_t)(sp + 1 - buf)) : NULL;
        *reason = sp2 ? strndup(sp2 + 1, len - (size_t)(sp2 + 1 - buf)) : strdup("");
        return *headers && *reason ? 0 : -1;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon || !*headers) return 0;
    char name[256];
    size_t nl = (size_t)(colon - buf);
    if (nl >= sizeof name) return 0;
    for (size_t i = 0; i < nl; i++) name[i] = (char)tolower((unsigned char)buf[i]);
    name[nl] = '\0';
    const char *v = colon + 1, *end = buf + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
    const char *prev = cos_obj_get_str(*headers, name);
    if (prev) { /* repeated header: joined as Node does */
        strbuf j;
        sb_init(&j);
        int rc = sb_puts(&j, prev) || sb_puts(&j, ", ") || sb_append(&j, v, (size_t)(end - v));
        if (rc == 0) rc = cos_obj_set(*headers, name, cos_str_new(j.data ? j.data : "", j.len));
        sb_free(&j);
        return rc ? -1 : 0;
    }
    return cos_obj_set(*headers, name, cos_str_new(v, (size_t)(end - v))) ? -1 : 0;
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    cos_request *r = ud;
    size_t n = size * nitems;
    r->header_bytes += (int64_t)n;
    if (r->header_bytes > COS_RESP_MAX_HEADERS) {
        r->headers_too_large = 1;
        return 0; /* stops the transfer (CURLE_WRITE_ERROR) */
    }
    cos_resp_header_line(&r->resp_headers, &r->reason, buf, n);
    return n;
}

static size_t write_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    cos_request *r = ud;
    size_t n = size * nitems;
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    r->received += (int64_t)n;
    if (r->out_fd >= 0 && status >= 200 && status < 300) {
        for (size_t off = 0; off < n;) {
            ssize_t w = write(r->out_fd, buf + off, n - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                r->out_error = w < 0 ? errno : EIO;
                return CURL_WRITEFUNC_ERROR;
            }
            off += (size_t)w;
            r->out_written += w;
        }
        return n;
    }
    int64_t limit = status >= 200 && status < 300 ? r->body_limit : COS_RESP_MAX_BODY;
    if (limit >= 0 && (int64_t)r->resp_body.len + (int64_t)n > limit) {
        r->body_too_large = 1; /* stop reading now: the rest is never buffered */
        return CURL_WRITEFUNC_ERROR;
    }
    return sb_append(&r->resp_body, buf, n) == 0 ? n : CURL_WRITEFUNC_ERROR;
}

static int xferinfo_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    cos_request *r = ud;
    (void)ultotal;
    (void)ulnow;
    /* Upload progress counts the bytes handed to libcurl (r->sent): curl's ulnow lags for
     * paused/pull bodies and includes nothing else we need. */
    if (r->up_now != r->sent || r->down_now != dlnow || r->down_total != dltotal) {
        r->up_now = r->sent;
        r->up_total = r->body_len < 0 ? 0 : r->body_len;
        r->down_now = dlnow;
        r->down_total = dltotal;
        r->prog_dirty = 1;
    }
    return r->aborted ? 1 : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* One attempt                                                                               */

void cos_req_reset_attempt(cos_request *r)
{
    r->sent = 0;
    r->received = 0;
    r->body_error = 0;
    r->out_error = 0;
    r->body_too_large = 0;
    r->header_bytes = 0;
    r->headers_too_large = 0;
    r->need_data = 0;
    r->up_now = r->down_now = r->down_total = 0;
    r->up_total = r->body_len < 0 ? 0 : r->body_len;
    sb_reset(&r->resp_body);
    cos_value_free(r->resp_headers);
    r->resp_headers = NULL;
    free(r->reason);
    r->reason = NULL;
    r->errbuf[0] = '\0';
}

static int build_url(cos_request *r)
{
    free(r->url);
    free(r->url_noquery);
    r->url = NULL;
    r->url_noquery = cos_url_build(r->c, NULL, NULL, r->bucket, r->region, r->key);
    if (!r->url_noquery) return -1;
    strbuf u;
    sb_init(&u);
    int rc = sb_puts(&u, r->url_noquery);
    for (size_t i = 0; i < r->query.len && rc == 0; i++) {
        const cos_rkv *q = &r->query.items[i];
        rc = sb_putc(&u, i ? '&' : '?') || cos_url_encode(&u, q->name, strlen(q->name), 0) || sb_putc(&u, '=') ||
             cos_url_encode(&u, q->value, strlen(q->value), 0);
    }
    if (rc != 0) {
        sb_free(&u);
        return -1;
    }
    r->url = sb_detach(&u);
    return r->url ? 0 : -1;
}

/* The header list of an attempt before signing: the request's headers plus the engine's (Host,
 * Content-Length, User-Agent, x-cos-sdk-retry on attempt > 1). */
static int base_headers(cos_request *r, int attempt, cos_rkv_list *h)
{
    char num[32];
    for (size_t i = 0; i < r->headers.len; i++)
        if (rkv_set(h, r->headers.items[i].name, r->headers.items[i].value, 1) != 0) return -1;
    if (rkv_find(h, "Host", 1) < 0) {
        char *host = cos_url_host(r->url_noquery);
        int rc = host ? rkv_set(h, "Host", host, 1) : -1;
        free(host);
        if (rc != 0) return -1;
    }
    /* Content-Length: from the body; 0 on bodiless non-GET requests (the SDK does the same).
     * A form body's Content-Length and Content-Type (with the boundary) come from libcurl. */
    if (r->mime_part) {
        rkv_set(h, "Content-Length", NULL, 1);
        rkv_set(h, "Content-Type", NULL, 1);
    } else if (r->body_len >= 0) {
        snprintf(num, sizeof num, "%lld", (long long)r->body_len);
        if (rkv_set(h, "Content-Length", num, 1) != 0) return -1;
    } else if (strcmp(r->method, "GET") != 0) {
        if (rkv_set(h, "Content-Length", "0", 1) != 0) return -1;
    } else {
        rkv_set(h, "Content-Length", NULL, 1);
    }
    if (rkv_find(h, "User-Agent", 1) < 0 && rkv_set(h, "User-Agent", r->c->user_agent, 1) != 0) return -1;
    if (attempt > 1 && rkv_set(h, "x-cos-sdk-retry", "true", 1) != 0) return -1;
    /* The token is added after signing so it is never signed (cos-wire.md#what-the-client-signs). */
    rkv_set(h, "x-cos-security-token", NULL, 1);
    return 0;
}

void cos_req_credentials(const cos_request *r, cos_req_creds *out)
{
    memset(out, 0, sizeof *out);
    if (r->has_creds) {
        out->secret_id = r->cred_id;
        out->secret_key = r->cred_key;
        out->token = r->cred_token_str;
        out->key_time = r->cred_key_time[0] ? r->cred_key_time : NULL;
        out->authorization = r->cred_auth;
    } else if (!r->c->cred_fn) {
        out->secret_id = r->c->secret_id;
        out->secret_key = r->c->secret_key;
        out->token = r->c->security_token;
    }
}

void cos_req_clear_creds(cos_request *r)
{
    free(r->cred_auth);
    free(r->cred_id);
    free(r->cred_key);
    free(r->cred_token_str);
    r->cred_auth = r->cred_id = r->cred_key = r->cred_token_str = NULL;
    r->cred_key_time[0] = '\0';
    r->has_creds = 0;
}

/* The header list of this attempt: base_headers, signed, then Authorization and the token
 * (added after signing, so never signed). A form upload is authorised by its policy and q-*
 * fields (cos-wire.md#post-object), not by a header. */
static int build_headers(cos_request *r, cos_rkv_list *h)
{
    if (base_headers(r, r->attempt, h) != 0) return -1;
    cos_req_creds k;
    cos_req_credentials(r, &k);
    if (k.authorization && !r->mime_part) {
        if (rkv_set(h, "Authorization", k.authorization, 1) != 0) return -1;
    } else if (k.secret_id && k.secret_key && !r->mime_part) {
        strbuf path;
        sb_init(&path);
        if (sb_putc(&path, '/') != 0 || (r->key && sb_puts(&path, r->key) != 0)) {
            sb_free(&path);
            return -1;
        }
        char *auth = cos_auth_for_request(r->c, k.secret_id, k.secret_key, k.key_time, r->method, path.data,
                                          &r->query, h);
        sb_free(&path);
        if (!auth) return -1;
        int rc = rkv_set(h, "Authorization", auth, 1);
        free(auth);
        if (rc != 0) return -1;
    }
    if (k.token && *k.token && rkv_set(h, "x-cos-security-token", k.token, 1) != 0) return -1;
    return 0;
}

cos_value *cos_req_cred_options(cos_request *r)
{
    cos_rkv_list h = {0};
    cos_value *o = cos_obj_new(), *q = cos_obj_new(), *hv = cos_obj_new(), *scope = cos_arr_new(),
              *sc = cos_obj_new();
    strbuf path, action;
    sb_init(&path);
    sb_init(&action);
    int rc = o && q && hv && scope && sc ? 0 : -1;
    if (rc == 0) rc = build_url(r);
    if (rc == 0) rc = base_headers(r, r->attempt + 1, &h); /* the headers of the coming attempt */
    if (rc == 0) rc = sb_putc(&path, '/') || (r->key && sb_puts(&path, r->key));
    if (rc == 0) rc = sb_printf(&action, "name/cos:%s", cos_api_name(r->api)); /* cos-wire.md#temporary-credentials */
    for (size_t i = 0; rc == 0 && i < r->query.len; i++)
        rc = cos_obj_set_str(q, r->query.items[i].name, r->query.items[i].value);
    for (size_t i = 0; rc == 0 && i < h.len; i++) {
        const cos_rkv *kv = &h.items[i];
        if (!*kv->value) continue; /* sent empty, never signed */
        if (strcasecmp(kv->name, "Content-Length") == 0) rc = cos_obj_set_num(hv, kv->name, strtod(kv->value, NULL));
        else rc = cos_obj_set_str(hv, kv->name, kv->value);
    }
    if (rc == 0)
        rc = cos_obj_set_str(sc, "action", action.data) || cos_obj_set_str(sc, "bucket", r->bucket) ||
             cos_obj_set_str(sc, "region", r->region) || cos_obj_set_str(sc, "prefix", r->key ? r->key : "");
    if (rc == 0) {
        rc = cos_arr_push(scope, sc);
        sc = NULL; /* taken */
    }
    if (rc == 0)
        rc = cos_obj_set_str(o, "Bucket", r->bucket) || cos_obj_set_str(o, "Region", r->region) ||
             cos_obj_set_str(o, "Method", r->method) || cos_obj_set_str(o, "Key", r->key ? r->key : "") ||
             cos_obj_set_str(o, "Pathname", path.data);
    if (rc == 0) {
        cos_value *qq = q, *hh = hv, *ss = scope;
        q = hv = scope = NULL; /* cos_obj_set takes them, even on failure */
        rc = cos_obj_set(o, "Query", qq);
        rc = cos_obj_set(o, "Headers", hh) || rc;
        rc = cos_obj_set(o, "Scope", ss) || rc;
    }
    if (rc == 0)
        rc = cos_obj_set_num(o, "SystemClockOffset", r->c->clock_offset_ms) || cos_obj_set_bool(o, "ForceSignHost", 1);
    rkv_free(&h);
    sb_free(&path);
    sb_free(&action);
    cos_value_free(q);
    cos_value_free(hv);
    cos_value_free(scope);
    cos_value_free(sc);
    if (rc != 0) {
        cos_value_free(o);
        return NULL;
    }
    return o;
}

static int slist_add(struct curl_slist **l, const char *line)
{
    struct curl_slist *n = curl_slist_append(*l, line);
    if (!n) return -1;
    *l = n;
    return 0;
}

/* libcurl syntax: "Name: value" sends, "Name;" sends an empty header, "Name:" removes one. */
static int to_slist(const cos_rkv_list *h, struct curl_slist **out)
{
    strbuf line;
    sb_init(&line);
    int rc = 0, has_expect = 0;
    for (size_t i = 0; i < h->len && rc == 0; i++) {
        sb_reset(&line);
        if (strcasecmp(h->items[i].name, "Expect") == 0) has_expect = 1;
        if (*h->items[i].value) rc = sb_printf(&line, "%s: %s", h->items[i].name, h->items[i].value);
        else rc = sb_printf(&line, "%s;", h->items[i].name);
        if (rc == 0) rc = slist_add(out, line.data);
    }
    /* Expect policy: no 100-continue round trip (as the COS C SDK): a rejected upload costs at
     * most the bytes in flight, and servers/proxies that mishandle 100-continue are avoided.
     * A caller-given Expect header (the Expect param) is sent as is. */
    if (rc == 0 && !has_expect) rc = slist_add(out, "Expect:");
    /* libcurl's default Accept adds nothing COS uses. */
    if (rc == 0) rc = slist_add(out, "Accept:");
    sb_free(&line);
    return rc;
}

/* A fresh form for this attempt: the caller's fields, then the file part read by read_cb (so the
 * body sources, hashing, pull pauses and rewinds are the same as for a plain body). */
static int setup_mime(cos_request *r, CURL *e)
{
    if (r->mime) curl_mime_free(r->mime);
    r->mime = curl_mime_init(e);
    if (!r->mime) return -1;
    if (r->mime_fields && r->mime_fields(r->mime_ud, r->mime) != 0) return -1;
    curl_mimepart *part = curl_mime_addpart(r->mime);
    CURLcode rc = part ? curl_mime_name(part, r->mime_part) : CURLE_OUT_OF_MEMORY;
    if (!rc && r->mime_filename) rc = curl_mime_filename(part, r->mime_filename);
    if (!rc) rc = curl_mime_type(part, "application/octet-stream");
    if (!rc)
        rc = curl_mime_data_cb(part, (curl_off_t)(r->body_len < 0 ? 0 : r->body_len), read_cb, seek_cb, NULL, r);
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_MIMEPOST, r->mime);
    if (!rc && strcmp(r->method, "POST") != 0) rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, UPLOAD_BUFFER_BYTES);
    return rc == CURLE_OK ? 0 : -1;
}

static int setup_method(cos_request *r, CURL *e)
{
    CURLcode rc = CURLE_OK;
    if (r->mime_part) return setup_mime(r, e);
    if (strcmp(r->method, "GET") == 0 && r->src == COS_SRC_NONE) {
        rc = curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(r->method, "HEAD") == 0) {
        rc = curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        /* Every other method goes out as an "upload" with an exact size: libcurl then sends our
         * Content-Length and adds no form Content-Type (as CURLOPT_POST would). */
        rc = curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        if (!rc) rc = curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(r->body_len < 0 ? 0 : r->body_len));
        if (!rc && strcmp(r->method, "PUT") != 0) rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
        if (!rc) rc = curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
        if (!rc) rc = curl_easy_setopt(e, CURLOPT_READDATA, r);
        if (!rc) rc = curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, seek_cb);
        if (!rc) rc = curl_easy_setopt(e, CURLOPT_SEEKDATA, r);
        if (!rc) rc = curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, UPLOAD_BUFFER_BYTES);
    }
    return rc == CURLE_OK ? 0 : -1;
}

static int setup_transport(cos_request *r, CURL *e)
{
    cos_client *c = r->c;
    CURLcode rc = curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_URL, r->url);
    /* The path goes out exactly as signed: libcurl would otherwise squash "/./" and "/../" in a
     * key such as "a/./b" after we signed it (SignatureDoesNotMatch, or another object). */
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_XFERINFODATA, r);
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L * 1024L);
    /* Stalls, not slow transfers, are failures: < 1 byte/s for low_speed_time_s. */
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, c->low_speed_time_s);
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 30000L);
    if (!rc && c->timeout_ms > 0) rc = curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    if (!rc && c->ca_info) rc = curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_info);
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    if (!rc) rc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    return rc == CURLE_OK ? 0 : -1;
}

/* Ip option: TCP goes to Ip, the URL (and Host, SNI) keep the virtual-hosted name. */
static int setup_connect_to(cos_request *r, CURL *e, struct curl_slist **ct)
{
    if (!r->c->ip) return 0;
    strbuf s;
    sb_init(&s);
    const char *ip = r->c->ip;
    const char *colon = ip[0] == '[' ? strstr(ip, "]:") : strrchr(ip, ':');
    if (colon && ip[0] == '[') colon++;
    /* "::HOST:PORT" = any host, any port -> HOST:PORT (an empty port keeps the URL's). */
    int rc = colon ? sb_printf(&s, "::%s", ip) : sb_printf(&s, "::%s:", ip);
    if (rc == 0) rc = slist_add(ct, s.data);
    sb_free(&s);
    if (rc == 0 && curl_easy_setopt(e, CURLOPT_CONNECT_TO, *ct) != CURLE_OK) rc = -1;
    return rc;
}

int cos_req_prepare_attempt(cos_request *r, CURL *e)
{
    cos_rkv_list h = {0};
    cos_req_reset_attempt(r);
    if (r->slist) {
        curl_slist_free_all(r->slist);
        r->slist = NULL;
    }
    int rc = build_url(r);
    if (rc == 0) rc = build_headers(r, &h);
    if (rc == 0) rc = to_slist(&h, &r->slist);
    rkv_free(&h);
    if (rc == 0) rc = setup_transport(r, e);
    if (rc == 0) rc = setup_method(r, e);
    if (rc == 0 && curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->slist) != CURLE_OK) rc = -1;
    if (rc == 0 && !r->connect_to) rc = setup_connect_to(r, e, &r->connect_to);
    else if (rc == 0 && curl_easy_setopt(e, CURLOPT_CONNECT_TO, r->connect_to) != CURLE_OK) rc = -1;
    if (rc == 0) rc = hash_restart(r);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Pull bodies                                                                               */

int cos_req_feed_pull(cos_request *r)
{
    const void *chunk = NULL;
    size_t len = 0;
    r->pull_queued = 0;
    if (r->pull(r->pull_ud, &chunk, &len) != 0) {
        r->body_error = ECANCELED;
        r->pull_eof = 1;
    } else if (len == 0) {
        r->pull_eof = 1;
    } else {
        int64_t room = r->body_len - r->sent - (int64_t)(r->pullbuf.len - r->pullpos);
        if ((int64_t)len > room) len = room > 0 ? (size_t)room : 0; /* extra bytes are ignored */
        if (sb_append(&r->pullbuf, chunk, len) != 0) {
            r->body_error = ENOMEM;
            r->pull_eof = 1;
        }
    }
    r->need_data = 0;
    /* A form's file part pauses inside libcurl's MIME reader, which remembers the pause until
     * the transfer is unpaused, while the transfer itself may not be paused yet (the pause came
     * with the form's leading bytes). curl_easy_pause() ignores a CONT without a state change,
     * so pause first: the CONT then always resets the reader. */
    if (r->mime && curl_easy_pause(r->easy, CURLPAUSE_SEND) != CURLE_OK) return -1;
    return curl_easy_pause(r->easy, CURLPAUSE_CONT) == CURLE_OK ? 0 : -1;
}

/* ---------------------------------------------------------------------------------------- */
/* Results                                                                                   */

cos_value *cos_result_data(cos_http_result *res)
{
    cos_value *d = cos_obj_new();
    if (!d) return NULL;
    cos_value *h = res->headers ? res->headers : cos_obj_new();
    res->headers = NULL;
    cos_obj_set_num(d, "statusCode", res->status_code);
    const char *rid = cos_obj_get_str(h, "x-cos-request-id");
    if (!rid) rid = cos_obj_get_str(h, "x-ci-request-id");
    const char *vid = cos_obj_get_str(h, "x-cos-version-id");
    const char *dm = cos_obj_get_str(h, "x-cos-delete-marker");
    cos_value *rid_v = rid ? cos_cstr_new(rid) : NULL;
    cos_value *vid_v = vid ? cos_cstr_new(vid) : NULL;
    cos_value *dm_v = dm ? cos_cstr_new(dm) : NULL;
    cos_obj_set(d, "headers", h);
    if (rid_v) cos_obj_set(d, "RequestId", rid_v);
    if (vid_v) cos_obj_set(d, "VersionId", vid_v);
    if (dm_v) cos_obj_set(d, "DeleteMarker", dm_v);
    return d;
}

int cos_result_merge_xml(cos_value *data, const cos_http_result *res, const char *const *array_fields)
{
    if (!res->body.len || !res->body.data) return 0;
    size_t i = 0;
    while (i < res->body.len && isspace((unsigned char)res->body.data[i])) i++;
    if (i == res->body.len || res->body.data[i] != '<') return 0;
    cos_value *x = cos_xml_to_value(res->body.data, res->body.len, array_fields);
    if (!x) return -1;
    /* XML fields first, then the existing ones (statusCode, headers, ...) win. */
    cos_value *merged = x;
    for (size_t k = 0; k < cos_value_len(data); k++)
        cos_obj_set(merged, cos_obj_key(data, k), cos_value_clone(cos_obj_at(data, k)));
    /* Move merged back into data, keeping data's identity. */
    while (cos_value_len(data)) {
        cos_value *v = cos_obj_take(data, cos_obj_key(data, 0));
        cos_value_free(v);
    }
    for (size_t k = 0; k < cos_value_len(merged); k++)
        cos_obj_set(data, cos_obj_key(merged, k), cos_value_clone(cos_obj_at(merged, k)));
    cos_value_free(merged);
    return 0;
}

cos_api cos_req_api(const cos_request *r) { return r->api; }
