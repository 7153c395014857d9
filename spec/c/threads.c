/* threads.c (spec/clib_spec.lua): clients on different threads are independent.
 *
 * One thread per FILE argument. The threads wait at a barrier, then each at once creates its own
 * client (so the library's one-time initialisation races), starts sliceUploadFile of its file to
 * KEY_PREFIX<index> and drives it with cos_run. Every callback must arrive on the thread that
 * drives the client. Prints "thread N: ok ETag" per success and exits 0 only if all succeeded.
 *
 *   COS_IP=127.0.0.1:PORT COS_SECRETID=.. COS_SECRETKEY=.. COS_BUCKET=.. COS_REGION=.. \
 *     threads KEY_PREFIX FILE...
 */
#define _POSIX_C_SOURCE 200809L /* pthread_barrier_t */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cos.h"

struct job {
    int index;
    const char *prefix, *path;
    pthread_t self;
    int progress_calls, wrong_thread, ok;
    char message[256];
};

static pthread_barrier_t start_line;

static void on_progress(void *ud, cos_task_id id, const cos_progress *p)
{
    struct job *j = ud;
    (void)id, (void)p;
    j->progress_calls++;
    if (!pthread_equal(pthread_self(), j->self)) j->wrong_thread = 1;
}

static void on_done(void *ud, cos_task_id id, cos_value *err, cos_value *data)
{
    struct job *j = ud;
    (void)id;
    if (!pthread_equal(pthread_self(), j->self)) j->wrong_thread = 1;
    if (err) {
        snprintf(j->message, sizeof j->message, "%s: %s", cos_obj_get_str(err, "code"),
                 cos_obj_get_str(err, "message"));
    } else {
        j->ok = 1;
        snprintf(j->message, sizeof j->message, "%s", cos_obj_get_str(data, "ETag"));
    }
    cos_value_free(err);
    cos_value_free(data);
}

static cos_client *client_new(struct job *j)
{
    cos_value *o = cos_obj_new(), *err = NULL;
    cos_obj_set_str(o, "SecretId", getenv("COS_SECRETID"));
    cos_obj_set_str(o, "SecretKey", getenv("COS_SECRETKEY"));
    cos_obj_set_str(o, "Ip", getenv("COS_IP"));
    cos_obj_set_str(o, "Protocol", "http:");
    cos_obj_set_num(o, "ChunkParallelLimit", 4);
    cos_client *c = cos_client_new(o, &err);
    if (!c) snprintf(j->message, sizeof j->message, "cos_client_new: %s", cos_obj_get_str(err, "message"));
    cos_value_free(o);
    cos_value_free(err);
    return c;
}

static void upload(struct job *j, cos_client *c)
{
    char key[512];
    snprintf(key, sizeof key, "%s%d", j->prefix, j->index);
    cos_value *p = cos_obj_new(), *err = NULL;
    cos_obj_set_str(p, "Bucket", getenv("COS_BUCKET"));
    cos_obj_set_str(p, "Region", getenv("COS_REGION"));
    cos_obj_set_str(p, "Key", key);
    cos_obj_set_str(p, "FilePath", j->path);
    cos_obj_set_num(p, "ChunkSize", 4 * 1024 * 1024);
    cos_callbacks cb = {.ud = j, .on_done = on_done, .on_progress = on_progress};
    if (!cos_start(c, "sliceUploadFile", p, NULL, NULL, &cb, &err))
        snprintf(j->message, sizeof j->message, "cos_start: %s", cos_obj_get_str(err, "message"));
    cos_value_free(err);
    cos_run(c);
}

static void *worker(void *arg)
{
    struct job *j = arg;
    j->self = pthread_self();
    pthread_barrier_wait(&start_line);
    cos_client *c = client_new(j);
    if (c) upload(j, c);
    cos_client_free(c);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3 || !getenv("COS_IP") || !getenv("COS_BUCKET") || !getenv("COS_REGION")) {
        fprintf(stderr, "usage: COS_IP=.. COS_SECRETID=.. COS_SECRETKEY=.. COS_BUCKET=.. COS_REGION=.. %s KEY_PREFIX FILE...\n",
                argv[0]);
        return 2;
    }
    int n = argc - 2, failed = 0;
    struct job *jobs = calloc((size_t)n, sizeof *jobs);
    pthread_t *tids = calloc((size_t)n, sizeof *tids);
    if (!jobs || !tids || pthread_barrier_init(&start_line, NULL, (unsigned)n) != 0) return 1;
    for (int i = 0; i < n; i++) {
        jobs[i] = (struct job){.index = i, .prefix = argv[1], .path = argv[i + 2]};
        if (pthread_create(&tids[i], NULL, worker, &jobs[i]) != 0) return 1;
    }
    for (int i = 0; i < n; i++) pthread_join(tids[i], NULL);
    for (int i = 0; i < n; i++) {
        struct job *j = &jobs[i];
        int good = j->ok && !j->wrong_thread && j->progress_calls > 0;
        printf("thread %d: %s %s (progress calls %d%s)\n", i, good ? "ok" : "FAILED", j->message,
               j->progress_calls, j->wrong_thread ? ", a callback ran on another thread" : "");
        failed += !good;
    }
    pthread_barrier_destroy(&start_line);
    free(jobs);
    free(tids);
    return failed ? 1 : 0;
}
