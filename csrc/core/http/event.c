/* event: a FIFO of cos_event hanging off the client (ev_head/ev_tail). */
#include "http/event.h"

#include <stdlib.h>

#include "client.h"

int cos_event_push(cos_client *c, cos_event_kind kind, struct cos_request *req, struct cos_task *t,
                   const cos_progress *p, cos_value *err, cos_value *data)
{
    cos_event *ev = calloc(1, sizeof *ev);
    if (!ev) {
        cos_value_free(err);
        cos_value_free(data);
        return -1;
    }
    ev->kind = kind;
    ev->req = req;
    ev->task = t;
    if (p) ev->progress = *p;
    ev->err = err;
    ev->data = data;
    if (c->ev_tail) c->ev_tail->next = ev;
    else c->ev_head = ev;
    c->ev_tail = ev;
    return 0;
}

cos_event *cos_event_pop(cos_client *c)
{
    cos_event *ev = c->ev_head;
    if (!ev) return NULL;
    c->ev_head = ev->next;
    if (!c->ev_head) c->ev_tail = NULL;
    ev->next = NULL;
    return ev;
}

void cos_event_free(cos_event *ev)
{
    cos_value_free(ev->err);
    cos_value_free(ev->data);
    free(ev);
}

/* Unlinks and frees every event for which `match` holds. */
static void event_drop(cos_client *c, const void *req, const void *task)
{
    cos_event **pp = &c->ev_head;
    c->ev_tail = NULL;
    while (*pp) {
        cos_event *ev = *pp;
        if ((req && ev->req == req) || (task && ev->task == task)) {
            *pp = ev->next;
            cos_event_free(ev);
        } else {
            c->ev_tail = ev;
            pp = &ev->next;
        }
    }
}

void cos_event_drop_request(cos_client *c, const struct cos_request *r) { event_drop(c, r, NULL); }

void cos_event_drop_task(cos_client *c, const struct cos_task *t) { event_drop(c, NULL, t); }
