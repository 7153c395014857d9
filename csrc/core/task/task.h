/* task: one started operation (cos_start) and the pieces every operation handler uses.
 *
 * A handler (ops/object.h, upload/upload.h, ...) receives a task whose params/body/output/callbacks are already copied
 * into it. It validates synchronously (returning -1 and *err on bad input: nothing is queued),
 * then submits requests (request.h) and eventually calls cos_task_finish exactly once. All user
 * callbacks (on_done, on_progress, on_pull, ...) are delivered from cos_poll via the client's
 * event queue.
 *
 * The queue-related fields (state, queue links) exist for the task queue (putObject,
 * sliceUploadFile, uploadFile, uploadFiles: states waiting/checking/uploading/paused/canceled/
 * error/success, FileParallelLimit), which hangs off the client. */
#ifndef COS_TASK_H
#define COS_TASK_H
#include <stdint.h>
#include "cos.h"
#include "http/request.h"

typedef enum cos_task_state {
    COS_TASK_WAITING = 0,
    COS_TASK_CHECKING,
    COS_TASK_UPLOADING,
    COS_TASK_PAUSED,
    COS_TASK_CANCELED,
    COS_TASK_ERROR,
    COS_TASK_SUCCESS
} cos_task_state;
const char *cos_task_state_name(cos_task_state s);

typedef struct cos_task cos_task;

/* Throttled progress of one task (docs/cos-wire.md#progress). */
typedef struct cos_task_progress {
    double loaded, total;   /* total -1: unknown */
    double emitted_loaded;  /* loaded of the last emission (speed base) */
    double emitted_total;   /* total of the last emission */
    double max_loaded;      /* emitted loaded never goes backwards */
    double last_emit_ms;    /* monotonic ms of the last emission; < 0 before the first */
    int pending;            /* a value is waiting for the interval to pass */
    double speed;           /* smoothed bytes/s of the last emission; < 0 before the first rate */
    double files_done, files_failed, files_total; /* uploadFiles' counts; files_total < 0: none */
} cos_task_progress;

struct cos_task {
    cos_client *client;
    cos_task_id id;
    const char *op;          /* static op name (operation->name) */
    const struct cos_operation *operation; /* what started it (restartTask runs it again) */
    void *queue_entry;       /* restartTask: the queue entry this task carries on (queue.c), else NULL */
    cos_value *params;       /* owned */
    cos_body body;           /* copied: MEM data malloc'd, FD dup'ed (fd), PATH strdup'ed */
    cos_output output;       /* PATH strdup'ed, FD dup'ed */
    cos_callbacks cb;
    int is_queue_task;       /* putObject / sliceUploadFile / uploadFile(s) */
    cos_task_state state;
    int finished;            /* cos_task_finish was called */
    int released;            /* cb.release was called */
    cos_task_progress prog;
    int prog_direction;      /* 1: upload bytes drive onProgress, 2: download bytes */
    cos_task_progress hash_prog;
    /* Per-operation state, freed with op_free when the task goes away. */
    void *op_state;
    void (*op_free)(void *op_state);
    /* Called when the task is canceled/paused/freed with requests in flight: the handler
     * aborts them (cos_transport_abort). May be NULL when the handler keeps no requests. */
    void (*op_abort)(cos_task *t);
    /* Stream uploads (stream_upload.c): called by cos_poll at the start of every step to read
     * what the task needs. Returns 1 when it could read more at once (the step must not wait),
     * 2 when the source should be asked again soon, 0 otherwise; *wait_fd: a descriptor whose
     * readability is worth waking up for, or -1. NULL for other tasks. */
    int (*op_pump)(cos_task *t, int *wait_fd);
    /* cos_task_fail of a task that holds more than requests (uploadFiles: its files): release it
     * all and finish with err (taken). NULL: requests aborted, then finished with err. Queue
     * tasks go through their queue ops instead. */
    void (*op_fail)(cos_task *t, cos_value *err);
    /* Work done in slices (hashing): while set, called once at the start of every cos_poll step
     * (and cos_poll does not wait), so the work shares the step budget COS_STEP_MAX_BYTES. */
    void (*op_step)(cos_task *t);
    cos_request *req;        /* the single in-flight request of simple ops (NULL if none) */
    cos_task *next, *prev;   /* client's task list, in start order */
    cos_task *prog_next, *prog_prev; /* the client's list of pending progress (prog.pending) */
};

/* Operation entry point: validate, then start. 0, or -1 with *err (a validation error). */
typedef int (*cos_op_start_fn)(cos_task *t, cos_value **err);

/* An operation as the index (operations.c) lists it: its public name, its entry point, and
 * whether its tasks join the task queue. Rows are static: tasks and queue entries point at them. */
typedef struct cos_operation {
    const char *name;        /* "putObject", as in the Node SDK */
    cos_op_start_fn start;
    int queue_task;          /* putObject / sliceUploadFile / uploadFile(s) */
    int stream_body;         /* takes a COS_BODY_STREAM (a reader of unknown length) */
} cos_operation;

/* cos_start for one operation: the task record is made, params/body/output/callbacks copied into
 * it, every operation's common checks run (cos_validate_call), then def->start. `name` is what the
 * caller asked for (in the error when def is NULL). `queue_entry`: NULL, or the queue entry a
 * restarted task carries on (queue.c only). Same result as cos_start. */
cos_task_id cos_task_start(cos_client *c, const cos_operation *def, const char *name, cos_value *params,
                           const cos_body *body, const cos_output *output, const cos_callbacks *cb,
                           void *queue_entry, cos_value **err);

/* The hooks poll.c and cos_client_free need. */
struct cos_event;
void cos_task_deliver(cos_client *c, struct cos_event *ev); /* TASK_* events */
void cos_task_timers(cos_client *c, double now, double *next_deadline);
void cos_task_free_all(cos_client *c);
int cos_task_is_done(cos_client *c, cos_task_id id);
/* A stream upload can read again: the next step should come soon (cos_next_timeout 0). */
void cos_task_wake_streams(cos_client *c);

/* Sets (fn) or clears (NULL) a task's op_step / op_pump: always through these, so that the client
 * knows how many tasks a step must visit. */
void cos_task_set_step(cos_task *t, void (*fn)(cos_task *t));
void cos_task_set_pump(cos_task *t, int (*fn)(cos_task *t, int *wait_fd));

/* Runs the op_step of every task that has one; returns how many still have one afterwards. */
int cos_task_steps(cos_client *c);

/* Queues on_done(err or data) (exactly one non-NULL; takes both) and marks the task finished.
 * The final progress emission (percent 1) is queued before on_done on success for tasks that
 * emitted progress. Later calls are ignored (and free their arguments). */
void cos_task_finish(cos_task *t, cos_value *err, cos_value *data);
/* Progress: records loaded/total and emits under the ProgressInterval throttle; the first call
 * always emits at once. Emissions go through the event queue. */
void cos_task_progress_update(cos_task *t, double loaded, double total);
/* Emits at once (cancelling any pending value): start (0) and final (total) emissions. */
void cos_task_progress_now(cos_task *t, double loaded, double total);
/* Same for onHashProgress. */
void cos_task_hash_progress_now(cos_task *t, double loaded, double total);

/* Helpers for handlers. */
const char *cos_task_str(const cos_task *t, const char *name);          /* string param or NULL */
/* The Key of the params, without one leading '/' unless UseRawKey. Points into params. */
const char *cos_task_key(const cos_task *t);

/* The request's transfer drives t's onProgress: `direction` 1: the bytes it uploads, 2: the
 * bytes it downloads (cos_task_progress_update). The requests themselves are built by
 * ops/messages.c, one builder per COS API. */
void cos_task_track_progress(cos_task *t, cos_request *r, int direction);

#endif
