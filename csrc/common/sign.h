/* sign: the COS "q-sign" request signature (sha1), shared by the client core and cosd.
 * Pure functions: no I/O, no global state. The algorithm: docs/cos-wire.md#signing. */
#ifndef COS_SIGN_H
#define COS_SIGN_H
#include <stddef.h>
#include "strbuf.h"

typedef struct cos_kv {
    const char *name;
    const char *value; /* NULL is signed as "" */
} cos_kv;

/* Strict RFC 3986 encoding: everything but A-Z a-z 0-9 - _ . ~ becomes %XX (upper-case hex).
 * With keep_slash, '/' stays literal (object paths in URLs). */
int cos_url_encode(strbuf *out, const char *s, size_t len, int keep_slash);
/* Percent-decoding; '+' stays '+' (COS paths). Invalid escapes are copied verbatim. */
int cos_url_decode(strbuf *out, const char *s, size_t len);

/* The Node SDK's rule for which request headers are signed (name in any case). */
int cos_sign_header_eligible(const char *name);

typedef struct cos_sign_input {
    const char *secret_id;
    const char *secret_key;
    const char *method;    /* any case; lower-cased for signing */
    const char *pathname;  /* decoded path, starting with '/' */
    const cos_kv *params;  /* query parameters to sign, raw (decoded) names and values */
    size_t nparams;
    const cos_kv *headers; /* headers to sign, raw names and values */
    size_t nheaders;
    const char *key_time;  /* "start;end", Unix seconds */
} cos_sign_input;

typedef struct cos_sign_output {
    char signature[41];
    char *authorization;  /* the full q-sign-algorithm=... string */
    char *http_string;    /* COS's FormatString */
    char *string_to_sign;
    char *header_list;    /* q-header-list value */
    char *param_list;     /* q-url-param-list value */
} cos_sign_output;

/* 0 on success (out fields are malloc'd, release with cos_sign_output_free), -1 on out of memory. */
int cos_sign(const cos_sign_input *in, cos_sign_output *out);
void cos_sign_output_free(cos_sign_output *out);

/* hex(HMAC-SHA1(key, msg)) into out[41]. */
void cos_hmac_sha1_hex(const char *key, size_t keylen, const char *msg, size_t msglen, char out[41]);
/* hex(SHA1(msg)) into out[41]. */
void cos_sha1_hex(const void *msg, size_t len, char out[41]);

/* POST Object form signature: hex(HMAC-SHA1(hex(HMAC-SHA1(SecretKey, KeyTime)), hex(SHA1(policy)))). */
void cos_post_signature(const char *secret_key, const char *key_time, const void *policy, size_t policy_len,
                        char out[41]);

#endif
