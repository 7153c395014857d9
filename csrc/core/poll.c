/* poll: cos_poll and the other ways a host drives a client (cos_run, cos_wait, cos_busy, and the
 * event-loop API cos_watch_sockets / cos_next_timeout / cos_socket_action). One step starts the
 * step budget, lets stream uploads read, schedules requests, waits on the sockets, lets libcurl
 * act, then delivers the recorded events one at a time: the only file that knows both requests
 * (http/) and tasks (task/). */
#include <math.h>
#include <poll.h>
#include <stdlib.h>

#include "base/clock.h"
#include "client.h"
#include "http/credentials.h"
#include "http/event.h"
#include "http/request_state.h"
#include "http/transport.h"
#include "task/queue.h"

/* One recorded event: requests' to the transport, credentials and request.c; tasks' to task.c. */
static void deliver(cos_client *c, cos_event *ev)
{
    switch (ev->kind) {
    case COS_EV_REQ_DONE: cos_transport_deliver_done(ev->req); break;
    case COS_EV_REQ_PULL:
        if (ev->req->state == COS_RQ_ACTIVE && !ev->req->aborted) cos_req_feed_pull(ev->req);
        break;
    case COS_EV_REQ_CREDS: cos_credentials_deliver(c, ev->req); break;
    default: cos_task_deliver(c, ev); break;
    }
    cos_event_free(ev);
}

static int stepping(const cos_client *c)
{
    for (const cos_task *t = c->nstep_tasks ? c->task_head : NULL; t; t = t->next)
        if (t->op_step && !t->finished) return 1;
    return 0;
}

static int step_due(const cos_client *c);

/* ms until the next thing we must do without network activity; -1 when nothing is due. Also
 * emits the throttled progress that fell due (cos_task_timers). */
static double next_deadline(cos_client *c, double now)
{
    double next = cos_transport_next_due(c, now);
    double t = -1;
    cos_task_timers(c, now, &t);
    if (t >= 0 && (next < 0 || t < next)) next = t;
    if (step_due(c)) next = 0; /* the step budget paused a transfer, or hashing goes on */
    return next;
}

static int busy(const cos_client *c)
{
    /* streams_due: a stream upload became able to read during this step (a part was confirmed,
     * its buffer is free again) after the pump had found nothing to do: one more step. */
    return c->nactive || c->pending_head || c->ev_head || c->cred_head || c->streams_reading || c->streams_due ||
           stepping(c);
}

/* A new step (cos_poll, cos_socket_action): the byte budget starts again, the transfers it
 * paused go on (before waiting, so that their sockets are watched again), and work done in
 * slices (hashing) takes its share. Returns how many tasks still have such work. */
static int step_begin(cos_client *c)
{
    cos_transport_step_begin(c);
    return cos_task_steps(c);
}

/* Something the next step must do at once: a transfer the budget paused, or hashing in slices. */
static int step_due(const cos_client *c)
{
    return cos_transport_budget_paused(c) || stepping(c);
}

#define MAX_STREAM_FDS 16
#define STREAM_RETRY_MS 5

/* Stream uploads read from here, at the start of every step (cos_poll, cos_run, cos_wait,
 * cos_socket_action), outside libcurl (a Lua reader is a callback like any other). Returns the
 * longest the step may wait: 0 when a stream has more to read at once, STREAM_RETRY_MS when one
 * wants to be asked again soon, else -1 (also kept in c->streams_due for cos_next_timeout).
 * The descriptors streams wait on go to fds (the step's poll wakes up on them); with fds NULL
 * (a host's own loop), or when they are too many, those streams are asked again soon. */
static int pump_streams(cos_client *c, struct pollfd *fds, size_t *nfds)
{
    int limit = -1;
    c->streams_reading = 0;
    if (nfds) *nfds = 0;
    for (cos_task *t = c->npump_tasks ? c->task_head : NULL; t; t = t->next) {
        if (!t->op_pump || t->finished) continue;
        int fd = -1, more = t->op_pump(t, &fd);
        if (more == 1) limit = 0;
        else if (more == 2 && limit != 0) limit = STREAM_RETRY_MS;
        if (fd >= 0 && fds && *nfds < MAX_STREAM_FDS) fds[(*nfds)++] = (struct pollfd){.fd = fd, .events = POLLIN};
        else if (fd >= 0 && limit != 0) limit = STREAM_RETRY_MS;
        if (more || fd >= 0) c->streams_reading++;
    }
    c->streams_due = limit == 0 ? 1 : limit > 0 ? 2 : 0;
    return limit;
}

/* Waits up to wait_ms for a watched socket (or a stream's descriptor, `extra`: readable only
 * wakes the wait; the next step reads), then lets libcurl act on the ready sockets. */
static void wait_sockets(cos_client *c, int wait_ms, const struct pollfd *extra, size_t nextra)
{
    struct pollfd small[16 + MAX_STREAM_FDS], *pfd = small;
    size_t n = c->nsocks;
    if (n > 16 && !(pfd = malloc((n + nextra) * sizeof *pfd))) {
        pfd = small;
        n = 16; /* out of memory: watch some now, the rest next step */
    }
    for (size_t i = 0; i < n; i++) {
        pfd[i].fd = c->socks[i].fd;
        pfd[i].events = (short)((c->socks[i].events & COS_WATCH_IN ? POLLIN : 0) |
                                (c->socks[i].events & COS_WATCH_OUT ? POLLOUT : 0));
        pfd[i].revents = 0;
    }
    for (size_t i = 0; i < nextra; i++) pfd[n + i] = extra[i];
    int ready = poll(pfd, (nfds_t)(n + nextra), wait_ms);
    for (size_t i = 0; ready > 0 && i < n; i++) {
        short r = pfd[i].revents;
        if (!r) continue;
        int ev = (r & (POLLIN | POLLHUP) ? CURL_CSELECT_IN : 0) | (r & POLLOUT ? CURL_CSELECT_OUT : 0) |
                 (r & (POLLERR | POLLNVAL) ? CURL_CSELECT_ERR : 0);
        cos_transport_socket_action(c, pfd[i].fd, ev);
    }
    if (pfd != small) free(pfd);
    cos_transport_timer(c);
}

static void after_io(cos_client *c);

/* One step. An idle client (nothing in flight, nothing due) sleeps the whole wait only when
 * sleep_idle is set (cos_poll, like poll(2)); cos_run and cos_wait return instead. */
static int step(cos_client *c, int timeout_ms, int sleep_idle)
{
    int slices = step_begin(c); /* hashing in slices goes on: do not wait */
    struct pollfd sfds[MAX_STREAM_FDS];
    size_t nsfds = 0;
    int stream_wait = pump_streams(c, sfds, &nsfds);
    cos_transport_schedule(c);
    double now = cos_clock_mono_ms();
    double due = next_deadline(c, now); /* also emits throttled progress that is due */
    int wait = timeout_ms < 0 ? 0 : timeout_ms;
    if (c->ev_head || slices) wait = 0;
    if (due >= 0 && due < wait) wait = (int)ceil(due);
    if (stream_wait >= 0 && stream_wait < wait) wait = stream_wait;
    if (!sleep_idle && !c->nactive && due < 0 && !nsfds && stream_wait < 0) wait = 0; /* nothing can happen */
    wait_sockets(c, wait, sfds, nsfds);
    after_io(c);
    return c->unfinished;
}

int cos_poll(cos_client *c, int timeout_ms) { return c ? step(c, timeout_ms, 1) : 0; }

int cos_socket_action(cos_client *c, int fd, int events)
{
    if (!c) return 0;
    step_begin(c);
    pump_streams(c, NULL, NULL);
    cos_transport_schedule(c);
    if (fd >= 0)
        cos_transport_socket_action(c, fd, (events & COS_WATCH_IN ? CURL_CSELECT_IN : 0) | (events & COS_WATCH_OUT ? CURL_CSELECT_OUT : 0));
    cos_transport_timer(c);
    after_io(c);
    return c->unfinished;
}

size_t cos_watch_sockets(cos_client *c, cos_watch *out, size_t n)
{
    if (!c) return 0;
    for (size_t i = 0; i < n && i < c->nsocks; i++) out[i] = c->socks[i];
    return c->nsocks;
}

long cos_next_timeout(cos_client *c)
{
    if (!c) return -1;
    if (c->ev_head) return 0;
    double due = next_deadline(c, cos_clock_mono_ms());
    if (c->ev_head) return 0; /* progress that fell due meanwhile */
    double sdue = c->streams_due == 1 ? 0 : c->streams_due == 2 ? STREAM_RETRY_MS : -1;
    if (sdue >= 0 && (due < 0 || sdue < due)) due = sdue;
    return due < 0 ? -1 : (long)ceil(due);
}

static void after_io(cos_client *c)
{
    cos_transport_collect(c);
    cos_credentials_expire(c, cos_clock_mono_ms());
    next_deadline(c, cos_clock_mono_ms());
    cos_transport_schedule(c);
    cos_event *ev;
    while ((ev = cos_event_pop(c))) deliver(c, ev);
    cos_transport_schedule(c);
    cos_queue_flush(c); /* list-update, at most once per step */
}

int cos_busy(cos_client *c)
{
    double t = -1;
    if (!c) return 0;
    cos_task_timers(c, cos_clock_mono_ms(), &t);
    return busy(c) || t >= 0;
}

void cos_run(cos_client *c)
{
    while (c && c->unfinished > 0) {
        step(c, 1000, 0);
        /* Nothing in flight and nothing queued: the remaining tasks wait for the caller (paused). */
        double t = -1;
        cos_task_timers(c, cos_clock_mono_ms(), &t);
        if (!busy(c) && t < 0) break;
    }
}

void cos_wait(cos_client *c, cos_task_id id)
{
    while (c && !cos_task_is_done(c, id)) {
        step(c, 1000, 0);
        double t = -1;
        cos_task_timers(c, cos_clock_mono_ms(), &t);
        if (!busy(c) && t < 0 && !cos_task_is_done(c, id)) break;
    }
}
