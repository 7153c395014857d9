/* mime: extension -> type table, read once from a mime.types file and searched with bsearch. */
#include "mime.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mime_entry {
    char *ext;  /* lower case, owned */
    char *type; /* owned */
    size_t seq; /* line order, so that the first line listing an extension wins */
} mime_entry;

struct cos_mime {
    mime_entry *entries; /* sorted by ext */
    size_t n, cap;
};

static int mime_add(cos_mime *m, const char *ext, const char *type)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 512;
        mime_entry *e = realloc(m->entries, cap * sizeof *e);
        if (!e)
            return -1;
        m->entries = e;
        m->cap = cap;
    }
    char *x = strdup(ext), *t = strdup(type);
    if (!x || !t) {
        free(x);
        free(t);
        return -1;
    }
    for (char *p = x; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    m->entries[m->n] = (mime_entry){x, t, m->n};
    m->n++;
    return 0;
}

/* One "type ext ext ..." line; the line is modified in place. */
static int mime_parse_line(cos_mime *m, char *line)
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    char *save = NULL;
    const char *type = strtok_r(line, " \t\r\n", &save);
    if (!type || !strchr(type, '/'))
        return 0;
    for (char *ext; (ext = strtok_r(NULL, " \t\r\n", &save));)
        if (mime_add(m, ext, type) != 0)
            return -1;
    return 0;
}

static int mime_cmp(const void *a, const void *b)
{
    return strcmp(((const mime_entry *)a)->ext, ((const mime_entry *)b)->ext);
}

static int mime_cmp_seq(const void *a, const void *b)
{
    const mime_entry *x = a, *y = b;
    int c = strcmp(x->ext, y->ext);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* Sorted by (ext, seq): keep the first entry of each run of one extension. */
static void mime_dedupe(cos_mime *m)
{
    size_t out = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (out > 0 && strcmp(m->entries[out - 1].ext, m->entries[i].ext) == 0) {
            free(m->entries[i].ext);
            free(m->entries[i].type);
            continue;
        }
        m->entries[out++] = m->entries[i];
    }
    m->n = out;
}

cos_mime *mime_load(const char *path)
{
    cos_mime *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    FILE *f = fopen(path ? path : COS_MIME_TYPES_PATH, "r");
    if (!f)
        return m;
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &cap, f) >= 0)
        rc = mime_parse_line(m, line);
    free(line);
    fclose(f);
    if (rc != 0) {
        mime_free(m);
        return NULL;
    }
    qsort(m->entries, m->n, sizeof *m->entries, mime_cmp_seq);
    mime_dedupe(m);
    return m;
}

void mime_free(cos_mime *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->entries[i].ext);
        free(m->entries[i].type);
    }
    free(m->entries);
    free(m);
}

const char *mime_lookup(const cos_mime *m, const char *name)
{
    if (!m || !name || m->n == 0)
        return NULL;
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    const char *dot = strrchr(base, '.');
    if (!dot || !dot[1])
        return NULL;
    char ext[32];
    size_t len = strlen(dot + 1);
    if (len >= sizeof ext)
        return NULL;
    for (size_t i = 0; i <= len; i++)
        ext[i] = (char)tolower((unsigned char)dot[1 + i]);
    mime_entry key = {ext, NULL, 0};
    const mime_entry *e = bsearch(&key, m->entries, m->n, sizeof *m->entries, mime_cmp);
    return e ? e->type : NULL;
}

const char *mime_type_or_default(const cos_mime *m, const char *name)
{
    const char *t = mime_lookup(m, name);
    return t ? t : COS_MIME_DEFAULT;
}

const char *mime_lookup_upload(const cos_mime *m, const char *path, const char *key)
{
    const char *type = path ? mime_lookup(m, path) : NULL;
    return type ? type : key ? mime_lookup(m, key) : NULL;
}
