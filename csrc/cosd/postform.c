/* postform: POST Object, the HTML form upload (cos-protocol.md section 6). The multipart/form-data
 * body goes through MHD's post processor: text fields are kept (at most 64 KiB), the `file` field is
 * streamed to a temp file with MD5/CRC64 like a PUT. At the end the policy (base64 JSON) signature,
 * expiration and conditions are checked, then the object is committed. */
#include "cosd.h"
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "crc64.h"

#define FORM_FIELDS_MAX (64 * 1024)

typedef struct postform {
    struct MHD_PostProcessor *pp;
    hdr_pair *f; size_t nf;
    size_t field_bytes;
    int have_file, bad, too_big_fields;
    char *filename;
} postform;

void form_free(cosd_req *r) {
    postform *p = r->form;
    if (!p) return;
    if (p->pp) MHD_destroy_post_processor(p->pp);
    for (size_t i = 0; i < p->nf; i++) { free(p->f[i].name); free(p->f[i].value); }
    free(p->f);
    free(p->filename);
    free(p);
    r->form = NULL;
}

static const char *field(postform *p, const char *name) {
    for (size_t i = 0; i < p->nf; i++)
        if (!strcasecmp(p->f[i].name, name)) return p->f[i].value;
    return NULL;
}

static enum MHD_Result iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                            const char *content_type, const char *transfer_encoding, const char *data, uint64_t off,
                            size_t size) {
    (void)kind; (void)content_type; (void)transfer_encoding;
    cosd_req *r = cls;
    postform *p = r->form;
    if (!key) return MHD_YES;
    if (!strcmp(key, "file")) {
        if (!p->have_file) {
            if (body_open_file(r) != 0) { p->bad = 1; return MHD_NO; }
            r->body_mode = BODY_FORM;
            p->have_file = 1;
            p->filename = strdup(filename ? filename : "");
            double rate; /* the x-cos-traffic-limit field (fields precede the file) paces the file */
            if (shape_traffic_limit(field(p, "x-cos-traffic-limit"), &rate) != 0) r->traffic_limit_bad = 1;
            else shape_begin(r, rate);
        }
        if (size == 0) return MHD_YES;
        if (r->body_len + size > COSD_MAX_PUT) { r->body_too_large = 1; return MHD_YES; }
        int saved = r->body_mode;
        r->body_mode = BODY_FILE;
        int rc = body_write(r, data, size);
        r->body_mode = saved;
        return rc == 0 ? MHD_YES : MHD_NO;
    }
    if (p->have_file) return MHD_YES; /* fields after the file are ignored, as COS does */
    p->field_bytes += size + strlen(key);
    if (p->field_bytes > FORM_FIELDS_MAX) { p->too_big_fields = 1; return MHD_YES; }
    hdr_pair *h = NULL;
    if (off > 0 && p->nf && !strcmp(p->f[p->nf - 1].name, key)) h = &p->f[p->nf - 1];
    if (!h) {
        hdr_pair *nf = realloc(p->f, (p->nf + 1) * sizeof *nf);
        if (!nf) return MHD_NO;
        p->f = nf;
        h = &p->f[p->nf++];
        h->name = strdup(key);
        h->value = strdup("");
    }
    size_t old = strlen(h->value);
    char *nv = realloc(h->value, old + size + 1);
    if (!nv) return MHD_NO;
    memcpy(nv + old, data, size);
    nv[old + size] = 0;
    h->value = nv;
    return MHD_YES;
}

int form_begin(cosd_req *r) {
    const char *ct = req_header(r, "Content-Type");
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0)
        return req_error(r, 400, "RequestIsNotMultiPartContent", "Bucket POST must be of the enclosure-type multipart/form-data.", NULL);
    postform *p = calloc(1, sizeof *p);
    if (!p) return MHD_NO;
    r->form = p;
    p->pp = MHD_create_post_processor(r->conn, 64 * 1024, iter, r);
    if (!p->pp) return req_error(r, 400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.", NULL);
    r->body_mode = BODY_FORM;
    r->body_max = UINT64_MAX;
    return MHD_YES;
}

int form_feed(cosd_req *r, const char *data, size_t n) {
    postform *p = r->form;
    if (!p || !p->pp || p->bad) return 0;
    if (MHD_post_process(p->pp, data, n) != MHD_YES) p->bad = 1;
    return 0;
}

/* ---- a small JSON reader for the policy document ---- */
typedef struct jv {
    int t; /* 's' string, 'n' number, 'a' array, 'o' object, 'l' literal */
    char *s;
    double num;
    struct jv *v; char **k; size_t n;
} jv;

static void jv_free(jv *j) {
    free(j->s);
    for (size_t i = 0; i < j->n; i++) { jv_free(&j->v[i]); if (j->k) free(j->k[i]); }
    free(j->v); free(j->k);
}

static void ws(const char **p) { while (**p && isspace((unsigned char)**p)) (*p)++; }

static int jstr(const char **p, char **out) {
    if (**p != '"') return -1;
    (*p)++;
    strbuf sb;
    sb_init(&sb);
    while (**p && **p != '"') {
        char c = *(*p)++;
        if (c == '\\') {
            char e = *(*p)++;
            if (!e) break;
            switch (e) {
            case 'n': c = '\n'; break; case 't': c = '\t'; break; case 'r': c = '\r'; break;
            case 'b': c = '\b'; break; case 'f': c = '\f'; break;
            case 'u': {
                unsigned cp = 0;
                for (int i = 0; i < 4; i++) {
                    char h = *(*p)++;
                    if (!isxdigit((unsigned char)h)) { sb_free(&sb); return -1; }
                    cp = cp * 16 + (unsigned)(isdigit((unsigned char)h) ? h - '0' : (tolower((unsigned char)h) - 'a' + 10));
                }
                if (cp < 0x80) sb_putc(&sb, (char)cp);
                else if (cp < 0x800) { sb_putc(&sb, (char)(0xC0 | (cp >> 6))); sb_putc(&sb, (char)(0x80 | (cp & 0x3F))); }
                else { sb_putc(&sb, (char)(0xE0 | (cp >> 12))); sb_putc(&sb, (char)(0x80 | ((cp >> 6) & 0x3F))); sb_putc(&sb, (char)(0x80 | (cp & 0x3F))); }
                continue;
            }
            default: c = e;
            }
        }
        sb_putc(&sb, c);
    }
    if (**p != '"') { sb_free(&sb); return -1; }
    (*p)++;
    if (!sb.data) sb_puts(&sb, "");
    *out = sb_detach(&sb);
    return 0;
}

static int jparse(const char **p, jv *out, int depth) {
    memset(out, 0, sizeof *out);
    if (depth > 16) return -1;
    ws(p);
    if (**p == '"') { out->t = 's'; return jstr(p, &out->s); }
    if (**p == '{' || **p == '[') {
        int obj = **p == '{';
        char close = obj ? '}' : ']';
        out->t = obj ? 'o' : 'a';
        (*p)++;
        ws(p);
        if (**p == close) { (*p)++; return 0; }
        for (;;) {
            jv *nv = realloc(out->v, (out->n + 1) * sizeof *nv);
            if (!nv) return -1;
            out->v = nv;
            if (obj) {
                char **nk = realloc(out->k, (out->n + 1) * sizeof *nk);
                if (!nk) return -1;
                out->k = nk;
                out->k[out->n] = NULL;
                ws(p);
                if (jstr(p, &out->k[out->n]) != 0) { memset(&out->v[out->n], 0, sizeof(jv)); out->n++; return -1; }
                ws(p);
                if (**p != ':') { memset(&out->v[out->n], 0, sizeof(jv)); out->n++; return -1; }
                (*p)++;
            }
            int rc = jparse(p, &out->v[out->n], depth + 1);
            out->n++;
            if (rc != 0) return -1;
            ws(p);
            if (**p == ',') { (*p)++; continue; }
            if (**p == close) { (*p)++; return 0; }
            return -1;
        }
    }
    char *end;
    double d = strtod(*p, &end);
    if (end != *p) { out->t = 'n'; out->num = d; *p = end; return 0; }
    if (!strncmp(*p, "true", 4) || !strncmp(*p, "null", 4)) { out->t = 'l'; *p += 4; return 0; }
    if (!strncmp(*p, "false", 5)) { out->t = 'l'; *p += 5; return 0; }
    return -1;
}

static int parse_iso(const char *s, time_t *out) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!e) return -1;
    *out = timegm(&tm);
    return 0;
}

static const char *cond_value(cosd_req *r, postform *p, const char *name, const char *key) {
    if (*name == '$') name++;
    if (!strcasecmp(name, "bucket")) return r->bucket;
    if (!strcasecmp(name, "key")) return key;
    if (!strcasecmp(name, "q-sign-time")) return field(p, "q-key-time");
    if (!strcasecmp(name, "x-cos-acl")) { const char *a = field(p, "acl"); return a ? a : field(p, name); }
    return field(p, name);
}

/* 0 ok, else writes a message. */
static int check_policy(cosd_req *r, postform *p, jv *doc, const char *key, uint64_t size, char *msg, size_t ml) {
    if (doc->t != 'o') { snprintf(msg, ml, "Invalid Policy: not an object"); return -1; }
    jv *conds = NULL;
    const char *exp = NULL;
    for (size_t i = 0; i < doc->n; i++) {
        if (!strcmp(doc->k[i], "expiration") && doc->v[i].t == 's') exp = doc->v[i].s;
        if (!strcmp(doc->k[i], "conditions") && doc->v[i].t == 'a') conds = &doc->v[i];
    }
    time_t t;
    if (!exp || parse_iso(exp, &t) != 0) { snprintf(msg, ml, "Invalid Policy: Invalid 'expiration' value."); return -1; }
    if (time(NULL) > t) { snprintf(msg, ml, "Invalid according to Policy: Policy expired."); return -1; }
    for (size_t i = 0; conds && i < conds->n; i++) {
        jv *c = &conds->v[i];
        if (c->t == 'o') {
            for (size_t j = 0; j < c->n; j++) {
                const char *have = cond_value(r, p, c->k[j], key);
                const char *want = c->v[j].t == 's' ? c->v[j].s : "";
                if (!have || strcmp(have, want)) {
                    snprintf(msg, ml, "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$%.100s\", \"%.100s\"]", c->k[j], want);
                    return -1;
                }
            }
        } else if (c->t == 'a' && c->n == 3 && c->v[0].t == 's') {
            const char *op = c->v[0].s;
            if (!strcasecmp(op, "content-length-range")) {
                if (c->v[1].t != 'n' || c->v[2].t != 'n') { snprintf(msg, ml, "Invalid Policy: content-length-range"); return -1; }
                if ((double)size < c->v[1].num || (double)size > c->v[2].num) {
                    snprintf(msg, ml, "Your proposed upload size is outside the content-length-range of the policy.");
                    return -2;
                }
                continue;
            }
            if (c->v[1].t != 's' || c->v[2].t != 's') { snprintf(msg, ml, "Invalid Policy: condition"); return -1; }
            const char *have = cond_value(r, p, c->v[1].s, key);
            const char *want = c->v[2].s;
            int ok;
            if (!strcasecmp(op, "eq")) ok = have && !strcmp(have, want);
            else if (!strcasecmp(op, "starts-with")) ok = have && !strncmp(have, want, strlen(want));
            else { snprintf(msg, ml, "Invalid Policy: unknown condition %.50s", op); return -1; }
            if (!ok) {
                snprintf(msg, ml, "Invalid according to Policy: Policy Condition failed: [\"%.20s\", \"%.100s\", \"%.100s\"]", op, c->v[1].s, want);
                return -1;
            }
        } else { snprintf(msg, ml, "Invalid Policy: bad condition"); return -1; }
    }
    return 0;
}

int form_finish(cosd_req *r) {
    postform *p = r->form;
    if (p && p->pp) { MHD_destroy_post_processor(p->pp); p->pp = NULL; }
    if (!p || p->bad) return req_error(r, 400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.", NULL);
    if (p->too_big_fields) return req_error(r, 400, "MaxPostPreDataLengthExceededError", "Your POST request fields preceding the upload file were too large.", NULL);
    if (!p->have_file) return req_error(r, 400, "IncorrectNumberOfFilesInPostRequest", "POST requires exactly one file upload per request.", NULL);
    const char *keyf = field(p, "key"), *policy = field(p, "policy"), *ak = field(p, "q-ak");
    const char *kt = field(p, "q-key-time"), *sig = field(p, "q-signature"), *alg = field(p, "q-sign-algorithm");
    if (!keyf || !*keyf) return req_error(r, 400, "UserKeyMustBeSpecified", "The bucket POST must contain the specified field name key.", NULL);
    if (!policy || !ak || !kt || !sig) return req_error(r, 403, "AccessDenied", "Bucket POST must contain policy, q-ak, q-key-time and q-signature.", NULL);
    if (alg && strcasecmp(alg, "sha1")) return req_error(r, 400, "InvalidArgument", "q-sign-algorithm must be sha1.", NULL);
    /* key with ${filename} */
    strbuf key;
    sb_init(&key);
    const char *fn = p->filename ? p->filename : "";
    for (const char *s = keyf; *s;) {
        if (!strncmp(s, "${filename}", 11)) { sb_puts(&key, fn); s += 11; }
        else sb_putc(&key, *s++);
    }
    free(r->key);
    r->keylen = key.len;
    r->key = sb_detach(&key);
    if (!r->key) { r->key = strdup(""); r->keylen = 0; }
    if (r->keylen > COSD_MAX_KEY) return req_error(r, 400, "KeyTooLong", "Your key is too long.", NULL);
    if (req_key_is_root(r->key, r->keylen)) return req_error(r, 400, "InvalidObjectName", "The object name is not valid.", NULL);
    if (r->traffic_limit_bad) return req_error(r, 400, "InvalidArgument", "x-cos-traffic-limit must be between 819200 and 838860800.", NULL);
    const char *secret = auth_secret_for(r->srv, ak);
    if (!secret) return req_error(r, 403, "InvalidAccessKeyId", "The Access Key Id you provided does not exist in our records", NULL);
    long long ks = 0, ke = 0;
    if (sscanf(kt, "%lld;%lld", &ks, &ke) != 2) return req_error(r, 403, "AccessDenied", "q-key-time is malformed.", NULL);
    if ((long long)time(NULL) > ke) return req_error(r, 403, "AccessDenied", "Request has expired", NULL);
    size_t plen = strlen(policy);
    unsigned char *json = malloc(plen + 4);
    int jl = json ? EVP_DecodeBlock(json, (const unsigned char *)policy, (int)plen) : -1;
    if (jl < 0 || plen % 4) { free(json); return req_error(r, 400, "InvalidPolicyDocument", "Invalid Policy: Invalid Base64 Encoding.", NULL); }
    if (plen >= 1 && policy[plen - 1] == '=') jl--;
    if (plen >= 2 && policy[plen - 2] == '=') jl--;
    json[jl] = 0;
    char want[41];
    cos_post_signature(secret, kt, json, (size_t)jl, want);
    if (strcasecmp(want, sig) != 0) { free(json); return req_error(r, 403, "SignatureDoesNotMatch", "The Signature you specified is invalid.", NULL); }
    jv doc;
    const char *jp = (const char *)json;
    int prc = jparse(&jp, &doc, 0);
    if (prc != 0) { jv_free(&doc); free(json); return req_error(r, 400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.", NULL); }
    char msg[400];
    int crc = check_policy(r, p, &doc, r->key, r->body_len, msg, sizeof msg);
    jv_free(&doc);
    free(json);
    if (crc == -2) return req_error(r, 400, r->body_len ? "EntityTooLarge" : "EntityTooSmall", msg, NULL);
    if (crc != 0) return req_error(r, 403, "AccessDenied", msg, NULL);
    /* commit like a PUT */
    unsigned char md5[16];
    char hex[33];
    body_finish_md5(r, md5);
    hex_encode(md5, 16, hex);
    obj_meta m = {0};
    m.key = malloc(r->keylen + 1);
    memcpy(m.key, r->key, r->keylen + 1);
    m.keylen = r->keylen;
    m.size = r->body_len;
    m.crc = r->crc;
    m.mtime = time(NULL);
    snprintf(m.etag, sizeof m.etag, "\"%s\"", hex);
    static const char *keep[] = {"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Type", "Expires",
                                 "x-cos-storage-class", "x-cos-grant-read", "x-cos-grant-read-acp", "x-cos-grant-write-acp",
                                 "x-cos-grant-full-control", NULL};
    for (size_t i = 0; i < p->nf; i++) {
        int ok = !strncasecmp(p->f[i].name, "x-cos-meta-", 11);
        for (int k = 0; !ok && keep[k]; k++) ok = !strcasecmp(p->f[i].name, keep[k]);
        if (ok && *p->f[i].value && !strchr(p->f[i].value, '\n')) meta_add_header(&m, p->f[i].name, p->f[i].value);
    }
    const char *acl = field(p, "acl");
    if (acl && *acl && !strchr(acl, '\n')) meta_add_header(&m, "x-cos-acl", acl);
    meta_default_content_type(&m, r->srv, r->key);
    close(r->fd);
    r->fd = -1;
    int rc = store_commit(r->srv, r->bucket, r->tmp_path, &m);
    if (rc == 0) { free(r->tmp_path); r->tmp_path = NULL; }
    char crcs[32];
    snprintf(crcs, sizeof crcs, "%" PRIu64, m.crc);
    req_add_header(r, "ETag", m.etag);
    req_add_header(r, "x-cos-hash-crc64ecma", crcs);
    meta_free(&m);
    if (rc != 0) return req_error(r, 500, "InternalError", "cosd could not store the object.", NULL);
    strbuf loc;
    sb_init(&loc);
    const char *redir = field(p, "success_action_redirect");
    if (redir && *redir) {
        sb_printf(&loc, "%s%sbucket=%s&key=", redir, strchr(redir, '?') ? "&" : "?", r->bucket);
        cos_url_encode(&loc, r->key, r->keylen, 0);
        sb_printf(&loc, "&etag=%%22%s%%22", hex);
        req_add_header(r, "Location", loc.data);
        sb_free(&loc);
        return req_send_empty(r, 303);
    }
    sb_printf(&loc, "http://%s.cos.%s.myqcloud.com/", r->bucket, req_region(r));
    cos_url_encode(&loc, r->key, r->keylen, 1);
    req_add_header(r, "Location", loc.data);
    sb_free(&loc);
    const char *sas = field(p, "success_action_status");
    unsigned st = 204;
    if (sas && (!strcmp(sas, "200") || !strcmp(sas, "201"))) st = (unsigned)atoi(sas);
    return req_send_empty(r, st);
}
