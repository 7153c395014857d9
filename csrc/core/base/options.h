/* options: the client options of COS.new / cos_client_new, each with its kind, range and default
 * in one table (options.c; docs/api.md's option table shows the same defaults, which a spec
 * checks). The options are checked once, when the client is created; later lookups read the
 * stored options and fall back to the table's default. */
#ifndef COS_BASE_OPTIONS_H
#define COS_BASE_OPTIONS_H
#include "cos.h"

/* Every option known, of the right kind and in range (NaN and infinities refused, never clamped;
 * strings without control characters). 0, or -1 with *err {code = "InvalidParameter", param}. */
int cos_options_check(const cos_value *options, cos_value **err);
/* A number option (numeric strings accepted), else its default (0 when it has none). */
double cos_options_num(const cos_value *options, const char *name);
/* A boolean option, else its default. */
int cos_options_bool(const cos_value *options, const char *name);
/* A non-empty string option, else NULL. */
const char *cos_options_str(const cos_value *options, const char *name);
/* The {code = "InvalidParameter", message} error of a bad option. */
cos_value *cos_options_error(const char *name, const char *message);

#endif
