/* xmlout: small writers for COS's XML documents (escaping, elements, timestamps). Documents are
 * built as text so element order and the error prolog match COS exactly. */
#include "cosd.h"
#include <string.h>

void xml_escape(strbuf *sb, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '<': sb_puts(sb, "&lt;"); break;
        case '>': sb_puts(sb, "&gt;"); break;
        case '&': sb_puts(sb, "&amp;"); break;
        case '"': sb_puts(sb, "&quot;"); break;
        case '\'': sb_puts(sb, "&apos;"); break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') sb_printf(sb, "&#x%X;", c); /* not XML 1.0-valid; best effort */
            else sb_putc(sb, (char)c);
        }
    }
}

void xml_elem_n(strbuf *sb, const char *indent, const char *name, const char *value, size_t n) {
    if (!value || n == 0) {
        sb_printf(sb, "%s<%s/>\n", indent, name);
        return;
    }
    sb_printf(sb, "%s<%s>", indent, name);
    xml_escape(sb, value, n);
    sb_printf(sb, "</%s>\n", name);
}

void xml_elem(strbuf *sb, const char *indent, const char *name, const char *value) {
    xml_elem_n(sb, indent, name, value, value ? strlen(value) : 0);
}

/* A key-like value, URL-encoded when the request asked for encoding-type=url. */
void xml_elem_key(strbuf *sb, const char *indent, const char *name, const char *value, size_t n, int urlenc) {
    if (!urlenc || !value) { xml_elem_n(sb, indent, name, value, n); return; }
    strbuf e;
    sb_init(&e);
    cos_url_encode(&e, value, n, 1);
    xml_elem_n(sb, indent, name, e.data, e.len);
    sb_free(&e);
}

void iso_time(time_t t, char *out, size_t n) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

void http_time(time_t t, char *out, size_t n) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}
