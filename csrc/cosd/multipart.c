/* multipart: Initiate / Upload Part / List Parts / Complete / Abort / List Multipart Uploads.
 * An upload is the directory b/<bucket>/u/<UploadId>/ holding "info" (key, time, headers given at
 * Initiate) and one file per part named p<NNNNN>-<md5 hex>-<crc64>, installed by an atomic rename,
 * so a part is either whole or absent. Complete claims the directory (rename to .c.<id>), checks
 * the list, streams the parts into a temp file and commits it like a PUT. */
#include "cosd.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "crc64.h"

int upload_prechecks(cosd_req *r);
int upload_check_md5(cosd_req *r, const unsigned char got[16]);

typedef struct part_info {
    long number;
    char md5[33];
    uint64_t crc, size;
    time_t mtime;
    char fname[300];
} part_info;

typedef struct upload_info {
    char *key; size_t keylen;
    char id[80];
    time_t initiated;
    obj_meta hdrs; /* only h/nh used */
} upload_info;

static void upload_info_free(upload_info *u) {
    free(u->key);
    meta_free(&u->hdrs);
    memset(u, 0, sizeof *u);
}

static int valid_upload_id(const char *id) {
    if (!id) return 0;
    size_t n = strlen(id);
    if (n < 10 || n > 78) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) return 0;
    return 1;
}

static char *upload_dir(cosd_req *r, const char *prefix, const char *id) {
    char *p = NULL;
    if (asprintf(&p, "%s/b/%s/u/%s%s", r->srv->data_dir, r->bucket, prefix, id) < 0) return NULL;
    return p;
}

static void info_line(void *ud, const char *name, char *v) {
    upload_info *u = ud;
    if (!strcmp(name, "key")) {
        free(u->key);
        u->key = sidecar_key(v, &u->keylen);
    } else if (!strcmp(name, "initiated")) u->initiated = (time_t)strtoll(v, NULL, 10);
    else if (!strcmp(name, "h")) sidecar_header(&u->hdrs, v);
}

static int read_info(const char *dir, upload_info *u) {
    char *p = NULL;
    memset(u, 0, sizeof *u);
    if (asprintf(&p, "%s/info", dir) < 0) return -1;
    int rc = sidecar_read(p, info_line, u);
    free(p);
    if (rc != 0 || !u->key) { upload_info_free(u); return -1; }
    const char *slash = strrchr(dir, '/');
    snprintf(u->id, sizeof u->id, "%s", slash ? slash + 1 : dir);
    return 0;
}

/* The upload named by the request: exists and belongs to this key. */
static int find_upload(cosd_req *r, upload_info *u) {
    if (!valid_upload_id(r->upload_id)) return -1;
    char *dir = upload_dir(r, "", r->upload_id);
    int rc = dir ? read_info(dir, u) : -1;
    free(dir);
    if (rc == 0 && (u->keylen != r->keylen || memcmp(u->key, r->key, r->keylen) != 0)) { upload_info_free(u); rc = -1; }
    return rc;
}

static int cmp_part(const void *a, const void *b) {
    const part_info *x = a, *y = b;
    return (x->number > y->number) - (x->number < y->number);
}

static int list_parts(const char *dir, part_info **out, size_t *n) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return -1;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        part_info p = {0};
        char md5[40] = {0};
        unsigned long long crc;
        if (e->d_name[0] != 'p' || sscanf(e->d_name, "p%5ld-%32[0-9a-f]-%llu", &p.number, md5, &crc) != 3) continue;
        memcpy(p.md5, md5, 33);
        p.crc = crc;
        snprintf(p.fname, sizeof p.fname, "%.256s", e->d_name);
        char *full = NULL;
        struct stat st;
        if (asprintf(&full, "%s/%s", dir, e->d_name) < 0) continue;
        if (stat(full, &st) == 0) {
            p.size = (uint64_t)st.st_size;
            p.mtime = st.st_mtime;
            if (*n == cap) {
                cap = cap ? cap * 2 : 32;
                part_info *np = realloc(*out, cap * sizeof *np);
                if (!np) { free(full); break; }
                *out = np;
            }
            (*out)[(*n)++] = p;
        }
        free(full);
    }
    closedir(d);
    if (*n) qsort(*out, *n, sizeof **out, cmp_part);
    return 0;
}

static const char *appid_of(const char *bucket) {
    const char *d = strrchr(bucket, '-');
    return d ? d + 1 : bucket;
}

int mp_begin(cosd_req *r) {
    r->upload_id = req_query(r, "uploadId", NULL);
    r->body_mode = BODY_DISCARD;
    r->body_max = UINT64_MAX;
    switch (r->api) {
    case COS_API_UPLOAD_PART: {
        const char *pn = req_query(r, "partNumber", NULL);
        char *end = NULL;
        long n = pn ? strtol(pn, &end, 10) : -1;
        if (!pn || !*pn || *end || n < 1 || n > 10000)
            return req_error(r, 400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive.", NULL);
        r->part_number = n;
        upload_info u;
        if (find_upload(r, &u) != 0) return req_error(r, 404, "NoSuchUpload", "The specified upload does not exist.", NULL);
        upload_info_free(&u);
        if (upload_prechecks(r)) return MHD_YES;
        const char *cl = req_header(r, "Content-Length"), *te = req_header(r, "Transfer-Encoding");
        if (!cl && !(te && strcasestr(te, "chunked")))
            return req_error(r, 411, "MissingContentLength", "You must provide the Content-Length HTTP header.", NULL);
        if (cl && strtoull(cl, NULL, 10) > COSD_MAX_PUT)
            return req_error(r, 400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed part size.", NULL);
        r->body_max = COSD_MAX_PUT;
        if (body_open_file(r) != 0) return req_error(r, 500, "InternalError", "cosd could not create a temp file.", NULL);
        return MHD_YES;
    }
    case COS_API_LIST_PARTS: case COS_API_ABORT_MULTIPART_UPLOAD: case COS_API_COMPLETE_MULTIPART_UPLOAD: {
        upload_info u;
        if (find_upload(r, &u) != 0) return req_error(r, 404, "NoSuchUpload", "The specified upload does not exist.", NULL);
        upload_info_free(&u);
        if (r->api == COS_API_COMPLETE_MULTIPART_UPLOAD) {
            const char *cl = req_header(r, "Content-Length");
            if (cl && strtoull(cl, NULL, 10) > COSD_MAX_XML)
                return req_error(r, 400, "XMLSizeLimit", "The XML you provided was larger than the maximum allowed.", NULL);
            r->body_mode = BODY_MEM;
            r->body_max = COSD_MAX_XML;
        }
        if (r->api == COS_API_LIST_PARTS) {
            const char *mp = req_query(r, "max-parts", NULL), *pm = req_query(r, "part-number-marker", NULL);
            char *end;
            if (mp && *mp) { long v = strtol(mp, &end, 10); if (*end || v < 0) return req_error(r, 400, "InvalidArgument", "max-parts is not valid.", NULL); }
            if (pm && *pm) { long v = strtol(pm, &end, 10); if (*end || v < 0) return req_error(r, 400, "InvalidArgument", "part-number-marker is not valid.", NULL); }
            const char *et = req_query(r, "encoding-type", NULL);
            if (et && *et && strcmp(et, "url")) return req_error(r, 400, "InvalidArgument", "encoding-type must be url.", NULL);
        }
        return MHD_YES;
    }
    case COS_API_LIST_MULTIPART_UPLOADS: {
        const char *mu = req_query(r, "max-uploads", NULL), *et = req_query(r, "encoding-type", NULL);
        if (mu && *mu) {
            char *end;
            long v = strtol(mu, &end, 10);
            if (*end || v < 1 || v > 1000) return req_error(r, 400, "InvalidArgument", "max-uploads must be between 1 and 1000.", NULL);
        }
        if (et && *et && strcmp(et, "url")) return req_error(r, 400, "InvalidArgument", "encoding-type must be url.", NULL);
        return MHD_YES;
    }
    default:
        return MHD_YES;
    }
}

static int finish_initiate(cosd_req *r) {
    unsigned char rnd[32];
    char hex[65], id[80];
    RAND_bytes(rnd, sizeof rnd);
    hex_encode(rnd, sizeof rnd, hex);
    snprintf(id, sizeof id, "%010lld%s", (long long)time(NULL), hex);
    char u[96];
    req_unique(r->srv, u, sizeof u);
    char *tmpdir = NULL, *udir = store_bucket_dir(r->srv, r->bucket, "u"), *final = NULL, *info = NULL;
    int ok = 0;
    if (udir && mkdir_p(udir) == 0 && asprintf(&tmpdir, "%s/tmp/up-%s", r->srv->data_dir, u) >= 0 &&
        mkdir(tmpdir, 0755) == 0 && asprintf(&info, "%s/info", tmpdir) >= 0 && asprintf(&final, "%s/%s", udir, id) >= 0) {
        FILE *f = fopen(info, "we");
        if (f) {
            obj_meta m = {0};
            meta_copy_request_headers(&m, r);
            char *kh = malloc(r->keylen * 2 + 1);
            hex_encode((const unsigned char *)r->key, r->keylen, kh);
            fprintf(f, "key %s\ninitiated %lld\n", kh, (long long)time(NULL));
            free(kh);
            for (size_t i = 0; i < m.nh; i++) fprintf(f, "h %s %s\n", m.h[i].name, m.h[i].value);
            meta_free(&m);
            ok = fclose(f) == 0 && rename(tmpdir, final) == 0;
        }
    }
    if (!ok && tmpdir) rm_rf(tmpdir);
    free(tmpdir); free(udir); free(final); free(info);
    if (!ok) return req_error(r, 500, "InternalError", "cosd could not create the upload.", NULL);
    strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "<InitiateMultipartUploadResult>\n");
    xml_elem(&sb, "\t", "Bucket", r->bucket);
    xml_elem_n(&sb, "\t", "Key", r->key, r->keylen);
    xml_elem(&sb, "\t", "UploadId", id);
    sb_puts(&sb, "</InitiateMultipartUploadResult>");
    size_t len = sb.len;
    return req_send_buf(r, 200, "application/xml", sb_detach(&sb), len);
}

static int finish_part(cosd_req *r) {
    unsigned char md5[16];
    char hex[33], crcs[32];
    body_finish_md5(r, md5);
    if (upload_check_md5(r, md5)) return MHD_YES;
    hex_encode(md5, 16, hex);
    close(r->fd);
    r->fd = -1;
    char *dir = upload_dir(r, "", r->upload_id), *dst = NULL;
    char prefix[16];
    snprintf(prefix, sizeof prefix, "p%05ld-", r->part_number);
    int rc = -1;
    pthread_mutex_lock(&r->srv->lock);
    if (dir && asprintf(&dst, "%s/%s%s-%" PRIu64, dir, prefix, hex, r->crc) >= 0) {
        char *info = NULL;
        struct stat st;
        if (asprintf(&info, "%s/info", dir) >= 0 && stat(info, &st) == 0) {
            DIR *d = opendir(dir);
            struct dirent *e;
            while (d && (e = readdir(d))) {
                if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
                char *old = NULL;
                if (asprintf(&old, "%s/%s", dir, e->d_name) >= 0) {
                    if (strcmp(old, dst) != 0) unlink(old);
                    free(old);
                }
            }
            if (d) closedir(d);
            rc = rename(r->tmp_path, dst) == 0 ? 0 : -2;
        }
        free(info);
    }
    pthread_mutex_unlock(&r->srv->lock);
    free(dir); free(dst);
    if (rc == -1) return req_error(r, 404, "NoSuchUpload", "The specified upload does not exist.", NULL);
    if (rc != 0) return req_error(r, 500, "InternalError", "cosd could not store the part.", NULL);
    char etag[40];
    snprintf(etag, sizeof etag, "\"%s\"", hex);
    snprintf(crcs, sizeof crcs, "%" PRIu64, r->crc);
    req_add_header(r, "ETag", etag);
    req_add_header(r, "x-cos-hash-crc64ecma", crcs);
    return req_send_empty(r, 200);
}

static int finish_list_parts(cosd_req *r) {
    upload_info u;
    if (find_upload(r, &u) != 0) return req_error(r, 404, "NoSuchUpload", "The specified upload does not exist.", NULL);
    char *dir = upload_dir(r, "", r->upload_id);
    part_info *parts = NULL;
    size_t n = 0;
    list_parts(dir, &parts, &n);
    free(dir);
    const char *mp = req_query(r, "max-parts", NULL), *pm = req_query(r, "part-number-marker", NULL);
    const char *et = req_query(r, "encoding-type", NULL);
    int urlenc = et && !strcmp(et, "url");
    long max = mp && *mp ? strtol(mp, NULL, 10) : 1000, marker = pm && *pm ? strtol(pm, NULL, 10) : 0;
    if (max > 1000) max = 1000;
    const char *appid = appid_of(r->bucket);
    const char *sc = meta_header(&u.hdrs, "x-cos-storage-class");
    strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "<ListPartsResult>\n");
    xml_elem(&sb, "\t", "Bucket", r->bucket);
    xml_elem(&sb, "\t", "EncodingType", urlenc ? "url" : NULL);
    xml_elem_key(&sb, "\t", "Key", r->key, r->keylen, urlenc);
    xml_elem(&sb, "\t", "UploadId", r->upload_id);
    sb_printf(&sb, "\t<Owner>\n\t\t<ID>%s</ID>\n\t\t<DisplayName>%s</DisplayName>\n\t</Owner>\n", appid, appid);
    sb_printf(&sb, "\t<PartNumberMarker>%ld</PartNumberMarker>\n", marker);
    sb_printf(&sb, "\t<Initiator>\n\t\t<ID>qcs::cam::uin/%s:uin/%s</ID>\n\t\t<DisplayName>%s</DisplayName>\n\t</Initiator>\n", appid, appid, appid);
    long count = 0, last = 0;
    int truncated = 0;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].number <= marker) continue;
        if (count >= max) { truncated = 1; break; }
        char t[40];
        iso_time(parts[i].mtime, t, sizeof t);
        sb_printf(&sb, "\t<Part>\n\t\t<PartNumber>%ld</PartNumber>\n\t\t<LastModified>%s</LastModified>\n"
                       "\t\t<ETag>&quot;%s&quot;</ETag>\n\t\t<Size>%" PRIu64 "</Size>\n\t</Part>\n",
                  parts[i].number, t, parts[i].md5, parts[i].size);
        last = parts[i].number;
        count++;
    }
    if (truncated) sb_printf(&sb, "\t<NextPartNumberMarker>%ld</NextPartNumberMarker>\n", last);
    xml_elem(&sb, "\t", "StorageClass", sc ? sc : "STANDARD");
    sb_printf(&sb, "\t<MaxParts>%ld</MaxParts>\n\t<IsTruncated>%s</IsTruncated>\n</ListPartsResult>", max,
              truncated ? "true" : "false");
    free(parts);
    upload_info_free(&u);
    size_t len = sb.len;
    return req_send_buf(r, 200, "application/xml", sb_detach(&sb), len);
}

static int finish_abort(cosd_req *r) {
    if (!valid_upload_id(r->upload_id)) return req_error(r, 404, "NoSuchUpload", "The specified upload does not exist.", NULL);
    char *dir = upload_dir(r, "", r->upload_id), *gone = NULL;
    char u[96];
    req_unique(r->srv, u, sizeof u);
    int rc = -1;
    pthread_mutex_lock(&r->srv->lock);
    if (dir && asprintf(&gone, "%s/tmp/abort-%s", r->srv->data_dir, u) >= 0) rc = rename(dir, gone);
    pthread_mutex_unlock(&r->srv->lock);
    if (rc == 0) rm_rf(gone);
    free(dir); free(gone);
    if (rc != 0) return req_error(r, 404, "NoSuchUpload", "The specified upload does not exist.", NULL);
    return req_send_empty(r, 204);
}

static int etag_eq(const char *given, const char *md5) {
    const char *g = given;
    size_t gl = strlen(g);
    while (gl && (*g == ' ' || *g == '\n' || *g == '\t')) { g++; gl--; }
    while (gl && (g[gl - 1] == ' ' || g[gl - 1] == '\n' || g[gl - 1] == '\t')) gl--;
    if (gl >= 2 && g[0] == '"' && g[gl - 1] == '"') { g++; gl -= 2; }
    return gl == 32 && strncasecmp(g, md5, 32) == 0;
}

static int finish_complete(cosd_req *r) {
    complete_part *want = NULL;
    size_t nwant = 0;
    if (xml_parse_complete(r->mem.data, r->mem.len, &want, &nwant) != 0)
        return req_error(r, 400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.", NULL);
    char *dir = upload_dir(r, "", r->upload_id), *claimed = upload_dir(r, ".c.", r->upload_id);
    int rc = -1;
    pthread_mutex_lock(&r->srv->lock);
    if (dir && claimed) rc = rename(dir, claimed);
    pthread_mutex_unlock(&r->srv->lock);
    if (rc != 0) {
        free(dir); free(claimed); free(want);
        return req_error(r, 404, "NoSuchUpload", "The specified upload does not exist.", NULL);
    }
    upload_info u;
    part_info *have = NULL;
    size_t nhave = 0;
    int info_ok = read_info(claimed, &u) == 0;
    list_parts(claimed, &have, &nhave);
    const char *code = NULL, *msg = NULL;
    unsigned status = 400;
    part_info **use = calloc(nwant + 1, sizeof *use);
    if (!info_ok || !use) { code = "InternalError"; msg = "cosd could not read the upload."; status = 500; }
    for (size_t i = 0; !code && i < nwant; i++) {
        if (want[i].number < 1 || want[i].number > 10000) { code = "InvalidArgument"; msg = "Part number must be an integer between 1 and 10000, inclusive."; break; }
        if (i > 0 && want[i].number <= want[i - 1].number) { code = "InvalidPartOrder"; msg = "The list of parts was not in ascending order. Parts must be ordered by part number."; break; }
        part_info *p = NULL;
        for (size_t j = 0; j < nhave; j++)
            if (have[j].number == want[i].number) { p = &have[j]; break; }
        if (!p || !etag_eq(want[i].etag, p->md5)) { code = "InvalidPart"; msg = "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag."; break; }
        use[i] = p;
    }
    for (size_t i = 0; !code && i + 1 < nwant; i++)
        if (use[i]->size < COSD_MIN_PART) { code = "EntityTooSmall"; msg = "Your proposed upload is smaller than the minimum allowed object size."; }
    obj_meta m = {0};
    if (!code) {
        /* No byte is copied: the claimed upload directory becomes the object's data directory and
         * the meta lists its part files in order (store.c). ETag and CRC-64 come from the parts. */
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        EVP_DigestInit_ex(c, r->srv->md5, NULL);
        uint64_t crc = 0, size = 0;
        for (size_t i = 0; i < nwant; i++) {
            unsigned char bin[16];
            hex_decode(use[i]->md5, 16, bin);
            EVP_DigestUpdate(c, bin, 16);
            if (meta_add_part(&m, use[i]->fname, use[i]->size) != 0) {
                code = "InternalError"; msg = "cosd could not assemble the object."; status = 500;
                break;
            }
            crc = i == 0 ? use[i]->crc : cos_crc64_combine(crc, use[i]->crc, use[i]->size);
            size += use[i]->size;
        }
        unsigned char md[16];
        unsigned int l = 16;
        char hex[33];
        EVP_DigestFinal_ex(c, md, &l);
        EVP_MD_CTX_free(c);
        hex_encode(md, 16, hex);
        /* parts not listed in the request are not part of the object: dropped now */
        for (size_t j = 0; !code && j < nhave; j++) {
            int used = 0;
            for (size_t i = 0; i < nwant && !used; i++) used = use[i] == &have[j];
            char *f = NULL;
            if (!used && asprintf(&f, "%s/%s", claimed, have[j].fname) >= 0) { unlink(f); free(f); }
        }
        if (!code) {
            m.key = malloc(r->keylen + 1);
            memcpy(m.key, r->key, r->keylen);
            m.key[r->keylen] = 0;
            m.keylen = r->keylen;
            m.size = size;
            m.crc = crc;
            m.mtime = time(NULL);
            snprintf(m.etag, sizeof m.etag, "\"%s-%zu\"", hex, nwant);
            for (size_t i = 0; i < u.hdrs.nh; i++) meta_add_header(&m, u.hdrs.h[i].name, u.hdrs.h[i].value);
            /* x-cos-meta-* given with Complete (Node SDK sliceUploadFile) win */
            obj_meta extra = {0};
            meta_copy_request_headers(&extra, r);
            for (size_t i = 0; i < extra.nh; i++)
                if (!strncmp(extra.h[i].name, "x-cos-meta-", 11) && !meta_header(&m, extra.h[i].name))
                    meta_add_header(&m, extra.h[i].name, extra.h[i].value);
            meta_free(&extra);
            if (store_commit(r->srv, r->bucket, claimed, &m) != 0) { code = "InternalError"; msg = "cosd could not store the object."; status = 500; }
        }
    }
    if (code) {
        pthread_mutex_lock(&r->srv->lock);
        rename(claimed, dir);
        pthread_mutex_unlock(&r->srv->lock);
    }
    if (info_ok) upload_info_free(&u);
    free(have); free(use); free(want); free(dir); free(claimed);
    if (code) { meta_free(&m); return req_error(r, status, code, msg, NULL); }
    char crcs[32];
    snprintf(crcs, sizeof crcs, "%" PRIu64, m.crc);
    req_add_header(r, "x-cos-hash-crc64ecma", crcs);
    strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult xmlns=\"http://www.qcloud.com/document/product/436/7751\">\n\t<Location>http://");
    xml_escape(&sb, r->bucket, strlen(r->bucket));
    sb_printf(&sb, ".cos.%s.myqcloud.com/", req_region(r));
    strbuf ek;
    sb_init(&ek);
    cos_url_encode(&ek, r->key, r->keylen, 1);
    if (ek.data) xml_escape(&sb, ek.data, ek.len);
    sb_free(&ek);
    sb_puts(&sb, "</Location>\n");
    xml_elem(&sb, "\t", "Bucket", r->bucket);
    xml_elem_n(&sb, "\t", "Key", r->key, r->keylen);
    xml_elem(&sb, "\t", "ETag", m.etag);
    sb_puts(&sb, "</CompleteMultipartUploadResult>");
    meta_free(&m);
    size_t len = sb.len;
    return req_send_buf(r, 200, "application/xml", sb_detach(&sb), len);
}

static int cmp_upload(const void *a, const void *b) {
    const upload_info *x = a, *y = b;
    size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    if (x->keylen != y->keylen) return x->keylen < y->keylen ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int key_cmp(const char *a, size_t al, const char *b, size_t bl) {
    size_t n = al < bl ? al : bl;
    int c = memcmp(a, b, n);
    if (c) return c;
    return (al > bl) - (al < bl);
}

static int finish_list_uploads(cosd_req *r) {
    const char *prefix = req_query(r, "prefix", NULL), *delim = req_query(r, "delimiter", NULL);
    const char *km = req_query(r, "key-marker", NULL), *um = req_query(r, "upload-id-marker", NULL);
    const char *mu = req_query(r, "max-uploads", NULL), *et = req_query(r, "encoding-type", NULL);
    int urlenc = et && !strcmp(et, "url");
    long max = mu && *mu ? strtol(mu, NULL, 10) : 1000;
    if (!prefix) prefix = "";
    if (!km) km = "";
    if (!um || !*km) um = "";
    size_t pl = strlen(prefix), dl = delim ? strlen(delim) : 0, kml = strlen(km);
    upload_info *all = NULL;
    size_t n = 0, cap = 0;
    char *udir = store_bucket_dir(r->srv, r->bucket, "u");
    DIR *d = udir ? opendir(udir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *sub = NULL;
        if (asprintf(&sub, "%s/%s", udir, e->d_name) < 0) continue;
        upload_info u;
        if (read_info(sub, &u) == 0) {
            if (n == cap) {
                cap = cap ? cap * 2 : 32;
                upload_info *nu = realloc(all, cap * sizeof *nu);
                if (!nu) { upload_info_free(&u); free(sub); break; }
                all = nu;
            }
            all[n++] = u;
        }
        free(sub);
    }
    if (d) closedir(d);
    free(udir);
    if (n) qsort(all, n, sizeof *all, cmp_upload);
    const char *appid = appid_of(r->bucket);
    strbuf items, sb;
    sb_init(&items);
    sb_init(&sb);
    long count = 0;
    int truncated = 0;
    const char *nk = NULL, *nu = NULL;
    size_t nkl = 0;
    const char *lastcp = NULL;
    size_t lastcpl = 0;
    for (size_t i = 0; i < n; i++) {
        upload_info *u = &all[i];
        if (u->keylen < pl || memcmp(u->key, prefix, pl)) continue;
        if (kml) {
            int c = key_cmp(u->key, u->keylen, km, kml);
            if (c < 0) continue;
            if (c == 0 && (!*um || strcmp(u->id, um) <= 0)) continue;
        }
        const char *cp = NULL;
        size_t cpl = 0;
        for (size_t j = pl; dl && j + dl <= u->keylen; j++)
            if (!memcmp(u->key + j, delim, dl)) { cp = u->key; cpl = j + dl; break; }
        if (cp && lastcp && cpl == lastcpl && !memcmp(cp, lastcp, cpl)) continue;
        if (cp && cpl == kml && !memcmp(cp, km, kml)) continue;
        if (count >= max) { truncated = 1; break; }
        count++;
        if (cp) {
            lastcp = cp; lastcpl = cpl;
            nk = cp; nkl = cpl; nu = NULL;
            sb_puts(&items, "\t<CommonPrefixes>\n");
            xml_elem_key(&items, "\t\t", "Prefix", cp, cpl, urlenc);
            sb_puts(&items, "\t</CommonPrefixes>\n");
            continue;
        }
        nk = u->key; nkl = u->keylen; nu = u->id;
        char t[40];
        iso_time(u->initiated, t, sizeof t);
        const char *sc = meta_header(&u->hdrs, "x-cos-storage-class");
        sb_puts(&items, "\t<Upload>\n");
        xml_elem_key(&items, "\t\t", "Key", u->key, u->keylen, urlenc);
        xml_elem(&items, "\t\t", "UploadId", u->id);
        xml_elem(&items, "\t\t", "StorageClass", sc ? sc : "STANDARD");
        sb_printf(&items, "\t\t<Initiator>\n\t\t\t<ID>qcs::cam::uin/%s:uin/%s</ID>\n\t\t\t<DisplayName>%s</DisplayName>\n\t\t</Initiator>\n", appid, appid, appid);
        sb_printf(&items, "\t\t<Owner>\n\t\t\t<ID>qcs::cam::uin/%s:uin/%s</ID>\n\t\t\t<DisplayName>%s</DisplayName>\n\t\t</Owner>\n", appid, appid, appid);
        xml_elem(&items, "\t\t", "Initiated", t);
        sb_puts(&items, "\t</Upload>\n");
    }
    sb_puts(&sb, "<ListMultipartUploadsResult>\n");
    xml_elem(&sb, "\t", "Bucket", r->bucket);
    xml_elem(&sb, "\t", "Encoding-Type", urlenc ? "url" : NULL);
    xml_elem_key(&sb, "\t", "KeyMarker", km, kml, urlenc);
    xml_elem(&sb, "\t", "UploadIdMarker", um);
    if (truncated) {
        xml_elem_key(&sb, "\t", "NextKeyMarker", nk, nkl, urlenc);
        xml_elem(&sb, "\t", "NextUploadIdMarker", nu);
    }
    sb_printf(&sb, "\t<MaxUploads>%ld</MaxUploads>\n\t<IsTruncated>%s</IsTruncated>\n", max, truncated ? "true" : "false");
    xml_elem_key(&sb, "\t", "Prefix", prefix, pl, urlenc);
    if (delim) xml_elem_key(&sb, "\t", "Delimiter", delim, dl, urlenc);
    if (items.data) sb_append(&sb, items.data, items.len);
    sb_puts(&sb, "</ListMultipartUploadsResult>");
    sb_free(&items);
    for (size_t i = 0; i < n; i++) upload_info_free(&all[i]);
    free(all);
    size_t len = sb.len;
    return req_send_buf(r, 200, "application/xml", sb_detach(&sb), len);
}

int mp_finish(cosd_req *r) {
    switch (r->api) {
    case COS_API_INITIATE_MULTIPART_UPLOAD: return finish_initiate(r);
    case COS_API_UPLOAD_PART: return finish_part(r);
    case COS_API_LIST_PARTS: return finish_list_parts(r);
    case COS_API_COMPLETE_MULTIPART_UPLOAD: return finish_complete(r);
    case COS_API_ABORT_MULTIPART_UPLOAD: return finish_abort(r);
    case COS_API_LIST_MULTIPART_UPLOADS: return finish_list_uploads(r);
    default: return req_error(r, 501, "NotImplemented", "This operation is not implemented by cosd.", NULL);
    }
}

/* Fault endless-list: a List Parts / List Multipart Uploads page that never ends. Each page lists
 * max-parts / max-uploads (1000) made-up entries after the request's marker and says
 * IsTruncated=true with a marker that advances, whatever the marker: a client that follows it
 * blindly never stops. Nothing is read from disk (the upload need not exist). */
int mp_endless_page(cosd_req *r) {
    strbuf sb;
    sb_init(&sb);
    if (r->api == COS_API_LIST_PARTS) {
        const char *pm = req_query(r, "part-number-marker", NULL);
        long marker = pm && *pm ? strtol(pm, NULL, 10) : 0;
        sb_puts(&sb, "<ListPartsResult>\n");
        xml_elem(&sb, "\t", "Bucket", r->bucket);
        xml_elem_key(&sb, "\t", "Key", r->key, r->keylen, 0);
        xml_elem(&sb, "\t", "UploadId", r->upload_id ? r->upload_id : "");
        sb_printf(&sb, "\t<PartNumberMarker>%ld</PartNumberMarker>\n", marker);
        for (long n = marker + 1; n <= marker + 1000; n++)
            sb_printf(&sb, "\t<Part>\n\t\t<PartNumber>%ld</PartNumber>\n\t\t<LastModified>2020-01-01T00:00:00.000Z"
                           "</LastModified>\n\t\t<ETag>&quot;%032ld&quot;</ETag>\n\t\t<Size>1048576</Size>\n\t</Part>\n", n, n);
        sb_printf(&sb, "\t<NextPartNumberMarker>%ld</NextPartNumberMarker>\n", marker + 1000);
        sb_puts(&sb, "\t<MaxParts>1000</MaxParts>\n\t<IsTruncated>true</IsTruncated>\n</ListPartsResult>");
    } else {
        const char *prefix = req_query(r, "prefix", NULL), *um = req_query(r, "upload-id-marker", NULL);
        long marker = um && !strncmp(um, "endless", 7) ? strtol(um + 7, NULL, 10) : 0;
        if (!prefix) prefix = "";
        sb_puts(&sb, "<ListMultipartUploadsResult>\n");
        xml_elem(&sb, "\t", "Bucket", r->bucket);
        xml_elem(&sb, "\t", "KeyMarker", req_query(r, "key-marker", NULL));
        xml_elem(&sb, "\t", "UploadIdMarker", um);
        xml_elem(&sb, "\t", "NextKeyMarker", prefix);
        sb_printf(&sb, "\t<NextUploadIdMarker>endless%ld</NextUploadIdMarker>\n", marker + 1000);
        sb_puts(&sb, "\t<MaxUploads>1000</MaxUploads>\n\t<IsTruncated>true</IsTruncated>\n");
        xml_elem(&sb, "\t", "Prefix", prefix);
        for (long n = marker + 1; n <= marker + 1000; n++) {
            sb_puts(&sb, "\t<Upload>\n");
            xml_elem(&sb, "\t\t", "Key", prefix);
            sb_printf(&sb, "\t\t<UploadId>endless%ld</UploadId>\n", n);
            sb_puts(&sb, "\t\t<StorageClass>STANDARD</StorageClass>\n\t\t<Initiated>2020-01-01T00:00:00.000Z</Initiated>\n\t</Upload>\n");
        }
        sb_puts(&sb, "</ListMultipartUploadsResult>");
    }
    size_t len = sb.len;
    return req_send_buf(r, 200, "application/xml", sb_detach(&sb), len);
}
