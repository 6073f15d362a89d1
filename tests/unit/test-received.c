/* test-received.c - the Received header of a message from a local user
 * (received.c): the helo name kept only when it is a plain host name or
 * an address literal, the user name only when the uid has one, the line
 * ends asked for, and the folding of the three lines. */
#include "config.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "message.h"
#include "received.h"
#include "tap.h"
#include "testutil.h"
#include "util.h"

/* A uid the password database has no entry for, or (uid_t)-1 when none
 * was found. */
static uid_t
nameless_uid(void)
{
	for (uid_t u = 4000000; u < 4000100; u++)
		if (!getpwuid(u))
			return u;
	return (uid_t)-1;
}

/* The header for these arguments, compared with the three lines wanted
 * (the date line is the time of the call, read before and after it). */
static void
header_is(const char *helo, uid_t uid, const char *with, const char *eol,
	  const char *from_line, const char *name)
{
	struct dynbuf d = { 0 };
	char before[64], after[64], *want1, *want2;
	time_t t0 = time(NULL);

	msg_date(t0, before, sizeof(before));
	received_header(&d, helo, uid, with, eol);
	msg_date(time(NULL), after, sizeof(after));
	want1 = xasprintf("%s%s\tby %s (mailout) with %s;%s\t%s%s", from_line, eol,
			  host_fqdn(), with, eol, before, eol);
	want2 = xasprintf("%s%s\tby %s (mailout) with %s;%s\t%s%s", from_line, eol,
			  host_fqdn(), with, eol, after, eol);
	if (!ok(strcmp(db_str(&d), want1) == 0 || strcmp(db_str(&d), want2) == 0, "%s", name))
		printf("#   got: \"%s\"\n#  want: \"%s\"\n", db_str(&d), want1);
	free(want1);
	free(want2);
	db_free(&d);
}

static void
test_helo(void)
{
	header_is("client.example.test", 0, "ESMTP", "\r\n",
		  "Received: from client.example.test (uid 0, user root)",
		  "a plain host name is kept");
	header_is("[192.0.2.1]", 0, "ESMTP", "\r\n",
		  "Received: from [192.0.2.1] (uid 0, user root)",
		  "an IPv4 address literal is kept");
	header_is("[IPv6:2001:db8::1]", 0, "SMTP", "\r\n",
		  "Received: from [IPv6:2001:db8::1] (uid 0, user root)",
		  "an IPv6 address literal is kept");
	header_is("my_host-1.test", 0, "SMTP", "\r\n",
		  "Received: from my_host-1.test (uid 0, user root)",
		  "'_' and '-' are kept");
	header_is(NULL, 0, "local", "\n", "Received: from localhost (uid 0, user root)",
		  "no helo: localhost");
	header_is("", 0, "local", "\n", "Received: from localhost (uid 0, user root)",
		  "an empty helo: localhost");
	header_is("evil (uid 0, user root)", 0, "ESMTP", "\r\n",
		  "Received: from localhost (uid 0, user root)",
		  "a helo with spaces and parentheses: localhost");
	header_is("a\r\nX-Injected: yes", 0, "ESMTP", "\r\n",
		  "Received: from localhost (uid 0, user root)",
		  "a helo with a line break: localhost");
	header_is("h\xc3\xa9.test", 0, "ESMTP", "\r\n",
		  "Received: from localhost (uid 0, user root)",
		  "a helo with non-ASCII bytes: localhost");
	header_is("a;b", 0, "ESMTP", "\r\n",
		  "Received: from localhost (uid 0, user root)",
		  "a helo with ';': localhost");
}

static void
test_helo_length(void)
{
	char name[300];

	memset(name, 'a', 255);
	name[255] = '\0';
	{
		char *want = xasprintf("Received: from %s (uid 0, user root)", name);
		header_is(name, 0, "ESMTP", "\r\n", want, "a 255-byte helo is kept");
		free(want);
	}
	memset(name, 'a', 256);
	name[256] = '\0';
	header_is(name, 0, "ESMTP", "\r\n", "Received: from localhost (uid 0, user root)",
		  "a 256-byte helo: localhost");
}

static void
test_user(void)
{
	uid_t u = nameless_uid();
	char *want;

	if (!ok(u != (uid_t)-1, "found a uid without a name"))
		return;
	want = xasprintf("Received: from c.test (uid %lu)", (unsigned long)u);
	header_is("c.test", u, "local", "\n", want, "a uid without a name: no user clause");
	free(want);
}

/* The lines of s ending in CRLF and in a bare LF. */
static void
count_eols(const char *s, int *crlf, int *lf)
{
	*crlf = *lf = 0;
	for (const char *p = s; *p; p++)
		if (*p == '\n')
			++*(p > s && p[-1] == '\r' ? crlf : lf);
}

static void
test_eol(void)
{
	struct dynbuf d = { 0 };
	const char *s;
	int crlf = 0, lf = 0;

	received_header(&d, "c.test", 0, "ESMTP", "\r\n");
	s = db_str(&d);
	count_eols(s, &crlf, &lf);
	ok(crlf == 3 && lf == 0, "eol \"\\r\\n\": three lines, each ending in CRLF");
	ok(strstr(s, "\r\n\tby ") && strstr(s, ";\r\n\t"), "continuation lines start with a tab");
	db_reset(&d);
	received_header(&d, "c.test", 0, "local", "\n");
	s = db_str(&d);
	count_eols(s, &crlf, &lf);
	ok(crlf == 0 && lf == 3, "eol \"\\n\": three lines, each ending in LF");
	ok(t_longest_line(s, 0) <= 998, "no line is longer than 998 characters");
	db_free(&d);
}

static void
test_appends(void)
{
	static const char want[] = "X-Before: 1\nReceived: from c.test ";
	struct dynbuf d = { 0 };

	db_adds(&d, "X-Before: 1\n");
	received_header(&d, "c.test", 0, "local", "\n");
	ok(strncmp(db_str(&d), want, strlen(want)) == 0,
	   "the header is appended to what d holds");
	db_free(&d);
}

int
main(void)
{
	test_helo();
	test_helo_length();
	test_user();
	test_eol();
	test_appends();
	return done_testing();
}
