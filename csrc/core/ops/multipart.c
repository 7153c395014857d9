/* multipart: the six multipart operations, one request each: validation here, the request and
 * the reading of its answer in ops/messages.c (the same builders and readers the upload engine
 * uses). Results are shaped as the Node SDK shapes them: XML values stay strings, the Upload/Part
 * lists are always arrays, ETags keep their quotes, and Complete's Location is the SDK-built one. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/validate.h"
#include "base/params.h"
#include "client.h"
#include "http/transport.h"
#include "base/errors.h"
#include "ops/integrity.h"
#include "ops/messages.h"
#include "ops/multipart.h"
#include "ops/task_body.h"

/* ------------------------------------------------------------------------------------------ */
/* Shared plumbing                                                                             */

/* Hands the request built for t (NULL: building failed) to the engine; `done` finishes the task. */
static int submit(cos_task *t, cos_request *r, cos_req_done_fn done, cos_value **err)
{
    if (!r) return cos_error_out(err, cos_validate_error(NULL, "cannot build the %s request", t->op));
    cos_req_on_done(r, done, t);
    t->req = r;
    cos_transport_submit(r); /* on failure `done` still runs (with an error) from cos_poll */
    return 0;
}

/* Finishes t with what a reader made of the answer (data, or *err). */
static void finish_read(cos_task *t, cos_value *data, cos_value *err) { cos_task_finish(t, data ? NULL : err, data); }

/* Common object-level checks: Bucket, Region, Key, and the UploadId when `need_upload_id`. */
static cos_value *check_object(const cos_task *t, int need_upload_id)
{
    cos_value *e = cos_validate_object_params(t->params, 1);
    if (!e && need_upload_id) e = cos_validate_upload_id(t->params);
    if (!e) e = cos_validate_traffic_limit(t->params);
    return e;
}

/* A string param's value, or NULL when absent (strings, or numbers formatted as JS does). */
#define PARAM(t, name, buf) cos_param_string((t)->params, (name), (buf), sizeof(buf))

/* ------------------------------------------------------------------------------------------ */
/* multipartList (ListMultipartUploads)                                                        */

static void list_done(void *ud, cos_http_result *res)
{
    cos_value *err = NULL, *data = cos_msg_list_uploads_read(res, &err);
    finish_read(ud, data, err);
}

int cos_op_multipart_list(cos_task *t, cos_value **err)
{
    static const char *const strings[] = {"Prefix", "Delimiter", "EncodingType", "KeyMarker", "UploadIdMarker", NULL};
    static const char *const numbers[] = {"MaxUploads", NULL};
    cos_value *e = cos_validate_bucket_params(t->params);
    if (!e) e = cos_validate_optional_strings(t->params, strings, 0);
    if (!e) e = cos_validate_optional_strings(t->params, numbers, 1);
    if (e) return cos_error_out(err, e);
    cos_msg_to to = cos_msg_to_task(t);
    char km[64], im[64];
    return submit(t, cos_msg_list_uploads(&to, cos_task_str(t, "Prefix"), PARAM(t, "KeyMarker", km),
                                          PARAM(t, "UploadIdMarker", im)), list_done, err);
}

/* ------------------------------------------------------------------------------------------ */
/* multipartInit (InitiateMultipartUpload)                                                     */

static void init_done(void *ud, cos_http_result *res)
{
    cos_value *err = NULL, *data = cos_msg_initiate_read(res, &err);
    finish_read(ud, data, err);
}

int cos_op_multipart_init(cos_task *t, cos_value **err)
{
    cos_value *e = check_object(t, 0);
    if (e) return cos_error_out(err, e);
    cos_msg_to to = cos_msg_to_task(t);
    /* Content-Type by the key's extension, else sent empty (and so unsigned). */
    const char *type = mime_lookup_upload(t->client->mime, NULL, to.key);
    return submit(t, cos_msg_initiate(&to, type ? type : "", NULL), init_done, err);
}

/* ------------------------------------------------------------------------------------------ */
/* multipartUpload (UploadPart)                                                                */

static int upload_send(cos_task *t, cos_value **err);

/* Verified before it is reported, as sliceUploadFile's parts are (ops/integrity.c): a damaged
 * or unverifiable answer is an error; the first answer without CRC-64 this client meets is
 * sent again with MD5 on (a part sent again replaces the previous one). */
static void upload_done(void *ud, cos_http_result *res)
{
    cos_task *t = ud;
    t->req = NULL;
    int64_t pn = 0;
    cos_param_integer(cos_obj_get(t->params, "PartNumber"), &pn); /* validated: 1..10000 */
    cos_integrity_verdict v = cos_integrity_judge_task(t, res, (int)pn);
    if (v == COS_INTEGRITY_RECHECK) {
        cos_value *e = NULL;
        if (upload_send(t, &e) != 0) cos_task_finish(t, e, NULL);
        return;
    }
    if (v != COS_INTEGRITY_OK) return; /* finished with the error */
    cos_value *err = NULL, *data = cos_msg_upload_part_read(res, &err);
    finish_read(t, data, err);
}

/* Builds the Upload Part request from the task's body (string, fd, FilePath or pulled chunks, as
 * putObject's; a file body is hashed here when integrity.c wants its Content-MD5) and submits it. */
static int upload_send(cos_task *t, cos_value **err)
{
    if (t->body.kind == COS_BODY_NONE) return cos_error_out(err, cos_validate_error("Body", "missing param Body")); /* as the SDK */
    cos_task_body tb;
    int content = cos_integrity_wants_content_md5(t->client, COS_API_UPLOAD_PART) && t->body.kind != COS_BODY_MEM;
    if (cos_task_body_open(t, &tb, err) != 0 || (content && cos_task_body_md5(t, &tb, 1, err) != 0)) {
        cos_task_body_close(&tb);
        return -1;
    }
    int64_t pn = 0;
    cos_param_integer(cos_obj_get(t->params, "PartNumber"), &pn); /* validated: 1..10000 */
    cos_msg_to to = cos_msg_to_task(t);
    cos_request *r = cos_msg_upload_part(&to, cos_task_str(t, "UploadId"), (int)pn, &tb.msg);
    cos_task_body_close(&tb);
    if (r) cos_task_track_progress(t, r, 1);
    return submit(t, r, upload_done, err);
}

int cos_op_multipart_upload(cos_task *t, cos_value **err)
{
    cos_value *e = check_object(t, 1);
    if (!e) e = cos_validate_part_number(t->params);
    if (e) return cos_error_out(err, e);
    return upload_send(t, err);
}

/* ------------------------------------------------------------------------------------------ */
/* multipartListPart (ListParts)                                                               */

static void list_part_done(void *ud, cos_http_result *res)
{
    cos_value *err = NULL, *data = cos_msg_list_parts_read(res, &err);
    finish_read(ud, data, err);
}

int cos_op_multipart_list_part(cos_task *t, cos_value **err)
{
    static const char *const strings[] = {"EncodingType", NULL};
    static const char *const numbers[] = {"MaxParts", "PartNumberMarker", NULL};
    cos_value *e = check_object(t, 1);
    if (!e) e = cos_validate_optional_strings(t->params, strings, 0);
    if (!e) e = cos_validate_optional_strings(t->params, numbers, 1);
    if (e) return cos_error_out(err, e);
    cos_msg_to to = cos_msg_to_task(t);
    char marker[64];
    return submit(t, cos_msg_list_parts(&to, cos_task_str(t, "UploadId"), PARAM(t, "PartNumberMarker", marker)),
                  list_part_done, err);
}

/* ------------------------------------------------------------------------------------------ */
/* multipartComplete (CompleteMultipartUpload)                                                 */

static void complete_done(void *ud, cos_http_result *res)
{
    cos_task *t = ud;
    cos_msg_to to = cos_msg_to_task(t);
    cos_value *err = NULL, *data = cos_msg_complete_read(&to, res, &err);
    finish_read(t, data, err);
}

int cos_op_multipart_complete(cos_task *t, cos_value **err)
{
    cos_value *e = check_object(t, 1);
    if (!e) e = cos_validate_parts(t->params);
    if (e) return cos_error_out(err, e);
    cos_msg_to to = cos_msg_to_task(t);
    return submit(t, cos_msg_complete(&to, cos_task_str(t, "UploadId"), cos_obj_get(t->params, "Parts"), NULL),
                  complete_done, err);
}

/* ------------------------------------------------------------------------------------------ */
/* multipartAbort (AbortMultipartUpload)                                                       */

static void abort_done(void *ud, cos_http_result *res)
{
    cos_value *err = NULL, *data = cos_msg_read(res, &err);
    finish_read(ud, data, err);
}

int cos_op_multipart_abort(cos_task *t, cos_value **err)
{
    cos_value *e = check_object(t, 1);
    if (e) return cos_error_out(err, e);
    cos_msg_to to = cos_msg_to_task(t);
    return submit(t, cos_msg_abort(&to, cos_task_str(t, "UploadId")), abort_done, err);
}

/* A multipartAbort task of its own (its row of the index, operations.c), for an upload a failed
 * task left on the server: cancelTask of an "error" entry (queue.h, abort_upload). */
static const cos_operation MULTIPART_ABORT = {"multipartAbort", cos_op_multipart_abort, 0, 0};

void cos_op_multipart_abort_upload(cos_client *c, const char *bucket, const char *region, const char *key,
                                   const char *upload_id)
{
    cos_value *p = cos_obj_new();
    if (!p) return;
    if (cos_obj_set_str(p, "Bucket", bucket) || cos_obj_set_str(p, "Region", region) || cos_obj_set_str(p, "Key", key) ||
        cos_obj_set_str(p, "UploadId", upload_id)) {
        cos_value_free(p);
        return;
    }
    cos_callbacks none = {0};
    cos_value *err = NULL;
    cos_task_start(c, &MULTIPART_ABORT, MULTIPART_ABORT.name, p, NULL, NULL, &none, NULL, &err);
    cos_value_free(err);
}
