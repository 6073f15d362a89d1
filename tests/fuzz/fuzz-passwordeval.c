/* Fuzz the reading of passwordeval's output (account_secret_line): the
 * input is what the command printed.  The secret must be a prefix of the
 * output holding no LF and no NUL, cut at the end of the output, at a LF
 * or NUL, or at one CR just before them; and it is the whole first line
 * when that line has neither NUL nor CR. */
#include "fuzz-common.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so reading past it is caught. */
	char *out = malloc(size ? size : 1);
	const char *nl;
	size_t n, first;

	memcpy(out, data, size);
	n = account_secret_line(out, size);
	if (n > size || memchr(out, '\n', n) || memchr(out, '\0', n))
		abort();
	if (n < size && out[n] != '\n' && out[n] != '\0' &&
	    (out[n] != '\r' || (n + 1 < size && out[n + 1] != '\n' && out[n + 1] != '\0')))
		abort();
	nl = memchr(out, '\n', size);
	first = nl ? (size_t)(nl - out) : size;
	if (!memchr(out, '\0', first) && !memchr(out, '\r', first) && n != first)
		abort();
	free(out);
	return 0;
}
