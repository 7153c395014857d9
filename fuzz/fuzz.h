/* fuzz: the entry point every harness in fuzz/ defines (libFuzzer's), and the tiny helpers they
 * share. A harness must be deterministic and keep no state between calls. */
#ifndef COS_FUZZ_H
#define COS_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated malloc'd copy of the input (NULL on OOM). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s) {
        if (size) memcpy(s, data, size);
        s[size] = '\0';
    }
    return s;
}

/* The next piece of *data up to `sep` (consumed, not included); *len its length. NULL at the end. */
static inline const uint8_t *fuzz_next(const uint8_t **data, size_t *size, uint8_t sep, size_t *len)
{
    if (*size == 0) return NULL;
    const uint8_t *start = *data, *end = memchr(start, sep, *size);
    *len = end ? (size_t)(end - start) : *size;
    *data += *len + (end ? 1 : 0);
    *size -= *len + (end ? 1 : 0);
    return start;
}

#endif
