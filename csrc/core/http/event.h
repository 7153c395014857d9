/* event: the client's queue of things to deliver from cos_poll (event.c). The transport and the
 * tasks record events while libcurl runs or while a step computes; poll.c delivers them one at a
 * time, so no user callback ever runs inside libcurl. */
#ifndef COS_HTTP_EVENT_H
#define COS_HTTP_EVENT_H
#include "cos.h"

struct cos_request;
struct cos_task;

typedef enum cos_event_kind {
    COS_EV_REQ_DONE = 1,   /* request finished: call its done */
    COS_EV_REQ_PULL,       /* request needs the next body chunk */
    COS_EV_REQ_CREDS,      /* request needs credentials: call the provider */
    COS_EV_TASK_PROGRESS,  /* on_progress */
    COS_EV_TASK_HASH_PROGRESS,
    COS_EV_TASK_DONE       /* on_done, then release, then the task is freed */
} cos_event_kind;

typedef struct cos_event {
    cos_event_kind kind;
    struct cos_request *req;
    struct cos_task *task;
    cos_progress progress;
    cos_value *err, *data;
    struct cos_event *next;
} cos_event;

/* Appends an event; it takes err and data (freed on failure too). 0, or -1 out of memory. */
int cos_event_push(cos_client *c, cos_event_kind kind, struct cos_request *req, struct cos_task *t,
                   const cos_progress *p, cos_value *err, cos_value *data);
/* The oldest event, unlinked (the caller frees it with cos_event_free), or NULL. */
cos_event *cos_event_pop(cos_client *c);
void cos_event_free(cos_event *ev);
/* Drops the queued events of a request or a task that is going away. */
void cos_event_drop_request(cos_client *c, const struct cos_request *r);
void cos_event_drop_task(cos_client *c, const struct cos_task *t);

#endif
