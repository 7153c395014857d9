/* postobject: POST Object (HTML form upload, docs/cos-wire.md#post-object).
 *
 * Two entry points share the policy/signature code:
 * - cos_post_policy(): pure, no client, no network. Builds the policy JSON and the signed form
 *   fields a web page needs to let a browser upload straight to COS.
 * - postObject (cos_op_post_object): uploads one body through such a form, as
 *   multipart/form-data built with libcurl's MIME API (cos_req_body_mime: the engine rebuilds
 *   the form on every attempt and streams the file part from the body source).
 *
 * The policy is JSON, written with jansson (keys keep their insertion order). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/params.h"
#include "base/errors.h"
#include "base/options.h"
#include "base/url.h"
#include "cos.h"
#include "http/auth.h"
#include "http/transport.h"
#include "ops/integrity.h"
#include "ops/messages.h"
#include "ops/post_object.h"
#include "ops/task_body.h"
#include "sign.h"
#include "strbuf.h"
#include "client.h"
#include "base/validate.h"

#define POLICY_DEFAULT_EXPIRES 900
#define JSON_MAX_DEPTH 32

/* ------------------------------------------------------------------------------------------ */
/* JSON                                                                                        */

/* A cos_value as a new jansson value, or NULL when it has no JSON form (NaN/inf, text that is
 * not UTF-8, nesting deeper than JSON_MAX_DEPTH) or on out of memory. Integers stay integers
 * (content-length-range bounds print without a fraction). */
static json_t *to_json(const cos_value *v, int depth)
{
    if (depth > JSON_MAX_DEPTH) return NULL;
    size_t len = 0;
    const char *s;
    double n;
    json_t *j = NULL;
    switch (cos_value_type(v)) {
    case COS_NIL: return json_null();
    case COS_BOOL: return json_boolean(cos_value_bool(v));
    case COS_NUM:
        n = cos_value_num(v);
        if (!isfinite(n)) return NULL;
        return n == floor(n) && fabs(n) < 9007199254740992.0 ? json_integer((json_int_t)n) : json_real(n);
    case COS_STR:
        s = cos_value_str(v, &len);
        return json_stringn(s, len);
    case COS_ARR:
        j = json_array();
        for (size_t i = 0; j && i < cos_value_len(v); i++) {
            if (json_array_append_new(j, to_json(cos_arr_get(v, i), depth + 1)) != 0) {
                json_decref(j);
                return NULL;
            }
        }
        return j;
    case COS_OBJ:
        j = json_object();
        for (size_t i = 0; j && i < cos_value_len(v); i++) {
            if (json_object_set_new(j, cos_obj_key(v, i), to_json(cos_obj_at(v, i), depth + 1)) != 0) {
                json_decref(j);
                return NULL;
            }
        }
        return j;
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Policy document                                                                             */

/* {"name": "value"}: an exact-match condition. */
static int add_exact(cos_value *conds, const char *name, const char *value)
{
    cos_value *c = cos_obj_new();
    if (!c || cos_obj_set_str(c, name, value) != 0) {
        cos_value_free(c);
        return -1;
    }
    return cos_arr_push(conds, c);
}

/* [op, a, b] with string/number members. */
static int add_triple(cos_value *conds, const char *op, cos_value *a, cos_value *b)
{
    cos_value *c = cos_arr_new();
    if (!c || cos_arr_push(c, cos_cstr_new(op)) != 0 || cos_arr_push(c, a) != 0 || cos_arr_push(c, b) != 0) {
        cos_value_free(c);
        return -1;
    }
    return cos_arr_push(conds, c);
}

/* "2019-08-30T09:38:12.000Z" */
static void iso8601(long long unix_s, char out[32])
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

/* Everything the form needs once the policy's inputs are known. */
typedef struct post_form {
    const char *secret_id, *secret_key, *security_token;
    const char *bucket;
    const char *key;           /* exact key, or NULL with key_prefix */
    const char *key_prefix;
    char key_time[64];         /* "start;end" */
    const cos_value *fields;   /* extra form fields (object), each pinned exactly; may be NULL */
    const cos_value *length_range; /* {min, max} or [min, max]; may be NULL */
    const cos_value *conditions;   /* extra raw conditions (array); may be NULL */
} post_form;

static cos_value *range_bound(const cos_value *range, const char *name, size_t index)
{
    const cos_value *v = cos_value_type(range) == COS_ARR ? cos_arr_get(range, index) : cos_obj_get(range, name);
    int64_t n = 0;
    if (cos_param_integer(v, &n) != 0 || n < 0) return NULL;
    return cos_num_new((double)n);
}

/* The conditions array: signature fields first (as in the doc sample), then bucket, key, the
 * length range, the pinned fields and the caller's raw conditions. */
static cos_value *policy_conditions(const post_form *f)
{
    cos_value *conds = cos_arr_new();
    int rc = conds ? 0 : -1;
    if (rc == 0) rc = add_exact(conds, "q-sign-algorithm", "sha1");
    if (rc == 0) rc = add_exact(conds, "q-ak", f->secret_id);
    if (rc == 0) rc = add_exact(conds, "q-sign-time", f->key_time);
    if (rc == 0) rc = add_exact(conds, "bucket", f->bucket);
    if (rc == 0)
        rc = f->key ? add_exact(conds, "key", f->key)
                    : add_triple(conds, "starts-with", cos_cstr_new("$key"), cos_cstr_new(f->key_prefix));
    if (rc == 0 && f->length_range) {
        cos_value *lo = range_bound(f->length_range, "min", 0), *hi = range_bound(f->length_range, "max", 1);
        if (lo && hi) {
            rc = add_triple(conds, "content-length-range", lo, hi);
        } else {
            cos_value_free(lo);
            cos_value_free(hi);
            rc = -1;
        }
    }
    for (size_t i = 0; rc == 0 && i < cos_value_len(f->fields); i++) {
        const char *v = cos_value_str(cos_obj_at(f->fields, i), NULL);
        rc = v ? add_exact(conds, cos_obj_key(f->fields, i), v) : -1;
    }
    for (size_t i = 0; rc == 0 && i < cos_value_len(f->conditions); i++) {
        cos_value *c = cos_value_clone(cos_arr_get(f->conditions, i));
        rc = c ? cos_arr_push(conds, c) : -1;
    }
    if (rc != 0) {
        cos_value_free(conds);
        return NULL;
    }
    return conds;
}

/* {"expiration":"...","conditions":[...]} as malloc'd compact JSON text. */
static char *policy_json(const post_form *f, size_t *len)
{
    long long end = strtoll(strchr(f->key_time, ';') + 1, NULL, 10);
    char expiration[32];
    iso8601(end, expiration);
    cos_value *doc = cos_obj_new();
    int rc = doc ? cos_obj_set_str(doc, "expiration", expiration) : -1;
    if (rc == 0) rc = cos_obj_set(doc, "conditions", policy_conditions(f));
    json_t *j = rc == 0 ? to_json(doc, 0) : NULL;
    cos_value_free(doc);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text) *len = strlen(text);
    return text;
}

static char *base64(const void *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out) EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

/* Fills `fields` (an object) with key, the pinned fields, the token and the signature fields,
 * in the order the form must carry them (signature fields last, before the file). */
static int sign_form(const post_form *f, cos_value *fields, char **policy_text)
{
    size_t plen = 0;
    char *policy = policy_json(f, &plen);
    char *b64 = policy ? base64(policy, plen) : NULL;
    char sig[41];
    int rc = b64 ? 0 : -1;
    if (rc == 0) {
        cos_post_signature(f->secret_key, f->key_time, policy, plen, sig);
        if (f->key) {
            rc = cos_obj_set_str(fields, "key", f->key);
        } else {
            strbuf k;
            sb_init(&k);
            rc = sb_printf(&k, "%s${filename}", f->key_prefix);
            if (rc == 0) rc = cos_obj_set_str(fields, "key", k.data);
            sb_free(&k);
        }
    }
    for (size_t i = 0; rc == 0 && i < cos_value_len(f->fields); i++)
        rc = cos_obj_set(fields, cos_obj_key(f->fields, i), cos_value_clone(cos_obj_at(f->fields, i)));
    if (rc == 0 && f->security_token) rc = cos_obj_set_str(fields, "x-cos-security-token", f->security_token);
    if (rc == 0) rc = cos_obj_set_str(fields, "policy", b64);
    if (rc == 0) rc = cos_obj_set_str(fields, "q-sign-algorithm", "sha1");
    if (rc == 0) rc = cos_obj_set_str(fields, "q-ak", f->secret_id);
    if (rc == 0) rc = cos_obj_set_str(fields, "q-key-time", f->key_time);
    if (rc == 0) rc = cos_obj_set_str(fields, "q-signature", sig);
    free(b64);
    if (rc == 0 && policy_text) {
        *policy_text = policy;
        policy = NULL;
    }
    free(policy);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* cos_post_policy                                                                             */

static cos_value *check_policy_opts(const cos_value *opts)
{
    static const char *const strings[] = {"SecretId", "SecretKey", "SecurityToken", "Key", "KeyPrefix",
                                          "KeyTime", "Protocol", "Domain", NULL};
    if (cos_value_type(opts) != COS_OBJ) return cos_validate_error(NULL, "options must be an object");
    cos_value *e = cos_validate_optional_strings(opts, strings, 0);
    if (e) return e;
    if (!cos_obj_get_str(opts, "SecretId") || !*cos_obj_get_str(opts, "SecretId"))
        return cos_validate_error("SecretId", "missing param SecretId");
    if (!cos_obj_get_str(opts, "SecretKey") || !*cos_obj_get_str(opts, "SecretKey"))
        return cos_validate_error("SecretKey", "missing param SecretKey");
    if ((e = cos_validate_bucket_params(opts))) return e;
    const char *key = cos_obj_get_str(opts, "Key");
    if ((!key || !*key) && !cos_obj_get_str(opts, "KeyPrefix"))
        return cos_validate_error("Key", "missing param Key (or KeyPrefix)");
    int64_t n = 0;
    const cos_value *expires = cos_obj_get(opts, "Expires");
    if (cos_value_type(expires) != COS_NIL && (cos_param_integer(expires, &n) != 0 || n <= 0))
        return cos_validate_error("Expires", "param Expires must be a positive integer (seconds)");
    const char *kt = cos_obj_get_str(opts, "KeyTime");
    long long a = 0, b = 0;
    char tail = 0;
    if (kt && (sscanf(kt, "%lld;%lld%c", &a, &b, &tail) != 2 || a < 0 || b < a))
        return cos_validate_error("KeyTime", "param KeyTime must be \"start;end\" (Unix seconds)");
    const cos_value *fields = cos_obj_get(opts, "Fields");
    if (cos_value_type(fields) != COS_NIL) {
        if (cos_value_type(fields) != COS_OBJ) return cos_validate_error("Fields", "param Fields must be an object");
        for (size_t i = 0; i < cos_value_len(fields); i++)
            if (cos_value_type(cos_obj_at(fields, i)) != COS_STR)
                return cos_validate_error("Fields", "param Fields.%s must be a string", cos_obj_key(fields, i));
    }
    const cos_value *conds = cos_obj_get(opts, "Conditions");
    if (cos_value_type(conds) != COS_NIL && cos_value_type(conds) != COS_ARR)
        return cos_validate_error("Conditions", "param Conditions must be an array");
    const cos_value *range = cos_obj_get(opts, "ContentLengthRange");
    if (cos_value_type(range) != COS_NIL) {
        cos_value *lo = range_bound(range, "min", 0), *hi = range_bound(range, "max", 1);
        int ok = lo && hi && cos_value_num(lo) <= cos_value_num(hi);
        cos_value_free(lo);
        cos_value_free(hi);
        if (!ok)
            return cos_validate_error("ContentLengthRange",
                                      "param ContentLengthRange must be {min, max} with 0 <= min <= max");
    }
    if ((e = cos_validate_traffic_limit(fields))) return e;
    return NULL;
}

/* "start;end": the caller's KeyTime, or now-1 .. now+Expires (clock offset in ms applied). */
static void policy_key_time(const cos_value *opts, char out[64])
{
    const char *kt = cos_obj_get_str(opts, "KeyTime");
    if (kt) {
        snprintf(out, 64, "%s", kt);
        return;
    }
    int64_t expires = POLICY_DEFAULT_EXPIRES, offset_ms = 0;
    cos_param_integer(cos_obj_get(opts, "Expires"), &expires);
    const cos_value *off = cos_obj_get(opts, "SystemClockOffset");
    if (cos_value_type(off) == COS_NUM) offset_ms = (int64_t)cos_value_num(off);
    long long now = (long long)time(NULL) + offset_ms / 1000;
    snprintf(out, 64, "%lld;%lld", now - 1, now + (long long)expires);
}

/* The bucket URL ("https://bucket.cos.region.myqcloud.com/"), built by the same URL code as every
 * request so that Domain and Protocol behave alike; the options are checked as COS.new checks them. */
static char *policy_url(const cos_value *opts, cos_value **err)
{
    cos_value *copts = cos_obj_new();
    static const char *const copy[] = {"SecretId", "SecretKey", "Protocol", "Domain", NULL};
    for (size_t i = 0; copts && copy[i]; i++) {
        const cos_value *v = cos_obj_get(opts, copy[i]);
        if (v) cos_obj_set(copts, copy[i], cos_value_clone(v));
    }
    int ok = copts && cos_options_check(copts, err) == 0;
    cos_value_free(copts);
    if (!ok) return NULL;
    const char *protocol = cos_url_protocol(cos_options_str(opts, "Protocol"));
    if (!protocol) {
        *err = cos_options_error("Protocol", "option Protocol must be 'http:' or 'https:'");
        return NULL;
    }
    return cos_url_build(NULL, protocol, cos_options_str(opts, "Domain"), cos_obj_get_str(opts, "Bucket"),
                         cos_obj_get_str(opts, "Region"), NULL);
}

cos_value *cos_post_policy(const cos_value *opts, cos_value **err)
{
    if (err) *err = NULL;
    cos_value *e = check_policy_opts(opts);
    if (e) {
        if (err) *err = e; else cos_value_free(e);
        return NULL;
    }
    const char *key = cos_obj_get_str(opts, "Key");
    post_form f = {
        .secret_id = cos_obj_get_str(opts, "SecretId"),
        .secret_key = cos_obj_get_str(opts, "SecretKey"),
        .security_token = cos_obj_get_str(opts, "SecurityToken"),
        .bucket = cos_obj_get_str(opts, "Bucket"),
        .key = key && *key ? key : NULL,
        .key_prefix = cos_obj_get_str(opts, "KeyPrefix"),
        .fields = cos_obj_get(opts, "Fields"),
        .length_range = cos_obj_get(opts, "ContentLengthRange"),
        .conditions = cos_obj_get(opts, "Conditions"),
    };
    if (f.security_token && !*f.security_token) f.security_token = NULL;
    policy_key_time(opts, f.key_time);

    cos_value *url_err = NULL;
    char *url = policy_url(opts, &url_err);
    cos_value *out = cos_obj_new(), *fields = cos_obj_new();
    char *policy = NULL;
    int rc = url && out && fields ? 0 : -1;
    if (rc == 0) rc = sign_form(&f, fields, &policy);
    if (rc == 0) rc = cos_obj_set_str(out, "url", url);
    if (rc == 0) {
        rc = cos_obj_set(out, "fields", fields);
        fields = NULL;
    }
    if (rc == 0) rc = cos_obj_set_str(out, "policy", policy);
    if (rc == 0) {
        char expiration[32];
        iso8601(strtoll(strchr(f.key_time, ';') + 1, NULL, 10), expiration);
        rc = cos_obj_set_str(out, "expiration", expiration);
    }
    free(url);
    free(policy);
    cos_value_free(fields);
    if (rc != 0) {
        cos_value_free(out);
        if (!url_err) url_err = cos_validate_error(NULL, "cannot build the POST policy (text that is not UTF-8, a bad Domain, or out of memory)");
        if (err) *err = url_err; else cos_value_free(url_err);
        return NULL;
    }
    cos_value_free(url_err);
    return out;
}

/* ------------------------------------------------------------------------------------------ */
/* postObject                                                                                  */

/* Params that become form fields (cos-wire.md#post-object), in the order they are written. */
static const char *const FORM_PARAMS[][2] = {
    {"ContentType", "Content-Type"},
    {"CacheControl", "Cache-Control"},
    {"ContentDisposition", "Content-Disposition"},
    {"ContentEncoding", "Content-Encoding"},
    {"Expires", "Expires"},
    {"ContentMD5", "Content-MD5"},
    {"ACL", "acl"},
    {"GrantRead", "x-cos-grant-read"},
    {"GrantReadAcp", "x-cos-grant-read-acp"},
    {"GrantWriteAcp", "x-cos-grant-write-acp"},
    {"GrantFullControl", "x-cos-grant-full-control"},
    {"StorageClass", "x-cos-storage-class"},
    {"TrafficLimit", "x-cos-traffic-limit"},
    {"ServerSideEncryption", "x-cos-server-side-encryption"},
    {"SSEKMSKeyId", "x-cos-server-side-encryption-cos-kms-key-id"},
    {"SSEContext", "x-cos-server-side-encryption-context"},
    {"SuccessActionStatus", "success_action_status"},
    {"SuccessActionRedirect", "success_action_redirect"},
    {"success_action_status", "success_action_status"},
    {"success_action_redirect", "success_action_redirect"},
    {"acl", "acl"},
};

/* The form fields carried besides key and the signature: the mapped params, every top-level
 * x-cos-* param, then the Fields table (strings or numbers). */
static cos_value *form_fields(const cos_task *t)
{
    char buf[64];
    cos_value *f = cos_obj_new();
    int rc = f ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < sizeof FORM_PARAMS / sizeof FORM_PARAMS[0]; i++) {
        const char *v = cos_param_string(t->params, FORM_PARAMS[i][0], buf, sizeof buf);
        if (v) rc = cos_obj_set_str(f, FORM_PARAMS[i][1], v);
    }
    if (rc == 0 && !cos_obj_get(f, "Content-Type")) { /* no ContentType: by the file's or key's extension */
        const char *name = cos_task_str(t, "FileName");
        if (!name && t->body.kind == COS_BODY_PATH) name = t->body.path;
        const char *type = mime_lookup_upload(t->client->mime, name, cos_task_key(t));
        if (type) rc = cos_obj_set_str(f, "Content-Type", type);
    }
    for (size_t i = 0; rc == 0 && i < cos_value_len(t->params); i++) {
        const char *name = cos_obj_key(t->params, i);
        const char *v = cos_param_string(t->params, name, buf, sizeof buf);
        if (v && strncasecmp(name, "x-cos-", 6) == 0) rc = cos_obj_set_str(f, name, v);
    }
    const cos_value *extra = cos_obj_get(t->params, "Fields");
    for (size_t i = 0; rc == 0 && i < cos_value_len(extra); i++) {
        const char *v = cos_param_string(extra, cos_obj_key(extra, i), buf, sizeof buf);
        if (v) rc = cos_obj_set_str(f, cos_obj_key(extra, i), v);
    }
    if (rc != 0) {
        cos_value_free(f);
        return NULL;
    }
    return f;
}

/* The caller's Headers table goes out as HTTP headers; the named params are form fields. */
static int apply_user_headers(cos_request *r, const cos_value *params)
{
    const cos_value *h = cos_obj_get(params, "Headers");
    char buf[64];
    for (size_t i = 0; i < cos_value_len(h); i++) {
        const char *v = cos_value_type(h) == COS_OBJ ? cos_param_string(h, cos_obj_key(h, i), buf, sizeof buf) : NULL;
        if (v && cos_req_header(r, cos_obj_key(h, i), v) != 0) return -1;
    }
    return 0;
}

static int post_send(cos_task *t, cos_value **err);

/* Verified before it is reported (ops/integrity.c): the file part's CRC-64 (or MD5, against the
 * ETag) must match what the server stored; the first answer without CRC-64 this client meets
 * is sent again with MD5 on (a form upload replaces the object). */
static void post_done(void *ud, cos_http_result *res)
{
    cos_task *t = ud;
    t->req = NULL;
    cos_integrity_verdict v = cos_integrity_judge_task(t, res, 0);
    if (v == COS_INTEGRITY_RECHECK) {
        cos_value *e = NULL;
        if (post_send(t, &e) != 0) cos_task_finish(t, e, NULL);
        return;
    }
    if (v != COS_INTEGRITY_OK) return; /* finished with the error */
    cos_msg_to to = cos_msg_to_task(t);
    cos_value *err = NULL, *data = cos_msg_post_object_read(&to, res, &err);
    cos_task_finish(t, data ? NULL : err, data);
}

/* The filename of the file part: FileName, else the last segment of FilePath or Key. COS
 * substitutes it for ${filename} in the key. */
static const char *form_filename(const cos_task *t)
{
    const char *name = cos_task_str(t, "FileName");
    if (name && *name) return name;
    const char *src = t->body.kind == COS_BODY_PATH ? t->body.path : cos_task_key(t);
    const char *slash = src ? strrchr(src, '/') : NULL;
    return slash ? slash + 1 : src ? src : "file";
}

static int post_check(const cos_task *t, cos_value **err)
{
    static const char *const strings[] = {"FileName", "ContentType", "CacheControl", "ContentDisposition",
                                          "ContentEncoding", "ContentMD5", "ACL", "StorageClass", NULL};
    cos_value *e = cos_validate_object_params(t->params, 1);
    if (!e) e = cos_validate_file_key(t->params);
    if (!e) e = cos_validate_traffic_limit(t->params);
    if (!e) e = cos_validate_optional_strings(t->params, strings, 0);
    const cos_value *fields = cos_obj_get(t->params, "Fields");
    if (!e && cos_value_type(fields) != COS_NIL && cos_value_type(fields) != COS_OBJ)
        e = cos_validate_error("Fields", "param Fields must be an object");
    if (!e && t->body.kind == COS_BODY_NONE) e = cos_validate_error("Body", "missing param Body (or FilePath)");
    if (e) {
        *err = e;
        return -1;
    }
    return 0;
}

/* The state of one postObject, shared by every attempt of its request (the task owns it). */
typedef struct post_state {
    cos_task *t;
    cos_request *r;   /* its request (for the credentials of the attempt being built) */
    cos_value *extra; /* form fields besides key and the signature (form_fields) */
} post_state;

static void post_state_free(void *p)
{
    post_state *s = p;
    if (!s) return;
    cos_value_free(s->extra);
    free(s);
}

/* The text parts of the form, rebuilt on every attempt so a retry carries a fresh KeyTime:
 * key, the extra fields, the token, then the signature fields (they must precede the file,
 * which the engine appends last: COS wants it last). */
static int post_mime_fields(void *ud, curl_mime *mime)
{
    post_state *s = ud;
    cos_task *t = s->t;
    cos_client *c = t->client;
    cos_req_creds k; /* the client's keys, or the provider's STS keys for this attempt */
    cos_req_credentials(s->r, &k);
    cos_value *fields = cos_obj_new();
    int rc = fields ? cos_obj_set_str(fields, "key", cos_task_key(t)) : -1;
    if (rc == 0 && k.secret_id && k.secret_key) {
        /* The same q-sign signature fields a browser form carries, with the key pinned exactly. */
        post_form f = {.secret_id = k.secret_id, .secret_key = k.secret_key, .security_token = k.token,
                       .bucket = cos_task_str(t, "Bucket"), .key = cos_task_key(t), .fields = s->extra};
        if (k.key_time) snprintf(f.key_time, sizeof f.key_time, "%s", k.key_time);
        else cos_auth_key_time(c->clock_offset_ms, POLICY_DEFAULT_EXPIRES, f.key_time);
        rc = sign_form(&f, fields, NULL);
    } else if (rc == 0) {
        /* No keys (anonymous, or a provider's ready Authorization, which cannot sign a policy):
         * the form goes unsigned. */
        for (size_t i = 0; rc == 0 && i < cos_value_len(s->extra); i++)
            rc = cos_obj_set(fields, cos_obj_key(s->extra, i), cos_value_clone(cos_obj_at(s->extra, i)));
        if (rc == 0 && k.token) rc = cos_obj_set_str(fields, "x-cos-security-token", k.token);
    }
    for (size_t i = 0; rc == 0 && i < cos_value_len(fields); i++) {
        size_t vlen = 0;
        const char *v = cos_value_str(cos_obj_at(fields, i), &vlen);
        curl_mimepart *part = curl_mime_addpart(mime);
        /* libcurl escapes '"', CR and LF in the name as browsers do (HTML5). */
        if (!part || curl_mime_name(part, cos_obj_key(fields, i)) != CURLE_OK ||
            curl_mime_data(part, v ? v : "", vlen) != CURLE_OK)
            rc = -1;
    }
    cos_value_free(fields);
    return rc;
}

/* Attaches the file part's source. Files and fds are streamed (pread by the engine), memory
 * bodies are borrowed from the task (which outlives its request), pulled bodies come from the
 * caller's on_pull. The length must be known: libcurl sends an exact Content-Length. */
static int post_attach_body(cos_task *t, cos_request *r, cos_value **err)
{
    cos_task_body tb;
    if (cos_task_body_open(t, &tb, err) != 0) {
        cos_task_body_close(&tb);
        return -1;
    }
    const cos_msg_body *m = &tb.msg;
    int rc = -1;
    switch (m->kind) {
    case COS_MSG_BODY_NONE: rc = cos_req_body_mem(r, "", 0); break;
    case COS_MSG_BODY_MEM:
    case COS_MSG_BODY_MEM_COPY: rc = cos_req_body_mem_ref(r, m->data, m->len); break;
    case COS_MSG_BODY_FD: rc = cos_req_body_fd(r, m->fd, m->offset, m->length); break; /* dup's the fd */
    case COS_MSG_BODY_PULL: rc = cos_req_body_pull(r, m->length, m->pull, m->pull_ud); break;
    }
    cos_task_body_close(&tb);
    return rc == 0 ? 0 : cos_error_out(err, cos_validate_error(NULL, "cannot attach the body"));
}

/* Builds the form request (fields signed again on every attempt) and submits it. */
static int post_send(cos_task *t, cos_value **err)
{
    post_state *s = calloc(1, sizeof *s);
    cos_msg_to to = cos_msg_to_task(t);
    cos_request *r = cos_msg_post_object(&to);
    int rc = s && r ? 0 : -1;
    if (rc == 0) {
        s->t = t;
        s->r = r;
        s->extra = form_fields(t);
        rc = s->extra ? 0 : -1;
    }
    if (rc == 0) rc = apply_user_headers(r, t->params);
    if (rc == 0) rc = cos_req_body_mime(r, post_mime_fields, s, "file", form_filename(t));
    if (rc != 0) {
        post_state_free(s);
        cos_req_free(r);
        *err = cos_validate_error(NULL, "cannot build the postObject request");
        return -1;
    }
    if (post_attach_body(t, r, err) != 0) {
        post_state_free(s);
        cos_req_free(r);
        return -1;
    }
    cos_req_hash(r, cos_integrity_stream_hashes(t->client, t->body.kind != COS_BODY_PULL));
    if (t->op_free && t->op_state) t->op_free(t->op_state); /* the state of the answer just checked */
    t->op_state = s; /* freed with the task, after the request is gone */
    t->op_free = post_state_free;
    cos_task_track_progress(t, r, 1);
    cos_req_on_done(r, post_done, t);
    t->req = r;
    cos_transport_submit(r);
    return 0;
}

int cos_op_post_object(cos_task *t, cos_value **err)
{
    if (post_check(t, err) != 0) return -1;
    return post_send(t, err);
}
