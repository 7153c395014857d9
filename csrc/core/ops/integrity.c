/* integrity: what an upload hashes, sends and verifies (the policy is described in integrity.h
 * and docs/upload-engine.md, "Integrity"). Every upload path asks this file; none decides alone. */
#include "base/errors.h"
#include "ops/integrity.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc64.h"

int cos_integrity_stream_hashes(const cos_client *c, int resendable)
{
    /* MD5 runs at ~700 MB/s per core against CRC-64's ~14 GB/s: it is computed only when the
     * ETag is the check (a server without CRC-64 met before) or cannot be re-checked later. */
    if (c->server_lacks_crc64 || !resendable) return COS_HASH_MD5 | COS_HASH_CRC64;
    return COS_HASH_CRC64;
}

int cos_integrity_md5_base64(const void *data, size_t len, char out[32])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(data, len, md, &n, EVP_md5(), NULL) != 1) return -1;
    EVP_EncodeBlock((unsigned char *)out, md, (int)n);
    return 0;
}

int cos_integrity_body_md5(cos_request *r, const void *data, size_t len)
{
    char b64[32];
    return cos_integrity_md5_base64(data, len, b64) || cos_req_header(r, "Content-MD5", b64);
}

int cos_integrity_content_md5_mem(const cos_client *c, cos_request *r, const void *data, size_t len)
{
    if (!cos_integrity_wants_content_md5(c, cos_req_api(r)) || cos_req_get_header(r, "Content-MD5")) return 0;
    return cos_integrity_body_md5(r, data ? data : "", len);
}

int cos_integrity_md5_of(int fd, int64_t off, int64_t len, const void *data, unsigned char md5[16])
{
    if (fd >= 0) return cos_integrity_hash_range(fd, off, len, md5, NULL);
    cos_integrity_md5(data ? data : "", (size_t)len, md5);
    return 0;
}

int cos_integrity_wants_content_md5(const cos_client *c, cos_api api)
{
    switch (api) {
    case COS_API_APPEND_OBJECT: return 1;
    case COS_API_PUT_OBJECT: return c->upload_check_md5;
    case COS_API_UPLOAD_PART: return c->upload_check_md5;
    default: return 0; /* Complete's XML gets its own (cos_integrity_body_md5); forms are not the object */
    }
}

int cos_integrity_append_hashes(void) { return COS_HASH_MD5 | COS_HASH_CRC64; }

int cos_integrity_content_md5_header(cos_request *r, const unsigned char md5[16])
{
    char b64[32];
    if (cos_req_get_header(r, "Content-MD5")) return 0;
    EVP_EncodeBlock((unsigned char *)b64, md5, 16);
    return cos_req_header(r, "Content-MD5", b64);
}

/* "part 3: " or "" */
static const char *sep(const char *what) { return what && *what ? ": " : ""; }

cos_integrity_verdict cos_integrity_check(cos_client *c, const cos_http_result *res, int64_t expect, const char *what,
                                          cos_value **err)
{
    const char *w = what ? what : "";
    const char *etag = cos_obj_get_str(res->headers, "etag");
    *err = NULL;
    if (expect >= 0 && res->bytes_sent != expect) {
        *err = cos_error_newf("IntegrityError", "%s%s%" PRId64 " bytes sent, %" PRId64 " expected", w, sep(w),
                                res->bytes_sent, expect);
        return COS_INTEGRITY_DAMAGED;
    }
    uint64_t crc;
    int has_crc = cos_integrity_header_crc64(res->headers, &crc);
    int hashed_md5 = (res->hashes & COS_HASH_MD5) != 0;
    int md5 = etag && hashed_md5 ? cos_integrity_etag_matches(etag, res->md5) : -1;
    if (md5 == 0) {
        *err = cos_error_newf("IntegrityError", "%s%sETag %.80s is not the MD5 of the bytes sent", w, sep(w), etag);
        return COS_INTEGRITY_DAMAGED;
    }
    if (has_crc && (res->hashes & COS_HASH_CRC64) && crc != res->crc64) {
        *err = cos_error_newf("IntegrityError", "%s%sx-cos-hash-crc64ecma %" PRIu64 " is not the CRC-64 %" PRIu64
                                " of the bytes sent", w, sep(w), crc, res->crc64);
        return COS_INTEGRITY_DAMAGED;
    }
    if (has_crc && (res->hashes & COS_HASH_CRC64)) return COS_INTEGRITY_OK;
    if (md5 == 1) return COS_INTEGRITY_OK;
    if (!hashed_md5 && etag && *etag) {
        /* The first answer without CRC-64 this client meets: nothing of ours checks its ETag.
         * From now on every upload body of the client hashes MD5 while it streams, and this one
         * is sent again (a part or a PUT replaces its previous copy), so no part goes unverified. */
        c->server_lacks_crc64 = 1;
        *err = cos_error_newf("UnverifiedUpload", "%s%sthe answer has no x-cos-hash-crc64ecma", w, sep(w));
        return COS_INTEGRITY_RECHECK;
    }
    *err = cos_error_newf("UnverifiedUpload", "%s could not be verified: the answer has %s%.80s and no "
                            "x-cos-hash-crc64ecma", *w ? w : "the object",
                            etag && *etag ? "an ETag that is not an MD5: " : "no ETag", etag && *etag ? etag : "");
    return COS_INTEGRITY_UNVERIFIABLE;
}

cos_integrity_verdict cos_integrity_check_part(cos_client *c, const cos_http_result *res, int64_t expect, int number,
                                               cos_value **err)
{
    char what[24];
    snprintf(what, sizeof what, "part %d", number);
    cos_integrity_verdict v = cos_integrity_check(c, res, expect, what, err);
    const char *etag = cos_obj_get_str(res->headers, "etag");
    if (v != COS_INTEGRITY_OK || (etag && *etag)) return v;
    *err = cos_error_newf("InvalidResponse", "part %d: the answer has no ETag, and Complete names every part by "
                          "its ETag", number);
    return COS_INTEGRITY_DAMAGED;
}

void cos_integrity_fail_task(cos_task *t, const cos_http_result *res, cos_value *bad)
{
    if (bad && res->request_id) cos_obj_set_str(bad, "RequestId", res->request_id);
    if (bad) cos_obj_set_num(bad, "statusCode", res->status_code);
    cos_task_finish(t, bad, NULL);
}

cos_integrity_verdict cos_integrity_judge_task(cos_task *t, cos_http_result *res, int part_number)
{
    if (res->error) return COS_INTEGRITY_OK; /* an HTTP or network error: the reader reports it */
    cos_value *bad = NULL;
    cos_integrity_verdict v = part_number > 0 ? cos_integrity_check_part(t->client, res, -1, part_number, &bad)
                                              : cos_integrity_check(t->client, res, -1, "", &bad);
    if (v == COS_INTEGRITY_OK) return v;
    if (v == COS_INTEGRITY_RECHECK && t->body.kind != COS_BODY_PULL) {
        cos_value_free(bad);
        return v;
    }
    cos_integrity_fail_task(t, res, bad);
    return v == COS_INTEGRITY_RECHECK ? COS_INTEGRITY_UNVERIFIABLE : v;
}

/* x-cos-content-sha1 as COS's SDKs read it on an APPEND answer: the hex MD5 of the appended
 * chunk (docs/cos-wire.md#append-object). 1 and md5 set, 0 when absent or not 32 hex digits. */
static int content_sha1_md5(const cos_value *headers, unsigned char md5[16])
{
    const char *s = cos_obj_get_str(headers, "x-cos-content-sha1");
    if (!s || strlen(s) != 32) return 0;
    for (int i = 0; i < 16; i++) {
        unsigned int byte;
        if (sscanf(s + 2 * i, "%2x", &byte) != 1) return 0;
        md5[i] = (unsigned char)byte;
    }
    return 1;
}

cos_integrity_verdict cos_integrity_check_append(const cos_http_result *res, int64_t position, int content_md5_sent,
                                                 cos_value **err)
{
    unsigned char chunk[16];
    uint64_t crc;
    *err = NULL;
    if ((res->hashes & COS_HASH_MD5) && content_sha1_md5(res->headers, chunk)) {
        if (memcmp(chunk, res->md5, 16) == 0) return COS_INTEGRITY_OK;
        *err = cos_error_newf("IntegrityError", "x-cos-content-sha1 %.40s is not the MD5 of the bytes appended",
                              cos_obj_get_str(res->headers, "x-cos-content-sha1"));
        return COS_INTEGRITY_DAMAGED;
    }
    /* The object's CRC-64 is the chunk's own only when the chunk is the whole object. */
    if (position == 0 && (res->hashes & COS_HASH_CRC64) && cos_integrity_header_crc64(res->headers, &crc)) {
        if (crc == res->crc64) return COS_INTEGRITY_OK;
        *err = cos_error_newf("IntegrityError", "x-cos-hash-crc64ecma %" PRIu64 " is not the CRC-64 %" PRIu64
                              " of the bytes appended", crc, res->crc64);
        return COS_INTEGRITY_DAMAGED;
    }
    if (content_md5_sent) return COS_INTEGRITY_OK; /* COS checked the body against it before storing */
    *err = cos_error_newf("UnverifiedUpload", "the append could not be verified: the answer has no "
                          "x-cos-content-sha1, and the body's MD5 was not known before it was sent");
    return COS_INTEGRITY_UNVERIFIABLE;
}

/* ---------------------------------------------------------------------------------------- */
/* Hashing in slices                                                                         */

#define HASHER_BUF (256 * 1024)

int cos_integrity_hasher_start(cos_integrity_hasher *h, int fd, int64_t off, int64_t len)
{
    cos_integrity_hasher_stop(h);
    h->fd = fd;
    h->off = off;
    h->len = len;
    h->done = 0;
    h->crc = 0;
    h->buf = malloc(HASHER_BUF);
    h->md5 = EVP_MD_CTX_new();
    if (!h->buf || !h->md5 || EVP_DigestInit_ex(h->md5, EVP_md5(), NULL) != 1) {
        cos_integrity_hasher_stop(h);
        return -1;
    }
    return 0;
}

int cos_integrity_hasher_step(cos_integrity_hasher *h, cos_client *c, int64_t *used, unsigned char md5[16],
                              uint64_t *crc)
{
    int64_t budget = COS_STEP_MAX_BYTES - c->step_bytes;
    *used = 0;
    if (budget <= 0) return 0;
    while (h->done < h->len && *used < budget) {
        int64_t want = h->len - h->done;
        if (want > HASHER_BUF) want = HASHER_BUF;
        if (want > budget - *used) want = budget - *used;
        ssize_t n = pread(h->fd, h->buf, (size_t)want, (off_t)(h->off + h->done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int e = n == 0 ? EIO : errno; /* n == 0: the file shrank */
            cos_integrity_hasher_stop(h);
            errno = e;
            return -1;
        }
        EVP_DigestUpdate(h->md5, h->buf, (size_t)n);
        h->crc = cos_crc64_update(h->crc, h->buf, (size_t)n);
        h->done += n;
        *used += n;
        c->step_bytes += n;
    }
    if (h->done < h->len) return 0;
    unsigned int mdlen = 0;
    int ok = EVP_DigestFinal_ex(h->md5, md5, &mdlen) == 1;
    *crc = h->crc;
    cos_integrity_hasher_stop(h);
    if (!ok) errno = ENOMEM;
    return ok ? 1 : -1;
}

void cos_integrity_hasher_stop(cos_integrity_hasher *h)
{
    if (h->md5) EVP_MD_CTX_free(h->md5);
    free(h->buf);
    h->md5 = NULL;
    h->buf = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Reading the server's hashes                                                              */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int cos_integrity_etag_matches(const char *etag, const unsigned char md5[16])
{
    if (!etag) return -1;
    size_t n = strlen(etag);
    if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
        etag++;
        n -= 2;
    }
    if (n != 32) return -1;
    unsigned char got[16];
    for (int i = 0; i < 16; i++) {
        int h = hexval(etag[2 * i]), l = hexval(etag[2 * i + 1]);
        if (h < 0 || l < 0) return -1;
        got[i] = (unsigned char)(h * 16 + l);
    }
    return memcmp(got, md5, 16) == 0 ? 1 : 0;
}

int cos_integrity_header_crc64(const cos_value *headers, uint64_t *out)
{
    const char *s = cos_obj_get_str(headers, "x-cos-hash-crc64ecma");
    if (!s || !*s) return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || !end || *end) return 0;
    *out = (uint64_t)v;
    return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* Whole-range hashing (small bodies: the sliced hasher above serves large ones)             */

#define HASH_BUF (256 * 1024)

int cos_integrity_hash_range(int fd, int64_t off, int64_t len, unsigned char md5[16], uint64_t *crc)
{
    unsigned char *buf = malloc(HASH_BUF);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = buf && ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 ? 0 : -1;
    uint64_t c = 0;
    while (rc == 0 && len > 0) {
        size_t want = len < HASH_BUF ? (size_t)len : HASH_BUF;
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO; /* the file shrank */
            rc = -1;
            break;
        }
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        c = cos_crc64_update(c, buf, (size_t)n);
        off += n;
        len -= n;
    }
    unsigned int mdlen = 0;
    if (rc == 0 && EVP_DigestFinal_ex(ctx, md5, &mdlen) != 1) rc = -1;
    if (crc) *crc = c;
    EVP_MD_CTX_free(ctx);
    free(buf);
    return rc;
}

static void hex16(const unsigned char md5[16], char out[33])
{
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", md5[i]);
}

void cos_integrity_md5(const void *data, size_t len, unsigned char md5[16])
{
    EVP_Digest(data, len, md5, NULL, EVP_md5(), NULL);
}

void cos_integrity_md5_hex_of(const unsigned char md5[16], char out[33]) { hex16(md5, out); }
