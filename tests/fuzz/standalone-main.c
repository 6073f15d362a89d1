/*
 * A main() for a libFuzzer target built without libFuzzer: each file named
 * on the command line is read whole and passed once to
 * LLVMFuzzerTestOneInput(), as libFuzzer does when given files to replay.
 * `make check` links every tests/fuzz/fuzz-NAME.c with it (replay-NAME) and
 * runs it on tests/fuzz/corpus/NAME/ (tests/fuzz/replay-corpus), so an input
 * that crashed a target, once committed to the corpus, fails the tests.
 *
 * Exit status: 0 when every input ran through; 2 when a file cannot be read.
 * A crash is the target's own (a signal, or the sanitizers' exit status).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The whole of path in a malloc()ed buffer (one byte more, so that an empty
 * file is not a NULL pointer); NULL on error with errno set. */
static uint8_t *
read_all(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *grown;
	size_t cap = 0, n = 0, got;

	if (!f)
		return NULL;
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			if (!(grown = realloc(buf, cap + 1))) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = grown;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	fclose(f);
	*size = n;
	return buf;
}

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		size_t size = 0;
		uint8_t *data = read_all(argv[i], &size);

		if (!data) {
			fprintf(stderr, "%s: cannot read %s: %s\n", argv[0], argv[i],
				strerror(errno));
			return 2;
		}
		/* Named first, so that the last name printed is the input that crashed. */
		fprintf(stderr, "running %s (%zu bytes)\n", argv[i], size);
		LLVMFuzzerTestOneInput(data, size);
		free(data);
	}
	return 0;
}
