/* test-dsn.c - delivery status notifications (dsn.c): the status code of
 * each recipient, the report's fields, folding, and hostile reply text.
 * With "--sample FILE" it also writes one notification to FILE, for
 * tests/integration/test_dsn_format.py to read with Python's email parser. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dsn.h"
#include "tap.h"
#include "util.h"

static const char original[] =
	"mailout-envelope 1\nsender me@example.org\nrcpt a@example.com\n\n"
	"From: Me <me@example.org>\r\nTo: a@example.com\r\nSubject: caf\xc3\xa9 report\r\n"
	"X-Long: one\r\n two\r\n\r\nThe body, never quoted.\r\n";

static int
memfile(const char *data, size_t n)
{
	int fd = memfd_create("t", 0);

	if (fd < 0 || write(fd, data, n) != (ssize_t)n)
		abort();
	return fd;
}

static char *
slurp(int fd)
{
	off_t n = lseek(fd, 0, SEEK_END);
	char *s = calloc(1, (size_t)n + 1);

	if (pread(fd, s, (size_t)n, 0) != n)
		abort();
	return s;
}

static char *
render(const struct dsn *d)
{
	int in = memfile(original, sizeof(original) - 1), out = memfd_create("o", 0);
	off_t off = (off_t)(strstr(original, "\n\n") - original) + 2;
	struct result r;
	char *s;

	res_clear(&r);
	if (dsn_write(out, d, in, off, &r) < 0)
		abort();
	s = slurp(out);
	close(in);
	close(out);
	return s;
}

static void
test_status(void)
{
	static const struct {
		int code;
		const char *reply;
		int expired;
		enum dsn_kind kind;
		const char *want;
	} t[] = {
		{ 550, "550 5.1.1 <a@example.com>: Recipient address rejected", 0, DSN_FAILED, "5.1.1" },
		{ 553, "553-5.7.1 Sender address rejected", 0, DSN_FAILED, "5.7.1" },
		{ 552, "552 5.3.4 Message size exceeds fixed limit", 0, DSN_FAILED, "5.3.4" },
		{ 550, "550 Mailbox unavailable", 0, DSN_FAILED, "5.0.0" },
		{ 550, "550 4.1.1 class disagrees with the code", 0, DSN_FAILED, "5.0.0" },
		{ 550, "550 5.1 not three parts", 0, DSN_FAILED, "5.0.0" },
		{ 550, "550 5.1234.1 subject too long", 0, DSN_FAILED, "5.0.0" },
		{ 550, "550 5.1.1x trailing garbage", 0, DSN_FAILED, "5.0.0" },
		{ 451, "451 4.3.0 try later", 1, DSN_FAILED, "4.3.0" },
		{ 451, "451 try later", 0, DSN_DELAYED, "4.0.0" },
		{ 0, NULL, 1, DSN_FAILED, "4.4.7" },
		{ 0, NULL, 0, DSN_FAILED, "5.0.0" },
		{ 0, NULL, 0, DSN_DELAYED, "4.0.0" },
	};
	char buf[32];
	const char *got = buf;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct dsn d = { .kind = t[i].kind };
		struct dsn_rcpt r = { .rcpt = "a@b", .smtp_code = t[i].code, .reply = t[i].reply,
				      .expired = t[i].expired };

		dsn_status(&d, &r, buf, sizeof(buf));
		is_str(got, t[i].want, "status of %d %s", t[i].code, t[i].reply ? t[i].reply : "(none)");
	}
}

static const struct dsn_rcpt rcpts[] = {
	{ .rcpt = "a@example.com", .smtp_code = 550,
	  .reply = "550 5.1.1 <a@example.com>: Recipient address rejected: User unknown in "
		   "virtual mailbox table; this reply goes on long enough to need folding" },
	{ .rcpt = "b@example.com", .smtp_code = 554,
	  .reply = "554 5.7.1 evil\r\nX-Injected: yes\r\n\r\n--boundary\x1b[31m" },
	{ .rcpt = "root", .reason = "unknown local user" },
	{ .rcpt = "c@example.com", .expired = 1 },
};

static void
test_report(void)
{
	struct dsn d = {
		.kind = DSN_FAILED, .reporting_mta = "host.example", .remote_mta = "relay.example",
		.to = "me@example.org", .queue_id = "20261207T080000.abc", .arrival = 1796630400,
		.last_attempt = 1796634000, .rcpts = rcpts, .nrcpts = 4,
	};
	char *s = render(&d), *p;

	ok(strstr(s, "From: Mail Delivery System <MAILER-DAEMON@host.example>\r\n") == s,
	   "From the mail system, first");
	ok(strstr(s, "\r\nTo: me@example.org\r\n") != NULL, "To the envelope sender");
	ok(strstr(s, "\r\nAuto-Submitted: auto-replied\r\n") != NULL, "Auto-Submitted");
	ok(strstr(s, "multipart/report; report-type=delivery-status;") != NULL, "multipart/report");
	ok(strstr(s, "\r\nReporting-MTA: dns; host.example\r\n") != NULL, "Reporting-MTA");
	ok(strstr(s, "\r\nArrival-Date: ") != NULL, "Arrival-Date");
	ok(strstr(s, "\r\nFinal-Recipient: rfc822; a@example.com\r\nAction: failed\r\n"
		     "Status: 5.1.1\r\nRemote-MTA: dns; relay.example\r\n"
		     "Diagnostic-Code: smtp; 550 5.1.1 <a@example.com>: Recipient address rejected:"
		     "\r\n\tUser unknown") != NULL, "a recipient's fields, the diagnostic folded");
	ok(strstr(s, "Final-Recipient: rfc822; root\r\nAction: failed\r\nStatus: 5.0.0\r\n"
		     "Diagnostic-Code: x-mailout; unknown local user\r\n") != NULL,
	   "a local refusal: no Remote-MTA, mailout's own words");
	ok(strstr(s, "Final-Recipient: rfc822; c@example.com\r\nAction: failed\r\nStatus: 4.4.7\r\n")
	   != NULL, "an expired message: 4.4.7");
	ok(strstr(s, "\r\nX-Injected") == NULL && strstr(s, "\r\n--boundary") == NULL &&
	   strchr(s, '\x1b') == NULL, "a reply cannot add a field, a part or a control byte");
	ok(strstr(s, "Content-Type: text/rfc822-headers; charset=utf-8\r\n"
		     "Content-Transfer-Encoding: 8bit\r\n") != NULL, "8-bit headers are declared");
	ok(strstr(s, "Subject: caf\xc3\xa9 report\r\nX-Long: one\r\n two\r\n\r\n--") != NULL,
	   "the original headers, folding kept, then the close");
	ok(strstr(s, "never quoted") == NULL, "the body is not quoted");
	for (p = s; (p = strchr(p, '\n')); p++)
		if (p == s || p[-1] != '\r')
			break;
	ok(p == NULL, "CRLF line endings throughout");
	for (p = s; (p = strstr(p, "\r\n")); p += 2) {
		char *next = strstr(p + 2, "\r\n");

		if (next && next - (p + 2) > 998)
			break;
	}
	ok(p == NULL, "no line over 998 bytes");
	free(s);

	d.kind = DSN_DELAYED;
	s = render(&d);
	ok(strstr(s, "Subject: Delayed Mail (still being retried)\r\n") != NULL &&
	   strstr(s, "Action: delayed\r\n") != NULL && strstr(s, "Action: failed") == NULL,
	   "a delay warning says delayed");
	free(s);
}

int
main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--sample")) {
		struct dsn d = {
			.kind = DSN_FAILED, .reporting_mta = "host.example",
			.remote_mta = "relay.example", .to = "me@example.org", .queue_id = "Q1",
			.arrival = 1796630400, .last_attempt = 1796634000, .rcpts = rcpts,
			.nrcpts = 4,
		};
		char *s = render(&d);
		FILE *f = fopen(argv[2], "w");

		if (!f || fputs(s, f) < 0 || fclose(f) != 0)
			return 1;
		free(s);
		return 0;
	}
	test_status();
	test_report();
	return done_testing();
}
