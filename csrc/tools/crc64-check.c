/* crc64-check: self-test of csrc/common/crc64.c, run by spec/crc64_spec.lua.
 *   crc64-check          known vectors, then the dispatched path (carry-less multiplication where
 *                        the CPU has it) against the portable table path on random inputs:
 *                        every length 0..4096 at random offsets, MiB-sized buffers, chunked
 *                        updates with random split points, and cos_crc64_combine.
 *   crc64-check --bench  also prints the MB/s of both paths on a 256 MiB buffer.
 * Exits 0 when every check passes; each failure is printed on stderr. */
#include "crc64.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int failures;

/* splitmix64: deterministic pseudo-random data (the seed is printed to reproduce a failure). */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static void fill(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)rnd();
}

static void fail(const char *what, size_t len, size_t off, uint64_t got, uint64_t want)
{
    if (failures++ < 20)
        fprintf(stderr, "FAIL %s: len %zu offset %zu: got %" PRIu64 ", want %" PRIu64 "\n", what, len, off, got,
                want);
}

static void check_vectors(void)
{
    static const struct {
        const char *s;
        uint64_t crc;
    } v[] = {
        {"123456789", UINT64_C(11051210869376104954)},
        {"[Object Content]", UINT64_C(16749565679157681890)},
        {"[Object Part]", UINT64_C(4510578591875220731)},
        {"hello world", UINT64_C(5981764153023615706)},
        {"a", UINT64_C(3675645893302102789)},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = strlen(v[i].s);
        uint64_t a = cos_crc64_update(0, v[i].s, n), b = cos_crc64_update_table(0, v[i].s, n);
        if (a != v[i].crc) fail(v[i].s, n, 0, a, v[i].crc);
        if (b != v[i].crc) fail(v[i].s, n, 0, b, v[i].crc);
    }
    /* "123456789" 128 times (1152 bytes: eight-lane blocks, then 16-byte blocks, then a tail). */
    char big[9 * 128 + 1];
    for (int i = 0; i < 128; i++) memcpy(big + 9 * i, "123456789", 9);
    uint64_t want = 0;
    for (int i = 0; i < 128; i++) want = cos_crc64_update_table(want, "123456789", 9);
    uint64_t got = cos_crc64_update(0, big, 9 * 128);
    if (got != want) fail("123456789 x128", 9 * 128, 0, got, want);
    if (cos_crc64_update(0, "", 0) != 0 || cos_crc64_update(12345, NULL, 0) != 12345)
        fail("empty update", 0, 0, cos_crc64_update(12345, NULL, 0), 12345);
}

/* Every length 0..4096 at a random offset (alignment) and a random starting crc. */
static void check_lengths(void)
{
    enum { MAXLEN = 4096, SLACK = 64 };
    unsigned char *buf = malloc(MAXLEN + SLACK);
    if (!buf) abort();
    fill(buf, MAXLEN + SLACK);
    for (size_t len = 0; len <= MAXLEN; len++) {
        for (int rep = 0; rep < 3; rep++) {
            size_t off = (size_t)(rnd() % SLACK);
            uint64_t crc0 = rep == 0 ? 0 : rnd();
            /* An exact-size copy lets ASan catch any read past the end. */
            unsigned char *p = malloc(len ? len : 1);
            if (!p) abort();
            memcpy(p, buf + off, len);
            uint64_t want = cos_crc64_update_table(crc0, buf + off, len);
            uint64_t got1 = cos_crc64_update(crc0, buf + off, len);
            uint64_t got2 = cos_crc64_update(crc0, p, len);
            if (got1 != want) fail("length sweep (in place)", len, off, got1, want);
            if (got2 != want) fail("length sweep (exact copy)", len, off, got2, want);
            free(p);
            fill(buf + off, 1 + (size_t)(rnd() % 16)); /* vary the data a little */
        }
    }
    free(buf);
}

/* MiB-sized buffers in one go and in random chunks; cos_crc64_combine on the same splits. */
static void check_large(void)
{
    static const size_t sizes[] = {(size_t)1 << 20, ((size_t)1 << 20) + 7, 3 * ((size_t)1 << 20) + 4095,
                                   ((size_t)5 << 20) + 129};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        size_t off = (size_t)(rnd() % 16);
        unsigned char *mem = malloc(n + 16);
        if (!mem) abort();
        unsigned char *p = mem + off;
        fill(p, n);
        uint64_t want = cos_crc64_update_table(0, p, n);
        uint64_t got = cos_crc64_update(0, p, n);
        if (got != want) fail("large buffer", n, off, got, want);
        /* Round 0: big chunks; rounds 1-2: chunks of 1..300 bytes; round 3: 1..5000 bytes. Every
         * round is also checked through cos_crc64_combine. */
        static const size_t max_chunk[] = {200000, 300, 300, 5000};
        for (int round = 0; round < 4; round++) {
            uint64_t crc = 0, comb = 0;
            size_t pos = 0;
            while (pos < n) {
                size_t c = 1 + (size_t)(rnd() % max_chunk[round]);
                if (c > n - pos) c = n - pos;
                crc = cos_crc64_update(crc, p + pos, c);
                comb = cos_crc64_combine(comb, cos_crc64_update(0, p + pos, c), c);
                pos += c;
            }
            if (crc != want) fail("chunked update", n, off, crc, want);
            if (comb != want) fail("chunked combine", n, off, comb, want);
        }
        free(mem);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double bench_one(uint64_t (*fn)(uint64_t, const void *, size_t), const unsigned char *p, size_t n,
                        uint64_t *out)
{
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        uint64_t c = fn(0, p, n);
        double dt = now() - t0;
        *out = c;
        double mbs = (double)n / (1024.0 * 1024.0) / (dt > 0 ? dt : 1e-9);
        if (mbs > best) best = mbs;
    }
    return best;
}

static void bench(void)
{
    size_t n = (size_t)256 << 20;
    unsigned char *p = malloc(n);
    if (!p) {
        fprintf(stderr, "bench: cannot allocate 256 MiB\n");
        failures++;
        return;
    }
    fill(p, n);
    uint64_t ct, cf;
    double table = bench_one(cos_crc64_update_table, p, n, &ct);
    double fast = bench_one(cos_crc64_update, p, n, &cf);
    if (ct != cf) fail("bench buffer", n, 0, cf, ct);
    printf("bench 256 MiB: table %.0f MB/s, %s %.0f MB/s (x%.1f)\n", table,
           cos_crc64_accelerated() ? "clmul" : "dispatched (table)", fast, fast / table);
    /* Sizes typical of upload buffers, repeated to a fixed total. */
    static const size_t small[] = {32, 64, 256, 4096, 65536};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        size_t len = small[i], iters = ((size_t)64 << 20) / len;
        double r[2];
        for (int w = 0; w < 2; w++) {
            uint64_t (*fn)(uint64_t, const void *, size_t) = w ? cos_crc64_update : cos_crc64_update_table;
            uint64_t c = 0;
            double t0 = now();
            for (size_t k = 0; k < iters; k++) c = fn(c, p + (k * 64) % (n - len), len);
            double dt = now() - t0;
            r[w] = (double)(iters * len) / (1024.0 * 1024.0) / (dt > 0 ? dt : 1e-9);
            if (c == 1) putchar(' '); /* keep the loop */
        }
        printf("bench %6zu B chunks: table %.0f MB/s, dispatched %.0f MB/s\n", len, r[0], r[1]);
    }
    free(p);
}

int main(int argc, char **argv)
{
    int do_bench = argc > 1 && strcmp(argv[1], "--bench") == 0;
    if (argc > 1 && !do_bench) {
        fprintf(stderr, "usage: crc64-check [--bench]\n");
        return 2;
    }
    uint64_t seed = (uint64_t)time(NULL);
    if (getenv("CRC64_SEED")) seed = strtoull(getenv("CRC64_SEED"), NULL, 10);
    rng_state = seed;
    printf("crc64-check: seed %" PRIu64 ", carry-less multiplication path %s\n", seed,
           cos_crc64_accelerated() ? "in use" : "not available (table only)");
    check_vectors();
    check_lengths();
    check_large();
    if (do_bench) bench();
    if (failures) {
        printf("crc64-check: %d failure(s) (CRC64_SEED=%" PRIu64 " to reproduce)\n", failures, seed);
        return 1;
    }
    printf("crc64-check: ok\n");
    return 0;
}
