/* client: cos_client_new/free and the option table. */
#include "client.h"

#include <libxml/parser.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/engine.h"
#include "task/queue.h"
#include "base/validate.h"

/* libcurl and libxml2 need one process-wide initialisation; it is the only global state. */
static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;
static int g_init_ok;

static void library_init(void)
{
    g_init_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    xmlInitParser();
}

double cos_now_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

double cos_now_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int str_to_num(const char *s, double *out)
{
    if (!s || !*s) return -1;
    char *end = NULL;
    double d = strtod(s, &end);
    if (!end || *end) return -1;
    *out = d;
    return 0;
}

double cos_client_opt_num(const cos_client *c, const char *name, double dflt)
{
    const cos_value *v = cos_obj_get(c->options, name);
    double d;
    if (cos_value_type(v) == COS_NUM) return cos_value_num(v);
    if (cos_value_type(v) == COS_STR && str_to_num(cos_value_str(v, NULL), &d) == 0) return d;
    return dflt;
}

const char *cos_client_content_type(const cos_client *c, const char *path, const char *key)
{
    const char *type = path ? mime_lookup(c->mime, path) : NULL;
    return type ? type : key ? mime_lookup(c->mime, key) : NULL;
}

const char *cos_client_opt_str(const cos_client *c, const char *name)
{
    const char *s = cos_obj_get_str(c->options, name);
    return s && *s ? s : NULL;
}

int cos_client_opt_bool(const cos_client *c, const char *name, int dflt)
{
    const cos_value *v = cos_obj_get(c->options, name);
    switch (cos_value_type(v)) {
    case COS_BOOL: return cos_value_bool(v);
    case COS_NUM: return cos_value_num(v) != 0;
    case COS_STR: return strcmp(cos_value_str(v, NULL), "false") != 0 && strcmp(cos_value_str(v, NULL), "") != 0;
    default: return dflt;
    }
}

static char *dup_opt(const cos_client *c, const char *name, const char *alias)
{
    const char *s = cos_client_opt_str(c, name);
    if (!s && alias) s = cos_client_opt_str(c, alias);
    return s ? strdup(s) : NULL;
}

static cos_value *option_error(const char *message)
{
    return cos_error_new("InvalidParameter", message);
}

static int option_errorf(cos_value **err, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int option_errorf(cos_value **err, const char *name, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    *err = option_error(msg);
    if (*err && name) cos_obj_set_str(*err, "param", name);
    return -1;
}

/* The constructor options: each has a kind and, for numbers, the accepted range. Anything out
 * of range is refused (never clamped), NaN and infinities included, so no option reaches an
 * integer conversion unchecked. */
typedef enum { OPT_STR, OPT_INT, OPT_NUM, OPT_BOOL, OPT_IGNORED } opt_kind;
typedef struct opt_def {
    const char *name;
    opt_kind kind;
    double min, max;
} opt_def;

#define MIB_D (1024.0 * 1024.0)
static const opt_def OPTIONS[] = {
    {"SecretId", OPT_STR, 0, 0},
    {"SecretKey", OPT_STR, 0, 0},
    {"SecurityToken", OPT_STR, 0, 0},
    {"XCosSecurityToken", OPT_STR, 0, 0},
    {"Protocol", OPT_STR, 0, 0},
    {"Domain", OPT_STR, 0, 0},
    {"Ip", OPT_STR, 0, 0},
    {"CaInfo", OPT_STR, 0, 0},
    {"UserAgent", OPT_STR, 0, 0},
    {"ConfCwd", OPT_STR, 0, 0},
    {"CheckpointDir", OPT_STR, 0, 0},
    {"Timeout", OPT_NUM, 0, 2147483647.0},
    {"ProgressInterval", OPT_NUM, 0, 86400000.0},
    {"SystemClockOffset", OPT_NUM, -1e12, 1e12},
    {"RetryTimes", OPT_INT, 0, 100},
    {"FileParallelLimit", OPT_INT, 1, 1000},
    {"ChunkParallelLimit", OPT_INT, 1, 256},
    {"ChunkRetryTimes", OPT_INT, 0, 100},
    {"ChunkSize", OPT_INT, MIB_D, 5120.0 * MIB_D},
    {"SliceSize", OPT_INT, 0, 5120.0 * MIB_D},
    {"MaxPartNumber", OPT_INT, 1024, 10000},
    {"MaxConnections", OPT_INT, 1, 1024},
    {"UploadQueueSize", OPT_INT, 1, 1e6},
    {"CorrectClockSkew", OPT_BOOL, 0, 0},
    {"UseRawKey", OPT_BOOL, 0, 0},
    {"UploadCheckContentMd5", OPT_BOOL, 0, 0},
    {"ForcePathStyle", OPT_BOOL, 0, 0},
    {"Checkpoint", OPT_BOOL, 0, 0},
    {"getAuthorization", OPT_IGNORED, 0, 0}, /* a function: the binding installs the provider */
    /* Node SDK options for behaviour lua-cos does not have: accepted, no effect. */
    {"KeepAlive", OPT_IGNORED, 0, 0},
    {"ForceSignHost", OPT_IGNORED, 0, 0},
    {"UploadIdCacheLimit", OPT_IGNORED, 0, 0},
    {"CompatibilityMode", OPT_IGNORED, 0, 0},
    {"AutoSwitchHost", OPT_IGNORED, 0, 0},
    {"ObjectKeySimplifyCheck", OPT_IGNORED, 0, 0},
    {"ServiceDomain", OPT_IGNORED, 0, 0},
    {"CopyChunkParallelLimit", OPT_IGNORED, 0, 0},
    {"CopyChunkSize", OPT_IGNORED, 0, 0},
    {"CopySliceSize", OPT_IGNORED, 0, 0},
};
#define NOPTIONS (sizeof OPTIONS / sizeof OPTIONS[0])

static const opt_def *find_option(const char *name)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        if (strcmp(OPTIONS[i].name, name) == 0) return &OPTIONS[i];
    return NULL;
}

static int unknown_option(const char *name, cos_value **err)
{
    const char *names[NOPTIONS + 1];
    for (size_t i = 0; i < NOPTIONS; i++) names[i] = OPTIONS[i].name;
    names[NOPTIONS] = NULL;
    const char *hint = cos_validate_suggest(name, names);
    if (hint) return option_errorf(err, name, "unknown option %.200s (did you mean %s?)", name, hint);
    return option_errorf(err, name, "unknown option %.200s (docs/api.md lists the options)", name);
}

/* Strings: no NUL (it would cut the value short: a truncated SecretKey signs wrongly) and no
 * control character (they end up in headers or URLs: CR/LF would inject header lines). */
static int check_string(const opt_def *d, const cos_value *v, cos_value **err)
{
    size_t len = 0;
    const char *s = cos_value_str(v, &len);
    if (!s) return option_errorf(err, d->name, "option %s must be a string", d->name);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            return option_errorf(err, d->name, "option %s must not contain NUL, CR, LF or other control characters",
                                 d->name);
    }
    return 0;
}

static int check_number(const opt_def *d, const cos_value *v, cos_value **err)
{
    double n = 0;
    int ok = cos_value_type(v) == COS_NUM ? (n = cos_value_num(v), 1)
             : cos_value_type(v) == COS_STR ? str_to_num(cos_value_str(v, NULL), &n) == 0
                                            : 0;
    const char *what = d->kind == OPT_INT ? "an integer" : "a number";
    if (!ok || !isfinite(n) || (d->kind == OPT_INT && n != floor(n)) || n < d->min || n > d->max)
        return option_errorf(err, d->name, "option %s must be %s between %.0f and %.0f", d->name, what, d->min,
                             d->max);
    return 0;
}

static int check_options(const cos_value *o, cos_value **err)
{
    for (size_t i = 0; i < cos_value_len(o); i++) {
        const char *name = cos_obj_key(o, i);
        const cos_value *v = cos_obj_at(o, i);
        const opt_def *d = find_option(name);
        if (!d) return unknown_option(name, err);
        if (cos_value_type(v) == COS_NIL) continue;
        switch (d->kind) {
        case OPT_STR:
            if (check_string(d, v, err) != 0) return -1;
            break;
        case OPT_INT:
        case OPT_NUM:
            if (check_number(d, v, err) != 0) return -1;
            break;
        case OPT_BOOL:
            if (cos_value_type(v) != COS_BOOL) return option_errorf(err, name, "option %s must be a boolean", name);
            break;
        case OPT_IGNORED: break;
        }
    }
    return 0;
}

static int parse_protocol(cos_client *c, cos_value **err)
{
    const char *p = cos_client_opt_str(c, "Protocol");
    if (!p || strcmp(p, "https") == 0 || strcmp(p, "https:") == 0) {
        c->protocol = strdup("https:");
    } else if (strcmp(p, "http") == 0 || strcmp(p, "http:") == 0) {
        c->protocol = strdup("http:");
    } else {
        *err = option_error("option Protocol must be 'http:' or 'https:'");
        return -1;
    }
    return 0;
}

/* Ip is "host[:port]" (an IPv6 host in brackets), never a URL: libcurl would take a scheme
 * for a host name and fail every request with a confusing error. */
static int check_ip(const cos_client *c, cos_value **err)
{
    const char *ip = cos_client_opt_str(c, "Ip");
    if (!ip) return 0;
    const char *port = ip[0] == '[' ? strstr(ip, "]") : strchr(ip, ':');
    if (port && ip[0] == '[') port = port[1] == ':' ? port + 1 : port[1] ? ip : NULL;
    int ok = !strpbrk(ip, "/ \t?#@") && ip[0] != ':' && ip[0] != ']';
    if (ok && port && port != ip) {
        char *end;
        long n = strtol(port + 1, &end, 10);
        ok = port[1] && !*end && n > 0 && n < 65536 && (ip[0] == '[' || !strchr(port + 1, ':'));
    } else if (port == ip) {
        ok = 0;
    }
    if (ok) return 0;
    return option_errorf(err, "Ip", "option Ip must be \"host[:port]\" (e.g. \"127.0.0.1:9000\"), not a URL");
}

static int parse_options(cos_client *c, cos_value **err)
{
    if (check_options(c->options, err) != 0) return -1;
    if (parse_protocol(c, err) != 0) return -1;
    if (check_ip(c, err) != 0) return -1;
    if (cos_client_opt_bool(c, "ForcePathStyle", 0)) {
        *err = option_error("ForcePathStyle is not supported");
        return -1;
    }
    c->secret_id = dup_opt(c, "SecretId", NULL);
    c->secret_key = dup_opt(c, "SecretKey", NULL);
    c->security_token = dup_opt(c, "SecurityToken", "XCosSecurityToken");
    c->domain = dup_opt(c, "Domain", NULL);
    c->ip = dup_opt(c, "Ip", NULL);
    c->ca_info = dup_opt(c, "CaInfo", NULL);
    c->user_agent = dup_opt(c, "UserAgent", NULL);
    if (!c->user_agent) c->user_agent = strdup("lua-cos-" COS_VERSION);
    /* Checked against their ranges above: the conversions below are defined. */
    c->timeout_ms = (long)cos_client_opt_num(c, "Timeout", 0);
    c->progress_interval_ms = cos_client_opt_num(c, "ProgressInterval", 1000);
    c->correct_clock_skew = cos_client_opt_bool(c, "CorrectClockSkew", 1);
    c->clock_offset_ms = cos_client_opt_num(c, "SystemClockOffset", 0);
    c->use_raw_key = cos_client_opt_bool(c, "UseRawKey", 0);
    c->retry_times = (int)cos_client_opt_num(c, "RetryTimes", 3);
    c->upload_check_md5 = cos_client_opt_bool(c, "UploadCheckContentMd5", 0);
    c->max_connections = (int)cos_client_opt_num(c, "MaxConnections", 64);
    c->low_speed_time_s = 60;
    c->mime = mime_load(NULL); /* once per client: every upload without ContentType looks it up */
    if (!c->protocol || !c->user_agent || !c->mime) {
        *err = option_error("out of memory");
        return -1;
    }
    return 0;
}

cos_client *cos_client_new(const cos_value *options, cos_value **err)
{
    cos_value *e = NULL;
    if (err) *err = NULL;
    pthread_once(&g_init_once, library_init);
    if (!g_init_ok) {
        if (err) *err = cos_error_new("Error", "curl_global_init failed");
        return NULL;
    }
    if (options && cos_value_type(options) != COS_OBJ) {
        if (err) *err = option_error("options must be an object");
        return NULL;
    }
    cos_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->options = options ? cos_value_clone(options) : cos_obj_new();
    c->next_task_id = 1;
    c->rng = ((uint64_t)(cos_now_wall_ms() * 1000.0)) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c;
    if (!c->rng) c->rng = 0x9E3779B97F4A7C15ull;
    if (!c->options || parse_options(c, &e) != 0 || cos_engine_init(c) != 0) {
        if (!e) e = cos_error_new("Error", "cannot create the client");
        if (err) *err = e;
        else cos_value_free(e);
        cos_client_free(c);
        return NULL;
    }
    return c;
}

void cos_client_free(cos_client *c)
{
    if (!c) return;
    c->freeing = 1;
    cos_tasks_free_all(c);    /* op_abort (marks requests aborted), release(), no on_done */
    cos_engine_free(c);       /* frees every request, drops queued events */
    cos_queue_free(c);        /* after the tasks are gone */
    cos_value_free(c->options);
    free(c->secret_id);
    free(c->secret_key);
    free(c->security_token);
    free(c->protocol);
    free(c->domain);
    free(c->ip);
    free(c->ca_info);
    free(c->user_agent);
    mime_free(c->mime);
    free(c);
}
