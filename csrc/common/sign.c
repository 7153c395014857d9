#include "sign.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char HEX_UPPER[] = "0123456789ABCDEF";
static const char HEX_LOWER[] = "0123456789abcdef";

static int is_unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

int cos_url_encode(strbuf *out, const char *s, size_t len, int keep_slash)
{
    if (sb_reserve(out, len * 3) != 0) return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            out->data[out->len++] = (char)c;
        } else {
            out->data[out->len++] = '%';
            out->data[out->len++] = HEX_UPPER[c >> 4];
            out->data[out->len++] = HEX_UPPER[c & 15];
        }
    }
    out->data[out->len] = '\0';
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int cos_url_decode(strbuf *out, const char *s, size_t len)
{
    if (sb_reserve(out, len) != 0) return -1;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len &&
            (hi = hexval((unsigned char)s[i + 1])) >= 0 && (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            out->data[out->len++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out->data[out->len++] = s[i];
        }
    }
    out->data[out->len] = '\0';
    return 0;
}

int cos_sign_header_eligible(const char *name)
{
    static const char *const listed[] = {
        "cache-control", "content-disposition", "content-encoding", "content-length", "content-md5",
        "content-type", "expect", "expires", "host", "if-match", "if-modified-since", "if-none-match",
        "if-unmodified-since", "origin", "range", "transfer-encoding", "pic-operations", NULL};
    char lower[128];
    size_t n = strlen(name);
    if (n >= sizeof lower) n = sizeof lower - 1;
    for (size_t i = 0; i < n; i++) lower[i] = (char)tolower((unsigned char)name[i]);
    lower[n] = '\0';
    if (strstr(lower, "x-cos-") || strstr(lower, "x-ci-")) return 1;
    for (size_t i = 0; listed[i]; i++)
        if (strcmp(lower, listed[i]) == 0) return 1;
    return 0;
}

void cos_hmac_sha1_hex(const char *key, size_t keylen, const char *msg, size_t msglen, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    HMAC(EVP_sha1(), key, (int)keylen, (const unsigned char *)msg, msglen, md, &mdlen);
    for (unsigned int i = 0; i < 20; i++) {
        out[2 * i] = HEX_LOWER[md[i] >> 4];
        out[2 * i + 1] = HEX_LOWER[md[i] & 15];
    }
    out[40] = '\0';
}

void cos_sha1_hex(const void *msg, size_t len, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(msg, len, md, &mdlen, EVP_sha1(), NULL);
    for (unsigned int i = 0; i < 20; i++) {
        out[2 * i] = HEX_LOWER[md[i] >> 4];
        out[2 * i + 1] = HEX_LOWER[md[i] & 15];
    }
    out[40] = '\0';
}

/* One canonical entry: the encoded lower-case key, the encoded value and the pair sort key. */
typedef struct canon {
    char *key;      /* lower(enc(name)) */
    char *value;    /* enc(value) */
    char *sort_raw; /* lower(name): the Node SDK sorts pairs on this, the list on `key` */
} canon;

static void lower_in_place(char *s)
{
    for (; *s; s++) *s = (char)tolower((unsigned char)*s);
}

static int cmp_sort_raw(const void *a, const void *b)
{
    return strcmp(((const canon *)a)->sort_raw, ((const canon *)b)->sort_raw);
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const canon *)a)->key, ((const canon *)b)->key);
}

static void canon_free(canon *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(c[i].key);
        free(c[i].value);
        free(c[i].sort_raw);
    }
    free(c);
}

static canon *canon_build(const cos_kv *kv, size_t n)
{
    canon *c = calloc(n ? n : 1, sizeof *c);
    if (!c) return NULL;
    for (size_t i = 0; i < n; i++) {
        strbuf k, v;
        sb_init(&k);
        sb_init(&v);
        const char *val = kv[i].value ? kv[i].value : "";
        if (cos_url_encode(&k, kv[i].name, strlen(kv[i].name), 0) != 0 ||
            cos_url_encode(&v, val, strlen(val), 0) != 0) {
            sb_free(&k);
            sb_free(&v);
            canon_free(c, n);
            return NULL;
        }
        c[i].key = sb_detach(&k);
        c[i].value = sb_detach(&v);
        c[i].sort_raw = strdup(kv[i].name);
        if (!c[i].key || !c[i].value || !c[i].sort_raw) {
            canon_free(c, n);
            return NULL;
        }
        lower_in_place(c[i].key);
        lower_in_place(c[i].sort_raw);
    }
    return c;
}

/* Writes "k=v&k=v" into pairs and "k;k" into list. */
static int canon_render(const cos_kv *kv, size_t n, strbuf *pairs, char **list)
{
    canon *c = canon_build(kv, n);
    if (!c) return -1;
    int rc = 0;
    qsort(c, n, sizeof *c, cmp_sort_raw);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = sb_printf(pairs, "%s%s=%s", i ? "&" : "", c[i].key, c[i].value);
    strbuf l;
    sb_init(&l);
    qsort(c, n, sizeof *c, cmp_key);
    for (size_t i = 0; i < n && rc == 0; i++) rc = sb_printf(&l, "%s%s", i ? ";" : "", c[i].key);
    canon_free(c, n);
    if (rc == 0 && (*list = sb_detach(&l)) == NULL) rc = -1;
    if (rc != 0) sb_free(&l);
    return rc;
}

int cos_sign(const cos_sign_input *in, cos_sign_output *out)
{
    memset(out, 0, sizeof *out);
    strbuf hs, params, headers, sts, auth;
    sb_init(&hs);
    sb_init(&params);
    sb_init(&headers);
    sb_init(&sts);
    sb_init(&auth);
    int rc = -1;

    if (canon_render(in->params, in->nparams, &params, &out->param_list) != 0) goto done;
    if (canon_render(in->headers, in->nheaders, &headers, &out->header_list) != 0) goto done;

    char *method = strdup(in->method);
    if (!method) goto done;
    lower_in_place(method);
    int bad = sb_printf(&hs, "%s\n%s\n%s\n%s\n", method, in->pathname, params.data ? params.data : "",
                        headers.data ? headers.data : "");
    free(method);
    if (bad) goto done;

    char hs_sha1[41], sign_key[41];
    cos_sha1_hex(hs.data, hs.len, hs_sha1);
    if (sb_printf(&sts, "sha1\n%s\n%s\n", in->key_time, hs_sha1) != 0) goto done;
    cos_hmac_sha1_hex(in->secret_key, strlen(in->secret_key), in->key_time, strlen(in->key_time), sign_key);
    cos_hmac_sha1_hex(sign_key, 40, sts.data, sts.len, out->signature);

    if (sb_printf(&auth,
                  "q-sign-algorithm=sha1&q-ak=%s&q-sign-time=%s&q-key-time=%s&q-header-list=%s"
                  "&q-url-param-list=%s&q-signature=%s",
                  in->secret_id, in->key_time, in->key_time, out->header_list, out->param_list,
                  out->signature) != 0)
        goto done;
    out->authorization = sb_detach(&auth);
    out->http_string = sb_detach(&hs);
    out->string_to_sign = sb_detach(&sts);
    if (out->authorization && out->http_string && out->string_to_sign) rc = 0;
done:
    sb_free(&hs);
    sb_free(&params);
    sb_free(&headers);
    sb_free(&sts);
    sb_free(&auth);
    if (rc != 0) cos_sign_output_free(out);
    return rc;
}

void cos_sign_output_free(cos_sign_output *out)
{
    free(out->authorization);
    free(out->http_string);
    free(out->string_to_sign);
    free(out->header_list);
    free(out->param_list);
    memset(out, 0, sizeof *out);
}

void cos_post_signature(const char *secret_key, const char *key_time, const void *policy, size_t policy_len,
                        char out[41])
{
    char sign_key[41], policy_sha1[41];
    cos_hmac_sha1_hex(secret_key, strlen(secret_key), key_time, strlen(key_time), sign_key);
    cos_sha1_hex(policy, policy_len, policy_sha1);
    cos_hmac_sha1_hex(sign_key, 40, policy_sha1, 40, out);
}
