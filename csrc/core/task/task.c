/* task: starting a task (cos_task_start), the task record, result/progress event delivery. */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/errors.h"
#include "base/url.h"
#include "client.h"
#include "http/event.h"
#include "http/transport.h"
#include "task/queue.h"
#include "base/validate.h"

const char *cos_task_state_name(cos_task_state s)
{
    static const char *const names[] = {"waiting", "checking", "uploading", "paused", "canceled", "error", "success"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

/* ---------------------------------------------------------------------------------------- */
/* Task records                                                                              */

static void prog_unlist(cos_task *t);

static void task_free(cos_task *t)
{
    if (!t) return;
    cos_task_set_step(t, NULL);
    cos_task_set_pump(t, NULL);
    prog_unlist(t);
    if (t->op_free) t->op_free(t->op_state);
    cos_value_free(t->params);
    if (t->body.kind == COS_BODY_MEM) free((void *)t->body.data);
    if ((t->body.kind == COS_BODY_FD || t->body.kind == COS_BODY_STREAM) && t->body.fd >= 0) close(t->body.fd);
    free((char *)t->body.path);
    free((char *)t->output.path);
    if (t->output.kind == COS_BODY_FD && t->output.fd >= 0) close(t->output.fd);
    free(t);
}

static void task_release(cos_task *t)
{
    if (t->released) return;
    t->released = 1;
    if (t->cb.release) t->cb.release(t->cb.ud);
}

static void task_unlink(cos_client *c, cos_task *t)
{
    if (t->prev) t->prev->next = t->next;
    else if (c->task_head == t) c->task_head = t->next;
    if (t->next) t->next->prev = t->prev;
    else if (c->task_tail == t) c->task_tail = t->prev;
    t->next = t->prev = NULL;
}

static int copy_body(cos_task *t, const cos_body *b, cos_value **err)
{
    if (!b) return 0;
    t->body = *b;
    t->body.data = NULL;
    t->body.path = NULL;
    t->body.fd = -1;
    switch (b->kind) {
    case COS_BODY_NONE: return 0;
    case COS_BODY_MEM: {
        void *copy = malloc(b->len ? b->len : 1);
        if (!copy) break;
        if (b->len) memcpy(copy, b->data, b->len);
        t->body.data = copy;
        return 0;
    }
    case COS_BODY_FD:
        t->body.fd = fcntl(b->fd, F_DUPFD_CLOEXEC, 0);
        if (t->body.fd < 0) {
            *err = cos_error_new("Error", "invalid body fd");
            return -1;
        }
        return 0;
    case COS_BODY_PATH:
        if (!b->path) {
            *err = cos_error_new("Error", "missing body path");
            return -1;
        }
        if (!(t->body.path = strdup(b->path))) break;
        return 0;
    case COS_BODY_PULL:
        if (!t->cb.on_pull) { /* the length may still come from ContentLength (the handler checks) */
            *err = cos_error_new("Error", "a pulled body needs on_pull");
            return -1;
        }
        return 0;
    case COS_BODY_STREAM:
        if (b->fd >= 0 && (t->body.fd = fcntl(b->fd, F_DUPFD_CLOEXEC, 0)) < 0) {
            *err = cos_error_new("Error", "invalid body fd");
            return -1;
        }
        if (!t->cb.on_read && t->body.fd < 0) {
            *err = cos_error_new("Error", "a stream body needs on_read or an fd");
            return -1;
        }
        return 0;
    }
    *err = cos_error_new("Error", "out of memory");
    return -1;
}

static int copy_output(cos_task *t, const cos_output *o, cos_value **err)
{
    t->output.kind = COS_BODY_NONE;
    t->output.fd = -1;
    if (!o || o->kind == COS_BODY_NONE) return 0;
    t->output.kind = o->kind;
    if (o->kind == COS_BODY_PATH && o->path && (t->output.path = strdup(o->path))) return 0;
    if (o->kind == COS_BODY_FD && (t->output.fd = fcntl(o->fd, F_DUPFD_CLOEXEC, 0)) >= 0) return 0;
    *err = cos_error_new("Error", "invalid output");
    return -1;
}

cos_task_id cos_task_start(cos_client *c, const cos_operation *def, const char *name, cos_value *params,
                           const cos_body *body, const cos_output *output, const cos_callbacks *cb,
                           void *queue_entry, cos_value **err)
{
    cos_value *e = NULL;
    if (err) *err = NULL;
    cos_task *t = calloc(1, sizeof *t);
    if (t) {
        t->client = c;
        t->params = params && cos_value_type(params) == COS_OBJ ? params : cos_obj_new();
        if (t->params != params) cos_value_free(params);
        params = NULL;
        if (cb) t->cb = *cb;
        t->body.fd = -1;
        t->output.fd = -1;
        t->prog.last_emit_ms = t->hash_prog.last_emit_ms = -1;
        t->prog.total = t->hash_prog.total = -1;
        t->prog.speed = t->hash_prog.speed = -1;
        t->prog.files_done = t->prog.files_failed = t->prog.files_total = -1;
        t->hash_prog.files_done = t->hash_prog.files_failed = t->hash_prog.files_total = -1;
    }
    if (!t || !t->params) {
        e = cos_error_new("Error", "out of memory");
    } else if (!def) {
        char msg[160];
        snprintf(msg, sizeof msg, "unsupported operation: %.100s", name ? name : "(null)");
        e = cos_error_new("Error", msg);
    } else {
        t->op = def->name;
        t->operation = def;
        t->queue_entry = queue_entry;
        t->is_queue_task = def->queue_task;
        t->id = c->next_task_id++;
        t->state = COS_TASK_CHECKING;
        if (copy_body(t, body, &e) == 0 && copy_output(t, output, &e) == 0 &&
            !(e = cos_validate_call(def->name, t->params, &t->body, c->use_raw_key)) && def->start(t, &e) == 0) {
            /* Started: the task is live, linked at the tail (start order). */
            t->prev = c->task_tail;
            if (c->task_tail) c->task_tail->next = t;
            else c->task_head = t;
            c->task_tail = t;
            c->unfinished++;
            if (t->cb.on_task_ready) t->cb.on_task_ready(t->cb.ud, t->id);
            return t->id;
        }
        if (!e) e = cos_error_new("Error", "cannot start the operation");
    }
    cos_value_free(params);
    if (t) {
        if (t->op_abort) t->op_abort(t);
        cos_transport_abort_task(c, t->id);
        cos_event_drop_task(c, t);
        if (cb && cb->release) cb->release(cb->ud);
        t->released = 1;
        task_free(t);
    } else if (cb && cb->release) {
        cb->release(cb->ud);
    }
    if (err) *err = e;
    else cos_value_free(e);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Tasks a step visits                                                                       */

void cos_task_set_step(cos_task *t, void (*fn)(cos_task *t))
{
    t->client->nstep_tasks += (fn != NULL) - (t->op_step != NULL);
    t->op_step = fn;
}

void cos_task_set_pump(cos_task *t, int (*fn)(cos_task *t, int *wait_fd))
{
    t->client->npump_tasks += (fn != NULL) - (t->op_pump != NULL);
    t->op_pump = fn;
}

/* The pending-progress list: cos_task_timers walks it, not every task. */
static void prog_list(cos_task *t)
{
    cos_client *c = t->client;
    if (t->prog_prev || c->prog_head == t) return;
    t->prog_next = c->prog_head;
    if (c->prog_head) c->prog_head->prog_prev = t;
    c->prog_head = t;
}

static void prog_unlist(cos_task *t)
{
    cos_client *c = t->client;
    if (!t->prog_prev && c->prog_head != t) return;
    if (t->prog_prev) t->prog_prev->prog_next = t->prog_next;
    else c->prog_head = t->prog_next;
    if (t->prog_next) t->prog_next->prog_prev = t->prog_prev;
    t->prog_next = t->prog_prev = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Progress                                                                                  */

#define SPEED_TAU_S 2.0

static void progress_emit(cos_task *t, cos_task_progress *p, cos_event_kind kind, double now)
{
    double loaded = p->loaded < p->max_loaded ? p->max_loaded : p->loaded; /* never backwards */
    cos_progress out;
    out.loaded = loaded;
    out.total = p->total;
    double dt = p->last_emit_ms < 0 ? 0 : (now - p->last_emit_ms) / 1000.0;
    if (dt > 0) { /* an exponential moving average over ~SPEED_TAU_S of the interval rates */
        double rate = (loaded - p->emitted_loaded) / dt;
        if (rate < 0) rate = 0;
        p->speed = p->speed < 0 ? rate : p->speed + (1 - exp(-dt / SPEED_TAU_S)) * (rate - p->speed);
    }
    out.speed = p->speed > 0 ? floor(p->speed * 100 + 0.5) / 100 : 0;
    out.files_done = p->files_done;
    out.files_failed = p->files_failed;
    out.files_total = p->files_total;
    if (p->total < 0) out.percent = 0;
    else if (p->total == 0) out.percent = loaded == 0 ? 1 : 0;
    else out.percent = floor(loaded / p->total * 100) / 100;
    if (out.percent > 1) out.percent = 1;
    p->emitted_loaded = loaded;
    p->emitted_total = p->total;
    p->max_loaded = loaded;
    p->last_emit_ms = now;
    p->pending = 0;
    if (p == &t->prog) prog_unlist(t);
    cos_event_push(t->client, kind, NULL, t, &out, NULL, NULL);
}

void cos_task_progress_update(cos_task *t, double loaded, double total)
{
    if (t->finished) return;
    t->prog.loaded = loaded;
    t->prog.total = total;
    double now = cos_clock_mono_ms();
    /* Nothing new to say (e.g. a retry re-sending bytes already reported): no emission. */
    if (t->prog.last_emit_ms >= 0 && (loaded <= t->prog.max_loaded && total == t->prog.emitted_total)) {
        t->prog.pending = 0;
        prog_unlist(t);
        return;
    }
    if (t->prog.last_emit_ms < 0 || now - t->prog.last_emit_ms >= t->client->progress_interval_ms) {
        progress_emit(t, &t->prog, COS_EV_TASK_PROGRESS, now);
    } else {
        t->prog.pending = 1;
        prog_list(t);
    }
}

void cos_task_progress_now(cos_task *t, double loaded, double total)
{
    if (t->finished) return;
    t->prog.loaded = loaded;
    t->prog.total = total;
    progress_emit(t, &t->prog, COS_EV_TASK_PROGRESS, cos_clock_mono_ms());
}

void cos_task_hash_progress_now(cos_task *t, double loaded, double total)
{
    if (t->finished) return;
    t->hash_prog.loaded = loaded;
    t->hash_prog.total = total;
    progress_emit(t, &t->hash_prog, COS_EV_TASK_HASH_PROGRESS, cos_clock_mono_ms());
}

int cos_task_steps(cos_client *c)
{
    int left = 0;
    for (cos_task *t = c->nstep_tasks ? c->task_head : NULL; t; t = t->next) {
        if (t->op_step && !t->finished) t->op_step(t);
        if (t->op_step && !t->finished) left++;
    }
    return left;
}

void cos_task_timers(cos_client *c, double now, double *next)
{
    for (cos_task *t = c->prog_head, *n; t; t = n) {
        n = t->prog_next; /* an emission unlists t */
        if (!t->prog.pending || t->finished) continue;
        double due = t->prog.last_emit_ms + c->progress_interval_ms;
        if (due <= now) {
            progress_emit(t, &t->prog, COS_EV_TASK_PROGRESS, now);
        } else if (*next < 0 || due - now < *next) {
            *next = due - now;
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Finishing and delivery                                                                    */

void cos_task_finish(cos_task *t, cos_value *err, cos_value *data)
{
    if (t->finished) {
        cos_value_free(err);
        cos_value_free(data);
        return;
    }
    if (!err && !data) err = cos_error_new("Error", "no result");
    if (err && data) {
        cos_value_free(data);
        data = NULL;
    }
    /* The final emission: on success {loaded: total, percent: 1}; on error the latest value. */
    if (t->prog.last_emit_ms >= 0) {
        if (!err) {
            double total = t->prog.total >= 0 ? t->prog.total : t->prog.loaded;
            cos_task_progress_now(t, total, total);
        } else if (t->prog.pending) {
            progress_emit(t, &t->prog, COS_EV_TASK_PROGRESS, cos_clock_mono_ms());
        }
    }
    t->finished = 1;
    t->req = NULL;
    cos_event_push(t->client, COS_EV_TASK_DONE, NULL, t, NULL, err, data);
}

void cos_task_deliver(cos_client *c, cos_event *ev)
{
    cos_task *t = ev->task;
    switch (ev->kind) {
    case COS_EV_TASK_PROGRESS:
        if (t->state != COS_TASK_CANCELED && t->cb.on_progress) t->cb.on_progress(t->cb.ud, t->id, &ev->progress);
        if (t->state == COS_TASK_CHECKING && t->is_queue_task) t->state = COS_TASK_UPLOADING;
        break;
    case COS_EV_TASK_HASH_PROGRESS:
        if (t->state != COS_TASK_CANCELED && t->cb.on_hash_progress)
            t->cb.on_hash_progress(t->cb.ud, t->id, &ev->progress);
        break;
    case COS_EV_TASK_DONE: {
        cos_value *err = ev->err, *data = ev->data;
        ev->err = ev->data = NULL;
        t->state = err ? COS_TASK_ERROR : COS_TASK_SUCCESS;
        /* Unlink first: a callback that polls again must not see this task as unfinished. */
        task_unlink(c, t);
        c->unfinished--;
        if (t->cb.on_done) t->cb.on_done(t->cb.ud, t->id, err, data);
        else {
            cos_value_free(err);
            cos_value_free(data);
        }
        task_release(t);
        task_free(t);
        break;
    }
    default: break;
    }
}

int cos_task_fail(cos_client *c, cos_task_id id, cos_value *err)
{
    cos_task *t = c ? c->task_head : NULL;
    while (t && t->id != id) t = t->next;
    if (!t || t->finished) {
        cos_value_free(err);
        return -1;
    }
    if (!err) err = cos_error_new("Error", "the task failed");
    if (t->op_fail) { /* queue tasks: the queue's (cos_queue_add sets it) */
        t->op_fail(t, err);
        return 0;
    }
    if (t->op_abort) t->op_abort(t);
    cos_transport_abort_task(c, t->id);
    t->req = NULL;
    cos_task_finish(t, err, NULL);
    return 0;
}

int cos_task_is_done(cos_client *c, cos_task_id id)
{
    /* From the tail: a caller waits on the task it started last (uploadFiles' own task is linked
     * after the thousands of file tasks it started). */
    for (cos_task *t = c->task_tail; t; t = t->prev)
        if (t->id == id) return 0;
    return 1;
}

void cos_task_free_all(cos_client *c)
{
    /* Abort first (handlers may abort their requests), then release and free. */
    for (cos_task *t = c->task_head; t; t = t->next)
        if (t->op_abort) t->op_abort(t);
    while (c->task_head) {
        cos_task *t = c->task_head;
        task_unlink(c, t);
        task_release(t);
        task_free(t);
    }
    c->unfinished = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Helpers for handlers                                                                      */

const char *cos_task_str(const cos_task *t, const char *name) { return cos_obj_get_str(t->params, name); }

const char *cos_task_key(const cos_task *t)
{
    const char *k = cos_obj_get_str(t->params, "Key");
    if (k && !t->client->use_raw_key && k[0] == '/') k++;
    return k;
}

static void task_req_progress(void *ud, int64_t sent, int64_t send_total, int64_t received, int64_t recv_total)
{
    cos_task *t = ud;
    if (t->prog_direction == 1) cos_task_progress_update(t, (double)sent, (double)send_total);
    else cos_task_progress_update(t, (double)received, recv_total > 0 ? (double)recv_total : -1);
}

void cos_task_track_progress(cos_task *t, cos_request *r, int direction)
{
    t->prog_direction = direction;
    cos_req_on_progress(r, task_req_progress, t);
}

void cos_task_wake_streams(cos_client *c) { c->streams_due = 1; }
