/* ops: the single-object operations (PUT, APPEND, HEAD, GET, DELETE) and GET Bucket. */
#include "cosd.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int req_send_body(cosd_req *r, unsigned status, store_body *b, uint64_t off, uint64_t len);

/* Content-MD5: 0 = absent, 1 = valid (md5 filled), -1 = malformed. */

/* Parses an IMF-fixdate ("Wed, 21 Oct 2037 07:28:00 GMT"); 1 on success. */
static int http_date(const char *v, time_t *out) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!v) return 0;
    const char *end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end) return 0;
    *out = timegm(&tm);
    return 1;
}

static int content_md5(cosd_req *r, unsigned char md5[16]) {
    const char *v = req_header(r, "Content-MD5");
    if (!v) return 0;
    unsigned char out[32];
    if (strlen(v) != 24 || v[22] != '=' || v[23] != '=') return -1;
    if (EVP_DecodeBlock(out, (const unsigned char *)v, 24) != 18) return -1;
    memcpy(md5, out, 16);
    return 1;
}

/* x-cos-traffic-limit (bits per second): checked, then applied to the body (shape.c). 0 ok, else a
 * response was queued. */
static int traffic_limit(cosd_req *r) {
    double rate;
    if (shape_traffic_limit(req_header(r, "x-cos-traffic-limit"), &rate) != 0)
        return req_error(r, 400, "InvalidArgument", "x-cos-traffic-limit must be between 819200 and 838860800.", NULL), -1;
    shape_begin(r, rate);
    return 0;
}

/* Checks shared by uploads: Content-MD5 shape, traffic limit. 0 ok, else a response was queued. */
int upload_prechecks(cosd_req *r);
int upload_prechecks(cosd_req *r) {
    unsigned char md5[16];
    if (content_md5(r, md5) < 0) return req_error(r, 400, "InvalidDigest", "The Content-MD5 you specified is not valid.", NULL), -1;
    return traffic_limit(r);
}

/* After the body: BadDigest when Content-MD5 differs. 0 ok. */
int upload_check_md5(cosd_req *r, const unsigned char got[16]);
int upload_check_md5(cosd_req *r, const unsigned char got[16]) {
    unsigned char want[16];
    if (content_md5(r, want) == 1 && memcmp(want, got, 16) != 0)
        return req_error(r, 400, "BadDigest", "The Content-MD5 you specified did not match what we received.", NULL), -1;
    return 0;
}

static int need_length(cosd_req *r) {
    const char *cl = req_header(r, "Content-Length");
    const char *te = req_header(r, "Transfer-Encoding");
    if (!cl && !(te && strcasestr(te, "chunked"))) {
        req_error(r, 411, "MissingContentLength", "You must provide the Content-Length HTTP header.", NULL);
        return -1;
    }
    if (cl && strtoull(cl, NULL, 10) > COSD_MAX_PUT) {
        req_error(r, 400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.", NULL);
        return -1;
    }
    return 0;
}

/* A PUT whose Content-Length announces at most COSD_INLINE_MAX bytes is kept in memory and stored
 * as one file (store_commit_inline); body_max becomes that length (the framing allows no more). */
static int small_body(cosd_req *r) {
    const char *cl = req_header(r, "Content-Length");
    char *end;
    if (!cl || !*cl || req_header(r, "Transfer-Encoding")) return 0; /* chunked: the length is not known */
    unsigned long long n = strtoull(cl, &end, 10);
    if (*end || n > COSD_INLINE_MAX) return 0;
    r->body_max = n;
    return 1;
}

int op_begin(cosd_req *r) {
    switch (r->api) {
    case COS_API_PUT_OBJECT:
        if (upload_prechecks(r) || need_length(r)) return MHD_YES;
        r->body_max = COSD_MAX_PUT;
        if (small_body(r)) {
            if (body_open_mem(r, (size_t)r->body_max) != 0) return req_error(r, 500, "InternalError", "out of memory", NULL);
        } else if (body_open_file(r) != 0) return req_error(r, 500, "InternalError", "cosd could not create a temp file.", NULL);
        return MHD_YES;
    case COS_API_APPEND_OBJECT: {
        const char *pos = req_query(r, "position", NULL);
        char *end;
        if (!pos || !*pos) return req_error(r, 400, "InvalidArgument", "The position parameter is required.", NULL);
        r->append_pos = strtoull(pos, &end, 10);
        if (*end || pos[0] == '-') return req_error(r, 400, "InvalidArgument", "The position parameter is not valid.", NULL);
        if (upload_prechecks(r) || need_length(r)) return MHD_YES;
        obj_meta m;
        if (store_read_meta(r->srv, r->bucket, r->key, r->keylen, &m) == 0) {
            int appendable = m.appendable;
            uint64_t size = m.size;
            meta_free(&m);
            if (!appendable) return req_error(r, 409, "ObjectNotAppendable", "The operation is not valid for the current state of the object.", NULL);
            if (size != r->append_pos) {
                char buf[32];
                snprintf(buf, sizeof buf, "%" PRIu64, size);
                req_add_header(r, "x-cos-next-append-position", buf);
                return req_error(r, 409, "AppendPositionErr", "Position not equal object length.", NULL);
            }
        } else if (r->append_pos != 0) {
            req_add_header(r, "x-cos-next-append-position", "0");
            return req_error(r, 409, "AppendPositionErr", "Position not equal object length.", NULL);
        }
        r->body_max = COSD_MAX_PUT;
        if (body_open_file(r) != 0) return req_error(r, 500, "InternalError", "cosd could not create a temp file.", NULL);
        return MHD_YES;
    }
    case COS_API_GET_BUCKET: {
        const char *et = req_query(r, "encoding-type", NULL);
        if (et && *et && strcmp(et, "url") != 0) return req_error(r, 400, "InvalidArgument", "encoding-type must be url.", NULL);
        const char *mk = req_query(r, "max-keys", NULL);
        if (mk && *mk) {
            char *end;
            long v = strtol(mk, &end, 10);
            if (*end || v < 0) return req_error(r, 400, "InvalidArgument", "max-keys is not valid.", NULL);
        }
    }
    /* fall through */
    default:
        if (r->api == COS_API_GET_OBJECT && traffic_limit(r)) return MHD_YES; /* COS paces downloads too */
        r->body_mode = BODY_DISCARD;
        r->body_max = UINT64_MAX;
        return MHD_YES;
    }
}

static void add_u64(cosd_req *r, const char *name, uint64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    req_add_header(r, name, buf);
}

static int finish_put(cosd_req *r) {
    unsigned char md5[16];
    char hex[33];
    body_finish_md5(r, md5);
    if (upload_check_md5(r, md5)) return MHD_YES;
    hex_encode(md5, 16, hex);
    obj_meta m = {0};
    m.key = malloc(r->keylen + 1);
    memcpy(m.key, r->key, r->keylen);
    m.key[r->keylen] = 0;
    m.keylen = r->keylen;
    m.size = r->body_len;
    snprintf(m.etag, sizeof m.etag, "\"%s\"", hex);
    m.crc = r->crc;
    m.mtime = time(NULL);
    meta_copy_request_headers(&m, r);
    int rc;
    if (r->body_mode == BODY_MEM) {
        rc = store_commit_inline(r->srv, r->bucket, &m, r->mem.data, r->mem.len);
    } else {
        close(r->fd);
        r->fd = -1;
        rc = store_commit(r->srv, r->bucket, r->tmp_path, &m);
        if (rc == 0) { free(r->tmp_path); r->tmp_path = NULL; }
    }
    req_add_header(r, "ETag", m.etag);
    add_u64(r, "x-cos-hash-crc64ecma", m.crc);
    meta_free(&m);
    if (rc != 0) { r->nrh -= 0; return req_error(r, 500, "InternalError", "cosd could not store the object.", NULL); }
    return req_send_empty(r, 200);
}

static int finish_append(cosd_req *r) {
    unsigned char md5[16];
    char hex[33];
    body_finish_md5(r, md5);
    if (upload_check_md5(r, md5)) return MHD_YES;
    hex_encode(md5, 16, hex);
    close(r->fd);
    r->fd = -1;
    obj_meta out = {0};
    uint64_t cur = 0;
    int rc = store_append(r->srv, r->bucket, r->key, r->keylen, r->append_pos, r->tmp_path, r->body_len, r->crc, r, &out, &cur);
    if (rc == 1) {
        add_u64(r, "x-cos-next-append-position", cur);
        return req_error(r, 409, "AppendPositionErr", "Position not equal object length.", NULL);
    }
    if (rc == 2) return req_error(r, 409, "ObjectNotAppendable", "The operation is not valid for the current state of the object.", NULL);
    if (rc != 0) return req_error(r, 500, "InternalError", "cosd could not append to the object.", NULL);
    if (out.size == r->body_len) { free(r->tmp_path); r->tmp_path = NULL; } /* first append: renamed */
    add_u64(r, "x-cos-next-append-position", out.size);
    req_add_header(r, "ETag", out.etag);
    req_add_header(r, "x-cos-content-sha1", hex);
    add_u64(r, "x-cos-hash-crc64ecma", out.crc);
    meta_free(&out);
    return req_send_empty(r, 200);
}

static const char *override_for(cosd_req *r, const char *hdr) {
    static const char *map[][2] = {{"content-type", "response-content-type"}, {"content-language", "response-content-language"},
        {"expires", "response-expires"}, {"cache-control", "response-cache-control"},
        {"content-disposition", "response-content-disposition"}, {"content-encoding", "response-content-encoding"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcasecmp(hdr, map[i][0])) return req_query(r, map[i][1], NULL);
    return NULL;
}

static int etag_matches(const char *list, const char *etag) {
    if (!strcmp(list, "*")) return 1;
    const char *e = etag;
    size_t el = strlen(e);
    if (el >= 2 && e[0] == '"') { e++; el -= 2; }
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        const char *s = p;
        while (*p && *p != ',') p++;
        const char *t = p;
        while (t > s && t[-1] == ' ') t--;
        if (t - s >= 2 && *s == '"') { s++; t--; }
        if ((size_t)(t - s) == el && !strncmp(s, e, el)) return 1;
    }
    return 0;
}

static int finish_get(cosd_req *r) {
    obj_meta m;
    store_body *fd = NULL; /* the object's file(s) */
    int anon = 0;
    for (size_t i = 0; i < r->nrh; i++)
        if (!strcmp(r->rh[i].name, "x-cosd-anonymous")) { anon = 1; r->rh[i].name[0] = 0; }
    if (anon) { /* drop the internal marker */
        size_t j = 0;
        for (size_t i = 0; i < r->nrh; i++) {
            if (!r->rh[i].name[0]) { free(r->rh[i].name); free(r->rh[i].value); continue; }
            r->rh[j++] = r->rh[i];
        }
        r->nrh = j;
    }
    if (store_open(r->srv, r->bucket, r->key, r->keylen, &m, &fd) != 0) {
        if (anon) return req_error(r, 403, "AccessDenied", "Access Denied.", NULL);
        return req_error(r, 404, "NoSuchKey", "The specified key does not exist.", NULL);
    }
    if (anon) {
        const char *acl = meta_header(&m, "x-cos-acl");
        if (!acl || (strcmp(acl, "public-read") && strcmp(acl, "public-read-write"))) {
            store_body_free(fd);
            meta_free(&m);
            return req_error(r, 403, "AccessDenied", "Access Denied.", NULL);
        }
    }
    char buf[64];
    int has_ctype = 0;
    for (size_t i = 0; i < m.nh; i++) {
        const char *n = m.h[i].name;
        if (!strcmp(n, "x-cos-storage-class") && !strcasecmp(m.h[i].value, "STANDARD")) continue;
        if (!strcmp(n, "content-type")) has_ctype = 1;
        const char *ov = override_for(r, n);
        req_add_header(r, n, ov ? ov : m.h[i].value);
    }
    static const char *ovs[] = {"content-type", "content-language", "expires", "cache-control", "content-disposition", "content-encoding", NULL};
    for (int i = 0; ovs[i]; i++) {
        const char *ov = override_for(r, ovs[i]);
        if (ov && !meta_header(&m, ovs[i])) { req_add_header(r, ovs[i], ov); if (!strcmp(ovs[i], "content-type")) has_ctype = 1; }
    }
    if (!has_ctype) req_add_header(r, "Content-Type", "application/octet-stream");
    req_add_header(r, "ETag", m.etag);
    http_time(m.mtime, buf, sizeof buf);
    req_add_header(r, "Last-Modified", buf);
    add_u64(r, "x-cos-hash-crc64ecma", m.crc);
    req_add_header(r, "Accept-Ranges", "bytes");
    req_add_header(r, "x-cos-object-type", m.appendable ? "appendable" : "normal");
    if (m.appendable) add_u64(r, "x-cos-next-append-position", m.size);
    const char *im = req_header(r, "If-Match"), *inm = req_header(r, "If-None-Match");
    if (im && !etag_matches(im, m.etag)) {
        store_body_free(fd); meta_free(&m);
        return req_error(r, 412, "PreconditionFailed", "Precondition not match.", NULL);
    }
    if (inm && etag_matches(inm, m.etag)) {
        store_body_free(fd); meta_free(&m);
        return req_send_empty(r, 304);
    }
    /* RFC 7232 order: the date conditions apply only when the matching ETag condition is absent. */
    time_t since;
    if (!im && http_date(req_header(r, "If-Unmodified-Since"), &since) && m.mtime > since) {
        store_body_free(fd); meta_free(&m);
        return req_error(r, 412, "PreconditionFailed", "Precondition not match.", NULL);
    }
    if (!inm && http_date(req_header(r, "If-Modified-Since"), &since) && m.mtime <= since) {
        store_body_free(fd); meta_free(&m);
        return req_send_empty(r, 304);
    }
    uint64_t off = 0, len = m.size;
    unsigned status = 200;
    const char *range = req_header(r, "Range");
    if (range && !strncasecmp(range, "bytes=", 6) && !strchr(range, ',')) {
        const char *p = range + 6;
        char *end;
        int ok = 1;
        uint64_t a = 0, b = 0;
        if (*p == '-') {
            uint64_t n = strtoull(p + 1, &end, 10);
            if (*end || end == p + 1 || n == 0) ok = 0;
            else { if (n > m.size) n = m.size; a = m.size - n; b = m.size ? m.size - 1 : 0; if (!m.size) ok = 0; }
        } else {
            a = strtoull(p, &end, 10);
            if (end == p || *end != '-') ok = 0;
            else {
                const char *q = end + 1;
                if (!*q) b = m.size ? m.size - 1 : 0;
                else { b = strtoull(q, &end, 10); if (*end || b < a) ok = 0; }
                if (b >= m.size && m.size) b = m.size - 1;
                if (a >= m.size) ok = 0;
            }
        }
        if (!ok) {
            store_body_free(fd);
            snprintf(buf, sizeof buf, "bytes */%" PRIu64, m.size);
            req_add_header(r, "Content-Range", buf);
            meta_free(&m);
            return req_error(r, 416, "InvalidRange", "The requested range is not satisfiable.", NULL);
        }
        off = a;
        len = b - a + 1;
        status = 206;
        snprintf(buf, sizeof buf, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, a, b, m.size);
        req_add_header(r, "Content-Range", buf);
    }
    meta_free(&m);
    return req_send_body(r, status, fd, off, len);
}

static int finish_list(cosd_req *r) {
    const char *prefix = req_query(r, "prefix", NULL);
    const char *delim = req_query(r, "delimiter", NULL);
    const char *marker = req_query(r, "marker", NULL);
    const char *mk = req_query(r, "max-keys", NULL);
    const char *et = req_query(r, "encoding-type", NULL);
    int urlenc = et && !strcmp(et, "url");
    long max = mk && *mk ? strtol(mk, NULL, 10) : 1000;
    if (max > 1000) max = 1000;
    if (!prefix) prefix = "";
    if (!marker) marker = "";
    size_t pl = strlen(prefix), dl = delim ? strlen(delim) : 0, ml = strlen(marker);
    obj_meta *all = NULL;
    size_t n = 0;
    store_list(r->srv, r->bucket, &all, &n);
    const char *appid = strrchr(r->bucket, '-');
    appid = appid ? appid + 1 : r->bucket;
    strbuf body, items;
    sb_init(&body);
    sb_init(&items);
    long count = 0;
    int truncated = 0;
    const char *last = NULL;
    size_t lastlen = 0;
    char *lastcp = NULL;
    size_t lastcpl = 0;
    for (size_t i = 0; i < n; i++) {
        obj_meta *m = &all[i];
        if (m->keylen < pl || memcmp(m->key, prefix, pl) != 0) continue;
        if (ml) {
            size_t c = m->keylen < ml ? m->keylen : ml;
            int cmp = memcmp(m->key, marker, c);
            if (cmp < 0 || (cmp == 0 && m->keylen <= ml)) continue;
        }
        const char *cp = NULL;
        size_t cpl = 0;
        if (dl) {
            const char *rest = m->key + pl;
            size_t rl = m->keylen - pl;
            for (size_t j = 0; j + dl <= rl; j++)
                if (!memcmp(rest + j, delim, dl)) { cp = m->key; cpl = pl + j + dl; break; }
        }
        if (cp) {
            if (lastcp && lastcpl == cpl && !memcmp(lastcp, cp, cpl)) continue;
            if (cpl == ml && !memcmp(cp, marker, ml)) continue; /* the marker was this prefix */
        }
        if (count >= max) { truncated = 1; break; }
        count++;
        if (cp) {
            lastcp = m->key;
            lastcpl = cpl;
            last = cp;
            lastlen = cpl;
            sb_puts(&items, "\t<CommonPrefixes>\n");
            xml_elem_key(&items, "\t\t", "Prefix", cp, cpl, urlenc);
            sb_puts(&items, "\t</CommonPrefixes>\n");
        } else {
            char t[40];
            last = m->key;
            lastlen = m->keylen;
            iso_time(m->mtime, t, sizeof t);
            const char *sc = meta_header(m, "x-cos-storage-class");
            sb_puts(&items, "\t<Contents>\n");
            xml_elem_key(&items, "\t\t", "Key", m->key, m->keylen, urlenc);
            xml_elem(&items, "\t\t", "LastModified", t);
            xml_elem(&items, "\t\t", "ETag", m->etag);
            sb_printf(&items, "\t\t<Size>%" PRIu64 "</Size>\n", m->size);
            sb_printf(&items, "\t\t<Owner>\n\t\t\t<ID>%s</ID>\n\t\t\t<DisplayName>%s</DisplayName>\n\t\t</Owner>\n", appid, appid);
            xml_elem(&items, "\t\t", "StorageClass", sc ? sc : "STANDARD");
            sb_puts(&items, "\t</Contents>\n");
        }
    }
    sb_puts(&body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult>\n");
    xml_elem(&body, "\t", "Name", r->bucket);
    if (urlenc) xml_elem(&body, "\t", "EncodingType", "url");
    xml_elem_key(&body, "\t", "Prefix", prefix, pl, urlenc);
    xml_elem_key(&body, "\t", "Marker", marker, ml, urlenc);
    sb_printf(&body, "\t<MaxKeys>%ld</MaxKeys>\n", max);
    if (delim) xml_elem_key(&body, "\t", "Delimiter", delim, dl, urlenc);
    sb_printf(&body, "\t<IsTruncated>%s</IsTruncated>\n", truncated ? "true" : "false");
    if (truncated && last) xml_elem_key(&body, "\t", "NextMarker", last, lastlen, urlenc);
    if (items.data) sb_append(&body, items.data, items.len);
    sb_puts(&body, "</ListBucketResult>");
    sb_free(&items);
    for (size_t i = 0; i < n; i++) meta_free(&all[i]);
    free(all);
    size_t len = body.len;
    return req_send_buf(r, 200, "application/xml", sb_detach(&body), len);
}

int op_finish(cosd_req *r) {
    switch (r->api) {
    case COS_API_PUT_OBJECT: return finish_put(r);
    case COS_API_APPEND_OBJECT: return finish_append(r);
    case COS_API_GET_OBJECT: case COS_API_HEAD_OBJECT: return finish_get(r);
    case COS_API_DELETE_OBJECT:
        store_delete(r->srv, r->bucket, r->key, r->keylen);
        return req_send_empty(r, 204);
    case COS_API_GET_BUCKET: return finish_list(r);
    case COS_API_HEAD_BUCKET: return req_send_empty(r, 200);
    default: return req_error(r, 501, "NotImplemented", "This operation is not implemented by cosd.", NULL);
    }
}
