/* stream_read.c (spec/stream_c_spec.lua): sliceUploadFile from a stream in C, without Lua.
 *
 *   stream_read callback KEY BYTES   uploads BYTES bytes of a pattern produced by an on_read
 *                                    callback that hands out 1, 7 and 65536 bytes in turn and
 *                                    answers COS_READ_AGAIN every third call
 *   stream_read fd KEY               uploads standard input (a pipe) as a COS_BODY_STREAM with no
 *                                    on_read: the core reads the descriptor itself
 * Environment: COS_IP, COS_SECRETID, COS_SECRETKEY, COS_BUCKET, COS_REGION. Prints
 * "ok <ETag> <bytes>" or "error <code> <message>"; exit status 0 only on success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cos.h"

struct source {
    long long left, given;
    unsigned calls;
    int ok;
    double loaded;
};

static long on_read(void *ud, cos_task_id id, void *buf, size_t cap, cos_value **err)
{
    struct source *s = ud;
    static const size_t sizes[] = {1, 7, 65536};
    (void)id, (void)err;
    if (++s->calls % 3 == 0) return COS_READ_AGAIN; /* a source that is not always ready */
    size_t n = sizes[s->calls % 3];
    if (n > cap) n = cap;
    if ((long long)n > s->left) n = (size_t)s->left;
    for (size_t i = 0; i < n; i++) ((unsigned char *)buf)[i] = (unsigned char)((s->given + (long long)i) * 31 % 251);
    s->left -= (long long)n;
    s->given += (long long)n;
    return (long)n;
}

static void on_progress(void *ud, cos_task_id id, const cos_progress *p)
{
    (void)id;
    ((struct source *)ud)->loaded = p->loaded;
}

static void on_done(void *ud, cos_task_id id, cos_value *err, cos_value *data)
{
    struct source *s = ud;
    (void)id;
    if (err) printf("error %s %s\n", cos_obj_get_str(err, "code"), cos_obj_get_str(err, "message"));
    else printf("ok %s %.0f\n", cos_obj_get_str(data, "ETag"), s->loaded);
    s->ok = !err;
    cos_value_free(err);
    cos_value_free(data);
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    int from_fd = strcmp(argv[1], "fd") == 0;
    cos_value *o = cos_obj_new(), *err = NULL;
    cos_obj_set_str(o, "SecretId", getenv("COS_SECRETID"));
    cos_obj_set_str(o, "SecretKey", getenv("COS_SECRETKEY"));
    cos_obj_set_str(o, "Ip", getenv("COS_IP"));
    cos_obj_set_str(o, "Protocol", "http:");
    cos_obj_set_num(o, "ChunkSize", 1048576);
    cos_client *c = cos_client_new(o, &err);
    cos_value_free(o);
    if (!c) return 3;
    struct source s = {.left = argc > 3 ? atoll(argv[3]) : 0};
    cos_value *p = cos_obj_new();
    cos_obj_set_str(p, "Bucket", getenv("COS_BUCKET"));
    cos_obj_set_str(p, "Region", getenv("COS_REGION"));
    cos_obj_set_str(p, "Key", argv[2]);
    cos_body body = {.kind = COS_BODY_STREAM, .fd = from_fd ? 0 : -1, .length = -1};
    cos_callbacks cb = {.ud = &s, .on_done = on_done, .on_progress = on_progress, .on_read = from_fd ? NULL : on_read};
    if (!cos_start(c, "sliceUploadFile", p, &body, NULL, &cb, &err)) {
        printf("error %s %s\n", cos_obj_get_str(err, "code"), cos_obj_get_str(err, "message"));
        cos_value_free(err);
        cos_client_free(c);
        return 1;
    }
    cos_run(c);
    cos_client_free(c);
    return s.ok ? 0 : 1;
}
