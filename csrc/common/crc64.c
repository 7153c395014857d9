#include "crc64.h"

#include <pthread.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define POLY UINT64_C(0xC96C5795D7870F42)

/* Slicing-by-8 tables, computed at compile time would need a generator; a static table built on
 * first use is read-only afterwards. pthread_once builds it exactly once and publishes it to every
 * thread (clients on different threads hash concurrently). */
static uint64_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

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
}

/* The portable path (slicing-by-8); also the head/tail path of the folding one. */
uint64_t cos_crc64_update_table(uint64_t crc, const void *data, size_t len)
{
    pthread_once(&table_once, build_table);
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

#if defined(__x86_64__)
/* Carry-less multiplication fast path: the folding method of Intel's "Fast CRC Computation for
 * Generic Polynomials Using PCLMULQDQ Instruction" (Gopal et al., 2009), reflected variant.
 *
 * Notation. P(x) = x^64 + 0x42F0E1EBA9EA3693 (ECMA-182, 65 bits). The CRC is reflected: a 64-bit
 * value v stands for the polynomial with coefficient of x^(63-j) = bit j of v (so POLY above is P
 * without its x^64 term). A 16-byte little-endian load R stands for a degree < 128 polynomial with
 * x^(127-j) = bit j, i.e. R(x) = H(x) x^64 + L(x), H = low qword, L = high qword; the stream is
 * consumed bit 0 of byte 0 first, so data is loaded as is, with no byte swap. CRC(M) = M(x) x^64
 * mod P, where M already has the previous register (~crc) xored into its first 8 bytes.
 * clmul of two reflected 64-bit operands a, b gives the reflected 128-bit form of A(x) B(x) x
 * (one extra factor x), which the constants absorb.
 *
 * Folding by D bits: R x^D = H x^(D+64) + L x^D
 *                         == clmul(H, rk(D+63)) + clmul(L, rk(D-1))   (mod P, still < 128 bits)
 * with rk(n) = reflect64(x^n mod P). Eight 16-byte lanes advance by D = 1024 bits per 128-byte
 * block; at the end lane i (of 0..7) is folded into lane 7 by D = 128 (7 - i); the remaining whole
 * 16-byte blocks are folded by D = 128.
 *
 * Reduction of the final R to CRC = R x^64 mod P:
 *   T = R x^64 = H x^128 + L x^64 == clmul(H, rk(127)) xor (L moved to the low qword) = A x^64 + B
 *   Barrett with mu = x^128 div P (65 bits): Q = floor(A mu / x^64), CRC = B + (Q P mod x^64).
 *   With the 65-bit reflections mu' and P' truncated to 64 bits (bit j = coefficient of x^(64-j),
 *   so the x^0 terms are dropped): Q = low qword of clmul(A, mu') (A mu's x^0 term only reaches
 *   degrees < 64, below the floor), and Q P mod x^64 = high qword of clmul(Q, P') xor Q (the xor
 *   restores P's x^0 term, which is 1).
 *
 * The constants below were computed with exact GF(2) polynomial arithmetic (x^n mod P by
 * repeated reduction, x^128 div P by long division), then the whole algorithm was simulated
 * against the bitwise CRC; rk(127), rk(191), mu' and P' are the same as in xz-utils' crc64_clmul. */
static const uint64_t RK[8][2] = {
    /* { rk(128 d + 63), rk(128 d - 1) } for d = 1..8: fold by 128 d bits */
    {UINT64_C(0xE05DD497CA393AE4), UINT64_C(0xDABE95AFC7875F40)}, /* x^191,  x^127 */
    {UINT64_C(0x60095B008A9EFA44), UINT64_C(0x3BE653A30FE1AF51)}, /* x^319,  x^255 */
    {UINT64_C(0xB5EA1AF9C013ACA4), UINT64_C(0x69A35D91C3730254)}, /* x^447,  x^383 */
    {UINT64_C(0x6AE3EFBB9DD441F3), UINT64_C(0x081F6054A7842DF4)}, /* x^575,  x^511 */
    {UINT64_C(0x2E30203212CAC325), UINT64_C(0x0E31D519421A63A5)}, /* x^703,  x^639 */
    {UINT64_C(0x2FE3FD2920CE82EC), UINT64_C(0xE4CE2CD55FEA0037)}, /* x^831,  x^767 */
    {UINT64_C(0x9E735CB59B4724DA), UINT64_C(0x947874DE595052CB)}, /* x^959,  x^895 */
    {UINT64_C(0x8757D71D4FCC1000), UINT64_C(0xD7D86B2AF73DE740)}, /* x^1087, x^1023 */
};
#define MU_R UINT64_C(0x9C3E466C172963D5) /* reflect65(x^128 div P) mod 2^64; x^128 div P = 0x1578D29D06CC4F872 */
#define POLY_R65 UINT64_C(0x92D8AF2BAF0E1E85) /* reflect65(P) mod 2^64 = (POLY << 1 | 1) mod 2^64 */

/* Below this the table path is about as fast (setup and reduction cost ~5 clmuls); measured on
 * chained updates: 16-24 bytes break even, 32 bytes is already ~2x. */
#define CLMUL_MIN_LEN 32

#define CRC_TARGET __attribute__((target("pclmul,sse4.1")))

CRC_TARGET static inline __m128i fold16(__m128i x, __m128i k, __m128i data)
{
    /* k = { low qword: rk(D+63), high qword: rk(D-1) } */
    return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), data);
}

CRC_TARGET static inline __m128i kpair(int d)
{
    return _mm_set_epi64x((long long)RK[d - 1][1], (long long)RK[d - 1][0]);
}

CRC_TARGET static inline __m128i load16(const unsigned char *p)
{
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* len >= 16. Processes the whole 16-byte blocks and hands the rest to the table path. */
CRC_TARGET static uint64_t crc64_clmul(uint64_t crc, const unsigned char *p, size_t len)
{
    __m128i x;
    const __m128i k1 = kpair(1);
    if (len >= 128) {
        const __m128i k8 = kpair(8);
        __m128i l0 = _mm_xor_si128(load16(p), _mm_cvtsi64_si128((long long)~crc));
        __m128i l1 = load16(p + 16), l2 = load16(p + 32), l3 = load16(p + 48);
        __m128i l4 = load16(p + 64), l5 = load16(p + 80), l6 = load16(p + 96), l7 = load16(p + 112);
        p += 128;
        len -= 128;
        while (len >= 128) {
            l0 = fold16(l0, k8, load16(p));
            l1 = fold16(l1, k8, load16(p + 16));
            l2 = fold16(l2, k8, load16(p + 32));
            l3 = fold16(l3, k8, load16(p + 48));
            l4 = fold16(l4, k8, load16(p + 64));
            l5 = fold16(l5, k8, load16(p + 80));
            l6 = fold16(l6, k8, load16(p + 96));
            l7 = fold16(l7, k8, load16(p + 112));
            p += 128;
            len -= 128;
        }
        /* Lane i is 128 (7 - i) bits ahead of lane 7. Two independent chains for latency:
         * a = l0 x^768 + l2 x^512 + l4 x^256 + l6, b = l1 x^768 + ... + l7, R = a x^128 + b. */
        const __m128i k2 = kpair(2), k4 = kpair(4), k6 = kpair(6);
        __m128i a = fold16(l0, k6, fold16(l2, k4, fold16(l4, k2, l6)));
        __m128i b = fold16(l1, k6, fold16(l3, k4, fold16(l5, k2, l7)));
        x = fold16(a, k1, b);
    } else {
        x = _mm_xor_si128(load16(p), _mm_cvtsi64_si128((long long)~crc));
        p += 16;
        len -= 16;
    }
    while (len >= 16) {
        x = fold16(x, k1, load16(p));
        p += 16;
        len -= 16;
    }
    /* T = clmul(H, rk(127)) xor L in the low qword: T == R x^64 (mod P). */
    __m128i t = _mm_xor_si128(_mm_clmulepi64_si128(x, k1, 0x10), _mm_srli_si128(x, 8));
    const __m128i br = _mm_set_epi64x((long long)POLY_R65, (long long)MU_R);
    __m128i q = _mm_clmulepi64_si128(t, br, 0x00);                    /* low qword: Q */
    __m128i qp = _mm_clmulepi64_si128(q, br, 0x10);                   /* Q * P', high qword */
    uint64_t r = (uint64_t)_mm_extract_epi64(_mm_xor_si128(t, qp), 1) ^ (uint64_t)_mm_cvtsi128_si64(q);
    return cos_crc64_update_table(~r, p, len);
}

/* 1: table, 2: clmul. Decided once (pthread_once) and read-only afterwards. */
static int crc_impl;
static pthread_once_t impl_once = PTHREAD_ONCE_INIT;

static void pick_impl(void)
{
    __builtin_cpu_init();
    crc_impl = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1") ? 2 : 1;
}

int cos_crc64_accelerated(void)
{
    pthread_once(&impl_once, pick_impl);
    return crc_impl == 2;
}

uint64_t cos_crc64_update(uint64_t crc, const void *data, size_t len)
{
    if (len >= CLMUL_MIN_LEN && cos_crc64_accelerated()) return crc64_clmul(crc, data, len);
    return cos_crc64_update_table(crc, data, len);
}
#else
int cos_crc64_accelerated(void) { return 0; }

uint64_t cos_crc64_update(uint64_t crc, const void *data, size_t len)
{
    return cos_crc64_update_table(crc, data, len);
}
#endif

/* Combine (as zlib's crc32_combine since 1.2.12): appending len_b zero bytes to A multiplies
 * its CRC by x^(8 len_b) modulo P, so crc(A||B) = crc(A) * x^(8 len_b) mod P  xor  crc(B) (the
 * pre/post inversions cancel). Polynomials are reflected: bit 63 is x^0. x^(2^k) mod P for every
 * k a 64-bit length needs is computed once; a combine is then at most 64 products of 64 steps
 * (microseconds), instead of squaring 64x64 GF(2) matrices per bit of the length. */
#define X2N_COUNT 67 /* x^(2^k), k = 0 .. 3 + 63 (lengths in bytes are bits 3.. of the exponent) */
static uint64_t x2n_table[X2N_COUNT];
static pthread_once_t x2n_once = PTHREAD_ONCE_INIT;

/* a * b mod P, reflected. */
static uint64_t multmodp(uint64_t a, uint64_t b)
{
    uint64_t m = UINT64_C(1) << 63, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0) break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ POLY : b >> 1;
    }
    return p;
}

static void x2n_init(void)
{
    uint64_t p = UINT64_C(1) << 62; /* x^1 */
    x2n_table[0] = p;
    for (int k = 1; k < X2N_COUNT; k++) x2n_table[k] = p = multmodp(p, p);
}

uint64_t cos_crc64_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b)
{
    if (len_b == 0) return crc_a ^ crc_b;
    pthread_once(&x2n_once, x2n_init);
    uint64_t p = UINT64_C(1) << 63; /* x^0 */
    for (int k = 3; len_b; len_b >>= 1, k++)
        if (len_b & 1) p = multmodp(x2n_table[k], p);
    return multmodp(p, crc_a) ^ crc_b;
}
