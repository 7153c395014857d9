/* upload: sliceUploadFile's entry point, uploadFile, uploadFiles, and the verified whole-file PUT
 * that small files (and empty ones) take (docs/upload-engine.md#uploadfile-and-uploadfiles). */
#include "base/url.h"
#include "base/options.h"
#include "base/errors.h"
#include "upload/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "crc64.h"
#include "upload/integrity.h"
#include "ops/ops.h"
#include "task/queue.h"
#include "upload/stream_upload.h"
#include "base/validate.h"

#define HASH_BUF (256 * 1024)

/* ---------------------------------------------------------------------------------------- */
/* Shared helpers                                                                            */

int cos_upload_hash_range(int fd, int64_t off, int64_t len, unsigned char md5[16], uint64_t *crc)
{
    unsigned char *buf = malloc(HASH_BUF);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = buf && ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 ? 0 : -1;
    uint64_t c = 0;
    while (rc == 0 && len > 0) {
        size_t want = len < HASH_BUF ? (size_t)len : HASH_BUF;
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO; /* the file shrank */
            rc = -1;
            break;
        }
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        c = cos_crc64_update(c, buf, (size_t)n);
        off += n;
        len -= n;
    }
    unsigned int mdlen = 0;
    if (rc == 0 && EVP_DigestFinal_ex(ctx, md5, &mdlen) != 1) rc = -1;
    if (crc) *crc = c;
    EVP_MD_CTX_free(ctx);
    free(buf);
    return rc;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int cos_upload_etag_matches(const char *etag, const unsigned char md5[16])
{
    if (!etag) return -1;
    size_t n = strlen(etag);
    if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
        etag++;
        n -= 2;
    }
    if (n != 32) return -1;
    unsigned char got[16];
    for (int i = 0; i < 16; i++) {
        int h = hexval(etag[2 * i]), l = hexval(etag[2 * i + 1]);
        if (h < 0 || l < 0) return -1;
        got[i] = (unsigned char)(h * 16 + l);
    }
    return memcmp(got, md5, 16) == 0 ? 1 : 0;
}

int cos_upload_header_crc64(const cos_value *headers, uint64_t *out)
{
    const char *s = cos_obj_get_str(headers, "x-cos-hash-crc64ecma");
    if (!s || !*s) return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || !end || *end) return 0;
    *out = (uint64_t)v;
    return 1;
}

char *cos_upload_location(cos_task *t)
{
    return cos_url_location(t->client, cos_task_str(t, "Bucket"), cos_task_str(t, "Region"), cos_task_key(t));
}

char *cos_upload_abspath(const char *path)
{
    char buf[PATH_MAX];
    if (realpath(path, buf)) return strdup(buf);
    if (path[0] == '/' || !getcwd(buf, sizeof buf)) return strdup(path);
    char *s = NULL; /* a path that does not exist (yet): cwd/path, unnormalised */
    return asprintf(&s, "%s/%s", buf, path) < 0 ? NULL : s;
}

static void hex16(const unsigned char md5[16], char out[33])
{
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", md5[i]);
}

int cos_upload_file_md5_hex(const char *path, char out[33])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* never blocks on a FIFO */
    struct stat st;
    if (fd < 0) return -1;
    unsigned char md5[16];
    int rc = fstat(fd, &st) == 0 ? cos_upload_hash_range(fd, 0, st.st_size, md5, NULL) : -1;
    int e = errno;
    close(fd);
    if (rc == 0) hex16(md5, out);
    errno = e;
    return rc;
}

static int want_meta_md5(const cos_task *t)
{
    const cos_value *v = cos_obj_get(t->params, "UploadAddMetaMd5");
    return cos_value_type(v) == COS_BOOL ? cos_value_bool(v) : cos_value_type(v) == COS_STR || (cos_value_type(v) == COS_NUM && cos_value_num(v) != 0);
}

/* ---------------------------------------------------------------------------------------- */
/* The verified whole-file PUT                                                               */

typedef struct put_file {
    cos_task *t;
    char *path;      /* NULL: the task's memory body */
    int64_t size;
    int integrity_retries;
    int want_md5;
    char meta_md5[33];
} put_file;

static int put_submit(put_file *pf);

static void put_done(void *ud, cos_http_result *res)
{
    put_file *pf = ud;
    cos_task *t = pf->t;
    if (res->error) {
        cos_value *e = res->error;
        res->error = NULL;
        cos_task_finish(t, e, NULL);
        return;
    }
    const char *etag = cos_obj_get_str(res->headers, "etag");
    cos_value *bad = NULL;
    cos_integrity_verdict v = cos_integrity_check(t->client, res, pf->size, "", &bad);
    if (v != COS_INTEGRITY_OK) {
        /* Sent again: a PUT replaces the object, so the damaged copy does not survive. A RECHECK
         * (no CRC-64, MD5 now on) is not counted: it happens once per client. */
        int again = v == COS_INTEGRITY_RECHECK || (v == COS_INTEGRITY_DAMAGED && pf->integrity_retries++ < 2);
        if (again && put_submit(pf) == 0) {
            cos_value_free(bad);
            return;
        }
        cos_task_finish(t, bad, NULL);
        return;
    }
    cos_value *data = cos_result_data(res);
    if (!data) {
        cos_task_finish(t, cos_error_newf("Error", "out of memory"), NULL);
        return;
    }
    char *loc = cos_upload_location(t);
    cos_obj_set_str(data, "Location", loc ? loc : "");
    free(loc);
    cos_obj_set_str(data, "ETag", etag ? etag : "");
    cos_task_finish(t, NULL, data);
}

static int attach_put_body(put_file *pf, cos_request *r)
{
    cos_task *t = pf->t;
    if (!pf->path) {
        const void *data = t->body.kind == COS_BODY_MEM ? t->body.data : "";
        size_t len = t->body.kind == COS_BODY_MEM ? t->body.len : 0;
        return cos_req_body_mem(r, data ? data : "", len); /* a copy: restart sends it again */
    }
    int rc = 0;
    if (pf->size == 0) {
        rc = cos_req_body_mem(r, "", 0); /* an empty file */
    } else {
        /* O_NONBLOCK: never hang on a FIFO swapped in since validation. */
        int fd = open(pf->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        struct stat st;
        if (fd < 0) return -1;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            errno = S_ISREG(st.st_mode) ? errno : EINVAL;
            close(fd);
            return -1;
        }
        rc = cos_req_body_fd(r, fd, 0, pf->size);
        close(fd);
    }
    const char *type = mime_lookup_upload(t->client->mime, pf->path, cos_task_key(t));
    if (!type && pf->path) type = "application/octet-stream";
    if (rc == 0 && type && !cos_req_get_header(r, "Content-Type")) rc = cos_req_header(r, "Content-Type", type);
    return rc;
}

/* One attempt chain of the PUT (the engine retries 5xx and network errors with backoff). */
static int put_submit(put_file *pf)
{
    cos_task *t = pf->t;
    cos_request *r = cos_task_request(t, "PUT", cos_task_key(t), 1);
    if (!r) return -1;
    int rc = cos_req_get_header(r, "Cache-Control") ? 0 : cos_req_header(r, "Cache-Control", "");
    if (!rc && pf->want_md5) rc = cos_req_header(r, "x-cos-meta-md5", pf->meta_md5);
    if (!rc) {
        errno = 0;
        rc = attach_put_body(pf, r);
        if (rc && errno && pf->path) { /* the file's own error (EACCES, ...), not a generic one */
            int e = errno;
            cos_req_free(r);
            errno = e;
            return -2;
        }
    }
    if (rc) {
        cos_req_free(r);
        return -1;
    }
    cos_req_hash(r, cos_integrity_stream_hashes(t->client, 1));
    cos_req_on_done(r, put_done, pf);
    return cos_req_submit(r);
}

static void put_run(cos_task *t)
{
    put_file *pf = t->op_state;
    if (pf->path && pf->size > 0) { /* the size was taken at the call; the file may have changed since */
        struct stat st;
        if (stat(pf->path, &st) != 0) {
            cos_task_finish(t, cos_error_errno(errno, "stat", pf->path), NULL);
            return;
        }
        if (S_ISREG(st.st_mode)) pf->size = st.st_size;
        cos_queue_set_size(t, (double)pf->size);
    }
    if (pf->want_md5 && !*pf->meta_md5) {
        unsigned char md5[16];
        if (pf->path && pf->size > 0) {
            if (cos_upload_file_md5_hex(pf->path, pf->meta_md5) != 0) {
                cos_task_finish(t, cos_error_errno(errno, "read", pf->path), NULL);
                return;
            }
        } else {
            const void *d = !pf->path && t->body.kind == COS_BODY_MEM ? t->body.data : "";
            size_t n = !pf->path && t->body.kind == COS_BODY_MEM ? t->body.len : 0;
            EVP_Digest(d ? d : "", n, md5, NULL, EVP_md5(), NULL);
            hex16(md5, pf->meta_md5);
        }
    }
    cos_task_progress_now(t, 0, (double)pf->size); /* the start emission: "uploading" */
    int rc = put_submit(pf);
    if (rc == -2) cos_task_finish(t, cos_error_errno(errno, "open", pf->path), NULL);
    else if (rc != 0) cos_task_finish(t, cos_error_newf("Error", "cannot build the PUT request"), NULL);
}

static void put_stop(cos_task *t) { cos_engine_abort_task(t->client, t->id); }

static const cos_queue_ops PUT_OPS = {put_run, put_stop, NULL, NULL};

static void put_abort(cos_task *t) { cos_engine_abort_task(t->client, t->id); }

static void put_free(void *ud)
{
    put_file *pf = ud;
    if (!pf) return;
    free(pf->path);
    free(pf);
}

int cos_put_file_start(cos_task *t, const char *path, int64_t size, int file_finish, cos_value **err)
{
    put_file *pf = calloc(1, sizeof *pf);
    if (!pf || (path && !(pf->path = strdup(path)))) {
        put_free(pf);
        *err = cos_error_newf("Error", "out of memory");
        return -1;
    }
    pf->t = t;
    pf->size = size;
    pf->want_md5 = want_meta_md5(t);
    t->op_state = pf;
    t->op_free = put_free;
    t->op_abort = put_abort;
    if (cos_queue_add(t, path, (double)size, &PUT_OPS, file_finish) != 0) {
        t->op_state = NULL;
        t->op_free = NULL;
        t->op_abort = NULL;
        put_free(pf);
        *err = cos_error_newf("Error", "out of memory");
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* sliceUploadFile and uploadFile                                                            */

static int fail_with(cos_value **err, cos_value *e)
{
    *err = e ? e : cos_error_newf("Error", "out of memory");
    return -1;
}

/* Bucket, Region, Key (not ending in '/'), traffic limit; and a FilePath unless a memory Body
 * is allowed and given. */
static cos_value *validate_file_params(cos_task *t, int body_ok)
{
    cos_value *e = cos_validate_object_params(t->params, 1);
    if (!e) e = cos_validate_file_key(t->params);
    if (!e) e = cos_validate_traffic_limit(t->params);
    if (e) return e;
    if (body_ok && t->body.kind == COS_BODY_MEM) return NULL;
    const cos_value *fp = cos_obj_get(t->params, "FilePath");
    if (cos_value_type(fp) == COS_NIL && t->body.kind != COS_BODY_PATH)
        return cos_validate_error("FilePath", "missing param FilePath");
    if (cos_value_type(fp) != COS_NIL && (cos_value_type(fp) != COS_STR || !*cos_value_str(fp, NULL)))
        return cos_validate_error("FilePath", "FilePath must be a non-empty string");
    return NULL;
}

static const char *file_path_of(const cos_task *t)
{
    return t->body.kind == COS_BODY_PATH && t->body.path ? t->body.path : cos_obj_get_str(t->params, "FilePath");
}

/* stat of the file to upload; a failure finishes the task with the raw fs error, delivered from
 * cos_poll like every result (the SDK's uploadFile calls back with the fs.stat error). */
static int stat_or_finish(cos_task *t, const char *path, struct stat *st)
{
    if (stat(path, st) == 0) return 0;
    cos_task_finish(t, cos_error_errno(errno, "stat", path), NULL);
    return -1;
}

int cos_op_slice_upload_file(cos_task *t, cos_value **err)
{
    if (t->body.kind == COS_BODY_STREAM) return cos_stream_upload_op(t, 0, err);
    cos_value *e = validate_file_params(t, 0);
    if (e) return fail_with(err, e);
    const char *path = file_path_of(t);
    struct stat st;
    if (stat_or_finish(t, path, &st) != 0) return 0;
    if (!S_ISREG(st.st_mode)) /* cos_validate_call refused it already; the file changed since */
        return fail_with(err, cos_validate_error("FilePath", "param FilePath must be a regular file: '%s'", path));
    if (st.st_size == 0) return cos_put_file_start(t, path, 0, 0, err); /* empty -> putObject, as the SDK */
    return cos_slice_upload_start(t, path, &st, 0, err);
}

/* uploadFile's threshold: size <= SliceSize goes through one PUT. */
static int64_t slice_threshold(const cos_task *t)
{
    int64_t v;
    if (cos_param_integer(cos_obj_get(t->params, "SliceSize"), &v) == 0 && v >= 0) return v;
    return (int64_t)cos_options_num(t->client->options, "SliceSize");
}

int cos_op_upload_file(cos_task *t, cos_value **err)
{
    if (t->body.kind == COS_BODY_STREAM) return cos_stream_upload_op(t, 1, err);
    cos_value *e = validate_file_params(t, 1);
    if (e) return fail_with(err, e);
    if (t->body.kind == COS_BODY_MEM) return cos_put_file_start(t, NULL, (int64_t)t->body.len, 1, err);
    const char *path = file_path_of(t);
    struct stat st;
    if (stat_or_finish(t, path, &st) != 0) return 0;
    if (!S_ISREG(st.st_mode)) /* cos_validate_call refused it already; the file changed since */
        return fail_with(err, cos_validate_error("FilePath", "param FilePath must be a regular file: '%s'", path));
    if (st.st_size <= slice_threshold(t)) return cos_put_file_start(t, path, st.st_size, 1, err);
    return cos_slice_upload_start(t, path, &st, 1, err);
}
