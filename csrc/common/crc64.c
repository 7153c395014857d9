#include "crc64.h"

#define POLY UINT64_C(0xC96C5795D7870F42)

/* Slicing-by-8 tables, computed at compile time would need a generator; a static table built on
 * first use is deterministic and read-only afterwards. Building it twice concurrently writes the
 * same values, so no lock is needed. */
static uint64_t table[8][256];
static volatile int table_ready;

static void build_table(void)
{
    for (int n = 0; n < 256; n++) {
        uint64_t c = (uint64_t)n;
        for (int k = 0; k < 8; k++) c = c & 1 ? POLY ^ (c >> 1) : c >> 1;
        table[0][n] = c;
    }
    for (int n = 0; n < 256; n++) {
        uint64_t c = table[0][n];
        for (int k = 1; k < 8; k++) {
            c = table[0][c & 0xff] ^ (c >> 8);
            table[k][n] = c;
        }
    }
    table_ready = 1;
}

uint64_t cos_crc64_update(uint64_t crc, const void *data, size_t len)
{
    if (!table_ready) build_table();
    const unsigned char *p = data;
    crc = ~crc;
    while (len >= 8) {
        uint64_t w = crc ^ ((uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
                            (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
                            (uint64_t)p[7] << 56);
        crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
              table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
              table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
        p += 8;
        len -= 8;
    }
    while (len--) crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static uint64_t gf2_times(const uint64_t *mat, uint64_t vec)
{
    uint64_t sum = 0;
    for (; vec; vec >>= 1, mat++)
        if (vec & 1) sum ^= *mat;
    return sum;
}

static void gf2_square(uint64_t *square, const uint64_t *mat)
{
    for (int n = 0; n < 64; n++) square[n] = gf2_times(mat, mat[n]);
}

uint64_t cos_crc64_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b)
{
    if (len_b == 0) return crc_a;
    uint64_t even[64], odd[64];
    odd[0] = POLY; /* operator for one zero bit */
    uint64_t row = 1;
    for (int n = 1; n < 64; n++) {
        odd[n] = row;
        row <<= 1;
    }
    gf2_square(even, odd); /* two zero bits */
    gf2_square(odd, even); /* four zero bits */
    do {
        gf2_square(even, odd);
        if (len_b & 1) crc_a = gf2_times(even, crc_a);
        len_b >>= 1;
        if (!len_b) break;
        gf2_square(odd, even);
        if (len_b & 1) crc_a = gf2_times(odd, crc_a);
        len_b >>= 1;
    } while (len_b);
    return crc_a ^ crc_b;
}
