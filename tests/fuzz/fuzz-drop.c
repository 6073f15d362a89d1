/* Fuzz mailout-drop's form check (drop-check.c), the one parser of the
 * set-group-id helper.  The input is checked twice, whole and in chunks
 * whose sizes come from the input's first byte: the verdicts must agree
 * (the helper reads standard input in pieces of any size). */
#include "fuzz-common.h"

#include <assert.h>
#include <string.h>

#include "drop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
verdict(const uint8_t *p, size_t n, size_t chunk)
{
	struct drop_check c;
	size_t off = 0;

	drop_check_init(&c);
	while (off < n) {
		size_t k = n - off < chunk ? n - off : chunk;

		if (drop_check_feed(&c, (const char *)p + off, k) < 0) {
			assert(c.error && *c.error);
			return -1;
		}
		off += k;
	}
	if (drop_check_finish(&c) < 0) {
		assert(c.error && *c.error);
		return -1;
	}
	assert(c.senders == 1 && c.rcpts >= 1 && c.rcpts <= DROP_RCPT_MAX);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t chunk;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] % 17 + 1;
	assert(verdict(data + 1, size - 1, size) == verdict(data + 1, size - 1, chunk));
	return 0;
}
