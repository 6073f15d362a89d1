/* Fuzz the option parser: the input is argv, words separated by NUL; the
 * first byte picks the personality. */
#include "fuzz-common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "result.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "mailout", "sendmail", "mailq", "newaliases",
					     "mail", "mailx" };
	char *buf, *argv[64];
	int argc = 1;
	struct options o;
	struct result r;

	if (size == 0)
		return 0;
	argv[0] = (char *)names[data[0] % 6];
	buf = xstrndup((const char *)data + 1, size - 1);
	for (char *p = buf; argc < 63 && p < buf + size - 1; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	res_clear(&r);
	cli_parse(argc, argv, &o, &r);
	cli_free(&o);
	free(buf);
	return 0;
}
