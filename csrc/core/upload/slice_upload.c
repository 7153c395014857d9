/* slice_upload: sliceUploadFile, a multipart upload of a local file (docs/upload-engine.md).
 *
 * Phases of one run (run() is called by the queue when a FileParallelLimit slot is free):
 *   checking  1. a checkpoint file for (Bucket, Region, Key, path) whose size and mtime still
 *                match: List Parts confirms it; parts the checkpoint lists with the same ETag
 *                are taken as they are (not re-sent, not re-hashed); parts the server has but
 *                the checkpoint does not (finished just before a kill) are hashed locally and
 *                kept when the MD5 matches. A checkpoint whose file changed: its upload is
 *                aborted and the checkpoint removed.
 *             2. no usable checkpoint: the Node SDK's fallback, List Multipart Uploads for the
 *                Key, then each candidate's parts are compared by MD5 (onHashProgress).
 *             3. nothing to resume: Initiate Multipart Upload.
 *   uploading up to AsyncLimit/ChunkParallelLimit parts in flight, each streamed with pread at
 *             its offset (no part buffers) while the engine hashes the bytes sent (MD5 and
 *             CRC-64). A part is confirmed when its ETag is that MD5 and its
 *             x-cos-hash-crc64ecma (when sent) that CRC; otherwise it is sent again (bounded).
 *   complete  Complete Multipart Upload; the object's x-cos-hash-crc64ecma must equal the
 *             parts' CRCs combined in part order (cos_crc64_combine), or the upload fails.
 *
 * Integrity design: parts go out WITHOUT Content-MD5, because a Content-MD5 must be known before
 * the first byte, which costs a second read of every part. The MD5 and CRC-64 are computed while
 * the part streams, and the server's answer is checked against them: a part that arrived
 * damaged is detected and re-sent, and Complete's CRC-64 covers the assembled object. With the
 * client option UploadCheckContentMd5 the part is hashed just before it is sent and Content-MD5
 * is added as well (one extra pread pass per part, so the server also rejects a damaged body). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/transport.h"
#include "base/options.h"
#include "base/clock.h"
#include "base/errors.h"
#include "ops/ops.h"
#include "upload/checkpoint.h"
#include "client.h"
#include "crc64.h"
#include "ops/integrity.h"
#include "task/queue.h"
#include "base/validate.h"
#include "base/xml.h"
#include "upload/slice_upload.h"

#define MIB (1024.0 * 1024.0)
#define MAX_PARTS 10000
/* List Multipart Uploads of one Key: more entries than this is not a real bucket (each would be
 * checked part by part); the listing stops with an error instead of paging on. */
#define MAX_LISTED_UPLOADS 10000
/* Checkpoint writes: after every confirmed part while the record is small (so a kill loses at
 * most the parts in flight), at most every CP_SAVE_INTERVAL_MS beyond CP_SMALL_PARTS parts (each
 * write rewrites the whole record). */
#define CP_SAVE_INTERVAL_MS 200.0
#define CP_SMALL_PARTS 1000
#define CP_MAX_AGE_S (30.0 * 24 * 3600) /* checkpoints untouched this long are swept */

typedef enum { PART_TODO = 0, PART_ACTIVE, PART_DONE, PART_HASHING } part_state;

typedef enum {
    PH_IDLE = 0,   /* not started, or stopped before an upload was chosen */
    PH_CHECKING,   /* listing / hashing / initiating */
    PH_PARTS,      /* an UploadId is chosen: parts and Complete */
    PH_CANCELING,  /* Abort Multipart Upload in flight */
    PH_DONE
} phase;

typedef enum { LIST_CHECKPOINT, LIST_CANDIDATE } list_mode;

enum { HASH_NONE = 0, HASH_META, HASH_PART, HASH_CONTENT };

typedef struct slice_upload slice_upload;

typedef struct su_part {
    slice_upload *su;
    cos_request *req;   /* in flight, or NULL */
    int64_t offset, size;
    int64_t sent;       /* bytes of the attempt in flight */
    int number;
    unsigned char state;
    unsigned char integrity_retries;
    char etag[72];
    uint64_t crc64;
    unsigned char content_md5[16]; /* UploadCheckContentMd5: hashed (in slices) before it is sent */
    unsigned char has_content_md5;
} su_part;

struct slice_upload {
    cos_task *t;
    char *path;            /* absolute */
    char *bucket, *region, *key;
    int fd;
    int64_t size;
    int64_t mtime_sec;
    long mtime_nsec;
    int64_t part_size;
    int nparts;
    su_part *parts;
    int concurrency, retries;
    int active;            /* parts in flight */
    int64_t done_bytes, inflight_bytes;
    phase ph;
    char *upload_id;       /* chosen (or being checked) upload, held in the queue's in-use set */
    char *cp_file;         /* NULL: no checkpoint file */
    cos_checkpoint cp;     /* confirmed parts, as saved */
    double cp_saved_ms;
    int cp_dirty;
    cos_request *ctl;      /* the control request in flight (list, init, complete, abort) */
    /* checking */
    list_mode mode;
    cos_value *listed;     /* parts listed so far: array of {PartNumber, ETag, Size} */
    cos_value *candidates; /* UploadIds of remote uploads to try */
    size_t cand_next;
    /* paging: the markers of the page asked for, to see that the server's next ones advance */
    char *page_key_marker, *page_id_marker; /* List Multipart Uploads */
    size_t uploads_listed;                  /* entries of every page so far */
    long page_part_marker;                  /* List Parts */
    cos_checkpoint disk;   /* the checkpoint found on disk (LIST_CHECKPOINT) */
    double hashed, hash_emit_ms;
    /* Hashing in slices (resume matching, UploadAddMetaMd5): one cos_poll step hashes at most what
     * the step budget leaves (task op_step); a pause or cancel stops it at once. */
    cos_integrity_hasher hasher;
    int hash_kind;         /* HASH_NONE, HASH_META (the whole file), HASH_PART (listed[verify_i]),
                            * HASH_CONTENT (the Content-MD5 of hash_part, UploadCheckContentMd5) */
    struct su_part *hash_part;
    size_t verify_i;       /* the next entry of `listed` to reconcile */
    int complete_attempts;
    char meta_md5[33];
    cos_value *cancel_err; /* the error to finish with once the abort (or the HEAD check) is done */
    cos_value *unverified; /* Complete's result data while a HEAD looks for the object's CRC-64 */
    /* An upload of an earlier version of the file, held in the queue's in-use set until its
     * Abort has been answered: no task of this client may adopt it meanwhile, and this task
     * chooses its next upload only afterwards (listing before would find it still there). */
    char *aborting;
    cos_value *after_abort_err; /* NULL: start a fresh upload once aborted; else fail with it */
};

static void begin_checking(slice_upload *su);
static void abort_stale(slice_upload *su);
static void list_uploads(slice_upload *su, const char *key_marker, const char *id_marker);
static void try_next_candidate(slice_upload *su);
static void list_parts(slice_upload *su, const char *marker);
static void initiate(slice_upload *su);
static void start_parts(slice_upload *su);
static void schedule_parts(slice_upload *su);
static void complete(slice_upload *su);
static int file_unchanged(slice_upload *su);
static void file_modified(slice_upload *su);

/* ---------------------------------------------------------------------------------------- */
/* Small helpers                                                                             */

static cos_client *client_of(slice_upload *su) { return su->t->client; }

#define DEFAULT_CHUNK_SIZE (8.0 * MIB)

static int64_t param_int(const cos_value *params, const char *name, int64_t dflt)
{
    int64_t v;
    return cos_param_integer(cos_obj_get(params, name), &v) == 0 ? v : dflt;
}

/* Part size (docs/upload-engine.md#parts-and-concurrency): ChunkSize (per call; SliceSize too for
 * sliceUploadFile itself) or the client's ChunkSize, grown along the SDK's ladder until the file
 * fits in MaxPartNumber parts. */
static int64_t choose_part_size(cos_task *t, int64_t size)
{
    cos_client *c = t->client;
    /* Default 8 MiB, not the Node SDK's 1 MiB: a GiB then takes 128 requests instead of 1024,
     * which measured ~1.6x faster on loopback (bench/results.md). Explicit values still win. */
    double opt = cos_options_num(c->options, "ChunkSize");
    if (opt < MIB) opt = MIB;
    int64_t chunk = param_int(t->params, "ChunkSize", 0);
    if (chunk <= 0 && strcmp(t->op, "sliceUploadFile") == 0) chunk = param_int(t->params, "SliceSize", 0);
    if (chunk <= 0) chunk = (int64_t)opt;
    double maxp = cos_options_num(c->options, "MaxPartNumber");
    maxp = maxp < 1024 ? 1024 : maxp > MAX_PARTS ? MAX_PARTS : maxp;
    static const int ladder[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 5120};
    int64_t fit = (int64_t)5120 * 1024 * 1024;
    for (size_t i = 0; i < sizeof ladder / sizeof ladder[0]; i++) {
        int64_t s = (int64_t)ladder[i] * 1024 * 1024;
        if ((double)size / (double)s <= maxp) {
            fit = s;
            break;
        }
    }
    int64_t ps = chunk > fit ? chunk : fit;
    if ((size + ps - 1) / ps > MAX_PARTS) ps = (size + MAX_PARTS - 1) / MAX_PARTS; /* never more than COS allows */
    return ps;
}

static int concurrency_of(cos_task *t)
{
    int64_t n = param_int(t->params, "AsyncLimit", 0);
    if (n <= 0) n = (int64_t)cos_options_num(t->client->options, "ChunkParallelLimit");
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

static int retries_of(cos_task *t)
{
    double n = cos_options_num(t->client->options, "ChunkRetryTimes");
    return n < 0 ? 0 : n > 100 ? 100 : (int)n;
}

/* Lays out the parts for su->size and su->part_size (all still to send). 0 or -1. */
static int layout(slice_upload *su)
{
    int64_t n = su->size == 0 ? 1 : (su->size + su->part_size - 1) / su->part_size;
    if (n > MAX_PARTS || n < 1) return -1;
    su_part *parts = calloc((size_t)n, sizeof *parts);
    if (!parts) return -1;
    for (int64_t i = 0; i < n; i++) {
        parts[i].su = su;
        parts[i].number = (int)i + 1;
        parts[i].offset = i * su->part_size;
        parts[i].size = i == n - 1 ? su->size - parts[i].offset : su->part_size;
    }
    free(su->parts);
    su->parts = parts;
    su->nparts = (int)n;
    su->done_bytes = 0;
    return 0;
}

static void etag_norm(const char *in, char *out, size_t n)
{
    size_t j = 0;
    for (const char *p = in ? in : ""; *p && j + 1 < n; p++)
        if (*p != '"') out[j++] = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
    out[j] = '\0';
}

static int etag_equal(const char *a, const char *b)
{
    char x[80], y[80];
    etag_norm(a, x, sizeof x);
    etag_norm(b, y, sizeof y);
    return *x && strcmp(x, y) == 0;
}

static const char *xml_text(const cos_value *obj, const char *name)
{
    const char *s = cos_obj_get_str(obj, name);
    return s ? s : "";
}

/* ---------------------------------------------------------------------------------------- */
/* The UploadId and the checkpoint                                                           */

static void drop_upload_id(slice_upload *su)
{
    if (!su->upload_id) return;
    cos_queue_release_upload(client_of(su), su->upload_id);
    free(su->upload_id);
    su->upload_id = NULL;
}

/* Takes `id` if no live task of this client uses it. 0 or -1. */
static int take_upload_id(slice_upload *su, const char *id)
{
    drop_upload_id(su);
    if (cos_queue_acquire_upload(client_of(su), id) != 0) return -1;
    if (!(su->upload_id = strdup(id))) {
        cos_queue_release_upload(client_of(su), id);
        return -1;
    }
    return 0;
}

static int cp_fill_identity(slice_upload *su)
{
    cos_checkpoint *cp = &su->cp;
    free(cp->bucket);
    free(cp->region);
    free(cp->key);
    free(cp->path);
    free(cp->upload_id);
    cp->bucket = strdup(su->bucket);
    cp->region = strdup(su->region);
    cp->key = strdup(su->key);
    cp->path = strdup(su->path);
    cp->upload_id = su->upload_id ? strdup(su->upload_id) : NULL;
    cp->size = su->size;
    cp->mtime_sec = su->mtime_sec;
    cp->mtime_nsec = su->mtime_nsec;
    cp->part_size = su->part_size;
    return cp->bucket && cp->region && cp->key && cp->path && (!su->upload_id || cp->upload_id) ? 0 : -1;
}

/* Saves the checkpoint now (force) or when the last save is old enough. A failed write only
 * costs resumability, never the upload itself. */
static void cp_save(slice_upload *su, int force)
{
    if (!su->cp_file || !su->upload_id || su->ph != PH_PARTS) return; /* only an upload we own */
    double now = cos_clock_mono_ms();
    if (!force && !su->cp_dirty) return;
    if (!force && su->cp.nparts > CP_SMALL_PARTS && now - su->cp_saved_ms < CP_SAVE_INTERVAL_MS) return;
    if (cp_fill_identity(su) == 0 && cos_cp_save(su->cp_file, &su->cp, force) == 0) {
        su->cp_dirty = 0;
        su->cp_saved_ms = now;
    }
}

static void cp_forget(slice_upload *su)
{
    if (su->cp_file) cos_cp_remove(su->cp_file);
    cos_cp_clear_parts(&su->cp);
}

/* ---------------------------------------------------------------------------------------- */
/* Requests                                                                                  */

static cos_request *new_request(slice_upload *su, const char *method, int bucket_level)
{
    cos_request *r = cos_req_new(client_of(su), method, su->bucket, su->region, bucket_level ? NULL : su->key);
    if (r) cos_req_task(r, su->t->id);
    return r;
}

static void fail(slice_upload *su, cos_value *err);

/* Submits a control request (one at a time); on build failure the task fails. */
static void submit_ctl(slice_upload *su, cos_request *r, int rc, cos_req_done_fn done)
{
    if (!r || rc != 0) {
        cos_req_free(r);
        fail(su, cos_error_newf("Error", "out of memory"));
        return;
    }
    cos_req_on_done(r, done, su);
    su->ctl = r;
    cos_transport_submit(r);
}

/* The XML body of a result as an object (root's children); NULL for an empty/non-XML body. */
static cos_value *result_xml(cos_http_result *res, const char *const *arrays)
{
    if (!res->body.len) return NULL;
    return cos_xml_to_value(res->body.data, res->body.len, arrays);
}

static cos_value *take_error(cos_http_result *res)
{
    cos_value *e = res->error;
    res->error = NULL;
    return e;
}

static const char *error_code(const cos_value *e) { return cos_obj_get_str(e, "code"); }

/* ---------------------------------------------------------------------------------------- */
/* Finishing                                                                                 */

static void stop_hashing(slice_upload *su)
{
    if (su->hash_kind == HASH_CONTENT && su->hash_part) su->hash_part->state = PART_TODO;
    su->hash_part = NULL;
    cos_integrity_hasher_stop(&su->hasher);
    su->hash_kind = HASH_NONE;
    su->t->op_step = NULL;
}

/* Aborts everything in flight and forgets it (the engine calls no `done` for aborted requests). */
static void abort_inflight(slice_upload *su)
{
    cos_transport_abort_task(client_of(su), su->t->id);
    su->ctl = NULL;
    for (int i = 0; i < su->nparts && su->active; i++) {
        su_part *p = &su->parts[i];
        if (p->state != PART_ACTIVE) continue;
        p->req = NULL;
        p->state = PART_TODO;
        p->sent = 0;
        su->active--;
    }
    su->active = 0;
    su->inflight_bytes = 0;
    cos_value_free(su->listed);
    su->listed = NULL;
    stop_hashing(su);
}

/* The upload failed: siblings in flight are stopped, the checkpoint is kept (a later call or
 * restartTask resumes), the UploadId is freed for that, and err gets UploadId
 * (cos-wire.md#service-errors). */
static void fail(slice_upload *su, cos_value *err)
{
    if (su->ph == PH_DONE) {
        cos_value_free(err);
        return;
    }
    abort_inflight(su);
    cp_save(su, 1);
    const char *owned = su->ph == PH_PARTS ? su->upload_id : NULL; /* not a candidate being checked */
    if (!err) err = cos_error_newf("Error", "out of memory");
    if (err) cos_obj_set_str(err, "UploadId", owned ? owned : "");
    if (err && owned && su->done_bytes > 0 && !cos_obj_get(err, "hint"))
        cos_obj_set_str(err, "hint", "the parts sent stay on the server: run the same upload again to resume it");
    cos_queue_set_upload(su->t, owned, su->cp_file);
    drop_upload_id(su);
    su->ph = PH_DONE;
    cos_task_finish(su->t, err, NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* Checking: the file                                                                        */

/* (Re)opens the file and records its size and mtime. If an upload was chosen for an earlier
 * version of the file (changed while paused), that upload is dropped. 0 or -1 (task failed). */
static int open_file(slice_upload *su)
{
    struct stat st;
    if (su->fd < 0) su->fd = open(su->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* never blocks on a FIFO */
    if (su->fd < 0 || fstat(su->fd, &st) != 0) {
        fail(su, cos_error_errno(errno, "open", su->path));
        return -1;
    }
    int changed = st.st_size != su->size || st.st_mtim.tv_sec != su->mtime_sec || st.st_mtim.tv_nsec != su->mtime_nsec;
    su->size = st.st_size;
    su->mtime_sec = st.st_mtim.tv_sec;
    su->mtime_nsec = st.st_mtim.tv_nsec;
    if (changed && su->ph == PH_PARTS) { /* the parts uploaded so far are of another content */
        free(su->aborting);
        su->aborting = su->upload_id; /* the in-use hold moves with it */
        su->upload_id = NULL;
        su->ph = PH_IDLE;
    }
    return 0;
}

static void emit_hash_progress(slice_upload *su, int force)
{
    double now = cos_clock_mono_ms();
    if (!force && now - su->hash_emit_ms < client_of(su)->progress_interval_ms) return;
    su->hash_emit_ms = now;
    cos_task_hash_progress_now(su->t, su->hashed, (double)su->size);
}

static void reconcile_checkpoint(slice_upload *su);
static void reconcile_candidate(slice_upload *su);
static void mark_done(slice_upload *su, su_part *p, const char *etag, uint64_t crc);
static void su_step(cos_task *t);

/* Starts hashing [off, off+len) of the file in slices; su_step continues with `kind` when done. */
static int start_hashing(slice_upload *su, int kind, int64_t off, int64_t len)
{
    if (cos_integrity_hasher_start(&su->hasher, su->fd, off, len) != 0) {
        fail(su, cos_error_newf("Error", "out of memory"));
        return -1;
    }
    su->hash_kind = kind;
    su->t->op_step = su_step;
    return 0;
}

/* The listed part being reconciled (listed[verify_i]) and its part. */
static su_part *listed_part(slice_upload *su, const cos_value **lp)
{
    *lp = cos_arr_get(su->listed, su->verify_i);
    long n = strtol(xml_text(*lp, "PartNumber"), NULL, 10);
    return n >= 1 && n <= su->nparts ? &su->parts[n - 1] : NULL;
}

/* One cos_poll step of hashing: as many bytes as the step budget leaves. */
static void su_step(cos_task *t)
{
    slice_upload *su = t->op_state;
    cos_client *c = client_of(su);
    int64_t room = COS_STEP_MAX_BYTES - c->step_bytes, used = 0;
    if (room <= 0 || su->hash_kind == HASH_NONE) return;
    unsigned char md5[16];
    uint64_t crc = 0;
    int rc = cos_integrity_hasher_step(&su->hasher, room, &used, md5, &crc);
    c->step_bytes += used;
    if (su->hash_kind != HASH_CONTENT) { /* onHashProgress is about checking, not about sending */
        su->hashed += (double)used;
        emit_hash_progress(su, 0);
    }
    if (rc == 0) return;
    int kind = su->hash_kind;
    su_part *hp = su->hash_part;
    su->hash_kind = HASH_NONE;
    su->hash_part = NULL;
    t->op_step = NULL;
    if (rc < 0) {
        if (kind == HASH_CONTENT && !file_unchanged(su)) file_modified(su);
        else fail(su, cos_error_errno(errno, "read", su->path));
        return;
    }
    if (kind == HASH_CONTENT) { /* the part goes out now, with its Content-MD5 */
        memcpy(hp->content_md5, md5, 16);
        hp->has_content_md5 = 1;
        hp->state = PART_TODO;
        schedule_parts(su);
        return;
    }
    if (kind == HASH_META) {
        for (int i = 0; i < 16; i++) snprintf(su->meta_md5 + 2 * i, 3, "%02x", md5[i]);
        initiate(su);
        return;
    }
    const cos_value *lp;
    su_part *p = listed_part(su, &lp);
    if (cos_integrity_etag_matches(xml_text(lp, "ETag"), md5) == 1) {
        p->crc64 = crc;
        if (su->mode == LIST_CHECKPOINT) mark_done(su, p, xml_text(lp, "ETag"), crc);
        su->verify_i++;
    } else if (su->mode == LIST_CHECKPOINT) {
        su->verify_i++; /* not ours after all: uploaded again */
    } else {
        su->verify_i = SIZE_MAX; /* the candidate is not ours */
    }
    if (su->mode == LIST_CHECKPOINT) reconcile_checkpoint(su);
    else reconcile_candidate(su);
}

static void mark_done(slice_upload *su, su_part *p, const char *etag, uint64_t crc)
{
    snprintf(p->etag, sizeof p->etag, "%s", etag);
    p->crc64 = crc;
    if (p->state != PART_DONE) su->done_bytes += p->size;
    p->state = PART_DONE;
    cos_cp_part cpp = {.number = p->number, .size = p->size, .crc64 = crc};
    snprintf(cpp.etag, sizeof cpp.etag, "%s", etag);
    if (cos_cp_set_part(&su->cp, &cpp) == 0) su->cp_dirty = 1;
}

/* ---------------------------------------------------------------------------------------- */
/* Checking: the checkpoint                                                                  */

static int same_identity(const slice_upload *su, const cos_checkpoint *cp)
{
    return strcmp(cp->bucket, su->bucket) == 0 && strcmp(cp->region, su->region) == 0 &&
           strcmp(cp->key, su->key) == 0 && strcmp(cp->path, su->path) == 0;
}

static int same_file(const slice_upload *su, const cos_checkpoint *cp)
{
    return cp->size == su->size && cp->mtime_sec == su->mtime_sec && cp->mtime_nsec == su->mtime_nsec;
}

static void begin_checking(slice_upload *su)
{
    su->ph = PH_CHECKING;
    su->hashed = 0;
    su->hash_emit_ms = 0;
    cos_cp_clear_parts(&su->cp);
    if (su->aborting) {
        abort_stale(su);
        return;
    }
    if (su->cp_file && cos_cp_load(su->cp_file, &su->disk) == 0 && same_identity(su, &su->disk)) {
        if (!same_file(su, &su->disk)) {
            if (su->disk.upload_id && cos_queue_acquire_upload(client_of(su), su->disk.upload_id) == 0) {
                su->aborting = su->disk.upload_id;
                su->disk.upload_id = NULL;
                cos_cp_free(&su->disk);
                abort_stale(su);
                return;
            }
            cos_cp_remove(su->cp_file); /* no upload, or a live task's: nothing of ours to abort */
        } else if (su->disk.part_size > 0 && take_upload_id(su, su->disk.upload_id) == 0) {
            su->part_size = su->disk.part_size; /* the checkpoint's layout wins over today's ChunkSize */
            if (layout(su) == 0) {
                su->mode = LIST_CHECKPOINT;
                list_parts(su, NULL);
                return;
            }
            drop_upload_id(su);
        } else {
            /* A live task of this client uploads the same file: leave its checkpoint alone. */
            free(su->cp_file);
            su->cp_file = NULL;
        }
    }
    cos_cp_free(&su->disk);
    su->part_size = choose_part_size(su->t, su->size);
    if (layout(su) != 0) {
        fail(su, cos_error_newf("Error", "cannot lay out %" PRId64 " bytes in parts", su->size));
        return;
    }
    list_uploads(su, NULL, NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* Checking: List Multipart Uploads (the SDK's fallback)                                     */

static const char *const UPLOAD_ARRAYS[] = {"Upload", "CommonPrefixes", NULL};

/* A truncated List Multipart Uploads page must move its markers on, and the listing must stay
 * within MAX_LISTED_UPLOADS: a server that pages forever would otherwise keep the task looping. */
static cos_value *uploads_page_error(slice_upload *su, const cos_value *x)
{
    const char *km = xml_text(x, "NextKeyMarker"), *im = xml_text(x, "NextUploadIdMarker");
    if (su->page_key_marker && strcmp(km, su->page_key_marker) == 0 &&
        strcmp(im, su->page_id_marker ? su->page_id_marker : "") == 0)
        return cos_error_newf("InvalidResponse", "List Multipart Uploads answered IsTruncated=true with the markers "
                                "it was asked for (NextKeyMarker %.200s, NextUploadIdMarker %.200s): the listing "
                                "does not advance", km, im);
    if (su->uploads_listed > MAX_LISTED_UPLOADS)
        return cos_error_newf("InvalidResponse", "List Multipart Uploads listed more than %d uploads for this Key "
                                "and is still truncated; giving up", MAX_LISTED_UPLOADS);
    return NULL;
}

static void list_uploads_done(void *ud, cos_http_result *res)
{
    slice_upload *su = ud;
    su->ctl = NULL;
    if (res->error) { /* no permission to list, say: nothing to resume, start fresh */
        initiate(su);
        return;
    }
    cos_value *x = result_xml(res, UPLOAD_ARRAYS);
    const cos_value *ups = cos_obj_get(x, "Upload");
    const char *want_class = cos_task_str(su->t, "StorageClass");
    if (!su->candidates) su->candidates = cos_arr_new();
    for (size_t i = 0; i < cos_value_len(ups) && su->candidates; i++) {
        const cos_value *u = cos_arr_get(ups, i);
        const char *k = xml_text(u, "Key"), *id = xml_text(u, "UploadId");
        if (strcmp(k, su->key) != 0 || !*id) continue; /* an upload being aborted is held: take_upload_id skips it */
        if (want_class && strcasecmp(want_class, xml_text(u, "StorageClass")) != 0) continue;
        cos_arr_push(su->candidates, cos_cstr_new(id));
    }
    su->uploads_listed += cos_value_len(ups);
    int more = strcmp(xml_text(x, "IsTruncated"), "true") == 0 && *xml_text(x, "NextKeyMarker");
    cos_value *bad = more ? uploads_page_error(su, x) : NULL;
    if (bad) {
        cos_value_free(x);
        fail(su, bad);
        return;
    }
    if (more) {
        char *km = strdup(xml_text(x, "NextKeyMarker")), *im = strdup(xml_text(x, "NextUploadIdMarker"));
        cos_value_free(x);
        list_uploads(su, km, im);
        free(km);
        free(im);
        return;
    }
    cos_value_free(x);
    su->cand_next = 0;
    try_next_candidate(su);
}

static void list_uploads(slice_upload *su, const char *key_marker, const char *id_marker)
{
    if (!key_marker) su->uploads_listed = 0; /* a new listing */
    free(su->page_key_marker);
    free(su->page_id_marker);
    su->page_key_marker = key_marker ? strdup(key_marker) : NULL;
    su->page_id_marker = id_marker ? strdup(id_marker) : NULL;
    cos_request *r = new_request(su, "GET", 1);
    int rc = !r || cos_req_query(r, "uploads", "") || cos_req_query(r, "prefix", su->key);
    if (!rc && key_marker) rc = cos_req_query(r, "key-marker", key_marker);
    if (!rc && id_marker && *id_marker) rc = cos_req_query(r, "upload-id-marker", id_marker);
    submit_ctl(su, r, rc, list_uploads_done);
}

static void try_next_candidate(slice_upload *su)
{
    while (su->cand_next < cos_value_len(su->candidates)) {
        const char *id = cos_value_str(cos_arr_get(su->candidates, su->cand_next++), NULL);
        if (id && take_upload_id(su, id) == 0) {
            su->mode = LIST_CANDIDATE;
            list_parts(su, NULL);
            return;
        }
    }
    initiate(su);
}

/* ---------------------------------------------------------------------------------------- */
/* Checking: List Parts and reconciliation                                                   */

static const char *const PART_ARRAYS[] = {"Part", NULL};

/* The checkpoint's upload as the server lists it: confirmed parts are kept without reading the
 * file; parts only the server knows are kept if their bytes hash to the server's ETag (hashed in
 * slices: this returns while a part is being hashed, and su_step comes back here). */
static void reconcile_checkpoint(slice_upload *su)
{
    for (; su->verify_i < cos_value_len(su->listed); su->verify_i++) {
        const cos_value *lp;
        su_part *p = listed_part(su, &lp);
        int64_t size = strtoll(xml_text(lp, "Size"), NULL, 10);
        const char *etag = xml_text(lp, "ETag");
        if (!p || size != p->size) continue;
        const cos_cp_part *known = cos_cp_find_part(&su->disk, p->number);
        if (known && known->size == size && etag_equal(known->etag, etag)) {
            mark_done(su, p, etag, known->crc64);
            continue;
        }
        start_hashing(su, HASH_PART, p->offset, p->size);
        return;
    }
    cos_cp_free(&su->disk);
    cos_value_free(su->listed);
    su->listed = NULL;
    start_parts(su);
}

/* A remote upload found by listing (upload-engine.md, resume order step 3): acceptable when its
 * part layout is ours and every listed part hashes to its ETag (hashed in slices, as above). */
static void reconcile_candidate(slice_upload *su)
{
    size_t n = cos_value_len(su->listed);
    int ok = n <= (size_t)su->nparts && su->verify_i != SIZE_MAX;
    if (ok && su->verify_i == 0 && n >= 2) {
        int64_t s1 = strtoll(xml_text(cos_arr_get(su->listed, 0), "Size"), NULL, 10);
        int64_t s2 = strtoll(xml_text(cos_arr_get(su->listed, 1), "Size"), NULL, 10);
        ok = (s1 > s2 ? s1 : s2) == su->part_size;
    }
    if (ok && su->verify_i < n) {
        const cos_value *lp;
        su_part *p = listed_part(su, &lp);
        ok = p && p->size == strtoll(xml_text(lp, "Size"), NULL, 10);
        if (ok) {
            start_hashing(su, HASH_PART, p->offset, p->size);
            return;
        }
    }
    if (!ok) { /* not ours; left as it is (it may be another client's) */
        drop_upload_id(su);
        cos_value_free(su->listed);
        su->listed = NULL;
        try_next_candidate(su);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const cos_value *lp = cos_arr_get(su->listed, i);
        su_part *p = &su->parts[strtol(xml_text(lp, "PartNumber"), NULL, 10) - 1];
        mark_done(su, p, xml_text(lp, "ETag"), p->crc64);
    }
    cos_value_free(su->listed);
    su->listed = NULL;
    start_parts(su);
}

/* A truncated List Parts page: its NextPartNumberMarker must be a part number past the marker
 * asked for and below 10000 (no part can follow part 10000), so the listing ends within 10000
 * pages whatever the server says. */
static cos_value *parts_page_error(slice_upload *su, const char *next)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(next, &end, 10);
    if (errno || !end || *end || n <= su->page_part_marker)
        return cos_error_newf("InvalidResponse", "List Parts answered IsTruncated=true with NextPartNumberMarker "
                                "%.40s after part-number-marker %ld: the listing does not advance", next,
                                su->page_part_marker);
    if (n >= MAX_PARTS)
        return cos_error_newf("InvalidResponse", "List Parts answered IsTruncated=true after part %ld: more "
                                "parts than the %d an upload can have", n, MAX_PARTS);
    return NULL;
}

static void list_parts_done(void *ud, cos_http_result *res)
{
    slice_upload *su = ud;
    su->ctl = NULL;
    if (res->error) {
        cos_value *e = take_error(res);
        int gone = res->status_code == 404 || (error_code(e) && strcmp(error_code(e), "NoSuchUpload") == 0);
        cos_value_free(su->listed);
        su->listed = NULL;
        drop_upload_id(su);
        if (su->mode == LIST_CANDIDATE) {
            cos_value_free(e);
            try_next_candidate(su);
        } else if (gone) { /* the checkpoint's upload was completed or aborted meanwhile */
            cos_value_free(e);
            cos_cp_free(&su->disk);
            cp_forget(su);
            su->part_size = choose_part_size(su->t, su->size);
            if (layout(su) != 0) fail(su, cos_error_newf("Error", "cannot lay out the parts"));
            else list_uploads(su, NULL, NULL);
        } else {
            fail(su, e);
        }
        return;
    }
    cos_value *x = result_xml(res, PART_ARRAYS);
    const cos_value *parts = cos_obj_get(x, "Part");
    if (!su->listed) su->listed = cos_arr_new();
    for (size_t i = 0; i < cos_value_len(parts) && su->listed; i++)
        cos_arr_push(su->listed, cos_value_clone(cos_arr_get(parts, i)));
    int more = strcmp(xml_text(x, "IsTruncated"), "true") == 0 && *xml_text(x, "NextPartNumberMarker");
    cos_value *bad = more ? parts_page_error(su, xml_text(x, "NextPartNumberMarker")) : NULL;
    if (!bad && cos_value_len(su->listed) > MAX_PARTS)
        bad = cos_error_newf("InvalidResponse", "List Parts listed more than %d parts", MAX_PARTS);
    if (bad) {
        cos_value_free(x);
        fail(su, bad);
        return;
    }
    char *marker = more ? strdup(xml_text(x, "NextPartNumberMarker")) : NULL;
    cos_value_free(x);
    if (more) {
        list_parts(su, marker);
        free(marker);
        return;
    }
    su->verify_i = 0;
    if (su->mode == LIST_CHECKPOINT) reconcile_checkpoint(su);
    else reconcile_candidate(su);
}

static void list_parts(slice_upload *su, const char *marker)
{
    su->page_part_marker = marker ? strtol(marker, NULL, 10) : 0;
    cos_request *r = new_request(su, "GET", 0);
    int rc = !r || cos_req_query(r, "uploadId", su->upload_id);
    if (!rc && marker) rc = cos_req_query(r, "part-number-marker", marker);
    submit_ctl(su, r, rc, list_parts_done);
}

/* ---------------------------------------------------------------------------------------- */
/* Initiate                                                                                  */

static void initiate_done(void *ud, cos_http_result *res)
{
    slice_upload *su = ud;
    su->ctl = NULL;
    if (res->error) {
        fail(su, take_error(res));
        return;
    }
    if (su->cp_file) { /* a new upload is rare enough to tidy the checkpoint directory now */
        char *slash = strrchr(su->cp_file, '/');
        if (slash) {
            *slash = '\0';
            cos_cp_sweep(su->cp_file, CP_MAX_AGE_S);
            *slash = '/';
        }
    }
    cos_value *x = result_xml(res, NULL);
    const char *id = xml_text(x, "UploadId");
    if (!*id || take_upload_id(su, id) != 0) {
        cos_value_free(x);
        fail(su, cos_error_newf("Error", "InitiateMultipartUpload returned no usable UploadId"));
        return;
    }
    cos_value_free(x);
    start_parts(su);
}

static int want_meta_md5(const slice_upload *su)
{
    const cos_value *v = cos_obj_get(su->t->params, "UploadAddMetaMd5");
    return v && cos_value_bool(v);
}

static void initiate(slice_upload *su)
{
    if (want_meta_md5(su) && !*su->meta_md5) { /* x-cos-meta-md5: the whole file, hashed in slices first */
        start_hashing(su, HASH_META, 0, su->size);
        return;
    }
    cos_value_free(su->candidates);
    su->candidates = NULL;
    drop_upload_id(su);
    if (layout(su) != 0) {
        fail(su, cos_error_newf("Error", "cannot lay out the parts"));
        return;
    }
    cos_request *r = new_request(su, "POST", 0);
    /* Init carries every header of the call: Content-Type, meta, ACL, storage class...
     * (upload-engine.md#parts-and-concurrency, "Which headers go where"). */
    int rc = !r || cos_req_apply_params(r, su->t->params) || cos_req_query(r, "uploads", "");
    if (!rc && want_meta_md5(su)) rc = cos_req_header(r, "x-cos-meta-md5", su->meta_md5);
    if (!rc && !cos_req_get_header(r, "Cache-Control")) rc = cos_req_header(r, "Cache-Control", "");
    if (!rc && !cos_req_get_header(r, "Content-Type")) { /* the object's type, by extension */
        const char *type = mime_lookup_upload(client_of(su)->mime, su->path, su->key);
        rc = cos_req_header(r, "Content-Type", type ? type : "application/octet-stream");
    }
    submit_ctl(su, r, rc, initiate_done);
}

/* ---------------------------------------------------------------------------------------- */
/* Parts                                                                                     */

static void report_progress(slice_upload *su)
{
    cos_task_progress_update(su->t, (double)(su->done_bytes + su->inflight_bytes), (double)su->size);
}

static void part_progress(void *ud, int64_t sent, int64_t send_total, int64_t received, int64_t recv_total)
{
    su_part *p = ud;
    (void)send_total;
    (void)received;
    (void)recv_total;
    if (p->state != PART_ACTIVE || sent < 0) return;
    p->su->inflight_bytes += sent - p->sent;
    p->sent = sent;
    report_progress(p->su);
}

static void part_done(void *ud, cos_http_result *res)
{
    su_part *p = ud;
    slice_upload *su = p->su;
    p->req = NULL;
    p->state = PART_TODO;
    su->active--;
    su->inflight_bytes -= p->sent;
    p->sent = 0;
    if (res->error) { /* the engine already retried ChunkRetryTimes times with backoff */
        if (!file_unchanged(su)) { /* e.g. truncated under us: the read failed, not the network */
            file_modified(su);
            return;
        }
        fail(su, take_error(res));
        return;
    }
    /* What counts as verified is integrity.c's decision; a part also needs an ETag for Complete. */
    const char *etag = cos_obj_get_str(res->headers, "etag");
    char what[24];
    snprintf(what, sizeof what, "part %d", p->number);
    cos_value *bad = NULL;
    cos_integrity_verdict v = COS_INTEGRITY_DAMAGED;
    if (!etag || !*etag)
        bad = cos_error_newf("IntegrityError", "part %d: the server returned no ETag", p->number);
    else
        v = cos_integrity_check(client_of(su), res, p->size, what, &bad);
    if (v == COS_INTEGRITY_RECHECK) { /* sent again, now hashing MD5: its answer is checked by ETag */
        cos_value_free(bad);
        schedule_parts(su);
        return;
    }
    if (v != COS_INTEGRITY_OK) {
        if (v == COS_INTEGRITY_DAMAGED && p->integrity_retries < su->retries + 1) { /* damaged in transit */
            p->integrity_retries++;
            cos_value_free(bad);
            schedule_parts(su);
        } else {
            fail(su, bad);
        }
        return;
    }
    mark_done(su, p, etag, res->crc64);
    cp_save(su, 0);
    report_progress(su);
    schedule_parts(su);
}

static int submit_part(slice_upload *su, su_part *p)
{
    char num[16];
    snprintf(num, sizeof num, "%d", p->number);
    cos_request *r = new_request(su, "PUT", 0);
    const cos_value *params = su->t->params;
    char buf[64];
    /* Parts carry only the traffic limit and SSE of the call (see Init). */
    const char *tl = cos_param_string(params, "TrafficLimit", buf, sizeof buf);
    int rc = !r || cos_req_query(r, "partNumber", num) || cos_req_query(r, "uploadId", su->upload_id) ||
             cos_req_body_fd(r, su->fd, p->offset, p->size);
    if (!rc && tl) rc = cos_req_header(r, "x-cos-traffic-limit", tl);
    const char *sse = cos_obj_get_str(params, "ServerSideEncryption");
    if (!rc && sse) rc = cos_req_header(r, "x-cos-server-side-encryption", sse);
    if (!rc && p->has_content_md5) rc = cos_integrity_content_md5_header(r, p->content_md5);
    if (rc) {
        cos_req_free(r);
        return -1;
    }
    cos_req_hash(r, cos_integrity_stream_hashes(client_of(su), 1));
    cos_req_retries(r, su->retries);
    cos_req_on_done(r, part_done, p);
    cos_req_on_progress(r, part_progress, p);
    p->req = r;
    p->state = PART_ACTIVE;
    p->sent = 0;
    su->active++;
    cos_transport_submit(r);
    return 0;
}

static void schedule_parts(slice_upload *su)
{
    if (su->ph != PH_PARTS) return;
    int todo = 0;
    int check_md5 = cos_integrity_wants_content_md5(client_of(su));
    for (int i = 0; i < su->nparts; i++) {
        su_part *p = &su->parts[i];
        if (p->state == PART_HASHING) todo = 1;
        if (p->state != PART_TODO) continue;
        todo = 1;
        if (su->active + (su->hash_kind == HASH_CONTENT) >= su->concurrency) break;
        if (check_md5 && !p->has_content_md5) { /* hashed in slices first (one part at a time) */
            if (su->hash_kind != HASH_NONE) continue;
            if (start_hashing(su, HASH_CONTENT, p->offset, p->size) != 0) return;
            su->hash_part = p;
            p->state = PART_HASHING;
            continue;
        }
        if (submit_part(su, p) != 0) {
            fail(su, cos_error_newf("Error", "cannot build the request of part %d", p->number));
            return;
        }
    }
    if (!todo && su->active == 0) complete(su);
}

static void start_parts(slice_upload *su)
{
    cos_value_free(su->candidates);
    su->candidates = NULL;
    if (su->ph == PH_CHECKING) emit_hash_progress(su, 1); /* the SDK always ends checking with one */
    su->ph = PH_PARTS;
    su->cp_dirty = 1;
    cp_save(su, 1);
    cos_queue_set_upload(su->t, su->upload_id, su->cp_file);
    /* The immediate emission that starts "uploading"; loaded starts at the bytes already there. */
    cos_task_progress_now(su->t, (double)su->done_bytes, (double)su->size);
    schedule_parts(su);
}

/* ---------------------------------------------------------------------------------------- */
/* Complete                                                                                  */

static uint64_t combined_crc64(const slice_upload *su)
{
    uint64_t crc = 0;
    for (int i = 0; i < su->nparts; i++)
        crc = i == 0 ? su->parts[i].crc64 : cos_crc64_combine(crc, su->parts[i].crc64, (uint64_t)su->parts[i].size);
    return crc;
}

static cos_value *complete_data(slice_upload *su, cos_http_result *res, cos_value *x)
{
    cos_value *data = cos_result_data(res);
    if (!data) return NULL;
    char *loc = cos_task_location(su->t);
    cos_obj_set_str(data, "Location", loc ? loc : "");
    free(loc);
    cos_obj_set_str(data, "Bucket", cos_obj_get_str(x, "Bucket") ? cos_obj_get_str(x, "Bucket") : su->bucket);
    cos_obj_set_str(data, "Key", cos_obj_get_str(x, "Key") ? cos_obj_get_str(x, "Key") : su->key);
    cos_obj_set_str(data, "ETag", xml_text(x, "ETag"));
    cos_obj_set_str(data, "UploadId", su->upload_id);
    return data;
}

/* Complete answered 200 with an <Error> body: an error; retried for the server-side kinds. */
static cos_value *error_in_body(cos_http_result *res, const cos_value *x, int *retryable)
{
    cos_value *fields = cos_xml_parse_error(res->body.data, res->body.len);
    if (!fields) return NULL;
    (void)x;
    const char *code = cos_obj_get_str(fields, "Code");
    *retryable = code && (strcmp(code, "InternalError") == 0 || strcmp(code, "ServiceUnavailable") == 0 ||
                          strcmp(code, "SlowDown") == 0);
    cos_value *e = cos_error_newf(code ? code : "Error", "%s", cos_obj_get_str(fields, "Message") ? cos_obj_get_str(fields, "Message") : "");
    if (e) {
        cos_obj_set_num(e, "statusCode", res->status_code);
        cos_obj_set(e, "error", fields);
        fields = NULL;
        if (res->request_id) cos_obj_set_str(e, "RequestId", res->request_id);
    }
    cos_value_free(fields);
    return e;
}

static void succeed(slice_upload *su, cos_value *data)
{
    cp_forget(su);
    cos_queue_set_upload(su->t, NULL, NULL);
    drop_upload_id(su);
    su->ph = PH_DONE;
    cos_task_finish(su->t, NULL, data);
}

/* HEAD after Complete answered "NoSuchUpload": if an earlier attempt did complete (its answer was
 * lost), the object is there with our CRC-64 and size, and the upload succeeded. */
static void head_after_complete_done(void *ud, cos_http_result *res)
{
    slice_upload *su = ud;
    su->ctl = NULL;
    cos_value *err = su->cancel_err; /* the NoSuchUpload error, kept meanwhile */
    su->cancel_err = NULL;
    uint64_t crc;
    const char *len = cos_obj_get_str(res->headers, "content-length");
    if (!res->error && cos_integrity_header_crc64(res->headers, &crc) && crc == combined_crc64(su) && len &&
        strtoll(len, NULL, 10) == su->size) {
        cos_value *data = complete_data(su, res, NULL);
        if (data) {
            const char *etag = cos_obj_get_str(cos_obj_get(data, "headers"), "etag");
            cos_obj_set_str(data, "ETag", etag ? etag : "");
            cos_value_free(err);
            succeed(su, data);
            return;
        }
    }
    fail(su, err);
}

static void check_completed(slice_upload *su, cos_value *err)
{
    cos_value_free(su->cancel_err);
    su->cancel_err = err;
    cos_request *r = new_request(su, "HEAD", 0);
    submit_ctl(su, r, 0, head_after_complete_done);
}

/* Complete answered 200 without x-cos-hash-crc64ecma: the object counts as uploaded only when a
 * HEAD of it gives our size and the parts' combined CRC-64. */
static void verified_head_done(void *ud, cos_http_result *res)
{
    slice_upload *su = ud;
    su->ctl = NULL;
    cos_value *data = su->unverified;
    su->unverified = NULL;
    uint64_t crc, ours = combined_crc64(su);
    const char *len = cos_obj_get_str(res->headers, "content-length");
    int has_crc = !res->error && cos_integrity_header_crc64(res->headers, &crc);
    if (has_crc && crc == ours && len && strtoll(len, NULL, 10) == su->size) {
        succeed(su, data);
        return;
    }
    cos_value_free(data);
    if (res->error)
        fail(su, cos_error_newf("UnverifiedUpload", "Complete Multipart Upload answered 200 without "
                                  "x-cos-hash-crc64ecma, and the object could not be checked: HEAD answered %d %.100s",
                                  res->status_code, cos_obj_get_str(res->error, "code") ? cos_obj_get_str(res->error, "code") : ""));
    else if (!has_crc)
        fail(su, cos_error_newf("UnverifiedUpload", "Complete Multipart Upload answered 200 without "
                                  "x-cos-hash-crc64ecma, and a HEAD of the object gives none either: the object "
                                  "could not be verified"));
    else if (crc != ours)
        fail(su, cos_error_newf("IntegrityError", "the object's x-cos-hash-crc64ecma %" PRIu64 " (from HEAD) is not "
                                  "the CRC-64 %" PRIu64 " of the file's parts", crc, ours));
    else
        fail(su, cos_error_newf("IntegrityError", "the object's size %.40s (from HEAD) is not the file's %" PRId64,
                                  len ? len : "(none)", su->size));
}

static void verify_by_head(slice_upload *su, cos_value *data)
{
    cos_value_free(su->unverified);
    su->unverified = data;
    cos_request *r = new_request(su, "HEAD", 0);
    submit_ctl(su, r, 0, verified_head_done);
}

static void complete_done(void *ud, cos_http_result *res)
{
    slice_upload *su = ud;
    su->ctl = NULL;
    int retryable = 0;
    cos_value *err = NULL, *x = NULL;
    if (res->error) {
        err = take_error(res);
        retryable = res->status_code >= 500 || res->status_code == 0;
    } else {
        x = result_xml(res, NULL);
        err = error_in_body(res, x, &retryable);
    }
    if (err) {
        cos_value_free(x);
        const char *code = error_code(err);
        if (retryable && su->complete_attempts <= su->retries) {
            cos_value_free(err);
            complete(su);
        } else if (code && strcmp(code, "NoSuchUpload") == 0) {
            /* Also after a single attempt of ours: libcurl itself resends a request whose reused
             * connection died, so a lost answer is invisible here. */
            check_completed(su, err);
        } else {
            fail(su, err);
        }
        return;
    }
    uint64_t server_crc, ours = combined_crc64(su);
    int has_crc = cos_integrity_header_crc64(res->headers, &server_crc);
    if (has_crc && server_crc != ours) {
        cos_value_free(x);
        fail(su, cos_error_newf("IntegrityError", "the object's x-cos-hash-crc64ecma %" PRIu64
                                  " is not the CRC-64 %" PRIu64 " of the file's parts", server_crc, ours));
        return;
    }
    cos_value *data = complete_data(su, res, x);
    cos_value_free(x);
    if (!data) {
        fail(su, NULL);
        return;
    }
    if (!has_crc) { /* a 200 alone proves nothing about the object: ask for its CRC-64 */
        verify_by_head(su, data);
        return;
    }
    succeed(su, data);
}

/* Complete gets only x-cos-meta-* and Pic-Operations of the call (see Init). */
static int complete_headers(slice_upload *su, cos_request *r)
{
    const cos_value *params = su->t->params, *h = cos_obj_get(params, "Headers");
    char buf[64];
    for (int pass = 0; pass < 2; pass++) {
        const cos_value *o = pass ? h : params;
        for (size_t i = 0; i < cos_value_len(o) && cos_value_type(o) == COS_OBJ; i++) {
            const char *k = cos_obj_key(o, i), *v = cos_param_string(o, k, buf, sizeof buf);
            if (v && strncasecmp(k, "x-cos-meta-", 11) == 0 && cos_req_header(r, k, v)) return -1;
        }
    }
    const char *pic = cos_param_string(params, "PicOperations", buf, sizeof buf);
    if (pic && cos_req_header(r, "Pic-Operations", pic)) return -1;
    if (*su->meta_md5 && cos_req_header(r, "x-cos-meta-md5", su->meta_md5)) return -1;
    return 0;
}

/* Before Complete: the file must still be the one the parts were read from. */
static int file_unchanged(slice_upload *su)
{
    struct stat st;
    return fstat(su->fd, &st) == 0 && st.st_size == su->size && st.st_mtim.tv_sec == su->mtime_sec &&
           st.st_mtim.tv_nsec == su->mtime_nsec;
}

/* The file changed under the upload: its parts mix two versions, so the upload is aborted on
 * the server and forgotten, and the task fails with FileModified once the Abort is answered. */
static void file_modified(slice_upload *su)
{
    abort_inflight(su); /* sibling parts: useless now */
    free(su->aborting);
    su->aborting = su->upload_id;
    su->upload_id = NULL;
    cos_value_free(su->after_abort_err);
    su->after_abort_err = cos_error_newf("FileModified", "%s changed while it was being uploaded; restart the upload",
                                           su->path);
    abort_stale(su);
}

static void complete(slice_upload *su)
{
    if (!file_unchanged(su)) { /* the parts mix two versions of the file: useless */
        file_modified(su);
        return;
    }
    cp_save(su, 1);
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
    cos_request *r = xml ? new_request(su, "POST", 0) : NULL;
    int rc = !r || cos_integrity_body_md5(r, xml, len) || cos_req_query(r, "uploadId", su->upload_id) ||
             cos_req_header(r, "Content-Type", "application/xml") || complete_headers(su, r) ||
             cos_req_body_mem_take(r, xml, len);
    if (rc) free(xml);
    su->complete_attempts++;
    submit_ctl(su, r, rc, complete_done);
}

/* ---------------------------------------------------------------------------------------- */
/* Abort (cancel, changed file)                                                              */

static void release_stale(slice_upload *su)
{
    if (!su->aborting) return;
    cos_queue_release_upload(client_of(su), su->aborting);
    free(su->aborting);
    su->aborting = NULL;
}

/* The stale upload's Abort was answered. Whatever the answer (a failed abort leaves the upload
 * to a lifecycle rule), the stale upload is never adopted: a fresh one is initiated, or the
 * task fails with the error that waited for the abort. */
static void abort_stale_done(void *ud, cos_http_result *res)
{
    slice_upload *su = ud;
    su->ctl = NULL;
    (void)res;
    release_stale(su);
    cp_forget(su);
    cos_value *err = su->after_abort_err;
    su->after_abort_err = NULL;
    if (err) {
        fail(su, err);
        return;
    }
    su->part_size = choose_part_size(su->t, su->size);
    initiate(su);
}

/* Aborts su->aborting (an upload of an earlier version of the file) as the task's control
 * request. A pause stops it with the rest; the hold and the checkpoint stay, so the next run
 * aborts again before choosing an upload. */
static void abort_stale(slice_upload *su)
{
    su->ph = PH_CHECKING;
    cos_request *r = new_request(su, "DELETE", 0);
    submit_ctl(su, r, !r || cos_req_query(r, "uploadId", su->aborting), abort_stale_done);
}

static void cancel_done(void *ud, cos_http_result *res)
{
    slice_upload *su = ud;
    su->ctl = NULL;
    /* A failed abort keeps the checkpoint, the only record of the parts left on the server. */
    if (!res->error || res->status_code == 404) cp_forget(su);
    cos_queue_set_upload(su->t, NULL, NULL);
    drop_upload_id(su);
    su->ph = PH_DONE;
    cos_value *e = su->cancel_err;
    su->cancel_err = NULL;
    cos_task_finish(su->t, e, NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* Queue operations                                                                          */

static void su_run(cos_task *t)
{
    slice_upload *su = t->op_state;
    if (open_file(su) != 0) return;
    if (su->ph == PH_PARTS && su->upload_id) { /* restartTask after pause: the parts are known */
        start_parts(su);
        return;
    }
    begin_checking(su);
}

static void su_stop(cos_task *t)
{
    slice_upload *su = t->op_state;
    abort_inflight(su);
    cos_cp_free(&su->disk);
    if (su->ph == PH_PARTS) {
        cp_save(su, 1);
    } else if (su->ph == PH_CHECKING) { /* resumes from the start of checking */
        su->ph = PH_IDLE;
        drop_upload_id(su);
        cos_value_free(su->candidates);
        su->candidates = NULL;
    }
}

/* Cancel: the multipart upload goes away on the server (with a checkpoint's, if this task had
 * not got as far as choosing one), then the task finishes with the canceled error. */
static void su_cancel(cos_task *t, cos_value *err)
{
    slice_upload *su = t->op_state;
    stop_hashing(su);
    if (!su->upload_id && su->aborting) { /* canceled while aborting a stale upload: finish that */
        su->upload_id = su->aborting;
        su->aborting = NULL;
    }
    if (!su->upload_id && su->cp_file) {
        cos_checkpoint disk;
        if (cos_cp_load(su->cp_file, &disk) == 0 && same_identity(su, &disk) &&
            take_upload_id(su, disk.upload_id) != 0) {
            cos_cp_free(&disk); /* in use by another live task: not ours to abort */
            free(su->cp_file);
            su->cp_file = NULL;
        } else {
            cos_cp_free(&disk);
        }
    }
    if (!su->upload_id) {
        su->ph = PH_DONE;
        cos_task_finish(t, err, NULL);
        return;
    }
    cos_value_free(su->cancel_err);
    su->cancel_err = err;
    su->ph = PH_CANCELING;
    cos_request *r = new_request(su, "DELETE", 0);
    int rc = !r || cos_req_query(r, "uploadId", su->upload_id);
    if (!r || rc) {
        cos_req_free(r);
        cancel_done(su, &(cos_http_result){.status_code = 0});
        return;
    }
    cos_req_on_done(r, cancel_done, su);
    su->ctl = r;
    cos_transport_submit(r);
}

static const cos_queue_ops SLICE_OPS = {su_run, su_stop, su_cancel, cos_op_multipart_abort_upload};

static void su_abort(cos_task *t)
{
    slice_upload *su = t->op_state;
    if (su) abort_inflight(su);
}

static void su_free(void *ud)
{
    slice_upload *su = ud;
    if (!su) return;
    cos_integrity_hasher_stop(&su->hasher);
    drop_upload_id(su);
    if (su->fd >= 0) close(su->fd);
    free(su->path);
    free(su->bucket);
    free(su->region);
    free(su->key);
    free(su->parts);
    free(su->cp_file);
    cos_cp_free(&su->cp);
    cos_cp_free(&su->disk);
    cos_value_free(su->listed);
    cos_value_free(su->candidates);
    cos_value_free(su->cancel_err);
    cos_value_free(su->unverified);
    release_stale(su);
    cos_value_free(su->after_abort_err);
    free(su->page_key_marker);
    free(su->page_id_marker);
    free(su);
}

int cos_slice_upload_start(cos_task *t, const char *path, const struct stat *st, int file_finish, cos_value **err)
{
    slice_upload *su = calloc(1, sizeof *su);
    if (!su) goto oom;
    su->t = t;
    su->fd = -1;
    su->path = cos_cp_abspath(path);
    su->bucket = strdup(cos_task_str(t, "Bucket"));
    su->region = strdup(cos_task_str(t, "Region"));
    su->key = strdup(cos_task_key(t));
    if (!su->path || !su->bucket || !su->region || !su->key) goto oom;
    su->size = st->st_size;
    su->mtime_sec = st->st_mtim.tv_sec;
    su->mtime_nsec = st->st_mtim.tv_nsec;
    su->concurrency = concurrency_of(t);
    su->retries = retries_of(t);
    char *dir = cos_cp_dir(t->client->options, t->params);
    if (dir) {
        su->cp_file = cos_cp_file(dir, su->bucket, su->region, su->key, su->path);
        free(dir);
    }
    t->op_state = su;
    t->op_free = su_free;
    t->op_abort = su_abort;
    if (cos_queue_add(t, path, (double)su->size, &SLICE_OPS, file_finish) != 0) {
        t->op_state = NULL; /* not started: nothing in flight */
        t->op_free = NULL;
        t->op_abort = NULL;
        su_free(su);
        su = NULL;
        goto oom;
    }
    return 0;
oom:
    su_free(su);
    *err = cos_error_newf("Error", "out of memory");
    return -1;
}
