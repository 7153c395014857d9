/* parts: the parts of a multipart upload in flight, and its Complete (parts.h). */
#include "upload/parts.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "base/options.h"
#include "base/url.h"
#include "client.h"
#include "crc64.h"
#include "http/transport.h"
#include "ops/integrity.h"

void cos_parts_init(cos_parts *ps, const cos_task *t, const char *bucket, const char *region, const char *key,
                    const char *source, void *owner, const cos_parts_hooks *hooks)
{
    double r = cos_options_num(t->client->options, "ChunkRetryTimes");
    ps->retries = r < 0 ? 0 : r > 100 ? 100 : (int)r;
    ps->to = (cos_msg_to){.client = t->client, .task = t->id, .bucket = bucket, .region = region, .key = key,
                          .params = t->params, .share = COS_MSG_PARAMS_UPLOAD};
    ps->source = source;
    ps->owner = owner;
    ps->hooks = hooks;
}

/* ---------------------------------------------------------------------------------------- */
/* Parts                                                                                     */

static void part_progress(void *ud, int64_t sent, int64_t send_total, int64_t received, int64_t recv_total)
{
    cos_part *p = ud;
    (void)send_total;
    (void)received;
    (void)recv_total;
    if (p->state != COS_PART_ACTIVE || sent < 0) return;
    p->ps->inflight_bytes += sent - p->sent;
    p->sent = sent;
    p->ps->hooks->progress(p->ps->owner);
}

/* What counts as verified is integrity.c's decision; a part also needs an ETag for Complete. */
static cos_part_outcome judge(cos_parts *ps, cos_part *p, cos_http_result *res, cos_value **err)
{
    const char *etag = cos_msg_upload_part_etag(res);
    cos_value *bad = NULL;
    cos_integrity_verdict v = cos_integrity_check_part(ps->to.client, res, p->size, p->number, &bad);
    if (v == COS_INTEGRITY_OK) {
        cos_parts_confirm(ps, p, etag, res->crc64);
        return COS_PART_CONFIRMED;
    }
    /* RECHECK: sent again, now hashing MD5, its answer is checked by ETag (not a retry);
     * DAMAGED: changed in transit, sent again a bounded number of times. */
    if (v == COS_INTEGRITY_RECHECK || (v == COS_INTEGRITY_DAMAGED && p->integrity_retries < ps->retries + 1)) {
        if (v == COS_INTEGRITY_DAMAGED) p->integrity_retries++;
        cos_value_free(bad);
        return COS_PART_RESEND;
    }
    *err = bad ? bad : cos_error_new("Error", "out of memory");
    return COS_PART_FAILED;
}

static void part_done(void *ud, cos_http_result *res)
{
    cos_part *p = ud;
    cos_parts *ps = p->ps;
    p->req = NULL;
    p->state = COS_PART_TODO;
    ps->active--;
    ps->inflight_bytes -= p->sent;
    p->sent = 0;
    cos_value *err = NULL;
    cos_part_outcome o = COS_PART_FAILED;
    if (res->error) { /* the engine already retried ChunkRetryTimes times with backoff */
        err = res->error;
        res->error = NULL;
    } else {
        o = judge(ps, p, res, &err);
    }
    ps->hooks->answered(ps->owner, p, o, err);
}

int cos_parts_send(cos_parts *ps, cos_part *p, const char *upload_id, const cos_msg_body *body)
{
    cos_request *r = cos_msg_upload_part(&ps->to, upload_id, p->number, body);
    if (!r) return -1;
    cos_req_retries(r, ps->retries);
    cos_req_on_done(r, part_done, p);
    cos_req_on_progress(r, part_progress, p);
    p->ps = ps;
    p->req = r;
    p->state = COS_PART_ACTIVE;
    p->sent = 0;
    ps->active++;
    cos_transport_submit(r);
    return 0;
}

void cos_parts_confirm(cos_parts *ps, cos_part *p, const char *etag, uint64_t crc64)
{
    snprintf(p->etag, sizeof p->etag, "%s", etag);
    p->crc64 = crc64;
    if (p->state != COS_PART_DONE) ps->done_bytes += p->size;
    p->state = COS_PART_DONE;
}

void cos_parts_stop(cos_parts *ps)
{
    for (int i = 0; i < ps->n; i++) {
        cos_part *p = &ps->part[i];
        if (p->state != COS_PART_ACTIVE) continue;
        p->req = NULL;
        p->state = COS_PART_TODO;
        p->sent = 0;
    }
    ps->active = 0;
    ps->inflight_bytes = 0;
    cos_value_free(ps->pending_err);
    cos_value_free(ps->unverified);
    ps->pending_err = ps->unverified = NULL;
}

uint64_t cos_parts_crc64(const cos_parts *ps)
{
    uint64_t crc = 0;
    for (int i = 0; i < ps->n; i++)
        crc = i == 0 ? ps->part[i].crc64 : cos_crc64_combine(crc, ps->part[i].crc64, (uint64_t)ps->part[i].size);
    return crc;
}

static int64_t total_size(const cos_parts *ps)
{
    int64_t n = 0;
    for (int i = 0; i < ps->n; i++) n += ps->part[i].size;
    return n;
}

void cos_parts_free(cos_parts *ps)
{
    free(ps->upload_id);
    cos_value_free(ps->pending_err);
    cos_value_free(ps->unverified);
    ps->upload_id = NULL;
    ps->pending_err = ps->unverified = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Complete                                                                                  */

/* The upload's result: what the answer says, else what we know (Bucket, Key), and its UploadId. */
static void upload_data(cos_parts *ps, cos_value *data)
{
    if (!cos_obj_get(data, "Location")) {
        char *loc = cos_url_location(ps->to.client, ps->to.bucket, ps->to.region, ps->to.key);
        cos_obj_set_str(data, "Location", loc ? loc : "");
        free(loc);
    }
    if (!cos_obj_get_str(data, "Bucket")) cos_obj_set_str(data, "Bucket", ps->to.bucket);
    if (!cos_obj_get_str(data, "Key")) cos_obj_set_str(data, "Key", ps->to.key);
    if (!cos_obj_get_str(data, "ETag")) cos_obj_set_str(data, "ETag", "");
    cos_obj_set_str(data, "UploadId", ps->upload_id ? ps->upload_id : "");
}

static void completed(cos_parts *ps, cos_value *err, cos_value *data)
{
    if (!err && !data) err = cos_error_new("Error", "out of memory");
    ps->hooks->completed(ps->owner, err, data);
}

/* The object as a HEAD sees it is ours: our size and the parts' combined CRC-64. */
static int object_is_ours(const cos_parts *ps, const cos_http_result *res)
{
    uint64_t crc;
    const char *len = cos_obj_get_str(res->headers, "content-length");
    return !res->error && cos_integrity_header_crc64(res->headers, &crc) && crc == cos_parts_crc64(ps) && len &&
           strtoll(len, NULL, 10) == total_size(ps);
}

static void head(cos_parts *ps, cos_req_done_fn done)
{
    cos_request *r = cos_msg_head_object(&ps->to);
    if (!r) {
        done(ps, &(cos_http_result){.error = cos_error_new("Error", "out of memory")});
        return;
    }
    cos_req_on_done(r, done, ps);
    cos_transport_submit(r);
}

/* HEAD after Complete answered NoSuchUpload: if an earlier attempt did complete (its answer was
 * lost; libcurl itself resends a request whose reused connection died, so even a single attempt
 * of ours may be the second), the object is there with our CRC-64 and size: the upload succeeded. */
static void found_done(void *ud, cos_http_result *res)
{
    cos_parts *ps = ud;
    cos_value *err = ps->pending_err; /* the NoSuchUpload error, kept meanwhile */
    ps->pending_err = NULL;
    if (object_is_ours(ps, res)) {
        cos_value *herr = NULL, *data = cos_msg_head_object_read(res, &herr);
        cos_value_free(herr);
        if (data) {
            upload_data(ps, data);
            cos_value_free(err);
            completed(ps, NULL, data);
            return;
        }
    }
    cos_value_free(res->error);
    res->error = NULL;
    completed(ps, err, NULL);
}

/* Complete answered 200 without x-cos-hash-crc64ecma: the object counts as uploaded only when a
 * HEAD of it gives our size and the parts' combined CRC-64. */
static void verified_done(void *ud, cos_http_result *res)
{
    cos_parts *ps = ud;
    cos_value *data = ps->unverified;
    ps->unverified = NULL;
    if (object_is_ours(ps, res)) {
        completed(ps, NULL, data);
        return;
    }
    cos_value_free(data);
    uint64_t crc = 0, ours = cos_parts_crc64(ps);
    const char *len = cos_obj_get_str(res->headers, "content-length");
    const char *code = cos_obj_get_str(res->error, "code");
    cos_value *err;
    if (res->error)
        err = cos_error_newf("UnverifiedUpload", "Complete Multipart Upload answered 200 without "
                             "x-cos-hash-crc64ecma, and the object could not be checked: HEAD answered %d %.100s",
                             res->status_code, code ? code : "");
    else if (!cos_integrity_header_crc64(res->headers, &crc))
        err = cos_error_newf("UnverifiedUpload", "Complete Multipart Upload answered 200 without "
                             "x-cos-hash-crc64ecma, and a HEAD of the object gives none either: the object "
                             "could not be verified");
    else if (crc != ours)
        err = cos_error_newf("IntegrityError", "the object's x-cos-hash-crc64ecma %" PRIu64 " (from HEAD) is not "
                             "the CRC-64 %" PRIu64 " of the %s's parts", crc, ours, ps->source);
    else
        err = cos_error_newf("IntegrityError", "the object's size %.40s (from HEAD) is not the %s's %" PRId64,
                             len ? len : "(none)", ps->source, total_size(ps));
    cos_value_free(res->error);
    res->error = NULL;
    completed(ps, err, NULL);
}

static void complete_send(cos_parts *ps);

static void complete_done(void *ud, cos_http_result *res)
{
    cos_parts *ps = ud;
    cos_value *err = NULL, *data = cos_msg_complete_read(&ps->to, res, &err);
    if (!data) {
        const char *code = cos_obj_get_str(err, "code");
        if (cos_msg_complete_retryable(err) && ps->complete_attempts <= ps->retries) {
            cos_value_free(err);
            complete_send(ps);
        } else if (code && strcmp(code, "NoSuchUpload") == 0) {
            ps->pending_err = err;
            head(ps, found_done);
        } else {
            completed(ps, err, NULL);
        }
        return;
    }
    uint64_t server_crc, ours = cos_parts_crc64(ps);
    int has_crc = cos_integrity_header_crc64(cos_obj_get(data, "headers"), &server_crc);
    if (has_crc && server_crc != ours) {
        cos_value_free(data);
        completed(ps, cos_error_newf("IntegrityError", "the object's x-cos-hash-crc64ecma %" PRIu64
                                     " is not the CRC-64 %" PRIu64 " of the %s's parts", server_crc, ours, ps->source),
                  NULL);
        return;
    }
    upload_data(ps, data);
    if (!has_crc) { /* a 200 alone proves nothing about the object: ask for its CRC-64 */
        ps->unverified = data;
        head(ps, verified_done);
        return;
    }
    completed(ps, NULL, data);
}

/* The parts as Complete lists them: {PartNumber, ETag} in part order. */
static cos_value *part_list(const cos_parts *ps)
{
    cos_value *parts = cos_arr_new();
    for (int i = 0; i < ps->n && parts; i++) {
        cos_value *p = cos_obj_new();
        if (!p || cos_obj_set_num(p, "PartNumber", ps->part[i].number) || cos_obj_set_str(p, "ETag", ps->part[i].etag)) {
            cos_value_free(p);
            cos_value_free(parts);
            return NULL;
        }
        if (cos_arr_push(parts, p) != 0) { /* p is taken either way */
            cos_value_free(parts);
            return NULL;
        }
    }
    return parts;
}

static void complete_send(cos_parts *ps)
{
    cos_value *parts = part_list(ps);
    const char *meta = ps->meta_md5[0] ? ps->meta_md5 : NULL;
    cos_request *r = parts ? cos_msg_complete(&ps->to, ps->upload_id, parts, meta) : NULL;
    cos_value_free(parts);
    if (!r) {
        completed(ps, cos_error_newf("Error", "cannot build CompleteMultipartUpload"), NULL);
        return;
    }
    ps->complete_attempts++;
    cos_req_on_done(r, complete_done, ps);
    cos_transport_submit(r);
}

void cos_parts_complete(cos_parts *ps, const char *upload_id, const char *meta_md5)
{
    free(ps->upload_id);
    ps->upload_id = strdup(upload_id ? upload_id : "");
    snprintf(ps->meta_md5, sizeof ps->meta_md5, "%s", meta_md5 ? meta_md5 : "");
    if (!ps->upload_id) {
        completed(ps, cos_error_new("Error", "out of memory"), NULL);
        return;
    }
    complete_send(ps);
}
