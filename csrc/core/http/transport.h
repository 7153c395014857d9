/* transport: the libcurl multi transport of a client (transport.c): submission, scheduling on
 * free connection slots, retries with backoff, clock-skew correction, the step budget's pausing,
 * completion. Operations use cos_transport_submit/abort (with request.h); poll.c drives the rest. */
#ifndef COS_HTTP_TRANSPORT_H
#define COS_HTTP_TRANSPORT_H
#include "cos.h"
#include "http/request.h"

/* How long a request waits for the credentials provider when the client has no Timeout. */
#define COS_CRED_WAIT_DEFAULT_MS 60000.0

int cos_transport_init(cos_client *c);
/* Frees every request (none of their `done` runs) and the queued events. */
void cos_transport_free(cos_client *c);
/* Hands a request over (request.h, "Lifecycle"): 0, or -1 when r is NULL. */
int cos_transport_submit(cos_request *r);
/* Stops a submitted request; its `done` will not be called. */
void cos_transport_abort(cos_request *r);
/* Every request of task id. */
void cos_transport_abort_task(cos_client *c, cos_task_id id);
/* Ends r with this outcome: its REQ_DONE event is queued (error taken). */
void cos_transport_finish(cos_client *c, cos_request *r, int status, cos_value *error);
/* A request parked for the credentials provider: unlink it (it then must be finished or resumed),
 * and back to pending once it has credentials. */
void cos_transport_unpark(cos_client *c, cos_request *r);
void cos_transport_resume(cos_client *c, cos_request *r);
/* Starts the pending requests that are due, while connection slots are free. */
void cos_transport_schedule(cos_client *c);
/* After libcurl ran: completed transfers (retried or finished) and progress/pull events. */
void cos_transport_collect(cos_client *c);
/* ms until a retry, a provider deadline or libcurl's timer is due; -1 when none. */
double cos_transport_next_due(const cos_client *c, double now);
/* A new step: the byte budget starts again and the transfers it paused go on. */
void cos_transport_step_begin(cos_client *c);
/* 1 when a transfer waits for the next step's budget. */
int cos_transport_budget_paused(const cos_client *c);
/* libcurl acts on a ready socket (curl_multi_socket_action; CURL_CSELECT_* events), or on its
 * timer when it is due (cos_transport_timer). */
void cos_transport_socket_action(cos_client *c, int fd, int curl_events);
void cos_transport_timer(cos_client *c);
/* Delivers a REQ_DONE event: calls r's done with its result (unless aborted), frees r. */
void cos_transport_deliver_done(cos_request *r);

#endif
