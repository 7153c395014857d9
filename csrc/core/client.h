/* client: the internal layout of cos_client, shared by the core's files. Everything mutable
 * hangs off one client; nothing is global (besides the one-time library init in client.c). */
#ifndef COS_CLIENT_H
#define COS_CLIENT_H
#include <curl/curl.h>
#include <stdint.h>
#include "cos.h"
#include "mime.h"
#include "task/task.h"

typedef struct cos_event cos_event;

struct cos_client {
    cos_value *options;      /* a clone of the constructor options (later lookups: cos_client_opt) */
    /* Parsed options */
    char *secret_id, *secret_key, *security_token;
    char *protocol;          /* "https:" or "http:" */
    char *domain;            /* template or NULL */
    char *ip;                /* host[:port] or NULL */
    char *ca_info;           /* CA bundle or NULL */
    char *user_agent;
    long timeout_ms;         /* 0: none */
    double progress_interval_ms;
    int correct_clock_skew;
    double clock_offset_ms;  /* SystemClockOffset, corrected on RequestTimeTooSkewed */
    int use_raw_key;
    int retry_times;         /* extra attempts per request */
    int upload_check_md5;
    int64_t step_bytes;      /* body bytes read, hashed and handed to libcurl in this cos_poll step */
    int server_lacks_crc64;  /* an upload was answered without x-cos-hash-crc64ecma: MD5 from now on (integrity.c) */
    int max_connections;     /* global cap on transfers running at once */
    long low_speed_time_s;   /* stall detection: < 1 B/s during this many seconds */
    cos_mime *mime;          /* the system MIME table, loaded once (Content-Type by extension) */
    /* Engine */
    CURLM *multi;
    struct cos_request *pending_head, *pending_tail; /* submitted, waiting for a slot or a retry time */
    struct cos_request *active_head;                 /* added to the multi */
    int nactive;
    CURL **idle;             /* reusable easy handles */
    size_t nidle, idle_cap;
    uint64_t rng;            /* xorshift64* state for retry jitter */
    int in_perform;          /* guards against re-entering libcurl from a libcurl callback */
    /* libcurl's socket interface: the sockets it wants watched and its timer, as its callbacks
     * last said (they only record; cos_poll or the host's loop acts on them). */
    cos_watch *socks;
    size_t nsocks, socks_cap;
    double curl_due;         /* monotonic ms when libcurl's timer fires; -1: none */
    uint64_t sock_ids;       /* last cos_watch.id given */
    int streams_reading;     /* stream uploads that read or wait on their source (last step) */
    int streams_due;         /* a stream wants a step: 1 at once, 2 soon (a few ms), 0 no */
    /* Events recorded for delivery by cos_poll */
    cos_event *ev_head, *ev_tail;
    /* Tasks */
    cos_task *task_head, *task_tail;
    cos_task_id next_task_id;
    int unfinished;          /* tasks that have not delivered on_done yet */
    void (*list_update_fn)(void *ud, cos_value *list);
    void *list_update_ud;
    struct cos_queue *queue; /* the task queue (queue.c), created on first use */
    /* Credentials provider (cos_set_credentials_provider) and its STS cache (engine.c) */
    cos_credentials_fn cred_fn;
    void *cred_ud;
    struct cos_request *cred_head;                   /* requests waiting for credentials */
    uint64_t next_cred_token;
    char *sts_id, *sts_key, *sts_token;              /* NULL: no cached STS credential */
    long long sts_start, sts_expired;                /* Unix s; sts_start 0: not given */
    int freeing;
};

/* Events (engine.c). The queue takes the values it is given. */
typedef enum cos_event_kind {
    COS_EV_REQ_DONE = 1,   /* request finished: call its done */
    COS_EV_REQ_PULL,       /* request needs the next body chunk */
    COS_EV_REQ_CREDS,      /* request needs credentials: call the provider */
    COS_EV_TASK_PROGRESS,  /* on_progress */
    COS_EV_TASK_HASH_PROGRESS,
    COS_EV_TASK_DONE       /* on_done, then release, then the task is freed */
} cos_event_kind;

struct cos_event {
    cos_event_kind kind;
    struct cos_request *req;
    cos_task *task;
    cos_progress progress;
    cos_value *err, *data;
    cos_event *next;
};
int cos_event_push(cos_client *c, cos_event_kind kind, struct cos_request *req, cos_task *t,
                   const cos_progress *p, cos_value *err, cos_value *data);

/* task.c: the hooks cos_poll and cos_client_free need. */
void cos_task_deliver(cos_client *c, cos_event *ev);      /* TASK_* events */
void cos_task_timers(cos_client *c, double now, double *next_deadline);
void cos_tasks_free_all(cos_client *c);
int cos_task_is_done(cos_client *c, cos_task_id id);

/* engine.c */
int cos_engine_init(cos_client *c);
void cos_engine_free(cos_client *c);
void cos_engine_abort_task(cos_client *c, cos_task_id id); /* every request of the task */
void cos_engine_wake_streams(cos_client *c); /* a stream upload can read again: step soon */
void cos_events_drop_task(cos_client *c, cos_task *t);        /* its queued TASK_* events */

#endif
