/* checkpoint: reading and writing upload checkpoints (format in checkpoint.h). */
#include "upload/checkpoint.h"
#include "base/params.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc64.h"
#include "strbuf.h"

#define CP_MAGIC "lua-cos-checkpoint 1"
#define CP_MAX_BYTES (16u * 1024u * 1024u) /* 10000 parts take about 1 MiB */

/* ---------------------------------------------------------------------------------------- */
/* Location                                                                                  */

static char *join(const char *a, const char *b)
{
    char *s = NULL;
    return asprintf(&s, "%s/%s", a, b) < 0 ? NULL : s;
}

static const char *nonempty(const char *s) { return s && *s ? s : NULL; }

char *cos_cp_dir(const cos_value *client_options, const cos_value *params)
{
    if (cos_param_bool(params, "Checkpoint", 1) == 0 || cos_param_bool(client_options, "Checkpoint", 1) == 0)
        return NULL;
    const char *d = nonempty(cos_obj_get_str(params, "CheckpointDir"));
    if (!d) d = nonempty(cos_obj_get_str(client_options, "CheckpointDir"));
    if (!d) d = nonempty(cos_obj_get_str(client_options, "ConfCwd"));
    if (d) return strdup(d);
    if ((d = nonempty(getenv("XDG_CACHE_HOME")))) return join(d, "lua-cos");
    if ((d = nonempty(getenv("HOME")))) return join(d, ".cache/lua-cos");
    return NULL;
}

char *cos_cp_file(const char *dir, const char *bucket, const char *region, const char *key,
                  const char *path)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) return NULL;
    const char *parts[4] = {bucket, region, key, path};
    int ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1;
    for (int i = 0; i < 4 && ok; i++) {
        ok = EVP_DigestUpdate(ctx, parts[i] ? parts[i] : "", strlen(parts[i] ? parts[i] : "")) == 1 &&
             EVP_DigestUpdate(ctx, "\n", 1) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) return NULL;
    char name[64];
    int n = snprintf(name, sizeof name, "cos-upload-");
    for (unsigned i = 0; i < mdlen && n < (int)sizeof name - 8; i++) n += snprintf(name + n, sizeof name - (size_t)n, "%02x", md[i]);
    snprintf(name + n, sizeof name - (size_t)n, ".ckpt");
    return join(dir, name);
}

/* ---------------------------------------------------------------------------------------- */
/* Encoding                                                                                  */

static int safe_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
           ch == '_' || ch == '.' || ch == '~' || ch == '/' || ch == ':';
}

static int put_enc(strbuf *sb, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!*s) return sb_putc(sb, '%'); /* a lone '%' stands for the empty string */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int rc = safe_char(*p) ? sb_putc(sb, (char)*p)
                               : (sb_putc(sb, '%') || sb_putc(sb, hex[*p >> 4]) || sb_putc(sb, hex[*p & 15]));
        if (rc) return -1;
    }
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes a token; NULL on malformed input. An embedded NUL is refused (it cannot be a key). */
static char *dec(const char *s)
{
    if (strcmp(s, "%") == 0) return strdup("");
    size_t n = strlen(s);
    char *out = malloc(n + 1), *o = out;
    if (!out) return NULL;
    for (const char *p = s; *p; p++) {
        if (*p != '%') {
            *o++ = *p;
            continue;
        }
        int h = hexval(p[1]), l = h < 0 ? -1 : hexval(p[2]);
        if (h < 0 || l < 0 || (h == 0 && l == 0)) {
            free(out);
            return NULL;
        }
        *o++ = (char)(h * 16 + l);
        p += 2;
    }
    *o = '\0';
    return out;
}

/* ---------------------------------------------------------------------------------------- */
/* Parts                                                                                     */

int cos_cp_set_part(cos_checkpoint *cp, const cos_cp_part *p)
{
    size_t lo = 0, hi = cp->nparts;
    while (lo < hi) { /* binary search: parts are kept sorted by number */
        size_t mid = (lo + hi) / 2;
        if (cp->parts[mid].number < p->number) lo = mid + 1;
        else hi = mid;
    }
    if (lo < cp->nparts && cp->parts[lo].number == p->number) {
        cp->parts[lo] = *p;
        return 0;
    }
    if (cp->nparts == cp->cap) {
        size_t cap = cp->cap ? cp->cap * 2 : 64;
        cos_cp_part *np = realloc(cp->parts, cap * sizeof *np);
        if (!np) return -1;
        cp->parts = np;
        cp->cap = cap;
    }
    memmove(&cp->parts[lo + 1], &cp->parts[lo], (cp->nparts - lo) * sizeof *cp->parts);
    cp->parts[lo] = *p;
    cp->nparts++;
    return 0;
}

const cos_cp_part *cos_cp_find_part(const cos_checkpoint *cp, int number)
{
    size_t lo = 0, hi = cp->nparts;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp->parts[mid].number == number) return &cp->parts[mid];
        if (cp->parts[mid].number < number) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

void cos_cp_clear_parts(cos_checkpoint *cp) { cp->nparts = 0; }

void cos_cp_free(cos_checkpoint *cp)
{
    if (!cp) return;
    free(cp->bucket);
    free(cp->region);
    free(cp->key);
    free(cp->path);
    free(cp->upload_id);
    free(cp->parts);
    memset(cp, 0, sizeof *cp);
}

/* ---------------------------------------------------------------------------------------- */
/* Save                                                                                      */

int cos_cp_render(const cos_checkpoint *cp, strbuf *sb)
{
    int rc = sb_puts(sb, CP_MAGIC "\n");
    const char *names[5] = {"bucket", "region", "key", "path", "upload_id"};
    const char *vals[5] = {cp->bucket, cp->region, cp->key, cp->path, cp->upload_id};
    for (int i = 0; i < 5 && !rc; i++)
        rc = sb_printf(sb, "%s ", names[i]) || put_enc(sb, vals[i] ? vals[i] : "") || sb_putc(sb, '\n');
    if (!rc)
        rc = sb_printf(sb, "size %" PRId64 "\nmtime %" PRId64 ".%09ld\npart_size %" PRId64 "\n", cp->size,
                       cp->mtime_sec, cp->mtime_nsec, cp->part_size);
    for (size_t i = 0; i < cp->nparts && !rc; i++) {
        const cos_cp_part *p = &cp->parts[i];
        rc = sb_printf(sb, "part %d %" PRId64 " ", p->number, p->size) || put_enc(sb, p->etag) ||
             sb_printf(sb, " %016" PRIx64 "\n", p->crc64);
    }
    if (!rc) rc = sb_printf(sb, "end %016" PRIx64 "\n", cos_crc64_update(0, sb->data, sb->len));
    return rc;
}

static int mkdir_p(const char *dir)
{
    char *d = strdup(dir);
    if (!d) return -1;
    for (char *p = d + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(d, 0700) != 0 && errno != EEXIST) {
            free(d);
            return -1;
        }
        *p = '/';
    }
    int rc = (mkdir(d, 0700) == 0 || errno == EEXIST) ? 0 : -1;
    free(d);
    return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int cos_cp_save(const char *file, const cos_checkpoint *cp)
{
    strbuf sb, tmp;
    sb_init(&sb);
    sb_init(&tmp);
    int rc = cos_cp_render(cp, &sb);
    char *slash = strrchr(file, '/');
    if (!rc && slash && slash != file) {
        char *dir = strndup(file, (size_t)(slash - file));
        rc = dir ? mkdir_p(dir) : -1;
        free(dir);
    }
    /* The temp name is unique per process so two processes never write the same temp file. */
    if (!rc) rc = sb_printf(&tmp, "%s.tmp.%ld", file, (long)getpid());
    int fd = rc ? -1 : open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) rc = -1;
    if (!rc) rc = write_all(fd, sb.data, sb.len);
    if (fd >= 0 && close(fd) != 0) rc = -1;
    if (!rc) rc = rename(tmp.data, file);
    if (rc && tmp.data) unlink(tmp.data);
    sb_free(&sb);
    sb_free(&tmp);
    return rc ? -1 : 0;
}

/* Removes the checkpoint and the temp files a killed writer may have left next to it
 * ("<file>.tmp.<pid>"). */
void cos_cp_remove(const char *file)
{
    if (!file) return;
    unlink(file);
    const char *slash = strrchr(file, '/');
    if (!slash) return;
    char *dir = strndup(file, (size_t)(slash - file));
    DIR *d = dir ? opendir(*dir ? dir : "/") : NULL;
    size_t blen = strlen(slash + 1);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, slash + 1, blen) != 0 || strncmp(e->d_name + blen, ".tmp.", 5) != 0) continue;
        char *p = join(dir, e->d_name);
        if (p) unlink(p);
        free(p);
    }
    if (d) closedir(d);
    free(dir);
}

void cos_cp_sweep(const char *dir, double max_age_s)
{
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d) return;
    time_t now = time(NULL);
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, "cos-upload-", 11) != 0) continue;
        char *p = join(dir, e->d_name);
        struct stat st;
        if (p && lstat(p, &st) == 0 && S_ISREG(st.st_mode) && difftime(now, st.st_mtime) > max_age_s) unlink(p);
        free(p);
    }
    closedir(d);
}

/* ---------------------------------------------------------------------------------------- */
/* Load                                                                                      */

static char *slurp(const char *file, size_t *len)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    strbuf sb;
    sb_init(&sb);
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 || sb.len + (size_t)n > CP_MAX_BYTES || (n > 0 && sb_append(&sb, buf, (size_t)n) != 0)) {
            close(fd);
            sb_free(&sb);
            return NULL;
        }
        if (n == 0) break;
    }
    close(fd);
    *len = sb.len;
    return sb.len ? sb_detach(&sb) : (sb_free(&sb), NULL);
}

/* Checks the trailing "end <crc>" line; returns the length of the covered text or 0. */
static size_t verify_end(const char *text, size_t len)
{
    if (len < 2 || text[len - 1] != '\n') return 0;
    size_t start = len - 1;
    while (start > 0 && text[start - 1] != '\n') start--;
    uint64_t want = 0;
    char tail[40];
    size_t tl = len - start;
    if (tl >= sizeof tail) return 0;
    memcpy(tail, text + start, tl);
    tail[tl] = '\0';
    if (sscanf(tail, "end %" SCNx64, &want) != 1) return 0;
    return cos_crc64_update(0, text, start) == want ? start : 0;
}

static int parse_line(cos_checkpoint *cp, char *line)
{
    char *save = NULL;
    char *name = strtok_r(line, " ", &save);
    char *a = strtok_r(NULL, " ", &save);
    if (!name || !a) return -1;
    char **str = strcmp(name, "bucket") == 0      ? &cp->bucket
                 : strcmp(name, "region") == 0    ? &cp->region
                 : strcmp(name, "key") == 0       ? &cp->key
                 : strcmp(name, "path") == 0      ? &cp->path
                 : strcmp(name, "upload_id") == 0 ? &cp->upload_id
                                                  : NULL;
    if (str) {
        free(*str);
        *str = dec(a);
        return *str ? 0 : -1;
    }
    if (strcmp(name, "size") == 0) return sscanf(a, "%" SCNd64, &cp->size) == 1 ? 0 : -1;
    if (strcmp(name, "part_size") == 0) return sscanf(a, "%" SCNd64, &cp->part_size) == 1 ? 0 : -1;
    if (strcmp(name, "mtime") == 0) return sscanf(a, "%" SCNd64 ".%ld", &cp->mtime_sec, &cp->mtime_nsec) == 2 ? 0 : -1;
    if (strcmp(name, "part") == 0) {
        char *sz = strtok_r(NULL, " ", &save), *etag = strtok_r(NULL, " ", &save), *crc = strtok_r(NULL, " ", &save);
        cos_cp_part p = {0};
        if (!sz || !etag || !crc || sscanf(a, "%d", &p.number) != 1 || sscanf(sz, "%" SCNd64, &p.size) != 1 ||
            sscanf(crc, "%" SCNx64, &p.crc64) != 1 || p.number < 1 || p.number > 10000 || p.size < 0)
            return -1;
        char *e = dec(etag);
        if (!e || strlen(e) >= sizeof p.etag) {
            free(e);
            return -1;
        }
        strcpy(p.etag, e);
        free(e);
        return cos_cp_set_part(cp, &p);
    }
    return 0; /* unknown lines are ignored: newer writers may add fields */
}

int cos_cp_parse(char *text, size_t len, cos_checkpoint *cp)
{
    memset(cp, 0, sizeof *cp);
    size_t body = verify_end(text, len);
    int rc = body > strlen(CP_MAGIC) + 1 && strncmp(text, CP_MAGIC "\n", strlen(CP_MAGIC) + 1) == 0 ? 0 : -1;
    if (!rc) {
        text[body] = '\0';
        char *save = NULL;
        for (char *line = strtok_r(text + strlen(CP_MAGIC) + 1, "\n", &save); line && !rc;
             line = strtok_r(NULL, "\n", &save))
            rc = parse_line(cp, line);
    }
    if (!rc && (!cp->bucket || !cp->region || !cp->key || !cp->path || !cp->upload_id || !*cp->upload_id ||
                cp->size < 0 || cp->part_size <= 0))
        rc = -1;
    if (rc) cos_cp_free(cp);
    return rc;
}

int cos_cp_load(const char *file, cos_checkpoint *cp)
{
    memset(cp, 0, sizeof *cp);
    size_t len = 0;
    char *text = slurp(file, &len);
    if (!text) return -1;
    int rc = cos_cp_parse(text, len, cp);
    free(text);
    return rc;
}

char *cos_cp_abspath(const char *path)
{
    char buf[PATH_MAX];
    if (realpath(path, buf)) return strdup(buf);
    if (path[0] == '/' || !getcwd(buf, sizeof buf)) return strdup(path);
    char *s = NULL; /* a path that does not exist (yet): cwd/path, unnormalised */
    return asprintf(&s, "%s/%s", buf, path) < 0 ? NULL : s;
}
