/* cosd: a local COS-compatible HTTP server. Shared types of the server and of one request.
 * All mutable state hangs off one cosd_server; requests carry their own state in cosd_req. */
#ifndef COSD_H
#define COSD_H
#include <microhttpd.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include "api.h"
#include "mime.h"
#include "sign.h"
#include "strbuf.h"

#define COSD_MAX_KEY 850
#define COSD_MAX_PUT (5ULL * 1024 * 1024 * 1024)
#define COSD_MAX_XML (1024 * 1024)
#define COSD_MIN_PART (1024 * 1024)
#define COSD_DEFAULT_ID "AKIDcosdTESTsecretid0000000000000000"
#define COSD_DEFAULT_KEY "cosdTESTsecretkey000000000000000"

/* A request is routed to one of the shared COS APIs (api.h: enum cos_api, COS's names, which are
 * also the names fault rules match on). Two notions are cosd's own and stay outside that enum:
 * a request COS knows but cosd does not implement (ACL, tagging, copy, ...: cosd_req.unsupported,
 * answered 501 after auth) and a fault rule for every request (op=any: cosd_fault.any_api). */

typedef struct cosd_cred { char *id; char *key; } cosd_cred;

typedef struct cosd_fault {
    cos_api api;         /* the API the rule matches (op=NAME) */
    int any_api;         /* op=any: every request, whatever its API */
    long nth;            /* 0 = not set */
    double rate;         /* < 0 = not set */
    uint64_t seed;       /* PRNG state (xorshift64*) */
    long times;          /* 0 = unlimited */
    int status;          /* 0 = none */
    char *code;          /* error code override */
    long long reset_after; /* -1 = none */
    long stall_ms;       /* 0 = none */
    int complete_error;  /* answer 200 with an <Error> body after keep-alive spaces */
    long ka_spaces;      /* keep-alive spaces before a 200 XML result; -1 = not set */
    int no_etag;         /* omit the ETag response header */
    int no_crc64;        /* omit the x-cos-hash-crc64ecma response header */
    int endless_list;    /* ListParts / ListMultipartUploads: pages that never end (mp_endless_page) */
    char *etag;          /* ETag header value to answer with instead of the real one; NULL = none */
    char *crc64;         /* x-cos-hash-crc64ecma value to answer with instead; NULL = none */
    char *content_sha1;  /* x-cos-content-sha1 value to answer an APPEND with instead; NULL = none */
    int no_content_sha1; /* omit the x-cos-content-sha1 response header */
    int drop_response;   /* perform the operation, then close the connection without answering */
    long part;           /* match only requests with ?partNumber=part; 0 = any */
    char *body;          /* raw response body (read from body=FILE at start) */
    size_t body_len;
    long seen;           /* matching requests so far */
    long fired;          /* faults injected so far */
} cosd_fault;

typedef struct cosd_server {
    char *data_dir;
    char *region;              /* --region: the region of buckets not given one */
    char **buckets; size_t nbuckets;
    char **bucket_regions;     /* per --bucket NAME-APPID:REGION, NULL = --region */
    cos_mime *mime;            /* /etc/mime.types: Content-Type by the key's extension */
    double bandwidth;          /* --bandwidth: bytes/s for every request and GET body; 0 = none */
    long latency_ms;           /* --latency: wait before handling each request */
    cosd_cred *creds; size_t ncreds;
    cosd_fault *faults; size_t nfaults;
    FILE *access_log;
    FILE *request_log;         /* --request-log: one JSON line per request */
    char *tls_cert, *tls_key, *tls_cert_pem, *tls_key_pem;
    int tls;
    pthread_mutex_t lock;      /* store: renames of objects, parts, uploads */
    pthread_mutex_t log_lock;  /* access log lines */
    pthread_mutex_t fault_lock;
    unsigned long long counter; /* unique names (req_unique), atomically incremented */
    char unique_tail[32];      /* "<pid>_<48 random bits, hex>", set by req_unique_init */
    EVP_MD *md5, *sha1;        /* fetched once: an implicit fetch per digest costs a lock and a lookup */
    int stopping;              /* set (atomically) on SIGTERM/SIGINT: stalls and pauses end early */
    struct MHD_Daemon *daemon;
} cosd_server;

typedef struct hdr_pair { char *name; char *value; } hdr_pair;

enum body_mode { BODY_NONE = 0, BODY_FILE, BODY_MEM, BODY_DISCARD, BODY_FORM };

struct postform;

typedef struct cosd_req {
    cosd_server *srv;
    struct MHD_Connection *conn;
    char *target;          /* request target as received (path?query) */
    const char *method;
    int started, done, reset;
    unsigned status;
    uint64_t bytes_in, bytes_out;
    char reqid[64];
    /* addressing */
    const char *host;
    char *host_region;          /* region named by Host (`….cos.<region>.myqcloud.com`), NULL if none */
    char *bucket;
    char *key; size_t keylen;   /* decoded key (no leading '/') */
    char *sign_path;            /* decoded path that was signed */
    cos_kv *q; size_t nq;       /* decoded query parameters */
    cos_api api;                /* route(): COS_API_NONE when the method does not apply (405) */
    int unsupported;            /* a COS request cosd does not implement: 501 after auth */
    int is_head;
    /* body */
    int body_mode;
    int fd; char *tmp_path;
    EVP_MD_CTX *md5;
    uint64_t crc;
    uint64_t body_len, body_max;
    strbuf mem;
    int body_too_large;
    struct postform *form;
    /* shaping (shape.c): x-cos-traffic-limit and --bandwidth */
    double pace_rate;           /* bytes per second, 0 = not paced */
    uint64_t pace_done;         /* bytes paced so far */
    struct timespec pace_t0;    /* when the first paced byte went through */
    /* fault */
    int fault_status; char *fault_code;
    long long reset_after; long stall_ms;
    int complete_error; long ka_spaces; int no_etag; int no_crc64; int endless_list;
    char *fault_etag; char *fault_crc64; int drop_response;
    char *fault_content_sha1; int no_content_sha1;
    int finishing;         /* the body has been read: final_call is answering */
    char *fault_body; size_t fault_body_len; int fault_body_set;
    /* request log (--request-log): headers as received, first bytes of the body */
    hdr_pair *qh; size_t nqh;
    strbuf rl_body; uint64_t rl_len; int rl_written;
    /* extra response headers */
    hdr_pair *rh; size_t nrh;
    /* op specific */
    long part_number; const char *upload_id;
    uint64_t append_pos;
} cosd_req;

/* http.c */
int http_start(cosd_server *srv, const char *listen, int *port_out);
void req_add_header(cosd_req *r, const char *name, const char *value);
int req_error(cosd_req *r, unsigned status, const char *code, const char *message, const char *extra_xml);
int req_send_buf(cosd_req *r, unsigned status, const char *ctype, char *body, size_t len); /* takes body */
int req_send_empty(cosd_req *r, unsigned status);
const char *req_header(cosd_req *r, const char *name);
const char *req_query(cosd_req *r, const char *name, int *present);
/* Splits a request target into the decoded path and decoded query parameters (appended to *q).
 * 0, or -1 on out of memory; release with target_free (path may be NULL). */
int target_parse(const char *target, char **path, size_t *pathlen, cos_kv **q, size_t *nq);
void target_free(char *path, cos_kv *q, size_t nq);
void req_unique_init(cosd_server *srv);
void req_unique(cosd_server *srv, char *out, size_t n);

/* http.c: the region a bucket lives in; the region a request is answered under (Host, else the bucket's). */
const char *req_bucket_region(cosd_server *srv, const char *bucket);
const char *req_region(cosd_req *r);
/* True when a key resolves to the bucket root read as a path (`./`, `..`, `a/..`): cosd refuses those. */
int req_key_is_root(const char *key, size_t n);

/* auth.c: 0 = allowed (or anonymous when *anon set), else an error response was queued. */
int auth_check(cosd_req *r, int *anonymous);
/* The same check without a connection: the request's parts, its headers through `header`. */
typedef struct auth_request {
    const char *method, *sign_path;  /* sign_path: the decoded path, "/..." */
    const char *key; size_t keylen;  /* the decoded key or NULL */
    const cos_kv *q; size_t nq;      /* decoded query parameters */
    const char *authorization;       /* Authorization header value or NULL */
    const char *(*header)(void *ud, const char *name); void *header_ud;
    time_t now;
} auth_request;
/* Why a request is refused; extra_xml (malloc'd or NULL, caller frees) goes into the <Error>. */
typedef struct auth_verdict { unsigned status; const char *code, *message; char *extra_xml; } auth_verdict;
/* 0 = allowed (or anonymous when *anon set), -1 = refused as *v says. */
int auth_verify(cosd_server *srv, const auth_request *in, auth_verdict *v, int *anonymous);
const char *auth_secret_for(cosd_server *srv, const char *id);

/* fault.c */
int fault_parse(cosd_fault *f, const char *spec, char *err, size_t errlen);
void fault_apply(cosd_req *r);
void fault_free(cosd_fault *f);

/* shape.c: bandwidth and latency shaping. Every connection has its own thread (MHD thread per
 * connection), so pacing sleeps in that thread and never holds up another connection. */
#define COSD_TRAFFIC_MIN 819200LL     /* x-cos-traffic-limit range, bits per second */
#define COSD_TRAFFIC_MAX 838860800LL
/* Parses an x-cos-traffic-limit value into bytes/s: 0 ok (NULL/absent gives 0), -1 out of range. */
int shape_traffic_limit(const char *v, double *bytes_per_s);
/* Paces this request at the lower of bytes_per_s (0 = none) and --bandwidth. */
void shape_begin(cosd_req *r, double bytes_per_s);
/* After n body bytes went through: sleeps until they are due at the request's rate. */
void shape_after(cosd_req *r, size_t n);
/* --latency: waits before a request is handled. */
void shape_latency(cosd_req *r);
/* A response sending len bytes of fd from off at the request's rate; NULL when not paced. */
struct MHD_Response *shape_fd_response(cosd_req *r, int fd, uint64_t off, uint64_t len);

/* log.c */
void log_access(cosd_req *r);
void log_request(cosd_req *r);
#define COSD_REQLOG_BODY_MAX (64 * 1024)

/* xmlout.c */
void xml_escape(strbuf *sb, const char *s, size_t n);
void xml_elem(strbuf *sb, const char *indent, const char *name, const char *value);
void xml_elem_n(strbuf *sb, const char *indent, const char *name, const char *value, size_t n);
void xml_elem_key(strbuf *sb, const char *indent, const char *name, const char *value, size_t n, int urlenc);
void iso_time(time_t t, char *out, size_t n);
void http_time(time_t t, char *out, size_t n);

/* xmlin.c: parse CompleteMultipartUpload. 0 ok, -1 malformed. */
typedef struct complete_part { long number; char etag[80]; } complete_part;
int xml_parse_complete(const char *buf, size_t len, complete_part **parts, size_t *nparts);

/* store.c */
/* One part of an object completed from a multipart upload: a file in the object's data directory. */
typedef struct store_part { char *file; uint64_t size; } store_part;
typedef struct obj_meta {
    char *key; size_t keylen;
    char datafile[128]; /* a file, or (nparts > 0) a directory holding the part files; "" when inline */
    uint64_t inline_off;  /* > 0: an inline object, its bytes are in the meta file from this offset */
    store_part *parts; size_t nparts; /* the manifest: the object is these files in this order */
    uint64_t size;
    char etag[80];      /* quoted */
    uint64_t crc;
    time_t mtime;
    int appendable;
    hdr_pair *h; size_t nh;  /* stored headers (lower-case names) */
} obj_meta;
void meta_free(obj_meta *m);
void meta_add_header(obj_meta *m, const char *name, const char *value);
/* Sidecar files (object .meta, upload info) are "name value" lines; keys are stored as hex. */
int sidecar_read(const char *path, void (*line_fn)(void *ud, const char *name, char *value), void *ud);
char *sidecar_key(const char *hex, size_t *len); /* malloc'd, NUL-terminated; NULL on OOM */
void sidecar_header(obj_meta *m, char *value);   /* an "h NAME VALUE" line */
const char *meta_header(const obj_meta *m, const char *name);
void meta_copy_request_headers(obj_meta *m, cosd_req *r);
/* Adds the Content-Type of key's extension (application/octet-stream if unknown) when m has none. */
void meta_default_content_type(obj_meta *m, cosd_server *srv, const char *key);
/* 1 when a header can be stored and given back exactly (name a token; value without control
 * bytes but HTAB); else the request is refused with 400 InvalidArgument, COSD_BAD_META_MESSAGE. */
int meta_storable(const char *name, const char *value);
int meta_request_storable(cosd_req *r); /* every stored header of the request (x-cos-meta-*, Content-Type, ...) */
#define COSD_BAD_META_MESSAGE "A metadata header name must be a token and its value must not contain control characters."
int store_init(cosd_server *srv);
char *store_bucket_dir(cosd_server *srv, const char *bucket, const char *sub);
int store_tmp_file(cosd_server *srv, char **path); /* returns fd */
int store_read_meta(cosd_server *srv, const char *bucket, const char *key, size_t keylen, obj_meta *m);
/* An object's bytes: its data file, or the part files of its manifest, opened together with its
 * meta (so a later replacement does not change what is being read). */
typedef struct store_body {
    size_t n; int *fd; uint64_t *size;
    uint64_t *start;    /* where each file's bytes begin (an inline object's: after its meta) */
} store_body;
/* opens the object's data consistently with its meta; 0 ok (*body to store_body_free), -1 missing */
int store_open(cosd_server *srv, const char *bucket, const char *key, size_t keylen, obj_meta *m, store_body **body);
/* reads up to max bytes at off across the files; bytes read, 0 at the end, -1 on error */
ssize_t store_body_read(const store_body *b, uint64_t off, char *buf, size_t max);
void store_body_free(store_body *b);
/* Adds a manifest entry (Complete): `file` inside the data directory, `size` bytes. 0 or -1. */
int meta_add_part(obj_meta *m, const char *file, uint64_t size);
/* Installs tmp_path (a file, or with m->nparts a directory of part files) as the object's data and
 * m as its meta: two renames, the meta's last, so the object appears whole or not at all. On
 * failure tmp_path is left where it was. */
int store_commit(cosd_server *srv, const char *bucket, const char *tmp_path, obj_meta *m);
/* Installs a small object (body in memory) as one file, its meta followed by its bytes: written in
 * tmp/, renamed into place, so it appears whole or not at all. m->datafile is cleared. 0 or -1. */
int store_commit_inline(cosd_server *srv, const char *bucket, obj_meta *m, const char *body, size_t len);
#define COSD_INLINE_MAX (64 * 1024) /* PUT bodies up to this size (by Content-Length) are inline */
int store_delete(cosd_server *srv, const char *bucket, const char *key, size_t keylen);
int store_list(cosd_server *srv, const char *bucket, obj_meta **out, size_t *n);
/* append: returns 0 ok, 1 position error (*cur set), 2 not appendable, -1 io */
int store_append(cosd_server *srv, const char *bucket, const char *key, size_t keylen, uint64_t pos,
                 const char *tmp_path, uint64_t len, uint64_t crc, cosd_req *r, obj_meta *out, uint64_t *cur);
int rm_rf(const char *path);
int mkdir_p(const char *path);
void hex_encode(const unsigned char *in, size_t n, char *out);
void hex_decode(const char *hex, size_t n, unsigned char *out); /* n output bytes from 2n hex digits */

/* ops.c: object and bucket operations */
int op_begin(cosd_req *r);   /* first call, after auth: may queue a response */
int op_finish(cosd_req *r);  /* after the body: queues the response */

/* multipart.c */
int mp_begin(cosd_req *r);
int mp_finish(cosd_req *r);
int mp_endless_page(cosd_req *r); /* fault endless-list */

/* postform.c */
int form_begin(cosd_req *r);
int form_feed(cosd_req *r, const char *data, size_t n);
int form_finish(cosd_req *r);
void form_free(cosd_req *r);
/* The form without a connection (form_begin feeds it from MHD; fuzz/ feeds it directly). */
struct postform *form_new(void);
void form_destroy(struct postform *p);
int form_set_file(struct postform *p, const char *filename);   /* the file field was seen */
/* A piece of text field `key`: off > 0 continues the last field of that name. 0, or -1 (OOM). */
int form_add_field(struct postform *p, const char *key, const char *data, uint64_t off, size_t size);
/* Checks a finished form: fields, key, signature, policy (at time `now`, object size `size`).
 * 0: allowed, v->key is the object key. -1: v->status/code/message say why (v->key may be set).
 * Either way release v with form_verdict_free. */
typedef struct form_verdict { unsigned status; const char *code; char message[400]; char *key; size_t keylen; } form_verdict;
int form_check(cosd_server *srv, const char *bucket, struct postform *p, uint64_t size, time_t now, form_verdict *v);
void form_verdict_free(form_verdict *v);

/* body helpers (http.c) */
int body_open_file(cosd_req *r);
int body_open_mem(cosd_req *r, size_t len);
int body_finish_md5(cosd_req *r, unsigned char md5[16]);
int body_write(cosd_req *r, const char *data, size_t n);

#endif
