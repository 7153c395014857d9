/* shape: bandwidth and latency shaping, so clients can be tested for progress and timeouts offline.
 * A request body is paced as it is read (the handler sleeps after each chunk MHD hands over, and
 * MHD reads no more from the socket meanwhile, so TCP pushes back on the client); a GET body is
 * paced by a content reader that sleeps before each block. cosd runs MHD with a thread per
 * connection, so these sleeps hold up only their own connection. Sleeps are cut into 10 ms naps
 * that end early when the server is stopping. */
#include "cosd.h"
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define SHAPE_NAP_NS (10 * 1000 * 1000L)

static int stopping(cosd_server *srv) { return __atomic_load_n(&srv->stopping, __ATOMIC_ACQUIRE); }

static double elapsed_s(const struct timespec *t0) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Sleeps for s seconds in naps; returns early (-1) when the server is stopping. */
static int nap(cosd_server *srv, double s) {
    while (s > 0) {
        if (stopping(srv)) return -1;
        long ns = s * 1e9 < SHAPE_NAP_NS ? (long)(s * 1e9) : SHAPE_NAP_NS;
        if (ns <= 0) break;
        struct timespec ts = {0, ns};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
        s -= (double)ns / 1e9;
    }
    return stopping(srv) ? -1 : 0;
}

int shape_traffic_limit(const char *v, double *bytes_per_s) {
    *bytes_per_s = 0;
    if (!v) return 0;
    char *end;
    errno = 0;
    long long bits = strtoll(v, &end, 10);
    if (end == v || *end || errno || bits < COSD_TRAFFIC_MIN || bits > COSD_TRAFFIC_MAX) return -1;
    *bytes_per_s = (double)bits / 8.0;
    return 0;
}

void shape_begin(cosd_req *r, double bytes_per_s) {
    double rate = r->srv->bandwidth;
    if (bytes_per_s > 0 && (rate <= 0 || bytes_per_s < rate)) rate = bytes_per_s;
    if (rate <= 0 || (r->pace_rate > 0 && r->pace_rate <= rate)) return;
    r->pace_rate = rate;
    /* A small receive buffer keeps the bytes the kernel accepts ahead of the pace small, so a
     * client's progress follows the pace more closely (its own send buffer still runs ahead). */
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci) {
        int sz = rate / 4 < 4096 ? 4096 : rate / 4 > 65536 ? 65536 : (int)(rate / 4);
        setsockopt(ci->connect_fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    }
}

void shape_after(cosd_req *r, size_t n) {
    if (r->pace_rate <= 0 || n == 0) return;
    if (r->pace_done == 0) clock_gettime(CLOCK_MONOTONIC, &r->pace_t0);
    r->pace_done += n;
    nap(r->srv, (double)r->pace_done / r->pace_rate - elapsed_s(&r->pace_t0));
}

void shape_latency(cosd_req *r) {
    if (r->srv->latency_ms > 0) nap(r->srv, (double)r->srv->latency_ms / 1000.0);
}

typedef struct paced_body {
    cosd_server *srv;
    int fd;
    uint64_t off, len, sent;
    double rate;
    struct timespec t0;
} paced_body;

/* Blocks of about 50 ms at the rate, so the pace stays smooth at any rate. */
static size_t paced_block(double rate) {
    double b = rate / 20;
    return b < 1024 ? 1024 : b > 65536 ? 65536 : (size_t)b;
}

static ssize_t paced_read(void *cls, uint64_t pos, char *buf, size_t max) {
    paced_body *p = cls;
    if (pos >= p->len) return MHD_CONTENT_READER_END_OF_STREAM;
    if (p->sent == 0) clock_gettime(CLOCK_MONOTONIC, &p->t0);
    /* the bytes already handed over are due first */
    if (nap(p->srv, (double)p->sent / p->rate - elapsed_s(&p->t0)) != 0) return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = paced_block(p->rate);
    if (n > max) n = max;
    if (n > p->len - pos) n = (size_t)(p->len - pos);
    ssize_t got;
    do got = pread(p->fd, buf, n, (off_t)(p->off + pos));
    while (got < 0 && errno == EINTR);
    if (got <= 0) return MHD_CONTENT_READER_END_WITH_ERROR;
    p->sent += (uint64_t)got;
    return got;
}

static void paced_free(void *cls) {
    paced_body *p = cls;
    close(p->fd);
    free(p);
}

struct MHD_Response *shape_fd_response(cosd_req *r, int fd, uint64_t off, uint64_t len) {
    if (r->pace_rate <= 0 || r->is_head) return NULL;
    paced_body *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    *p = (paced_body){.srv = r->srv, .fd = fd, .off = off, .len = len, .rate = r->pace_rate};
    struct MHD_Response *resp = MHD_create_response_from_callback(len, paced_block(r->pace_rate), paced_read, p, paced_free);
    if (!resp) free(p);
    return resp;
}
