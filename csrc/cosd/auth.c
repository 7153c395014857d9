/* auth: verifies the q-sign signature of a request, recomputing it with cos_sign() from the headers
 * and params the client says it signed. The signature travels in the Authorization header, or in a
 * pre-signed URL's query: as the seven q-* parameters, or whole in one `sign` parameter (the
 * URL-encoded Authorization string, as the SDKs build it). All three forms get the same checks.
 * auth_verify() needs no connection (fuzz/ drives it); auth_check() is its MHD front. */
#include "cosd.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *auth_secret_for(cosd_server *srv, const char *id) {
    if (!id) return NULL;
    for (size_t i = 0; i < srv->ncreds; i++)
        if (strcmp(srv->creds[i].id, id) == 0) return srv->creds[i].key;
    return NULL;
}

typedef struct auth_fields {
    char *alg, *ak, *sign_time, *key_time, *header_list, *param_list, *signature;
} auth_fields;

static void fields_free(auth_fields *f) {
    free(f->alg); free(f->ak); free(f->sign_time); free(f->key_time);
    free(f->header_list); free(f->param_list); free(f->signature);
}

static char **field_slot(auth_fields *f, const char *name, size_t n) {
#define F(s, m) if (n == sizeof(s) - 1 && strncasecmp(name, s, n) == 0) return &f->m
    F("q-sign-algorithm", alg); F("q-ak", ak); F("q-sign-time", sign_time); F("q-key-time", key_time);
    F("q-header-list", header_list); F("q-url-param-list", param_list); F("q-signature", signature);
#undef F
    return NULL;
}

static void parse_header(auth_fields *f, const char *s) {
    while (*s) {
        const char *amp = strchr(s, '&');
        size_t len = amp ? (size_t)(amp - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        if (eq) {
            char **slot = field_slot(f, s, (size_t)(eq - s));
            if (slot && !*slot) *slot = strndup(eq + 1, len - (size_t)(eq - s) - 1);
        }
        if (!amp) break;
        s = amp + 1;
    }
}

static int parse_time(const char *s, long long *a, long long *b) {
    char *end;
    if (!s) return -1;
    *a = strtoll(s, &end, 10);
    if (end == s || *end != ';') return -1;
    const char *p = end + 1;
    *b = strtoll(p, &end, 10);
    if (end == p || *end) return -1;
    return 0;
}

static char *lower_enc(const char *s) {
    strbuf sb;
    sb_init(&sb);
    cos_url_encode(&sb, s, strlen(s), 0);
    if (!sb.data) sb_puts(&sb, "");
    for (size_t i = 0; i < sb.len; i++) sb.data[i] = (char)tolower((unsigned char)sb.data[i]);
    return sb_detach(&sb);
}

/* Splits a ';' list into trimmed, lower-cased, non-empty entries. */
static size_t split_list(const char *s, char ***out) {
    size_t n = 0;
    *out = NULL;
    if (!s) return 0;
    while (*s) {
        const char *semi = strchr(s, ';');
        size_t len = semi ? (size_t)(semi - s) : strlen(s);
        if (len > 0) {
            char **nl = realloc(*out, (n + 1) * sizeof *nl);
            if (!nl) break;
            *out = nl;
            char *e = strndup(s, len);
            for (char *c = e; *c; c++) *c = (char)tolower((unsigned char)*c);
            (*out)[n++] = e;
        }
        if (!semi) break;
        s = semi + 1;
    }
    return n;
}

static int try_path(const auth_request *in, const char *secret, auth_fields *f, cos_kv *params, size_t np,
                    cos_kv *hdrs, size_t nh, const char *path, cos_sign_output *out) {
    cos_sign_input si = {.secret_id = f->ak, .secret_key = secret, .method = in->method, .pathname = path,
                         .params = params, .nparams = np, .headers = hdrs, .nheaders = nh, .key_time = f->key_time};
    if (cos_sign(&si, out) != 0) return -1;
    return strcasecmp(out->signature, f->signature) == 0 ? 1 : 0;
}

static int deny(auth_verdict *v, unsigned status, const char *code, const char *message) {
    v->status = status;
    v->code = code;
    v->message = message;
    return -1;
}

/* The signature fields are present, known, well-formed and within their time window. */
static int check_fields(cosd_server *srv, const auth_request *in, auth_fields *f, const char **secret, auth_verdict *v) {
    long long ts, te, ks, ke;
    if (!f->alg || !f->ak || !f->signature || !f->key_time || !f->sign_time)
        return deny(v, 403, "AccessDenied", "The Authorization is malformed.");
    if (strcasecmp(f->alg, "sha1") != 0) return deny(v, 400, "InvalidArgument", "q-sign-algorithm must be sha1.");
    *secret = auth_secret_for(srv, f->ak);
    if (!*secret) return deny(v, 403, "InvalidAccessKeyId", "The Access Key Id you provided does not exist in our records");
    if (parse_time(f->sign_time, &ts, &te) != 0 || parse_time(f->key_time, &ks, &ke) != 0)
        return deny(v, 403, "AccessDenied", "q-sign-time or q-key-time is malformed.");
    if ((long long)in->now > te || (long long)in->now > ke) {
        char iso[40];
        struct tm tm;
        gmtime_r(&in->now, &tm);
        strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (asprintf(&v->extra_xml, "\t<ServerTime>%s</ServerTime>\n", iso) < 0) v->extra_xml = NULL;
        return deny(v, 403, "AccessDenied", "Request has expired");
    }
    if (ts > (long long)in->now + 900)
        return deny(v, 403, "RequestTimeTooSkewed", "The difference between the request time and the server's time is too large.");
    return 0;
}

/* <StringToSign> and <FormatString> of a SignatureDoesNotMatch answer. */
static char *mismatch_xml(const cos_sign_output *out) {
    strbuf x;
    sb_init(&x);
    sb_puts(&x, "\t<StringToSign>");
    xml_escape(&x, out->string_to_sign, strlen(out->string_to_sign));
    sb_puts(&x, "</StringToSign>\n\t<FormatString>");
    xml_escape(&x, out->http_string, strlen(out->http_string));
    sb_puts(&x, "</FormatString>\n");
    return sb_detach(&x);
}

/* Recomputes the signature over the signed header and param lists; 1 match, 0 mismatch, -1 OOM.
 * from_query: 0 Authorization header, 1 the q-* parameters, 2 one `sign` parameter. */
static int check_signature(const auth_request *in, const char *secret, auth_fields *f, int from_query,
                           cos_sign_output *out) {
    char **hl = NULL, **pl = NULL;
    size_t nhl = split_list(f->header_list, &hl), npl = split_list(f->param_list, &pl);
    cos_kv *hdrs = calloc(nhl + 1, sizeof *hdrs), *params = calloc(npl + 1, sizeof *params);
    int ok = -1;
    if (!hdrs || !params) goto done;
    for (size_t i = 0; i < nhl; i++) {
        hdrs[i].name = hl[i];
        hdrs[i].value = in->header ? in->header(in->header_ud, hl[i]) : NULL;
    }
    for (size_t i = 0; i < npl; i++) {
        params[i].name = pl[i];
        params[i].value = "";
        for (size_t j = 0; j < in->nq; j++) {
            /* the signature's own parameters are never part of what it signs */
            if (from_query == 1 && field_slot(f, in->q[j].name, strlen(in->q[j].name))) continue;
            if (from_query == 2 && !strcmp(in->q[j].name, "sign")) continue;
            char *le = lower_enc(in->q[j].name);
            int same = le && strcmp(le, pl[i]) == 0;
            free(le);
            if (same) { params[i].name = in->q[j].name; params[i].value = in->q[j].value; break; }
        }
    }
    ok = try_path(in, secret, f, params, npl, hdrs, nhl, in->sign_path, out);
    if (ok == 0 && in->key && strcmp(in->sign_path + (*in->sign_path == '/'), in->key) != 0) {
        /* bucket in the path but signed without it (Node SDK Domain '{Bucket}' template) */
        cos_sign_output alt = {0};
        strbuf p;
        sb_init(&p);
        sb_putc(&p, '/');
        sb_append(&p, in->key, in->keylen);
        int ok2 = p.data ? try_path(in, secret, f, params, npl, hdrs, nhl, p.data, &alt) : -1;
        sb_free(&p);
        cos_sign_output_free(&alt);
        if (ok2 == 1) ok = 1;
    }
done:
    for (size_t i = 0; i < nhl; i++) free(hl[i]);
    for (size_t i = 0; i < npl; i++) free(pl[i]);
    free(hl); free(pl); free(hdrs); free(params);
    return ok;
}

int auth_verify(cosd_server *srv, const auth_request *in, auth_verdict *v, int *anonymous) {
    auth_fields f = {0};
    int from_query = 0;
    memset(v, 0, sizeof *v);
    *anonymous = 0;
    const char *merged = NULL;
    for (size_t i = 0; i < in->nq && !merged; i++)
        if (!strcmp(in->q[i].name, "sign")) merged = in->q[i].value;
    if (in->authorization && *in->authorization) {
        parse_header(&f, in->authorization);
    } else if (merged && *merged) {
        parse_header(&f, merged);
        from_query = 2;
    } else {
        for (size_t i = 0; i < in->nq; i++) {
            char **slot = field_slot(&f, in->q[i].name, strlen(in->q[i].name));
            if (slot && !*slot) { *slot = strdup(in->q[i].value); from_query = 1; }
        }
        if (!from_query) { *anonymous = 1; return 0; }
    }
    const char *secret = NULL;
    cos_sign_output out = {0};
    int rc = check_fields(srv, in, &f, &secret, v);
    if (rc == 0) {
        int ok = check_signature(in, secret, &f, from_query, &out);
        if (ok < 0) rc = deny(v, 500, "InternalError", "out of memory");
        else if (ok == 0) {
            v->extra_xml = mismatch_xml(&out);
            rc = deny(v, 403, "SignatureDoesNotMatch", "The Signature you specified is invalid.");
        }
    }
    cos_sign_output_free(&out);
    fields_free(&f);
    return rc;
}

static const char *conn_header(void *ud, const char *name) { return req_header(ud, name); }

int auth_check(cosd_req *r, int *anonymous) {
    auth_request in = {.method = r->method, .sign_path = r->sign_path, .key = r->key, .keylen = r->keylen,
                       .q = r->q, .nq = r->nq, .authorization = req_header(r, "Authorization"),
                       .header = conn_header, .header_ud = r, .now = time(NULL)};
    auth_verdict v;
    if (auth_verify(r->srv, &in, &v, anonymous) == 0) return 0;
    req_error(r, v.status, v.code, v.message, v.extra_xml);
    free(v.extra_xml);
    return -1;
}
