/* params: the one place that reads a param's value as a string, an integer or a boolean, so that
 * every operation reads the same value the same way (docs/api.md, "Calling conventions").
 * Pure functions of the value; they never make errors: the checks that refuse a bad value before
 * any request goes out are in validate.c, which uses these readers. */
#ifndef COS_BASE_PARAMS_H
#define COS_BASE_PARAMS_H
#include <stddef.h>
#include <stdint.h>
#include "cos.h"

/* A param as a string: strings as is, numbers formatted like JS's String(v) (integers without
 * ".0"), booleans "true"/"false"; writes into buf (n bytes) when needed. NULL when absent, nil
 * or a container. */
const char *cos_param_string(const cos_value *params, const char *name, char *buf, size_t n);
/* The same for a value itself (a Headers or Query entry). */
const char *cos_param_to_string(const cos_value *v, char *buf, size_t n);

/* An integer-valued param: an integral finite number, or a string of decimal digits (optional
 * leading '-'), within int64. 0 and *out set, or -1. */
int cos_param_integer(const cos_value *v, int64_t *out);

/* A boolean param (UploadAddMetaMd5, Checkpoint, ...), by the one rule lua-cos has:
 *   true  or the string "true"   -> 1
 *   false or the string "false"  -> 0
 *   absent (nil)                 -> dflt
 *   anything else                -> -1 (cos_validate_call refuses it, naming the param, before
 *                                   any request; readers after validation never see it).
 * Not JS truthiness: there "false" (any non-empty string) would mean true. */
int cos_param_bool(const cos_value *params, const char *name, int dflt);

#endif
