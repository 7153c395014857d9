/* auth: verifies the q-sign signature of a request, recomputing it with cos_sign() from the headers
 * and params the client says it signed. The signature travels in the Authorization header, or in a
 * pre-signed URL's query: as the seven q-* parameters, or whole in one `sign` parameter (the
 * URL-encoded Authorization string, as the SDKs build it). All three forms get the same checks. */
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

static int try_path(cosd_req *r, const char *secret, auth_fields *f, cos_kv *params, size_t np, cos_kv *hdrs,
                    size_t nh, const char *path, cos_sign_output *out) {
    cos_sign_input in = {.secret_id = f->ak, .secret_key = secret, .method = r->method, .pathname = path,
                         .params = params, .nparams = np, .headers = hdrs, .nheaders = nh, .key_time = f->key_time};
    if (cos_sign(&in, out) != 0) return -1;
    return strcasecmp(out->signature, f->signature) == 0 ? 1 : 0;
}

int auth_check(cosd_req *r, int *anonymous) {
    auth_fields f = {0};
    int from_query = 0;
    const char *hdr = req_header(r, "Authorization");
    *anonymous = 0;
    const char *merged = req_query(r, "sign", NULL);
    if (hdr && *hdr) {
        parse_header(&f, hdr);
    } else if (merged && *merged) {
        parse_header(&f, merged);
        from_query = 2;
    } else {
        for (size_t i = 0; i < r->nq; i++) {
            char **slot = field_slot(&f, r->q[i].name, strlen(r->q[i].name));
            if (slot && !*slot) { *slot = strdup(r->q[i].value); from_query = 1; }
        }
        if (!from_query) { *anonymous = 1; return 0; }
    }
    int rc = -1;
    char **hl = NULL, **pl = NULL;
    size_t nhl = 0, npl = 0;
    cos_kv *hdrs = NULL, *params = NULL;
    char **pnames = NULL;
    cos_sign_output out = {0};
    long long ts, te, ks, ke;
    if (!f.alg || !f.ak || !f.signature || !f.key_time || !f.sign_time) {
        req_error(r, 403, "AccessDenied", "The Authorization is malformed.", NULL);
        goto done;
    }
    if (strcasecmp(f.alg, "sha1") != 0) {
        req_error(r, 400, "InvalidArgument", "q-sign-algorithm must be sha1.", NULL);
        goto done;
    }
    const char *secret = auth_secret_for(r->srv, f.ak);
    if (!secret) {
        req_error(r, 403, "InvalidAccessKeyId", "The Access Key Id you provided does not exist in our records", NULL);
        goto done;
    }
    if (parse_time(f.sign_time, &ts, &te) != 0 || parse_time(f.key_time, &ks, &ke) != 0) {
        req_error(r, 403, "AccessDenied", "q-sign-time or q-key-time is malformed.", NULL);
        goto done;
    }
    time_t now = time(NULL);
    if ((long long)now > te || (long long)now > ke) {
        char iso[40], extra[96];
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(extra, sizeof extra, "\t<ServerTime>%s</ServerTime>\n", iso);
        req_error(r, 403, "AccessDenied", "Request has expired", extra);
        goto done;
    }
    if (ts > (long long)now + 900) {
        req_error(r, 403, "RequestTimeTooSkewed", "The difference between the request time and the server's time is too large.", NULL);
        goto done;
    }
    nhl = split_list(f.header_list, &hl);
    npl = split_list(f.param_list, &pl);
    hdrs = calloc(nhl + 1, sizeof *hdrs);
    params = calloc(npl + 1, sizeof *params);
    pnames = calloc(npl + 1, sizeof *pnames);
    if (!hdrs || !params || !pnames) { req_error(r, 500, "InternalError", "out of memory", NULL); goto done; }
    for (size_t i = 0; i < nhl; i++) {
        hdrs[i].name = hl[i];
        hdrs[i].value = req_header(r, hl[i]);
    }
    for (size_t i = 0; i < npl; i++) {
        params[i].name = pl[i];
        params[i].value = "";
        for (size_t j = 0; j < r->nq; j++) {
            /* the signature's own parameters are never part of what it signs */
            if (from_query == 1 && field_slot(&f, r->q[j].name, strlen(r->q[j].name))) continue;
            if (from_query == 2 && !strcmp(r->q[j].name, "sign")) continue;
            char *le = lower_enc(r->q[j].name);
            int same = strcmp(le, pl[i]) == 0;
            free(le);
            if (same) { params[i].name = r->q[j].name; params[i].value = r->q[j].value; break; }
        }
    }
    int ok = try_path(r, secret, &f, params, npl, hdrs, nhl, r->sign_path, &out);
    if (ok == 0 && r->key && strcmp(r->sign_path + 1, r->key) != 0) {
        /* bucket in the path but signed without it (Node SDK Domain '{Bucket}' template) */
        cos_sign_output alt = {0};
        strbuf p;
        sb_init(&p);
        sb_putc(&p, '/');
        sb_append(&p, r->key, r->keylen);
        int ok2 = try_path(r, secret, &f, params, npl, hdrs, nhl, p.data, &alt);
        sb_free(&p);
        cos_sign_output_free(&alt);
        if (ok2 == 1) ok = 1;
    }
    if (ok < 0) { req_error(r, 500, "InternalError", "out of memory", NULL); goto done; }
    if (ok == 0) {
        strbuf x;
        sb_init(&x);
        sb_puts(&x, "\t<StringToSign>");
        xml_escape(&x, out.string_to_sign, strlen(out.string_to_sign));
        sb_puts(&x, "</StringToSign>\n\t<FormatString>");
        xml_escape(&x, out.http_string, strlen(out.http_string));
        sb_puts(&x, "</FormatString>\n");
        req_error(r, 403, "SignatureDoesNotMatch", "The Signature you specified is invalid.", x.data);
        sb_free(&x);
        goto done;
    }
    rc = 0;
done:
    cos_sign_output_free(&out);
    for (size_t i = 0; i < nhl; i++) free(hl[i]);
    for (size_t i = 0; i < npl; i++) free(pl[i]);
    free(hl); free(pl); free(hdrs); free(params); free(pnames);
    fields_free(&f);
    return rc;
}
