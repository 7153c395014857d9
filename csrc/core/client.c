/* client: cos_client_new/free and the option table. */
#include "client.h"

#include <libxml/parser.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "queue.h"

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

/* Options whose type is checked; anything else is stored and ignored (forward compatible). */
static int check_types(const cos_value *o, cos_value **err)
{
    static const char *const strings[] = {"SecretId", "SecretKey", "SecurityToken", "XCosSecurityToken",
                                          "Protocol", "Domain", "Ip", "CaInfo", "UserAgent", "ConfCwd", NULL};
    static const char *const numbers[] = {"Timeout", "ProgressInterval", "SystemClockOffset", "RetryTimes",
                                          "FileParallelLimit", "ChunkParallelLimit", "ChunkRetryTimes",
                                          "ChunkSize", "SliceSize", "MaxPartNumber", "MaxConnections", NULL};
    char msg[128];
    for (size_t i = 0; strings[i]; i++) {
        cos_vtype t = cos_value_type(cos_obj_get(o, strings[i]));
        if (t != COS_NIL && t != COS_STR) {
            snprintf(msg, sizeof msg, "option %s must be a string", strings[i]);
            *err = option_error(msg);
            return -1;
        }
    }
    for (size_t i = 0; numbers[i]; i++) {
        const cos_value *v = cos_obj_get(o, numbers[i]);
        double d;
        cos_vtype t = cos_value_type(v);
        if (t == COS_NIL || t == COS_NUM) continue;
        if (t == COS_STR && str_to_num(cos_value_str(v, NULL), &d) == 0) continue;
        snprintf(msg, sizeof msg, "option %s must be a number", numbers[i]);
        *err = option_error(msg);
        return -1;
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
    *err = option_error("option Ip must be \"host[:port]\" (e.g. \"127.0.0.1:9000\"), not a URL");
    return -1;
}

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

static int parse_options(cos_client *c, cos_value **err)
{
    if (check_types(c->options, err) != 0) return -1;
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
    c->timeout_ms = (long)clampd(cos_client_opt_num(c, "Timeout", 0), 0, 1e9);
    c->progress_interval_ms = clampd(cos_client_opt_num(c, "ProgressInterval", 1000), 0, 1e9);
    c->correct_clock_skew = cos_client_opt_bool(c, "CorrectClockSkew", 1);
    c->clock_offset_ms = cos_client_opt_num(c, "SystemClockOffset", 0);
    c->use_raw_key = cos_client_opt_bool(c, "UseRawKey", 0);
    c->retry_times = (int)clampd(cos_client_opt_num(c, "RetryTimes", 3), 0, 100);
    c->upload_check_md5 = cos_client_opt_bool(c, "UploadCheckContentMd5", 0);
    c->max_connections = (int)clampd(cos_client_opt_num(c, "MaxConnections", 64), 1, 1024);
    c->low_speed_time_s = 60;
    if (!c->protocol || !c->user_agent) {
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
    free(c);
}
