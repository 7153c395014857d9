/* url: the SDK's URL building (docs/cos-wire.md#urls-and-hosts): Domain template, Protocol, key path. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/url.h"
#include "client.h"
#include "sign.h"

static const char *const OLD_REGIONS[] = {"cn-south", "cn-south-2", "cn-north", "cn-east", "cn-southwest", "sg",
                                          NULL};

static int is_old_region(const char *region)
{
    for (size_t i = 0; OLD_REGIONS[i]; i++)
        if (region && strcmp(region, OLD_REGIONS[i]) == 0) return 1;
    return 0;
}

/* Value of a template placeholder name (case-insensitive), NULL for unknown ones (removed). */
static const char *placeholder(const char *name, size_t n, const char *bucket, const char *short_bucket,
                               const char *appid, const char *region)
{
    if (n == 6 && strncasecmp(name, "Bucket", 6) == 0) return bucket;
    if (n == 10 && strncasecmp(name, "BucketName", 10) == 0) return short_bucket;
    if (n == 5 && strncasecmp(name, "AppId", 5) == 0) return appid;
    if (n == 6 && strncasecmp(name, "Region", 6) == 0) return region;
    return NULL;
}

/* Expands {X} and {{X}} placeholders; unknown ones disappear (as the SDK's /\{.*?\}/ does). */
static int expand_domain(strbuf *out, const char *tpl, const char *bucket, const char *region)
{
    char short_bucket[256] = "", appid[64] = "";
    const char *dash = bucket ? strrchr(bucket, '-') : NULL;
    if (bucket) {
        size_t n = dash ? (size_t)(dash - bucket) : strlen(bucket);
        if (n >= sizeof short_bucket) n = sizeof short_bucket - 1;
        memcpy(short_bucket, bucket, n);
        short_bucket[n] = '\0';
        if (dash) snprintf(appid, sizeof appid, "%s", dash + 1);
    }
    for (const char *p = tpl; *p;) {
        if (*p != '{') {
            if (sb_putc(out, *p++) != 0) return -1;
            continue;
        }
        int dbl = p[1] == '{';
        const char *name = p + (dbl ? 2 : 1);
        const char *close = strchr(name, '}');
        if (!close) { /* no closing brace: literal */
            if (sb_puts(out, p) != 0) return -1;
            break;
        }
        const char *v = placeholder(name, (size_t)(close - name), bucket, short_bucket, appid, region ? region : "");
        if (v && sb_puts(out, v) != 0) return -1;
        p = close + 1;
        if (dbl && *p == '}') p++;
    }
    return 0;
}

char *cos_url_build(const cos_client *c, const char *protocol, const char *domain, const char *bucket,
                    const char *region, const char *key)
{
    strbuf d, url;
    sb_init(&d);
    sb_init(&url);
    if ((!domain || !*domain) && c) domain = c->domain;
    if (!protocol || !*protocol) protocol = c ? c->protocol : "https:";
    const char *tpl = domain && *domain ? domain
                      : is_old_region(region) ? "{Bucket}.{Region}.myqcloud.com"
                                              : "{Bucket}.cos.{Region}.myqcloud.com";
    int rc = expand_domain(&d, tpl, bucket, region);
    /* Scheme from Protocol unless the domain carries one ("http" / "http:" both accepted). */
    const char *p = d.data ? d.data : "";
    const char *s = p;
    while (isalpha((unsigned char)*s)) s++;
    int has_scheme = s > p && strncmp(s, "://", 3) == 0;
    if (rc == 0 && !has_scheme) {
        size_t n = strlen(protocol);
        rc = sb_append(&url, protocol, n && protocol[n - 1] == ':' ? n - 1 : n) || sb_puts(&url, "://");
    }
    if (rc == 0) rc = sb_puts(&url, p);
    if (rc == 0 && url.len && url.data[url.len - 1] == '/') url.data[--url.len] = '\0';
    if (rc == 0) rc = sb_putc(&url, '/');
    if (rc == 0 && key && *key) rc = cos_url_encode(&url, key, strlen(key), 1);
    sb_free(&d);
    if (rc != 0) {
        sb_free(&url);
        return NULL;
    }
    return sb_detach(&url);
}

char *cos_url_host(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    return strndup(p, n);
}

char *cos_url_location(const cos_client *c, const char *bucket, const char *region, const char *key)
{
    char *url = cos_url_build(c, NULL, NULL, bucket, region, key);
    if (!url) return NULL;
    const char *p = strstr(url, "://");
    char *loc = strdup(p ? p + 3 : url);
    free(url);
    return loc;
}

const char *cos_url_protocol(const char *option)
{
    if (!option || strcmp(option, "https") == 0 || strcmp(option, "https:") == 0) return "https:";
    if (strcmp(option, "http") == 0 || strcmp(option, "http:") == 0) return "http:";
    return NULL;
}
