/* integrity: the one place that decides what an upload hashes, sends and verifies, for every
 * upload path (putObject, uploadFile's whole-file PUT, sliceUploadFile's parts, multipartUpload,
 * Complete). The policy, its cost and how to ask for more: docs/upload-engine.md, "Integrity".
 *
 *   default   CRC-64 of every body while it streams (~14 GB/s with PCLMULQDQ), checked against
 *             x-cos-hash-crc64ecma; no MD5 is computed.
 *   MD5       only when something needs it: UploadCheckContentMd5 (Content-MD5 sent),
 *             UploadAddMetaMd5 (x-cos-meta-md5 of the whole file), resuming without a checkpoint
 *             (parts on the server are matched by ETag), a body that cannot be sent again, and
 *             a client that has met a server answering an upload without x-cos-hash-crc64ecma
 *             (from then on the ETag is the check: see cos_integrity_check, COS_INTEGRITY_RECHECK). */
#ifndef COS_INTEGRITY_H
#define COS_INTEGRITY_H
#include <stddef.h>
#include <stdint.h>
#include "client.h"
#include "http/request.h"
#include "task/task.h"

/* The hashes (COS_HASH_* of request.h) a body computes while it streams. `resendable` 0: the
 * body cannot be sent a second time (a pulled stream), so it hashes MD5 too, as a first answer
 * without CRC-64 could not be re-checked by sending it again. */
int cos_integrity_stream_hashes(const cos_client *c, int resendable);

/* Content-MD5 of an in-memory body about to be sent, added only when the client option
 * UploadCheckContentMd5 asks for it (and no Content-MD5 was given). 0 (also when not wanted) or -1. */
int cos_integrity_content_md5_mem(const cos_client *c, cos_request *r, const void *data, size_t len);

/* The MD5 of a body whose bytes are known before it is sent, for its Content-MD5
 * (cos_msg_body.content_md5: UploadCheckContentMd5 on a file body, which messages.c cannot hash
 * by itself) and x-cos-meta-md5 (putObject's UploadAddMetaMd5): `len` bytes of fd at `off`, or
 * (fd < 0) `len` bytes of data. Hashed now, in one go: the headers precede the body.
 * 0, or -1 (errno: the read failed). */
int cos_integrity_md5_of(int fd, int64_t off, int64_t len, const void *data, unsigned char md5[16]);

/* Whether a body of COS API `api` (its bytes known before it is sent) carries Content-MD5: with
 * UploadCheckContentMd5 every upload body does; an APPEND always does (a stored chunk cannot be
 * sent again, so COS itself must refuse a damaged one). The one rule for every path: callers that
 * hash the body themselves (sliceUploadFile hashes each part in slices) ask it with their API;
 * in-memory bodies are asked through cos_integrity_content_md5_mem. */
int cos_integrity_wants_content_md5(const cos_client *c, cos_api api);
/* appendObject's body always hashes MD5 as it streams: the answer's x-cos-content-sha1 is the
 * appended chunk's MD5 (the object's CRC-64 covers the whole object). */
int cos_integrity_append_hashes(void);
int cos_integrity_content_md5_header(cos_request *r, const unsigned char md5[16]);

/* Content-MD5 of a small request body COS asks it for (Complete's XML, Delete Multiple): always. */
int cos_integrity_body_md5(cos_request *r, const void *data, size_t len);

/* base64 of the MD5 of `len` bytes into out (at least 25 bytes). 0 or -1. */
int cos_integrity_md5_base64(const void *data, size_t len, char out[32]);

typedef enum {
    COS_INTEGRITY_OK = 0,      /* a hash the server computed over what it stored matches ours */
    COS_INTEGRITY_DAMAGED,     /* a mismatch: the bytes changed on the way; send again (bounded), then fail */
    COS_INTEGRITY_RECHECK,     /* no x-cos-hash-crc64ecma and no MD5 of ours to check the ETag
                                * with: the client now hashes MD5 for every upload; send this
                                * body again (not counted as a retry), its answer is then checked by ETag */
    COS_INTEGRITY_UNVERIFIABLE /* neither an MD5 ETag nor a CRC-64 vouches: fail (sending again changes nothing) */
} cos_integrity_verdict;

/* Checks the answer to an upload of `expect` bytes (a part, a PUT) against what was sent.
 * `what` names it in messages ("part 3", or "" for an object). On anything but OK, *err gets
 * the error to report (IntegrityError, UnverifiedUpload) should the caller stop. */
/* `expect` < 0: the length is not checked (a pulled body's length is the caller's word).
 * A missing ETag is judged the same for a PUT and a part: a matching CRC-64 vouches alone;
 * without a CRC-64 either it is UNVERIFIABLE (UnverifiedUpload; the same server would answer
 * the same again, so nothing is resent). */
cos_integrity_verdict cos_integrity_check(cos_client *c, const cos_http_result *res, int64_t expect, const char *what,
                                          cos_value **err);
/* cos_integrity_check for the answer to part `number` of a multipart upload. A part verified by
 * its CRC-64 whose answer lacks the ETag cannot be named in Complete: DAMAGED (send it again,
 * bounded), with *err InvalidResponse should the caller stop. */
cos_integrity_verdict cos_integrity_check_part(cos_client *c, const cos_http_result *res, int64_t expect, int number,
                                               cos_value **err);

/* The answer to a single operation's upload (putObject, multipartUpload with part_number > 0,
 * postObject) judged for its task t: OK, go on reading it; RECHECK, send the body again (only
 * when it can be); anything else: t was finished with the error (RequestId and statusCode added). */
cos_integrity_verdict cos_integrity_judge_task(cos_task *t, cos_http_result *res, int part_number);
/* Finishes t with `bad`, the error a check gave for answer res (RequestId and statusCode added). */
void cos_integrity_fail_task(cos_task *t, const cos_http_result *res, cos_value *bad);
/* Checks an APPEND answer: x-cos-content-sha1 against the chunk's MD5, else (position 0) the
 * object's CRC-64 against the chunk's, else OK only when Content-MD5 was sent (COS verified it).
 * On anything but OK, *err is the error to report. */
cos_integrity_verdict cos_integrity_check_append(const cos_http_result *res, int64_t position, int content_md5_sent,
                                                 cos_value **err);
/* MD5 and CRC-64 of a file range computed in slices, so that hashing a whole part or file
 * (resuming, UploadAddMetaMd5) never stalls a cos_poll step: each step hashes what the step
 * budget (COS_STEP_MAX_BYTES) leaves. Zero-initialised = idle. */
typedef struct cos_integrity_hasher {
    int fd;
    int64_t off, len, done;
    struct evp_md_ctx_st *md5;
    unsigned char *buf;
    uint64_t crc;
} cos_integrity_hasher;
/* Starts hashing len bytes of fd at off (fd is borrowed). 0 or -1 (out of memory). */
int cos_integrity_hasher_start(cos_integrity_hasher *h, int fd, int64_t off, int64_t len);
/* Hashes as many more bytes as c's step budget leaves (COS_STEP_MAX_BYTES less c->step_bytes),
 * charges them to it, and sets *used to how many. 1 when the range is done (md5 and *crc set; the
 * hasher is idle again), 0 when more is left (or the budget is spent), -1 on a read error (errno;
 * EIO when the file shrank). */
int cos_integrity_hasher_step(cos_integrity_hasher *h, cos_client *c, int64_t *used, unsigned char md5[16],
                              uint64_t *crc);
/* Stops (pause, cancel, failure) and frees what the hasher holds; it is idle again. */
void cos_integrity_hasher_stop(cos_integrity_hasher *h);

/* 1 when the server's ETag is the quoted (or bare) hex MD5 `md5`; 0 when it is another MD5;
 * -1 when the ETag is not an MD5 at all (e.g. SSE-KMS), so it cannot be checked. */
int cos_integrity_etag_matches(const char *etag, const unsigned char md5[16]);
/* The x-cos-hash-crc64ecma header of a result: 1 and *out, or 0 when absent/unparsable. */
int cos_integrity_header_crc64(const cos_value *headers, uint64_t *out);
/* MD5 of `len` bytes of fd at `off` (pread), and their CRC-64 (crc may be NULL); 0 or -1 (errno). */
int cos_integrity_hash_range(int fd, int64_t off, int64_t len, unsigned char md5[16], uint64_t *crc);
/* MD5 of `len` bytes in memory. */
void cos_integrity_md5(const void *data, size_t len, unsigned char md5[16]);
/* The lower-case hex form of an MD5 into out[33]. */
void cos_integrity_md5_hex_of(const unsigned char md5[16], char out[33]);

#endif
