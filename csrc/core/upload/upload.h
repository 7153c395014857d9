/* upload: the pieces shared by the upload engine's files.
 *   slice_upload.c  sliceUploadFile (multipart: concurrency, integrity, checkpoint/resume)
 *   upload.c        uploadFile, uploadFiles, the whole-file PUT of small files
 * Both join the task queue (queue.h) and finish through cos_task_finish. */
#ifndef COS_UPLOAD_H
#define COS_UPLOAD_H
#include <stdint.h>
#include <sys/stat.h>
#include "task/task.h"

/* Multipart upload of the file at `path` (stat'ed as *st) by task t: sets t's op state and joins
 * the queue. `file_finish`: uploadFile semantics (on_file_finish before on_done). 0 or -1 *err. */
int cos_slice_upload_start(cos_task *t, const char *path, const struct stat *st, int file_finish, cos_value **err);

/* One PUT of a whole file (or of t's memory body when path is NULL) by task t, verified against
 * the ETag and x-cos-hash-crc64ecma the server returns. Joins the queue. 0 or -1 *err. */
int cos_put_file_start(cos_task *t, const char *path, int64_t size, int file_finish, cos_value **err);

/* upload.c: the entry points of sliceUploadFile and uploadFile (operations.c lists them). */
int cos_op_slice_upload_file(cos_task *t, cos_value **err);
int cos_op_upload_file(cos_task *t, cos_value **err);
/* upload_files.c: uploadFiles. */
int cos_op_upload_files(cos_task *t, cos_value **err);
/* Shared helpers (upload.c) */
/* lower-case hex MD5 of `len` bytes of fd at `off` (pread), and their CRC-64; 0 or -1 (errno). */
int cos_upload_hash_range(int fd, int64_t off, int64_t len, unsigned char md5[16], uint64_t *crc);
/* 1 when the server's ETag is the quoted (or bare) hex MD5 `md5`; 0 when it is another MD5;
 * -1 when the ETag is not an MD5 at all (e.g. SSE-KMS), so it cannot be checked. */
int cos_upload_etag_matches(const char *etag, const unsigned char md5[16]);
/* The x-cos-hash-crc64ecma header of a result: 1 and *out, or 0 when absent/unparsable. */
int cos_upload_header_crc64(const cos_value *headers, uint64_t *out);
/* Builds {statusCode, headers, RequestId, ...} + Location for t's Bucket/Region/Key. */
char *cos_upload_location(cos_task *t);
/* The absolute form of a path (malloc'd); NULL on OOM. */
char *cos_upload_abspath(const char *path);
/* x-cos-meta-md5 of a whole file (UploadAddMetaMd5): lower-case hex into out[33]. 0 or -1. */
int cos_upload_file_md5_hex(const char *path, char out[33]);

#endif
