/* validate: synchronous input checks done before any request goes out.
 *
 * Every check returns NULL when the input is fine, or a new error object (the caller owns it)
 * shaped like the Node SDK's client-side errors (docs/cos-wire.md#client-side-validation-errors):
 *   {code = "Error", name = "Error", message = "...", param = "<the offending parameter>"}
 * Messages reuse the SDK's wording where the SDK has one ("missing param Bucket",
 * 'Bucket should format as "test-1250000000".', "Region format error.", ...). */
#ifndef COS_VALIDATE_H
#define COS_VALIDATE_H
#include <stdint.h>
#include "cos.h"

/* Bounds of x-cos-traffic-limit, in bit/s (100 KB/s .. 100 MB/s). */
#define COS_TRAFFIC_LIMIT_MIN 819200.0
#define COS_TRAFFIC_LIMIT_MAX 838860800.0
#define COS_PART_NUMBER_MAX 10000

/* The error object itself; `param` may be NULL (then no param field). */
cos_value *cos_validate_error(const char *param, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Bucket and Region: present, strings, Region ^[a-z0-9-]+$ and not "cos."-prefixed, Bucket
 * ^[a-z0-9-]+-[0-9]+$. Checked in the SDK's order: missing Bucket, missing Region, Region
 * format, Bucket format. */
cos_value *cos_validate_bucket_params(const cos_value *params);
/* cos_validate_bucket_params plus, when need_key, Key present and a string (checked right after
 * the missing Bucket/Region checks, as the SDK does). */
cos_value *cos_validate_object_params(const cos_value *params, int need_key);
/* Key of a file upload (uploadFile, sliceUploadFile, postObject with a file): must not end in '/'. */
cos_value *cos_validate_file_key(const cos_value *params);
/* UploadId present and a non-empty string. */
cos_value *cos_validate_upload_id(const cos_value *params);
/* PartNumber present, an integer 1..10000 (number or decimal string). */
cos_value *cos_validate_part_number(const cos_value *params);
/* Position present, a non-negative integer (number or decimal string). */
cos_value *cos_validate_position(const cos_value *params);
/* TrafficLimit, a top-level "x-cos-traffic-limit" and Headers["x-cos-traffic-limit"] (any
 * case), when present: an integer in [819200, 838860800]. */
cos_value *cos_validate_traffic_limit(const cos_value *params);
/* Parts of multipartComplete: a non-empty array of {PartNumber (1..10000), ETag (string)}. */
cos_value *cos_validate_parts(const cos_value *params);
/* The optional params listed in `names` (NULL-terminated) must be strings when present
 * (numbers are accepted where `allow_numbers`, e.g. MaxKeys). */
cos_value *cos_validate_optional_strings(const cos_value *params, const char *const *names, int allow_numbers);

#endif

/* ------------------------------------------------------------------------------------------ */
/* Checks every operation gets (cos_start runs cos_validate_call before the operation's own)   */

/* The longest header value lua-cos sends (a param, a Headers entry, metadata): beyond it the
 * request is refused naming the param, instead of failing inside the HTTP layer. */
#define COS_HEADER_VALUE_MAX 8192

/* The closest name of `known` (NULL-terminated) to `name`: same letters in another case, or at
 * most two edits away. NULL when none is close. */
const char *cos_validate_suggest(const char *name, const char *const *known);
/* 1 when `name` is a param some operation reads (the list is shared by every operation, so one
 * table can be passed to several of them), or a header passed through (contains "x-cos-"). */
int cos_validate_param_known(const char *name);

/* What cos_start checks for every operation `op` before the operation's own validation:
 * - every param name is known (cos_validate_param_known), else "unknown param X (did you mean Y?)";
 * - no CR, LF, NUL or other control character (tab aside) in any value that can reach a header
 *   (every string param but Key, FilePath, CheckpointDir and the listing markers, which may hold
 *   any byte but NUL), in Headers names and values, in param names; no NUL in Query; header
 *   values at most COS_HEADER_VALUE_MAX bytes;
 * - ChunkSize, SliceSize, AsyncLimit, ContentLength: integers in range when given;
 * - UploadAddMetaMd5, Checkpoint: booleans by cos_param_bool's rule when given;
 * - Key: not empty once the leading '/' is dropped (raw_key 0), for operations on an object;
 * - the file to upload (body PATH or FilePath) is a regular file when it exists;
 * - uploadFiles: the same for every entry of files, the message prefixed with "files[i]: ".
 * NULL when fine, else the validation error (code "Error", param). */
cos_value *cos_validate_call(const char *op, const cos_value *params, const cos_body *body, int raw_key);
/* An uploadFiles entry's error: its message prefixed with "files[n]: " (n from 1). Returns e. */
cos_value *cos_validate_of_file(cos_value *e, size_t n);
