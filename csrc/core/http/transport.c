/* transport: one CURLM per client, driven through libcurl's socket interface, with our own
 * scheduler (a request is added to the multi only when a connection slot is free, so timeouts
 * never include queue time), an easy-handle pool, bounded retries with exponential backoff and
 * jitter, clock-skew correction, and the step budget's pausing of transfers. It records what
 * happens as events (event.c); poll.c delivers them. */
#include "http/transport.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/errors.h"
#include "base/xml.h"
#include "http/event.h"
#include "http/request_state.h"
#include "http/sts.h"

#define RETRY_BASE_MS 100.0
#define RETRY_CAP_MS 5000.0
#define SKEW_MIN_MS 30000.0

/* ---------------------------------------------------------------------------------------- */
/* Lists                                                                                     */

static void list_unlink(cos_request **head, cos_request **tail, cos_request *r)
{
    if (r->prev) r->prev->next = r->next;
    else *head = r->next;
    if (r->next) r->next->prev = r->prev;
    else if (tail) *tail = r->prev;
    r->next = r->prev = NULL;
}

static void pending_append(cos_client *c, cos_request *r)
{
    r->next = NULL;
    r->prev = c->pending_tail;
    if (c->pending_tail) c->pending_tail->next = r;
    else c->pending_head = r;
    c->pending_tail = r;
    r->state = COS_RQ_PENDING;
}

static void active_push(cos_client *c, cos_request *r)
{
    r->prev = NULL;
    r->next = c->active_head;
    if (c->active_head) c->active_head->prev = r;
    c->active_head = r;
    r->state = COS_RQ_ACTIVE;
    c->nactive++;
}

/* ---------------------------------------------------------------------------------------- */
/* Easy handles                                                                              */

static CURL *easy_get(cos_client *c)
{
    if (c->nidle) return c->idle[--c->nidle];
    return curl_easy_init();
}

/* Back to the pool: curl_easy_reset keeps the handle's DNS and TLS session caches; the
 * connections themselves live in the multi's cache. */
static void easy_put(cos_client *c, CURL *e)
{
    if (!e) return;
    curl_easy_reset(e);
    if (c->nidle == c->idle_cap) {
        size_t cap = c->idle_cap ? c->idle_cap * 2 : 8;
        if (cap > (size_t)c->max_connections) cap = (size_t)c->max_connections;
        CURL **idle = cap > c->idle_cap ? realloc(c->idle, cap * sizeof *idle) : NULL;
        if (!idle) {
            curl_easy_cleanup(e);
            return;
        }
        c->idle = idle;
        c->idle_cap = cap;
    }
    c->idle[c->nidle++] = e;
}

/* Takes an active request out of the multi and gives its handle back. */
static void detach_active(cos_client *c, cos_request *r)
{
    list_unlink(&c->active_head, NULL, r);
    c->nactive--;
    curl_multi_remove_handle(c->multi, r->easy);
    easy_put(c, r->easy);
    r->easy = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Init / free                                                                               */

/* CURLMOPT_SOCKETFUNCTION: records which sockets libcurl wants watched, nothing more (no user
 * code runs inside libcurl). */
static int socket_cb(CURL *e, curl_socket_t fd, int what, void *ud, void *sockp)
{
    cos_client *c = ud;
    (void)e;
    size_t i = 0;
    while (i < c->nsocks && c->socks[i].fd != fd) i++;
    if (what == CURL_POLL_REMOVE) {
        if (i < c->nsocks) c->socks[i] = c->socks[--c->nsocks];
        return 0;
    }
    if (i == c->nsocks) {
        if (c->nsocks == c->socks_cap) {
            size_t cap = c->socks_cap ? c->socks_cap * 2 : 16;
            cos_watch *n = realloc(c->socks, cap * sizeof *n);
            if (!n) return -1;
            c->socks = n;
            c->socks_cap = cap;
        }
        c->nsocks++;
    }
    if (!sockp) { /* a socket libcurl has not told us about before: a new id (as hiperfifo does) */
        sockp = (void *)(uintptr_t)++c->sock_ids;
        curl_multi_assign(c->multi, fd, sockp);
    }
    c->socks[i].fd = fd;
    c->socks[i].id = (uint64_t)(uintptr_t)sockp;
    c->socks[i].events = (what & CURL_POLL_IN ? COS_WATCH_IN : 0) | (what & CURL_POLL_OUT ? COS_WATCH_OUT : 0);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: when libcurl wants curl_multi_socket_action(CURL_SOCKET_TIMEOUT). */
static int timer_cb(CURLM *m, long timeout_ms, void *ud)
{
    cos_client *c = ud;
    (void)m;
    c->curl_due = timeout_ms < 0 ? -1 : cos_clock_mono_ms() + (double)timeout_ms;
    return 0;
}

int cos_transport_init(cos_client *c)
{
    c->multi = curl_multi_init();
    if (!c->multi) return -1;
    c->curl_due = -1;
    /* Transfers are driven through the socket interface only (cos_poll and host loops alike):
     * curl_multi_perform would not keep the watched set up to date. */
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    /* Parallel transfers need parallel connections: no multiplexing, HTTP/1.1 per handle. */
    curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)c->max_connections);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->max_connections);
    return 0;
}

void cos_transport_free(cos_client *c)
{
    while (c->active_head) {
        cos_request *r = c->active_head;
        detach_active(c, r);
        cos_req_destroy(r);
    }
    while (c->pending_head) {
        cos_request *r = c->pending_head;
        list_unlink(&c->pending_head, &c->pending_tail, r);
        cos_req_destroy(r);
    }
    while (c->cred_head) {
        cos_request *r = c->cred_head;
        list_unlink(&c->cred_head, NULL, r);
        cos_req_destroy(r);
    }
    cos_sts_clear(c);
    cos_event *ev;
    while ((ev = cos_event_pop(c))) {
        if (ev->kind == COS_EV_REQ_DONE) cos_req_destroy(ev->req);
        cos_event_free(ev);
    }
    for (size_t i = 0; i < c->nidle; i++) curl_easy_cleanup(c->idle[i]);
    free(c->idle);
    c->idle = NULL;
    c->nidle = c->idle_cap = 0;
    if (c->multi) curl_multi_cleanup(c->multi);
    c->multi = NULL;
    free(c->socks);
    c->socks = NULL;
    c->nsocks = c->socks_cap = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Submission and abort                                                                      */

void cos_transport_finish(cos_client *c, cos_request *r, int status, cos_value *error)
{
    r->final_status = status;
    r->final_error = error;
    if (r->md5) {
        unsigned int n = 0;
        EVP_DigestFinal_ex(r->md5, r->md5_out, &n);
    }
    r->state = COS_RQ_DONE;
    if (cos_event_push(c, COS_EV_REQ_DONE, r, NULL, NULL, NULL, NULL) != 0) cos_req_destroy(r);
}

int cos_transport_submit(cos_request *r)
{
    if (!r) return -1;
    if (r->max_retries < 0) r->max_retries = r->c->retry_times;
    pending_append(r->c, r);
    return 0;
}

void cos_transport_abort(cos_request *r)
{
    if (!r) return;
    cos_client *c = r->c;
    switch (r->state) {
    case COS_RQ_NEW: cos_req_destroy(r); return;
    case COS_RQ_PENDING:
        list_unlink(&c->pending_head, &c->pending_tail, r);
        break;
    case COS_RQ_CREDS: /* a late answer to its provider call finds no request and is ignored */
        list_unlink(&c->cred_head, NULL, r);
        break;
    case COS_RQ_ACTIVE:
        if (c->in_perform) { /* inside libcurl: the xferinfo callback aborts it */
            r->aborted = 1;
            return;
        }
        detach_active(c, r);
        break;
    case COS_RQ_DONE:
        /* Its REQ_DONE is queued or being delivered: delivery frees it without calling done. */
        r->aborted = 1;
        return;
    }
    cos_event_drop_request(c, r);
    cos_req_destroy(r);
}

void cos_transport_abort_task(cos_client *c, cos_task_id id)
{
    if (!id) return;
    for (cos_request *r = c->pending_head, *n; r; r = n) {
        n = r->next;
        if (r->task == id) cos_transport_abort(r);
    }
    for (cos_request *r = c->active_head, *n; r; r = n) {
        n = r->next;
        if (r->task == id) cos_transport_abort(r);
    }
    for (cos_request *r = c->cred_head, *n; r; r = n) {
        n = r->next;
        if (r->task == id) cos_transport_abort(r);
    }
    for (cos_event *ev = c->ev_head; ev; ev = ev->next)
        if (ev->kind == COS_EV_REQ_DONE && ev->req->task == id) ev->req->aborted = 1;
}

/* ---------------------------------------------------------------------------------------- */
/* Scheduling                                                                                */

/* The request could not even be started: the error of the attempt before, if any, is what the
 * caller needs (a retry must not hide why it was retried). */
static void fail_to_start(cos_client *c, cos_request *r, const char *what)
{
    cos_value *err = r->last_error;
    r->last_error = NULL;
    if (err) cos_error_note_attempts(err, r->attempt - 1);
    else err = cos_error_new("Error", what);
    cos_transport_finish(c, r, 0, err);
}

static void start_attempt(cos_client *c, cos_request *r)
{
    int pooled = c->nidle > 0;
    CURL *e = easy_get(c);
    r->attempt++;
    int rc = e ? cos_req_prepare_attempt(r, e) : -1;
    if (rc != 0 && pooled) {
        /* A pooled handle may refuse options after a failed transfer (libcurl 7.88 refuses
         * CURLOPT_BUFFERSIZE once a name resolution failed on it); a fresh one accepts them. */
        curl_easy_cleanup(e);
        e = curl_easy_init();
        rc = e ? cos_req_prepare_attempt(r, e) : -1;
    }
    if (rc != 0) {
        if (e) curl_easy_cleanup(e);
        fail_to_start(c, r, "cannot build the request");
        return;
    }
    r->easy = e;
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        easy_put(c, e);
        r->easy = NULL;
        fail_to_start(c, r, "cannot start the request");
        return;
    }
    active_push(c, r);
}

/* Parks r until the provider answers: the call itself is made from event delivery
 * (cos_credentials_deliver), so the provider never runs inside scheduling (it may answer
 * synchronously and re-enter). */
static void ask_credentials(cos_client *c, cos_request *r)
{
    r->cred_token = ++c->next_cred_token;
    r->cred_deadline = cos_clock_mono_ms() + (c->timeout_ms > 0 ? (double)c->timeout_ms : COS_CRED_WAIT_DEFAULT_MS);
    r->state = COS_RQ_CREDS;
    r->prev = NULL;
    r->next = c->cred_head;
    if (c->cred_head) c->cred_head->prev = r;
    c->cred_head = r;
    cos_event_push(c, COS_EV_REQ_CREDS, r, NULL, NULL, NULL, NULL);
}

void cos_transport_unpark(cos_client *c, cos_request *r)
{
    list_unlink(&c->cred_head, NULL, r);
}

void cos_transport_resume(cos_client *c, cos_request *r)
{
    r->cred_token = 0;
    r->retry_at = 0;
    pending_append(c, r);
}

/* Starts the pending requests that are due, while slots are free, in submission order. With a
 * credentials provider, a request first needs a valid cached STS credential or an answer. */
void cos_transport_schedule(cos_client *c)
{
    double now = cos_clock_mono_ms();
    for (cos_request *r = c->pending_head, *n; r && c->nactive < c->max_connections; r = n) {
        n = r->next;
        if (r->retry_at > now) continue;
        list_unlink(&c->pending_head, &c->pending_tail, r);
        if (c->cred_fn && !r->has_creds) {
            if (!cos_sts_valid(c)) {
                ask_credentials(c, r);
                continue;
            }
            if (cos_sts_use(c, r) != 0) {
                cos_transport_finish(c, r, 0, cos_error_new("Error", "out of memory"));
                continue;
            }
        }
        start_attempt(c, r);
    }
}

static uint64_t rng_next(cos_client *c)
{
    uint64_t x = c->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Exponential backoff with "equal jitter": half fixed, half random. */
static double backoff_ms(cos_client *c, int retry)
{
    double base = RETRY_BASE_MS * pow(2.0, retry - 1);
    if (base > RETRY_CAP_MS) base = RETRY_CAP_MS;
    double u = (double)(rng_next(c) >> 11) / 9007199254740992.0;
    return base / 2 + u * base / 2;
}

/* ---------------------------------------------------------------------------------------- */
/* Completion                                                                                */

/* "2020-06-17T05:37:29Z" (or with milliseconds) -> Unix ms; < 0 if unparsable. */
static double parse_iso8601(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) return -1;
    return (double)timegm(&tm) * 1000.0;
}

static double server_time_ms(const cos_request *r, const cos_value *err)
{
    const cos_value *parsed = cos_obj_get(err, "error");
    double t = parse_iso8601(cos_obj_get_str(parsed, "ServerTime"));
    if (t >= 0) return t;
    const char *date = cos_obj_get_str(r->resp_headers, "date");
    time_t d = date ? curl_getdate(date, NULL) : (time_t)-1;
    return d == (time_t)-1 ? -1 : (double)d * 1000.0;
}

/* RequestTimeTooSkewed / "Request has expired": correct the client's clock offset once. */
static int fix_clock_skew(cos_client *c, cos_request *r, const cos_value *err)
{
    if (!c->correct_clock_skew || r->skew_retried || !err) return 0;
    const char *code = cos_obj_get_str(err, "code");
    const char *msg = cos_obj_get_str(err, "message");
    if (!code) return 0;
    if (strcmp(code, "RequestTimeTooSkewed") != 0 &&
        !(strcmp(code, "AccessDenied") == 0 && msg && strcmp(msg, "Request has expired") == 0))
        return 0;
    double server = server_time_ms(r, err);
    if (server < 0) return 0;
    double now = cos_clock_wall_ms();
    if (fabs(server - (now + c->clock_offset_ms)) < SKEW_MIN_MS) return 0;
    c->clock_offset_ms = server - now;
    r->skew_retried = 1;
    return 1;
}

static int accepted(const cos_request *r, long status)
{
    if (status >= 200 && status < 300) return 1;
    for (int i = 0; i < r->naccept; i++)
        if (r->accept[i] == status) return 1;
    return 0;
}

/* The answer's body passed the memory cap (cos_req_body_limit): refused, never retried. */
static cos_value *too_large_error(cos_request *r)
{
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    int64_t limit = status >= 200 && status < 300 ? r->body_limit : COS_RESP_MAX_BODY;
    char msg[200];
    if (r->headers_too_large)
        snprintf(msg, sizeof msg, "the response headers are larger than %lld bytes; refused without reading the rest",
                 (long long)COS_RESP_MAX_HEADERS);
    else
        snprintf(msg, sizeof msg, "the response body is larger than %lld bytes, the most kept in memory for this "
                 "request; refused without reading the rest", (long long)limit);
    cos_value *e = cos_error_new("ResponseTooLarge", msg);
    if (e) {
        if (status > 0) cos_obj_set_num(e, "statusCode", (double)status);
        if (r->resp_headers && !r->headers_too_large) cos_obj_set(e, "headers", cos_value_clone(r->resp_headers));
        const char *rid = cos_obj_get_str(r->resp_headers, "x-cos-request-id");
        if (rid) cos_obj_set_str(e, "RequestId", rid);
        cos_obj_set_str(e, "url", r->url_noquery);
        cos_obj_set_str(e, "method", r->method);
    }
    return e;
}

/* EWRITE (getObject's output failed): the failed write(2) in the one errno shape of base/errors.h
 * (errno, syscall, its message), the code staying EWRITE. */
static void write_failure(cos_value *e, int out_error)
{
    cos_value *sys = cos_error_errno(out_error, "write", NULL);
    const char *m = cos_obj_get_str(sys, "message");
    if (m) cos_obj_set_str(e, "message", m);
    cos_obj_set_num(e, "errno", out_error);
    cos_obj_set_str(e, "syscall", "write");
    cos_value_free(sys);
}

static cos_value *attempt_error(cos_request *r, CURLcode rc, long status, int *retryable)
{
    *retryable = 0;
    if (rc == CURLE_WRITE_ERROR && (r->body_too_large || r->headers_too_large)) return too_large_error(r);
    if (rc != CURLE_OK) {
        if (r->body_error || rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_READ_ERROR) {
            char msg[160];
            if (r->src == COS_SRC_PULL && r->body_error == ECANCELED)
                snprintf(msg, sizeof msg, "EBODYREAD: on_pull failed");
            else if (r->body_error == EPIPE) /* a pulled body, or a file, shorter than announced */
                snprintf(msg, sizeof msg, "EBODYREAD: the body ended after %lld of the %lld bytes announced "
                         "(ContentLength or the file's size)", (long long)r->sent, (long long)r->body_len);
            else { /* the read's errno in errors.c's words (cos_error_errno: strerror_r, thread-safe) */
                cos_value *sys = cos_error_errno(r->body_error, "read", NULL);
                const char *m = cos_obj_get_str(sys, "message");
                snprintf(msg, sizeof msg, "EBODYREAD: cannot read the request body: %s", m ? m : "EIO");
                cos_value_free(sys);
            }
            cos_value *e = cos_error_new("EBODYREAD", msg);
            if (e && r->body_error) {
                cos_obj_set_num(e, "errno", r->body_error);
                cos_obj_set_str(e, "syscall", "read");
            }
            if (e) {
                cos_obj_set_str(e, "url", r->url_noquery);
                cos_obj_set_str(e, "method", r->method);
            }
            return e;
        }
        long os_errno = 0;
        curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os_errno);
        if (rc == CURLE_WRITE_ERROR && r->out_error) os_errno = r->out_error;
        cos_value *e = cos_error_network(rc, os_errno, r->errbuf, r->method, r->url_noquery);
        if (e && rc == CURLE_WRITE_ERROR && r->out_error) write_failure(e, r->out_error);
        *retryable = cos_error_retryable(cos_error_network_code(rc, os_errno));
        return e;
    }
    if (accepted(r, status)) return NULL;
    *retryable = status >= 500;
    return cos_error_http((int)status, r->reason, cos_value_clone(r->resp_headers), r->resp_body.data,
                          r->resp_body.len, r->method, r->url_noquery);
}

static void complete(cos_client *c, cos_request *r, CURLcode rc)
{
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK) status = 0;
    int retryable = 0;
    cos_value *err = r->aborted ? NULL : attempt_error(r, rc, status, &retryable);
    detach_active(c, r);
    if (r->aborted) {
        cos_event_drop_request(c, r);
        cos_req_destroy(r);
        return;
    }
    cos_req_clear_creds(r); /* every attempt resolves its credentials again */
    int skew = err && fix_clock_skew(c, r, err);
    int retries_used = r->attempt - 1 - r->skew_retried;
    if (skew || (err && retryable && cos_req_replayable(r) && retries_used < r->max_retries)) {
        cos_value_free(r->last_error);
        r->last_error = err;
        r->retry_at = skew ? 0 : cos_clock_mono_ms() + backoff_ms(c, retries_used + 1);
        pending_append(c, r);
        return;
    }
    if (err && r->attempt > 1) cos_error_note_attempts(err, r->attempt);
    if (err) cos_error_add_hint(err);
    cos_transport_finish(c, r, (int)status, err);
}

static void read_completions(cos_client *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        cos_request *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode rc = m->data.result;
        if (r) complete(c, r, rc);
    }
}

/* Progress numbers recorded by the xferinfo callbacks, and pull requests. */
static void collect_activity(cos_client *c)
{
    for (cos_request *r = c->active_head; r; r = r->next) {
        if (r->prog_dirty) {
            r->prog_dirty = 0;
            if (r->progress) r->progress(r->progress_ud, r->up_now, r->up_total, r->down_now, r->down_total);
        }
        if (r->src == COS_SRC_PULL && r->need_data && !r->pull_queued) {
            r->pull_queued = 1;
            cos_event_push(c, COS_EV_REQ_PULL, r, NULL, NULL, NULL, NULL);
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Delivery                                                                                  */

void cos_transport_deliver_done(cos_request *r)
{
    if (r->aborted || !r->done) {
        cos_req_destroy(r);
        return;
    }
    cos_http_result res;
    memset(&res, 0, sizeof res);
    res.status_code = r->final_status;
    res.headers = r->resp_headers ? r->resp_headers : cos_obj_new();
    r->resp_headers = NULL;
    res.body = r->resp_body;
    sb_init(&r->resp_body);
    res.error = r->final_error;
    r->final_error = NULL;
    res.request_id = cos_obj_get_str(res.headers, "x-cos-request-id");
    if (!res.request_id) res.request_id = cos_obj_get_str(res.headers, "x-ci-request-id");
    memcpy(res.md5, r->md5_out, sizeof res.md5);
    res.crc64 = r->crc;
    res.hashes = r->hash_flags;
    res.bytes_sent = r->sent;
    res.bytes_received = r->received;
    res.attempts = r->attempt;
    r->done(r->ud, &res);
    cos_value_free(res.headers);
    cos_value_free(res.error);
    sb_free(&res.body);
    cos_req_destroy(r);
}

void cos_transport_collect(cos_client *c)
{
    read_completions(c);
    collect_activity(c);
}

double cos_transport_next_due(const cos_client *c, double now)
{
    double next = -1;
    for (const cos_request *r = c->pending_head; r; r = r->next) {
        if (c->nactive >= c->max_connections) break;
        double d = r->retry_at > now ? r->retry_at - now : 0;
        if (next < 0 || d < next) next = d;
    }
    for (const cos_request *r = c->cred_head; r; r = r->next) {
        double d = r->cred_deadline > now ? r->cred_deadline - now : 0;
        if (next < 0 || d < next) next = d;
    }
    if (c->curl_due >= 0) {
        double t = c->curl_due > now ? c->curl_due - now : 0;
        if (next < 0 || t < next) next = t;
    }
    return next;
}

void cos_transport_step_begin(cos_client *c)
{
    c->step_bytes = 0;
    for (cos_request *r = c->active_head; r; r = r->next) {
        if (!r->budget_paused) continue;
        r->budget_paused = 0;
        curl_easy_pause(r->easy, CURLPAUSE_CONT);
    }
}

int cos_transport_budget_paused(const cos_client *c)
{
    for (const cos_request *r = c->active_head; r; r = r->next)
        if (r->budget_paused) return 1;
    return 0;
}

void cos_transport_socket_action(cos_client *c, int fd, int curl_events)
{
    int running = 0;
    c->in_perform = 1;
    curl_multi_socket_action(c->multi, fd, curl_events, &running);
    c->in_perform = 0;
}

void cos_transport_timer(cos_client *c)
{
    if (c->curl_due >= 0 && c->curl_due <= cos_clock_mono_ms()) {
        c->curl_due = -1;
        cos_transport_socket_action(c, CURL_SOCKET_TIMEOUT, 0);
    }
}
