/* Harness: the client's reading of response header lines (cos_resp_header_line, what libcurl's
 * header callback feeds), then of the error built from them (cos_error_http takes the headers,
 * as the engine does for a refused request). Lines are split at '\n' and handed over with it. */
#include "base/errors.h"
#include "fuzz.h"

#include "http/request_state.h"
#include "http/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cos_value *headers = NULL;
    char *reason = NULL;
    size_t len;
    for (const uint8_t *line; (line = fuzz_next(&data, &size, '\n', &len));) {
        size_t taken = (size_t)(data - line); /* with its '\n' when it had one, as libcurl delivers it */
        if (cos_resp_header_line(&headers, &reason, (const char *)line, taken) != 0) break;
    }
    if (headers) {
        const char *rid = cos_obj_get_str(headers, "x-cos-request-id");
        (void)rid;
        cos_value *copy = cos_value_clone(headers);
        cos_value *err = cos_error_http(503, reason, copy, NULL, 0, "PUT", "http://fuzz/k");
        cos_value_free(err);
    }
    cos_value_free(headers);
    free(reason);
    return 0;
}
