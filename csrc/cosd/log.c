/* log: the access log, one line per finished request:
 * method target status bytes_in bytes_out request_id (status 0 = connection reset by a fault). */
#include "cosd.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void log_access(cosd_req *r) {
    cosd_server *srv = r->srv;
    if (!srv || !srv->access_log) return;
    /* the line is put together first, so the lock covers one write */
    strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, r->method ? r->method : "-");
    sb_putc(&sb, ' ');
    /* the target is raw bytes from the wire: keep the line one token by escaping blanks and controls */
    const char *t = r->target ? r->target : "-";
    for (const unsigned char *p = (const unsigned char *)t; *p;) {
        size_t run = 0;
        while (p[run] > 0x20 && p[run] != 0x7f) run++;
        sb_append(&sb, p, run);
        p += run;
        if (*p) { sb_printf(&sb, "%%%02X", *p); p++; }
    }
    sb_printf(&sb, " %u %" PRIu64 " %" PRIu64 " %s\n", r->status, r->bytes_in, r->bytes_out, r->reqid[0] ? r->reqid : "-");
    if (sb.data) {
        pthread_mutex_lock(&srv->log_lock);
        fwrite(sb.data, 1, sb.len, srv->access_log);
        fflush(srv->access_log);
        pthread_mutex_unlock(&srv->log_lock);
    }
    sb_free(&sb);
}

/* ---- request log (--request-log): one JSON object per line, written when the request finishes:
 * {"method","target","status","request_id","headers":[[name,value],...],"body_length",
 *  "body" (valid UTF-8 bodies <= 64 KiB) or "body_base64" (other bodies <= 64 KiB)} */

/* Length of the valid UTF-8 sequence at p (1..4), 0 if the bytes there are not valid UTF-8. */
static size_t utf8_len(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    size_t len;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; min = 0x10000; }
    else return 0;
    if (n < len) return 0;
    unsigned cp = c & (0x3F >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

static int utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len(p + i, n - i);
        if (!l) return 0;
        i += l;
    }
    return 1;
}

/* A JSON string; bytes that are not valid UTF-8 are written as \u00XX (lossy: only in headers). */
static void json_str(strbuf *sb, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    sb_putc(sb, '"');
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c == '"' || c == '\\') { sb_putc(sb, '\\'); sb_putc(sb, (char)c); i++; continue; }
        if (c == '\n') { sb_puts(sb, "\\n"); i++; continue; }
        if (c == '\r') { sb_puts(sb, "\\r"); i++; continue; }
        if (c == '\t') { sb_puts(sb, "\\t"); i++; continue; }
        if (c < 0x20 || c == 0x7f) { sb_printf(sb, "\\u%04x", c); i++; continue; }
        size_t l = utf8_len(p + i, n - i);
        if (!l) { sb_printf(sb, "\\u%04x", c); i++; continue; }
        sb_append(sb, p + i, l);
        i += l;
    }
    sb_putc(sb, '"');
}

void log_request(cosd_req *r) {
    cosd_server *srv = r->srv;
    if (!srv || !srv->request_log) return;
    if (r->rl_written) return;
    r->rl_written = 1;
    strbuf sb;
    sb_init(&sb);
    const char *t = r->target ? r->target : "";
    sb_puts(&sb, "{\"method\":");
    json_str(&sb, r->method ? r->method : "-", strlen(r->method ? r->method : "-"));
    sb_puts(&sb, ",\"target\":");
    json_str(&sb, t, strlen(t));
    sb_printf(&sb, ",\"status\":%u,\"request_id\":", r->status);
    json_str(&sb, r->reqid, strlen(r->reqid));
    sb_puts(&sb, ",\"headers\":[");
    for (size_t i = 0; i < r->nqh; i++) {
        sb_puts(&sb, i ? ",[" : "[");
        json_str(&sb, r->qh[i].name, strlen(r->qh[i].name));
        sb_putc(&sb, ',');
        json_str(&sb, r->qh[i].value, strlen(r->qh[i].value));
        sb_putc(&sb, ']');
    }
    sb_printf(&sb, "],\"body_length\":%" PRIu64, r->rl_len);
    if (r->rl_len <= COSD_REQLOG_BODY_MAX) {
        const char *b = r->rl_body.data ? r->rl_body.data : "";
        size_t n = r->rl_body.len;
        if (utf8_valid(b, n)) {
            sb_puts(&sb, ",\"body\":");
            json_str(&sb, b, n);
        } else {
            unsigned char *enc = malloc(4 * ((n + 2) / 3) + 1);
            if (enc) {
                EVP_EncodeBlock(enc, (const unsigned char *)b, (int)n);
                sb_printf(&sb, ",\"body_base64\":\"%s\"", (const char *)enc);
                free(enc);
            }
        }
    }
    sb_puts(&sb, "}\n");
    pthread_mutex_lock(&srv->log_lock);
    fwrite(sb.data, 1, sb.len, srv->request_log);
    fflush(srv->request_log);
    pthread_mutex_unlock(&srv->log_lock);
    sb_free(&sb);
}
