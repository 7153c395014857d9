/* embed.c: the C core without Lua. Uploads one string with putObject, then reads the object's
 * size back with headObject, and prints the results.
 *
 * Build against the installed library (make install-lib PREFIX=/usr/local; README "Use from C"):
 *   cc -std=c11 embed.c $(pkg-config --cflags --libs lua-cos) -o embed
 * Run:
 *   COS_SECRETID=... COS_SECRETKEY=... COS_BUCKET=examplebucket-1250000000 COS_REGION=ap-guangzhou ./embed [key]
 * With COS_IP=127.0.0.1:PORT it talks plain HTTP to that address (a local cosd) instead of COS.
 * Exits 0 on success, 1 on failure, 2 (with a usage line) when the environment is missing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cos.h"

struct result {
    int done;
    int failed;
};

/* Prints one error (a cos_value object: statusCode, code, message, RequestId). */
static void print_error(const char *what, const cos_value *err)
{
    const char *code = cos_obj_get_str(err, "code");
    const char *msg = cos_obj_get_str(err, "message");
    const cos_value *status = cos_obj_get(err, "statusCode");
    fprintf(stderr, "%s failed: %s (%s)", what, code ? code : "?", msg ? msg : "");
    if (cos_value_type(status) == COS_NUM) fprintf(stderr, " status %.0f", cos_value_num(status));
    fputc('\n', stderr);
}

/* on_done: exactly one of err/data is set, and the callback owns both. */
static void put_done(void *ud, cos_task_id id, cos_value *err, cos_value *data)
{
    struct result *r = ud;
    r->done = 1;
    if (err) {
        r->failed = 1;
        print_error("putObject", err);
    } else {
        printf("putObject (task %lld): statusCode %.0f, ETag %s\n", (long long)id,
               cos_value_num(cos_obj_get(data, "statusCode")), cos_obj_get_str(data, "ETag"));
    }
    cos_value_free(err);
    cos_value_free(data);
}

static void put_progress(void *ud, cos_task_id id, const cos_progress *p)
{
    (void)ud;
    printf("progress (task %lld): %.0f/%.0f bytes, percent %.2f\n", (long long)id, p->loaded, p->total, p->percent);
}

static void head_done(void *ud, cos_task_id id, cos_value *err, cos_value *data)
{
    struct result *r = ud;
    (void)id;
    r->done = 1;
    if (err) {
        r->failed = 1;
        print_error("headObject", err);
    } else {
        const cos_value *headers = cos_obj_get(data, "headers"); /* lower-case names */
        printf("headObject: content-length %s\n", cos_obj_get_str(headers, "content-length"));
    }
    cos_value_free(err);
    cos_value_free(data);
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

int main(int argc, char **argv)
{
    const char *bucket = env_or("COS_BUCKET", NULL), *region = env_or("COS_REGION", NULL);
    const char *key = argc > 1 ? argv[1] : "embed/hello.txt";
    if (!bucket || !region || !env_or("COS_SECRETID", NULL) || !env_or("COS_SECRETKEY", NULL)) {
        fprintf(stderr, "usage: COS_SECRETID=.. COS_SECRETKEY=.. COS_BUCKET=.. COS_REGION=.. [COS_IP=host:port] %s [key]\n",
                argv[0]);
        return 2;
    }

    /* The client: options as the Node SDK's constructor. */
    cos_value *options = cos_obj_new();
    cos_obj_set_str(options, "SecretId", getenv("COS_SECRETID"));
    cos_obj_set_str(options, "SecretKey", getenv("COS_SECRETKEY"));
    if (env_or("COS_IP", NULL)) {
        cos_obj_set_str(options, "Ip", getenv("COS_IP"));
        cos_obj_set_str(options, "Protocol", "http:");
    }
    cos_value *err = NULL;
    cos_client *c = cos_client_new(options, &err);
    cos_value_free(options);
    if (!c) {
        print_error("cos_client_new", err);
        cos_value_free(err);
        return 1;
    }
    cos_value_free(err);

    /* putObject: params are a cos_value object (cos_start takes it), the body is separate. */
    static const char text[] = "hello from C!\n";
    cos_value *params = cos_obj_new();
    cos_obj_set_str(params, "Bucket", bucket);
    cos_obj_set_str(params, "Region", region);
    cos_obj_set_str(params, "Key", key);
    cos_obj_set_str(params, "ContentType", "text/plain");
    cos_body body = {.kind = COS_BODY_MEM, .data = text, .len = sizeof text - 1, .fd = -1, .length = sizeof text - 1};
    struct result put = {0};
    cos_callbacks cb = {.ud = &put, .on_done = put_done, .on_progress = put_progress};
    err = NULL;
    cos_task_id id = cos_start(c, "putObject", params, &body, NULL, &cb, &err);
    if (!id) { /* invalid params: nothing was queued */
        print_error("putObject", err);
        cos_value_free(err);
        cos_client_free(c);
        return 1;
    }
    cos_value_free(err);
    cos_wait(c, id); /* or cos_run(c), or cos_poll(c, ms) from your own event loop */

    /* headObject, started the same way, driven by cos_run until nothing is left. */
    struct result head = {0};
    if (!put.failed) {
        params = cos_obj_new();
        cos_obj_set_str(params, "Bucket", bucket);
        cos_obj_set_str(params, "Region", region);
        cos_obj_set_str(params, "Key", key);
        cos_callbacks hcb = {.ud = &head, .on_done = head_done};
        err = NULL;
        if (!cos_start(c, "headObject", params, NULL, NULL, &hcb, &err)) {
            print_error("headObject", err);
            head.failed = 1;
        }
        cos_value_free(err);
        cos_run(c);
    }

    cos_client_free(c);
    return put.done && !put.failed && head.done && !head.failed ? 0 : 1;
}
