/* request_state: request.c's internal header: the layout of a cos_request, shared by the http/ files: request.c builds, signs
 * and configures it, transport.c schedules, retries and completes it, credentials.c and sts.c
 * give it keys. Operations never see it: they use request.h. */
#ifndef COS_HTTP_REQUEST_STATE_H
#define COS_HTTP_REQUEST_STATE_H
#include <curl/curl.h>
#include <openssl/evp.h>
#include "client.h"
#include "http/request.h"
#include "sign.h"

typedef struct cos_rkv {
    char *name;
    char *value; /* never NULL once stored ("" for empty) */
} cos_rkv;

typedef struct cos_rkv_list {
    cos_rkv *items;
    size_t len, cap;
} cos_rkv_list;

typedef enum cos_src_kind { COS_SRC_NONE = 0, COS_SRC_MEM, COS_SRC_FD, COS_SRC_PULL } cos_src_kind;

typedef enum cos_req_state {
    COS_RQ_NEW = 0,   /* being built */
    COS_RQ_PENDING,   /* submitted: waiting for a slot or its retry time */
    COS_RQ_CREDS,     /* waiting for the credentials provider (c->cred_head) */
    COS_RQ_ACTIVE,    /* in the multi */
    COS_RQ_DONE       /* REQ_DONE queued */
} cos_req_state;

struct cos_request {
    cos_client *c;
    cos_api api;            /* the COS API this request is (cos_req_new): its method and STS scope */
    char *method, *bucket, *region, *key; /* key NULL: bucket level */
    cos_rkv_list query, headers;
    /* Body */
    cos_src_kind src;
    char *mem;              /* owned unless mem_ref */
    const char *mem_ref;    /* borrowed body (cos_req_body_mem_ref) */
    size_t mem_len;
    int fd;
    int64_t fd_offset;
    int64_t body_len;       /* -1: none */
    cos_req_pull_fn pull;
    void *pull_ud;
    strbuf pullbuf;         /* bytes pulled but not yet handed to libcurl */
    size_t pullpos;
    int pull_eof, need_data, pull_queued;
    int budget_paused;      /* paused by the step budget (COS_STEP_MAX_BYTES): resumed by the next step */
    int64_t sent;           /* body bytes handed to libcurl in this attempt */
    int body_error;         /* errno-like reason when the read callback aborted */
    /* multipart/form-data (cos_req_body_mime): the body source above is the file part */
    cos_req_mime_fn mime_fields;
    void *mime_ud;
    char *mime_part, *mime_filename;
    curl_mime *mime;        /* of the current attempt; freed when the next one starts or at destroy */
    int hash_flags;
    EVP_MD_CTX *md5;
    uint64_t crc;
    /* Response */
    int out_fd;
    int64_t out_written;
    int out_error;
    int64_t body_limit;     /* memory cap of a 2xx body (cos_req_body_limit), -1: none */
    int body_too_large;     /* the write callback stopped the transfer at the cap */
    int64_t header_bytes;   /* response header bytes of this attempt (COS_RESP_MAX_HEADERS) */
    int headers_too_large;  /* the header callback stopped the transfer at the cap */
    cos_value *resp_headers;
    char *reason;           /* status line reason phrase */
    strbuf resp_body;
    int64_t received;
    int accept[4];
    int naccept;
    /* Retries */
    int max_retries;        /* -1: client's RetryTimes */
    int attempt;            /* 1-based attempt number of the current/last attempt */
    int skew_retried;
    double retry_at;        /* monotonic ms; 0: at once */
    cos_value *last_error;  /* the failed attempt being retried: reported if the retry cannot start */
    /* Credentials of the current attempt (provider only; else the client's keys are used) */
    uint64_t cred_token;    /* the outstanding provider call while COS_RQ_CREDS */
    double cred_deadline;   /* monotonic ms: give up waiting for the provider */
    int has_creds;          /* resolved for the next attempt; cleared after each attempt */
    char *cred_auth;        /* a ready Authorization (used as is) ... */
    char *cred_id, *cred_key, *cred_token_str; /* ... or an STS snapshot; the token either way */
    char cred_key_time[64]; /* STS StartTime;ExpiredTime, "" when computed */
    cos_task_id task;
    cos_req_done_fn done;
    cos_req_progress_fn progress;
    void *progress_ud;
    void *ud;
    /* Engine */
    cos_req_state state;
    int aborted;
    CURL *easy;
    struct curl_slist *slist;      /* request headers of the current attempt */
    struct curl_slist *connect_to; /* Ip option (kept for all attempts) */
    char *url;              /* of the current attempt */
    char *url_noquery;      /* for error objects */
    char errbuf[CURL_ERROR_SIZE];
    int64_t up_now, up_total, down_now, down_total;
    /* Outcome of the final attempt (set when REQ_DONE is queued) */
    int final_status;
    cos_value *final_error;
    unsigned char md5_out[16];
    int prog_dirty;
    cos_request *next, *prev;
};

/* request.c's functions for the rest of http/ (transport.c, credentials.c, sts.c) */
int cos_req_prepare_attempt(cos_request *r, CURL *easy); /* signs and configures; 0 or -1 */
void cos_req_reset_attempt(cos_request *r);              /* clears per-attempt response state */
int cos_req_replayable(const cos_request *r);
void cos_req_destroy(cos_request *r);                    /* frees everything (transport side) */
/* Adds the bytes of a pulled chunk and resumes the transfer. */
int cos_req_feed_pull(cos_request *r);
/* The provider's options for the next attempt of r (cos_credentials_fn). */
cos_value *cos_req_cred_options(cos_request *r);
void cos_req_clear_creds(cos_request *r);

#endif
