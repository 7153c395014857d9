/* http: libmicrohttpd glue. One cosd_req per request: created by the URI log callback (which sees the
 * raw request target), driven by the access handler (first call: route + auth; body calls: stream to
 * disk; final call: respond), logged and freed by the completion callback. */
#include "cosd.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "crc64.h"

/* Unique names (request ids, temp files) cost no syscall and no lock: the process's pid and 48 random
 * bits, drawn once at start (req_unique_init), tell servers apart; an atomic counter tells the
 * names of one server apart; the time keeps them apart across restarts. */
void req_unique_init(cosd_server *srv) {
    unsigned char rnd[6] = {0};
    RAND_bytes(rnd, sizeof rnd);
    snprintf(srv->unique_tail, sizeof srv->unique_tail, "%x_%02x%02x%02x%02x%02x%02x", (unsigned)getpid(),
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
}

void req_unique(cosd_server *srv, char *out, size_t n) {
    unsigned long long c = __atomic_add_fetch(&srv->counter, 1, __ATOMIC_RELAXED);
    snprintf(out, n, "%08lx_%llx_%s", (unsigned long)time(NULL), c, srv->unique_tail);
}

const char *req_header(cosd_req *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *req_query(cosd_req *r, const char *name, int *present) {
    for (size_t i = 0; i < r->nq; i++)
        if (strcmp(r->q[i].name, name) == 0) {
            if (present) *present = 1;
            return r->q[i].value;
        }
    if (present) *present = 0;
    return NULL;
}

void req_add_header(cosd_req *r, const char *name, const char *value) {
    hdr_pair *n = realloc(r->rh, (r->nrh + 1) * sizeof *n);
    if (!n) return;
    r->rh = n;
    r->rh[r->nrh].name = strdup(name);
    r->rh[r->nrh].value = strdup(value ? value : "");
    r->nrh++;
}

/* Adds the headers every response carries, queues it, records status and body size for the log. */
static int queue(cosd_req *r, unsigned status, struct MHD_Response *resp, uint64_t body_len) {
    if (!resp) return MHD_NO;
    if (r->drop_response && r->finishing) {
        /* fault drop-response: the operation is done, its answer is lost (status 0 in the logs) */
        MHD_destroy_response(resp);
        r->status = 0;
        r->done = 1;
        r->reset = 1;
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Server", "tencent-cos");
    MHD_add_response_header(resp, "x-cos-request-id", r->reqid);
    int had_etag = 0, had_crc = 0;
    for (size_t i = 0; i < r->nrh; i++) {
        const char *v = r->rh[i].value;
        if (strcasecmp(r->rh[i].name, "ETag") == 0) {
            if (r->no_etag) continue; /* fault no-etag */
            if (r->fault_etag) v = r->fault_etag, had_etag = 1; /* fault etag= */
        } else if (r->no_crc64 && strcasecmp(r->rh[i].name, "x-cos-hash-crc64ecma") == 0) {
            continue; /* fault no-crc64 */
        } else if (r->fault_crc64 && strcasecmp(r->rh[i].name, "x-cos-hash-crc64ecma") == 0) {
            v = r->fault_crc64, had_crc = 1; /* fault crc64= */
        } else if (strcasecmp(r->rh[i].name, "x-cos-content-sha1") == 0) {
            if (r->no_content_sha1) continue;            /* fault no-content-sha1 */
            if (r->fault_content_sha1) v = r->fault_content_sha1; /* fault content-sha1= */
        }
        MHD_add_response_header(resp, r->rh[i].name, v);
    }
    /* a success answer without the header gets it (faults etag= / crc64=) */
    if (status >= 200 && status < 300) {
        if (r->fault_etag && !had_etag) MHD_add_response_header(resp, "ETag", r->fault_etag);
        if (r->fault_crc64 && !had_crc) MHD_add_response_header(resp, "x-cos-hash-crc64ecma", r->fault_crc64);
    }
    r->status = status;
    r->bytes_out = r->is_head ? 0 : body_len;
    r->done = 1;
    log_request(r); /* before the response goes out: a client holding its answer finds the entry */
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* A 200 XML result streamed after keep-alive spaces (fault keepalive-spaces / complete-error): the spaces
 * go out first, in chunks, then a short pause, then the document, as COS does while it works. */
typedef struct ka_stream {
    char *body; size_t len, off; long spaces; int paused; int *stopping;
    uint64_t *sent; /* the request's bytes_out: what actually went out, for the access log */
} ka_stream;

static ssize_t ka_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    ka_stream *k = cls;
    if (k->spaces > 0) {
        size_t n = (size_t)k->spaces;
        if (n > 64) n = 64;
        if (n > max) n = max;
        memset(buf, ' ', n);
        k->spaces -= (long)n;
        *k->sent += n;
        return (ssize_t)n;
    }
    if (!k->paused) { k->paused = 1; usleep(k->stopping && __atomic_load_n(k->stopping, __ATOMIC_ACQUIRE) ? 0 : 50 * 1000); }
    if (k->off >= k->len) return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = k->len - k->off;
    if (n > max) n = max;
    memcpy(buf, k->body + k->off, n);
    k->off += n;
    *k->sent += n;
    return (ssize_t)n;
}

static void ka_free(void *cls) {
    ka_stream *k = cls;
    free(k->body);
    free(k);
}

int req_send_buf(cosd_req *r, unsigned status, const char *ctype, char *body, size_t len) {
    if (r->ka_spaces > 0 && status == 200 && body && ctype && strstr(ctype, "xml") && !r->is_head) {
        ka_stream *k = calloc(1, sizeof *k);
        if (!k) { free(body); return MHD_NO; }
        k->body = body;
        k->len = len;
        k->spaces = r->ka_spaces;
        k->stopping = &r->srv->stopping;
        struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, ka_read, k, ka_free);
        if (!resp) { ka_free(k); return MHD_NO; }
        MHD_add_response_header(resp, "Content-Type", ctype);
        k->sent = &r->bytes_out;
        int rc = queue(r, status, resp, len + (uint64_t)r->ka_spaces);
        r->bytes_out = 0; /* counted by ka_read as the bytes go out (a client may stop reading) */
        return rc;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body ? body : (char *)"",
                                                                body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) { free(body); return MHD_NO; }
    if (ctype) MHD_add_response_header(resp, "Content-Type", ctype);
    return queue(r, status, resp, len);
}

int req_send_empty(cosd_req *r, unsigned status) { return req_send_buf(r, status, NULL, NULL, 0); }

/* GET/HEAD bodies (ops.c): a single file goes out with sendfile (or paced by shape.c); an object
 * of several part files (a completed multipart upload, see store.c) is streamed across them, at
 * the request's pace when it has one (x-cos-traffic-limit, --bandwidth). Takes b. */
typedef struct body_stream {
    store_body *b;
    uint64_t off, sent;
    double rate;                 /* bytes/s, 0: unpaced */
    struct timespec t0;
    int *stopping;
} body_stream;

/* Waits until the bytes sent so far are due at s->rate, in 10 ms naps. -1 when stopping. */
static int body_pace(body_stream *s) {
    if (s->rate <= 0) return 0;
    if (s->sent == 0) clock_gettime(CLOCK_MONOTONIC, &s->t0);
    for (;;) {
        if (__atomic_load_n(s->stopping, __ATOMIC_ACQUIRE)) return -1;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double ahead = (double)s->sent / s->rate - ((double)(now.tv_sec - s->t0.tv_sec) + (double)(now.tv_nsec - s->t0.tv_nsec) / 1e9);
        if (ahead <= 0) return 0;
        struct timespec nap = {0, ahead > 0.01 ? 10000000L : (long)(ahead * 1e9)};
        nanosleep(&nap, NULL);
    }
}

static ssize_t body_read(void *cls, uint64_t pos, char *buf, size_t max) {
    body_stream *s = cls;
    if (body_pace(s) != 0) return MHD_CONTENT_READER_END_WITH_ERROR;
    if (s->rate > 0) { /* blocks of about 50 ms at the rate */
        size_t blk = s->rate / 20 < 1024 ? 1024 : s->rate / 20 > 65536 ? 65536 : (size_t)(s->rate / 20);
        if (max > blk) max = blk;
    }
    ssize_t n = store_body_read(s->b, s->off + pos, buf, max);
    if (n > 0) s->sent += (uint64_t)n;
    return n > 0 ? n : (n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR);
}

static void body_free(void *cls) {
    body_stream *s = cls;
    store_body_free(s->b);
    free(s);
}

int req_send_body(cosd_req *r, unsigned status, store_body *b, uint64_t off, uint64_t len);
int req_send_body(cosd_req *r, unsigned status, store_body *b, uint64_t off, uint64_t len) {
    struct MHD_Response *resp;
    if (b->n == 1) {
        int fd = b->fd[0];
        off += b->start[0]; /* an inline object's bytes follow its meta */
        b->fd[0] = -1;
        store_body_free(b);
        resp = shape_fd_response(r, fd, off, len); /* x-cos-traffic-limit, --bandwidth */
        if (!resp) resp = MHD_create_response_from_fd_at_offset64(len, fd, off);
        if (!resp) { close(fd); return MHD_NO; }
        return queue(r, status, resp, len);
    }
    body_stream *s = calloc(1, sizeof *s);
    if (!s) { store_body_free(b); return MHD_NO; }
    s->b = b;
    s->off = off;
    s->rate = r->is_head ? 0 : r->pace_rate;
    s->stopping = &r->srv->stopping;
    resp = MHD_create_response_from_callback(len, 256 * 1024, body_read, s, body_free);
    if (!resp) { body_free(s); return MHD_NO; }
    return queue(r, status, resp, len);
}

int req_error(cosd_req *r, unsigned status, const char *code, const char *message, const char *extra_xml) {
    char trace[96];
    req_unique(r->srv, trace, sizeof trace);
    unsigned char enc[160];
    EVP_EncodeBlock(enc, (const unsigned char *)trace, (int)strlen(trace));
    req_add_header(r, "x-cos-trace-id", (const char *)enc);
    if (r->is_head) return req_send_buf(r, status, "application/xml", NULL, 0);
    strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "<?xml version='1.0' encoding='utf-8' ?>\n<Error>\n");
    xml_elem(&sb, "\t", "Code", code);
    xml_elem(&sb, "\t", "Message", message);
    sb_puts(&sb, "\t<Resource>");
    if (r->bucket) {
        xml_escape(&sb, r->bucket, strlen(r->bucket));
        sb_printf(&sb, ".cos.%s.myqcloud.com/", req_region(r));
        if (r->key) xml_escape(&sb, r->key, r->keylen);
    }
    sb_puts(&sb, "</Resource>\n");
    if (extra_xml) sb_puts(&sb, extra_xml);
    xml_elem(&sb, "\t", "RequestId", r->reqid);
    xml_elem(&sb, "\t", "TraceId", (const char *)enc);
    sb_puts(&sb, "</Error>");
    size_t len = sb.len;
    return req_send_buf(r, status, "application/xml", sb_detach(&sb), len);
}

/* ---- body streaming ---- */

int body_open_file(cosd_req *r) {
    r->fd = store_tmp_file(r->srv, &r->tmp_path);
    if (r->fd < 0) return -1;
    r->md5 = EVP_MD_CTX_new();
    if (!r->md5 || !EVP_DigestInit_ex(r->md5, r->srv->md5, NULL)) return -1;
    r->crc = 0;
    r->body_mode = BODY_FILE;
    return 0;
}

/* A small PUT's body in memory (expected bytes: len), hashed on the way like a file body. */
int body_open_mem(cosd_req *r, size_t len) {
    r->md5 = EVP_MD_CTX_new();
    if (!r->md5 || !EVP_DigestInit_ex(r->md5, r->srv->md5, NULL) || sb_reserve(&r->mem, len) != 0) return -1;
    r->crc = 0;
    r->body_mode = BODY_MEM;
    return 0;
}

int body_write(cosd_req *r, const char *data, size_t n) {
    if (r->body_len + n > r->body_max) {
        r->body_too_large = 1;
        return 0; /* keep draining; refused at the end */
    }
    r->body_len += n;
    if (r->md5) { /* an object's body (file or memory); XML bodies are not hashed */
        EVP_DigestUpdate(r->md5, data, n);
        r->crc = cos_crc64_update(r->crc, data, n);
    }
    if (r->body_mode == BODY_FILE) {
        size_t off = 0;
        while (off < n) {
            ssize_t w = write(r->fd, data + off, n - off);
            if (w < 0) { if (errno == EINTR) continue; return -1; }
            off += (size_t)w;
        }
    } else if (r->body_mode == BODY_MEM) {
        if (sb_append(&r->mem, data, n) != 0) return -1;
    }
    return 0;
}

int body_finish_md5(cosd_req *r, unsigned char md5[16]) {
    unsigned int l = 16;
    if (!r->md5) return -1;
    EVP_DigestFinal_ex(r->md5, md5, &l);
    EVP_MD_CTX_free(r->md5);
    r->md5 = NULL;
    return 0;
}

/* ---- request target parsing and routing ---- */

static char *decode(const char *s, size_t n, size_t *outlen) {
    strbuf sb;
    sb_init(&sb);
    if (cos_url_decode(&sb, s, n) != 0 || !sb.data) { sb_free(&sb); sb_puts(&sb, ""); }
    if (!sb.data) sb_puts(&sb, "");
    if (outlen) *outlen = sb.len;
    return sb_detach(&sb);
}

int target_parse(const char *t, char **path, size_t *pathlen, cos_kv **q, size_t *nq) {
    const char *qm = strchr(t, '?');
    size_t plen = qm ? (size_t)(qm - t) : strlen(t);
    *path = decode(t, plen, pathlen);
    if (!*path) return -1;
    if (!qm) return 0;
    const char *p = qm + 1;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t nlen = eq ? (size_t)(eq - p) : len;
            cos_kv *nqv = realloc(*q, (*nq + 1) * sizeof *nqv);
            if (!nqv) return -1;
            *q = nqv;
            char *name = decode(p, nlen, NULL), *value = eq ? decode(eq + 1, len - nlen - 1, NULL) : strdup("");
            if (!name || !value) { free(name); free(value); return -1; }
            (*q)[*nq].name = name;
            (*q)[*nq].value = value;
            (*nq)++;
        }
        if (!amp) break;
        p = amp + 1;
    }
    return 0;
}

void target_free(char *path, cos_kv *q, size_t nq) {
    free(path);
    for (size_t i = 0; i < nq; i++) { free((char *)q[i].name); free((char *)q[i].value); }
    free(q);
}

static int valid_bucket(const char *b, size_t n) {
    if (n < 3 || n > 60) return 0;
    const char *dash = NULL;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (c == '-') dash = b + i;
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return 0;
    }
    if (!dash || dash == b || dash == b + n - 1) return 0;
    for (const char *c = dash + 1; c < b + n; c++)
        if (*c < '0' || *c > '9') return 0;
    return b[0] != '-';
}

static int bucket_known(cosd_server *srv, const char *b, size_t n) {
    if (srv->nbuckets == 0) return valid_bucket(b, n);
    for (size_t i = 0; i < srv->nbuckets; i++)
        if (strlen(srv->buckets[i]) == n && memcmp(srv->buckets[i], b, n) == 0) return 1;
    return 0;
}

const char *req_bucket_region(cosd_server *srv, const char *bucket) {
    for (size_t i = 0; bucket && i < srv->nbuckets; i++)
        if (!strcmp(srv->buckets[i], bucket) && srv->bucket_regions[i]) return srv->bucket_regions[i];
    return srv->region;
}

const char *req_region(cosd_req *r) {
    if (r->host_region && strcmp(r->host_region, "accelerate") != 0) return r->host_region;
    return req_bucket_region(r->srv, r->bucket);
}

/* The region a Host names: the label between `cos.` (or `cos-internal.`, `cos-website.`) and
 * `.myqcloud.com` / `.tencentcos.cn`, as in `examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com`
 * or the path-style `cos.ap-guangzhou.myqcloud.com`. NULL for hosts that name none (an IP). */
static char *host_region(const char *host) {
    static const char *suffixes[] = {".myqcloud.com", ".tencentcos.cn", NULL};
    static const char *services[] = {"cos", "cos-internal", "cos-website", NULL};
    size_t n = strcspn(host, ":");
    for (int i = 0; suffixes[i]; i++) {
        size_t sl = strlen(suffixes[i]);
        if (n <= sl || strncasecmp(host + n - sl, suffixes[i], sl) != 0) continue;
        const char *end = host + n - sl, *reg = end;
        while (reg > host && reg[-1] != '.') reg--;
        if (reg == host || reg == end) return NULL;
        const char *svc = reg - 1;
        while (svc > host && svc[-1] != '.') svc--;
        for (int j = 0; services[j]; j++)
            if ((size_t)(reg - 1 - svc) == strlen(services[j]) && !strncasecmp(svc, services[j], strlen(services[j])))
                return strndup(reg, (size_t)(end - reg));
        return NULL;
    }
    return NULL;
}

/* True when the key, read as a path, resolves to the bucket root: its segments are all empty, `.`
 * or `..`, or step back out of every named one (`./`, `..`, `a/..`, `///`). */
int req_key_is_root(const char *key, size_t n) {
    size_t depth = 0;
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && key[j] != '/') j++;
        size_t l = j - i;
        if (l == 2 && key[i] == '.' && key[i + 1] == '.') { if (depth) depth--; }
        else if (l > 0 && !(l == 1 && key[i] == '.')) depth++;
        i = j + 1;
    }
    return depth == 0;
}

static const char *unsupported_sub[] = {"acl", "tagging", "restore", "cors", "lifecycle", "policy", "versioning",
    "select", "torrent", "website", "versions", "delete", "location", "replication", "logging", "inventory",
    "domain", "referer", "intelligenttiering", "object-lock", "retention", "encryption", "accelerate",
    "notification", "origin", "symlink", "rename", "copy", NULL};

static cos_api not_implemented(int *unsupported) {
    *unsupported = 1;
    return COS_API_NONE;
}

/* The COS API of a request, from its method, key and sub-resources. *unsupported is set (and
 * COS_API_NONE returned) for a request COS knows but cosd does not implement; COS_API_NONE alone
 * means the method does not apply to the resource. */
static cos_api route(cosd_req *r, int *unsupported) {
    *unsupported = 0;
    int has_uploads, has_uploadid, has_part, has_append;
    req_query(r, "uploads", &has_uploads);
    req_query(r, "uploadId", &has_uploadid);
    req_query(r, "partNumber", &has_part);
    req_query(r, "append", &has_append);
    for (int i = 0; unsupported_sub[i]; i++) {
        int p;
        req_query(r, unsupported_sub[i], &p);
        if (p) return not_implemented(unsupported);
    }
    const char *m = r->method;
    if (r->keylen == 0) {
        if (!strcmp(m, "GET")) return has_uploads ? COS_API_LIST_MULTIPART_UPLOADS : COS_API_GET_BUCKET;
        if (!strcmp(m, "HEAD")) return COS_API_HEAD_BUCKET;
        if (!strcmp(m, "POST")) return COS_API_POST_OBJECT;
        if (!strcmp(m, "PUT") || !strcmp(m, "DELETE")) return not_implemented(unsupported);
        return COS_API_NONE;
    }
    if (!strcmp(m, "PUT")) {
        if (req_header(r, "x-cos-copy-source")) return not_implemented(unsupported);
        if (has_uploadid || has_part) return COS_API_UPLOAD_PART;
        return COS_API_PUT_OBJECT;
    }
    if (!strcmp(m, "POST")) {
        if (has_uploads) return COS_API_INITIATE_MULTIPART_UPLOAD;
        if (has_uploadid) return COS_API_COMPLETE_MULTIPART_UPLOAD;
        if (has_append) return COS_API_APPEND_OBJECT;
        return COS_API_NONE;
    }
    if (!strcmp(m, "GET")) return has_uploadid ? COS_API_LIST_PARTS : COS_API_GET_OBJECT;
    if (!strcmp(m, "HEAD")) return COS_API_HEAD_OBJECT;
    if (!strcmp(m, "DELETE")) return has_uploadid ? COS_API_ABORT_MULTIPART_UPLOAD : COS_API_DELETE_OBJECT;
    return COS_API_NONE;
}

/* Works out bucket, key and the signed path from Host and the decoded path. */
static int address(cosd_req *r, char *path, size_t pathlen) {
    cosd_server *srv = r->srv;
    const char *host = r->host ? r->host : "";
    r->host_region = host_region(host);
    const char *cos = strstr(host, ".cos.");
    if (!cos) cos = strstr(host, ".cos-internal.");
    r->sign_path = path;
    const char *k = path + (pathlen > 0 && path[0] == '/' ? 1 : 0);
    size_t kl = pathlen - (size_t)(k - path);
    if (cos && cos > host) {
        r->bucket = strndup(host, (size_t)(cos - host));
        r->key = malloc(kl + 1);
        memcpy(r->key, k, kl);
        r->key[kl] = 0;
        r->keylen = kl;
        return 0;
    }
    /* path style: /<bucket>/<key>; a lone configured bucket also serves /<key> (SDK Domain set-up) */
    const char *slash = memchr(k, '/', kl);
    size_t bl = slash ? (size_t)(slash - k) : kl;
    if (bl > 0 && (bucket_known(srv, k, bl) || (srv->nbuckets != 1 && valid_bucket(k, bl)))) {
        r->bucket = strndup(k, bl);
        const char *kk = slash ? slash + 1 : k + kl;
        kl = (size_t)(k + kl - kk);
        r->key = malloc(kl + 1);
        memcpy(r->key, kk, kl);
        r->key[kl] = 0;
        r->keylen = kl;
        return 0;
    }
    if (srv->nbuckets == 1) {
        r->bucket = strdup(srv->buckets[0]);
        r->key = malloc(kl + 1);
        memcpy(r->key, k, kl);
        r->key[kl] = 0;
        r->keylen = kl;
        return 0;
    }
    return -1;
}

static int first_call(cosd_req *r) {
    char *path = NULL;
    size_t pathlen = 0;
    req_unique(r->srv, r->reqid, sizeof r->reqid);
    {   /* request id is opaque: base64 of the unique string, as COS does */
        char raw[64];
        memcpy(raw, r->reqid, sizeof raw);
        unsigned char enc[100];
        int n = EVP_EncodeBlock(enc, (const unsigned char *)raw, (int)strlen(raw));
        if (n > 0 && (size_t)n < sizeof r->reqid) memcpy(r->reqid, enc, (size_t)n + 1);
    }
    r->is_head = strcmp(r->method, "HEAD") == 0;
    r->host = req_header(r, "Host");
    if (target_parse(r->target, &path, &pathlen, &r->q, &r->nq) != 0) {
        free(path);
        return req_error(r, 500, "InternalError", "out of memory", NULL);
    }
    if (address(r, path, pathlen) != 0) {
        r->sign_path = path;
        r->unsupported = 1;
        fault_apply(r);
        if (r->reset_after == 0) { r->reset = 1; return MHD_NO; }
        if (pathlen <= 1) return req_error(r, 501, "NotImplemented", "GET Service is not implemented by cosd.", NULL);
        return req_error(r, 400, "InvalidBucketName", "The specified bucket is not valid.", NULL);
    }
    /* COS reads a path made only of slashes as the bucket itself: GET `///` lists the bucket */
    if (r->keylen > 0 && strspn(r->key, "/") == r->keylen) { r->key[0] = 0; r->keylen = 0; }
    r->api = route(r, &r->unsupported);
    fault_apply(r);
    if (r->reset_after == 0) { r->reset = 1; return MHD_NO; }
    if (r->api == COS_API_NONE && !r->unsupported) return req_error(r, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.", NULL);
    if (!meta_request_storable(r)) return req_error(r, 400, "InvalidArgument", COSD_BAD_META_MESSAGE, NULL);
    if (r->api != COS_API_POST_OBJECT) {
        int anon = 0;
        if (auth_check(r, &anon) != 0) return MHD_YES;
        if (anon && r->api != COS_API_GET_OBJECT && r->api != COS_API_HEAD_OBJECT)
            return req_error(r, 403, "AccessDenied", "Access Denied.", NULL);
        if (anon) req_add_header(r, "x-cosd-anonymous", "1");
    }
    /* a bucket answers only under its own region: elsewhere COS does not know it */
    if (!bucket_known(r->srv, r->bucket, strlen(r->bucket)) ||
        (r->host_region && strcasecmp(r->host_region, "accelerate") != 0 &&
         strcasecmp(r->host_region, req_bucket_region(r->srv, r->bucket)) != 0))
        return req_error(r, 404, "NoSuchBucket", "The specified bucket does not exist.", NULL);
    if (r->unsupported) return req_error(r, 501, "NotImplemented", "This operation is not implemented by cosd.", NULL);
    if (r->keylen > COSD_MAX_KEY) return req_error(r, 400, "KeyTooLong", "Your key is too long.", NULL);
    if (memchr(r->key, 0, r->keylen) || (r->keylen > 0 && req_key_is_root(r->key, r->keylen)))
        return req_error(r, 400, "InvalidObjectName", "The object name is not valid.", NULL);
    shape_begin(r, 0); /* --bandwidth; x-cos-traffic-limit is added where the operation applies it */
    if (r->endless_list && r->api != COS_API_LIST_PARTS && r->api != COS_API_LIST_MULTIPART_UPLOADS) r->endless_list = 0;
    if (r->fault_status || r->complete_error || r->fault_body_set || r->endless_list) {
        r->body_mode = BODY_DISCARD;
        r->body_max = UINT64_MAX;
        return MHD_YES;
    }
    switch (r->api) {
    case COS_API_POST_OBJECT: return form_begin(r);
    case COS_API_INITIATE_MULTIPART_UPLOAD: case COS_API_UPLOAD_PART: case COS_API_LIST_PARTS: case COS_API_COMPLETE_MULTIPART_UPLOAD:
    case COS_API_ABORT_MULTIPART_UPLOAD: case COS_API_LIST_MULTIPART_UPLOADS: return mp_begin(r);
    default: return op_begin(r);
    }
}

static int final_call(cosd_req *r) {
    /* a stall ends early when the server is stopping, so shutdown never waits for it */
    for (long left = r->stall_ms; left > 0 && !__atomic_load_n(&r->srv->stopping, __ATOMIC_ACQUIRE); left -= 10)
        usleep((useconds_t)(left < 10 ? left : 10) * 1000);
    /* stopping: a request not answered yet is not performed (the connection is being closed anyway) */
    if (__atomic_load_n(&r->srv->stopping, __ATOMIC_ACQUIRE)) { r->reset = 1; return MHD_NO; }
    if (r->reset_after > 0) { r->reset = 1; return MHD_NO; }
    r->finishing = 1;
    if (r->fault_body_set) { /* fault body=FILE: the raw document, the operation is not performed */
        char *b = r->fault_body;
        r->fault_body = NULL;
        return req_send_buf(r, r->fault_status ? (unsigned)r->fault_status : 200, "application/xml", b, r->fault_body_len);
    }
    if (r->endless_list) return mp_endless_page(r);
    if (r->complete_error)
        return req_error(r, 200, r->fault_code ? r->fault_code : "InternalError",
                         "We encountered an internal error. Please try again.", NULL);
    if (r->fault_status) {
        const char *code = r->fault_code;
        if (!code) code = r->fault_status == 503 ? "SlowDown" : r->fault_status >= 500 ? "InternalError" :
                          r->fault_status == 404 ? "NoSuchKey" : r->fault_status == 403 ? "AccessDenied" : "InvalidRequest";
        return req_error(r, (unsigned)r->fault_status, code, "Injected fault (cosd --fault).", NULL);
    }
    if (r->body_too_large) {
        if (r->api == COS_API_COMPLETE_MULTIPART_UPLOAD) return req_error(r, 400, "XMLSizeLimit", "The XML you provided was larger than the maximum allowed.", NULL);
        return req_error(r, 400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.", NULL);
    }
    switch (r->api) {
    case COS_API_POST_OBJECT: return form_finish(r);
    case COS_API_INITIATE_MULTIPART_UPLOAD: case COS_API_UPLOAD_PART: case COS_API_LIST_PARTS: case COS_API_COMPLETE_MULTIPART_UPLOAD:
    case COS_API_ABORT_MULTIPART_UPLOAD: case COS_API_LIST_MULTIPART_UPLOADS: return mp_finish(r);
    default: return op_finish(r);
    }
}

/* request log: the request headers in the order they were received */
static enum MHD_Result keep_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    cosd_req *r = cls;
    hdr_pair *n = realloc(r->qh, (r->nqh + 1) * sizeof *n);
    if (!n) return MHD_NO;
    r->qh = n;
    r->qh[r->nqh].name = strdup(key ? key : "");
    r->qh[r->nqh].value = strdup(value ? value : "");
    r->nqh++;
    return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_data_size,
                               void **con_cls) {
    (void)url; (void)version;
    cosd_req *r = *con_cls;
    if (!r) return MHD_NO;
    r->srv = cls;
    r->conn = conn;
    if (r->srv->request_log) {
        if (!r->started) MHD_get_connection_values(conn, MHD_HEADER_KIND, keep_header, r);
        else if (*upload_data_size) {
            if (r->rl_len + *upload_data_size <= COSD_REQLOG_BODY_MAX) sb_append(&r->rl_body, upload_data, *upload_data_size);
            r->rl_len += *upload_data_size;
        }
    }
    if (r->done) { *upload_data_size = 0; return MHD_YES; }
    if (!r->started) {
        r->started = 1;
        r->method = method;
        shape_latency(r);
        return first_call(r) == MHD_NO ? MHD_NO : MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        r->bytes_in += n;
        *upload_data_size = 0;
        if (r->reset_after > 0 && r->bytes_in >= (uint64_t)r->reset_after) { r->reset = 1; return MHD_NO; }
        int rc = r->body_mode == BODY_FORM ? form_feed(r, upload_data, n) : body_write(r, upload_data, n);
        if (rc != 0) return req_error(r, 500, "InternalError", "cosd could not store the request body.", NULL) == MHD_NO ? MHD_NO : MHD_YES;
        shape_after(r, n);
        return MHD_YES;
    }
    return final_call(r) == MHD_NO ? MHD_NO : MHD_YES;
}

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *conn) {
    (void)conn;
    cosd_req *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->srv = cls;
    r->target = strdup(uri ? uri : "");
    r->fd = -1;
    r->reset_after = -1;
    r->body_max = 0;
    sb_init(&r->mem);
    sb_init(&r->rl_body);
    r->ka_spaces = -1;
    return r;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls; (void)conn;
    cosd_req *r = *con_cls;
    if (!r) return;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && (r->reset || !r->done)) r->status = 0;
    if (r->reset) r->status = 0;
    if (!r->method) r->method = "-";
    log_access(r);
    log_request(r); /* when no answer was queued (status 0); else already written */
    form_free(r);
    if (r->fd >= 0) close(r->fd);
    if (r->tmp_path) { unlink(r->tmp_path); free(r->tmp_path); }
    if (r->md5) EVP_MD_CTX_free(r->md5);
    sb_free(&r->mem);
    target_free(NULL, r->q, r->nq);
    for (size_t i = 0; i < r->nrh; i++) { free(r->rh[i].name); free(r->rh[i].value); }
    free(r->rh);
    for (size_t i = 0; i < r->nqh; i++) { free(r->qh[i].name); free(r->qh[i].value); }
    free(r->qh);
    sb_free(&r->rl_body);
    free(r->fault_body);
    free(r->fault_code);
    free(r->fault_etag);
    free(r->fault_crc64);
    free(r->fault_content_sha1);
    free(r->host_region);
    free(r->bucket);
    free(r->key);
    free(r->sign_path);
    free(r->target);
    free(r);
    *con_cls = NULL;
}

int http_start(cosd_server *srv, const char *listen, int *port_out) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    char hostpart[64];
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= sizeof hostpart) return -1;
    memcpy(hostpart, listen, (size_t)(colon - listen));
    hostpart[colon - listen] = 0;
    if (!strcmp(hostpart, "localhost")) strcpy(hostpart, "127.0.0.1");
    if (inet_pton(AF_INET, hostpart[0] ? hostpart : "0.0.0.0", &sa.sin_addr) != 1) return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) return -1;
    sa.sin_port = htons((uint16_t)port);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (srv->tls) flags |= MHD_USE_TLS;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, &sa},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_log, srv},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, srv},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, 120, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, 1000, NULL},
        {MHD_OPTION_LISTEN_BACKLOG_SIZE, 256, NULL},
        {srv->tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, srv->tls_key_pem},
        {srv->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, srv->tls_cert_pem},
        {MHD_OPTION_END, 0, NULL}};
    srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handler, srv, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!srv->daemon) return -1;
    if (srv->bandwidth > 0) {
        /* An Ethernet-sized MSS for the connections accepted from now on: on loopback (MSS 64 KiB)
         * the client's kernel would size its send buffer to megabytes, and its progress would run
         * that far ahead of the pace. */
        const union MHD_DaemonInfo *li = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_LISTEN_FD);
        int mss = 1460;
        if (li) setsockopt(li->listen_fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    *port_out = info ? info->port : (int)port;
    return 0;
}
