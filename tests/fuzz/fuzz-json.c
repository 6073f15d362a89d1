/* Fuzz the strict JSON object reader (json.c): whatever it accepts keeps
 * only NUL-free member names and string values, and it never reads past
 * the input (the input is copied to a buffer of its exact size). */
#include "fuzz-common.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object o;
	char err[128], *copy = malloc(size ? size : 1);
	long n;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (json_parse(copy, size, &o, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < o.n; i++) {
			if (o.v[i].type == JSON_STRING && !json_string(&o, o.v[i].name))
				abort();
			(void)json_count(&o, o.v[i].name, &n);
		}
	} else if (!err[0]) {
		abort();   /* a refusal always says why */
	}
	json_free(&o);
	free(copy);
	return 0;
}
