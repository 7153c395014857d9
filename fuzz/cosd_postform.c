/* Harness: cosd's POST Object form checks (form_add_field, form_check: fields, key, signature,
 * policy JSON and conditions) at a fixed time with the default test credentials.
 * Input: NUL-separated "name=value" records, in form order. Pseudo records the harness acts on:
 *   @file=NAME       the file field (its name; fields after it are ignored, as cosd does)
 *   @size=N          the file's size
 *   @policy-json=T   T is the policy JSON: the harness base64-encodes it into `policy` and signs
 *                    it into `q-signature` (with q-key-time as given earlier, or a default), so
 *                    the fuzzer reaches the JSON reader past the signature check
 * A name=value record with no '=' is a field with an empty value; a value arriving in two records
 * of the same name with "+" before the second name continues it (MHD's off > 0). */
#include "fuzz.h"

#include <openssl/evp.h>

#include "cosd.h"

#define FUZZ_NOW 1700000000
#define FUZZ_KEY_TIME "1699999000;1700009000"

/* field `policy` and `q-signature` for the JSON text t. */
static void add_signed_policy(struct postform *p, const char *t, size_t len, const char *key_time)
{
    char *b64 = malloc(4 * ((len + 2) / 3) + 1);
    if (!b64) return;
    int n = EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)t, (int)len);
    char sig[41];
    cos_post_signature(COSD_DEFAULT_KEY, key_time, t, len, sig);
    form_add_field(p, "policy", b64, 0, (size_t)n);
    form_add_field(p, "q-signature", sig, 0, strlen(sig));
    free(b64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024) return 0;
    struct postform *p = form_new();
    if (!p) return 0;
    uint64_t fsize = 0;
    char key_time[64] = FUZZ_KEY_TIME, last[64] = "";
    size_t len;
    for (const uint8_t *rec; (rec = fuzz_next(&data, &size, 0, &len));) {
        char *r = fuzz_strndup(rec, len);
        if (!r) break;
        char *eq = strchr(r, '='), *value = eq ? eq + 1 : r + len;
        if (eq) *eq = '\0';
        size_t vlen = strlen(value);
        if (!strcmp(r, "@file")) form_set_file(p, value);
        else if (!strcmp(r, "@size")) fsize = strtoull(value, NULL, 10);
        else if (!strcmp(r, "@policy-json")) add_signed_policy(p, value, vlen, key_time);
        else if (r[0] == '+' && !strcmp(r + 1, last)) form_add_field(p, r + 1, value, 1, vlen);
        else {
            form_add_field(p, r, value, 0, vlen);
            snprintf(last, sizeof last, "%s", r);
            if (!strcmp(r, "q-key-time")) snprintf(key_time, sizeof key_time, "%s", value);
        }
        free(r);
    }
    cosd_cred cred = {COSD_DEFAULT_ID, COSD_DEFAULT_KEY};
    cosd_server srv = {.creds = &cred, .ncreds = 1, .region = "ap-guangzhou"};
    form_verdict v;
    int rc = form_check(&srv, "examplebucket-1250000000", p, fsize, FUZZ_NOW, &v);
    if (rc == 0 && !v.key) abort();
    if (rc != 0 && (!v.code || v.status < 400 || !v.message[0])) abort();
    form_verdict_free(&v);
    form_destroy(p);
    return 0;
}
