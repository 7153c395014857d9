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
#include "base/params.h"
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
#include "ops/multipart.h"
#include "ops/integrity.h"
#include "ops/messages.h"
#include "task/queue.h"
#include "upload/parts.h"
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

typedef struct stream_upload stream_upload;

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
    int max_parts, concurrency;
    /* reading */
    unsigned char *fill;
    int64_t fill_len, fill_cap, read_total;
    int eof, waiting_fd;
    EVP_MD_CTX *whole_md5; /* UploadAddMetaMd5 */
    char meta_md5[33];
    /* parts: ps.part has max_parts records (calloc: pages are touched as parts are cut), ps.n
     * of them cut so far */
    cos_parts ps;
    int lo;               /* parts before `lo` are all confirmed */
    int held;
    /* Confirmed parts' buffers, kept for the next parts of the same size: at most
     * `concurrency` buffers ever exist, so the heap does not fragment with the stream's length. */
    unsigned char *spare[SPARE_MAX];
    int64_t spare_size;
    int nspare;
    char *upload_id;
    int put_retries;
    cos_value *pending_err; /* the error to finish with after the abort */
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
    return cos_stream_part_size(su->chunk, su->max_parts, su->ps.n + 1);
}

/* ---------------------------------------------------------------------------------------- */
/* Small helpers                                                                             */

static cos_client *client_of(stream_upload *su) { return su->t->client; }

/* Where Initiate and Abort go: not tied to the task, so that a pause does not stop them (an
 * UploadId must not get lost, nor an abort be left half done). */
static cos_msg_to untied(const stream_upload *su)
{
    cos_msg_to to = su->ps.to;
    to.task = 0;
    return to;
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
    cos_task_progress_update(su->t, (double)(su->ps.done_bytes + su->ps.inflight_bytes),
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
    for (int i = 0; i < su->ps.n; i++) {
        free(su->ps.part[i].buf);
        su->ps.part[i].buf = NULL;
    }
    free(su->fill);
    su->fill = NULL;
    su->held = 0;
}

/* Stops every request of the task; parts in flight become ready to be sent again. */
static void abort_inflight(stream_upload *su)
{
    cos_transport_abort_task(client_of(su), su->t->id);
    cos_parts_stop(&su->ps);
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
    cos_msg_to to = untied(su);
    cos_request *r = su->upload_id ? cos_msg_abort(&to, su->upload_id) : NULL;
    if (!r) {
        aborted(su, NULL);
        return;
    }
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
    cos_part *p = &su->ps.part[su->ps.n];
    memset(p, 0, sizeof *p);
    p->ps = &su->ps;
    p->buf = su->fill;
    p->size = su->fill_len;
    p->number = ++su->ps.n;
    p->state = COS_PART_TODO;
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
        if (su->ps.n >= su->max_parts) {
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
/* One PUT (a short stream)                                                                  */

static int put_submit(stream_upload *su);

static void put_done(void *ud, cos_http_result *res)
{
    stream_upload *su = ud;
    if (res->error) {
        finish(su, take_error(res), NULL);
        return;
    }
    /* The answer against the bytes we sent, by integrity.c's policy; the buffer is still held,
     * so every verdict but UNVERIFIABLE can be answered by sending again. */
    cos_value *bad = NULL;
    cos_integrity_verdict v = cos_integrity_check(client_of(su), res, su->read_total, "", &bad);
    if (v != COS_INTEGRITY_OK) { /* sent again: a PUT replaces the object, the damaged copy does not survive */
        int again = v == COS_INTEGRITY_RECHECK || (v == COS_INTEGRITY_DAMAGED && su->put_retries++ < su->ps.retries + 1);
        if (again && put_submit(su) == 0) {
            cos_value_free(bad);
            return;
        }
        finish(su, bad, NULL);
        return;
    }
    cos_value *err = NULL, *data = cos_msg_put_object_read(&su->ps.to, res, &err);
    finish(su, data ? NULL : err, data);
}

static int put_submit(stream_upload *su)
{
    cos_task *t = su->t;
    /* One PUT carries every header of the call, as uploadFile's whole-file PUT. */
    cos_msg_to to = cos_msg_to_task(t);
    cos_msg_body body = {.kind = COS_MSG_BODY_MEM, .data = su->fill ? (const void *)su->fill : "",
                         .len = (size_t)su->read_total}; /* the buffer can be sent again */
    cos_request *r = cos_msg_put_object(&to, &body, "application/octet-stream", *su->meta_md5 ? su->meta_md5 : NULL);
    if (!r) return -1;
    cos_task_track_progress(t, r, 1);
    cos_req_on_done(r, put_done, su);
    return cos_transport_submit(r);
}

/* ---------------------------------------------------------------------------------------- */
/* Initiate                                                                                  */

static void initiate_done(void *ud, cos_http_result *res)
{
    stream_upload *su = ud;
    cos_value *err = NULL, *data = cos_msg_initiate_read(res, &err);
    const char *id = data ? xml_text(data, "UploadId") : "";
    su->upload_id = *id ? strdup(id) : NULL;
    cos_value_free(data);
    if (su->ph == ST_CANCELING) { /* failed or canceled meanwhile: the new upload goes away */
        cos_value_free(err);
        abort_then_finish(su);
        return;
    }
    if (err) {
        fail(su, err);
        return;
    }
    if (!su->upload_id) {
        fail(su, cos_error_newf("Error", "out of memory"));
        return;
    }
    su->ph = ST_PARTS;
    step(su);
}

/* Initiate carries every header of the call (Content-Type, meta, ACL, storage class, ...) but
 * not ContentLength / ContentMD5, which describe the stream (ops/messages.h, COS_MSG_PARAMS_UPLOAD). */
static void initiate(stream_upload *su)
{
    su->ph = ST_INIT;
    cos_msg_to to = untied(su);
    cos_request *r = cos_msg_initiate(&to, NULL, NULL);
    if (!r) {
        fail(su, cos_error_newf("Error", "cannot build InitiateMultipartUpload"));
        return;
    }
    cos_req_on_done(r, initiate_done, su);
    cos_transport_submit(r);
}

/* ---------------------------------------------------------------------------------------- */
/* Parts                                                                                     */

/* parts.c's hooks */
static void parts_progress(void *owner) { report_progress(owner); }

static void part_answered(void *owner, cos_part *p, cos_part_outcome outcome, cos_value *err)
{
    stream_upload *su = owner;
    if (outcome == COS_PART_FAILED) {
        fail(su, err);
        return;
    }
    if (outcome == COS_PART_CONFIRMED) { /* its buffer serves the next part */
        buffer_put(su, p->buf, p->size);
        p->buf = NULL;
        su->held--;
        report_progress(su);
    }
    step(su);
}

/* Complete (and what followed it) ended. */
static void completed(void *owner, cos_value *err, cos_value *data)
{
    stream_upload *su = owner;
    if (err) fail(su, err);
    else finish(su, NULL, data);
}

static const cos_parts_hooks PARTS_HOOKS = {parts_progress, part_answered, completed};

/* Part p goes out from its buffer (held until the part is confirmed, so it can be sent again). */
static int submit_part(stream_upload *su, cos_part *p)
{
    cos_msg_body body = {.kind = COS_MSG_BODY_MEM, .data = p->buf, .len = (size_t)p->size};
    return cos_parts_send(&su->ps, p, su->upload_id, &body);
}

/* ---------------------------------------------------------------------------------------- */
/* The state machine                                                                         */

/* Every part cut so far is confirmed; moves `lo` past the confirmed prefix. */
static int all_confirmed(stream_upload *su)
{
    while (su->lo < su->ps.n && su->ps.part[su->lo].state == COS_PART_DONE) su->lo++;
    return su->lo == su->ps.n;
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
    for (int i = su->lo; !done && i < su->ps.n && su->ps.active < su->concurrency; i++) {
        cos_part *p = &su->ps.part[i];
        if (p->state == COS_PART_TODO && submit_part(su, p) != 0) {
            fail(su, cos_error_newf("Error", "cannot build the request of part %d", p->number));
            return;
        }
    }
    /* Complete gets the stream's MD5 (UploadAddMetaMd5), known only now. */
    if (done && su->eof && su->ps.active == 0 && !su->fill)
        cos_parts_complete(&su->ps, su->upload_id, *su->meta_md5 ? su->meta_md5 : NULL);
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
    free(su->ps.part);
    cos_parts_free(&su->ps);
    free(su->upload_id);
    cos_stream_free(su->src);
    EVP_MD_CTX_free(su->whole_md5);
    cos_value_free(su->pending_err);
    free(su);
}

static int want_meta_md5(const cos_task *t) { return cos_param_bool(t->params, "UploadAddMetaMd5", 0) == 1; }

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
    cos_parts_init(&su->ps, t, cos_task_str(t, "Bucket"), cos_task_str(t, "Region"), cos_task_key(t), "stream", su,
                   &PARTS_HOOKS);
    if (!(su->ps.part = calloc((size_t)su->max_parts, sizeof *su->ps.part))) {
        su_free(su);
        *err = cos_error_newf("Error", "out of memory");
        return -1;
    }
    int64_t first = next_part_size(su);
    su->threshold = threshold < first ? threshold : first; /* the PUT is sent from one buffer */
    int64_t n = param_int(t->params, "AsyncLimit", 0);
    if (n <= 0) n = (int64_t)cos_options_num(t->client->options, "ChunkParallelLimit");
    su->concurrency = n < 1 ? 1 : n > 256 ? 256 : (int)n;
    t->op_state = su;
    t->op_free = su_free;
    t->op_abort = su_abort;
    cos_task_set_pump(t, su_pump);
    if (cos_queue_add(t, NULL, su->expect >= 0 ? (double)su->expect : -1, &STREAM_OPS, file_finish) != 0) {
        t->op_state = NULL;
        t->op_free = NULL;
        t->op_abort = NULL;
        cos_task_set_pump(t, NULL);
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
    if (cos_param_bool(params, "Checkpoint", 0) == 1)
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
