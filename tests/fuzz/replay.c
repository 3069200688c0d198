/* replay: runs one fuzz target (tests/fuzz/fuzz_<target>.c) over files, without libFuzzer, in
 * the ordinary sanitizer build: the seed corpus and every crash regression become a unit test.
 *
 *   $(BUILD)/tests/fuzz_<target> [FILE|DIR]...
 *
 * Without arguments it reads tests/fuzz/corpus/<target>/ and tests/fuzz/regressions/<target>/
 * (relative to the working directory, the repository root under tests/run.sh). A broken property
 * or a sanitizer report aborts; otherwise it prints a Check-style summary line, which tests/run.sh
 * counts: "100%: Checks: N, Failures: 0, Errors: 0". */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef FUZZ_TARGET
#error "build with -DFUZZ_TARGET=\"<target>\""
#endif

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs the target once on the whole file. Returns 0, or -1 if it cannot be read. */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (f == NULL) {
        fprintf(stderr, "replay: could not open %s: %s\n", path, strerror(errno));
        return -1;
    }
    do {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            buf = realloc(buf, cap);
            if (buf == NULL)
                abort();
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    /* an exact-size copy, so that reading past the input is caught */
    uint8_t *exact = malloc(len > 0 ? len : 1);
    if (exact == NULL)
        abort();
    if (len > 0)
        memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

/* Replays path (a file, or every file in a folder, in name order); adds to *count. A missing
 * default folder is not an error. */
static int replay_path(const char *path, int must_exist, size_t *count)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    if (stat(path, &st) != 0) {
        if (!must_exist)
            return 0;
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (replay_file(path) != 0)
            return -1;
        (*count)++;
        return 0;
    }
    d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "replay: could not open %s: %s\n", path, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof *names);
            if (names == NULL)
                abort();
        }
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        names[n] = malloc(len);
        if (names[n] == NULL)
            abort();
        snprintf(names[n], len, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            if (replay_file(names[i]) != 0)
                rc = -1;
            else
                (*count)++;
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

    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            rc |= replay_path(argv[i], 1, &count);
    } else {
        rc |= replay_path("tests/fuzz/corpus/" FUZZ_TARGET, 0, &count);
        rc |= replay_path("tests/fuzz/regressions/" FUZZ_TARGET, 0, &count);
    }
    printf("fuzz_%s: replayed %zu inputs\n", FUZZ_TARGET, count);
    printf("%d%%: Checks: %zu, Failures: 0, Errors: %d\n", rc != 0 ? 0 : 100, count + (rc != 0),
           rc != 0);
    return rc != 0;
}
