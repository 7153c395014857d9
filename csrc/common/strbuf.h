/* strbuf: a growable byte buffer. The buffer owns `data`; sb_detach hands it to the caller. */
#ifndef COS_STRBUF_H
#define COS_STRBUF_H
#include <stdarg.h>
#include <stddef.h>

typedef struct strbuf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
} strbuf;

void sb_init(strbuf *sb);
void sb_free(strbuf *sb);
void sb_reset(strbuf *sb);                         /* len = 0, keeps the allocation */
int sb_reserve(strbuf *sb, size_t extra);          /* 0 or -1 (out of memory) */
int sb_append(strbuf *sb, const void *p, size_t n);
int sb_puts(strbuf *sb, const char *s);
int sb_putc(strbuf *sb, char c);
int sb_printf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sb_vprintf(strbuf *sb, const char *fmt, va_list ap);
char *sb_detach(strbuf *sb);                       /* caller frees; never NULL unless OOM */

#endif
