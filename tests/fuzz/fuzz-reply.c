/* Fuzz the relay's side of an SMTP dialogue: reply lines through the trace
 * (smtp-trace.c) and what they classify as (classify.c).  Input: lines; a
 * line starting with 'C' is a command mailout sent (the rest of the line),
 * any other line a line the relay sent.  The first byte's low bit turns
 * partial_delivery on.  Invariants: no C1 control character in stored
 * relay text, no control character in the transcript, and every failure
 * classifies to a class with a text. */
#include "fuzz-common.h"

#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "smtp-trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
no_c1(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			abort();
}

static void
classify_all(const struct smtp_trace *t)
{
	static struct account a = { .name = (char *)"a", .host = (char *)"relay.test",
				    .tls = TLS_STARTTLS, .timeout = 5 };
	struct result r;

	for (int e = XFER_ABORT_READ; e <= XFER_OTHER; e++) {
		struct xfer_outcome x = {
			.err = (enum xfer_error)e, .errtext = "libcurl", .acct = &a,
			.stage = smtp_trace_stage(t),
			.code = t->fail_code ? t->fail_code : t->code,
			.reply = t->fail_code ? db_str(&t->fail_reply) : db_str(&t->reply),
			.rcpt = t->fail_rcpt, .refused = t->fail_code != 0,
			.auth_offered = t->auth_offered,
		};
		res_clear(&r);
		if (res_from_xfer(&x, &r) != -1 || r.cls == RES_OK || !r.text[0])
			abort();
	}
	for (size_t i = 0; i < t->nrefused; i++) {
		res_clear(&r);
		if (res_from_reply("relay.test", SMTP_RCPT, t->refused[i].code,
				   t->refused[i].reply, t->refused[i].rcpt, &r) != -1)
			abort();
		no_c1(t->refused[i].reply);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_trace t;
	const char *p = (const char *)data, *end = p + size;
	char show[1100];

	smtp_trace_init(&t, size && (data[0] & 1));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int out = n && p[0] == 'C';
		const char *line = out ? p + 1 : p;
		size_t len = out ? n - 1 : n;

		smtp_trace_show(&t, out, line, len, show, sizeof(show));
		for (const unsigned char *s = (const unsigned char *)show; *s; s++)
			if (*s < 0x20 || *s == 0x7f)
				abort();
		no_c1(show);
		smtp_trace_line(&t, out, line, len);
		no_c1(db_str(&t.reply));
		p += n + (nl ? 1 : 0);
	}
	classify_all(&t);
	smtp_trace_free(&t);
	return 0;
}
