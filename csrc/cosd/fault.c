/* fault: deterministic fault injection for retry/resume tests. Syntax (comma-separated key=value):
 *   op=NAME        operation to match (PutObject, UploadPart, ..., any); required
 *   nth=N          fire on the N-th matching request (then on following ones while times allows)
 *   rate=F         fire on each matching request with probability F (0..1), PRNG seeded by seed=S
 *   times=K        fire at most K times (default: 1 with nth, unlimited otherwise)
 *   status=CODE    answer with this HTTP status and a COS error body (code=NAME overrides the Code)
 *   reset-after=B  close the connection after B request-body bytes (or at the end of a shorter body)
 *   stall=MS       delay the response by MS milliseconds
 *   complete-error answer 200 whose body is an <Error> document (Code from code=, default
 *                  InternalError) after keep-alive spaces, as COS's CompleteMultipartUpload can
 *   keepalive-spaces=N  stream N spaces before a 200 XML result (default 5 with complete-error)
 *   no-etag        omit the ETag response header
 *   no-crc64       omit the x-cos-hash-crc64ecma response header
 *   endless-list   ListParts / ListMultipartUploads: answer a made-up page that says IsTruncated=true
 *                  with an advancing marker, every time (the operation itself is not performed)
 *   etag=VALUE     perform the operation, answer with ETag: VALUE instead of the real one
 *                  (etag=bogus: "00000000000000000000000000000000")
 *   crc64=VALUE    perform the operation, answer with x-cos-hash-crc64ecma: VALUE instead
 *   drop-response  perform the operation fully, then close the connection without answering
 *   part=N         match only requests whose partNumber query parameter is N (nth counts those)
 *   body=FILE      answer with FILE's bytes as the body (status= or 200, application/xml); the
 *                  operation itself is not performed
 * Flags (complete-error, no-etag, no-crc64, endless-list, drop-response) may be written bare or as flag=1 / flag=0.
 * The first matching --fault that fires wins for a request; counters are per fault. */
#include "cosd.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BOGUS_ETAG "\"00000000000000000000000000000000\""

/* A header value given on the command line: printable ASCII, not empty. */
static int header_value_ok(const char *v) {
    if (!*v) return 0;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p > 0x7e) return 0;
    return 1;
}

static int *flag_field(cosd_fault *f, const char *name) {
    if (!strcmp(name, "complete-error")) return &f->complete_error;
    if (!strcmp(name, "no-etag")) return &f->no_etag;
    if (!strcmp(name, "no-crc64")) return &f->no_crc64;
    if (!strcmp(name, "no-content-sha1")) return &f->no_content_sha1;
    if (!strcmp(name, "endless-list")) return &f->endless_list;
    if (!strcmp(name, "drop-response")) return &f->drop_response;
    return NULL;
}

/* op=NAME: COS's name of an API (any case, as cosd always accepted) or "any". 1 ok, 0 unknown. */
static int fault_op(cosd_fault *f, const char *name) {
    f->any_api = strcasecmp(name, "any") == 0;
    f->api = COS_API_NONE;
    for (int i = COS_API_NONE + 1; !f->any_api && i < COS_API_COUNT; i++)
        if (strcasecmp(name, cos_api_name((cos_api)i)) == 0) f->api = (cos_api)i;
    return f->any_api || f->api != COS_API_NONE;
}

int fault_parse(cosd_fault *f, const char *spec, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    int op_set = 0;
    f->rate = -1;
    f->reset_after = -1;
    f->ka_spaces = -1;
    f->seed = 0x9E3779B97F4A7C15ULL;
    int times_set = 0;
    char *copy = strdup(spec), *save = NULL;
    if (!copy) return -1;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq && flag_field(f, tok)) {
            *flag_field(f, tok) = 1;
            continue;
        }
        if (!eq) { snprintf(err, errlen, "fault: '%s' is not key=value", tok); free(copy); return -1; }
        *eq = 0;
        const char *k = tok, *v = eq + 1;
        char *end = NULL;
        if (!strcmp(k, "op")) {
            if (!fault_op(f, v)) { snprintf(err, errlen, "fault: unknown op '%s'", v); free(copy); return -1; }
            op_set = 1;
            continue;
        }
        if (!strcmp(k, "code")) { free(f->code); f->code = strdup(v); continue; }
        if (!strcmp(k, "body")) {
            FILE *bf = fopen(v, "rb");
            if (!bf) { snprintf(err, errlen, "fault: cannot read body file '%s'", v); free(copy); return -1; }
            strbuf sb;
            sb_init(&sb);
            char buf[4096];
            size_t got;
            while ((got = fread(buf, 1, sizeof buf, bf)) > 0) sb_append(&sb, buf, got);
            fclose(bf);
            if (!sb.data) sb_puts(&sb, "");
            free(f->body);
            f->body_len = sb.len;
            f->body = sb_detach(&sb);
            continue;
        }
        if (flag_field(f, k) && (!strcmp(v, "0") || !strcmp(v, "1"))) {
            *flag_field(f, k) = v[0] == '1';
            continue;
        }
        if (!strcmp(k, "content-sha1")) {
            if (!header_value_ok(v)) goto bad;
            free(f->content_sha1);
            f->content_sha1 = strdup(v);
            continue;
        }
        if (!strcmp(k, "etag") || !strcmp(k, "crc64")) {
            if (!header_value_ok(v)) goto bad;
            char **dst = k[0] == 'e' ? &f->etag : &f->crc64;
            free(*dst);
            *dst = strdup(k[0] == 'e' && !strcmp(v, "bogus") ? BOGUS_ETAG : v);
            continue;
        }
        if (!strcmp(k, "rate")) {
            f->rate = strtod(v, &end);
            if (*end || f->rate < 0 || f->rate > 1) goto bad;
            continue;
        }
        long long n = strtoll(v, &end, 10);
        if (*end || end == v || n < 0) goto bad;
        if (!strcmp(k, "nth") && n > 0) f->nth = (long)n;
        else if (!strcmp(k, "times")) { f->times = (long)n; times_set = 1; }
        else if (!strcmp(k, "seed")) f->seed = (uint64_t)n * 0x9E3779B97F4A7C15ULL + 1;
        else if (!strcmp(k, "status") && n >= 100 && n <= 599) f->status = (int)n;
        else if (!strcmp(k, "reset-after")) f->reset_after = n;
        else if (!strcmp(k, "stall")) f->stall_ms = (long)n;
        else if (!strcmp(k, "keepalive-spaces") && n <= 100000000) f->ka_spaces = (long)n;
        else if (!strcmp(k, "part") && n >= 1 && n <= 10000) f->part = (long)n;
        else goto bad;
        continue;
    bad:
        snprintf(err, errlen, "fault: bad value for '%s': '%s'", k, v);
        free(copy);
        return -1;
    }
    free(copy);
    if (!op_set) { snprintf(err, errlen, "fault: op= is required"); return -1; }
    if (!f->status && f->reset_after < 0 && !f->stall_ms && !f->complete_error && f->ka_spaces < 0 && !f->no_etag &&
        !f->no_crc64 && !f->endless_list && !f->body && !f->etag && !f->crc64 && !f->drop_response &&
        !f->content_sha1 && !f->no_content_sha1) {
        snprintf(err, errlen, "fault: one of status=, reset-after=, stall=, complete-error, keepalive-spaces=, "
                              "no-etag, no-crc64, endless-list, body=, etag=, crc64=, content-sha1=, no-content-sha1, "
                              "drop-response is required");
        return -1;
    }
    if (f->drop_response && (f->status || f->body || f->complete_error || f->reset_after >= 0)) {
        snprintf(err, errlen, "fault: drop-response does not go with status=, body=, complete-error or reset-after=");
        return -1;
    }
    if (f->crc64 && f->no_crc64) {
        snprintf(err, errlen, "fault: crc64= does not go with no-crc64");
        return -1;
    }
    if (f->endless_list && (f->status || f->body || f->complete_error || f->drop_response)) {
        snprintf(err, errlen, "fault: endless-list does not go with status=, body=, complete-error or drop-response");
        return -1;
    }
    if (f->content_sha1 && f->no_content_sha1) {
        snprintf(err, errlen, "fault: content-sha1= does not go with no-content-sha1");
        return -1;
    }
    if (f->etag && f->no_etag) {
        snprintf(err, errlen, "fault: etag= does not go with no-etag");
        return -1;
    }
    if (f->complete_error && (f->status || f->body)) {
        snprintf(err, errlen, "fault: complete-error does not go with status= or body=");
        return -1;
    }
    if (f->nth && !times_set) f->times = 1;
    if (!f->seed) f->seed = 1;
    return 0;
}

void fault_free(cosd_fault *f) { free(f->code); free(f->body); free(f->etag); free(f->crc64); free(f->content_sha1); }

static double next_rand(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    *s = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

/* Decides, once per request, whether a fault fires; fills the request's fault fields. */
void fault_apply(cosd_req *r) {
    cosd_server *srv = r->srv;
    if (!srv->nfaults) return;
    pthread_mutex_lock(&srv->fault_lock);
    int fired = 0;
    for (size_t i = 0; i < srv->nfaults; i++) {
        cosd_fault *f = &srv->faults[i];
        if (!f->any_api && f->api != r->api) continue;
        if (f->part) {
            const char *pn = req_query(r, "partNumber", NULL);
            char *end = NULL;
            if (!pn || strtol(pn, &end, 10) != f->part || end == pn || *end) continue;
        }
        f->seen++;
        if (fired) continue;
        int fire;
        if (f->nth) fire = f->seen >= f->nth;
        else if (f->rate >= 0) fire = next_rand(&f->seed) < f->rate;
        else fire = 1;
        if (f->times && f->fired >= f->times) fire = 0;
        if (!fire) continue;
        f->fired++;
        fired = 1;
        if (f->status) {
            r->fault_status = f->status;
            free(r->fault_code);
            r->fault_code = f->code ? strdup(f->code) : NULL;
        }
        if (f->reset_after >= 0) r->reset_after = f->reset_after;
        if (f->stall_ms) r->stall_ms = f->stall_ms;
        if (f->complete_error) {
            r->complete_error = 1;
            free(r->fault_code);
            r->fault_code = f->code ? strdup(f->code) : NULL;
        }
        if (f->ka_spaces >= 0) r->ka_spaces = f->ka_spaces;
        else if (f->complete_error) r->ka_spaces = 5;
        if (f->no_etag) r->no_etag = 1;
        if (f->no_crc64) r->no_crc64 = 1;
        if (f->endless_list) r->endless_list = 1;
        if (f->etag) { free(r->fault_etag); r->fault_etag = strdup(f->etag); }
        if (f->crc64) { free(r->fault_crc64); r->fault_crc64 = strdup(f->crc64); }
        if (f->content_sha1) { free(r->fault_content_sha1); r->fault_content_sha1 = strdup(f->content_sha1); }
        if (f->no_content_sha1) r->no_content_sha1 = 1;
        if (f->drop_response) r->drop_response = 1;
        if (f->body) {
            free(r->fault_body);
            r->fault_body = malloc(f->body_len ? f->body_len : 1);
            if (r->fault_body) {
                memcpy(r->fault_body, f->body, f->body_len);
                r->fault_body_len = f->body_len;
                r->fault_body_set = 1;
            }
        }
    }
    pthread_mutex_unlock(&srv->fault_lock);
}
