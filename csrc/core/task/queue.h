/* queue: the task queue of the Node SDK, fixed (docs/upload-engine.md#the-task-queue).
 *
 * Every upload task (putObject, sliceUploadFile, uploadFile and each file of uploadFiles) is an
 * entry of its client's queue. An entry outlives its cos_task: finished entries stay listed
 * (getTaskList) until the queue holds more than UploadQueueSize (1000) entries.
 *
 * States (cos_task_state) and transitions:
 *   waiting   -> checking      a FileParallelLimit slot is free (ops->run is called)
 *   checking  -> uploading     the first onProgress emission (bytes start flowing)
 *   checking|uploading -> success | error        the task finished
 *   waiting|checking|uploading -> paused         pauseTask (ops->stop aborts in-flight requests;
 *                                                refused when the body cannot be replayed)
 *   paused|error -> waiting                       restartTask (error: the upload is run again
 *                                                silently: its callback already had the error)
 *   any but canceled -> canceled                  cancelTask. A live task stops, its multipart
 *                                                upload is aborted on the server, and its callback
 *                                                gets the error {code = "TaskCanceled"}; an
 *                                                error task has its upload aborted; a success
 *                                                task only changes state (as the Node SDK).
 * A task beyond the limits waits; it never fails for that.
 *
 * How a task joins: its handler validates, then calls cos_queue_add() LAST (nothing may fail
 * after it). cos_queue_add wraps the task's callbacks (t->cb) so that the queue sees progress,
 * hash progress and the final result before the caller does; handlers keep calling
 * cos_task_finish / cos_task_progress_* as usual. */
#ifndef COS_QUEUE_H
#define COS_QUEUE_H
#include "task/task.h"

typedef struct cos_queue cos_queue;

typedef struct cos_queue_ops {
    /* Starts, or resumes after pause/restart, the task's work. Called when a slot is free, with
     * the state already "checking". */
    void (*run)(cos_task *t);
    /* Pause and cancel: abort the in-flight requests, keep whatever lets run() resume. NULL means
     * the task cannot be paused (a pulled body cannot be replayed). */
    void (*stop)(cos_task *t);
    /* Cancel of a live task, after stop: release server-side state (abort the multipart upload,
     * remove the checkpoint), then cos_task_finish(t, err, NULL) with the given error, which the
     * callee owns. NULL: the queue finishes the task itself. */
    void (*cancel)(cos_task *t, cos_value *canceled_err);
    /* cancelTask of an "error" entry whose task is gone: abort the multipart upload it left on the
     * server (a task of its own, so cos_run waits for it). NULL when the task has none. */
    void (*abort_upload)(cos_client *c, const char *bucket, const char *region, const char *key,
                         const char *upload_id);
} cos_queue_ops;

/* Joins task t: entry listed with FilePath (may be NULL) and size (-1 unknown), state waiting;
 * runs it now when a slot is free. `file_finish`: call the caller's on_file_finish(err, data,
 * options) before on_done, options being the task's primitive params plus TaskId (uploadFile).
 * 0, or -1 (out of memory: nothing changed). */
int cos_queue_add(cos_task *t, const char *file_path, double size, const cos_queue_ops *ops, int file_finish);

/* The size of the task became known (or changed). */
void cos_queue_set_size(cos_task *t, double size);

/* The server-side state of a multipart upload, kept after the task is gone so that cancelTask
 * on an "error" entry can abort it: upload_id NULL clears it. cp_file may be NULL. */
void cos_queue_set_upload(cos_task *t, const char *upload_id, const char *cp_file);

/* UploadIds held by live tasks of this client: a second sliceUploadFile of the same file never
 * shares one with a running task. acquire: 0, or -1 when already in use (or OOM). */
int cos_queue_acquire_upload(cos_client *c, const char *upload_id);
void cos_queue_release_upload(cos_client *c, const char *upload_id);

/* cos_task_fail of a queue task: state error, requests stopped, then ops->cancel(t, err) (the
 * multipart upload is aborted) or the task finishes with err. 0 (err taken), or -1 when t is not
 * in the queue (err untouched). */
int cos_queue_fail(cos_task *t, cos_value *err);



/* Engine hooks: emit list-update if anything changed (end of cos_poll); free the queue
 * (cos_client_free, after the tasks are gone). */
void cos_queue_flush(cos_client *c);
void cos_queue_free(cos_client *c);


#endif
