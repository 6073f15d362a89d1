/* Unit tests for address.c: RFC 5322 address lists and envelope checks. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "tap.h"
#include "util.h"

/* Parse s and compare the addresses with want (a NULL-terminated list);
 * want == NULL means a parse error is expected. */
static void
parses(const char *s, const char *const *want, const char *name)
{
	struct addr_list l = { 0 };
	char err[256] = "";
	int n = addr_parse_list(s, strlen(s), &l, err, sizeof(err));

	if (!want) {
		ok(n < 0 && err[0], "%s: refused (%s)", name, err);
	} else {
		size_t k = 0;
		int same = n >= 0;
		for (; want[k]; k++)
			same = same && k < l.n && strcmp(l.v[k], want[k]) == 0;
		same = same && k == l.n;
		if (!ok(same, "%s", name)) {
			printf("#   n=%d err=%s\n", n, err);
			for (size_t i = 0; i < l.n; i++)
				printf("#   got[%zu] = %s\n", i, l.v[i]);
		}
	}
	addr_list_free(&l);
}

#define LIST(...) ((const char *const[]){ __VA_ARGS__, NULL })

int
main(void)
{
	char err[256];
	struct dynbuf d = { 0 };
	char longaddr[300];

	parses("a@x.org", LIST("a@x.org"), "bare address");
	parses("Joe <j@x.org>", LIST("j@x.org"), "name-addr");
	parses("\"Doe, John\" <j@x.org>, k@y.org", LIST("j@x.org", "k@y.org"),
	       "quoted display name with a comma");
	parses("(comment (nested)) a@x.org (trailing)", LIST("a@x.org"), "comments, nested");
	parses("\"a (not a comment)\" <a@x.org>", LIST("a@x.org"), "parentheses inside quotes");
	parses("Team: a@x.org, b@y.org;, c@z.org", LIST("a@x.org", "b@y.org", "c@z.org"), "group");
	parses("undisclosed-recipients:;", (const char *const[]){ NULL }, "empty group");
	parses("a@x.org,\r\n b@y.org", LIST("a@x.org", "b@y.org"), "folded value");
	parses("<@r1.example,@r2.example:q@w.org>", LIST("q@w.org"), "source route dropped");
	parses("\"a b\"@x.org", LIST("\"a b\"@x.org"), "quoted local part");
	parses("a@[127.0.0.1], b@[IPv6:::1]", LIST("a@[127.0.0.1]", "b@[IPv6:::1]"),
	       "domain literals");
	parses("john . doe @ x.org", LIST("john.doe@x.org"), "obsolete spacing");
	parses("a@X.org, a@x.ORG, A@x.org", LIST("a@X.org", "A@x.org"),
	       "duplicates collapse; domains case-insensitive, local parts not");
	parses(",, a@x.org ,,", LIST("a@x.org"), "empty elements");
	parses("root", LIST("root"), "local name");
	parses("Joe <j@x.org>, <>", LIST("j@x.org"), "<> skipped");
	parses("\"unterminated <a@x.org>", NULL, "unterminated quote");
	parses("(unterminated a@x.org", NULL, "unterminated comment");
	parses("Joe <j@x.org", NULL, "missing '>'");
	parses("John Doe", NULL, "a name without an address");
	parses("a@x.org\r\nRCPT TO:<evil@x.org>", NULL, "CR LF injection in a bare address");
	parses("<a@x.org\r\nRCPT TO:evil@x.org>", NULL, "CR LF injection inside <>");
	parses("Joe <<j@x.org>>", NULL, "nested '<'");
	parses("a@b@c.org", NULL, "two '@'");
	{
		struct addr_list l = { 0 };
		const char nul[] = "a@x.org\0b@y.org";
		ok(addr_parse_list(nul, sizeof(nul) - 1, &l, err, sizeof(err)) < 0,
		   "NUL in a list refused");
		addr_list_free(&l);
	}

	ok(addr_check("a@x.org", err, sizeof(err)) == 0, "check: plain address");
	ok(addr_check("\"a b\"@x.org", err, sizeof(err)) == 0, "check: quoted local part");
	ok(addr_check("a\r@x.org", err, sizeof(err)) < 0, "check: CR refused");
	ok(addr_check("a@x.org\n", err, sizeof(err)) < 0, "check: LF refused");
	ok(addr_check("a\t@x.org", err, sizeof(err)) < 0, "check: control character refused");
	ok(addr_check("a b@x.org", err, sizeof(err)) < 0, "check: space refused");
	ok(addr_check("<a@x.org>", err, sizeof(err)) < 0, "check: angle brackets refused");
	ok(addr_check("a@b@x.org", err, sizeof(err)) < 0, "check: two '@' refused");
	ok(addr_check("@x.org", err, sizeof(err)) < 0, "check: empty local part refused");
	ok(addr_check("a@", err, sizeof(err)) < 0, "check: empty domain refused");
	ok(addr_check("", err, sizeof(err)) < 0, "check: empty refused");
	memset(longaddr, 'a', 250);
	strcpy(longaddr + 250, "@x.org");
	ok(addr_check(longaddr, err, sizeof(err)) < 0, "check: longer than 254 refused");

	is_str(addr_domain("a@x.org"), "x.org", "domain");
	is_str(addr_domain("\"a@b\"@x.org"), "x.org", "domain after a quoted '@'");
	ok(addr_domain("root") == NULL, "no domain");

	addr_format_phrase(&d, "Backup robot");
	is_str(db_str(&d), "Backup robot", "phrase without specials stays");
	db_reset(&d);
	addr_format_phrase(&d, "Doe, John \"JD\"");
	is_str(db_str(&d), "\"Doe, John \\\"JD\\\"\"", "phrase with specials is quoted");
	db_free(&d);
	return done_testing();
}
