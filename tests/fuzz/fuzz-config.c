/* Fuzz the configuration loader (libconfuse schema, comment blanking,
 * defaults/inherit, validation). */
#include "fuzz-common.h"

#include <stdlib.h>

#include "conf.h"
#include "result.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	struct result r;
	char *text = xstrndup((const char *)data, size);

	res_clear(&r);
	if (conf_load_buf(&c, "fuzz.conf", text, &r) == 0) {
		conf_choose(&c, NULL, "x@example.com", &r);
		for (size_t i = 0; i < c.naccounts; i++)
			(void)account_port(&c.accounts[i]);
	}
	conf_free(&c);
	free(text);
	return 0;
}
