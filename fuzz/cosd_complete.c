/* Harness: cosd's reading of a Complete Multipart Upload request body (xml_parse_complete). */
#include "fuzz.h"

#include "cosd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    complete_part *parts = NULL;
    size_t n = 0;
    if (xml_parse_complete((const char *)data, size, &parts, &n) == 0) {
        if (!parts || n == 0) abort();
        for (size_t i = 0; i < n; i++)
            if (strnlen(parts[i].etag, sizeof parts[i].etag) == sizeof parts[i].etag) abort(); /* terminated */
    }
    free(parts);
    return 0;
}
