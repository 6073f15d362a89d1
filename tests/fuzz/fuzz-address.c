/* Fuzz the RFC 5322 address-list parser, the envelope address check and
 * the canonical envelope form. */
#include "fuzz-common.h"

#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "encode.h"
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
	{
		/* The canonical form is an address, and canonical again. */
		char *c = addr_canonical(s, err, sizeof(err)), *again;

		if (c) {
			if (addr_check(c, err, sizeof(err)) != 0 ||
			    !(again = addr_canonical(c, err, sizeof(err))) || strcmp(c, again) != 0)
				abort();
			free(again);
		}
		free(c);
	}
	enc_phrase(&d, s);
	db_free(&d);
	free(s);
	addr_list_free(&l);
	return 0;
}
