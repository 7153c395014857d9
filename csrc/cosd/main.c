/* main: options, start-up line, signals. SIGTERM/SIGINT are blocked in every thread and taken with
 * sigwait() here, so shutdown is an ordinary return path: stop the daemon, free, exit 0. */
#include "cosd.h"
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *usage =
    "usage: cosd [options]\n"
    "A local COS-compatible (Tencent Cloud Object Storage XML API) server for tests.\n\n"
    "  --listen HOST:PORT       address to listen on (default 127.0.0.1:0; port 0 picks a free port)\n"
    "  --data DIR               storage root, created if missing (default ./cosd-data)\n"
    "  --region REGION          the region buckets live in unless --bucket gives one (default\n"
    "                           ap-guangzhou); a Host naming another region gets 404 NoSuchBucket\n"
    "  --bucket NAME-APPID[:REGION]  a bucket that exists (repeatable), in REGION (default --region);\n"
    "                           with none, every well-formed name-appid bucket exists in --region\n"
    "  --credentials ID:KEY     an accepted SecretId/SecretKey pair (repeatable); with none, the test pair\n"
    "                           " COSD_DEFAULT_ID ":" COSD_DEFAULT_KEY "\n"
    "  --port-file FILE         write the bound port number to FILE\n"
    "  --parent-pid PID         stop when process PID is gone (for test harnesses)\n"
    "  --access-log FILE        one line per request: method target status bytes-in bytes-out request-id\n"
    "  --request-log FILE       one JSON line per request: method, target, headers as received, body\n"
    "                           length and (up to 64 KiB) the body\n"
    "  --tls-cert FILE --tls-key FILE   serve HTTPS (PEM files)\n"
    "  --bandwidth BYTES_PER_S  pace every request body and GET body at this rate, per request\n"
    "  --latency MS             wait MS before handling each request\n"
    "  --fault SPEC             inject faults (repeatable), SPEC = comma-separated key=value:\n"
    "                           op=NAME (PutObject AppendObject PostObject HeadObject GetObject DeleteObject\n"
    "                           GetBucket InitiateMultipartUpload UploadPart ListParts\n"
    "                           CompleteMultipartUpload AbortMultipartUpload ListMultipartUploads any)\n"
    "                           and one or more of status=CODE [code=ErrorCode], reset-after=BYTES,\n"
    "                           stall=MS, complete-error (200 + <Error> body after spaces),\n"
    "                           keepalive-spaces=N, no-etag, no-crc64, endless-list (List Parts/Uploads\n"
    "                           pages that never end), body=FILE, etag=VALUE (answer with this\n"
    "                           ETag; etag=bogus: a wrong quoted MD5), crc64=VALUE (answer with this\n"
    "                           x-cos-hash-crc64ecma), drop-response (perform, then close the connection\n"
    "                           unanswered); chosen by nth=N (the N-th matching request) or rate=F\n"
    "                           seed=S, else every matching request; part=N matches only ?partNumber=N;\n"
    "                           times=K caps how often it fires\n"
    "                           e.g. op=UploadPart,nth=3,status=503  op=PutObject,reset-after=65536\n"
    "  --help                   this text\n";

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    strbuf sb;
    sb_init(&sb);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) sb_append(&sb, buf, n);
    fclose(f);
    if (!sb.data) sb_puts(&sb, "");
    return sb_detach(&sb);
}

static void server_free(cosd_server *s) {
    for (size_t i = 0; i < s->nbuckets; i++) { free(s->buckets[i]); free(s->bucket_regions[i]); }
    free(s->buckets);
    free(s->bucket_regions);
    mime_free(s->mime);
    for (size_t i = 0; i < s->ncreds; i++) { free(s->creds[i].id); free(s->creds[i].key); }
    free(s->creds);
    for (size_t i = 0; i < s->nfaults; i++) fault_free(&s->faults[i]);
    free(s->faults);
    free(s->data_dir);
    free(s->region);
    free(s->tls_cert_pem);
    free(s->tls_key_pem);
    if (s->access_log) fclose(s->access_log);
    if (s->request_log) fclose(s->request_log);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->log_lock);
    pthread_mutex_destroy(&s->fault_lock);
    EVP_MD_free(s->md5);
    EVP_MD_free(s->sha1);
}

/* --bucket NAME-APPID[:REGION] */
static int add_bucket(cosd_server *s, const char *v) {
    const char *colon = strchr(v, ':');
    if (colon && (colon == v || !colon[1])) { fprintf(stderr, "cosd: --bucket wants NAME-APPID[:REGION]\n"); return -1; }
    char **nb = realloc(s->buckets, (s->nbuckets + 1) * sizeof *nb);
    if (!nb) return -1;
    s->buckets = nb;
    char **nr = realloc(s->bucket_regions, (s->nbuckets + 1) * sizeof *nr);
    if (!nr) return -1;
    s->bucket_regions = nr;
    s->buckets[s->nbuckets] = colon ? strndup(v, (size_t)(colon - v)) : strdup(v);
    s->bucket_regions[s->nbuckets] = colon ? strdup(colon + 1) : NULL;
    s->nbuckets++;
    return 0;
}

/* Waits for SIGTERM/SIGINT, or (with --parent-pid) for that process to disappear, so servers started
 * by a test run that crashed do not outlive it. */
static void wait_for_stop(const sigset_t *set, long parent_pid) {
    struct timespec tick = {1, 0};
    for (;;) {
        int sig = parent_pid > 0 ? sigtimedwait(set, NULL, &tick) : sigwaitinfo(set, NULL);
        if (sig == SIGTERM || sig == SIGINT) return;
        if (parent_pid > 0 && kill((pid_t)parent_pid, 0) != 0 && errno == ESRCH) return;
    }
}

int main(int argc, char **argv) {
    cosd_server srv;
    memset(&srv, 0, sizeof srv);
    pthread_mutex_init(&srv.lock, NULL);
    pthread_mutex_init(&srv.log_lock, NULL);
    pthread_mutex_init(&srv.fault_lock, NULL);
    req_unique_init(&srv);
    srv.md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    srv.sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    long parent_pid = 0;
    const char *listen = "127.0.0.1:0", *port_file = NULL, *log_path = NULL, *reqlog_path = NULL, *data = "cosd-data";
    const char *region = "ap-guangzhou";
    const char *cert = NULL, *key = NULL;
    int rc = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(usage, stdout); server_free(&srv); return 0; }
        if (i + 1 >= argc) { fprintf(stderr, "cosd: %s needs a value\n%s", a, usage); goto out; }
        const char *v = argv[++i];
        if (!strcmp(a, "--listen")) listen = v;
        else if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--region")) region = v;
        else if (!strcmp(a, "--port-file")) port_file = v;
        else if (!strcmp(a, "--parent-pid")) parent_pid = strtol(v, NULL, 10);
        else if (!strcmp(a, "--access-log")) log_path = v;
        else if (!strcmp(a, "--request-log")) reqlog_path = v;
        else if (!strcmp(a, "--tls-cert")) cert = v;
        else if (!strcmp(a, "--tls-key")) key = v;
        else if (!strcmp(a, "--bandwidth")) {
            char *end;
            srv.bandwidth = strtod(v, &end);
            if (*end || end == v || !(srv.bandwidth >= 1024)) { fprintf(stderr, "cosd: --bandwidth wants bytes per second, at least 1024\n"); goto out; }
        } else if (!strcmp(a, "--latency")) {
            char *end;
            srv.latency_ms = strtol(v, &end, 10);
            if (*end || end == v || srv.latency_ms < 0) { fprintf(stderr, "cosd: --latency wants milliseconds\n"); goto out; }
        } else if (!strcmp(a, "--bucket")) {
            if (add_bucket(&srv, v) != 0) goto out;
        } else if (!strcmp(a, "--credentials")) {
            const char *c = strchr(v, ':');
            if (!c || c == v || !c[1]) { fprintf(stderr, "cosd: --credentials wants SECRETID:SECRETKEY\n"); goto out; }
            cosd_cred *nc = realloc(srv.creds, (srv.ncreds + 1) * sizeof *nc);
            if (!nc) goto out;
            srv.creds = nc;
            srv.creds[srv.ncreds].id = strndup(v, (size_t)(c - v));
            srv.creds[srv.ncreds].key = strdup(c + 1);
            srv.ncreds++;
        } else if (!strcmp(a, "--fault")) {
            cosd_fault *nf = realloc(srv.faults, (srv.nfaults + 1) * sizeof *nf);
            if (!nf) goto out;
            srv.faults = nf;
            char err[200];
            if (fault_parse(&srv.faults[srv.nfaults], v, err, sizeof err) != 0) {
                fprintf(stderr, "cosd: %s\n", err);
                fault_free(&srv.faults[srv.nfaults]);
                goto out;
            }
            srv.nfaults++;
        } else { fprintf(stderr, "cosd: unknown option %s\n%s", a, usage); goto out; }
    }
    if (!srv.ncreds) {
        srv.creds = calloc(1, sizeof *srv.creds);
        srv.creds[0].id = strdup(COSD_DEFAULT_ID);
        srv.creds[0].key = strdup(COSD_DEFAULT_KEY);
        srv.ncreds = 1;
    }
    srv.data_dir = strdup(data);
    srv.region = strdup(region);
    /* the system MIME table, read once: Content-Type by extension for uploads that give none */
    srv.mime = mime_load(NULL);
    if (!srv.mime) { fprintf(stderr, "cosd: out of memory\n"); goto out; }
    if (!srv.md5 || !srv.sha1) { fprintf(stderr, "cosd: OpenSSL offers no MD5 or SHA-1\n"); goto out; }
    if ((cert != NULL) != (key != NULL)) { fprintf(stderr, "cosd: --tls-cert and --tls-key go together\n"); goto out; }
    if (cert) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) { fprintf(stderr, "cosd: this libmicrohttpd has no TLS support\n"); goto out; }
        srv.tls_cert_pem = read_all(cert);
        srv.tls_key_pem = read_all(key);
        if (!srv.tls_cert_pem || !srv.tls_key_pem) { fprintf(stderr, "cosd: cannot read the TLS cert/key\n"); goto out; }
        srv.tls = 1;
    }
    if (store_init(&srv) != 0) { fprintf(stderr, "cosd: cannot use data directory %s: %s\n", data, strerror(errno)); goto out; }
    if (log_path) {
        srv.access_log = fopen(log_path, "ae");
        if (!srv.access_log) { fprintf(stderr, "cosd: cannot open access log %s\n", log_path); goto out; }
    }
    if (reqlog_path) {
        srv.request_log = fopen(reqlog_path, "ae");
        if (!srv.request_log) { fprintf(stderr, "cosd: cannot open request log %s\n", reqlog_path); goto out; }
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int port = 0;
    if (http_start(&srv, listen, &port) != 0) { fprintf(stderr, "cosd: cannot listen on %s\n", listen); goto out; }
    const char *colon = strrchr(listen, ':');
    printf("cosd listening on %s://%.*s:%d\n", srv.tls ? "https" : "http", (int)(colon - listen), listen, port);
    fflush(stdout);
    if (port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (f) { fprintf(f, "%d\n", port); fclose(f); rename(tmp, port_file); }
    }
    wait_for_stop(&set, parent_pid);
    /* Prompt stop: stalls see the flag and end; MHD_stop_daemon closes the listening socket, shuts down
     * every connection (idle keep-alive ones included) and joins their threads. Requests cut short
     * unlink their temporary body files, so no partial object becomes visible. */
    __atomic_store_n(&srv.stopping, 1, __ATOMIC_RELEASE);
    MHD_stop_daemon(srv.daemon);
    rc = 0;
out:
    server_free(&srv);
    return rc;
}
