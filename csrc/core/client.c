/* client: cos_client_new/free: the options parsed once into the client (base/options.c holds
 * their table), the engine set up, and everything torn down in order. */
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

#include "base/clock.h"
#include "base/errors.h"
#include "base/options.h"
#include "base/url.h"
#include "http/transport.h"
#include "task/queue.h"

/* libcurl and libxml2 need one process-wide initialisation; it is the only global state. */
static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;
static int g_init_ok;

static void library_init(void)
{
    g_init_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    xmlInitParser();
}

static char *dup_opt(const cos_client *c, const char *name, const char *alias)
{
    const char *s = cos_options_str(c->options, name);
    if (!s && alias) s = cos_options_str(c->options, alias);
    return s ? strdup(s) : NULL;
}

static int parse_protocol(cos_client *c, cos_value **err)
{
    const char *p = cos_url_protocol(cos_options_str(c->options, "Protocol"));
    if (!p) {
        *err = cos_options_error("Protocol", "option Protocol must be 'http:' or 'https:'");
        return -1;
    }
    c->protocol = strdup(p);
    return 0;
}

/* Ip is "host[:port]" (an IPv6 host in brackets), never a URL: libcurl would take a scheme
 * for a host name and fail every request with a confusing error. */
static int check_ip(const cos_client *c, cos_value **err)
{
    const char *ip = cos_options_str(c->options, "Ip");
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
    *err = cos_options_error("Ip", "option Ip must be \"host[:port]\" (e.g. \"127.0.0.1:9000\"), not a URL");
    return -1;
}

static int parse_options(cos_client *c, cos_value **err)
{
    if (cos_options_check(c->options, err) != 0) return -1;
    if (parse_protocol(c, err) != 0) return -1;
    if (check_ip(c, err) != 0) return -1;
    if (cos_options_bool(c->options, "ForcePathStyle")) {
        *err = cos_options_error("ForcePathStyle", "ForcePathStyle is not supported");
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
    c->timeout_ms = (long)cos_options_num(c->options, "Timeout");
    c->progress_interval_ms = cos_options_num(c->options, "ProgressInterval");
    c->correct_clock_skew = cos_options_bool(c->options, "CorrectClockSkew");
    c->clock_offset_ms = cos_options_num(c->options, "SystemClockOffset");
    c->use_raw_key = cos_options_bool(c->options, "UseRawKey");
    c->retry_times = (int)cos_options_num(c->options, "RetryTimes");
    c->upload_check_md5 = cos_options_bool(c->options, "UploadCheckContentMd5");
    c->max_connections = (int)cos_options_num(c->options, "MaxConnections");
    c->low_speed_time_s = 60;
    c->mime = mime_load(NULL); /* once per client: every upload without ContentType looks it up */
    if (!c->protocol || !c->user_agent || !c->mime) {
        *err = cos_error_new("Error", "out of memory");
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
        if (err) *err = cos_options_error(NULL, "options must be an object");
        return NULL;
    }
    cos_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->options = options ? cos_value_clone(options) : cos_obj_new();
    c->next_task_id = 1;
    c->rng = ((uint64_t)(cos_clock_wall_ms() * 1000.0)) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c;
    if (!c->rng) c->rng = 0x9E3779B97F4A7C15ull;
    if (!c->options || parse_options(c, &e) != 0 || cos_transport_init(c) != 0) {
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
    cos_task_free_all(c);    /* op_abort (marks requests aborted), release(), no on_done */
    cos_transport_free(c);       /* frees every request, drops queued events */
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
