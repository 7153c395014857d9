/* upload: sliceUploadFile's entry point, uploadFile, uploadFiles, and the verified whole-file PUT
 * that small files (and empty ones) take (docs/upload-engine.md#uploadfile-and-uploadfiles). */
#include "base/params.h"
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
#include "task/queue.h"
#include "upload/stream_upload.h"
#include "base/validate.h"
#include "upload/put_file.h"
#include "upload/slice_upload.h"

#define HASH_BUF (256 * 1024)

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
