/* validate: synchronous parameter checks (see validate.h). Pure functions of the params. */
#include "base/validate.h"
#include "base/params.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "strbuf.h"

cos_value *cos_validate_error(const char *param, const char *fmt, ...)
{
    strbuf sb;
    sb_init(&sb);
    va_list ap;
    va_start(ap, fmt);
    int rc = sb_vprintf(&sb, fmt, ap);
    va_end(ap);
    cos_value *e = cos_obj_new();
    if (rc != 0 || !e || cos_obj_set_str(e, "code", "Error") != 0 || cos_obj_set_str(e, "name", "Error") != 0 ||
        cos_obj_set_str(e, "message", sb.data ? sb.data : "") != 0 ||
        (param && cos_obj_set_str(e, "param", param) != 0)) {
        /* Out of memory: still report *an* error rather than NULL (NULL means "valid"). */
        cos_value_free(e);
        e = cos_obj_new();
        if (e) cos_obj_set_str(e, "code", "Error");
    }
    sb_free(&sb);
    return e;
}

/* ------------------------------------------------------------------------------------------ */
/* Small predicates                                                                            */

static int str_len_is(const cos_value *v, size_t n)
{
    size_t len = 0;
    return cos_value_str(v, &len) && len == n;
}

/* The SDK's `!params[name]`: absent, nil, false or "" count as missing. */
static int is_missing(const cos_value *v)
{
    switch (cos_value_type(v)) {
    case COS_NIL: return 1;
    case COS_BOOL: return !cos_value_bool(v);
    case COS_STR: return str_len_is(v, 0);
    default: return 0;
    }
}

static int only_chars(const char *s, const char *set)
{
    for (; *s; s++)
        if (!strchr(set, *s)) return 0;
    return 1;
}

#define LOWER_DIGIT_DASH "abcdefghijklmnopqrstuvwxyz0123456789-"
#define DIGITS "0123456789"

/* ^[a-z\d-]+-\d+$ : only the last '-' can start the all-digit suffix. */
static int bucket_format_ok(const char *b)
{
    if (!*b || !only_chars(b, LOWER_DIGIT_DASH)) return 0;
    const char *dash = strrchr(b, '-');
    return dash && dash > b && dash[1] != '\0' && only_chars(dash + 1, DIGITS);
}

/* A string param without embedded NUL bytes (they would silently truncate URLs/headers). */
static int is_clean_string(const cos_value *v)
{
    const char *s = cos_value_str(v, NULL);
    return s && str_len_is(v, strlen(s));
}

/* Missing -> "missing param X"; present but not a (clean) string -> "param X must be a string". */
static cos_value *require_string(const cos_value *params, const char *name)
{
    const cos_value *v = cos_obj_get(params, name);
    if (is_missing(v)) return cos_validate_error(name, "missing param %s", name);
    if (!is_clean_string(v)) return cos_validate_error(name, "param %s must be a string", name);
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Checks                                                                                      */

static cos_value *check_region_format(const char *region)
{
    if (strstr(region, "cos.")) return cos_validate_error("Region", "param Region should not be start with \"cos.\"");
    if (!*region || !only_chars(region, LOWER_DIGIT_DASH)) return cos_validate_error("Region", "Region format error.");
    return NULL;
}

static cos_value *check_bucket_format(const char *bucket)
{
    if (!bucket_format_ok(bucket)) return cos_validate_error("Bucket", "Bucket should format as \"test-1250000000\".");
    return NULL;
}

cos_value *cos_validate_object_params(const cos_value *params, int need_key)
{
    if (cos_value_type(params) != COS_OBJ) return cos_validate_error(NULL, "params must be an object");
    cos_value *e = require_string(params, "Bucket");
    if (!e) e = require_string(params, "Region");
    if (!e && need_key) e = require_string(params, "Key");
    if (!e) e = check_region_format(cos_obj_get_str(params, "Region"));
    if (!e) e = check_bucket_format(cos_obj_get_str(params, "Bucket"));
    return e;
}

cos_value *cos_validate_bucket_params(const cos_value *params) { return cos_validate_object_params(params, 0); }

cos_value *cos_validate_file_key(const cos_value *params)
{
    cos_value *e = require_string(params, "Key");
    if (e) return e;
    size_t len = 0;
    const char *key = cos_value_str(cos_obj_get(params, "Key"), &len);
    if (key[len - 1] == '/')
        return cos_validate_error("Key", "param Key must not end with \"/\" when uploading a file");
    return NULL;
}

cos_value *cos_validate_upload_id(const cos_value *params) { return require_string(params, "UploadId"); }

static cos_value *check_part_number_value(const cos_value *v, const char *param)
{
    int64_t n = 0;
    if (cos_param_integer(v, &n) != 0 || n < 1 || n > COS_PART_NUMBER_MAX)
        return cos_validate_error(param, "param %s must be an integer between 1 and %d", param, COS_PART_NUMBER_MAX);
    return NULL;
}

cos_value *cos_validate_part_number(const cos_value *params)
{
    const cos_value *v = cos_obj_get(params, "PartNumber");
    if (cos_value_type(v) == COS_NIL || str_len_is(v, 0))
        return cos_validate_error("PartNumber", "missing param PartNumber");
    return check_part_number_value(v, "PartNumber");
}

cos_value *cos_validate_position(const cos_value *params)
{
    const cos_value *v = cos_obj_get(params, "Position");
    int64_t n = 0;
    /* Position 0 is valid, so only nil / "" count as missing here. */
    if (cos_value_type(v) == COS_NIL || str_len_is(v, 0))
        return cos_validate_error("Position", "missing param Position");
    if (cos_param_integer(v, &n) != 0 || n < 0)
        return cos_validate_error("Position", "param Position must be a non-negative integer");
    return NULL;
}

static cos_value *check_traffic_limit_value(const cos_value *v, const char *param)
{
    if (cos_value_type(v) == COS_NIL) return NULL;
    int64_t n = 0;
    if (cos_param_integer(v, &n) != 0 || (double)n < COS_TRAFFIC_LIMIT_MIN || (double)n > COS_TRAFFIC_LIMIT_MAX)
        return cos_validate_error(param, "param %s must be an integer between %.0f and %.0f (bit/s)", param,
                                  COS_TRAFFIC_LIMIT_MIN, COS_TRAFFIC_LIMIT_MAX);
    return NULL;
}

cos_value *cos_validate_traffic_limit(const cos_value *params)
{
    cos_value *e = check_traffic_limit_value(cos_obj_get(params, "TrafficLimit"), "TrafficLimit");
    if (!e) e = check_traffic_limit_value(cos_obj_get(params, "x-cos-traffic-limit"), "x-cos-traffic-limit");
    const cos_value *headers = cos_obj_get(params, "Headers");
    for (size_t i = 0; !e && cos_value_type(headers) == COS_OBJ && i < cos_value_len(headers); i++) {
        if (strcasecmp(cos_obj_key(headers, i), "x-cos-traffic-limit") == 0)
            e = check_traffic_limit_value(cos_obj_at(headers, i), "x-cos-traffic-limit");
    }
    return e;
}

cos_value *cos_validate_parts(const cos_value *params)
{
    const cos_value *parts = cos_obj_get(params, "Parts");
    if (cos_value_type(parts) == COS_NIL) return cos_validate_error("Parts", "missing param Parts");
    if (cos_value_type(parts) != COS_ARR || cos_value_len(parts) == 0)
        return cos_validate_error("Parts", "param Parts must be a non-empty array of {PartNumber, ETag}");
    for (size_t i = 0; i < cos_value_len(parts); i++) {
        const cos_value *p = cos_arr_get(parts, i);
        if (cos_value_type(p) != COS_OBJ)
            return cos_validate_error("Parts", "param Parts[%zu] must be an object {PartNumber, ETag}", i + 1);
        cos_value *e = check_part_number_value(cos_obj_get(p, "PartNumber"), "Parts.PartNumber");
        if (e) return e;
        const cos_value *etag = cos_obj_get(p, "ETag");
        if (!is_clean_string(etag) || str_len_is(etag, 0))
            return cos_validate_error("Parts.ETag", "param Parts[%zu].ETag must be a non-empty string", i + 1);
    }
    return NULL;
}

cos_value *cos_validate_optional_strings(const cos_value *params, const char *const *names, int allow_numbers)
{
    for (size_t i = 0; names && names[i]; i++) {
        const cos_value *v = cos_obj_get(params, names[i]);
        cos_vtype t = cos_value_type(v);
        if (t == COS_NIL || (t == COS_STR && is_clean_string(v)) || (t == COS_NUM && allow_numbers)) continue;
        return cos_validate_error(names[i], "param %s must be a string", names[i]);
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Checks every operation gets                                                                 */

/* Levenshtein distance, capped: names are short, so the O(n*m) table is tiny. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    size_t prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++) prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof *prev);
    }
    return prev[lb];
}

const char *cos_validate_suggest(const char *name, const char *const *known)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; known[i]; i++) {
        if (strcasecmp(name, known[i]) == 0) return known[i];
        size_t d = edit_distance(name, known[i]);
        if (d < best_d) {
            best_d = d;
            best = known[i];
        }
    }
    return best;
}

/* Every param an operation reads, plus the callbacks a binding may leave in params. */
static const char *const KNOWN_PARAMS[] = {
    "Bucket", "Region", "Key", "Body", "FilePath", "Output", "Headers", "Query", "VersionId",
    "ContentType", "ContentLength", "ContentMD5", "CacheControl", "ContentDisposition", "ContentEncoding",
    "ContentLanguage", "Expires", "Expect", "Range", "IfModifiedSince", "IfUnmodifiedSince", "IfMatch",
    "IfNoneMatch", "ACL", "GrantRead", "GrantWrite", "GrantFullControl", "GrantReadAcp", "GrantWriteAcp",
    "StorageClass", "TrafficLimit", "MimeLimit", "MFA", "Tagging", "ServerSideEncryption", "SSEKMSKeyId",
    "SSEContext", "SSECustomerAlgorithm", "SSECustomerKey", "SSECustomerKeyMD5", "PicOperations", "CopySource",
    "CopySourceRange", "CopySourceIfModifiedSince", "CopySourceIfUnmodifiedSince", "CopySourceIfMatch",
    "CopySourceIfNoneMatch", "MetadataDirective", "Position", "ResponseContentType", "ResponseContentLanguage",
    "ResponseExpires", "ResponseCacheControl", "ResponseContentDisposition", "ResponseContentEncoding",
    "Prefix", "Delimiter", "Marker", "MaxKeys", "EncodingType", "MaxUploads", "KeyMarker", "UploadIdMarker",
    "UploadId", "PartNumber", "MaxParts", "max-parts", "PartNumberMarker", "Parts", "SliceSize", "ChunkSize",
    "AsyncLimit", "Checkpoint", "CheckpointDir", "UploadAddMetaMd5", "files", "FileName", "Fields",
    "SuccessActionRedirect", "SuccessActionStatus", "onProgress", "onHashProgress", "onTaskReady",
    "onFileFinish", "onFileProgress", "callback", NULL};

int cos_validate_param_known(const char *name)
{
    if (strcasestr(name, "x-cos-")) return 1;
    for (size_t i = 0; KNOWN_PARAMS[i]; i++)
        if (strcmp(name, KNOWN_PARAMS[i]) == 0) return 1;
    return 0;
}

static cos_value *check_param_names(const cos_value *params)
{
    for (size_t i = 0; i < cos_value_len(params); i++) {
        const char *name = cos_obj_key(params, i);
        if (cos_validate_param_known(name)) continue;
        const char *hint = cos_validate_suggest(name, KNOWN_PARAMS);
        if (hint)
            return cos_validate_error(name, "unknown param %s (did you mean %s?)", name, hint);
        return cos_validate_error(name, "unknown param %s (docs/api.md lists the params; headers go in Headers)",
                                  name);
    }
    return NULL;
}

/* Params whose value never becomes a header (path, query, local file): any byte but NUL. */
static int byte_param(const char *name)
{
    static const char *const names[] = {"Key", "FilePath", "CheckpointDir", "Prefix", "Delimiter", "Marker",
                                        "KeyMarker", "UploadIdMarker", "FileName", NULL};
    for (size_t i = 0; names[i]; i++)
        if (strcmp(name, names[i]) == 0) return 1;
    return 0;
}

/* A byte that would end or corrupt a header line: CR, LF, NUL, other C0 controls, DEL. Tab is
 * allowed (it is whitespace inside a header value). */
static int header_unsafe_byte(unsigned char ch) { return (ch < 0x20 && ch != '\t') || ch == 0x7f; }

static int header_value_safe(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (header_unsafe_byte((unsigned char)s[i])) return 0;
    return 1;
}

/* RFC 9110 token characters: what a header name may hold. */
static int header_name_ok(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s)) return 0;
    return 1;
}

static cos_value *check_header_value(const char *what, const cos_value *v)
{
    size_t len = 0;
    const char *s = cos_value_str(v, &len);
    if (!s) return NULL; /* numbers and booleans are formatted safely */
    if (!header_value_safe(s, len))
        return cos_validate_error(what, "param %s must not contain CR, LF, NUL or other control characters", what);
    if (len > COS_HEADER_VALUE_MAX)
        return cos_validate_error(what, "param %s is %zu bytes; a header value may have at most %d", what, len,
                                  COS_HEADER_VALUE_MAX);
    return NULL;
}

static cos_value *check_headers_table(const cos_value *headers)
{
    char what[300];
    for (size_t i = 0; i < cos_value_len(headers); i++) {
        const char *name = cos_obj_key(headers, i);
        snprintf(what, sizeof what, "Headers.%.250s", name);
        if (!header_name_ok(name))
            return cos_validate_error("Headers", "param Headers: \"%.250s\" is not a valid header name", name);
        cos_value *e = check_header_value(what, cos_obj_at(headers, i));
        if (e) return e;
    }
    return NULL;
}

static cos_value *check_query_table(const cos_value *query)
{
    for (size_t i = 0; i < cos_value_len(query); i++) {
        const char *name = cos_obj_key(query, i);
        const cos_value *v = cos_obj_at(query, i);
        if (cos_value_type(v) == COS_STR && !is_clean_string(v))
            return cos_validate_error("Query", "param Query.%.250s must not contain NUL", name);
    }
    return NULL;
}

/* postObject's extra form fields: their names go into the form's part headers. */
static cos_value *check_field_names(const cos_value *fields)
{
    for (size_t i = 0; i < cos_value_len(fields); i++)
        if (!header_name_ok(cos_obj_key(fields, i)))
            return cos_validate_error("Fields", "param Fields: \"%.250s\" is not a valid form field name",
                                      cos_obj_key(fields, i));
    return NULL;
}

static cos_value *check_header_safety(const cos_value *params)
{
    for (size_t i = 0; i < cos_value_len(params); i++) {
        const char *name = cos_obj_key(params, i);
        const cos_value *v = cos_obj_at(params, i);
        cos_value *e = NULL;
        if (strcmp(name, "Body") == 0) continue; /* bytes of the request body */
        if (strcasestr(name, "x-cos-") && !header_name_ok(name))
            e = cos_validate_error(name, "param \"%.250s\" is not a valid header name", name);
        else if (strcmp(name, "Headers") == 0 && cos_value_type(v) == COS_OBJ)
            e = check_headers_table(v);
        else if (strcmp(name, "Query") == 0 && cos_value_type(v) == COS_OBJ)
            e = check_query_table(v);
        else if (strcmp(name, "Fields") == 0 && cos_value_type(v) == COS_OBJ)
            e = check_field_names(v);
        else if (byte_param(name) && cos_value_type(v) == COS_STR && !is_clean_string(v))
            e = cos_validate_error(name, "param %s must not contain NUL", name);
        else if (!byte_param(name))
            e = check_header_value(name, v);
        if (e) return e;
    }
    return NULL;
}

#define MIB_D (1024.0 * 1024.0)
#define PUT_MAX_D (5.0 * 1024.0 * MIB_D) /* 5 GiB: COS's largest single PUT and part */

static cos_value *check_int_range(const cos_value *params, const char *name, double lo, double hi, const char *unit)
{
    const cos_value *v = cos_obj_get(params, name);
    int64_t n = 0;
    if (cos_value_type(v) == COS_NIL) return NULL;
    if (cos_param_integer(v, &n) != 0 || (double)n < lo || (double)n > hi)
        return cos_validate_error(name, "param %s must be an integer between %.0f and %.0f%s", name, lo, hi, unit);
    return NULL;
}

static cos_value *check_numbers(const cos_value *params)
{
    cos_value *e = check_int_range(params, "ChunkSize", MIB_D, PUT_MAX_D, " (bytes)");
    if (!e) e = check_int_range(params, "SliceSize", 0, PUT_MAX_D, " (bytes)");
    if (!e) e = check_int_range(params, "AsyncLimit", 1, 256, "");
    if (!e) e = check_int_range(params, "ContentLength", 0, 9007199254740992.0, " (bytes)");
    return e;
}

/* The boolean params, by cos_param_bool's one rule: a value it cannot read is refused here, so
 * no operation ever guesses (JS would read "false" as true). */
static cos_value *check_bools(const cos_value *params)
{
    static const char *const names[] = {"UploadAddMetaMd5", "Checkpoint", NULL};
    for (size_t i = 0; names[i]; i++)
        if (cos_param_bool(params, names[i], 0) < 0)
            return cos_validate_error(names[i], "param %s must be a boolean (true, false, \"true\" or \"false\")",
                                      names[i]);
    return NULL;
}

/* Operations that address the bucket, not an object. */
static int bucket_op(const char *op)
{
    return strcmp(op, "getBucket") == 0 || strcmp(op, "multipartList") == 0 || strcmp(op, "uploadFiles") == 0;
}

static cos_value *check_key(const cos_value *params, int raw_key)
{
    const char *key = cos_obj_get_str(params, "Key");
    if (key && !raw_key && strcmp(key, "/") == 0)
        return cos_validate_error("Key", "param Key \"/\" is empty once its leading '/' is dropped: it would "
                                         "address the bucket, not an object");
    return NULL;
}

/* A FilePath that exists must be a regular file: a FIFO would block the read, a directory or a
 * device has no size to send. Missing files are left to the operation (its errno error). */
static cos_value *check_file(const char *path)
{
    struct stat st;
    if (!path || stat(path, &st) != 0 || S_ISREG(st.st_mode)) return NULL;
    const char *kind = S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : S_ISSOCK(st.st_mode) ? "a socket" : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                                                                                                         : "not a file";
    cos_value *e = cos_validate_error("FilePath",
                                      "param FilePath must be a regular file: '%s' is %s (send streams through Body)",
                                      path, kind);
    if (e) cos_obj_set_str(e, "path", path);
    return e;
}

static cos_value *check_one(const char *op, const cos_value *params, const char *path, int raw_key)
{
    cos_value *e = check_param_names(params);
    if (!e) e = check_header_safety(params);
    if (!e) e = check_numbers(params);
    if (!e) e = check_bools(params);
    if (!e && !bucket_op(op)) e = check_key(params, raw_key);
    if (!e) e = check_file(path);
    return e;
}

static cos_value *check_files(const cos_value *files, int raw_key)
{
    for (size_t i = 0; i < cos_value_len(files) && cos_value_type(files) == COS_ARR; i++) {
        const cos_value *f = cos_arr_get(files, i);
        if (cos_value_type(f) != COS_OBJ) continue; /* uploadFiles names malformed entries itself */
        const char *path = cos_value_type(cos_obj_get(f, "Body")) == COS_STR ? NULL : cos_obj_get_str(f, "FilePath");
        cos_value *e = check_one("uploadFile", f, path, raw_key);
        if (e) return cos_validate_of_file(e, i + 1);
    }
    return NULL;
}

cos_value *cos_validate_of_file(cos_value *e, size_t n)
{
    const char *m = cos_obj_get_str(e, "message");
    char msg[700];
    snprintf(msg, sizeof msg, "files[%zu]: %s", n, m ? m : "invalid");
    cos_obj_set_str(e, "message", msg);
    return e;
}

cos_value *cos_validate_call(const char *op, const cos_value *params, const cos_body *body, int raw_key)
{
    if (cos_value_type(params) != COS_OBJ) return NULL;
    const char *path = body && body->kind == COS_BODY_PATH ? body->path : NULL;
    if (!path && (!body || body->kind == COS_BODY_NONE)) path = cos_obj_get_str(params, "FilePath");
    cos_value *e = check_one(op, params, path, raw_key);
    if (!e && strcmp(op, "uploadFiles") == 0) e = check_files(cos_obj_get(params, "files"), raw_key);
    return e;
}
