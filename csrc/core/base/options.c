/* options: the client option table (kinds, ranges, defaults) and lookups on stored options. */
#include "base/options.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "base/params.h"
#include "base/validate.h"

typedef enum { OPT_STR, OPT_INT, OPT_NUM, OPT_BOOL, OPT_IGNORED } opt_kind;
typedef struct opt_def {
    const char *name;
    opt_kind kind;
    double min, max;
    double dflt; /* numbers and booleans (0/1) */
} opt_def;

#define MIB_D (1024.0 * 1024.0)
/* Each option's kind, accepted range and default: docs/api.md, "Options", shows the same. */
static const opt_def OPTIONS[] = {
    {"SecretId", OPT_STR, 0, 0, 0},
    {"SecretKey", OPT_STR, 0, 0, 0},
    {"SecurityToken", OPT_STR, 0, 0, 0},
    {"XCosSecurityToken", OPT_STR, 0, 0, 0},
    {"Protocol", OPT_STR, 0, 0, 0},
    {"Domain", OPT_STR, 0, 0, 0},
    {"Ip", OPT_STR, 0, 0, 0},
    {"CaInfo", OPT_STR, 0, 0, 0},
    {"UserAgent", OPT_STR, 0, 0, 0},
    {"ConfCwd", OPT_STR, 0, 0, 0},
    {"CheckpointDir", OPT_STR, 0, 0, 0},
    {"Timeout", OPT_NUM, 0, 2147483647.0, 0},
    {"ProgressInterval", OPT_NUM, 0, 86400000.0, 1000},
    {"SystemClockOffset", OPT_NUM, -1e12, 1e12, 0},
    {"RetryTimes", OPT_INT, 0, 100, 3},
    {"FileParallelLimit", OPT_INT, 1, 1000, 3},
    {"ChunkParallelLimit", OPT_INT, 1, 256, 3},
    {"ChunkRetryTimes", OPT_INT, 0, 100, 2},
    {"ChunkSize", OPT_INT, MIB_D, 5120.0 * MIB_D, 8 * MIB_D},
    {"SliceSize", OPT_INT, 0, 5120.0 * MIB_D, MIB_D},
    {"MaxPartNumber", OPT_INT, 1024, 10000, 10000},
    {"MaxConnections", OPT_INT, 1, 1024, 64},
    {"UploadQueueSize", OPT_INT, 1, 1e6, 1000},
    {"CorrectClockSkew", OPT_BOOL, 0, 0, 1},
    {"UseRawKey", OPT_BOOL, 0, 0, 0},
    {"UploadCheckContentMd5", OPT_BOOL, 0, 0, 0},
    {"ForcePathStyle", OPT_BOOL, 0, 0, 0},
    {"Checkpoint", OPT_BOOL, 0, 0, 1},
    {"getAuthorization", OPT_IGNORED, 0, 0, 0}, /* a function: the binding installs the provider */
    /* Node SDK options for behaviour lua-cos does not have: accepted, no effect. */
    {"KeepAlive", OPT_IGNORED, 0, 0, 0},
    {"ForceSignHost", OPT_IGNORED, 0, 0, 0},
    {"UploadIdCacheLimit", OPT_IGNORED, 0, 0, 0},
    {"CompatibilityMode", OPT_IGNORED, 0, 0, 0},
    {"AutoSwitchHost", OPT_IGNORED, 0, 0, 0},
    {"ObjectKeySimplifyCheck", OPT_IGNORED, 0, 0, 0},
    {"ServiceDomain", OPT_IGNORED, 0, 0, 0},
    {"CopyChunkParallelLimit", OPT_IGNORED, 0, 0, 0},
    {"CopyChunkSize", OPT_IGNORED, 0, 0, 0},
    {"CopySliceSize", OPT_IGNORED, 0, 0, 0},
};
#define NOPTIONS (sizeof OPTIONS / sizeof OPTIONS[0])

static const opt_def *options_find(const char *name)
{
    for (size_t i = 0; name && i < NOPTIONS; i++)
        if (strcmp(OPTIONS[i].name, name) == 0) return &OPTIONS[i];
    return NULL;
}

static int str_to_num(const char *s, double *out)
{
    if (!s || !*s) return -1;
    char *end = NULL;
    double d = strtod(s, &end);
    if (!end || *end) return -1;
    *out = d;
    return 0;
}

cos_value *cos_options_error(const char *name, const char *message)
{
    cos_value *e = cos_error_new("InvalidParameter", message);
    if (e && name) cos_obj_set_str(e, "param", name);
    return e;
}

static int options_errorf(cos_value **err, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int options_errorf(cos_value **err, const char *name, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    *err = cos_options_error(name, msg);
    return -1;
}

static int options_unknown(const char *name, cos_value **err)
{
    const char *names[NOPTIONS + 1];
    for (size_t i = 0; i < NOPTIONS; i++) names[i] = OPTIONS[i].name;
    names[NOPTIONS] = NULL;
    const char *hint = cos_validate_suggest(name, names);
    if (hint) return options_errorf(err, name, "unknown option %.200s (did you mean %s?)", name, hint);
    return options_errorf(err, name, "unknown option %.200s (docs/api.md lists the options)", name);
}

/* Strings: no NUL (it would cut the value short: a truncated SecretKey signs wrongly) and no
 * control character (they end up in headers or URLs: CR/LF would inject header lines). */
static int options_check_string(const opt_def *d, const cos_value *v, cos_value **err)
{
    size_t len = 0;
    const char *s = cos_value_str(v, &len);
    if (!s) return options_errorf(err, d->name, "option %s must be a string", d->name);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            return options_errorf(err, d->name,
                                  "option %s must not contain NUL, CR, LF or other control characters", d->name);
    }
    return 0;
}

static int options_check_number(const opt_def *d, const cos_value *v, cos_value **err)
{
    double n = 0;
    int ok = cos_value_type(v) == COS_NUM ? (n = cos_value_num(v), 1)
             : cos_value_type(v) == COS_STR ? str_to_num(cos_value_str(v, NULL), &n) == 0
                                            : 0;
    const char *what = d->kind == OPT_INT ? "an integer" : "a number";
    if (!ok || !isfinite(n) || (d->kind == OPT_INT && n != floor(n)) || n < d->min || n > d->max)
        return options_errorf(err, d->name, "option %s must be %s between %.0f and %.0f", d->name, what, d->min,
                              d->max);
    return 0;
}

int cos_options_check(const cos_value *o, cos_value **err)
{
    for (size_t i = 0; i < cos_value_len(o); i++) {
        const char *name = cos_obj_key(o, i);
        const cos_value *v = cos_obj_at(o, i);
        const opt_def *d = options_find(name);
        if (!d) return options_unknown(name, err);
        if (cos_value_type(v) == COS_NIL) continue;
        switch (d->kind) {
        case OPT_STR:
            if (options_check_string(d, v, err) != 0) return -1;
            break;
        case OPT_INT:
        case OPT_NUM:
            if (options_check_number(d, v, err) != 0) return -1;
            break;
        case OPT_BOOL:
            if (cos_param_bool(o, name, 0) < 0) /* the one rule of boolean params (base/params.h) */
                return options_errorf(err, name, "option %s must be a boolean (true, false, \"true\" or \"false\")",
                                      name);
            break;
        case OPT_IGNORED: break;
        }
    }
    return 0;
}

static double options_default(const char *name)
{
    const opt_def *d = options_find(name);
    return d ? d->dflt : 0;
}

double cos_options_num(const cos_value *options, const char *name)
{
    const cos_value *v = cos_obj_get(options, name);
    double d;
    if (cos_value_type(v) == COS_NUM) return cos_value_num(v);
    if (cos_value_type(v) == COS_STR && str_to_num(cos_value_str(v, NULL), &d) == 0) return d;
    return options_default(name);
}

int cos_options_bool(const cos_value *options, const char *name)
{
    int b = cos_param_bool(options, name, options_default(name) != 0);
    return b < 0 ? options_default(name) != 0 : b;
}

const char *cos_options_str(const cos_value *options, const char *name)
{
    const char *s = cos_obj_get_str(options, name);
    return s && *s ? s : NULL;
}
