/* test-trace.c - following recorded SMTP dialogues (smtp-trace.c): stages,
 * replies, the first refusal, refused recipients, AUTH state, the -v
 * transcript's redaction, and C1 control characters kept out. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp-trace.h"
#include "tap.h"

/* Feed a recorded dialogue: "C: " lines were sent, "S: " lines received. */
static void
feed(struct smtp_trace *t, const char *const *lines)
{
	for (; *lines; lines++)
		smtp_trace_line(t, (*lines)[0] == 'C', *lines + 3, strlen(*lines + 3));
}

static void
test_delivered(void)
{
	static const char *const d[] = {
		"S: 220 relay.test ESMTP",
		"C: EHLO client.test",
		"S: 250-relay.test",
		"S: 250-AUTH PLAIN LOGIN",
		"S: 250 SIZE 1000",
		"C: AUTH PLAIN AGFsaWNlAHNlY3JldA==",
		"S: 235 2.7.0 ok",
		"C: MAIL FROM:<a@example.test>",
		"S: 250 ok",
		"C: RCPT TO:<b@example.test>",
		"S: 250 ok",
		"C: DATA",
		"S: 354 go on",
		"S: 250-2.0.0 queued",
		"S: 250 2.0.0 as 1234",
		NULL
	};
	struct smtp_trace t;

	smtp_trace_init(&t, 0);
	feed(&t, d);
	ok(t.auth_offered && t.auth_ok, "AUTH offered and succeeded (235)");
	ok(t.stage == SMTP_BODY && t.code == 250 && !t.fail_code, "250 to the final dot");
	is_str(db_str(&t.reply), "250-2.0.0 queued 250 2.0.0 as 1234",
	       "a multi-line reply is its lines joined by spaces");
	ok(!t.in_sasl && !t.awaiting, "nothing is awaited at the end");
	smtp_trace_free(&t);
}

static void
test_refused_rcpt(void)
{
	static const char *const d[] = {
		"S: 220 relay.test", "C: EHLO c", "S: 250 relay.test",
		"C: MAIL FROM:<a@x.test>", "S: 250 ok",
		"C: RCPT TO:<bad@x.test>", "S: 550 5.1.1 no such user",
		"C: QUIT", "S: 221 bye", NULL
	};
	static const char *const p[] = {
		"S: 220 relay.test", "C: EHLO c", "S: 250 relay.test",
		"C: MAIL FROM:<a@x.test>", "S: 250 ok",
		"C: RCPT TO:<bad@x.test>", "S: 550 5.1.1 no such user",
		"C: RCPT TO:<good@x.test>", "S: 250 ok",
		"C: DATA", "S: 354 go", "S: 250 ok", NULL
	};
	struct smtp_trace t;

	smtp_trace_init(&t, 0);
	feed(&t, d);
	ok(t.fail_code == 550 && t.fail_stage == SMTP_RCPT && t.fail_rcpt &&
	   !strcmp(t.fail_rcpt, "bad@x.test"), "the first refusal decides, with its recipient");
	is_str(db_str(&t.fail_reply), "550 5.1.1 no such user", "... and its text");
	ok(smtp_trace_stage(&t) == SMTP_RCPT && t.code == 221,
	   "QUIT's reply decides nothing");
	is_int((int)t.nrefused, 1, "one refused recipient");

	smtp_trace_reset(&t);
	ok(!t.fail_code && !t.nrefused && t.code == 0 && t.stage == SMTP_CONNECT,
	   "a reset forgets the transaction");
	smtp_trace_free(&t);

	smtp_trace_init(&t, 1);
	feed(&t, p);
	ok(!t.fail_code, "partial delivery: a refused RCPT is not the transaction's failure");
	ok(t.nrefused == 1 && !strcmp(t.refused[0].rcpt, "bad@x.test") &&
	   t.refused[0].code == 550 && !strcmp(t.refused[0].reply, "550 5.1.1 no such user"),
	   "... it is that recipient's refusal");
	smtp_trace_free(&t);
}

static void
test_protocol(void)
{
	static const char *const garbage[] = { "S: HTTP/1.1 400 Bad Request", NULL };
	static const char *const helo[] = {
		"S: 220 old.test", "C: EHLO c", "S: 502 what?", "C: HELO c", "S: 250 hi",
		"C: MAIL FROM:<a@x.test>", "S: 250 ok", NULL
	};
	static const char *const data250[] = {
		"S: 220 r", "C: EHLO c", "S: 250 r", "C: MAIL FROM:<a@x.test>", "S: 250 ok",
		"C: RCPT TO:<b@x.test>", "S: 250 ok", "C: DATA", "S: 250 ok?", NULL
	};
	static const char *const hung[] = {
		"S: 220 r", "C: EHLO c", "S: 250 r", "C: MAIL FROM:<a@x.test>", "C: QUIT", NULL
	};
	struct smtp_trace t;

	smtp_trace_init(&t, 0);
	feed(&t, garbage);
	ok(t.code == -1 && !strcmp(db_str(&t.reply), "HTTP/1.1 400 Bad Request"),
	   "a line with no reply code: code -1, the line is the text");
	smtp_trace_free(&t);

	smtp_trace_init(&t, 0);
	feed(&t, helo);
	ok(!t.fail_code && t.stage == SMTP_MAIL, "a refused EHLO is forgotten after HELO");
	smtp_trace_free(&t);

	smtp_trace_init(&t, 0);
	feed(&t, data250);
	ok(t.fail_code == 250 && t.fail_stage == SMTP_DATA,
	   "a 2xx to DATA is recorded as a reply the command cannot get");
	smtp_trace_free(&t);

	smtp_trace_init(&t, 0);
	t.awaiting = 0;
	feed(&t, hung);
	ok(t.awaiting && smtp_trace_stage(&t) == SMTP_MAIL,
	   "QUIT after an unanswered MAIL: still awaited, the stage is MAIL");
	smtp_trace_free(&t);
}

static void
test_redaction(void)
{
	static const char *const d[] = {
		"C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: dXNlcg==", "S: 334 UGFzc3dvcmQ6",
		"C: eHlvIHNlY3JldA==", "S: 235 ok", "C: MAIL FROM:<a@x.test>", NULL
	};
	static const char *const want[] = {
		"--> AUTH LOGIN", "<-- 334 VXNlcm5hbWU6", "--> [redacted]", "<-- 334 UGFzc3dvcmQ6",
		"--> [redacted]", "<-- 235 ok", "--> MAIL FROM:<a@x.test>",
	};
	struct smtp_trace t;
	char buf[1100];

	smtp_trace_init(&t, 0);
	for (size_t i = 0; d[i]; i++) {
		int out = d[i][0] == 'C';

		is_str(smtp_trace_show(&t, out, d[i] + 3, strlen(d[i] + 3), buf, sizeof(buf)),
		       want[i], "transcript line %zu", i + 1);
		smtp_trace_line(&t, out, d[i] + 3, strlen(d[i] + 3));
	}
	ok(t.auth_ok && t.stage == SMTP_MAIL,
	   "SASL data that looks like a verb (eHlv...) is not a command");
	is_str(smtp_trace_show(&t, 1, "AUTH PLAIN AGFsaWNlAHNlY3JldA==", 31, buf, sizeof(buf)),
	       "--> AUTH PLAIN [redacted]", "an initial response is redacted");
	smtp_trace_free(&t);
}

static void
test_control_characters(void)
{
	struct smtp_trace t;
	char buf[1100], s[64];
	const char *line = "554 5.7.1 \xc2\x9b" "31m red \x9b" "0m", *got = s;
	size_t n;

	strcpy(s, "a\xc2\x9b" "b\x9b" "c\xc3\xa9\xc4\x81" "d\xc2\xa0" "e");
	n = smtp_trace_clean(s, strlen(s));
	is_str(got, "a?b?c\xc3\xa9\xc4\x81" "d\xc2\xa0" "e",
	       "C1 as UTF-8 and as a lone byte become ?, other UTF-8 stays");
	is_int((int)n, (int)strlen(s), "the new length");
	strcpy(s, "x\xc2");
	n = smtp_trace_clean(s, strlen(s));
	ok(n == 2 && !strcmp(s, "x\xc2"), "a cut sequence at the end is kept as it is");

	smtp_trace_init(&t, 0);
	smtp_trace_line(&t, 0, line, strlen(line));
	ok(!strchr(db_str(&t.reply), '\x9b') && !strstr(db_str(&t.reply), "\xc2\x9b") &&
	   strstr(db_str(&t.reply), "?31m red ?0m"), "a relay's reply is stored without C1");
	is_str(smtp_trace_show(&t, 0, "554 \x1b[31m\x9b" "0m\x7f", 14, buf, sizeof(buf)),
	       "<-- 554 ?[31m?0m?", "the transcript shows no control character");
	smtp_trace_free(&t);
}

static void
test_probe(void)
{
	static const char *const d[] = {
		"S: 220 relay.test hello", "C: EHLO c", "S: 250-relay.test", "S: 250 STARTTLS",
		"C: STARTTLS", "S: 220 go", "C: EHLO c", "S: 250-relay.test", "S: 250-AUTH PLAIN",
		"S: 250 SIZE 10", "C: NOOP", "S: 250 ok", NULL
	};
	struct submit_probe p;
	struct smtp_trace t;

	memset(&p, 0, sizeof(p));
	smtp_trace_init(&t, 0);
	t.probe = &p;
	feed(&t, d);
	ok(p.greeting && !strcmp(p.greeting, "220 relay.test hello"), "the greeting is kept");
	ok(p.nehlo_plain == 2 && !strcmp(p.ehlo_plain[1], "250 STARTTLS"),
	   "the EHLO answer before STARTTLS is kept apart");
	ok(p.nehlo == 3 && !strcmp(p.ehlo[1], "250-AUTH PLAIN"), "the EHLO answer after it");
	ok(t.auth_offered && t.stage == SMTP_OTHER, "AUTH offered after STARTTLS; NOOP");
	smtp_trace_free(&t);
	submit_probe_free(&p);
}

int
main(void)
{
	test_delivered();
	test_refused_rcpt();
	test_protocol();
	test_redaction();
	test_control_characters();
	test_probe();
	return done_testing();
}
