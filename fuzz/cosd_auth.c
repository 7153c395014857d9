/* Harness: cosd's signature check of a request, from the Authorization header or from a
 * pre-signed URL's query, as the q-* parameters or one sign= parameter (target_parse, then
 * auth_verify at a fixed time with the default test credentials). Input lines: method, request
 * target, Authorization value (empty: none), then "Name: value" headers. The key is the path
 * (virtual-hosted style). */
#include "fuzz.h"

#include <strings.h>

#include "cosd.h"

#define FUZZ_NOW 1700000000
#define MAX_HEADERS 32

typedef struct fuzz_headers { char *name[MAX_HEADERS], *value[MAX_HEADERS]; size_t n; } fuzz_headers;

static const char *header(void *ud, const char *name)
{
    fuzz_headers *h = ud;
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->name[i], name) == 0) return h->value[i];
    return NULL;
}

static char *next_line(const uint8_t **data, size_t *size)
{
    size_t len = 0;
    const uint8_t *l = fuzz_next(data, size, '\n', &len);
    return l ? fuzz_strndup(l, len) : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *method = next_line(&data, &size), *target = next_line(&data, &size), *authz = next_line(&data, &size);
    fuzz_headers h = {0};
    for (char *line; h.n < MAX_HEADERS && (line = next_line(&data, &size));) {
        char *colon = strchr(line, ':');
        if (!colon) { free(line); continue; }
        *colon = '\0';
        h.name[h.n] = line;
        h.value[h.n++] = colon + 1 + (colon[1] == ' ');
    }
    char *path = NULL;
    size_t pathlen = 0, nq = 0;
    cos_kv *q = NULL;
    if (method && target && target_parse(target, &path, &pathlen, &q, &nq) == 0) {
        cosd_cred cred = {COSD_DEFAULT_ID, COSD_DEFAULT_KEY};
        cosd_server srv = {.creds = &cred, .ncreds = 1};
        const char *key = path + (pathlen > 0 && path[0] == '/');
        auth_request in = {.method = method, .sign_path = path, .key = key, .keylen = pathlen - (size_t)(key - path),
                           .q = q, .nq = nq, .authorization = authz && *authz ? authz : NULL,
                           .header = header, .header_ud = &h, .now = FUZZ_NOW};
        auth_verdict v;
        int anonymous = 0;
        if (auth_verify(&srv, &in, &v, &anonymous) != 0 && (!v.code || !v.message || v.status < 400)) abort();
        free(v.extra_xml);
    }
    target_free(path, q, nq);
    for (size_t i = 0; i < h.n; i++) free(h.name[i]);
    free(method);
    free(target);
    free(authz);
    return 0;
}
