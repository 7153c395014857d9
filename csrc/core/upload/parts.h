/* parts: the parts of one multipart upload and its Complete (parts.c), shared by the file upload
 * (slice_upload.c) and the stream upload (stream_upload.c): the bookkeeping of parts in flight
 * and their progress, the verdict on each Upload Part answer (integrity.c's policy), and
 * Complete with what follows it (bounded resends, a HEAD after NoSuchUpload or an answer without
 * CRC-64, the object's CRC-64 against the parts'). The owner decides which part goes when, and
 * is told the outcome through its hooks; requests are built by ops/messages.c. */
#ifndef COS_UPLOAD_PARTS_H
#define COS_UPLOAD_PARTS_H
#include <stdint.h>
#include "ops/messages.h"

typedef enum cos_part_state {
    COS_PART_TODO = 0, /* to send (again) */
    COS_PART_ACTIVE,   /* in flight */
    COS_PART_DONE,     /* confirmed: etag and crc64 are the server's */
    COS_PART_HASHING   /* the owner hashes it before sending (Content-MD5) */
} cos_part_state;

typedef struct cos_parts cos_parts;

typedef struct cos_part {
    cos_parts *ps;
    cos_request *req;       /* in flight, or NULL */
    int64_t offset;         /* file uploads: where the part starts in the file */
    unsigned char *buf;     /* stream uploads: the part's bytes, held until it is confirmed */
    int64_t size, sent;     /* sent: bytes of the attempt in flight */
    int number;
    unsigned char state;    /* cos_part_state */
    unsigned char integrity_retries;
    char etag[72];
    uint64_t crc64;
    unsigned char content_md5[16]; /* UploadCheckContentMd5: hashed by the owner before sending */
    unsigned char has_content_md5;
} cos_part;

typedef enum cos_part_outcome {
    COS_PART_CONFIRMED, /* verified: the part is DONE */
    COS_PART_RESEND,    /* damaged in transit (bounded) or re-checked with MD5: TODO again */
    COS_PART_FAILED     /* the request failed (after the engine's retries), or the answer cannot be trusted */
} cos_part_outcome;

typedef struct cos_parts_hooks {
    void (*progress)(void *owner);  /* bytes moved: report progress */
    /* A part's answer was judged; err (taken) with COS_PART_FAILED only. */
    void (*answered)(void *owner, cos_part *p, cos_part_outcome outcome, cos_value *err);
    /* Complete ended: the upload's data {Location, Bucket, Key, ETag, UploadId, statusCode,
     * headers, RequestId, ...}, or err (both taken; exactly one is set). */
    void (*completed)(void *owner, cos_value *err, cos_value *data);
} cos_parts_hooks;

struct cos_parts {
    cos_part *part;         /* the owner's array: it never moves while requests are in flight */
    int n;                  /* parts laid out (a file) or cut so far (a stream) */
    int active;             /* parts in flight */
    int64_t done_bytes, inflight_bytes;
    int retries;            /* ChunkRetryTimes: resends of a damaged part, of Complete */
    cos_msg_to to;          /* the upload's target (COS_MSG_PARAMS_UPLOAD), tied to its task */
    const char *source;     /* "file" or "stream", for messages */
    void *owner;
    const cos_parts_hooks *hooks;
    /* Complete */
    char *upload_id;
    char meta_md5[33];      /* x-cos-meta-md5 for Complete, "" for none */
    int complete_attempts;
    cos_value *pending_err; /* NoSuchUpload, while a HEAD looks for the object */
    cos_value *unverified;  /* Complete's data, while a HEAD looks for the object's CRC-64 */
};

/* Sets up the tracker of task t's upload to bucket/region/key (strings that outlive it): its
 * messages take the call's params as an upload's (COS_MSG_PARAMS_UPLOAD), a damaged part or a
 * failed Complete is sent again up to ChunkRetryTimes times, `source` ("file", "stream") names
 * what the parts come from in messages, the outcomes go to hooks(owner). */
void cos_parts_init(cos_parts *ps, const cos_task *t, const char *bucket, const char *region, const char *key,
                    const char *source, void *owner, const cos_parts_hooks *hooks);
/* Sends part p (state ACTIVE) with `body` to upload_id; its answer comes to hooks->answered.
 * 0, or -1 when the request cannot be built (nothing changed). */
int cos_parts_send(cos_parts *ps, cos_part *p, const char *upload_id, const cos_msg_body *body);
/* Marks p confirmed with the server's etag and CRC-64 (a part found on the server when resuming). */
void cos_parts_confirm(cos_parts *ps, cos_part *p, const char *etag, uint64_t crc64);
/* The owner stopped the task's requests (cos_transport_abort_task): parts in flight become TODO
 * and a Complete in progress is forgotten (sent again by the next cos_parts_complete). */
void cos_parts_stop(cos_parts *ps);
/* The whole object's CRC-64: the parts' CRCs combined in part order. */
uint64_t cos_parts_crc64(const cos_parts *ps);
/* Complete Multipart Upload of every part (all DONE), x-cos-meta-md5 when meta_md5 is not
 * NULL; the outcome comes to hooks->completed. */
void cos_parts_complete(cos_parts *ps, const char *upload_id, const char *meta_md5);
/* Frees what the tracker holds (not the owner's part array). */
void cos_parts_free(cos_parts *ps);

#endif
