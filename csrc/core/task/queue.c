/* queue: the task queue (queue.h): entries, FileParallelLimit scheduling, pause / restart /
 * cancel, getTaskList and the list-update event. */
#include "base/options.h"
#include "base/errors.h"
#include "task/queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "http/transport.h"

#define DEFAULT_FILE_PARALLEL 3
#define DEFAULT_QUEUE_SIZE 1000

typedef struct qentry qentry;

struct qentry {
    cos_queue *q;
    cos_task_id id;          /* the listed id: the id cos_start returned */
    cos_task *task;          /* the live task doing the work, NULL when none */
    const cos_queue_ops *ops;
    cos_callbacks user;      /* the caller's callbacks (t->cb before wrapping) */
    int file_finish;         /* uploadFile: on_file_finish before on_done */
    cos_value *options;      /* on_file_finish's options */
    const cos_operation *operation; /* to run the task again after an error (restartTask) */
    cos_value *params;       /* clone, for restart after an error (file uploads only) */
    char *bucket, *region, *key, *file_path;
    cos_task_state state;
    int running;             /* holds a FileParallelLimit slot */
    int delivered;           /* the caller's on_done has run */
    int held;                /* a task's callbacks point here: not trimmed before q_release */
    double loaded, size, speed, percent, hash_percent;
    cos_value *error;        /* the last error (clone) */
    char *upload_id, *cp_file; /* server-side state left behind by an error */
    qentry *next, *prev;
};

struct cos_queue {
    cos_client *c;
    qentry *head, *tail;
    size_t count;
    size_t nended;           /* entries in an ended state (success, error, canceled): trim's bound */
    int running;
    int dirty;
    char **in_use;           /* UploadIds of live tasks */
    size_t nin_use, in_use_cap;
};

static void schedule(cos_queue *q);

/* ---------------------------------------------------------------------------------------- */
/* The client's queue                                                                        */

static cos_queue *queue_of(cos_client *c)
{
    if (!c->queue) {
        c->queue = calloc(1, sizeof *c->queue);
        if (c->queue) c->queue->c = c;
    }
    return c->queue;
}

static int file_parallel_limit(const cos_client *c)
{
    double n = cos_options_num(c->options, "FileParallelLimit");
    return n < 1 ? 1 : n > 1000 ? 1000 : (int)n;
}

static qentry *find_entry(cos_queue *q, cos_task_id id)
{
    for (qentry *e = q ? q->head : NULL; e; e = e->next)
        if (e->id == id) return e;
    return NULL;
}

/* The entry a task belongs to: its wrapped callbacks point at it. */
static void q_done(void *ud, cos_task_id id, cos_value *err, cos_value *data);
static qentry *entry_of(const cos_task *t)
{
    return t && t->cb.on_done == q_done ? t->cb.ud : NULL;
}

static int ended(cos_task_state s)
{
    return s == COS_TASK_SUCCESS || s == COS_TASK_ERROR || s == COS_TASK_CANCELED;
}

static void set_state(qentry *e, cos_task_state s)
{
    e->q->nended += (size_t)ended(s) - (size_t)ended(e->state);
    e->state = s;
    if (e->task && !e->task->finished) e->task->state = s;
    e->q->dirty = 1;
}

static void free_slot(qentry *e)
{
    if (!e->running) return;
    e->running = 0;
    e->q->running--;
}

static void entry_free(qentry *e)
{
    cos_value_free(e->options);
    cos_value_free(e->params);
    cos_value_free(e->error);
    free(e->bucket);
    free(e->region);
    free(e->key);
    free(e->file_path);
    free(e->upload_id);
    free(e->cp_file);
    free(e);
}

static void entry_unlink(cos_queue *q, qentry *e)
{
    if (e->prev) e->prev->next = e->next;
    else q->head = e->next;
    if (e->next) e->next->prev = e->prev;
    else q->tail = e->prev;
    q->count--;
    if (ended(e->state)) q->nended--;
}

/* UploadQueueSize: beyond it, finished entries are dropped oldest first (as the SDK trims). An
 * entry whose task has not released its callbacks yet is kept: q_release still reads it (the
 * task finishes, on_done runs, then release), and trims once it is done with it. */
static void trim(cos_queue *q)
{
    double limit = cos_options_num(q->c->options, "UploadQueueSize");
    /* Only ended entries can go: the walk stops once it has seen them all (they gather at the
     * head, oldest first), so thousands of waiting entries are not walked on every change. */
    size_t seen = 0, nended = q->nended;
    for (qentry *e = q->head, *n; e && (double)q->count > limit && seen < nended; e = n) {
        n = e->next;
        if (!ended(e->state)) continue;
        seen++;
        if (e->task || e->held) continue;
        entry_unlink(q, e);
        entry_free(e);
    }
}

void cos_queue_free(cos_client *c)
{
    cos_queue *q = c->queue;
    if (!q) return;
    while (q->head) {
        qentry *e = q->head;
        entry_unlink(q, e);
        entry_free(e);
    }
    for (size_t i = 0; i < q->nin_use; i++) free(q->in_use[i]);
    free(q->in_use);
    free(q);
    c->queue = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* UploadIds in use                                                                          */

int cos_queue_acquire_upload(cos_client *c, const char *upload_id)
{
    cos_queue *q = queue_of(c);
    if (!q || !upload_id) return -1;
    for (size_t i = 0; i < q->nin_use; i++)
        if (strcmp(q->in_use[i], upload_id) == 0) return -1;
    if (q->nin_use == q->in_use_cap) {
        size_t cap = q->in_use_cap ? q->in_use_cap * 2 : 8;
        char **n = realloc(q->in_use, cap * sizeof *n);
        if (!n) return -1;
        q->in_use = n;
        q->in_use_cap = cap;
    }
    if (!(q->in_use[q->nin_use] = strdup(upload_id))) return -1;
    q->nin_use++;
    return 0;
}

void cos_queue_release_upload(cos_client *c, const char *upload_id)
{
    cos_queue *q = c->queue;
    if (!q || !upload_id) return;
    for (size_t i = 0; i < q->nin_use; i++) {
        if (strcmp(q->in_use[i], upload_id) != 0) continue;
        free(q->in_use[i]);
        q->in_use[i] = q->in_use[--q->nin_use];
        return;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* The wrapped callbacks: the queue sees every event before the caller                       */

static void q_progress(void *ud, cos_task_id id, const cos_progress *p)
{
    qentry *e = ud;
    (void)id;
    e->loaded = p->loaded;
    if (p->total >= 0) e->size = p->total;
    e->speed = p->speed;
    e->percent = p->percent;
    e->q->dirty = 1;
    if (e->state == COS_TASK_CHECKING) set_state(e, COS_TASK_UPLOADING);
    if (e->state == COS_TASK_CANCELED) return;
    if (e->user.on_progress) e->user.on_progress(e->user.ud, e->id, p); /* the listed id, also after a restart */
}

static void q_hash_progress(void *ud, cos_task_id id, const cos_progress *p)
{
    qentry *e = ud;
    (void)id;
    e->hash_percent = p->percent;
    e->q->dirty = 1;
    if (e->state != COS_TASK_CANCELED && e->user.on_hash_progress) e->user.on_hash_progress(e->user.ud, e->id, p);
}

static void q_task_ready(void *ud, cos_task_id id)
{
    qentry *e = ud;
    (void)id;
    if (e->user.on_task_ready) e->user.on_task_ready(e->user.ud, e->id);
}

static int q_pull(void *ud, cos_task_id id, const void **chunk, size_t *len)
{
    qentry *e = ud;
    (void)id;
    return e->user.on_pull ? e->user.on_pull(e->user.ud, e->id, chunk, len) : -1;
}

static void q_done(void *ud, cos_task_id id, cos_value *err, cos_value *data)
{
    qentry *e = ud;
    cos_queue *q = e->q;
    (void)id;
    free_slot(e);
    if (e->state != COS_TASK_CANCELED) set_state(e, err ? COS_TASK_ERROR : COS_TASK_SUCCESS);
    cos_value_free(e->error);
    e->error = err ? cos_value_clone(err) : NULL;
    if (!err) {
        if (e->size >= 0) e->loaded = e->size;
        e->percent = 1;
        cos_value_free(e->params); /* nothing left to restart */
        e->params = NULL;
    }
    q->dirty = 1;
    e->task = NULL; /* the task record goes away right after release */
    if (!e->delivered) {
        e->delivered = 1;
        if (e->file_finish && e->user.on_file_finish)
            e->user.on_file_finish(e->user.ud, e->id, err ? cos_value_clone(err) : NULL,
                                   data ? cos_value_clone(data) : NULL, cos_value_clone(e->options));
        if (e->user.on_done) {
            e->user.on_done(e->user.ud, e->id, err, data);
            err = data = NULL;
        }
    }
    cos_value_free(err);
    cos_value_free(data);
    schedule(q);
    trim(q);
}

static void q_release(void *ud)
{
    qentry *e = ud;
    void (*rel)(void *) = e->user.release;
    void *uud = e->user.ud;
    memset(&e->user, 0, sizeof e->user);
    e->task = NULL;
    e->held = 0;
    if (rel) rel(uud);
    trim(e->q); /* e may go now */
}

/* ---------------------------------------------------------------------------------------- */
/* Joining                                                                                   */

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* The primitive params of a task (strings, numbers, booleans) plus TaskId: uploadFile's options. */
static cos_value *primitive_params(const cos_value *params, cos_task_id id)
{
    cos_value *o = cos_obj_new();
    if (!o) return NULL;
    for (size_t i = 0; i < cos_value_len(params); i++) {
        const cos_value *v = cos_obj_at(params, i);
        const char *k = cos_obj_key(params, i);
        cos_vtype ty = cos_value_type(v);
        if (k[0] == '_' || (ty != COS_STR && ty != COS_NUM && ty != COS_BOOL)) continue; /* _x: internal */
        cos_obj_set(o, k, cos_value_clone(v));
    }
    cos_obj_set_num(o, "TaskId", (double)id);
    return o;
}

static qentry *new_entry(cos_queue *q, cos_task *t, const char *file_path)
{
    qentry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->q = q;
    e->id = t->id;
    e->size = -1;
    e->bucket = dup_or_null(cos_task_str(t, "Bucket"));
    e->region = dup_or_null(cos_task_str(t, "Region"));
    e->key = dup_or_null(cos_task_key(t));
    e->file_path = strdup(file_path ? file_path : "");
    if (!e->file_path) {
        entry_free(e);
        return NULL;
    }
    return e;
}

static void queue_op_fail(cos_task *t, cos_value *err);

int cos_queue_add(cos_task *t, const char *file_path, double size, const cos_queue_ops *ops, int file_finish)
{
    cos_queue *q = queue_of(t->client);
    if (!q) return -1;
    qentry *e = t->queue_entry;
    if (e) {
        /* restartTask after an error: a new task carries on the listed one. */
        t->queue_entry = NULL;
    } else {
        if (!(e = new_entry(q, t, file_path))) return -1;
        e->operation = t->operation;
        e->file_finish = file_finish;
        if (file_finish && !(e->options = primitive_params(t->params, t->id))) {
            entry_free(e);
            return -1;
        }
        if (t->body.kind == COS_BODY_PATH) e->params = cos_value_clone(t->params);
        e->prev = q->tail;
        if (q->tail) q->tail->next = e;
        else q->head = e;
        q->tail = e;
        q->count++;
    }
    e->task = t;
    t->op_fail = queue_op_fail; /* cos_task_fail goes through the queue */
    e->held = 1;
    e->ops = ops;
    e->size = size;
    e->delivered = 0;
    e->user = t->cb;
    t->cb.ud = e;
    t->cb.on_done = q_done;
    t->cb.on_progress = q_progress;
    t->cb.on_hash_progress = q_hash_progress;
    t->cb.on_task_ready = q_task_ready;
    t->cb.on_file_finish = NULL;
    t->cb.on_pull = e->user.on_pull ? q_pull : NULL;
    t->cb.release = q_release;
    set_state(e, COS_TASK_WAITING);
    schedule(q);
    trim(q);
    return 0;
}

void cos_queue_set_size(cos_task *t, double size)
{
    qentry *e = entry_of(t);
    if (!e) return;
    e->size = size;
    e->q->dirty = 1;
}

void cos_queue_set_upload(cos_task *t, const char *upload_id, const char *cp_file)
{
    qentry *e = entry_of(t);
    if (!e) return;
    free(e->upload_id);
    free(e->cp_file);
    e->upload_id = dup_or_null(upload_id);
    e->cp_file = upload_id ? dup_or_null(cp_file) : NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Scheduling                                                                                */

static void schedule(cos_queue *q)
{
    int limit = file_parallel_limit(q->c);
    for (qentry *e = q->head; e && q->running < limit; e = e->next) {
        if (e->state != COS_TASK_WAITING || !e->task || e->task->finished) continue;
        e->running = 1;
        q->running++;
        set_state(e, COS_TASK_CHECKING);
        e->ops->run(e->task);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* pauseTask / restartTask / cancelTask                                                      */

int cos_task_pause(cos_client *c, cos_task_id id)
{
    qentry *e = find_entry(c->queue, id);
    if (!e || !e->task || e->task->finished || !e->ops->stop) return -1;
    if (e->state != COS_TASK_WAITING && e->state != COS_TASK_CHECKING && e->state != COS_TASK_UPLOADING) return -1;
    int was_running = e->running;
    set_state(e, COS_TASK_PAUSED);
    free_slot(e);
    if (was_running) e->ops->stop(e->task);
    schedule(e->q);
    return 0;
}

/* Runs an errored file upload again under the same listed id. Its callbacks were released with
 * the error, so the new run reports through the list only. */
static int restart_errored(qentry *e)
{
    if (!e->params || !e->operation) return -1;
    cos_queue *q = e->q;
    const char *path = cos_obj_get_str(e->params, "FilePath");
    if (!path) return -1;
    cos_body body = {.kind = COS_BODY_PATH, .fd = -1, .length = -1, .path = path};
    cos_value *params = cos_value_clone(e->params);
    cos_value *err = NULL;
    cos_callbacks none = {0};
    cos_task_id nid = cos_task_start(q->c, e->operation, e->operation->name, params, &body, NULL, &none, e, &err);
    cos_value_free(err);
    if (!nid || e->task == NULL || e->task->id != nid) return -1; /* not adopted */
    e->delivered = 1; /* the caller had its callback: the new run only updates the list */
    return 0;
}

int cos_task_restart(cos_client *c, cos_task_id id)
{
    qentry *e = find_entry(c->queue, id);
    if (!e) return -1;
    if (e->state == COS_TASK_PAUSED && e->task && !e->task->finished) {
        set_state(e, COS_TASK_WAITING);
        schedule(e->q);
        return 0;
    }
    if (e->state == COS_TASK_ERROR && !e->task) {
        cos_value_free(e->error);
        e->error = NULL;
        return restart_errored(e);
    }
    return -1;
}

/* Aborts the multipart upload an errored entry left behind: its own small task (multipartAbort)
 * so that cos_run keeps going until the server has dropped the parts. */
static void abort_leftover(qentry *e)
{
    if (!e->upload_id || !e->bucket || !e->region || !e->key) return;
    if (e->ops && e->ops->abort_upload) e->ops->abort_upload(e->q->c, e->bucket, e->region, e->key, e->upload_id);
    if (e->cp_file) remove(e->cp_file);
    free(e->upload_id);
    free(e->cp_file);
    e->upload_id = e->cp_file = NULL;
}

/* Stops the requests of a live task: its stop op, or (a task that cannot be paused, e.g. a pulled
 * body) abort them outright, so that none outlives the task. */
static void stop_requests(qentry *e, cos_task *t, int was_running)
{
    if (was_running && e->ops->stop) e->ops->stop(t);
    else if (!e->ops->stop) {
        if (t->op_abort) t->op_abort(t);
        cos_transport_abort_task(t->client, t->id);
        t->req = NULL;
    }
}

int cos_queue_fail(cos_task *t, cos_value *err)
{
    qentry *e = entry_of(t);
    if (!e || t->finished) return -1;
    int was_running = e->running;
    set_state(e, COS_TASK_ERROR);
    free_slot(e);
    stop_requests(e, t, was_running);
    if (e->ops->cancel) e->ops->cancel(t, err);
    else cos_task_finish(t, err, NULL);
    schedule(e->q);
    return 0;
}

int cos_task_cancel(cos_client *c, cos_task_id id)
{
    qentry *e = find_entry(c->queue, id);
    if (!e || e->state == COS_TASK_CANCELED) return -1;
    cos_task_state was = e->state;
    int was_running = e->running;
    cos_task *t = e->task;
    if (was == COS_TASK_ERROR && t && !t->finished) { /* failing (cos_task_fail): its abort is under way */
        set_state(e, COS_TASK_CANCELED);
        return 0;
    }
    set_state(e, COS_TASK_CANCELED);
    free_slot(e);
    cos_value_free(e->params);
    e->params = NULL;
    if (t && !t->finished) {
        stop_requests(e, t, was_running);
        cos_value *err = cos_error_canceled(e->id);
        if (e->ops->cancel) e->ops->cancel(t, err);
        else cos_task_finish(t, err, NULL);
    } else if (was == COS_TASK_ERROR) {
        abort_leftover(e);
    }
    schedule(e->q);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* getTaskList and list-update                                                               */

static cos_value *entry_value(const qentry *e)
{
    cos_value *o = cos_obj_new();
    if (!o) return NULL;
    cos_obj_set_num(o, "id", (double)e->id);
    cos_obj_set_str(o, "Bucket", e->bucket ? e->bucket : "");
    cos_obj_set_str(o, "Region", e->region ? e->region : "");
    cos_obj_set_str(o, "Key", e->key ? e->key : "");
    cos_obj_set_str(o, "FilePath", e->file_path);
    cos_obj_set_str(o, "state", cos_task_state_name(e->state));
    cos_obj_set_num(o, "loaded", e->loaded);
    if (e->size >= 0) cos_obj_set_num(o, "size", e->size);
    cos_obj_set_num(o, "speed", e->speed);
    cos_obj_set_num(o, "percent", e->percent);
    cos_obj_set_num(o, "hashPercent", e->hash_percent);
    if (e->error) cos_obj_set(o, "error", cos_value_clone(e->error));
    return o;
}

cos_value *cos_task_list(cos_client *c)
{
    cos_value *list = cos_arr_new();
    for (qentry *e = c->queue ? c->queue->head : NULL; e && list; e = e->next) {
        cos_value *v = entry_value(e);
        if (v) cos_arr_push(list, v);
    }
    return list;
}

void cos_on_list_update(cos_client *c, void (*fn)(void *ud, cos_value *list), void *ud)
{
    c->list_update_fn = fn;
    c->list_update_ud = ud;
}

void cos_queue_flush(cos_client *c)
{
    cos_queue *q = c->queue;
    if (!q || !q->dirty) return;
    q->dirty = 0;
    if (!c->list_update_fn) return;
    cos_value *list = cos_task_list(c);
    if (list) c->list_update_fn(c->list_update_ud, list);
}

/* cos_task_fail of a queue task (its op_fail). */
static void queue_op_fail(cos_task *t, cos_value *err)
{
    if (cos_queue_fail(t, err) != 0) { /* not listed (cannot happen once added): finish plainly */
        if (t->op_abort) t->op_abort(t);
        cos_transport_abort_task(t->client, t->id);
        cos_task_finish(t, err, NULL);
    }
}
