/* replay.c - a plain driver for the libFuzzer targets of this folder: runs
 * LLVMFuzzerTestOneInput once on every file given, or on every file of a
 * folder given, in name order, as libFuzzer does when it is handed a corpus
 * folder with -runs=0; no libFuzzer, any compiler.
 *
 *   build/fuzz-replay/record fuzz/corpus_record      (made by `make build/tests`)
 *
 * `make test` replays each fuzz/corpus_<target> through its target this way
 * (tests/test_fuzz.c), so that a change which breaks a property a target
 * checks fails the test suite, not only a fuzzing session; `make
 * test-sanitize` does the same under ASan and UBSan.
 *
 * Each input is copied to a heap block of exactly its size (an out-of-bounds
 * read is caught under ASan).  A target that finds a property broken aborts,
 * which ends the replay with SIGABRT; the input it was running is the last
 * "replay:" line on stderr.  Exit status 0 when every input ran, 1 when an
 * input could not be read or nothing was given, 2 on a usage error. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs past this size are refused (no corpus file comes near it). */
#define REPLAY_MAX_INPUT (16u << 20)

/* Run the target on one file; 0, or -1 if it cannot be read. */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > REPLAY_MAX_INPUT) {
        fprintf(stderr, "replay: %s is not a regular file of at most %u bytes\n", path,
                REPLAY_MAX_INPUT);
        fclose(f);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    /* malloc(0) may give NULL; libFuzzer never passes NULL */
    uint8_t *data = malloc(size ? size : 1);
    if (!data || fread(data, 1, size, f) != size) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(data);
        fclose(f);
        return -1;
    }
    fclose(f);
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

/* Run the target on every regular file of a folder, in name order; the
 * number run, or -1. */
static int replay_dir(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: cannot list %s\n", dir);
        return -1;
    }
    int ran = 0, rc = 0;
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.' && rc == 0) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
            struct stat st;
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                rc = replay_file(path);
                ran++;
            }
        }
        free(names[i]);
    }
    free(names);
    return rc ? -1 : ran;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|FOLDER...\n", argv[0]);
        return 2;
    }
    int total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int n = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode) ? replay_dir(argv[i])
                                                               : (replay_file(argv[i]) ? -1 : 1);
        if (n < 0)
            return 1;
        total += n;
    }
    if (total == 0) {
        fprintf(stderr, "replay: no inputs\n");
        return 1;
    }
    printf("replayed %d inputs\n", total);
    return 0;
}
