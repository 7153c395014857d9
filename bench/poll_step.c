/* poll_step.c: what one cos_poll(c, 0) step costs a host's loop while a big upload runs.
 *
 * Uploads FILE with sliceUploadFile (ChunkSize and ChunkParallelLimit from the arguments), driven
 * only by cos_poll(c, 0) steps with SLEEP_US microseconds between them (outside the library, as a
 * host's frame would), times every step and prints the distribution and the throughput.
 *
 *   COS_IP=127.0.0.1:PORT COS_SECRETID=.. COS_SECRETKEY=.. COS_BUCKET=.. COS_REGION=.. \
 *     poll_step FILE [chunk_mib=8] [parallel=4] [sleep_us=0]
 *
 * sleep_us = run: the same upload driven by cos_run() instead, for the poll-driven / run ratio.
 *
 * `make bench-poll` builds it, starts a cosd on tmpfs and runs it on a 256 MiB file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cos.h"

struct run {
    int done, failed;
    double loaded; /* bytes sent so far, from on_progress (ProgressInterval 0: every step) */
};

static double clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double now_ms(void) { return clock_ms(CLOCK_MONOTONIC); }

static void on_done(void *ud, cos_task_id id, cos_value *err, cos_value *data)
{
    struct run *r = ud;
    (void)id;
    r->done = 1;
    if (err) {
        r->failed = 1;
        fprintf(stderr, "upload failed: %s: %s\n", cos_obj_get_str(err, "code"), cos_obj_get_str(err, "message"));
    }
    cos_value_free(err);
    cos_value_free(data);
}

static void on_progress(void *ud, cos_task_id id, const cos_progress *p)
{
    struct run *r = ud;
    (void)id;
    r->loaded = p->loaded;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static cos_client *client_new(int parallel)
{
    cos_value *o = cos_obj_new(), *err = NULL;
    cos_obj_set_str(o, "SecretId", getenv("COS_SECRETID"));
    cos_obj_set_str(o, "SecretKey", getenv("COS_SECRETKEY"));
    cos_obj_set_str(o, "Ip", getenv("COS_IP"));
    cos_obj_set_str(o, "Protocol", "http:");
    cos_obj_set_num(o, "ChunkParallelLimit", parallel);
    cos_obj_set_num(o, "ProgressInterval", 0);
    cos_client *c = cos_client_new(o, &err);
    cos_value_free(o);
    if (!c) fprintf(stderr, "cos_client_new: %s\n", cos_obj_get_str(err, "message"));
    cos_value_free(err);
    return c;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !getenv("COS_IP") || !getenv("COS_BUCKET") || !getenv("COS_REGION")) {
        fprintf(stderr, "usage: COS_IP=.. COS_SECRETID=.. COS_SECRETKEY=.. COS_BUCKET=.. COS_REGION=.. %s FILE "
                        "[chunk_mib] [parallel] [sleep_us]\n", argv[0]);
        return 2;
    }
    double chunk_mib = argc > 2 ? atof(argv[2]) : 8;
    int parallel = argc > 3 ? atoi(argv[3]) : 4;
    int use_run = argc > 4 && strcmp(argv[4], "run") == 0;
    long sleep_us = argc > 4 && !use_run ? atol(argv[4]) : 0;
    struct stat st;
    if (stat(argv[1], &st) != 0) return perror(argv[1]), 1;
    cos_client *c = client_new(parallel);
    if (!c) return 1;

    cos_value *p = cos_obj_new(), *err = NULL;
    cos_obj_set_str(p, "Bucket", getenv("COS_BUCKET"));
    cos_obj_set_str(p, "Region", getenv("COS_REGION"));
    cos_obj_set_str(p, "Key", "bench/poll-step.bin");
    cos_obj_set_str(p, "FilePath", argv[1]);
    cos_obj_set_num(p, "ChunkSize", chunk_mib * 1024 * 1024);
    struct run r = {0};
    cos_callbacks cb = {.ud = &r, .on_done = on_done, .on_progress = on_progress};
    if (!cos_start(c, "sliceUploadFile", p, NULL, NULL, &cb, &err)) {
        fprintf(stderr, "cos_start: %s\n", cos_obj_get_str(err, "message"));
        return 1;
    }

    /* Wall time per step, and the thread's CPU time per step: on a loaded machine the wall figure
     * also holds the time the scheduler gave to others (cosd among them). */
    size_t n = 0, cap = 1 << 16, worst = 0;
    double most_sent = 0; /* the most bytes one step sent */
    double *steps = malloc(cap * sizeof *steps), *cpu = malloc(cap * sizeof *cpu), t0 = now_ms();
    if (use_run) {
        cos_run(c);
        double wall = now_ms() - t0;
        cos_client_free(c);
        free(steps);
        free(cpu);
        if (r.failed) return 1;
        printf("poll_step: %.0f MiB, %.0f MiB parts, %d in flight, cos_run()\n", (double)st.st_size / 1048576,
               chunk_mib, parallel);
        printf("poll_step: run in %.1f s, %.0f MB/s\n", wall / 1e3, (double)st.st_size / 1e6 / (wall / 1e3));
        return 0;
    }
    while (!r.done && steps && cpu) {
        double a = now_ms(), ac = clock_ms(CLOCK_THREAD_CPUTIME_ID), before = r.loaded;
        cos_poll(c, 0);
        if (r.loaded - before > most_sent) most_sent = r.loaded - before;
        if (n == cap) {
            cap *= 2;
            steps = realloc(steps, cap * sizeof *steps);
            cpu = realloc(cpu, cap * sizeof *cpu);
            if (!steps || !cpu) break;
        }
        cpu[n] = clock_ms(CLOCK_THREAD_CPUTIME_ID) - ac;
        steps[n] = now_ms() - a;
        if (cpu[n] > cpu[worst]) worst = n;
        n++;
        if (sleep_us > 0) usleep((useconds_t)sleep_us);
    }
    double wall = now_ms() - t0;
    cos_client_free(c);
    if (!steps || !cpu || r.failed) return 1;
    double worst_cpu = cpu[worst];
    qsort(steps, n, sizeof *steps, cmp_double);
    qsort(cpu, n, sizeof *cpu, cmp_double);
    printf("poll_step: %.0f MiB, %.0f MiB parts, %d in flight, %ld us between steps\n",
           (double)st.st_size / 1048576, chunk_mib, parallel, sleep_us);
    printf("poll_step: %zu steps in %.1f s, %.0f MB/s\n", n, wall / 1e3, (double)st.st_size / 1e6 / (wall / 1e3));
    printf("poll_step: wall median %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms\n", steps[n / 2],
           steps[(size_t)((double)n * 0.99)], steps[(size_t)((double)n * 0.999)], steps[n - 1]);
    printf("poll_step: cpu  median %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms\n", cpu[n / 2],
           cpu[(size_t)((double)n * 0.99)], cpu[(size_t)((double)n * 0.999)], cpu[n - 1]);
    printf("poll_step: the most bytes sent in one step: %.0f KiB\n", most_sent / 1024);
    printf("poll_step: the step with the most CPU (%.3f ms) was step %zu of %zu\n", worst_cpu, worst + 1, n);
    free(steps);
    free(cpu);
    return 0;
}
