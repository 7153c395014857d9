/* replay: a main() for the harnesses outside libFuzzer. Runs every file named on the command line
 * (a directory: every file in it) once through LLVMFuzzerTestOneInput, so `make test` replays the
 * committed corpus and past crash inputs with the project's own compiler and sanitizers. Any crash
 * ends the process (sanitizers abort); exit 0 means every input ran. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    for (size_t n; buf && (n = fread(buf + len, 1, cap - len, f)) > 0;) {
        len += n;
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (!buf) return -1;
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
}

static int run_path(const char *path, size_t *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: no such file %s\n", path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return run_file(path);
    }
    struct dirent **names = NULL;
    int n = scandir(path, &names, NULL, alphasort), rc = n < 0 ? -1 : 0;
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            size_t l = strlen(path) + strlen(names[i]->d_name) + 2;
            char *p = malloc(l);
            if (p) snprintf(p, l, "%s/%s", path, names[i]->d_name);
            if (!p || run_path(p, count) != 0) rc = -1;
            free(p);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++)
        if (run_path(argv[i], &count) != 0) rc = 1;
    printf("%s: %zu inputs replayed%s\n", argv[0], count, rc ? " (some could not be read)" : "");
    return rc;
}
