/* params: reading a param's value (see params.h for the rules). */
#include "base/params.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cos_param_to_string(const cos_value *v, char *buf, size_t n)
{
    switch (cos_value_type(v)) {
    case COS_STR: return cos_value_str(v, NULL);
    case COS_BOOL: return cos_value_bool(v) ? "true" : "false";
    case COS_NUM: {
        double d = cos_value_num(v);
        if (d == floor(d) && fabs(d) < 1e15) snprintf(buf, n, "%.0f", d);
        else snprintf(buf, n, "%.17g", d);
        return buf;
    }
    default: return NULL;
    }
}

const char *cos_param_string(const cos_value *params, const char *name, char *buf, size_t n)
{
    return cos_param_to_string(cos_obj_get(params, name), buf, n);
}

/* A string without an embedded NUL (it would silently cut the value short). */
static const char *clean_string(const cos_value *v)
{
    size_t len = 0;
    const char *s = cos_value_str(v, &len);
    return s && strlen(s) == len ? s : NULL;
}

int cos_param_integer(const cos_value *v, int64_t *out)
{
    if (cos_value_type(v) == COS_NUM) {
        double n = cos_value_num(v);
        if (!isfinite(n) || n != floor(n) || fabs(n) > 9007199254740992.0) return -1;
        *out = (int64_t)n;
        return 0;
    }
    const char *s = clean_string(v);
    if (!s) return -1;
    const char *digits = s[0] == '-' ? s + 1 : s;
    if (!*digits || strspn(digits, "0123456789") != strlen(digits)) return -1;
    errno = 0;
    long long n = strtoll(s, NULL, 10);
    if (errno == ERANGE) return -1;
    *out = (int64_t)n;
    return 0;
}

int cos_param_bool(const cos_value *params, const char *name, int dflt)
{
    const cos_value *v = cos_obj_get(params, name);
    switch (cos_value_type(v)) {
    case COS_NIL: return dflt;
    case COS_BOOL: return cos_value_bool(v) ? 1 : 0;
    case COS_STR: {
        /* The strings a config file or an environment variable gives; exactly these two, so
         * that "False", "no" or "0" are refused instead of guessed. */
        const char *s = clean_string(v);
        if (s && strcmp(s, "true") == 0) return 1;
        if (s && strcmp(s, "false") == 0) return 0;
        return -1;
    }
    default: return -1;
    }
}
