/* test-drop.c - the form check of mailout-drop's input (drop-check.c):
 * a table of inputs and verdicts, each fed whole and one byte at a time. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "drop.h"
#include "tap.h"

#define ENV "mailout-envelope 1\n"

static const struct {
	const char *name, *in;
	int ok;
} cases[] = {
	{ "minimal", ENV "sender a@b.example\nrcpt c@d.example\n\n", 1 },
	{ "null sender", ENV "sender \nrcpt root\n\nbody", 1 },
	{ "account and created", ENV "account sys\nsender a\nrcpt b\ncreated 17\n\nx", 1 },
	{ "the message may hold anything", ENV "sender a\nrcpt b\n\n\x01\x00\xff\r\n.\r\n", 1 },
	{ "empty input", "", 0 },
	{ "no magic", "Subject: x\n\nbody", 0 },
	{ "another version", "mailout-envelope 2\nsender a\nrcpt b\n\n", 0 },
	{ "ends in the envelope", ENV "sender a\nrcpt b\n", 0 },
	{ "no recipient", ENV "sender a\n\n", 0 },
	{ "no sender", ENV "rcpt b\n\n", 0 },
	{ "two senders", ENV "sender a\nsender b\nrcpt c\n\n", 0 },
	{ "two accounts", ENV "account x\naccount y\nsender a\nrcpt c\n\n", 0 },
	{ "empty account", ENV "account \nsender a\nrcpt c\n\n", 0 },
	{ "empty rcpt", ENV "sender a\nrcpt \n\n", 0 },
	{ "created not a number", ENV "sender a\nrcpt b\ncreated 1e3\n\n", 0 },
	{ "passwordeval", ENV "passwordeval cat /etc/shadow\nsender a\nrcpt b\n\n", 0 },
	{ "host", ENV "host evil.example\nsender a\nrcpt b\n\n", 0 },
	{ "a key without value", ENV "sender a\nrcpt\n\n", 0 },
	{ "CR in the envelope", ENV "sender a\r\nrcpt b\n\n", 0 },
	{ "tab in the envelope", ENV "sender a\trcpt b\n\n", 0 },
	{ "UTF-8 in the envelope", ENV "sender a\nrcpt caf\xc3\xa9@x\n\n", 0 },
};

static int
check(const char *in, size_t n, size_t chunk)
{
	struct drop_check c;

	drop_check_init(&c);
	for (size_t off = 0; off < n; off += chunk)
		if (drop_check_feed(&c, in + off, n - off < chunk ? n - off : chunk) < 0)
			return 0;
	return drop_check_finish(&c) == 0;
}

/* The NUL-containing case needs its length: sizeof of a literal. */
static size_t
case_len(size_t i)
{
	if (strcmp(cases[i].name, "the message may hold anything") == 0)
		return sizeof(ENV "sender a\nrcpt b\n\n\x01\x00\xff\r\n.\r\n") - 1;
	return strlen(cases[i].in);
}

int
main(void)
{
	struct drop_check c;
	char *big;
	size_t n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = case_len(i);
		ok(check(cases[i].in, n, n ? n : 1) == cases[i].ok, "%s: %s (whole)",
		   cases[i].name, cases[i].ok ? "taken" : "refused");
		ok(check(cases[i].in, n, 1) == cases[i].ok, "%s: same byte by byte", cases[i].name);
	}

	/* A line of DROP_LINE_MAX bytes is taken, one more is not. */
	big = malloc(DROP_LINE_MAX + 64);
	for (int extra = 0; extra < 2; extra++) {
		size_t len = strlen(ENV "sender a\nrcpt ");

		memcpy(big, ENV "sender a\nrcpt ", len);
		memset(big + len, 'x', DROP_LINE_MAX - 5 + (size_t)extra);
		len += DROP_LINE_MAX - 5 + (size_t)extra;
		memcpy(big + len, "\n\n", 2);
		ok(check(big, len + 2, 7) == !extra, "a line of %d bytes is %s",
		   DROP_LINE_MAX + extra, extra ? "refused" : "taken");
	}
	free(big);

	/* A failed check stays failed, with its reason. */
	drop_check_init(&c);
	ok(drop_check_feed(&c, "nope\n", 5) < 0 && c.error && strstr(c.error, "envelope"),
	   "the reason is given");
	ok(drop_check_feed(&c, ENV, strlen(ENV)) < 0 && drop_check_finish(&c) < 0,
	   "a failed check stays failed");
	return done_testing();
}
