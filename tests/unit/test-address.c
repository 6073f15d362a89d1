/* Unit tests for address.c: RFC 5322 address lists and envelope checks. */
#include "config.h"

#include <stdio.h>
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

/*
 * De-duplication must mean the same with and without the hash index that
 * lists of 16 or more entries carry: local parts exact, domains
 * ASCII-case-insensitive, names without a domain exact, a quoted '@' not a
 * domain separator.  Fill a list to n distinct entries, then offer each
 * again in other spellings.
 */
static void
dedup_at_size(size_t n)
{
	struct addr_list l = { 0 };
	char a[64], b[64];
	int same = 1, kept = 1;

	for (size_t i = 0; i < n; i++) {
		snprintf(a, sizeof(a), i % 3 ? "U%zu@Example.ORG" : "local%zu", i);
		addr_list_add(&l, a);
	}
	same = same && l.n == n;
	for (size_t i = 0; i < n; i++) {
		if (i % 3) {
			snprintf(a, sizeof(a), "U%zu@example.org", i);   /* same */
			snprintf(b, sizeof(b), "u%zu@Example.ORG", i);   /* other local part */
		} else {
			snprintf(a, sizeof(a), "local%zu", i);
			snprintf(b, sizeof(b), "LOCAL%zu", i);
		}
		same = same && addr_list_contains(&l, a);
		kept = kept && !addr_list_contains(&l, b);
		addr_list_add(&l, a);
	}
	same = same && l.n == n;
	addr_list_add(&l, "\"x@y\"@Example.ORG");
	addr_list_add(&l, "\"x@y\"@example.org");
	addr_list_add(&l, "\"x@Y\"@example.org");
	ok(same && l.n == n + 2, "dedup with %zu entries: the same address in other case", n);
	ok(kept, "dedup with %zu entries: local parts and local names compare exactly", n);
	ok(addr_list_contains(&l, "\"x@y\"@EXAMPLE.org") &&
	   !addr_list_contains(&l, "\"X@y\"@example.org"),
	   "dedup with %zu entries: a quoted '@' is part of the local part", n);
	addr_list_free(&l);
}

/* The text of a canonical local part (quotes and escapes removed), and
 * whether it is one quoted string (else it must be a dot-atom). */
static int
canonical_text(const char *lp, size_t n, struct dynbuf *text, int *quoted)
{
	*quoted = n >= 2 && lp[0] == '"' && lp[n - 1] == '"';
	if (!*quoted) {
		if (n == 0 || lp[0] == '.' || lp[n - 1] == '.')
			return 0;
		for (size_t i = 0; i < n; i++)
			if (lp[i] == '"' || lp[i] == '\\' || (lp[i] == '.' && lp[i + 1] == '.'))
				return 0;
		db_add(text, lp, n);
		return 1;
	}
	for (size_t i = 1; i + 1 < n; i++) {
		if (lp[i] == '"')
			return 0;
		if (lp[i] == '\\')
			i++;
		db_addc(text, lp[i]);
	}
	return 1;
}

/*
 * Every local part made of one to three words (atoms and quoted strings)
 * joined by dots comes out as a dot-atom when its text is one, else as
 * one quoted string, with the same text, the domain unchanged, and
 * canonical again when given again.
 */
static void
canonical_local_parts(void)
{
	static const char *const words[] = {
		"a", "b1", "\"c\"", "\"d e\"", "\"f.g\"", "\"h\\\"i\"", "\"\"", "\"j\\\\\"",
		"\"k\\l\"",
	};
	static const char *const texts[] = { "a", "b1", "c", "d e", "f.g", "h\"i", "", "j\\", "kl" };
	const size_t nw = sizeof(words) / sizeof(words[0]);
	int good = 1, cases = 0;

	for (size_t i = 0; i < nw * nw * nw + nw * nw + nw; i++) {
		size_t k = i < nw ? 1 : i < nw + nw * nw ? 2 : 3, x = i;
		struct dynbuf in = { 0 }, want = { 0 }, got = { 0 };
		char err[256], *c, *again;
		int quoted, atom;

		x -= k == 1 ? 0 : k == 2 ? nw : nw + nw * nw;
		for (size_t w = 0; w < k; w++, x /= nw) {
			db_adds(&in, w ? "." : "");
			db_adds(&in, words[x % nw]);
			db_adds(&want, w ? "." : "");
			db_adds(&want, texts[x % nw]);
		}
		db_adds(&in, "@d.example");
		c = addr_canonical(db_str(&in), err, sizeof(err));
		again = c ? addr_canonical(c, err, sizeof(err)) : NULL;
		atom = want.len && want.s[0] != '.' && want.s[want.len - 1] != '.' &&
		       !strstr(want.s, "..") && !strpbrk(want.s, " \"\\");
		if (!c || !again || strcmp(c, again) != 0 ||
		    strcmp(c + strlen(c) - 10, "@d.example") != 0 ||
		    !canonical_text(c, strlen(c) - 10, &got, &quoted) ||
		    strcmp(db_str(&got), db_str(&want)) != 0 || quoted == atom) {
			good = 0;
			printf("#   %s -> %s (want text \"%s\", %s)\n", db_str(&in), c ? c : err,
			     db_str(&want), atom ? "dot-atom" : "quoted");
		}
		cases++;
		free(c);
		free(again);
		db_free(&in);
		db_free(&want);
		db_free(&got);
	}
	ok(good, "canonical local parts: dot-atom when the text is one, else one quoted "
	   "string, same text, stable (%d cases)", cases);
}

/*
 * Domains from the labels below, one to three of them: refused exactly
 * when a label is empty or starts or ends with a hyphen; a single final
 * dot is dropped, a second is an empty label.
 */
static void
canonical_domains(void)
{
	static const char *const labels[] = { "ab", "a-b", "x1", "-a", "a-", "", "-" };
	const size_t nl = sizeof(labels) / sizeof(labels[0]);
	int good = 1, cases = 0;

	for (size_t i = 0; i < nl * nl * nl + nl * nl + nl; i++) {
		size_t k = i < nl ? 1 : i < nl + nl * nl ? 2 : 3, x = i;
		int bad = 0, last_empty = 0;
		struct dynbuf dom = { 0 };

		x -= k == 1 ? 0 : k == 2 ? nl : nl + nl * nl;
		for (size_t w = 0; w < k; w++, x /= nl) {
			const char *l = labels[x % nl];

			db_adds(&dom, w ? "." : "");
			db_adds(&dom, l);
			/* An empty last label after others is a final dot. */
			last_empty = !*l && w == k - 1 && k > 1;
			bad = bad || (!*l && !last_empty) || (*l && (*l == '-' ||
							       l[strlen(l) - 1] == '-'));
		}
		for (int dot = 0; dot <= 2; dot++) {
			char *in = xasprintf("u@%s%s", db_str(&dom), dot == 2 ? ".." : dot ? "." : "");
			char err[256] = "", *c = addr_canonical(in, err, sizeof(err));
			int refuse = bad || dot == 2 || (last_empty && dot);
			size_t keep = dom.len - (last_empty ? 1 : 0);

			if (refuse ? c || !strstr(err, in) :
			    !c || strlen(c + 2) != keep || strncmp(c + 2, db_str(&dom), keep) != 0) {
				good = 0;
				printf("#   %s -> %s\n", in, c ? c : err);
			}
			cases++;
			free(c);
			free(in);
		}
		db_free(&dom);
	}
	ok(good, "canonical domains: refused for an empty label or a hyphen at a label's "
	   "edge, one final dot dropped (%d cases)", cases);
}

static void
canonical_examples(void)
{
	static const struct {
		const char *in, *out, *rule;
	} cases[] = {
		{ "a.\"b\".c@d.e", "a.b.c@d.e", NULL },
		{ "\"a b\".c@d.e", "\"a b.c\"@d.e", NULL },
		{ "\"abc\"@d.e", "abc@d.e", NULL },
		{ "x@example.com.", "x@example.com", NULL },
		{ "x@[192.0.2.1]", "x@[192.0.2.1]", NULL },
		{ "root", "root", NULL },
		{ ".a@d.e", NULL, "starts with a dot" },
		{ "a.@d.e", NULL, "ends with a dot" },
		{ "a..b@d.e", NULL, "two dots in a row" },
		{ "\"a\"..b@d.e", NULL, "two dots in a row" },
		{ "\"a\"b@d.e", NULL, "after a quoted string" },
		{ "test@iana..com", NULL, "domain has two dots in a row" },
		{ "test@-iana.org", NULL, "starts with a hyphen (\"-iana\")" },
		{ "test@iana-.org", NULL, "ends with a hyphen (\"iana-\")" },
		{ "x@.org", NULL, "domain starts with a dot" },
		{ "x@org..", NULL, "two dots in a row" },
		{ "x@[1.2.3.4]x", NULL, "after its literal" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "", *c = addr_canonical(cases[i].in, err, sizeof(err));

		if (cases[i].out)
			ok(c && strcmp(c, cases[i].out) == 0, "canonical %s -> %s (%s)", cases[i].in,
			   cases[i].out, c ? c : err);
		else
			ok(!c && strstr(err, cases[i].in) && strstr(err, cases[i].rule),
			   "canonical %s refused: %s (%s)", cases[i].in, cases[i].rule, err);
		free(c);
	}
}

static void
canonical_list(void)
{
	struct addr_list l = { 0 };
	char err[256] = "";

	addr_list_add_named(&l, "a.\"b\"@x.org", "Name");
	addr_list_add(&l, "a.b@x.org");
	addr_list_add(&l, "c@x.org.");
	ok(addr_list_canonical(&l, err, sizeof(err)) == 0 && l.n == 2 &&
	   strcmp(l.v[0], "a.b@x.org") == 0 && strcmp(l.v[1], "c@x.org") == 0 &&
	   addr_list_name(&l, 0) && strcmp(addr_list_name(&l, 0), "Name") == 0,
	   "canonical list: forms merged, names kept");
	addr_list_add(&l, "d@-x.org");
	ok(addr_list_canonical(&l, err, sizeof(err)) < 0 && l.n == 3 && strstr(err, "d@-x.org"),
	   "canonical list: refused names the address, list unchanged (%s)", err);
	addr_list_free(&l);
}

int
main(void)
{
	char err[256];
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
	parses("\"a\\\" b\"@x.org, c@y.org", LIST("\"a\\\" b\"@x.org", "c@y.org"),
	       "an escaped quote does not end a quoted string");
	parses("\"Doe \\\"JD\\\", John\" <j@x.org>", LIST("j@x.org"),
	       "an escaped quote then a comma inside a display name");
	parses("(unterminated a@x.org", NULL, "unterminated comment");
	parses("Joe <j@x.org", NULL, "missing '>'");
	parses("John Doe", NULL, "a name without an address");
	parses("a@x.org\r\nRCPT TO:<evil@x.org>", NULL, "CR LF injection in a bare address");
	parses("<a@x.org\r\nRCPT TO:evil@x.org>", NULL, "CR LF injection inside <>");
	parses("Joe <<j@x.org>>", NULL, "nested '<'");
	parses("a@b@c.org", NULL, "two '@'");
	/* White space inside <...> only next to "." "@" and a route's "," ":". */
	parses("John Doe <john doe@x.org>", NULL, "space in <local part> refused, not joined");
	parses("Ann <ann@ex ample.org>", NULL, "space in <domain> refused, not joined");
	parses("<john (x) doe@y.org>", NULL, "comment between words in <> refused");
	parses("< john . doe @ x.org >", LIST("john.doe@x.org"), "obsolete spacing inside <>");
	parses("<@r1 , @r2 : q@w.org>", LIST("q@w.org"), "spaced source route");
	/* Text after <...> is the next address (Postfix adds the comma). */
	parses("Al <al@x.org> bob@x.org", LIST("al@x.org", "bob@x.org"),
	       "address after <...> kept");
	parses("<a@x.org><b@y.org>", LIST("a@x.org", "b@y.org"), "two <...> in a row");
	parses("Al <a@x.org> (Al), Bo <b@y.org>", LIST("a@x.org", "b@y.org"),
	       "comment after <...> is not an address");
	parses("Al <a@x.org> Bo <b@y.org>", LIST("a@x.org", "b@y.org"),
	       "name-addr after name-addr");
	/* ';' outside a group ends an address, as ',' does (Postfix). */
	parses("a@x.org; b@x.org", LIST("a@x.org", "b@x.org"), "';' between addresses");
	parses("<a@x.org>;", LIST("a@x.org"), "';' after <...>");
	parses("a@x.org;", LIST("a@x.org"), "trailing ';'");
	parses("Al <a@x.org>; \"B; C\" <b@x.org>;; c@x.org",
	       LIST("a@x.org", "b@x.org", "c@x.org"), "';' and ';;' between name-addrs");
	parses("T: a@x.org; b@x.org; U:;", LIST("a@x.org", "b@x.org"),
	       "';' ends a group, then separates");
	/* White space between complete addresses: the missing comma added. */
	parses("a@x.org b@x.org", LIST("a@x.org", "b@x.org"), "two addr-specs");
	parses("a@x.org\tb@x.org\r\n c@x.org", LIST("a@x.org", "b@x.org", "c@x.org"),
	       "tab and folding between addr-specs");
	parses("a@x.org (A) b@x.org", LIST("a@x.org", "b@x.org"), "comment between addr-specs");
	parses("john . doe @ x.org c@y.org", LIST("john.doe@x.org", "c@y.org"),
	       "obsolete spacing, then another address");
	parses("\"a b\"@x.org c@y.org a@[127.0.0.1]",
	       LIST("\"a b\"@x.org", "c@y.org", "a@[127.0.0.1]"),
	       "quoted local part and domain literal among them");
	parses("\"a\"@x.org a@x.org", LIST("a@x.org"), "split addresses de-duplicated");
	parses("<a@x.org> b@x.org c@x.org", LIST("a@x.org", "b@x.org", "c@x.org"),
	       "addr-specs after <...>");
	parses("John a@x.org", NULL, "a word without '@' before an address stays refused");
	parses("a@x.org bob", NULL, "a local name after an address stays refused");
	parses("root bob", NULL, "two local names stay refused");
	parses("\"John Doe\" a@x.org", NULL, "a quoted name without <...> stays refused");
	parses("a@x.org b@@x.org", NULL, "a bad address among them is refused");
	parses("bob@x.org <bob@y.org>", LIST("bob@y.org"),
	       "an address as display name before <...> is a name, not a recipient");
	/* Quotes a local part does not need are dropped: one mailbox, one copy. */
	parses("a@x.org, \"a\"@x.org, <\"a\"@x.org>", LIST("a@x.org"), "\"a\"@x is a@x");
	parses("\"a\\.b\"@x.org, a.b@x.org", LIST("a.b@x.org"), "escaped dot unquoted");
	parses("\"a b\"@x.org, \"a..b\"@x.org, \".a\"@x.org",
	       LIST("\"a b\"@x.org", "\"a..b\"@x.org", "\".a\"@x.org"),
	       "quotes that are needed stay");
	parses("<@r.example:\"q\"@w.org>", LIST("q@w.org"), "route dropped, then unquoted");
	{
		struct addr_list l = { 0 };
		const char nul[] = "a@x.org\0b@y.org";
		ok(addr_parse_list(nul, sizeof(nul) - 1, &l, err, sizeof(err)) < 0,
		   "NUL in a list refused");
		addr_list_free(&l);
	}

	{
		/* A malformed list adds nothing, even after good addresses, to a
		 * short list and to an indexed one (the aliases expander relied
		 * on freeing only what a successful parse returned). */
		static const size_t before[] = { 0, 3, 20 };
		for (size_t k = 0; k < 3; k++) {
			struct addr_list l = { 0 };
			char a[32];
			for (size_t i = 0; i < before[k]; i++) {
				snprintf(a, sizeof(a), "old%zu@x.org", i);
				addr_list_add(&l, a);
			}
			const char *bad = "new1@y.org, new2@y.org, old0@x.org, Joe <j@x.org";
			int n = addr_parse_list(bad, strlen(bad), &l, err, sizeof(err));
			if (before[k] == 0)
				ok(l.v == NULL && l.cap == 0,
				   "  an empty list holds no memory after it (nothing to free)");
			ok(n < 0 && l.n == before[k] && !addr_list_contains(&l, "new1@y.org") &&
			   !addr_list_contains(&l, "new2@y.org") &&
			   (before[k] == 0 || addr_list_contains(&l, "old0@x.org")),
			   "a failed parse leaves a list of %zu as it was", before[k]);
			addr_list_add(&l, "new1@y.org");
			ok(l.n == before[k] + 1 && addr_list_contains(&l, "new1@y.org"),
			   "  and it can be added to afterwards");
			addr_list_free(&l);
		}
	}
	{
		/* Sizes around the index threshold (16) and its growth. */
		static const size_t sizes[] = { 1, 7, 8, 9, 15, 16, 17, 33, 1000, 20000 };
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			dedup_at_size(sizes[i]);
	}
	{
		/* A view of other storage, as deliver.c builds it. */
		struct addr_list big = { 0 };
		char a[32];
		for (int i = 0; i < 40; i++) {
			snprintf(a, sizeof(a), "r%d@x.org", i);
			addr_list_add(&big, a);
		}
		struct addr_list one = { .v = &big.v[0], .n = 1, .cap = 1 };
		struct addr_list mid = { .v = &big.v[20], .n = 1, .cap = 1 };
		ok(addr_list_contains(&one, "r0@X.org") && !addr_list_contains(&one, "r1@x.org"),
		   "a one-entry view of an indexed list sees only its entry");
		ok(addr_list_contains(&mid, "r20@x.org") && !addr_list_contains(&mid, "r0@x.org"),
		   "a view in the middle too");
		ok(addr_list_name(&one, 0) == NULL, "a view has no display names");
		struct addr_list copy = { 0 };
		for (size_t i = 0; i < big.n; i++)
			addr_list_add(&copy, big.v[i]);
		ok(copy.n == big.n && addr_list_contains(&copy, "R39@x.org") == 0 &&
		   addr_list_contains(&copy, "r39@X.ORG"), "a copy made by adding keeps every entry");
		addr_list_free(&copy);
		addr_list_free(&big);
	}
	{
		/* Display names next to unnamed entries, through growth (the
		 * index starts at 16) and a parse that fails half-way. */
		struct addr_list l = { 0 };
		char a[32], n[32];
		int good = 1;

		addr_list_add(&l, "first@x.org");
		for (int i = 0; i < 40; i++) {
			snprintf(a, sizeof(a), "r%d@x.org", i);
			snprintf(n, sizeof(n), "Name %d", i);
			addr_list_add_named(&l, a, i % 3 ? n : NULL);
		}
		for (int i = 0; i < 40; i++) {
			const char *got = addr_list_name(&l, (size_t)i + 1);
			snprintf(n, sizeof(n), "Name %d", i);
			if (i % 3 ? !got || strcmp(got, n) != 0 : got != NULL)
				good = 0;
		}
		ok(good && addr_list_name(&l, 0) == NULL, "names stay with their entries as "
		   "the list grows");
		const char *half = "\"Late\" <late@x.org>, bad address";
		ok(addr_parse_list(half, strlen(half), &l, err, sizeof(err)) < 0 && l.n == 41 && addr_list_name(&l, 39) &&
		   strcmp(addr_list_name(&l, 39), "Name 38") == 0,
		   "a failed parse drops only its own entries and names");
		addr_list_add_named(&l, "late@x.org", "Late");
		is_str(addr_list_name(&l, 41), "Late", "and the slot it used is clean for the next");
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

	ok(addr_is_ascii("a.b+c@example.com") && addr_is_ascii(""), "ASCII addresses");
	ok(!addr_is_ascii("m\xc3\xbcller@example.com") && !addr_is_ascii("a@m\xc3\xbcnchen.de") &&
	   !addr_is_ascii("a@x\x80"), "a byte >= 0x80 anywhere is not ASCII");
	canonical_examples();
	canonical_local_parts();
	canonical_domains();
	canonical_list();
	return done_testing();
}
