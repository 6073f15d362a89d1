/* test-smtpd.c - the -bs command table driven through smtpd_serve() on
 * files: the replies to each command in each state, and a message run
 * through the pipeline in dry-run mode (its Received header included). */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accept.h"
#include "conf.h"
#include "smtpd.h"
#include "tap.h"
#include "testutil.h"
#include "util.h"

static char dir[] = "/tmp/test-smtpd.XXXXXX";
static struct config cfg;

static int
tmpfile_fd(const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);

	unlink(p);
	free(p);
	return fd;
}

/* Serve dialogue; *replies gets what smtpd wrote, *printed what the
 * dry run printed on stdout.  Returns smtpd_serve()'s value. */
static int
serve(const char *dialogue, char **replies, char **printed)
{
	struct submission s;
	struct result r;
	int in = tmpfile_fd("in"), out = tmpfile_fd("out"), pr = tmpfile_fd("stdout");
	int saved = dup(1), rc;

	(void)write_all(in, dialogue, strlen(dialogue));
	lseek(in, 0, SEEK_SET);
	accept_init(&s, &cfg, -1);
	s.dry_run = 1;
	res_clear(&r);
	fflush(stdout);
	dup2(pr, 1);
	rc = smtpd_serve(&s, in, out, &r);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	*replies = t_read_fd(out, 0);
	if (printed)
		*printed = t_read_fd(pr, 0);
	close(in);
	close(out);
	close(pr);
	return rc;
}

/* The reply codes of the final line of each reply, as "220 250 ...". */
static char *
codes(const char *replies)
{
	struct dynbuf d = { 0 };

	for (const char *p = replies; *p; p = strchr(p, '\n') + 1) {
		if (strlen(p) > 3 && p[3] == ' ')
			db_printf(&d, "%s%.3s", d.len ? " " : "", p);
		if (!strchr(p, '\n'))
			break;
	}
	return d.s ? d.s : xstrdup("");
}

/* One dialogue, its reply codes compared with want. */
static void
check(const char *what, const char *dialogue, const char *want)
{
	char *replies, *got;

	serve(dialogue, &replies, NULL);
	got = codes(replies);
	is_str(got, want, "%s", what);
	free(got);
	free(replies);
}

static void
test_command_table(void)
{
	check("greetings", "EHLO a.example\r\nHELO a.example\r\nHELO\r\nEHLO\r\nQUIT\r\n",
	      "220 250 250 501 501 221");
	check("commands out of order",
	      "RCPT TO:<a@example.com>\r\nDATA\r\nMAIL FROM:<a@example.com>\r\n"
	      "MAIL FROM:<b@example.com>\r\nDATA\r\nRSET\r\nRCPT TO:<a@example.com>\r\n",
	      "220 503 503 250 503 554 250 503");
	check("MAIL and RCPT share one path check",
	      "MAIL FROM:a@example.com\r\nMAIL FROM:<a@example.com> NOTIFY=NEVER\r\n"
	      "MAIL FROM:<a@example.com> SIZE=x\r\nMAIL FROM:<a@@example.com>\r\n"
	      "MAIL FROM:<\xc3\xa9@example.com>\r\nMAIL FROM:<> BODY=8BITMIME SIZE=10\r\n"
	      "RCPT TO:<>\r\nRCPT TO:b@example.com\r\nRCPT TO:<b@example.com> NOTIFY=NEVER\r\n"
	      "RCPT TO:<b@@example.com>\r\nRCPT TO:<\xc3\xa9@example.com>\r\n"
	      "RCPT TO:<@relay.example:b@example.com>\r\n",
	      "220 501 555 501 553 553 250 501 501 555 553 553 250");
	check("fixed replies and what is not offered",
	      "NOOP\r\nHELP\r\nVRFY x\r\nSTARTTLS\r\nAUTH PLAIN\r\nBDAT 1\r\nETRN x\r\n"
	      "WHAT\r\nnoop\r\n", "220 250 214 252 502 502 502 502 500 250");
	check("a control character in a command",
	      "NO\x01OP\r\nNOOP\r\n", "220 501 250");
	{
		struct dynbuf d = { 0 };

		db_adds(&d, "NOOP ");
		for (int i = 0; i < 3000; i++)
			db_addc(&d, 'x');
		db_adds(&d, "\r\nNOOP\r\n");
		check("a line over the limit", d.s, "220 500 250");
		db_free(&d);
	}
}

static void
test_enhanced_codes(void)
{
	char *replies;

	serve("MAIL FROM:<a@@example.com>\r\nMAIL FROM:<a@example.com>\r\n"
	      "RCPT TO:<b@@example.com>\r\nQUIT\r\n", &replies, NULL);
	ok(strstr(replies, "\r\n553 5.1.7 ") != NULL, "a bad sender is 5.1.7");
	ok(strstr(replies, "\r\n553 5.1.3 ") != NULL, "a bad recipient is 5.1.3");
	free(replies);
}

static void
test_too_many_recipients(void)
{
	struct dynbuf d = { 0 };
	char *replies;

	db_adds(&d, "MAIL FROM:<a@example.com>\r\n");
	for (int i = 0; i <= 1000; i++)
		db_printf(&d, "RCPT TO:<r%d@example.com>\r\n", i);
	serve(d.s, &replies, NULL);
	ok(strstr(replies, "250 2.1.5 Ok\r\n452 4.5.3 Error: too many recipients\r\n") != NULL,
	   "the 1001st recipient is 452 4.5.3");
	free(replies);
	db_free(&d);
}

static void
test_message(void)
{
	char *replies, *printed, *want, *got;
	int rc = serve("EHLO client.example\r\nMAIL FROM:<a@example.com>\r\n"
		       "RCPT TO:<b@example.com>\r\nDATA\r\nSubject: s\r\n\r\n..dot\r\n.\r\n"
		       "QUIT\r\n", &replies, &printed);

	is_int(rc, 0, "the session ends well");
	got = codes(replies);
	is_str(got, "220 250 250 250 354 250 221", "a message: 354, then 250 to the dot");
	want = xasprintf("Envelope-From: <a@example.com>\nEnvelope-To: <b@example.com>\n");
	ok(strncmp(printed, want, strlen(want)) == 0, "the envelope is MAIL FROM and RCPT TO");
	free(want);
	want = xasprintf("\n\nReceived: from client.example (uid %lu", (unsigned long)getuid());
	ok(strstr(printed, want) != NULL, "the message starts with Received naming the uid");
	ok(strstr(printed, "by ") && strstr(printed, " (mailout) with ESMTP;\r\n"),
	   "by this host, with ESMTP");
	ok(strstr(printed, "\r\nSubject: s\r\n") && strstr(printed, "\r\n\r\n.dot\r\n"),
	   "the message follows, dot-unstuffed");
	free(want);
	free(got);
	free(replies);
	free(printed);
}

static void
test_input_ends_inside_data(void)
{
	char *replies, *got;
	int rc = serve("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
		       "Subject: s\r\n", &replies, NULL);

	got = codes(replies);
	is_int(rc, 0, "input ending inside DATA ends the session, not as an error");
	is_str(got, "220 250 250 354", "and nothing answers the unfinished message");
	free(got);
	free(replies);
}

int
main(void)
{
	struct result r;
	char *conf;

	if (!mkdtemp(dir))
		return 1;
	conf = xasprintf("queue_dir = \"%s/q\"\ndefault_account = \"relay\"\n"
			 "account \"relay\" {\n  host = \"relay.invalid\"\n}\n", dir);
	res_clear(&r);
	if (conf_load_buf(&cfg, "test.conf", conf, &r) != 0) {
		printf("Bail out! %s\n", r.text);
		return 1;
	}
	free(conf);
	test_command_table();
	test_enhanced_codes();
	test_too_many_recipients();
	test_message();
	test_input_ends_inside_data();
	conf_free(&cfg);
	rmdir(dir);
	return done_testing();
}
