/* auth: the q-sign Authorization for requests (docs/cos-wire.md#what-the-client-signs),
 * COS.getAuthorization and getObjectUrl (docs/cos-wire.md#pre-signed-urls).
 * The signature itself is cos_sign() (common/sign.c); this file chooses what gets signed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/url.h"
#include "base/clock.h"
#include "base/errors.h"
#include "http/auth.h"
#include "base/params.h"
#include "base/validate.h"

void cos_auth_key_time(double offset_ms, long expires, char out[64])
{
    /* The Node SDK: start = round((now + offset) / 1000) - 1, end = start + Expires. */
    long long start = (long long)llround((cos_clock_wall_ms() + offset_ms) / 1000.0) - 1;
    snprintf(out, 64, "%lld;%lld", start, start + expires);
}

char *cos_auth_for_request(cos_client *c, const char *sid, const char *skey, const char *kt, const char *method,
                           const char *pathname, const cos_rkv_list *query, const cos_rkv_list *headers)
{
    cos_kv *q = calloc(query->len + 1, sizeof *q);
    cos_kv *h = calloc(headers->len + 1, sizeof *h);
    char *auth = NULL;
    if (!q || !h) goto done;
    size_t nq = 0, nh = 0;
    for (size_t i = 0; i < query->len; i++) q[nq++] = (cos_kv){query->items[i].name, query->items[i].value};
    /* Only the eligible headers, and not the empty ones: those are sent but unsigned. */
    for (size_t i = 0; i < headers->len; i++) {
        const cos_rkv *kv = &headers->items[i];
        if (!*kv->value || !cos_sign_header_eligible(kv->name)) continue;
        h[nh++] = (cos_kv){kv->name, kv->value};
    }
    char key_time[64];
    if (kt && *kt) snprintf(key_time, sizeof key_time, "%s", kt);
    else cos_auth_key_time(c->clock_offset_ms, 900, key_time);
    cos_sign_input in = {sid, skey, method, pathname, q, nq, h, nh, key_time};
    cos_sign_output out;
    if (cos_sign(&in, &out) == 0) {
        auth = out.authorization;
        out.authorization = NULL;
        cos_sign_output_free(&out);
    }
done:
    free(q);
    free(h);
    return auth;
}

/* Collects an object's scalar entries as cos_kv (strings point into the object or `bufs`). */
typedef struct kv_set {
    cos_kv *kv;
    size_t n;
    char (*bufs)[40];
} kv_set;

/* headers: 0 = query (all entries), 1 = eligible headers, 2 = eligible non-empty headers. */
static int kv_set_from(kv_set *s, const cos_value *obj, int headers)
{
    size_t n = cos_value_len(obj);
    s->n = 0;
    s->kv = calloc(n + 1, sizeof *s->kv);
    s->bufs = calloc(n + 1, sizeof *s->bufs);
    if (!s->kv || !s->bufs) return -1;
    if (cos_value_type(obj) != COS_OBJ) return 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = cos_obj_key(obj, i);
        const char *v = cos_param_to_string(cos_obj_at(obj, i), s->bufs[i], sizeof s->bufs[i]);
        if (headers) {
            /* getAuth keeps empty values (the request path drops them before it gets here). */
            if (!v || (headers == 2 && !*v) || !cos_sign_header_eligible(name)) continue;
        } else if (!v) {
            v = ""; /* undefined / null sign as "" */
        }
        s->kv[s->n++] = (cos_kv){name, v};
    }
    return 0;
}

static void kv_set_free(kv_set *s)
{
    free(s->kv);
    free(s->bufs);
}

/* Signs with explicit options; shared by cos_get_authorization and cos_get_object_url. */
static char *sign_with(const char *sid, const char *skey, const char *method, const char *pathname,
                       const cos_value *query, const cos_value *headers, int drop_empty, const char *key_time,
                       cos_value **err)
{
    kv_set q = {0}, h = {0};
    char *auth = NULL;
    if (kv_set_from(&q, query, 0) != 0 || kv_set_from(&h, headers, drop_empty ? 2 : 1) != 0) {
        if (err) *err = cos_error_new("Error", "out of memory");
        goto done;
    }
    cos_sign_input in = {sid, skey, method, pathname, q.kv, q.n, h.kv, h.n, key_time};
    cos_sign_output out;
    if (cos_sign(&in, &out) != 0) {
        if (err) *err = cos_error_new("Error", "out of memory");
        goto done;
    }
    auth = out.authorization;
    out.authorization = NULL;
    cos_sign_output_free(&out);
done:
    kv_set_free(&q);
    kv_set_free(&h);
    return auth;
}

/* The signing options of getAuthorization and getObjectUrl, checked before anything is signed:
 * a wrong type or a malformed value is refused naming the field instead of yielding an
 * Authorization or URL that can never be valid. */
static const char *const AUTH_OPTIONS[] = {"SecretId", "SecretKey", "Method", "Pathname", "Key", "Query", "Headers",
                                           "KeyTime", "Expires", "SystemClockOffset", "Bucket", "Region",
                                           "ForceSignHost", NULL};
static const char *const URL_PARAMS[] = {"Bucket", "Region", "Key", "Sign", "Expires", "KeyTime", "Query", "QueryString",
                                         "Protocol", "Domain", "Method", "Headers", NULL};

/* A typo (Expire = 60) would otherwise sign with the default silently. */
static cos_value *check_names(const cos_value *o, const char *const *known)
{
    for (size_t i = 0; i < cos_value_len(o); i++) {
        const char *name = cos_obj_key(o, i);
        size_t k = 0;
        while (known[k] && strcmp(known[k], name) != 0) k++;
        if (known[k]) continue;
        const char *hint = cos_validate_suggest(name, known);
        return hint ? cos_validate_error(name, "unknown param %.200s (did you mean %s?)", name, hint)
                    : cos_validate_error(name, "unknown param %.200s", name);
    }
    return NULL;
}

static cos_value *check_sign_options(const cos_value *o, const char *const *known)
{
    cos_value *bad = check_names(o, known);
    if (bad) return bad;
    static const char *const keys[] = {"SecretId", "SecretKey", NULL};
    for (size_t i = 0; keys[i]; i++) { /* a NUL would sign with a cut-short key */
        size_t n = 0;
        const char *k = cos_value_str(cos_obj_get(o, keys[i]), &n);
        for (size_t j = 0; k && j < n; j++)
            if ((unsigned char)k[j] < 0x20 || k[j] == 0x7f)
                return cos_validate_error(keys[i], "param %s must not contain NUL or control characters", keys[i]);
    }
    static const char *const bools[] = {"ForceSignHost", "Sign", NULL};
    for (size_t i = 0; bools[i]; i++)
        if (cos_param_bool(o, bools[i], 1) < 0)
            return cos_validate_error(bools[i], "param %s must be a boolean (true, false, \"true\" or \"false\")",
                                      bools[i]);
    const cos_value *m = cos_obj_get(o, "Method");
    if (cos_value_type(m) != COS_NIL) {
        const char *s = cos_value_str(m, NULL);
        size_t n = 0;
        if (!s || !*s || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != strlen(s) ||
            (cos_value_str(m, &n) && n != strlen(s)))
            return cos_validate_error("Method", "param Method must be an HTTP method name such as \"PUT\"");
    }
    const cos_value *kt = cos_obj_get(o, "KeyTime");
    if (cos_value_type(kt) != COS_NIL) {
        const char *s = cos_value_str(kt, NULL);
        long long a = -1, b = -1;
        int used = 0;
        if (!s || strspn(s, "0123456789;") != strlen(s) || sscanf(s, "%lld;%lld%n", &a, &b, &used) != 2 ||
            (size_t)used != strlen(s) || a < 0 || b < a)
            return cos_validate_error("KeyTime", "param KeyTime must be \"start;end\" (Unix seconds, start <= end)");
    }
    const cos_value *ex = cos_obj_get(o, "Expires");
    int64_t secs = 0;
    if (cos_value_type(ex) != COS_NIL && (cos_param_integer(ex, &secs) != 0 || secs < 1 || secs > 315360000))
        return cos_validate_error("Expires", "param Expires must be an integer number of seconds between 1 and "
                                             "315360000");
    const cos_value *off = cos_obj_get(o, "SystemClockOffset");
    double d = 0;
    char *end = NULL;
    if (cos_value_type(off) == COS_NUM) d = cos_value_num(off);
    else if (cos_value_type(off) == COS_STR) d = strtod(cos_value_str(off, NULL), &end);
    if (cos_value_type(off) != COS_NIL &&
        ((cos_value_type(off) != COS_NUM && (!end || *end || end == cos_value_str(off, NULL))) || !isfinite(d) ||
         fabs(d) > 1e12))
        return cos_validate_error("SystemClockOffset", "param SystemClockOffset must be a number of ms");
    return NULL;
}

static void key_time_from(const cos_value *o, double offset_ms, char out[64])
{
    const char *kt = cos_obj_get_str(o, "KeyTime");
    if (kt && *kt) {
        snprintf(out, 64, "%s", kt);
        return;
    }
    const cos_value *ev = cos_obj_get(o, "Expires");
    long expires = 900;
    if (cos_value_type(ev) == COS_NUM) expires = (long)cos_value_num(ev);
    else if (cos_value_type(ev) == COS_STR) expires = strtol(cos_value_str(ev, NULL), NULL, 10);
    cos_auth_key_time(offset_ms, expires, out);
}

static double offset_of(const cos_value *o, double dflt)
{
    const cos_value *v = cos_obj_get(o, "SystemClockOffset");
    if (cos_value_type(v) == COS_NUM) return cos_value_num(v);
    if (cos_value_type(v) == COS_STR) return strtod(cos_value_str(v, NULL), NULL);
    return dflt;
}

char *cos_get_authorization(const cos_value *o, cos_value **err)
{
    if (err) *err = NULL;
    const char *sid = cos_obj_get_str(o, "SecretId");
    const char *skey = cos_obj_get_str(o, "SecretKey");
    if (!sid || !*sid) {
        if (err) *err = cos_error_new("Error", "missing param SecretId");
        return NULL;
    }
    if (!skey || !*skey) {
        if (err) *err = cos_error_new("Error", "missing param SecretKey");
        return NULL;
    }
    cos_value *bad = check_sign_options(o, AUTH_OPTIONS);
    if (bad) {
        if (err) *err = bad;
        else cos_value_free(bad);
        return NULL;
    }
    const char *method = cos_obj_get_str(o, "Method");
    if (!method || !*method) method = "get";
    const char *path = cos_obj_get_str(o, "Pathname");
    if (!path || !*path) path = cos_obj_get_str(o, "Key");
    if (!path) path = "";
    strbuf p;
    sb_init(&p);
    if ((path[0] != '/' && sb_putc(&p, '/') != 0) || sb_puts(&p, path) != 0) {
        sb_free(&p);
        if (err) *err = cos_error_new("Error", "out of memory");
        return NULL;
    }
    char key_time[64];
    key_time_from(o, offset_of(o, 0), key_time);
    /* With Bucket and Region, Host joins the signature unless given or ForceSignHost is false. */
    cos_value *headers = cos_value_clone(cos_obj_get(o, "Headers"));
    if (cos_value_type(headers) != COS_OBJ) {
        cos_value_free(headers);
        headers = cos_obj_new();
    }
    const char *bucket = cos_obj_get_str(o, "Bucket"), *region = cos_obj_get_str(o, "Region");
    int sign_host = cos_param_bool(o, "ForceSignHost", 1) != 0;
    if (headers && bucket && *bucket && region && *region && sign_host && !cos_obj_get(headers, "Host") &&
        !cos_obj_get(headers, "host")) {
        strbuf host;
        sb_init(&host);
        if (sb_printf(&host, "%s.cos.%s.myqcloud.com", bucket, region) == 0) cos_obj_set_str(headers, "Host", host.data);
        sb_free(&host);
    }
    char *auth = sign_with(sid, skey, method, p.data, cos_obj_get(o, "Query"), headers, 0, key_time, err);
    cos_value_free(headers);
    sb_free(&p);
    return auth;
}

static int cmp_lower(const void *a, const void *b)
{
    return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/* The SDK's obj2str: keys sorted case-insensitively, key case kept, both encoded. */
static int query_string(strbuf *out, const cos_value *query)
{
    size_t n = cos_value_type(query) == COS_OBJ ? cos_value_len(query) : 0;
    if (!n) return 0;
    const char **keys = calloc(n, sizeof *keys);
    if (!keys) return -1;
    for (size_t i = 0; i < n; i++) keys[i] = cos_obj_key(query, i);
    qsort(keys, n, sizeof *keys, cmp_lower);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char buf[40];
        const char *v = cos_param_to_string(cos_obj_get(query, keys[i]), buf, sizeof buf);
        if (!v) v = "";
        rc = (i && sb_putc(out, '&')) || cos_url_encode(out, keys[i], strlen(keys[i]), 0) || sb_putc(out, '=') ||
             cos_url_encode(out, v, strlen(v), 0);
    }
    free(keys);
    return rc ? -1 : 0;
}

char *cos_get_object_url(cos_client *c, const cos_value *params, cos_value **err)
{
    if (err) *err = NULL;
    const char *bucket = cos_obj_get_str(params, "Bucket");
    const char *region = cos_obj_get_str(params, "Region");
    const char *key = cos_obj_get_str(params, "Key");
    if (!bucket || !*bucket || !region || !*region) {
        if (err) *err = cos_error_new("Error", !bucket || !*bucket ? "missing param Bucket" : "missing param Region");
        return NULL;
    }
    cos_value *bad = check_sign_options(params, URL_PARAMS);
    if (bad) {
        if (err) *err = bad;
        else cos_value_free(bad);
        return NULL;
    }
    if (!key) key = "";
    if (!c->use_raw_key && key[0] == '/') key++;
    char *url = cos_url_build(c, cos_obj_get_str(params, "Protocol"), cos_obj_get_str(params, "Domain"), bucket,
                              region, key);
    strbuf qs, out;
    sb_init(&qs);
    sb_init(&out);
    char *auth = NULL, *host = NULL;
    int rc = url ? query_string(&qs, cos_obj_get(params, "Query")) : -1;
    const char *raw_qs = cos_obj_get_str(params, "QueryString");
    if (rc == 0 && raw_qs && *raw_qs) rc = (qs.len && sb_putc(&qs, '&')) || sb_puts(&qs, raw_qs);
    if (rc == 0) rc = sb_puts(&out, url);
    if (rc == 0 && cos_param_bool(params, "Sign", 1) == 0) {
        if (qs.len) rc = sb_putc(&out, '?') || sb_puts(&out, qs.data);
        goto done;
    }
    if (rc != 0) goto done;
    if (!c->secret_id || !c->secret_key) {
        /* The SDK signs with empty keys; we refuse, as such a URL can never be valid. */
        if (err) *err = cos_error_new("Error", "missing param SecretId or SecretKey");
        rc = -1;
        goto done;
    }
    /* The signed headers: the given Headers plus Host (ForceSignHost default). */
    host = cos_url_host(url);
    cos_value *headers = cos_value_clone(cos_obj_get(params, "Headers"));
    if (cos_value_type(headers) != COS_OBJ) {
        cos_value_free(headers);
        headers = cos_obj_new();
    }
    int has_host = 0;
    for (size_t i = 0; i < cos_value_len(headers); i++)
        if (strcasecmp(cos_obj_key(headers, i), "host") == 0) has_host = 1;
    if (!has_host && host) cos_obj_set_str(headers, "Host", host);
    strbuf path;
    sb_init(&path);
    sb_putc(&path, '/');
    sb_puts(&path, key);
    const char *method = cos_obj_get_str(params, "Method");
    char key_time[64];
    key_time_from(params, c->clock_offset_ms, key_time);
    auth = sign_with(c->secret_id, c->secret_key, method && *method ? method : "get", path.data,
                     cos_obj_get(params, "Query"), headers, 1, key_time, err);
    sb_free(&path);
    cos_value_free(headers);
    if (!auth) {
        rc = -1;
        goto done;
    }
    rc = sb_putc(&out, '?') || sb_puts(&out, auth);
    if (rc == 0 && c->security_token) rc = sb_puts(&out, "&x-cos-security-token=") || sb_puts(&out, c->security_token);
    if (rc == 0 && qs.len) rc = sb_putc(&out, '&') || sb_puts(&out, qs.data);
done:
    free(url);
    free(auth);
    free(host);
    sb_free(&qs);
    if (rc != 0) {
        sb_free(&out);
        if (err && !*err) *err = cos_error_new("Error", "cannot build the URL");
        return NULL;
    }
    return sb_detach(&out);
}
