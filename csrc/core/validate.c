/* validate: synchronous parameter checks (see validate.h). Pure functions of the params. */
#include "validate.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

int cos_param_integer(const cos_value *v, int64_t *out)
{
    if (cos_value_type(v) == COS_NUM) {
        double n = cos_value_num(v);
        if (!isfinite(n) || n != floor(n) || fabs(n) > 9007199254740992.0) return -1;
        *out = (int64_t)n;
        return 0;
    }
    const char *s = cos_value_str(v, NULL);
    if (!s || !is_clean_string(v)) return -1;
    const char *digits = s[0] == '-' ? s + 1 : s;
    if (!*digits || !only_chars(digits, DIGITS)) return -1;
    errno = 0;
    long long n = strtoll(s, NULL, 10);
    if (errno == ERANGE) return -1;
    *out = (int64_t)n;
    return 0;
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
