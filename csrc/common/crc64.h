/* crc64: CRC-64/XZ (ECMA-182, reflected), the value COS sends as x-cos-hash-crc64ecma. */
#ifndef COS_CRC64_H
#define COS_CRC64_H
#include <stddef.h>
#include <stdint.h>

/* Running update: start from 0; crc64_update(crc64_update(0, a), b) == crc of a||b. */
uint64_t cos_crc64_update(uint64_t crc, const void *data, size_t len);
/* crc(A||B) from crc(A), crc(B) and len(B), without the bytes (zlib's GF(2) method). */
uint64_t cos_crc64_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b);

/* For tests and benchmarks (csrc/tools/crc64-check.c): the portable slicing-by-8 path, same
 * semantics as cos_crc64_update, and whether cos_crc64_update uses the carry-less multiplication
 * path on this CPU (x86-64 with PCLMULQDQ; inputs of 32 bytes and more). */
uint64_t cos_crc64_update_table(uint64_t crc, const void *data, size_t len);
int cos_crc64_accelerated(void);

#endif
