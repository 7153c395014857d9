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
#include "base/params.h"
#include "base/options.h"
#include "base/clock.h"
#include "base/errors.h"
#include "ops/multipart.h"
#include "upload/checkpoint.h"
#include "client.h"
#include "ops/integrity.h"
#include "ops/messages.h"
#include "task/queue.h"
#include "base/validate.h"
#include "base/xml.h"
#include "upload/parts.h"
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

struct slice_upload {
    cos_task *t;
    char *path;            /* absolute */
    char *bucket, *region, *key;
    int fd;
    int64_t size;
    int64_t mtime_sec;
    long mtime_nsec;
    int64_t part_size;
    cos_parts ps;          /* the parts (ps.part: calloc'd by layout), their requests, Complete */
    int concurrency;
    phase ph;
    char *upload_id;       /* chosen (or being checked) upload, held in the queue's in-use set */
    char *cp_file;         /* NULL: no checkpoint file */
    cos_checkpoint cp;     /* confirmed parts, as saved */
    double cp_saved_ms;
    int cp_dirty;
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
    cos_part *hash_part;
    size_t verify_i;       /* the next entry of `listed` to reconcile */
    char meta_md5[33];
    cos_value *cancel_err; /* the error to finish with once the abort is done */
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

/* Lays out the parts for su->size and su->part_size (all still to send). 0 or -1. */
static int layout(slice_upload *su)
{
    int64_t n = su->size == 0 ? 1 : (su->size + su->part_size - 1) / su->part_size;
    if (n > MAX_PARTS || n < 1) return -1;
    cos_part *parts = calloc((size_t)n, sizeof *parts);
    if (!parts) return -1;
    for (int64_t i = 0; i < n; i++) {
        parts[i].ps = &su->ps;
        parts[i].number = (int)i + 1;
        parts[i].offset = i * su->part_size;
        parts[i].size = i == n - 1 ? su->size - parts[i].offset : su->part_size;
    }
    free(su->ps.part);
    su->ps.part = parts;
    su->ps.n = (int)n;
    su->ps.done_bytes = 0;
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
    if (cp_fill_identity(su) == 0 && cos_cp_save(su->cp_file, &su->cp) == 0) {
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

static void fail(slice_upload *su, cos_value *err);

/* Submits a control request (list, initiate, abort: one at a time); NULL (building it failed)
 * fails the task. */
static void submit_ctl(slice_upload *su, cos_request *r, cos_req_done_fn done)
{
    if (!r) {
        fail(su, cos_error_newf("Error", "out of memory"));
        return;
    }
    cos_req_on_done(r, done, su);
    cos_transport_submit(r);
}

static const char *error_code(const cos_value *e) { return cos_obj_get_str(e, "code"); }

/* ---------------------------------------------------------------------------------------- */
/* Finishing                                                                                 */

static void stop_hashing(slice_upload *su)
{
    if (su->hash_kind == HASH_CONTENT && su->hash_part) su->hash_part->state = COS_PART_TODO;
    su->hash_part = NULL;
    cos_integrity_hasher_stop(&su->hasher);
    su->hash_kind = HASH_NONE;
    cos_task_set_step(su->t, NULL);
}

/* Aborts everything in flight and forgets it (the engine calls no `done` for aborted requests). */
static void abort_inflight(slice_upload *su)
{
    cos_transport_abort_task(client_of(su), su->t->id);
    cos_parts_stop(&su->ps);
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
    if (err && owned && su->ps.done_bytes > 0 && !cos_obj_get(err, "hint"))
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
static void mark_done(slice_upload *su, cos_part *p, const char *etag, uint64_t crc);
static void su_step(cos_task *t);

/* Starts hashing [off, off+len) of the file in slices; su_step continues with `kind` when done. */
static int start_hashing(slice_upload *su, int kind, int64_t off, int64_t len)
{
    if (cos_integrity_hasher_start(&su->hasher, su->fd, off, len) != 0) {
        fail(su, cos_error_newf("Error", "out of memory"));
        return -1;
    }
    su->hash_kind = kind;
    cos_task_set_step(su->t, su_step);
    return 0;
}

/* The listed part being reconciled (listed[verify_i]) and its part. */
static cos_part *listed_part(slice_upload *su, const cos_value **lp)
{
    *lp = cos_arr_get(su->listed, su->verify_i);
    long n = strtol(xml_text(*lp, "PartNumber"), NULL, 10);
    return n >= 1 && n <= su->ps.n ? &su->ps.part[n - 1] : NULL;
}

/* One cos_poll step of hashing: as many bytes as the step budget leaves. */
static void su_step(cos_task *t)
{
    slice_upload *su = t->op_state;
    int64_t used = 0;
    if (su->hash_kind == HASH_NONE) return;
    unsigned char md5[16];
    uint64_t crc = 0;
    int rc = cos_integrity_hasher_step(&su->hasher, client_of(su), &used, md5, &crc);
    if (rc == 0 && used == 0) return; /* the step's budget is spent */
    if (su->hash_kind != HASH_CONTENT) { /* onHashProgress is about checking, not about sending */
        su->hashed += (double)used;
        emit_hash_progress(su, 0);
    }
    if (rc == 0) return;
    int kind = su->hash_kind;
    cos_part *hp = su->hash_part;
    su->hash_kind = HASH_NONE;
    su->hash_part = NULL;
    cos_task_set_step(t, NULL);
    if (rc < 0) {
        if (kind == HASH_CONTENT && !file_unchanged(su)) file_modified(su);
        else fail(su, cos_error_errno(errno, "read", su->path));
        return;
    }
    if (kind == HASH_CONTENT) { /* the part goes out now, with its Content-MD5 */
        memcpy(hp->content_md5, md5, 16);
        hp->has_content_md5 = 1;
        hp->state = COS_PART_TODO;
        schedule_parts(su);
        return;
    }
    if (kind == HASH_META) {
        for (int i = 0; i < 16; i++) snprintf(su->meta_md5 + 2 * i, 3, "%02x", md5[i]);
        initiate(su);
        return;
    }
    const cos_value *lp;
    cos_part *p = listed_part(su, &lp);
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

/* A confirmed part goes into the checkpoint (saved by cp_save). */
static void cp_record(slice_upload *su, const cos_part *p)
{
    cos_cp_part cpp = {.number = p->number, .size = p->size, .crc64 = p->crc64};
    snprintf(cpp.etag, sizeof cpp.etag, "%s", p->etag);
    if (cos_cp_set_part(&su->cp, &cpp) == 0) su->cp_dirty = 1;
}

static void mark_done(slice_upload *su, cos_part *p, const char *etag, uint64_t crc)
{
    cos_parts_confirm(&su->ps, p, etag, crc);
    cp_record(su, p);
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

static void list_uploads_done(void *ud, cos_http_result *res)
{
    slice_upload *su = ud;
    cos_value *err = NULL, *page = cos_msg_list_uploads_read(res, &err);
    if (!page) { /* no permission to list, say: nothing to resume, start fresh */
        cos_value_free(err);
        initiate(su);
        return;
    }
    const cos_value *ups = cos_obj_get(page, "Upload");
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
    char *km = NULL, *im = NULL;
    int more = cos_msg_list_uploads_next(page, su->page_key_marker, su->page_id_marker, &km, &im, &err);
    cos_value_free(page);
    /* More entries than MAX_LISTED_UPLOADS is not a real bucket: a server that pages forever
     * would otherwise keep the task looping. */
    if (more > 0 && su->uploads_listed > MAX_LISTED_UPLOADS) {
        more = -1;
        err = cos_error_newf("InvalidResponse", "List Multipart Uploads listed more than %d uploads for this Key "
                             "and is still truncated; giving up", MAX_LISTED_UPLOADS);
    }
    if (more < 0) {
        free(km);
        free(im);
        fail(su, err);
    } else if (more) {
        list_uploads(su, km, im);
        free(km);
        free(im);
    } else {
        su->cand_next = 0;
        try_next_candidate(su);
    }
}

/* One page of the uploads of our Key (List Multipart Uploads, prefix = Key). */
static void list_uploads(slice_upload *su, const char *key_marker, const char *id_marker)
{
    if (!key_marker) su->uploads_listed = 0; /* a new listing */
    free(su->page_key_marker);
    free(su->page_id_marker);
    su->page_key_marker = key_marker ? strdup(key_marker) : NULL;
    su->page_id_marker = id_marker ? strdup(id_marker) : NULL;
    submit_ctl(su, cos_msg_list_uploads(&su->ps.to, su->key, key_marker, id_marker && *id_marker ? id_marker : NULL),
               list_uploads_done);
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

/* The checkpoint's upload as the server lists it: confirmed parts are kept without reading the
 * file; parts only the server knows are kept if their bytes hash to the server's ETag (hashed in
 * slices: this returns while a part is being hashed, and su_step comes back here). */
static void reconcile_checkpoint(slice_upload *su)
{
    for (; su->verify_i < cos_value_len(su->listed); su->verify_i++) {
        const cos_value *lp;
        cos_part *p = listed_part(su, &lp);
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
    int ok = n <= (size_t)su->ps.n && su->verify_i != SIZE_MAX;
    if (ok && su->verify_i == 0 && n >= 2) {
        int64_t s1 = strtoll(xml_text(cos_arr_get(su->listed, 0), "Size"), NULL, 10);
        int64_t s2 = strtoll(xml_text(cos_arr_get(su->listed, 1), "Size"), NULL, 10);
        ok = (s1 > s2 ? s1 : s2) == su->part_size;
    }
    if (ok && su->verify_i < n) {
        const cos_value *lp;
        cos_part *p = listed_part(su, &lp);
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
        cos_part *p = &su->ps.part[strtol(xml_text(lp, "PartNumber"), NULL, 10) - 1];
        mark_done(su, p, xml_text(lp, "ETag"), p->crc64);
    }
    cos_value_free(su->listed);
    su->listed = NULL;
    start_parts(su);
}

static void list_parts_done(void *ud, cos_http_result *res)
{
    slice_upload *su = ud;
    cos_value *e = NULL, *page = cos_msg_list_parts_read(res, &e);
    if (!page) {
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
    const cos_value *parts = cos_obj_get(page, "Part");
    if (!su->listed) su->listed = cos_arr_new();
    for (size_t i = 0; i < cos_value_len(parts) && su->listed; i++)
        cos_arr_push(su->listed, cos_value_clone(cos_arr_get(parts, i)));
    char *marker = NULL;
    int more = cos_msg_list_parts_next(page, su->page_part_marker, &marker, &e);
    cos_value_free(page);
    if (more >= 0 && cos_value_len(su->listed) > MAX_PARTS) {
        free(marker);
        more = -1;
        e = cos_error_newf("InvalidResponse", "List Parts listed more than %d parts", MAX_PARTS);
    }
    if (more < 0) {
        fail(su, e);
    } else if (more) {
        list_parts(su, marker);
        free(marker);
    } else {
        su->verify_i = 0;
        if (su->mode == LIST_CHECKPOINT) reconcile_checkpoint(su);
        else reconcile_candidate(su);
    }
}

/* One page of the parts of su->upload_id (List Parts). */
static void list_parts(slice_upload *su, const char *marker)
{
    su->page_part_marker = marker ? strtol(marker, NULL, 10) : 0;
    submit_ctl(su, cos_msg_list_parts(&su->ps.to, su->upload_id, marker), list_parts_done);
}

/* ---------------------------------------------------------------------------------------- */
/* Initiate                                                                                  */

static void initiate_done(void *ud, cos_http_result *res)
{
    slice_upload *su = ud;
    cos_value *err = NULL, *data = cos_msg_initiate_read(res, &err);
    if (!data) {
        fail(su, err);
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
    int taken = take_upload_id(su, xml_text(data, "UploadId"));
    cos_value_free(data);
    if (taken != 0) {
        fail(su, cos_error_newf("Error", "InitiateMultipartUpload returned no usable UploadId"));
        return;
    }
    start_parts(su);
}

static int want_meta_md5(const slice_upload *su)
{
    return cos_param_bool(su->t->params, "UploadAddMetaMd5", 0) == 1;
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
    /* Init carries every header of the call (ops/messages.h, COS_MSG_PARAMS_UPLOAD); the object's
     * type, unless given, by the file's (or the key's) extension. */
    const char *type = mime_lookup_upload(client_of(su)->mime, su->path, su->key);
    const char *meta_md5 = want_meta_md5(su) ? su->meta_md5 : NULL;
    submit_ctl(su, cos_msg_initiate(&su->ps.to, type ? type : "application/octet-stream", meta_md5), initiate_done);
}

/* ---------------------------------------------------------------------------------------- */
/* Parts                                                                                     */

static void report_progress(slice_upload *su)
{
    cos_task_progress_update(su->t, (double)(su->ps.done_bytes + su->ps.inflight_bytes), (double)su->size);
}

/* parts.c's hooks */
static void parts_progress(void *owner) { report_progress(owner); }

static void part_answered(void *owner, cos_part *p, cos_part_outcome outcome, cos_value *err)
{
    slice_upload *su = owner;
    if (outcome == COS_PART_FAILED) {
        if (!file_unchanged(su)) { /* e.g. truncated under us: the read failed, not the network */
            cos_value_free(err);
            file_modified(su);
        } else {
            fail(su, err);
        }
        return;
    }
    if (outcome == COS_PART_CONFIRMED) {
        cp_record(su, p);
        cp_save(su, 0);
        report_progress(su);
    }
    schedule_parts(su);
}

static void completed(void *owner, cos_value *err, cos_value *data);

static const cos_parts_hooks PARTS_HOOKS = {parts_progress, part_answered, completed};

/* Part p goes out, streamed from the file with pread (with its Content-MD5 when it was hashed first). */
static int submit_part(slice_upload *su, cos_part *p)
{
    cos_msg_body body = {.kind = COS_MSG_BODY_FD, .fd = su->fd, .offset = p->offset, .length = p->size,
                         .content_md5 = p->has_content_md5 ? p->content_md5 : NULL};
    return cos_parts_send(&su->ps, p, su->upload_id, &body);
}

static void schedule_parts(slice_upload *su)
{
    if (su->ph != PH_PARTS) return;
    int todo = 0;
    int check_md5 = cos_integrity_wants_content_md5(client_of(su), COS_API_UPLOAD_PART);
    for (int i = 0; i < su->ps.n; i++) {
        cos_part *p = &su->ps.part[i];
        if (p->state == COS_PART_HASHING) todo = 1;
        if (p->state != COS_PART_TODO) continue;
        todo = 1;
        if (su->ps.active + (su->hash_kind == HASH_CONTENT) >= su->concurrency) break;
        if (check_md5 && !p->has_content_md5) { /* hashed in slices first (one part at a time) */
            if (su->hash_kind != HASH_NONE) continue;
            if (start_hashing(su, HASH_CONTENT, p->offset, p->size) != 0) return;
            su->hash_part = p;
            p->state = COS_PART_HASHING;
            continue;
        }
        if (submit_part(su, p) != 0) {
            fail(su, cos_error_newf("Error", "cannot build the request of part %d", p->number));
            return;
        }
    }
    if (!todo && su->ps.active == 0) complete(su);
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
    cos_task_progress_now(su->t, (double)su->ps.done_bytes, (double)su->size);
    schedule_parts(su);
}

/* ---------------------------------------------------------------------------------------- */
/* Complete                                                                                  */

static void succeed(slice_upload *su, cos_value *data)
{
    cp_forget(su);
    cos_queue_set_upload(su->t, NULL, NULL);
    drop_upload_id(su);
    su->ph = PH_DONE;
    cos_task_finish(su->t, NULL, data);
}

/* parts.c's hook: Complete (and what followed it) ended. */
static void completed(void *owner, cos_value *err, cos_value *data)
{
    slice_upload *su = owner;
    if (err) fail(su, err);
    else succeed(su, data);
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
    cos_parts_complete(&su->ps, su->upload_id, *su->meta_md5 ? su->meta_md5 : NULL);
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
    submit_ctl(su, cos_msg_abort(&su->ps.to, su->aborting), abort_stale_done);
}

static void cancel_done(void *ud, cos_http_result *res)
{
    slice_upload *su = ud;
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
    cos_request *r = cos_msg_abort(&su->ps.to, su->upload_id);
    if (!r) {
        cancel_done(su, &(cos_http_result){.status_code = 0});
        return;
    }
    cos_req_on_done(r, cancel_done, su);
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
    free(su->ps.part);
    cos_parts_free(&su->ps);
    free(su->cp_file);
    cos_cp_free(&su->cp);
    cos_cp_free(&su->disk);
    cos_value_free(su->listed);
    cos_value_free(su->candidates);
    cos_value_free(su->cancel_err);
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
    cos_parts_init(&su->ps, t, su->bucket, su->region, su->key, "file", su, &PARTS_HOOKS);
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
