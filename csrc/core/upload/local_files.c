/* local_files: what uploadDirectory needs from the local disk, in C because Lua has no directory
 * API and hashing gigabytes belongs in C: a recursive listing of the regular files under a folder
 * (with a symlink policy) and the CRC-64 of a file (the value COS keeps as x-cos-hash-crc64ecma).
 *
 * Symlink policies: "skip" (default: links are neither uploaded nor followed), "follow" (a link
 * counts as what it points to; a directory reached twice, e.g. through a loop, is walked once),
 * "error" (the listing fails at the first link). Entries come sorted by path within each
 * directory, so runs and their results are reproducible. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/errors.h"
#include "cos.h"
#include "crc64.h"
#include "task/task.h"

#define CRC_BUF (1024 * 1024)
#define MAX_DEPTH 256

typedef enum { LINKS_SKIP, LINKS_FOLLOW, LINKS_ERROR } link_policy;

typedef struct walk {
    link_policy links;
    cos_value *files;
    struct stat *seen; /* directories walked (device, inode), for "follow" */
    size_t nseen, seen_cap;
    cos_value *err;
} walk;

/* A failed system call: the errno error every file error has (base/errors.h). */
static void walk_fail(walk *w, const char *syscall, const char *path, int e)
{
    if (!w->err) w->err = cos_error_errno(e, syscall, path);
}

/* A refusal of the walk itself (no system call failed). */
static void walk_refuse(walk *w, const char *what, const char *path)
{
    if (!w->err) w->err = cos_error_newf("Error", "%s: '%s'", what, path);
}

/* Remembers a directory; 0 if it was new, 1 if walked already, -1 on out of memory. */
static int seen_dir(walk *w, const struct stat *st)
{
    for (size_t i = 0; i < w->nseen; i++)
        if (w->seen[i].st_dev == st->st_dev && w->seen[i].st_ino == st->st_ino) return 1;
    if (w->nseen == w->seen_cap) {
        size_t cap = w->seen_cap ? w->seen_cap * 2 : 16;
        struct stat *n = realloc(w->seen, cap * sizeof *n);
        if (!n) return -1;
        w->seen = n;
        w->seen_cap = cap;
    }
    w->seen[w->nseen++] = *st;
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The names in `path` (without . and ..), sorted; NULL with w->err on failure. */
static char **read_names(walk *w, const char *path, size_t *n)
{
    DIR *d = opendir(path);
    if (!d) {
        walk_fail(w, "opendir", path, errno);
        return NULL;
    }
    char **names = NULL;
    size_t cap = 0;
    *n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            char **g = realloc(names, cap * sizeof *g);
            if (!g) break;
            names = g;
        }
        if (!(names[*n] = strdup(de->d_name))) break;
        (*n)++;
    }
    closedir(d);
    if (*n) qsort(names, *n, sizeof *names, by_name);
    return names ? names : calloc(1, sizeof *names);
}

static void add_file(walk *w, const char *path, const char *rel, const struct stat *st)
{
    cos_value *f = cos_obj_new();
    if (!f) return;
    cos_obj_set_str(f, "FilePath", path);
    cos_obj_set_str(f, "RelativePath", rel);
    cos_obj_set_num(f, "Size", (double)st->st_size);
    cos_arr_push(w->files, f);
}

static void walk_dir(walk *w, const char *path, const char *rel, int depth);

/* One entry of a directory: a file is listed, a directory walked, a link handled by policy. */
static void walk_entry(walk *w, const char *path, const char *rel, int depth)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        walk_fail(w, "lstat", path, errno);
        return;
    }
    if (S_ISLNK(st.st_mode)) {
        if (w->links == LINKS_SKIP) return;
        if (w->links == LINKS_ERROR) {
            walk_refuse(w, "a symbolic link (Symlinks = \"error\")", path);
            return;
        }
        if (stat(path, &st) != 0) return; /* a dangling link: nothing to upload */
    }
    if (S_ISREG(st.st_mode)) add_file(w, path, rel, &st);
    else if (S_ISDIR(st.st_mode)) {
        int s = seen_dir(w, &st);
        if (s < 0) walk_refuse(w, "out of memory at", path);
        else if (s == 0) walk_dir(w, path, rel, depth + 1);
    }
}

static void walk_dir(walk *w, const char *path, const char *rel, int depth)
{
    if (depth > MAX_DEPTH) {
        walk_refuse(w, "directories nested too deep", path);
        return;
    }
    size_t n = 0;
    char **names = read_names(w, path, &n);
    for (size_t i = 0; i < n; i++) {
        char *child = NULL, *crel = NULL;
        if (!w->err && asprintf(&child, "%s/%s", path, names[i]) >= 0 &&
            asprintf(&crel, "%s%s%s", rel, *rel ? "/" : "", names[i]) >= 0)
            walk_entry(w, child, crel, depth);
        free(child);
        free(crel);
        free(names[i]);
    }
    free(names);
}

cos_value *cos_local_files_list(const char *dir, const char *symlinks, cos_value **err)
{
    walk w = {.links = LINKS_SKIP};
    if (symlinks && strcmp(symlinks, "follow") == 0) w.links = LINKS_FOLLOW;
    else if (symlinks && strcmp(symlinks, "error") == 0) w.links = LINKS_ERROR;
    else if (symlinks && strcmp(symlinks, "skip") != 0) {
        *err = cos_error_new("InvalidParameter", "Symlinks must be \"skip\", \"follow\" or \"error\"");
        return NULL;
    }
    struct stat st;
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        char msg[512];
        snprintf(msg, sizeof msg, "LocalPath %s is not a directory", dir ? dir : "(none)");
        *err = cos_error_new("InvalidParameter", msg);
        return NULL;
    }
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    char *root = strndup(dir, len);
    w.files = cos_arr_new();
    if (root && w.files && seen_dir(&w, &st) == 0) walk_dir(&w, root, "", 0);
    else walk_refuse(&w, "out of memory listing", dir);
    free(root);
    free(w.seen);
    if (w.err) {
        cos_value_free(w.files);
        *err = w.err;
        return NULL;
    }
    return w.files;
}

int cos_local_file_crc64(const char *path, uint64_t *crc)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    unsigned char *buf = malloc(CRC_BUF);
    if (!buf) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    uint64_t c = 0;
    ssize_t n;
    while ((n = read(fd, buf, CRC_BUF)) != 0) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        c = cos_crc64_update(c, buf, (size_t)n);
    }
    int e = errno;
    free(buf);
    close(fd);
    if (n != 0) {
        errno = e;
        return -1;
    }
    *crc = c;
    return 0;
}
