/* Fuzz the aliases file parser and the recursive expansion (aliases.c).
 * Input: the first line is the recipient list (as on the command line),
 * the rest is the aliases file, read through /proc/self/fd of a memfd.
 * Every address that comes out must pass addr_check(). */
#include "fuzz-common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "aliases.h"
#include "result.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t first = nl ? (size_t)(nl - data) : size;
	const uint8_t *file = nl ? nl + 1 : data + size;
	struct addr_list in = { 0 }, out = { 0 };
	struct result r;
	char path[64], err[256];
	int fd;

	if (addr_parse_list((const char *)data, first, &in, err, sizeof(err)) <= 0) {
		addr_list_free(&in);
		addr_list_add(&in, "root");
		addr_list_add(&in, "postmaster");
		addr_list_add(&in, "nobody-here");
		addr_list_add(&in, "x@example.com");
	}
	fd = fuzz_fd(file, size - (size_t)(file - data));
	if (fd < 0) {
		addr_list_free(&in);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	res_clear(&r);
	if (aliases_expand(path, &in, &out, &r) == 0) {
		for (size_t i = 0; i < out.n; i++)
			if (addr_check(out.v[i], err, sizeof(err)) != 0) {
				fprintf(stderr, "expanded to an invalid address: %s (%s)\n",
					out.v[i], err);
				abort();
			}
	} else if (r.cls == RES_OK || !r.text[0]) {
		abort();        /* a failure without a reason */
	}
	addr_list_free(&in);
	addr_list_free(&out);
	close(fd);
	return 0;
}
