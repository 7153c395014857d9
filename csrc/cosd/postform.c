/* postform: POST Object, the HTML form upload (docs/cos-wire.md#post-object). The multipart/form-data
 * body goes through MHD's post processor: text fields are kept (at most 64 KiB), the `file` field is
 * streamed to a temp file with MD5/CRC64 like a PUT. At the end form_check() checks the fields, the
 * policy (base64 JSON, read with jansson) signature, expiration and conditions, then the object is
 * committed. form_check() needs no connection, so fuzz/ drives it directly. */
#include "cosd.h"
#include <inttypes.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define FORM_FIELDS_MAX (64 * 1024)

struct postform {
    struct MHD_PostProcessor *pp;
    hdr_pair *f; size_t nf;
    size_t field_bytes;
    int have_file, bad, too_big_fields;
    char *filename;
};
typedef struct postform postform;

postform *form_new(void) { return calloc(1, sizeof(postform)); }

void form_destroy(postform *p) {
    if (!p) return;
    if (p->pp) MHD_destroy_post_processor(p->pp);
    for (size_t i = 0; i < p->nf; i++) { free(p->f[i].name); free(p->f[i].value); }
    free(p->f);
    free(p->filename);
    free(p);
}

void form_free(cosd_req *r) {
    form_destroy(r->form);
    r->form = NULL;
}

static const char *field(postform *p, const char *name) {
    for (size_t i = 0; i < p->nf; i++)
        if (!strcasecmp(p->f[i].name, name)) return p->f[i].value;
    return NULL;
}

int form_set_file(postform *p, const char *filename) {
    p->have_file = 1;
    free(p->filename);
    p->filename = strdup(filename ? filename : "");
    return p->filename ? 0 : -1;
}

/* MHD hands a long value over in pieces: `off` > 0 continues the last field of the same name.
 * Fields after the file are ignored, as COS does; past 64 KiB of fields the form is refused. */
int form_add_field(postform *p, const char *key, const char *data, uint64_t off, size_t size) {
    if (p->have_file) return 0;
    p->field_bytes += size + strlen(key);
    if (p->field_bytes > FORM_FIELDS_MAX) { p->too_big_fields = 1; return 0; }
    hdr_pair *h = NULL;
    if (off > 0 && p->nf && !strcmp(p->f[p->nf - 1].name, key)) h = &p->f[p->nf - 1];
    if (!h) {
        hdr_pair *nf = realloc(p->f, (p->nf + 1) * sizeof *nf);
        if (!nf) return -1;
        p->f = nf;
        h = &p->f[p->nf];
        h->name = strdup(key);
        h->value = strdup("");
        if (!h->name || !h->value) { free(h->name); free(h->value); return -1; }
        p->nf++;
    }
    size_t old = strlen(h->value);
    char *nv = realloc(h->value, old + size + 1);
    if (!nv) return -1;
    memcpy(nv + old, data, size);
    nv[old + size] = 0;
    h->value = nv;
    return 0;
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
            if (body_open_file(r) != 0 || form_set_file(p, filename) != 0) { p->bad = 1; return MHD_NO; }
            r->body_mode = BODY_FORM;
            double rate; /* the x-cos-traffic-limit field (fields precede the file) paces the file;
                          * form_check() refuses a value out of range */
            if (shape_traffic_limit(field(p, "x-cos-traffic-limit"), &rate) == 0) shape_begin(r, rate);
        }
        if (size == 0) return MHD_YES;
        if (r->body_len + size > COSD_MAX_PUT) { r->body_too_large = 1; return MHD_YES; }
        int saved = r->body_mode;
        r->body_mode = BODY_FILE;
        int rc = body_write(r, data, size);
        r->body_mode = saved;
        return rc == 0 ? MHD_YES : MHD_NO;
    }
    return form_add_field(p, key, data, off, size) == 0 ? MHD_YES : MHD_NO;
}

int form_begin(cosd_req *r) {
    const char *ct = req_header(r, "Content-Type");
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0)
        return req_error(r, 400, "RequestIsNotMultiPartContent", "Bucket POST must be of the enclosure-type multipart/form-data.", NULL);
    postform *p = form_new();
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

/* ---- the checks of a finished form ---- */

static int parse_iso(const char *s, time_t *out) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!e) return -1;
    *out = timegm(&tm);
    return 0;
}

static const char *cond_value(const char *bucket, postform *p, const char *name, const char *key) {
    if (*name == '$') name++;
    if (!strcasecmp(name, "bucket")) return bucket;
    if (!strcasecmp(name, "key")) return key;
    if (!strcasecmp(name, "q-sign-time")) return field(p, "q-key-time");
    if (!strcasecmp(name, "x-cos-acl")) { const char *a = field(p, "acl"); return a ? a : field(p, name); }
    return field(p, name);
}

static int refuse(form_verdict *v, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int refuse(form_verdict *v, unsigned status, const char *code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->message, sizeof v->message, fmt, ap);
    va_end(ap);
    v->status = status;
    v->code = code;
    return -1;
}

static int invalid_policy(form_verdict *v, const char *what) {
    return refuse(v, 400, "InvalidPolicyDocument", "Invalid Policy: %s", what);
}

/* One condition: {"name": "value"} (exact), ["eq"|"starts-with", "$name", "value"] or
 * ["content-length-range", min, max]. */
static int check_condition(const char *bucket, postform *p, json_t *c, const char *key, uint64_t size,
                           form_verdict *v) {
    if (json_is_object(c)) {
        const char *name;
        json_t *val;
        json_object_foreach(c, name, val) {
            const char *have = cond_value(bucket, p, name, key);
            const char *want = json_is_string(val) ? json_string_value(val) : "";
            if (!have || strcmp(have, want))
                return refuse(v, 403, "AccessDenied",
                              "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$%.100s\", \"%.100s\"]", name, want);
        }
        return 0;
    }
    if (!json_is_array(c) || json_array_size(c) != 3 || !json_is_string(json_array_get(c, 0)))
        return invalid_policy(v, "bad condition");
    const char *op = json_string_value(json_array_get(c, 0));
    json_t *a = json_array_get(c, 1), *b = json_array_get(c, 2);
    if (!strcasecmp(op, "content-length-range")) {
        if (!json_is_number(a) || !json_is_number(b)) return invalid_policy(v, "content-length-range");
        if ((double)size < json_number_value(a) || (double)size > json_number_value(b))
            return refuse(v, 400, size ? "EntityTooLarge" : "EntityTooSmall",
                          "Your proposed upload size is outside the content-length-range of the policy.");
        return 0;
    }
    if (!json_is_string(a) || !json_is_string(b)) return invalid_policy(v, "condition");
    const char *have = cond_value(bucket, p, json_string_value(a), key), *want = json_string_value(b);
    int ok;
    if (!strcasecmp(op, "eq")) ok = have && !strcmp(have, want);
    else if (!strcasecmp(op, "starts-with")) ok = have && !strncmp(have, want, strlen(want));
    else return refuse(v, 400, "InvalidPolicyDocument", "Invalid Policy: unknown condition %.50s", op);
    if (!ok)
        return refuse(v, 403, "AccessDenied", "Invalid according to Policy: Policy Condition failed: [\"%.20s\", \"%.100s\", \"%.100s\"]",
                      op, json_string_value(a), want);
    return 0;
}

/* The policy document: an object with an ISO 8601 "expiration" and a "conditions" array. */
static int check_policy(const char *bucket, postform *p, const char *json, size_t len, const char *key,
                        uint64_t size, time_t now, form_verdict *v) {
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, 0, &jerr);
    if (!doc) return invalid_policy(v, "Invalid JSON.");
    int rc = 0;
    json_t *exp = json_object_get(doc, "expiration"), *conds = json_object_get(doc, "conditions");
    time_t t;
    if (!json_is_object(doc)) rc = invalid_policy(v, "not an object");
    else if (!json_is_string(exp) || parse_iso(json_string_value(exp), &t) != 0)
        rc = invalid_policy(v, "Invalid 'expiration' value.");
    else if (now > t) rc = refuse(v, 403, "AccessDenied", "Invalid according to Policy: Policy expired.");
    else if (conds && !json_is_array(conds)) rc = invalid_policy(v, "'conditions' must be an array.");
    for (size_t i = 0; rc == 0 && i < json_array_size(conds); i++)
        rc = check_condition(bucket, p, json_array_get(conds, i), key, size, v);
    json_decref(doc);
    return rc;
}

/* The key field with ${filename} replaced; NULL on out of memory. */
static char *form_key(const char *keyf, const char *filename, size_t *len) {
    strbuf key;
    sb_init(&key);
    for (const char *s = keyf; *s;) {
        if (!strncmp(s, "${filename}", 11)) { sb_puts(&key, filename); s += 11; }
        else sb_putc(&key, *s++);
    }
    if (!key.data) sb_puts(&key, "");
    *len = key.len;
    return sb_detach(&key);
}

/* policy: base64 of the JSON text; its signature is checked before the JSON is read. */
static int check_signed_policy(cosd_server *srv, const char *bucket, postform *p, const char *key, uint64_t size,
                               time_t now, form_verdict *v) {
    const char *policy = field(p, "policy"), *ak = field(p, "q-ak"), *kt = field(p, "q-key-time");
    const char *sig = field(p, "q-signature");
    const char *secret = auth_secret_for(srv, ak);
    if (!secret) return refuse(v, 403, "InvalidAccessKeyId", "The Access Key Id you provided does not exist in our records");
    long long ks = 0, ke = 0;
    if (sscanf(kt, "%lld;%lld", &ks, &ke) != 2) return refuse(v, 403, "AccessDenied", "q-key-time is malformed.");
    if ((long long)now > ke) return refuse(v, 403, "AccessDenied", "Request has expired");
    size_t plen = strlen(policy);
    if (plen % 4 || plen > INT32_MAX) return invalid_policy(v, "Invalid Base64 Encoding.");
    unsigned char *json = malloc(plen / 4 * 3 + 1);
    int jl = json ? EVP_DecodeBlock(json, (const unsigned char *)policy, (int)plen) : -1;
    if (jl < 0) { free(json); return invalid_policy(v, "Invalid Base64 Encoding."); }
    if (plen >= 1 && policy[plen - 1] == '=') jl--;
    if (plen >= 2 && policy[plen - 2] == '=') jl--;
    json[jl] = 0;
    char want[41];
    cos_post_signature(secret, kt, json, (size_t)jl, want);
    int rc = strcasecmp(want, sig) != 0
                 ? refuse(v, 403, "SignatureDoesNotMatch", "The Signature you specified is invalid.")
                 : check_policy(bucket, p, (const char *)json, (size_t)jl, key, size, now, v);
    free(json);
    return rc;
}

/* Metadata fields are stored as headers: each must be one cosd can store and give back exactly. */
static int check_meta_fields(postform *p, form_verdict *v) {
    for (size_t i = 0; i < p->nf; i++)
        if (!strncasecmp(p->f[i].name, "x-cos-meta-", 11) && !meta_storable(p->f[i].name, p->f[i].value))
            return refuse(v, 400, "InvalidArgument", "%s", COSD_BAD_META_MESSAGE);
    return 0;
}

int form_check(cosd_server *srv, const char *bucket, postform *p, uint64_t size, time_t now, form_verdict *v) {
    memset(v, 0, sizeof *v);
    if (!p || p->bad) return refuse(v, 400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.");
    if (p->too_big_fields) return refuse(v, 400, "MaxPostPreDataLengthExceededError", "Your POST request fields preceding the upload file were too large.");
    if (!p->have_file) return refuse(v, 400, "IncorrectNumberOfFilesInPostRequest", "POST requires exactly one file upload per request.");
    const char *keyf = field(p, "key"), *alg = field(p, "q-sign-algorithm");
    if (!keyf || !*keyf) return refuse(v, 400, "UserKeyMustBeSpecified", "The bucket POST must contain the specified field name key.");
    if (!field(p, "policy") || !field(p, "q-ak") || !field(p, "q-key-time") || !field(p, "q-signature"))
        return refuse(v, 403, "AccessDenied", "Bucket POST must contain policy, q-ak, q-key-time and q-signature.");
    if (alg && strcasecmp(alg, "sha1")) return refuse(v, 400, "InvalidArgument", "q-sign-algorithm must be sha1.");
    if (check_meta_fields(p, v) != 0) return -1;
    v->key = form_key(keyf, p->filename ? p->filename : "", &v->keylen);
    if (!v->key) return refuse(v, 500, "InternalError", "out of memory");
    if (v->keylen > COSD_MAX_KEY) return refuse(v, 400, "KeyTooLong", "Your key is too long.");
    if (req_key_is_root(v->key, v->keylen)) return refuse(v, 400, "InvalidObjectName", "The object name is not valid.");
    double rate;
    if (shape_traffic_limit(field(p, "x-cos-traffic-limit"), &rate) != 0)
        return refuse(v, 400, "InvalidArgument", "x-cos-traffic-limit must be between 819200 and 838860800.");
    return check_signed_policy(srv, bucket, p, v->key, size, now, v);
}

void form_verdict_free(form_verdict *v) {
    free(v->key);
    v->key = NULL;
}

/* The form fields stored with the object, as a PUT stores its headers. */
static void form_meta(postform *p, obj_meta *m) {
    static const char *keep[] = {"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Type", "Expires",
                                 "x-cos-storage-class", "x-cos-grant-read", "x-cos-grant-read-acp", "x-cos-grant-write-acp",
                                 "x-cos-grant-full-control", NULL};
    for (size_t i = 0; i < p->nf; i++) {
        int ok = !strncasecmp(p->f[i].name, "x-cos-meta-", 11);
        for (int k = 0; !ok && keep[k]; k++) ok = !strcasecmp(p->f[i].name, keep[k]);
        if (ok && *p->f[i].value && meta_storable(p->f[i].name, p->f[i].value)) meta_add_header(m, p->f[i].name, p->f[i].value);
    }
    const char *acl = field(p, "acl");
    if (acl && *acl && meta_storable("x-cos-acl", acl)) meta_add_header(m, "x-cos-acl", acl);
}

/* 303 to success_action_redirect, else 204 (or success_action_status 200/201) with Location. */
static int form_answer(cosd_req *r, postform *p, const char *hex) {
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

int form_finish(cosd_req *r) {
    postform *p = r->form;
    if (p && p->pp) { MHD_destroy_post_processor(p->pp); p->pp = NULL; }
    form_verdict v;
    if (form_check(r->srv, r->bucket, p, r->body_len, time(NULL), &v) != 0) {
        if (v.key) { free(r->key); r->key = v.key; r->keylen = v.keylen; v.key = NULL; }
        return req_error(r, v.status, v.code, v.message, NULL);
    }
    free(r->key);
    r->key = v.key;
    r->keylen = v.keylen;
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
    form_meta(p, &m);
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
    return form_answer(r, p, hex);
}
