/* embed_frameloop.c: lua-cos inside an engine's 60 Hz frame loop, the C API without Lua.
 *
 * Uploads every FILE given (uploadFile: one PUT for small files, a concurrent multipart upload for
 * big ones) to KEY_PREFIX<file name>, all at once. The library never blocks the loop: each frame
 * calls cos_poll(c, 0) once (it does not wait for the network), draws a progress line twice a
 * second from the on_progress figures, and sleeps until the next frame. At the end it prints the
 * number of frames and the slowest cos_poll step it saw. Exits 0 when every upload succeeded.
 *
 * Build against the installed library (make install-lib PREFIX=/usr/local):
 *   cc -std=c11 embed_frameloop.c $(pkg-config --cflags --libs lua-cos) -o embed_frameloop
 * Run:
 *   COS_SECRETID=.. COS_SECRETKEY=.. COS_BUCKET=examplebucket-1250000000 COS_REGION=ap-guangzhou \
 *     ./embed_frameloop [-p KEY_PREFIX] FILE...
 * With COS_IP=127.0.0.1:PORT it talks plain HTTP to that address (a local cosd) instead of COS. */
#define _POSIX_C_SOURCE 200809L /* clock_nanosleep */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cos.h"

#define FRAME_NS (1000000000L / 60)

/* One upload as the game sees it: filled by the callbacks, read by the frame loop. */
struct upload {
    const char *path;
    char key[1024];
    double loaded, total;
    int done, failed;
};

static void on_progress(void *ud, cos_task_id id, const cos_progress *p)
{
    struct upload *u = ud;
    (void)id;
    u->loaded = p->loaded;
    u->total = p->total;
}

static void on_done(void *ud, cos_task_id id, cos_value *err, cos_value *data)
{
    struct upload *u = ud;
    (void)id;
    u->done = 1;
    if (err) {
        u->failed = 1;
        fprintf(stderr, "%s: %s: %s\n", u->key, cos_obj_get_str(err, "code"), cos_obj_get_str(err, "message"));
    } else {
        u->loaded = u->total;
        printf("%s: done, ETag %s\n", u->key, cos_obj_get_str(data, "ETag"));
    }
    cos_value_free(err);
    cos_value_free(data);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static cos_client *client_new(void)
{
    cos_value *o = cos_obj_new(), *err = NULL;
    cos_obj_set_str(o, "SecretId", getenv("COS_SECRETID"));
    cos_obj_set_str(o, "SecretKey", getenv("COS_SECRETKEY"));
    if (getenv("COS_IP")) {
        cos_obj_set_str(o, "Ip", getenv("COS_IP"));
        cos_obj_set_str(o, "Protocol", "http:");
    }
    cos_obj_set_num(o, "ProgressInterval", 100); /* ms: fresh enough for a progress bar */
    /* The frame budget: at most 2 uploads at once with 2 parts each in flight, so one cos_poll step
     * reads, hashes and sends at most 4 x 512 KiB (docs/c-library.md, "A frame loop"). */
    cos_obj_set_num(o, "FileParallelLimit", 2);
    cos_obj_set_num(o, "ChunkParallelLimit", 2);
    cos_client *c = cos_client_new(o, &err);
    if (!c) fprintf(stderr, "cos_client_new: %s\n", cos_obj_get_str(err, "message"));
    cos_value_free(o);
    cos_value_free(err);
    return c;
}

static int start_upload(cos_client *c, struct upload *u, const char *prefix)
{
    const char *base = strrchr(u->path, '/');
    snprintf(u->key, sizeof u->key, "%s%s", prefix, base ? base + 1 : u->path);
    cos_value *p = cos_obj_new(), *err = NULL;
    cos_obj_set_str(p, "Bucket", getenv("COS_BUCKET"));
    cos_obj_set_str(p, "Region", getenv("COS_REGION"));
    cos_obj_set_str(p, "Key", u->key);
    cos_obj_set_str(p, "FilePath", u->path);
    cos_callbacks cb = {.ud = u, .on_done = on_done, .on_progress = on_progress};
    if (cos_start(c, "uploadFile", p, NULL, NULL, &cb, &err)) return 0;
    fprintf(stderr, "%s: %s\n", u->path, cos_obj_get_str(err, "message")); /* bad input: nothing queued */
    cos_value_free(err);
    u->done = u->failed = 1;
    return -1;
}

/* The HUD: one line with every upload's percentage. */
static void draw_progress(long frame, const struct upload *ups, int n)
{
    printf("frame %ld:", frame);
    for (int i = 0; i < n; i++)
        printf(" %s %3.0f%%", ups[i].key, ups[i].total > 0 ? 100.0 * ups[i].loaded / ups[i].total : 0.0);
    printf("\n");
    fflush(stdout);
}

static int all_done(const struct upload *ups, int n)
{
    for (int i = 0; i < n; i++)
        if (!ups[i].done) return 0;
    return 1;
}

/* The engine's loop: game work (none here), one cos_poll(c, 0), the HUD, sleep to the next frame. */
static void frame_loop(cos_client *c, struct upload *ups, int n)
{
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    long frame = 0;
    double slowest = 0;
    while (!all_done(ups, n)) {
        double t = now_ms();
        cos_poll(c, 0);
        t = now_ms() - t;
        if (t > slowest) slowest = t;
        if (++frame % 30 == 0) draw_progress(frame, ups, n);
        next.tv_nsec += FRAME_NS;
        if (next.tv_nsec >= 1000000000L) next.tv_sec++, next.tv_nsec -= 1000000000L;
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    draw_progress(frame, ups, n);
    printf("%ld frames, slowest cos_poll step %.1f ms\n", frame, slowest);
}

int main(int argc, char **argv)
{
    const char *prefix = "frameloop/";
    int first = 1;
    if (argc > 2 && !strcmp(argv[1], "-p")) prefix = argv[2], first = 3;
    int n = argc - first;
    if (n < 1 || !getenv("COS_SECRETID") || !getenv("COS_SECRETKEY") || !getenv("COS_BUCKET") || !getenv("COS_REGION")) {
        fprintf(stderr, "usage: COS_SECRETID=.. COS_SECRETKEY=.. COS_BUCKET=.. COS_REGION=.. [COS_IP=host:port] "
                        "%s [-p KEY_PREFIX] FILE...\n", argv[0]);
        return 2;
    }
    cos_client *c = client_new();
    struct upload *ups = calloc((size_t)n, sizeof *ups);
    if (!c || !ups) return 1;
    for (int i = 0; i < n; i++) {
        ups[i].path = argv[first + i];
        start_upload(c, &ups[i], prefix);
    }
    frame_loop(c, ups, n);
    int failed = 0;
    for (int i = 0; i < n; i++) failed += ups[i].failed;
    cos_client_free(c);
    free(ups);
    return failed ? 1 : 0;
}
