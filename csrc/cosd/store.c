/* store: objects on disk under --data. Each key maps to sha1(key): <sha1>.meta (the key, hex-encoded,
 * and the metadata) points at <sha1>.<unique>.data. A body is written to data/tmp first, renamed
 * next to the meta, then the meta is replaced by an atomic rename: an object is visible only once
 * complete, and a crash leaves at most orphans that store_init() removes.
 * A small PUT (body up to COSD_INLINE_MAX) is one file: the meta, a "data SIZE" line, then the
 * bytes (an inline object); written whole in tmp/ and renamed into place, it appears whole or not
 * at all, with one file written and one rename.
 * An object made by Complete Multipart Upload is not copied: its .data is the upload's directory
 * (renamed) and its meta lists the part files in order ("part FILE SIZE" lines, the manifest), so
 * Complete costs two renames whatever the size; reads stream across the part files. */
#include "cosd.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include "crc64.h"

void hex_encode(const unsigned char *in, size_t n, char *out) {
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) { out[2 * i] = hx[in[i] >> 4]; out[2 * i + 1] = hx[in[i] & 15]; }
    out[2 * n] = 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return 0; /* sidecars and part names are written by cosd itself: only hex digits occur */
}

void hex_decode(const char *hex, size_t n, unsigned char *out) {
    for (size_t i = 0; i < n; i++) out[i] = (unsigned char)(hexval(hex[2 * i]) * 16 + hexval(hex[2 * i + 1]));
}

int mkdir_p(const char *path) {
    char *p = strdup(path);
    if (!p) return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) { free(p); return -1; }
            *s = '/';
        }
    }
    int rc = (mkdir(p, 0755) == 0 || errno == EEXIST) ? 0 : -1;
    free(p);
    return rc;
}

int rm_rf(const char *path) {
    DIR *d = opendir(path);
    if (!d) return unlink(path);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *sub = NULL;
        if (asprintf(&sub, "%s/%s", path, e->d_name) < 0) continue;
        rm_rf(sub);
        free(sub);
    }
    closedir(d);
    return rmdir(path);
}

void meta_free(obj_meta *m) {
    free(m->key);
    for (size_t i = 0; i < m->nparts; i++) free(m->parts[i].file);
    free(m->parts);
    for (size_t i = 0; i < m->nh; i++) { free(m->h[i].name); free(m->h[i].value); }
    free(m->h);
    memset(m, 0, sizeof *m);
}

void meta_add_header(obj_meta *m, const char *name, const char *value) {
    hdr_pair *n = realloc(m->h, (m->nh + 1) * sizeof *n);
    if (!n) return;
    m->h = n;
    m->h[m->nh].name = strdup(name);
    for (char *c = m->h[m->nh].name; c && *c; c++) if (*c >= 'A' && *c <= 'Z') *c = (char)(*c + 32);
    m->h[m->nh].value = strdup(value);
    m->nh++;
}

int meta_add_part(obj_meta *m, const char *file, uint64_t size) {
    store_part *n = realloc(m->parts, (m->nparts + 1) * sizeof *n);
    if (!n) return -1;
    m->parts = n;
    if (!(n[m->nparts].file = strdup(file))) return -1;
    n[m->nparts++].size = size;
    return 0;
}

const char *meta_header(const obj_meta *m, const char *name) {
    for (size_t i = 0; i < m->nh; i++)
        if (!strcasecmp(m->h[i].name, name)) return m->h[i].value;
    return NULL;
}

/* Request headers an object keeps (besides x-cos-meta-*). */
static int kept_header(const char *name) {
    static const char *keep[] = {"cache-control", "content-disposition", "content-encoding", "content-type",
                                 "content-language", "expires", "x-cos-storage-class", "x-cos-acl",
                                 "x-cos-grant-read", "x-cos-grant-read-acp", "x-cos-grant-write-acp",
                                 "x-cos-grant-full-control", "x-cos-tagging", NULL};
    if (strncasecmp(name, "x-cos-meta-", 11) == 0) return 1;
    for (int i = 0; keep[i]; i++)
        if (strcasecmp(name, keep[i]) == 0) return 1;
    return 0;
}

/* An HTTP token character (RFC 9110 tchar). */
static int tchar(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The sidecar stores "h NAME VALUE" lines and answers repeat them: a name must be a token (no
 * blank), a value must hold no control byte but HTAB (no CR, LF, NUL, DEL). Bytes >= 0x80 are kept. */
int meta_storable(const char *name, const char *value) {
    if (!*name) return 0;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        if (!tchar(*c)) return 0;
    for (const unsigned char *c = (const unsigned char *)value; *c; c++)
        if ((*c < 0x20 && *c != '\t') || *c == 0x7f) return 0;
    return 1;
}

static enum MHD_Result check_hdr(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    int *ok = cls;
    if (key && kept_header(key) && !meta_storable(key, value ? value : "")) { *ok = 0; return MHD_NO; }
    return MHD_YES;
}

int meta_request_storable(cosd_req *r) {
    int ok = 1;
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, check_hdr, &ok);
    return ok;
}

static enum MHD_Result copy_hdr(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    obj_meta *m = cls;
    if (!value || !*value) return MHD_YES; /* the Node SDK sends empty Cache-Control/Content-Type */
    if (kept_header(key) && !meta_header(m, key)) meta_add_header(m, key, value);
    return MHD_YES;
}

void meta_copy_request_headers(obj_meta *m, cosd_req *r) {
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, copy_hdr, m);
    meta_default_content_type(m, r->srv, r->key);
}

void meta_default_content_type(obj_meta *m, cosd_server *srv, const char *key) {
    /* no (or an empty) Content-Type: COS derives it from the key's extension (2.zip: application/zip) */
    if (!meta_header(m, "content-type")) meta_add_header(m, "content-type", mime_type_or_default(srv->mime, key));
}

char *store_bucket_dir(cosd_server *srv, const char *bucket, const char *sub) {
    char *p = NULL;
    if (asprintf(&p, "%s/b/%s/%s", srv->data_dir, bucket, sub) < 0) return NULL;
    return p;
}

int store_tmp_file(cosd_server *srv, char **path) {
    char u[96];
    req_unique(srv, u, sizeof u);
    if (asprintf(path, "%s/tmp/%s", srv->data_dir, u) < 0) { *path = NULL; return -1; }
    int fd = open(*path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0) { free(*path); *path = NULL; }
    return fd;
}

/* hex(SHA1(key)), with the digest fetched once (srv->sha1) */
static void key_hash(cosd_server *srv, const char *key, size_t keylen, char out[41]) {
    unsigned char md[20];
    unsigned int n = 0;
    if (!EVP_Digest(key, keylen, md, &n, srv->sha1, NULL) || n != sizeof md) memset(md, 0, sizeof md);
    hex_encode(md, sizeof md, out);
}

static char *meta_path(cosd_server *srv, const char *bucket, const char *key, size_t keylen) {
    char h[41];
    key_hash(srv, key, keylen, h);
    char *p = NULL;
    if (asprintf(&p, "%s/b/%s/o/%s.meta", srv->data_dir, bucket, h) < 0) return NULL;
    return p;
}

int sidecar_read(const char *path, void (*line_fn)(void *ud, const char *name, char *value), void *ud) {
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n') line[--n] = 0;
        char *sp = strchr(line, ' ');
        if (!sp) continue;
        *sp = 0;
        line_fn(ud, line, sp + 1);
    }
    free(line);
    fclose(f);
    return 0;
}

char *sidecar_key(const char *hex, size_t *len) {
    size_t kl = strlen(hex) / 2;
    char *key = malloc(kl + 1);
    if (!key) return NULL;
    hex_decode(hex, kl, (unsigned char *)key);
    key[kl] = 0;
    *len = kl;
    return key;
}

void sidecar_header(obj_meta *m, char *value) {
    char *sp = strchr(value, ' ');
    if (sp) { *sp = 0; meta_add_header(m, value, sp + 1); }
}

static void meta_line(void *ud, const char *name, char *v) {
    obj_meta *m = ud;
    if (!strcmp(name, "key")) {
        free(m->key);
        m->key = sidecar_key(v, &m->keylen);
    } else if (!strcmp(name, "file")) snprintf(m->datafile, sizeof m->datafile, "%s", v);
    else if (!strcmp(name, "size")) m->size = strtoull(v, NULL, 10);
    else if (!strcmp(name, "etag")) snprintf(m->etag, sizeof m->etag, "%s", v);
    else if (!strcmp(name, "crc")) m->crc = strtoull(v, NULL, 10);
    else if (!strcmp(name, "mtime")) m->mtime = (time_t)strtoll(v, NULL, 10);
    else if (!strcmp(name, "type")) m->appendable = !strcmp(v, "appendable");
    else if (!strcmp(name, "h")) sidecar_header(m, v);
    else if (!strcmp(name, "part")) {
        char *sp = strrchr(v, ' ');
        /* a part file name is cosd's own (no '/', no "..") */
        if (sp && sp != v) { *sp = 0; if (!strchr(v, '/') && strcmp(v, "..")) meta_add_part(m, v, strtoull(sp + 1, NULL, 10)); }
    }
}

/* Reads a meta file: its lines up to the end or, for an inline object, up to its "data" line
 * (the object's bytes follow; m->inline_off is where they start). */
static int parse_meta_file(const char *path, obj_meta *m) {
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n') break; /* only the bytes of an inline object lack one */
        line[--n] = 0;
        char *sp = strchr(line, ' ');
        if (!sp) continue;
        *sp = 0;
        if (!strcmp(line, "data")) {
            long at = ftell(f);
            if (at > 0 && strtoull(sp + 1, NULL, 10) == m->size) m->inline_off = (uint64_t)at;
            break;
        }
        meta_line(m, line, sp + 1);
    }
    free(line);
    fclose(f);
    if (!m->key || (!m->datafile[0] && !m->inline_off)) { meta_free(m); return -1; }
    return 0;
}

/* The text of m's meta; with inline_data, ended by the "data SIZE" line its bytes follow. */
static int meta_format(strbuf *sb, const obj_meta *m, int inline_data) {
    if (sb_reserve(sb, m->keylen * 2 + 256) != 0) return -1;
    sb_puts(sb, "cosd-meta 1\nkey ");
    hex_encode((const unsigned char *)m->key, m->keylen, sb->data + sb->len);
    sb->len += m->keylen * 2;
    if (m->datafile[0]) sb_printf(sb, "\nfile %s", m->datafile);
    sb_printf(sb, "\nsize %" PRIu64 "\netag %s\ncrc %" PRIu64 "\nmtime %lld\ntype %s\n", m->size, m->etag, m->crc,
              (long long)m->mtime, m->appendable ? "appendable" : "normal");
    for (size_t i = 0; i < m->nh; i++) sb_printf(sb, "h %s %s\n", m->h[i].name, m->h[i].value);
    for (size_t i = 0; i < m->nparts; i++) sb_printf(sb, "part %s %" PRIu64 "\n", m->parts[i].file, m->parts[i].size);
    if (inline_data) sb_printf(sb, "data %" PRIu64 "\n", m->size);
    return sb->data ? 0 : -1;
}

static int write_all(int fd, struct iovec *iov, int n) {
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        while (n > 0 && (size_t)w >= iov->iov_len) { w -= (ssize_t)iov->iov_len; iov++; n--; }
        if (n > 0) { iov->iov_base = (char *)iov->iov_base + w; iov->iov_len -= (size_t)w; }
    }
    return 0;
}

/* Writes m's meta, followed by body when inline_data, to a new file in tmp/ (*tmp, malloc'd). */
static int meta_tmp_write(cosd_server *srv, const obj_meta *m, int inline_data, const char *body, size_t len, char **tmp) {
    strbuf sb;
    sb_init(&sb);
    int fd = meta_format(&sb, m, inline_data) == 0 ? store_tmp_file(srv, tmp) : -1;
    if (fd < 0) { sb_free(&sb); return -1; }
    struct iovec iov[2] = {{sb.data, sb.len}, {(void *)body, inline_data ? len : 0}};
    int rc = write_all(fd, iov, 2);
    if (close(fd) != 0) rc = -1;
    sb_free(&sb);
    if (rc != 0) { unlink(*tmp); free(*tmp); *tmp = NULL; }
    return rc;
}

static int write_meta_file(cosd_server *srv, const char *path, const obj_meta *m) {
    char *tmp = NULL;
    if (meta_tmp_write(srv, m, 0, NULL, 0, &tmp) != 0) return -1;
    int rc = rename(tmp, path);
    if (rc != 0) unlink(tmp);
    free(tmp);
    return rc;
}

/* rename(from, to) into the bucket's o/, which the bucket's first object creates. */
static int rename_in_bucket(cosd_server *srv, const char *bucket, const char *from, const char *to) {
    if (rename(from, to) == 0) return 0;
    if (errno != ENOENT) return -1;
    char *odir = store_bucket_dir(srv, bucket, "o");
    int made = odir && mkdir_p(odir) == 0;
    free(odir);
    return made ? rename(from, to) : -1;
}

static int read_meta_at(const char *path, const char *key, size_t keylen, obj_meta *m) {
    int rc = parse_meta_file(path, m);
    if (rc == 0 && (m->keylen != keylen || memcmp(m->key, key, keylen) != 0)) { meta_free(m); rc = -1; }
    return rc;
}

int store_read_meta(cosd_server *srv, const char *bucket, const char *key, size_t keylen, obj_meta *m) {
    char *p = meta_path(srv, bucket, key, keylen);
    if (!p) return -1;
    int rc = read_meta_at(p, key, keylen, m);
    free(p);
    return rc;
}

/* The data file named by the meta at path (its "file" line, which follows the key near the top),
 * without parsing the rest: 1 found, 0 none (no meta, or an inline object). */
static int meta_datafile(const char *path, char out[128]) {
    char buf[4096];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n;
    do n = read(fd, buf, sizeof buf - 1); while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    for (char *line = buf, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = 0;
        if (!strncmp(line, "data ", 5)) return 0;
        if (!strncmp(line, "file ", 5)) return snprintf(out, 128, "%s", line + 5) < 128;
    }
    return 0;
}

void store_body_free(store_body *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n; i++) if (b->fd[i] >= 0) close(b->fd[i]);
    free(b->fd);
    free(b->size);
    free(b->start);
    free(b);
}

/* Opens m's data: its file, every part file of its manifest, or (inline) the meta file itself
 * (dir is the bucket's o/). */
static store_body *body_open(cosd_server *srv, const char *dir, const obj_meta *m) {
    size_t n = m->nparts ? m->nparts : 1;
    store_body *b = calloc(1, sizeof *b);
    if (!b || !(b->fd = malloc(n * sizeof *b->fd)) || !(b->size = malloc(n * sizeof *b->size)) ||
        !(b->start = calloc(n, sizeof *b->start))) {
        if (b) { free(b->fd); free(b->size); free(b); }
        return NULL;
    }
    char h[41];
    if (m->inline_off) key_hash(srv, m->key, m->keylen, h);
    for (size_t i = 0; i < n; i++) {
        char *full = NULL;
        int ok = m->nparts ? asprintf(&full, "%s%s/%s", dir, m->datafile, m->parts[i].file) >= 0
                 : m->inline_off ? asprintf(&full, "%s%s.meta", dir, h) >= 0
                                 : asprintf(&full, "%s%s", dir, m->datafile) >= 0;
        b->fd[i] = ok ? open(full, O_RDONLY | O_CLOEXEC) : -1;
        b->size[i] = m->nparts ? m->parts[i].size : m->size;
        b->start[i] = m->nparts ? 0 : m->inline_off;
        if (ok) free(full);
        b->n = i + 1;
        if (b->fd[i] < 0) { store_body_free(b); return NULL; }
    }
    return b;
}

ssize_t store_body_read(const store_body *b, uint64_t off, char *buf, size_t max) {
    size_t i = 0;
    while (i < b->n && off >= b->size[i]) off -= b->size[i++];
    if (i == b->n) return 0;
    uint64_t left = b->size[i] - off;
    size_t want = left < max ? (size_t)left : max;
    ssize_t n;
    do n = pread(b->fd[i], buf, want, (off_t)(b->start[i] + off)); while (n < 0 && errno == EINTR);
    return n == 0 ? -1 : n; /* a part file shorter than its manifest entry is damage, not the end */
}

int store_open(cosd_server *srv, const char *bucket, const char *key, size_t keylen, obj_meta *m, store_body **body) {
    pthread_mutex_lock(&srv->lock);
    int rc = store_read_meta(srv, bucket, key, keylen, m);
    if (rc == 0) {
        char *dp = store_bucket_dir(srv, bucket, "o/");
        *body = dp ? body_open(srv, dp, m) : NULL;
        free(dp);
        if (!*body) { meta_free(m); rc = -1; }
    }
    pthread_mutex_unlock(&srv->lock);
    return rc;
}

/* Caller holds srv->lock. Installs tmp_path as the object's data and m as its meta. */
static int commit_locked(cosd_server *srv, const char *bucket, const char *tmp_path, obj_meta *m) {
    char *odir = store_bucket_dir(srv, bucket, "o");
    if (!odir) return -1;
    char h[41], u[96];
    key_hash(srv, m->key, m->keylen, h);
    req_unique(srv, u, sizeof u);
    obj_meta old;
    int had_old = store_read_meta(srv, bucket, m->key, m->keylen, &old) == 0;
    snprintf(m->datafile, sizeof m->datafile, "%s.%.60s.data", h, u);
    char *dpath = NULL, *mpath = NULL;
    int rc = -1;
    if (asprintf(&dpath, "%s/%s", odir, m->datafile) < 0) dpath = NULL;
    if (asprintf(&mpath, "%s/%s.meta", odir, h) < 0) mpath = NULL;
    if (dpath && mpath && rename_in_bucket(srv, bucket, tmp_path, dpath) == 0) {
        if (write_meta_file(srv, mpath, m) == 0) {
            rc = 0;
            if (had_old && old.datafile[0] && strcmp(old.datafile, m->datafile) != 0) {
                char *op = NULL;
                if (asprintf(&op, "%s/%s", odir, old.datafile) >= 0) { rm_rf(op); free(op); } /* a file or a manifest's directory */
            }
        } else rename(dpath, tmp_path); /* back where the caller has it */
    }
    if (had_old) meta_free(&old);
    free(dpath); free(mpath); free(odir);
    return rc;
}

int store_commit(cosd_server *srv, const char *bucket, const char *tmp_path, obj_meta *m) {
    pthread_mutex_lock(&srv->lock);
    int rc = commit_locked(srv, bucket, tmp_path, m);
    pthread_mutex_unlock(&srv->lock);
    return rc;
}

int store_commit_inline(cosd_server *srv, const char *bucket, obj_meta *m, const char *body, size_t len) {
    m->datafile[0] = 0;
    char *tmp = NULL, *mpath = meta_path(srv, bucket, m->key, m->keylen), old[128];
    if (!mpath || meta_tmp_write(srv, m, 1, body, len, &tmp) != 0) { free(mpath); return -1; }
    /* the lock orders this rename with other commits and readers of the key: each old data file
     * is seen by exactly one commit, which removes it (outside the lock: readers hold their fds) */
    pthread_mutex_lock(&srv->lock);
    int had_old = meta_datafile(mpath, old);
    int rc = rename_in_bucket(srv, bucket, tmp, mpath);
    pthread_mutex_unlock(&srv->lock);
    if (rc != 0) unlink(tmp);
    else if (had_old) {
        char *dp = store_bucket_dir(srv, bucket, "o/"), *op = NULL;
        if (dp && asprintf(&op, "%s%s", dp, old) >= 0) { rm_rf(op); free(op); }
        free(dp);
    }
    free(tmp);
    free(mpath);
    return rc == 0 ? 0 : -1;
}

int store_delete(cosd_server *srv, const char *bucket, const char *key, size_t keylen) {
    pthread_mutex_lock(&srv->lock);
    obj_meta m;
    if (store_read_meta(srv, bucket, key, keylen, &m) == 0) {
        char *mp = meta_path(srv, bucket, key, keylen);
        char *dp = store_bucket_dir(srv, bucket, "o/");
        char *full = NULL;
        if (mp) unlink(mp);
        if (dp && m.datafile[0] && asprintf(&full, "%s%s", dp, m.datafile) >= 0) { rm_rf(full); free(full); }
        free(mp); free(dp);
        meta_free(&m);
    }
    pthread_mutex_unlock(&srv->lock);
    return 0;
}

static int cmp_meta(const void *a, const void *b) {
    const obj_meta *x = a, *y = b;
    size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    return x->keylen < y->keylen ? -1 : x->keylen > y->keylen;
}

int store_list(cosd_server *srv, const char *bucket, obj_meta **out, size_t *n) {
    *out = NULL;
    *n = 0;
    char *odir = store_bucket_dir(srv, bucket, "o");
    if (!odir) return -1;
    DIR *d = opendir(odir);
    if (!d) { free(odir); return 0; }
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".meta") != 0) continue;
        char *p = NULL;
        if (asprintf(&p, "%s/%s", odir, e->d_name) < 0) continue;
        obj_meta m;
        if (parse_meta_file(p, &m) == 0) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 64;
                obj_meta *nm = realloc(*out, cap * sizeof *nm);
                if (!nm) { meta_free(&m); free(p); break; }
                *out = nm;
            }
            (*out)[(*n)++] = m;
        }
        free(p);
    }
    closedir(d);
    free(odir);
    if (*n) qsort(*out, *n, sizeof **out, cmp_meta);
    return 0;
}

static int md5_file(int fd, uint64_t len, unsigned char md5[16]) {
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c) return -1;
    EVP_DigestInit_ex(c, EVP_md5(), NULL);
    char *buf = malloc(1 << 20);
    uint64_t off = 0;
    int rc = buf ? 0 : -1;
    while (rc == 0 && off < len) {
        size_t want = len - off > (1 << 20) ? (1 << 20) : (size_t)(len - off);
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n <= 0) { rc = -1; break; }
        EVP_DigestUpdate(c, buf, (size_t)n);
        off += (uint64_t)n;
    }
    unsigned int l = 16;
    EVP_DigestFinal_ex(c, md5, &l);
    EVP_MD_CTX_free(c);
    free(buf);
    return rc;
}

static int copy_into(int dst, uint64_t at, const char *src_path, uint64_t len) {
    int src = open(src_path, O_RDONLY | O_CLOEXEC);
    if (src < 0) return -1;
    char *buf = malloc(1 << 20);
    uint64_t off = 0;
    int rc = buf ? 0 : -1;
    while (rc == 0 && off < len) {
        ssize_t n = read(src, buf, 1 << 20);
        if (n <= 0) { rc = -1; break; }
        ssize_t done = 0;
        while (done < n) {
            ssize_t w = pwrite(dst, buf + done, (size_t)(n - done), (off_t)(at + off + (uint64_t)done));
            if (w < 0) { if (errno == EINTR) continue; rc = -1; break; }
            done += w;
        }
        off += (uint64_t)n;
    }
    free(buf);
    close(src);
    return rc;
}

/* APPEND: the chunk (already in tmp_path) is written after the current end, then the meta (with the
 * new size) replaces the old one. Bytes past the recorded size are ignored, so a crash is harmless. */
int store_append(cosd_server *srv, const char *bucket, const char *key, size_t keylen, uint64_t pos,
                 const char *tmp_path, uint64_t len, uint64_t crc, cosd_req *r, obj_meta *out, uint64_t *cur) {
    pthread_mutex_lock(&srv->lock);
    obj_meta m;
    int rc;
    if (store_read_meta(srv, bucket, key, keylen, &m) != 0) {
        if (pos != 0) { *cur = 0; rc = 1; goto unlock; }
        memset(&m, 0, sizeof m);
        m.key = malloc(keylen + 1);
        memcpy(m.key, key, keylen);
        m.key[keylen] = 0;
        m.keylen = keylen;
        m.appendable = 1;
        m.size = len;
        m.crc = crc;
        m.mtime = time(NULL);
        meta_copy_request_headers(&m, r);
        int fd = open(tmp_path, O_RDONLY | O_CLOEXEC);
        unsigned char md5[16];
        char hex[33];
        if (fd < 0 || md5_file(fd, len, md5) != 0) { if (fd >= 0) close(fd); meta_free(&m); rc = -1; goto unlock; }
        close(fd);
        hex_encode(md5, 16, hex);
        snprintf(m.etag, sizeof m.etag, "\"%s\"", hex);
        rc = commit_locked(srv, bucket, tmp_path, &m) == 0 ? 0 : -1;
        if (rc == 0) { *out = m; goto unlock; }
        meta_free(&m);
        goto unlock;
    }
    if (!m.appendable) { meta_free(&m); rc = 2; goto unlock; }
    if (m.size != pos) { *cur = m.size; meta_free(&m); rc = 1; goto unlock; }
    {
        char *dp = store_bucket_dir(srv, bucket, "o/");
        char *full = NULL, *mp = meta_path(srv, bucket, key, keylen);
        rc = -1;
        if (dp && mp && asprintf(&full, "%s%s", dp, m.datafile) >= 0) {
            int fd = open(full, O_RDWR | O_CLOEXEC);
            unsigned char md5[16];
            char hex[33];
            if (fd >= 0 && copy_into(fd, m.size, tmp_path, len) == 0 && md5_file(fd, m.size + len, md5) == 0) {
                hex_encode(md5, 16, hex);
                snprintf(m.etag, sizeof m.etag, "\"%s\"", hex);
                m.crc = cos_crc64_combine(m.crc, crc, len);
                m.size += len;
                m.mtime = time(NULL);
                if (write_meta_file(srv, mp, &m) == 0) rc = 0;
            }
            if (fd >= 0) close(fd);
            free(full);
        }
        free(dp); free(mp);
        if (rc == 0) *out = m;
        else meta_free(&m);
    }
unlock:
    pthread_mutex_unlock(&srv->lock);
    return rc;
}

/* Start-up: create the layout, empty tmp/, give back uploads caught mid-complete, drop data files no
 * meta points at (a crash between the two renames of a commit). */
int store_init(cosd_server *srv) {
    char *tmp = NULL;
    if (mkdir_p(srv->data_dir) != 0) return -1;
    if (asprintf(&tmp, "%s/tmp", srv->data_dir) < 0) return -1;
    rm_rf(tmp);
    int rc = mkdir_p(tmp);
    free(tmp);
    if (rc != 0) return -1;
    char *bdir = NULL;
    if (asprintf(&bdir, "%s/b", srv->data_dir) < 0) return -1;
    mkdir_p(bdir);
    DIR *d = opendir(bdir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *udir = NULL, *odir = NULL;
        if (asprintf(&udir, "%s/%s/u", bdir, e->d_name) < 0) break;
        if (asprintf(&odir, "%s/%s/o", bdir, e->d_name) < 0) { free(udir); break; }
        DIR *u = opendir(udir);
        struct dirent *ue;
        while (u && (ue = readdir(u))) {
            if (strncmp(ue->d_name, ".c.", 3) != 0) continue;
            char *from = NULL, *to = NULL;
            if (asprintf(&from, "%s/%s", udir, ue->d_name) >= 0 && asprintf(&to, "%s/%s", udir, ue->d_name + 3) >= 0)
                rename(from, to);
            free(from); free(to);
        }
        if (u) closedir(u);
        DIR *o = opendir(odir);
        struct dirent *oe;
        while (o && (oe = readdir(o))) {
            size_t l = strlen(oe->d_name);
            if (l < 46 || strcmp(oe->d_name + l - 5, ".data") != 0) continue;
            char *mp = NULL, *dp = NULL;
            if (asprintf(&mp, "%s/%.40s.meta", odir, oe->d_name) < 0) continue;
            obj_meta m = {0};
            int keep = parse_meta_file(mp, &m) == 0 && strcmp(m.datafile, oe->d_name) == 0;
            if (m.key) meta_free(&m);
            if (!keep && asprintf(&dp, "%s/%s", odir, oe->d_name) >= 0) { rm_rf(dp); free(dp); }
            free(mp);
        }
        if (o) closedir(o);
        free(udir); free(odir);
    }
    if (d) closedir(d);
    free(bdir);
    return 0;
}
