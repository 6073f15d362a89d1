/* Fuzz the RFC 5322 address-list parser and the envelope address check. */
#include "fuzz-common.h"

#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr_list l = { 0 };
	struct dynbuf d = { 0 };
	char err[256];
	char *s = xstrndup((const char *)data, size);

	if (addr_parse_list((const char *)data, size, &l, err, sizeof(err)) >= 0) {
		for (size_t i = 0; i < l.n; i++) {
			/* Whatever the parser returns must pass the envelope check. */
			if (addr_check(l.v[i], err, sizeof(err)) != 0)
				abort();
			(void)addr_domain(l.v[i]);
		}
	}
	addr_check(s, err, sizeof(err));
	addr_format_phrase(&d, s);
	db_free(&d);
	free(s);
	addr_list_free(&l);
	return 0;
}
