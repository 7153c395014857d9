/* cos-sign: prints a COS q-sign Authorization for the given request parts (csrc/common/sign.h).
 *   cos-sign [--id ID] [--key KEY] --method M --path /decoded/key [--header name:value]...
 *            [--param name=value]... [--expires SECONDS | --key-time S;E]
 *   cos-sign [--key KEY] --post-policy FILE --key-time S;E   (POST form q-signature of the policy JSON)
 * Defaults: the cosd test credentials, expires 900 s starting one second ago. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sign.h"

static void usage(void) {
    fputs("usage: cos-sign [--id ID] [--key KEY] --method M --path /key [--header name:value]... "
          "[--param name[=value]]... [--expires S | --key-time S;E]\n"
          "       cos-sign [--key KEY] --post-policy FILE --key-time S;E\n", stderr);
}

int main(int argc, char **argv) {
    const char *id = "AKIDcosdTESTsecretid0000000000000000", *key = "cosdTESTsecretkey000000000000000";
    const char *method = "get", *path = "/", *key_time = NULL, *policy = NULL;
    long expires = 900;
    cos_kv *h = calloc((size_t)argc, sizeof *h), *p = calloc((size_t)argc, sizeof *p);
    size_t nh = 0, np = 0;
    if (!h || !p) return 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) { usage(); return 0; }
        if (i + 1 >= argc) { usage(); return 2; }
        const char *a = argv[i], *v = argv[++i];
        if (!strcmp(a, "--id")) id = v;
        else if (!strcmp(a, "--key")) key = v;
        else if (!strcmp(a, "--method")) method = v;
        else if (!strcmp(a, "--path")) path = v;
        else if (!strcmp(a, "--expires")) expires = strtol(v, NULL, 10);
        else if (!strcmp(a, "--key-time")) key_time = v;
        else if (!strcmp(a, "--post-policy")) policy = v;
        else if (!strcmp(a, "--header") || !strcmp(a, "--param")) {
            int hdr = a[2] == 'h';
            const char *sep = strchr(v, hdr ? ':' : '=');
            char *name = sep ? strndup(v, (size_t)(sep - v)) : strdup(v);
            const char *val = sep ? sep + 1 : "";
            if (hdr) while (*val == ' ') val++;
            cos_kv *kv = hdr ? &h[nh++] : &p[np++];
            kv->name = name;
            kv->value = val;
        } else { usage(); return 2; }
    }
    char kt[64];
    if (!key_time) {
        long long s = (long long)time(NULL) - 1;
        snprintf(kt, sizeof kt, "%lld;%lld", s, s + expires);
        key_time = kt;
    }
    int rc = 0;
    if (policy) {
        FILE *f = fopen(policy, "rb");
        if (!f) { fprintf(stderr, "cos-sign: cannot read %s\n", policy); return 1; }
        strbuf sb;
        sb_init(&sb);
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) sb_append(&sb, buf, n);
        fclose(f);
        char sig[41];
        cos_post_signature(key, key_time, sb.data ? sb.data : "", sb.len, sig);
        printf("%s\n", sig);
        sb_free(&sb);
    } else {
        cos_sign_input in = {.secret_id = id, .secret_key = key, .method = method, .pathname = path, .params = p,
                             .nparams = np, .headers = h, .nheaders = nh, .key_time = key_time};
        cos_sign_output out;
        if (cos_sign(&in, &out) != 0) rc = 1;
        else { printf("%s\n", out.authorization); cos_sign_output_free(&out); }
    }
    for (size_t i = 0; i < nh; i++) free((char *)h[i].name);
    for (size_t i = 0; i < np; i++) free((char *)p[i].name);
    free(h); free(p);
    return rc;
}
