/* stream_upload: sliceUploadFile and uploadFile with a Body that is a stream of unknown length
 * (COS_BODY_STREAM: a Lua reader, an io handle, a pipe, a C read callback).
 *
 * Memory is bounded: the stream is cut into part buffers, at most `concurrency` of them at any
 * time (the one being filled, and the parts cut but not yet confirmed: sent, or waiting to be
 * sent), so memory is ChunkParallelLimit x part size whatever the stream's length. A held buffer is what lets
 * a part be retried (5xx, reset, integrity mismatch) and a paused upload continue; it is freed
 * once the server confirmed the part.
 *
 * Phases of one run:
 *   reading   the first bytes are buffered until they pass the single-PUT threshold (uploadFile:
 *             min(SliceSize, first part size); sliceUploadFile: 0) or the stream ends;
 *   put       a stream that ended within the threshold goes as one verified PUT;
 *   init      Initiate Multipart Upload (reading goes on meanwhile);
 *   parts     each full buffer becomes a part, sent from memory while the engine hashes it (what
 *             it hashes and what confirms a part is integrity.c's policy, as for file parts) or
 *             sent again; when the stream has ended and every part is confirmed,
 *             Complete, whose CRC-64 must equal the parts' CRCs combined.
 * Reading happens only in the pump, which cos_poll calls once per step: one step reads at most
 * STEP_BYTES (in slices the source hands over), and only while a buffer is free.
 *
 * Nothing here can be resumed by another process (the bytes are gone once sent): there is no
 * checkpoint, a failure aborts the multipart upload on the server, and restartTask after an
 * error is refused (the queue keeps no params for a stream). Pause keeps the buffers. */
#include "http/transport.h"
#include "base/options.h"
#include "base/errors.h"
#include "upload/stream_upload.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "crc64.h"
#include "ops/ops.h"
#include "ops/integrity.h"
#include "task/queue.h"
#include "upload/stream_source.h"
#include "base/validate.h"
#include "base/xml.h"

#define MIB ((int64_t)1024 * 1024)
#define DEFAULT_CHUNK_SIZE (8 * MIB) /* as sliceUploadFile's default */
#define MAX_PARTS 10000
/* Per task and cos_poll step: bytes read from the stream (a step must stay short), and calls
 * of the reader (a reader handing out single bytes must not hold a step either). */
#define STEP_BYTES (2 * MIB)
#define STEP_READS 512
/* A source that said "nothing now" without a descriptor to wait on is asked again this soon. */
#define RETRY_MS 5
#define SPARE_MAX 256 /* the most part buffers an upload has (concurrency is at most 256) */

typedef enum { ST_IDLE = 0, ST_READING, ST_PUT, ST_INIT, ST_PARTS, ST_CANCELING, ST_DONE } st_phase;
typedef enum { P_READY = 0, P_ACTIVE, P_DONE } p_state;

typedef struct stream_upload stream_upload;

typedef struct st_part {
    stream_upload *su;
    unsigned char *buf; /* held until the part is confirmed */
    int64_t size, sent;
    int number;
    unsigned char state, integrity_retries;
    char etag[72];
    uint64_t crc64;
} st_part;

struct stream_upload {
    cos_task *t;
    cos_stream *src;
    int running;          /* between run and stop */
    int pumping;          /* inside su_pump */
    st_phase ph;
    int64_t expect;       /* ContentLength, or -1 */
    int64_t chunk;        /* first part size */
    int64_t fixed_size;   /* part size when the length is known (0: the growth rule) */
    int64_t threshold;    /* at most this many bytes go as one PUT */
    int max_parts, concurrency, retries;
    /* reading */
    unsigned char *fill;
    int64_t fill_len, fill_cap, read_total;
    int eof, waiting_fd;
    EVP_MD_CTX *whole_md5; /* UploadAddMetaMd5 */
    char meta_md5[33];
    /* parts */
    st_part *parts;       /* max_parts records (calloc: pages are touched as parts are cut) */
    int nparts, lo;       /* parts cut; parts before `lo` are all confirmed */
    int active, held;
    /* Confirmed parts' buffers, kept for the next parts of the same size: at most
     * `concurrency` buffers ever exist, so the heap does not fragment with the stream's length. */
    unsigned char *spare[SPARE_MAX];
    int64_t spare_size;
    int nspare;
    int64_t done_bytes, inflight_bytes;
    char *upload_id;
    int complete_attempts, put_retries;
    cos_value *pending_err; /* the error to finish with after an abort / HEAD */
};

static void step(stream_upload *su);
static void fail(stream_upload *su, cos_value *err);

/* ---------------------------------------------------------------------------------------- */
/* Sizes                                                                                     */

static int64_t param_int(const cos_value *params, const char *name, int64_t dflt)
{
    int64_t v;
    return cos_param_integer(cos_obj_get(params, name), &v) == 0 ? v : dflt;
}

/* The first part size: ChunkSize (per call; SliceSize too for sliceUploadFile), else the
 * client's ChunkSize; at least 1 MiB (COS's smallest non-last part). */
static int64_t chunk_of(cos_task *t)
{
    int64_t c = param_int(t->params, "ChunkSize", 0);
    if (c <= 0 && strcmp(t->op, "sliceUploadFile") == 0) c = param_int(t->params, "SliceSize", 0);
    if (c <= 0) c = (int64_t)cos_options_num(t->client->options, "ChunkSize");
    return c < MIB ? MIB : c;
}

static int max_parts_of(cos_task *t)
{
    double m = cos_options_num(t->client->options, "MaxPartNumber");
    return m < 1024 ? 1024 : m > MAX_PARTS ? MAX_PARTS : (int)m;
}

/* A known length: the part size files get (the SDK's ladder, so that it fits max_parts). */
static int64_t fixed_part_size(int64_t chunk, int64_t len, int max_parts)
{
    int64_t s = MIB;
    while ((len + s - 1) / s > max_parts && s < (int64_t)5120 * MIB) s = s * 2 > (int64_t)5120 * MIB ? (int64_t)5120 * MIB : s * 2;
    return chunk > s ? chunk : s;
}

static int64_t next_part_size(const stream_upload *su)
{
    if (su->fixed_size) return su->fixed_size;
    return cos_stream_part_size(su->chunk, su->max_parts, su->nparts + 1);
}

/* ---------------------------------------------------------------------------------------- */
/* Small helpers                                                                             */

static cos_client *client_of(stream_upload *su) { return su->t->client; }

static cos_request *new_request(stream_upload *su, const char *method)
{
    cos_task *t = su->t;
    cos_request *r = cos_req_new(t->client, method, cos_task_str(t, "Bucket"), cos_task_str(t, "Region"), cos_task_key(t));
    if (r) cos_req_task(r, t->id);
    return r;
}

static cos_value *take_error(cos_http_result *res)
{
    cos_value *e = res->error;
    res->error = NULL;
    return e;
}

static const char *xml_text(const cos_value *obj, const char *name)
{
    const char *s = cos_obj_get_str(obj, name);
    return s ? s : "";
}

static void report_progress(stream_upload *su)
{
    cos_task_progress_update(su->t, (double)(su->done_bytes + su->inflight_bytes),
                             su->eof ? (double)su->read_total : -1);
}

/* A buffer of `size` bytes: a spare one when the size matches, else a new one (its pages are
 * touched only as bytes arrive). */
static unsigned char *buffer_get(stream_upload *su, int64_t size)
{
    if (su->nspare && su->spare_size == size) return su->spare[--su->nspare];
    return malloc((size_t)size);
}

static void buffer_put(stream_upload *su, unsigned char *buf, int64_t size)
{
    if (su->nspare && su->spare_size != size) { /* the parts grew: the old size is done with */
        while (su->nspare) free(su->spare[--su->nspare]);
    }
    if (su->nspare < SPARE_MAX && su->nspare < su->concurrency) {
        su->spare_size = size;
        su->spare[su->nspare++] = buf;
    } else {
        free(buf);
    }
}

static void free_buffers(stream_upload *su)
{
    while (su->nspare) free(su->spare[--su->nspare]);
    for (int i = 0; i < su->nparts; i++) {
        free(su->parts[i].buf);
        su->parts[i].buf = NULL;
    }
    free(su->fill);
    su->fill = NULL;
    su->held = 0;
}

/* Stops every request of the task; parts in flight become ready to be sent again. */
static void abort_inflight(stream_upload *su)
{
    cos_transport_abort_task(client_of(su), su->t->id);
    for (int i = 0; i < su->nparts; i++)
        if (su->parts[i].state == P_ACTIVE) {
            su->parts[i].state = P_READY;
            su->parts[i].sent = 0;
        }
    su->active = 0;
    su->inflight_bytes = 0;
}

static void finish(stream_upload *su, cos_value *err, cos_value *data)
{
    su->ph = ST_DONE;
    su->running = 0;
    free_buffers(su);
    free(su->upload_id);
    su->upload_id = NULL;
    cos_task_finish(su->t, err, data);
}

static void aborted(void *ud, cos_http_result *res)
{
    stream_upload *su = ud;
    (void)res; /* a failed abort leaves the upload to the bucket's lifecycle rules */
    cos_value *e = su->pending_err;
    su->pending_err = NULL;
    finish(su, e, NULL);
}

/* Aborts the multipart upload (if there is one), then finishes with su->pending_err. */
static void abort_then_finish(stream_upload *su)
{
    cos_request *r = su->upload_id ? new_request(su, "DELETE") : NULL;
    if (!r || cos_req_query(r, "uploadId", su->upload_id) != 0) {
        cos_req_free(r);
        aborted(su, NULL);
        return;
    }
    cos_req_task(r, 0);
    cos_req_on_done(r, aborted, su);
    cos_transport_submit(r);
}

/* A stream cannot be resumed: whatever failed (or a cancel), the multipart upload is aborted on
 * the server, and only then does the task finish, so nothing is left behind once the callback
 * runs. The abort (like Initiate) is not tied to the task: pausing it must not stop it. While
 * Initiate is in flight, its answer is awaited to learn the UploadId to abort. */
static void fail(stream_upload *su, cos_value *err)
{
    if (su->ph == ST_DONE || su->ph == ST_CANCELING) {
        cos_value_free(err);
        return;
    }
    abort_inflight(su);
    su->pending_err = err ? err : cos_error_newf("Error", "out of memory");
    int initiating = su->ph == ST_INIT;
    su->ph = ST_CANCELING;
    su->running = 0;
    if (!initiating) abort_then_finish(su);
}

/* ---------------------------------------------------------------------------------------- */
/* Reading                                                                                   */

/* The filled buffer becomes the next part (su->parts has room for max_parts: a part's address
 * is its requests' user data, so the array never moves). */
static void cut_part(stream_upload *su)
{
    st_part *p = &su->parts[su->nparts];
    memset(p, 0, sizeof *p);
    p->su = su;
    p->buf = su->fill;
    p->size = su->fill_len;
    p->number = ++su->nparts;
    p->state = P_READY;
    su->fill = NULL;
    su->fill_len = su->fill_cap = 0;
    su->held++;
}

/* The stream ended: its length must be ContentLength's; the last bytes are the last part. */
static int at_end(stream_upload *su)
{
    su->eof = 1;
    if (su->expect >= 0 && su->read_total != su->expect) {
        fail(su, cos_error_newf("EntitySizeNotMatch", "the Body stream ended after %" PRId64
                                  " bytes, ContentLength is %" PRId64, su->read_total, su->expect));
        return -1;
    }
    if (su->whole_md5) {
        unsigned char md[16];
        unsigned int n = 0;
        EVP_DigestFinal_ex(su->whole_md5, md, &n);
        for (int i = 0; i < 16; i++) snprintf(su->meta_md5 + 2 * i, 3, "%02x", md[i]);
    }
    cos_queue_set_size(su->t, (double)su->read_total);
    if (su->ph == ST_READING && su->read_total <= su->threshold) return 0; /* one PUT of `fill` */
    if (su->fill_len > 0) cut_part(su);
    free(su->fill);
    su->fill = NULL;
    report_progress(su);
    return 0;
}

/* Bytes just read: counted, hashed for UploadAddMetaMd5, checked against ContentLength. */
static int took(stream_upload *su, long n)
{
    if (su->expect >= 0 && su->read_total + n > su->expect) {
        fail(su, cos_error_newf("EntitySizeNotMatch", "the Body stream is longer than ContentLength %" PRId64,
                                  su->expect));
        return -1;
    }
    if (su->whole_md5) EVP_DigestUpdate(su->whole_md5, su->fill + su->fill_len, (size_t)n);
    su->fill_len += n;
    su->read_total += n;
    if (su->fill_len == su->fill_cap && su->ph != ST_READING) cut_part(su);
    return 0;
}

/* A free buffer to read into, or 0 when every buffer is held (or the part limit is reached). */
static int ensure_fill(stream_upload *su)
{
    if (su->fill) return su->fill_len < su->fill_cap;
    if (su->held >= su->concurrency) return 0;
    int64_t size = next_part_size(su);
    if (!(su->fill = buffer_get(su, size))) return -1;
    su->fill_cap = size;
    su->fill_len = 0;
    return 1;
}

/* Reads what one step may: 1 when more can be read at once, 0 when not (waiting for a buffer,
 * for the stream, or done); 2 when the source wants to be asked again soon. */
static int read_some(stream_upload *su)
{
    int64_t budget = STEP_BYTES;
    int calls = STEP_READS;
    su->waiting_fd = 0;
    while (!su->eof && budget > 0 && calls-- > 0) {
        int room = ensure_fill(su);
        if (room < 0) {
            fail(su, NULL);
            return 0;
        }
        if (room == 0) {
            /* The PUT decision holds the first buffer: once it is full, the stream goes multipart. */
            if (su->ph == ST_READING && su->fill && su->fill_len == su->fill_cap) return 1;
            return 0;
        }
        int64_t want = su->fill_cap - su->fill_len;
        if (want > budget) want = budget;
        cos_value *err = NULL;
        long n = cos_stream_read(su->src, su->fill + su->fill_len, (size_t)want, &err);
        if (n == COS_READ_ERROR) {
            fail(su, err);
            return 0;
        }
        if (n == COS_READ_AGAIN) {
            su->waiting_fd = 1;
            return cos_stream_wait_fd(su->src) >= 0 ? 0 : 2;
        }
        if (n == 0) {
            at_end(su); /* on a length mismatch it failed the upload */
            return 0;
        }
        if (su->nparts >= su->max_parts) {
            fail(su, cos_error_newf("EntityTooLarge", "the Body stream needs more than MaxPartNumber (%d) parts; "
                                      "give ContentLength, or a larger ChunkSize", su->max_parts));
            return 0;
        }
        if (took(su, n) != 0) return 0;
        budget -= n;
    }
    return !su->eof;
}

/* ---------------------------------------------------------------------------------------- */
/* Integrity                                                                                 */

/* A part's (or the PUT's) answer against the bytes we sent, by integrity.c's policy (the one
 * place that decides what verifies an upload); a part also needs an ETag for Complete. The
 * buffer is still held, so every verdict but UNVERIFIABLE can be answered by sending again. */
static cos_integrity_verdict verify_sent(stream_upload *su, cos_http_result *res, int64_t size, int part,
                                         const char **etag_out, cos_value **bad)
{
    const char *etag = cos_obj_get_str(res->headers, "etag");
    char what[32] = "";
    if (part) snprintf(what, sizeof what, "part %d", part);
    *etag_out = etag;
    *bad = NULL;
    if (part && (!etag || !*etag)) {
        *bad = cos_error_newf("IntegrityError", "%s: the server returned no ETag", what);
        return COS_INTEGRITY_DAMAGED;
    }
    return cos_integrity_check(client_of(su), res, size, what, bad);
}

static uint64_t combined_crc64(const stream_upload *su)
{
    uint64_t crc = 0;
    for (int i = 0; i < su->nparts; i++)
        crc = i == 0 ? su->parts[i].crc64 : cos_crc64_combine(crc, su->parts[i].crc64, (uint64_t)su->parts[i].size);
    return crc;
}

/* ---------------------------------------------------------------------------------------- */
/* One PUT (a short stream)                                                                  */

static int put_submit(stream_upload *su);

static void put_done(void *ud, cos_http_result *res)
{
    stream_upload *su = ud;
    if (res->error) {
        finish(su, take_error(res), NULL);
        return;
    }
    const char *etag = NULL;
    cos_value *bad = NULL;
    cos_integrity_verdict v = verify_sent(su, res, su->read_total, 0, &etag, &bad);
    if (v != COS_INTEGRITY_OK) { /* sent again: a PUT replaces the object, the damaged copy does not survive */
        int again = v == COS_INTEGRITY_RECHECK || (v == COS_INTEGRITY_DAMAGED && su->put_retries++ < su->retries + 1);
        if (again && put_submit(su) == 0) {
            cos_value_free(bad);
            return;
        }
        finish(su, bad, NULL);
        return;
    }
    cos_value *data = cos_result_data(res);
    if (!data) {
        finish(su, cos_error_newf("Error", "out of memory"), NULL);
        return;
    }
    char *loc = cos_task_location(su->t);
    cos_obj_set_str(data, "Location", loc ? loc : "");
    free(loc);
    cos_obj_set_str(data, "ETag", etag ? etag : "");
    finish(su, NULL, data);
}

static int put_submit(stream_upload *su)
{
    cos_task *t = su->t;
    cos_request *r = cos_task_request(t, "PUT", cos_task_key(t), 1);
    int rc = !r || cos_req_header(r, "Content-Length", NULL);
    if (!rc && !cos_req_get_header(r, "Cache-Control")) rc = cos_req_header(r, "Cache-Control", "");
    if (!rc && !cos_req_get_header(r, "Content-Type")) rc = cos_req_header(r, "Content-Type", "application/octet-stream");
    if (!rc && *su->meta_md5) rc = cos_req_header(r, "x-cos-meta-md5", su->meta_md5);
    const void *body = su->fill ? (const void *)su->fill : "";
    if (!rc) rc = cos_req_body_mem_ref(r, body, (size_t)su->read_total);
    if (!rc) rc = cos_integrity_content_md5_mem(client_of(su), r, body, (size_t)su->read_total);
    if (rc) {
        cos_req_free(r);
        return -1;
    }
    cos_req_hash(r, cos_integrity_stream_hashes(client_of(su), 1)); /* the buffer can be sent again */
    cos_req_on_done(r, put_done, su);
    return cos_transport_submit(r);
}

/* ---------------------------------------------------------------------------------------- */
/* Initiate                                                                                  */

static void initiate_done(void *ud, cos_http_result *res)
{
    stream_upload *su = ud;
    cos_value *x = !res->error && res->body.len ? cos_xml_to_value(res->body.data, res->body.len, NULL) : NULL;
    const char *id = xml_text(x, "UploadId");
    su->upload_id = *id ? strdup(id) : NULL;
    cos_value_free(x);
    if (su->ph == ST_CANCELING) { /* failed or canceled meanwhile: the new upload goes away */
        abort_then_finish(su);
        return;
    }
    if (res->error) {
        fail(su, take_error(res));
        return;
    }
    if (!su->upload_id) {
        fail(su, cos_error_newf("Error", "InitiateMultipartUpload returned no usable UploadId"));
        return;
    }
    su->ph = ST_PARTS;
    step(su);
}

/* Initiate carries every header of the call (Content-Type, meta, ACL, storage class, ...) but
 * not ContentLength / ContentMD5, which describe the stream, not this request. */
static void initiate(stream_upload *su)
{
    su->ph = ST_INIT;
    cos_request *r = new_request(su, "POST");
    if (r) cos_req_task(r, 0); /* a pause lets it finish: its UploadId must not get lost */
    int rc = !r || cos_req_apply_params(r, su->t->params) || cos_req_header(r, "Content-Length", NULL) ||
             cos_req_header(r, "Content-MD5", NULL) || cos_req_query(r, "uploads", "");
    if (!rc && !cos_req_get_header(r, "Cache-Control")) rc = cos_req_header(r, "Cache-Control", "");
    if (rc) {
        cos_req_free(r);
        fail(su, cos_error_newf("Error", "cannot build InitiateMultipartUpload"));
        return;
    }
    cos_req_on_done(r, initiate_done, su);
    cos_transport_submit(r);
}

/* ---------------------------------------------------------------------------------------- */
/* Parts                                                                                     */

static void part_progress(void *ud, int64_t sent, int64_t send_total, int64_t received, int64_t recv_total)
{
    st_part *p = ud;
    (void)send_total;
    (void)received;
    (void)recv_total;
    if (p->state != P_ACTIVE || sent < 0) return;
    p->su->inflight_bytes += sent - p->sent;
    p->sent = sent;
    report_progress(p->su);
}

static void part_done(void *ud, cos_http_result *res)
{
    st_part *p = ud;
    stream_upload *su = p->su;
    p->state = P_READY;
    su->active--;
    su->inflight_bytes -= p->sent;
    p->sent = 0;
    if (res->error) { /* the engine already retried ChunkRetryTimes times with backoff */
        fail(su, take_error(res));
        return;
    }
    const char *etag = NULL;
    cos_value *bad = NULL;
    cos_integrity_verdict v = verify_sent(su, res, p->size, p->number, &etag, &bad);
    if (v != COS_INTEGRITY_OK) {
        /* RECHECK: sent again, now hashing MD5, its answer is checked by ETag (not a retry);
         * DAMAGED: changed in transit, sent again from the buffer a bounded number of times */
        if (v == COS_INTEGRITY_RECHECK || (v == COS_INTEGRITY_DAMAGED && p->integrity_retries++ < su->retries + 1)) {
            cos_value_free(bad);
            step(su);
        } else {
            fail(su, bad);
        }
        return;
    }
    snprintf(p->etag, sizeof p->etag, "%s", etag);
    p->crc64 = res->crc64;
    p->state = P_DONE;
    buffer_put(su, p->buf, p->size);
    p->buf = NULL;
    su->held--;
    su->done_bytes += p->size;
    report_progress(su);
    step(su);
}

static int submit_part(stream_upload *su, st_part *p)
{
    char num[16], buf[64];
    snprintf(num, sizeof num, "%d", p->number);
    const cos_value *params = su->t->params;
    cos_request *r = new_request(su, "PUT");
    /* Parts carry only the traffic limit and SSE of the call, as file parts do. */
    const char *tl = cos_param_string(params, "TrafficLimit", buf, sizeof buf);
    const char *sse = cos_obj_get_str(params, "ServerSideEncryption");
    int rc = !r || cos_req_query(r, "partNumber", num) || cos_req_query(r, "uploadId", su->upload_id) ||
             cos_req_body_mem_ref(r, p->buf, (size_t)p->size);
    if (!rc && tl) rc = cos_req_header(r, "x-cos-traffic-limit", tl);
    if (!rc && sse) rc = cos_req_header(r, "x-cos-server-side-encryption", sse);
    if (!rc) rc = cos_integrity_content_md5_mem(client_of(su), r, p->buf, (size_t)p->size);
    if (rc) {
        cos_req_free(r);
        return -1;
    }
    cos_req_hash(r, cos_integrity_stream_hashes(client_of(su), 1)); /* the buffer can be sent again */
    cos_req_retries(r, su->retries);
    cos_req_on_done(r, part_done, p);
    cos_req_on_progress(r, part_progress, p);
    p->state = P_ACTIVE;
    p->sent = 0;
    su->active++;
    cos_transport_submit(r);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Complete                                                                                  */

static void complete(stream_upload *su);

static cos_value *complete_data(stream_upload *su, cos_http_result *res, const cos_value *x)
{
    cos_value *data = cos_result_data(res);
    if (!data) return NULL;
    char *loc = cos_task_location(su->t);
    cos_obj_set_str(data, "Location", loc ? loc : "");
    free(loc);
    const char *b = cos_obj_get_str(x, "Bucket"), *k = cos_obj_get_str(x, "Key");
    cos_obj_set_str(data, "Bucket", b ? b : cos_task_str(su->t, "Bucket"));
    cos_obj_set_str(data, "Key", k ? k : cos_task_key(su->t));
    cos_obj_set_str(data, "ETag", xml_text(x, "ETag"));
    cos_obj_set_str(data, "UploadId", su->upload_id);
    return data;
}

/* HEAD after Complete answered NoSuchUpload: an earlier attempt may have completed (its answer
 * lost); the object is ours when its size and CRC-64 are the stream's. */
static void head_done(void *ud, cos_http_result *res)
{
    stream_upload *su = ud;
    cos_value *err = su->pending_err;
    su->pending_err = NULL;
    uint64_t crc;
    const char *len = cos_obj_get_str(res->headers, "content-length");
    if (!res->error && cos_integrity_header_crc64(res->headers, &crc) && crc == combined_crc64(su) && len &&
        strtoll(len, NULL, 10) == su->read_total) {
        cos_value *data = complete_data(su, res, NULL);
        if (data) {
            const char *etag = cos_obj_get_str(cos_obj_get(data, "headers"), "etag");
            cos_obj_set_str(data, "ETag", etag ? etag : "");
            cos_value_free(err);
            finish(su, NULL, data);
            return;
        }
    }
    fail(su, err);
}

/* An error of Complete (HTTP, or a 200 whose body is <Error>); *retryable for server-side kinds. */
static cos_value *complete_error(cos_http_result *res, int *retryable)
{
    if (res->error) {
        *retryable = res->status_code >= 500 || res->status_code == 0;
        return take_error(res);
    }
    cos_value *fields = cos_xml_parse_error(res->body.data, res->body.len);
    if (!fields) return NULL;
    const char *code = cos_obj_get_str(fields, "Code"), *msg = cos_obj_get_str(fields, "Message");
    *retryable = code && (strcmp(code, "InternalError") == 0 || strcmp(code, "ServiceUnavailable") == 0 ||
                          strcmp(code, "SlowDown") == 0);
    cos_value *e = cos_error_newf(code ? code : "Error", "%s", msg ? msg : "");
    if (e) {
        cos_obj_set_num(e, "statusCode", res->status_code);
        if (res->request_id) cos_obj_set_str(e, "RequestId", res->request_id);
        cos_obj_set(e, "error", fields);
    } else {
        cos_value_free(fields);
    }
    return e;
}

static void complete_done(void *ud, cos_http_result *res)
{
    stream_upload *su = ud;
    int retryable = 0;
    cos_value *err = complete_error(res, &retryable);
    if (err) {
        const char *code = cos_obj_get_str(err, "code");
        if (retryable && su->complete_attempts <= su->retries) {
            cos_value_free(err);
            complete(su);
        } else if (code && strcmp(code, "NoSuchUpload") == 0) {
            su->pending_err = err;
            cos_request *r = new_request(su, "HEAD");
            if (r) {
                cos_req_on_done(r, head_done, su);
                cos_transport_submit(r);
            } else {
                su->pending_err = NULL;
                fail(su, err);
            }
        } else {
            fail(su, err);
        }
        return;
    }
    uint64_t server_crc, ours = combined_crc64(su);
    if (cos_integrity_header_crc64(res->headers, &server_crc) && server_crc != ours) {
        fail(su, cos_error_newf("IntegrityError", "the object's x-cos-hash-crc64ecma %" PRIu64
                                  " is not the CRC-64 %" PRIu64 " of the stream's parts", server_crc, ours));
        return;
    }
    cos_value *x = res->body.len ? cos_xml_to_value(res->body.data, res->body.len, NULL) : NULL;
    cos_value *data = complete_data(su, res, x);
    cos_value_free(x);
    if (data) finish(su, NULL, data);
    else fail(su, NULL);
}

/* Complete gets only x-cos-meta-* and Pic-Operations of the call, as for files; with
 * UploadAddMetaMd5 the stream's MD5, known only now, goes here too. */
static int complete_headers(stream_upload *su, cos_request *r)
{
    const cos_value *params = su->t->params, *h = cos_obj_get(params, "Headers");
    char buf[64];
    for (int pass = 0; pass < 2; pass++) {
        const cos_value *o = pass ? h : params;
        for (size_t i = 0; cos_value_type(o) == COS_OBJ && i < cos_value_len(o); i++) {
            const char *k = cos_obj_key(o, i), *v = cos_param_string(o, k, buf, sizeof buf);
            if (v && strncasecmp(k, "x-cos-meta-", 11) == 0 && cos_req_header(r, k, v)) return -1;
        }
    }
    const char *pic = cos_param_string(params, "PicOperations", buf, sizeof buf);
    if (pic && cos_req_header(r, "Pic-Operations", pic)) return -1;
    if (*su->meta_md5 && cos_req_header(r, "x-cos-meta-md5", su->meta_md5)) return -1;
    return 0;
}

static void complete(stream_upload *su)
{
    cos_value *parts = cos_arr_new();
    for (int i = 0; i < su->nparts && parts; i++) {
        cos_value *p = cos_obj_new();
        cos_obj_set_num(p, "PartNumber", su->parts[i].number);
        cos_obj_set_str(p, "ETag", su->parts[i].etag);
        cos_arr_push(parts, p);
    }
    size_t len = 0;
    char *xml = parts ? cos_xml_complete_body(parts, &len) : NULL;
    cos_value_free(parts);
    unsigned char md[16];
    char b64[32];
    cos_request *r = xml ? new_request(su, "POST") : NULL;
    int rc = !r || EVP_Digest(xml, len, md, NULL, EVP_md5(), NULL) != 1;
    if (!rc) {
        EVP_EncodeBlock((unsigned char *)b64, md, 16);
        rc = cos_req_query(r, "uploadId", su->upload_id) || cos_req_header(r, "Content-Type", "application/xml") ||
             cos_req_header(r, "Content-MD5", b64) || complete_headers(su, r) || cos_req_body_mem_take(r, xml, len);
    }
    if (rc) {
        free(xml);
        cos_req_free(r);
        fail(su, cos_error_newf("Error", "cannot build CompleteMultipartUpload"));
        return;
    }
    su->complete_attempts++;
    cos_req_on_done(r, complete_done, su);
    cos_transport_submit(r);
}

/* ---------------------------------------------------------------------------------------- */
/* The state machine                                                                         */

/* Every part cut so far is confirmed; moves `lo` past the confirmed prefix. */
static int all_confirmed(stream_upload *su)
{
    while (su->lo < su->nparts && su->parts[su->lo].state == P_DONE) su->lo++;
    return su->lo == su->nparts;
}

/* Moves on from whatever just happened (bytes read, a part confirmed, an UploadId chosen). */
static void step(stream_upload *su)
{
    if (!su->running) return;
    cos_task_wake_streams(client_of(su)); /* a host's own loop: take a step to read on */
    if (su->ph == ST_READING) {
        if (su->eof && su->read_total <= su->threshold) {
            su->ph = ST_PUT;
            if (put_submit(su) != 0) fail(su, cos_error_newf("Error", "cannot build the PUT request"));
            return;
        }
        if (su->read_total > su->threshold || (su->fill && su->fill_len == su->fill_cap)) {
            if (su->fill && su->fill_len == su->fill_cap) cut_part(su);
            initiate(su);
        }
        return;
    }
    if (su->ph != ST_PARTS) return;
    int done = all_confirmed(su);
    for (int i = su->lo; !done && i < su->nparts && su->active < su->concurrency; i++) {
        st_part *p = &su->parts[i];
        if (p->state == P_READY && submit_part(su, p) != 0) {
            fail(su, cos_error_newf("Error", "cannot build the request of part %d", p->number));
            return;
        }
    }
    if (done && su->eof && su->active == 0 && !su->fill) complete(su);
}

/* The pump (cos_poll, every step): reads while a buffer is free, then moves on. */
static int su_pump(cos_task *t, int *wait_fd)
{
    stream_upload *su = t->op_state;
    *wait_fd = -1;
    if (!su || !su->running || su->eof || su->pumping ||
        (su->ph != ST_READING && su->ph != ST_INIT && su->ph != ST_PARTS))
        return 0;
    su->pumping = 1; /* a reader that drives cos:poll itself must not re-enter the read */
    int more = read_some(su);
    su->pumping = 0;
    if (su->ph == ST_DONE) return 0;
    step(su);
    if (su->waiting_fd && more == 0) *wait_fd = cos_stream_wait_fd(su->src);
    return su->ph == ST_DONE ? 0 : more;
}

/* ---------------------------------------------------------------------------------------- */
/* Queue operations                                                                          */

static void su_run(cos_task *t)
{
    stream_upload *su = t->op_state;
    su->running = 1;
    if (su->ph == ST_IDLE) {
        su->ph = ST_READING;
        cos_task_progress_now(t, 0, -1); /* the start emission: "uploading" */
    }
    step(su);
}

/* Pause (and the first half of cancel): requests stop, the buffers stay. */
static void su_stop(cos_task *t)
{
    stream_upload *su = t->op_state;
    su->running = 0;
    abort_inflight(su);
    if (su->ph == ST_PUT) su->ph = ST_READING; /* decided again on restart */
}

/* Cancel (after stop): abort the multipart upload, then finish with the canceled error. */
static void su_cancel(cos_task *t, cos_value *err) { fail(t->op_state, err); }

static const cos_queue_ops STREAM_OPS = {su_run, su_stop, su_cancel, cos_op_multipart_abort_upload};

static void su_abort(cos_task *t)
{
    stream_upload *su = t->op_state;
    if (su) abort_inflight(su);
}

static void su_free(void *ud)
{
    stream_upload *su = ud;
    if (!su) return;
    free_buffers(su);
    free(su->parts);
    free(su->upload_id);
    cos_stream_free(su->src);
    EVP_MD_CTX_free(su->whole_md5);
    cos_value_free(su->pending_err);
    free(su);
}

static int want_meta_md5(const cos_task *t)
{
    const cos_value *v = cos_obj_get(t->params, "UploadAddMetaMd5");
    return cos_value_type(v) == COS_BOOL ? cos_value_bool(v)
                                         : cos_value_type(v) == COS_STR || (cos_value_type(v) == COS_NUM && cos_value_num(v) != 0);
}

int cos_stream_upload_start(cos_task *t, int64_t threshold, int file_finish, cos_value **err)
{
    stream_upload *su = calloc(1, sizeof *su);
    if (!su || !(su->src = cos_stream_new(t)) || (want_meta_md5(t) && !(su->whole_md5 = EVP_MD_CTX_new())) ||
        (su->whole_md5 && EVP_DigestInit_ex(su->whole_md5, EVP_md5(), NULL) != 1)) {
        su_free(su);
        *err = cos_error_newf("Error", "out of memory");
        return -1;
    }
    su->t = t;
    su->expect = t->body.length >= 0 ? t->body.length : -1;
    su->chunk = chunk_of(t);
    su->max_parts = max_parts_of(t);
    if (su->expect >= 0) su->fixed_size = fixed_part_size(su->chunk, su->expect, su->max_parts);
    if (!(su->parts = calloc((size_t)su->max_parts, sizeof *su->parts))) {
        su_free(su);
        *err = cos_error_newf("Error", "out of memory");
        return -1;
    }
    int64_t first = next_part_size(su);
    su->threshold = threshold < first ? threshold : first; /* the PUT is sent from one buffer */
    int64_t n = param_int(t->params, "AsyncLimit", 0);
    if (n <= 0) n = (int64_t)cos_options_num(t->client->options, "ChunkParallelLimit");
    su->concurrency = n < 1 ? 1 : n > 256 ? 256 : (int)n;
    double r = cos_options_num(t->client->options, "ChunkRetryTimes");
    su->retries = r < 0 ? 0 : r > 100 ? 100 : (int)r;
    t->op_state = su;
    t->op_free = su_free;
    t->op_abort = su_abort;
    t->op_pump = su_pump;
    if (cos_queue_add(t, NULL, su->expect >= 0 ? (double)su->expect : -1, &STREAM_OPS, file_finish) != 0) {
        t->op_state = NULL;
        t->op_free = NULL;
        t->op_abort = NULL;
        t->op_pump = NULL;
        su_free(su);
        *err = cos_error_newf("Error", "out of memory");
        return -1;
    }
    return 0;
}

/* A stream cannot continue an upload that another run started (the bytes are not there any
 * more), so the parameters that ask for resuming are refused rather than ignored. */
static cos_value *refuse_resume(const cos_value *params)
{
    static const char *const names[] = {"UploadId", "CheckpointDir"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (cos_value_type(cos_obj_get(params, names[i])) != COS_NIL)
            return cos_validate_error(names[i], "%s cannot be used with a stream Body: an upload from a stream "
                                      "cannot be resumed (its bytes are gone once read)", names[i]);
    const cos_value *cp = cos_obj_get(params, "Checkpoint");
    if (cos_value_type(cp) == COS_BOOL && cos_value_bool(cp))
        return cos_validate_error("Checkpoint", "Checkpoint cannot be true with a stream Body: an upload from a "
                                  "stream cannot be resumed (its bytes are gone once read)");
    if (cos_value_type(cos_obj_get(params, "FilePath")) != COS_NIL)
        return cos_validate_error("Body", "give either FilePath or a stream Body, not both");
    return NULL;
}

int cos_stream_upload_op(cos_task *t, int upload_file, cos_value **err)
{
    cos_value *e = cos_validate_object_params(t->params, 1);
    if (!e) e = cos_validate_file_key(t->params);
    if (!e) e = cos_validate_traffic_limit(t->params);
    if (!e) e = refuse_resume(t->params);
    if (e) {
        *err = e;
        return -1;
    }
    int64_t threshold = 0; /* sliceUploadFile: only an empty stream goes as one PUT, as an empty file */
    if (upload_file) {
        threshold = param_int(t->params, "SliceSize", -1);
        if (threshold < 0) threshold = (int64_t)cos_options_num(t->client->options, "SliceSize");
    }
    return cos_stream_upload_start(t, threshold, upload_file, err);
}
