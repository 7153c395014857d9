/* client: the internal layout of cos_client, shared by the core's files. Everything mutable
 * hangs off one client; nothing is global (besides the one-time library init in client.c). */
#ifndef COS_CLIENT_H
#define COS_CLIENT_H
#include <curl/curl.h>
#include <stdint.h>
#include "cos.h"
#include "mime.h"
#include "task/task.h"

struct cos_event;

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
    struct cos_event *ev_head, *ev_tail;
    /* Tasks */
    cos_task *task_head, *task_tail;
    /* Tasks a step must visit, kept apart so that a step costs the same with thousands of tasks
     * waiting in the queue: how many have op_step / op_pump (cos_task_set_step / _set_pump), and
     * the list of those whose throttled progress is pending (task.c). */
    int nstep_tasks, npump_tasks;
    cos_task *prog_head;
    cos_task_id next_task_id;
    int unfinished;          /* tasks that have not delivered on_done yet */
    void (*list_update_fn)(void *ud, cos_value *list);
    void *list_update_ud;
    struct cos_queue *queue; /* the task queue (queue.c), created on first use */
    /* Credentials provider (http/credentials.c) and its STS cache (http/sts.c) */
    cos_credentials_fn cred_fn;
    void *cred_ud;
    struct cos_request *cred_head;                   /* requests waiting for credentials */
    uint64_t next_cred_token;
    char *sts_id, *sts_key, *sts_token;              /* NULL: no cached STS credential */
    long long sts_start, sts_expired;                /* Unix s; sts_start 0: not given */
    int freeing;
};

#endif
