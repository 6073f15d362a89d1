/* Fuzz the -v transcript's AUTH redaction (smtp-trace.c).  Input: lines; a
 * line starting with 'C' is sent by mailout, any other comes from the
 * relay.  The oracle follows RFC 4954 on its own: from "AUTH MECH" until
 * the relay's final reply other than 334 every line mailout sends is SASL
 * data, and must be shown as "[redacted]"; the initial response on the
 * AUTH line itself must not be shown either. */
#include "fuzz-common.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp-trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A final reply line: three digits, then a space or nothing. */
static int
final_reply(const char *l, size_t n)
{
	return n >= 3 && isdigit((unsigned char)l[0]) && isdigit((unsigned char)l[1]) &&
	       isdigit((unsigned char)l[2]) && (n == 3 || l[3] == ' ');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_trace t;
	const char *p = (const char *)data, *end = p + size;
	char show[1100];
	int in_auth = 0;

	smtp_trace_init(&t, 0);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int out = n && p[0] == 'C';
		const char *line = out ? p + 1 : p;
		size_t len = out ? n - 1 : n;

		/* The transcript drops the line end first, as the oracle does. */
		while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
			len--;
		smtp_trace_show(&t, out, line, len, show, sizeof(show));
		if (out && in_auth && strcmp(show, "--> [redacted]") != 0)
			abort();
		if (out && !in_auth && len >= 5 && strncasecmp(line, "AUTH ", 5) == 0) {
			if (memchr(line + 5, ' ', len - 5) &&
			    (strlen(show) < 11 || strcmp(show + strlen(show) - 11, " [redacted]")))
				abort();
			in_auth = 1;
		} else if (!out && in_auth && final_reply(line, len) && strncmp(line, "334", 3)) {
			in_auth = 0;
		}
		smtp_trace_line(&t, out, line, len);
		p += n + (nl ? 1 : 0);
	}
	smtp_trace_free(&t);
	return 0;
}
