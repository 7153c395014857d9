/* errors: every error object the core makes, in the cos.h shape {code, name, message, ...}
 * (docs/api.md, "Errors"). Validation errors of params have their own constructor in
 * validate.h (they carry `param`), options errors in options.h. */
#ifndef COS_BASE_ERRORS_H
#define COS_BASE_ERRORS_H
#include <curl/curl.h>
#include "cos.h"

/* The common tail of a failing check: *err = e (an out-of-memory error when e is NULL); -1. */
int cos_error_out(cos_value **err, cos_value *e);
/* {code, name = code, message}. NULL on out of memory. */
cos_value *cos_error_new(const char *code, const char *message);
/* The same with a printf message (at most 511 bytes). */
cos_value *cos_error_newf(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A failed system call, in the one shape Node's fs errors have: code "ENOENT", message
 * "ENOENT: no such file or directory, open '/path'", errno (positive), syscall, path (when given).
 * e 0 means EIO. */
cos_value *cos_error_errno(int e, const char *syscall, const char *path);
/* {code = "TaskCanceled"} for cancelTask of task id. */
cos_value *cos_error_canceled(cos_task_id id);
/* A network failure of one attempt: code from cos_error_network_code, message libcurl's text,
 * url and method. */
cos_value *cos_error_network(CURLcode rc, long os_errno, const char *detail, const char *method,
                             const char *url);
/* Node-style code of a libcurl failure (table at the top of errors.c). */
const char *cos_error_network_code(CURLcode rc, long os_errno);
/* 1 when a request that failed with this network code may be sent again. */
int cos_error_retryable(const char *code);
/* The final error of a request that was tried `attempts` times (> 1): says so in the message. */
void cos_error_note_attempts(cos_value *e, int attempts);
/* A hint where the cause of an error is obvious (bad keys, clock, plain HTTP on a TLS port):
 * sets e.hint, which the error's printed form shows. */
void cos_error_add_hint(cos_value *e);
/* The error object of an HTTP error response (docs/cos-wire.md#errors): {code, name,
 * message, error?, statusCode, headers (taken), url, method, RequestId?}. */
cos_value *cos_error_http(int status, const char *reason, cos_value *headers, const char *body, size_t len,
                          const char *method, const char *url);

#endif
