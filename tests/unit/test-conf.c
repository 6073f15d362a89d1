/* Unit tests for conf.c: schema, defaults/inherit, account choice, true line
 * numbers after comments, permissions, secrets; and the pieces of
 * conf-layout.c and conf-values.c on their own. */
#include "config.h"

#include <confuse.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "conf-internal.h"
#include "tap.h"
#include "util.h"

static struct config c;
static struct result r;

static int
load(const char *text)
{
	conf_free(&c);
	res_clear(&r);
	return conf_load_buf(&c, "test.conf", text, &r);
}

/* The configuration text must fail with "test.conf:LINE:" in the message. */
static void
fails_at(const char *text, int line, const char *name)
{
	char want[32];

	snprintf(want, sizeof(want), "test.conf:%d:", line);
	if (!ok(load(text) < 0 && r.cls == RES_CONFIG && strstr(r.text, want), "%s", name))
		printf("#   message: %s\n#   wanted: %s\n", r.text, want);
}

/* The message must hold all of: "test.conf:LINE:" (line > 0) and want. */
static int
says(int line, const char *want, const char *name)
{
	char at[32];
	int good;

	snprintf(at, sizeof(at), "test.conf:%d:", line);
	good = r.cls == RES_CONFIG && (line <= 0 || strstr(r.text, at)) &&
	       (!want || strstr(r.text, want));
	if (!ok(good, "%s", name))
		printf("#   message: %s\n#   wanted: %s ... %s\n", r.text, line > 0 ? at : "",
		       want ? want : "");
	return good;
}

/* The text loads, and account_check() refuses account "a" naming
 * LINE and want. */
static void
check_fails_at(const char *text, int line, const char *want, const char *name)
{
	const struct account *a;

	if (load(text) < 0 || !(a = conf_find(&c, "a"))) {
		ok(0, "%s (loads: %s)", name, r.text);
		return;
	}
	res_clear(&r);
	if (account_check(a, 1, &r) == 0) {
		ok(0, "%s (the check passed)", name);
		return;
	}
	says(line, want, name);
}

static char *
write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");

	fputs(text, f);
	fclose(f);
	chmod(p, mode);
	return p;
}

/* conf-values.c and conf-layout.c on their own, without libconfuse. */
/* A file of n accounts, each inheriting from the next one, so resolving
 * the first walks the whole chain: the last, "a<n-1>", sets host, from and
 * senders, or, with cycle, inherits from "a0". */
static char *
many_accounts(size_t n, int cycle)
{
	struct dynbuf b = { 0 };
	char line[160];

	for (size_t i = 0; i < n; i++) {
		if (i == n - 1 && !cycle)
			snprintf(line, sizeof(line), "account \"a%zu\" {\n host = \"h.example\"\n"
				 " from = \"a@example.com\"\n senders = {\"a@x\"}\n}\n", i);
		else
			snprintf(line, sizeof(line), "account \"a%zu\" {\n inherit = \"a%zu\"\n"
				 " user = \"u%zu\"\n}\n", i, (i + 1) % n, i);
		db_adds(&b, line);
	}
	return b.s;
}

/* The chain's first account has the last one's host and senders. */
static int
chain_loaded(void)
{
	const struct account *a = conf_find(&c, "a0");

	return a && a->host && !strcmp(a->host, "h.example") && a->nsenders == 1 &&
	       !strcmp(a->user, "u0");
}

/* The cycle is refused naming the file and the line of an inherit. */
static int
cycle_refused(void)
{
	return r.cls == RES_CONFIG && strstr(r.text, "test.conf:") &&
	       strstr(r.text, "inherit = ") && strstr(r.text, "forms a cycle");
}

/* Load text in a child whose stack may grow to 1 MiB only (a recursion
 * per inherit level needs more); true when the load returns rc and
 * check() holds. */
static int
loads_in_small_stack(const char *text, int rc, int (*check)(void))
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		struct rlimit rl = { 1024 * 1024, 1024 * 1024 };

		setrlimit(RLIMIT_STACK, &rl);
		_exit(load(text) == rc && check() ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return 0;
	if (WIFSIGNALED(status))
		printf("#   the child died of signal %d\n", WTERMSIG(status));
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The titles libconfuse no longer reads: each form it takes, duplicates
 * and a missing title, with the line libconfuse named. */
static void
test_titles(void)
{
	setenv("MAILOUT_TEST_TITLE", "from-env", 1);
	ok(load("account plain {\n}\naccount 'single q' {\n}\naccount \"dq \\\"x\\\" \\\\\" {\n}\n"
		"account ${MAILOUT_TEST_TITLE} {\n}\naccount \"${MAILOUT_TEST_TITLE}2\" {\n}\n"
		"account\n  \"split\"\n{\n  host = \"h\"\n}\n") == 0 && c.naccounts == 6,
	   "titles: a word, '...', \"...\" with escapes, ${VAR}, split over lines (%s)", r.text);
	ok(c.naccounts == 6 && !strcmp(c.accounts[0].name, "plain") &&
	   !strcmp(c.accounts[1].name, "single q") && !strcmp(c.accounts[2].name, "dq \"x\" \\") &&
	   !strcmp(c.accounts[3].name, "from-env") && !strcmp(c.accounts[4].name, "from-env2") &&
	   !strcmp(c.accounts[5].name, "split"), "... read as libconfuse reads them");
	ok(conf_find(&c, "split") && conf_find(&c, "split")->line == 11 &&
	   conf_find(&c, "split")->where[conf_key_index("host")].line == 14,
	   "... and the lines of a split header and its keys are kept");
	fails_at("account a {\n}\naccount b {\n}\naccount \"a\" {\n}\n", 5,
		 "a duplicate title written another way");
	says(5, "found duplicate title 'a'", "... named as libconfuse named it");
	fails_at("account a {\n}\naccount a {\n}\naccount b {\n}\naccount b {\n}\n", 3,
		 "the first duplicate in the file is the one reported");
	fails_at("account a {\n  bogus = 1\n}\naccount a {\n}\n", 2,
		 "an error before a duplicate is the one reported");
	fails_at("account a {\n}\naccount a {\n}\nbogus = 1\n", 3,
		 "a duplicate before an error is the one reported");
	fails_at("\naccount {\n  host = \"h\"\n}\n", 2, "an account without a title");
	says(2, "missing title for section 'account'", "... named as libconfuse named it");
	ok(load("account a {\n}\n") == 0 && load("account a {\n}\n") == 0,
	   "titles are not kept from one load to the next");
	unsetenv("MAILOUT_TEST_TITLE");
}

static void
test_inherit_scale(void)
{
	char *text;
	unsigned long small, big;

	/* A file under the size limit cannot exhaust the stack. */
	text = many_accounts(14000, 0);
	ok(loads_in_small_stack(text, 0, chain_loaded), "an inherit chain 14,000 deep "
	   "loads (1 MiB stack), its first account built from the last");
	free(text);
	text = many_accounts(20000, 1);
	ok(loads_in_small_stack(text, -1, cycle_refused), "a 20,000-long inherit cycle is "
	   "a configuration error naming file and line (1 MiB stack)");
	free(text);

	/* libconfuse compares the title of each titled section with every
	 * earlier one: the accounts must reach it untitled. */
	{
		cfg_opt_t *o = conf_schema();

		while (o->name && strcmp(o->name, "account"))
			o++;
		ok(o->name && o->type == CFGT_SEC && (o->flags & CFGF_MULTI) &&
		   !(o->flags & CFGF_TITLE), "account sections reach libconfuse untitled");
	}

	/* Lookups (account names, key lines) grow near-linearly: eight times
	 * the accounts may cost about eight times the steps (n log n), never
	 * the sixty-four times of a scan per account. */
	text = many_accounts(1000, 0);
	conf_lookup_steps = 0;
	ok(load(text) == 0, "1,000 accounts load");
	small = conf_lookup_steps;
	free(text);
	text = many_accounts(8000, 0);
	conf_lookup_steps = 0;
	ok(load(text) == 0, "8,000 accounts load");
	big = conf_lookup_steps;
	free(text);
	if (!ok(small > 1000 && big < small * 12, "loading is near-linear in the accounts "
		"(lookup steps: %lu for 1,000, %lu for 8,000)", small, big))
		printf("#   quadratic would be about %lu\n", small * 64);
}

static void
test_internals(void)
{
	long v = -1;
	char err[200], text[200];
	const char *blanked = text;
	struct layout l;
	struct result lr = { 0 };

	ok(conf_parse_duration("5d", &v) == 0 && v == 5 * 86400, "duration 5d");
	ok(conf_parse_duration("90", &v) == 0 && v == 90, "duration in plain seconds");
	ok(conf_parse_duration("2W", &v) == 0 && v == 14 * 86400, "duration 2W");
	ok(conf_parse_duration("0", &v) < 0 && conf_parse_duration("5x", &v) < 0 &&
	   conf_parse_duration("5dd", &v) < 0 && conf_parse_duration("d", &v) < 0 &&
	   conf_parse_duration("-5d", &v) < 0 && conf_parse_duration("366d", &v) < 0 &&
	   conf_parse_duration("99999999999999999999", &v) < 0,
	   "durations refused: zero, bad unit, trailing text, no number, sign, over a year, overflow");
	ok(conf_parse_decimal("025", 65535, &v) == 0 && v == 25, "025 is decimal 25, not octal");
	ok(conf_parse_decimal("", 65535, &v) < 0 && conf_parse_decimal("65536", 65535, &v) < 0 &&
	   conf_parse_decimal("-1", 65535, &v) < 0 && conf_parse_decimal("0x19", 65535, &v) < 0,
	   "numbers refused: empty, over the maximum, signed, hexadecimal");
	ok(conf_check_proxy("", err, sizeof(err)) == 0 &&
	   conf_check_proxy("socks5h://u:pw@h:1080", err, sizeof(err)) == 0 &&
	   conf_check_proxy("HTTP://proxy", err, sizeof(err)) == 0, "proxy URLs accepted");
	ok(conf_check_proxy("ftp://u:secret@h", err, sizeof(err)) < 0 && strstr(err, "ftp") &&
	   !strstr(err, "secret"), "an unknown proxy scheme is named, the password is not: %s", err);
	ok(conf_check_proxy("http://u:secret@:8080", err, sizeof(err)) < 0 && !strstr(err, "secret"),
	   "a proxy URL without a host: %s", err);
	ok(conf_check_proxy("http://u:se/cret@h:8080", err, sizeof(err)) < 0 &&
	   !strstr(err, "cret") && conf_check_proxy("http://h:8080/?a=b@c", err, sizeof(err)) < 0 &&
	   conf_check_proxy("http://u:se%2Fcret@h:8080", err, sizeof(err)) == 0,
	   "a '/' before the last '@' is refused (libcurl would quote the URL), %%2F is not");

	snprintf(text, sizeof(text), "a = \"x#y\" # c1\n/* c2\nc3 */ b = 'p//q' // c4\n");
	conf_blank_comments(text);
	is_str(blanked, "a = \"x#y\"     \n     \n      b = 'p//q'      \n",
	       "comments blanked, newlines and quoted text kept");

	snprintf(text, sizeof(text), "x = 1\n\naccount \"a\" {\n  host = \"h\"\n"
		 "  senders = { \"*@a\" }\n}\ndefaults {\n port = 2\n}\n");
	ok(conf_scan_layout("t.conf", text, &l, &lr) == 0 && l.nacct == 1 && l.acct_line[0] == 3,
	   "the line of an account header");
	is_int(conf_layout_line(&l, SEC_TOP, "x"), 1, "a top-level key's line");
	is_int(conf_layout_line(&l, 0, "host"), 4, "a key's line in the first account");
	is_int(conf_layout_line(&l, 0, "senders"), 5, "a list key's line");
	is_int(conf_layout_line(&l, SEC_DEFAULTS, "port"), 8, "a key's line in defaults");
	is_int(conf_layout_line(&l, 0, "port"), 0, "a key the account does not set: 0");
	is_int(conf_layout_line(NULL, 0, "host"), 0, "no layout: 0");
	conf_layout_free(&l);
	ok(conf_scan_layout("t.conf", "account \"a\" {\n host = \"h\"\n", &l, &lr) < 0 &&
	   strstr(lr.text, "t.conf:1:") && strstr(lr.text, "not closed"),
	   "a section left open: %s", lr.text);
	conf_layout_free(&l);
	ok(conf_scan_layout("t.conf", "\nqueue = always;\n", &l, &lr) < 0 &&
	   strstr(lr.text, "t.conf:2:") && strstr(lr.text, "';'"),
	   "an unquoted value ending in ';': %s", lr.text);
	conf_layout_free(&l);

	is_int(conf_unclosed_quote("a = \"x\\\"y\" b = 'p\\\\' c = \"\"\n"), 0,
	       "closed strings, escaped quotes and backslashes inside: no unclosed quote");
	is_int(conf_unclosed_quote("a = \"x\"\n\nb = \"open\nc = 1\n"), 3,
	       "an unclosed double quote: the line it opens on");
	is_int(conf_unclosed_quote("a = 'x\\'\n"), 1, "an escaped closing quote closes nothing");
	ok(conf_secret_on_line("a = 1 password = x y\nb = 2\n", 1) &&
	   !conf_secret_on_line("a = 1 password = x y\nb = 2\n", 2),
	   "a password set after another key on its line");
	ok(conf_secret_on_line("passwordeval =\n \"a\nb\"\nc = 1\n", 3) &&
	   !strcmp(conf_secret_on_line("passwordeval =\n \"a\nb\"\n", 2), "passwordeval") &&
	   !conf_secret_on_line("passwordeval =\n \"a\nb\"\nc = 1\n", 4),
	   "every line a secret's value spans, and no further");
	ok(!conf_secret_on_line("password_hint = 1\npasswords = 2\n", 1) &&
	   !conf_secret_on_line("password_hint = 1\npasswords = 2\n", 2), "other keys");
}

/* libconfuse's value of "x" in text, read as it is (no blanking). */
static char *
confuse_value(const char *text)
{
	cfg_opt_t opts[] = { CFG_STR("x", NULL, CFGF_NODEFAULT),
			     CFG_STR("y", NULL, CFGF_NODEFAULT), CFG_END() };
	cfg_t *cfg = cfg_init(opts, CFGF_NONE);
	char *v = NULL;

	if (cfg_parse_buf(cfg, text) == CFG_SUCCESS && cfg_getstr(cfg, "x"))
		v = xstrdup(cfg_getstr(cfg, "x"));
	cfg_free(cfg);
	return v;
}

/* Findings of the configuration audit: each test failed before its fix. */
static void
test_audit(void)
{
	const struct account *a;
	char dir[] = "/tmp/mailout-conf-audit.XXXXXX", *p;

	/* 1: file order, also when an account inherits from a later one. */
	ok(load("account \"work\" {\n inherit = \"base\"\n host = \"w\"\n senders = { \"*@work.example\" }\n}\n"
		"account \"base\" {\n host = \"c\"\n senders = { \"*\" }\n}\n") == 0, "child before parent loads");
	a = conf_choose(&c, NULL, "me@work.example", &r);
	ok(a && !strcmp(a->name, "work"), "senders: the first account in the file wins, not its later parent");
	a = conf_choose(&c, NULL, "me@other.example", &r);
	ok(a && !strcmp(a->name, "base") && !strcmp(a->host, "c"), "the parent still matches the rest");
	ok(conf_choose(&c, "zz", NULL, &r) == NULL && strstr(r.text, "accounts: work, base"),
	   "the accounts list is in file order: %s", r.text);

	/* 2: '*' and '+' that libconfuse drops. */
	fails_at("account \"a\" {\n host = \"h\"\n senders = { *@x.example }\n}\n", 3, "unquoted *@x");
	ok(strstr(r.text, "'senders'") && strstr(r.text, "double quotes"), "... says to quote it: %s", r.text);
	fails_at("account \"a\" {\n host = \"h\"\n user = +me\n}\n", 3, "unquoted +me");
	fails_at("account \"a\" {\n host = \"h\"\n user = me*\n}\n", 3, "unquoted me*");
	fails_at("account \"a\" {\n host = \"h\"\n user = me+\n}\n", 3, "unquoted me+");
	fails_at("account \"a\" {\n host = \"h\"\n password = *s3cr3t\n}\n", 3, "unquoted *password");
	ok(!strstr(r.text, "s3cr3t"), "... not shown: %s", r.text);
	fails_at("account \"a\" {\n host = \"h\"\n passwordeval = \"x\"+\n}\n", 3, "'+' after a quoted value");
	ok(load("account \"a\" {\n host = \"h\"\n user = \"+me*\"\n senders = { \"*@x\" }\n}\n") == 0 &&
	   !strcmp(conf_find(&c, "a")->user, "+me*") && !strcmp(conf_find(&c, "a")->senders[0], "*@x"),
	   "quoted '*' and '+' are kept");

	/* 15: += refused. */
	fails_at("defaults {\n senders = { \"a@x\" }\n}\naccount \"a\" {\n host = \"h\"\n"
		 " senders += { \"b@x\" }\n}\n", 6, "senders += is refused");
	ok(strstr(r.text, "'+='") != NULL, "... naming '+=': %s", r.text);

	/* 3: backslashes in double quotes. */
	fails_at("account \"a\" {\n host = \"h\"\n user = \"DOMAIN\\jsmith\"\n}\n", 3, "\\j refused");
	ok(strstr(r.text, "'user'") && strstr(r.text, "\\\\"), "... naming the key, saying \\\\: %s", r.text);
	fails_at("account \"a\" {\n host = \"h\"\n\n passwordeval = \"grep -oP 'pw=\\Ks3cr3t'\"\n}\n", 4,
		 "\\K in passwordeval refused");
	ok(!strstr(r.text, "s3cr3t") && !strstr(r.text, "\\K"), "... without the command: %s", r.text);
	fails_at("account \"a\" {\n host = \"h\"\n from_name = \"a\\x41\"\n}\n", 3, "\\x41 refused");
	fails_at("account \"a\" {\n host = \"h\"\n from_name = \"a\\101\"\n}\n", 3, "\\101 refused");
	fails_at("account \"a\" {\n host = \"h\"\n from_name = \"a\nb\\tc\"\n}\n", 4,
		 "\\t refused, at its own line in a multi-line string");
	fails_at("account \"a\" {\n host = \"h\"\n password = \"s3\\ncr3t\"\n}\n", 3, "\\n in a password");
	ok(!strstr(r.text, "s3") && strstr(r.text, "'password'"), "... not shown: %s", r.text);
	ok(load("account \"a\" {\n host = \"h\"\n user = \"D\\\\j\"\n from_name = \"a\\\"b\\\nc\"\n"
		" domain = 'x\\y.example'\n}\n") == 0, "\\\\, \\\" and a backslash at the end of a line load: %s",
	   r.text);
	a = conf_find(&c, "a");
	ok(a && !strcmp(a->user, "D\\j") && !strcmp(a->from_name, "a\"bc") &&
	   !strcmp(a->domain, "x\\y.example"), "... with the values the man page gives");

	/* 4: relative paths. */
	fails_at("\nqueue_dir = \"relq\"\n", 2, "relative queue_dir");
	ok(strstr(r.text, "absolute") != NULL, "... says absolute: %s", r.text);
	fails_at("logfile = log/x\n", 1, "relative logfile");
	fails_at("aliases = \"myaliases\"\n", 1, "relative aliases");
	fails_at("account \"a\" {\n host = \"h\"\n tls_trust_file = \"ca.pem\"\n}\n", 3, "relative tls_trust_file");
	fails_at("defaults {\n tls_cert_file = \"./c.pem\"\n}\n", 2, "relative tls_cert_file");
	fails_at("account \"a\" {\n tls_key_file = \"k.pem\"\n}\n", 2, "relative tls_key_file");
	fails_at("queue_dir = \"\"\n", 1, "empty queue_dir");
	fails_at("logfile = \"-\"\n", 1, "logfile = \"-\"");
	ok(strstr(r.text, "not supported") && strstr(r.text, "syslog"), "... not supported, use syslog: %s",
	   r.text);
	ok(load("logfile = \"\"\naliases = \"\"\nqueue_dir = \"~/q\"\n") == 0 && !c.logfile && c.queue_dir &&
	   c.queue_dir[0] == '/', "empty logfile and aliases, ~/ paths: fine");

	/* 5: "//" inside an unquoted word is not a comment. */
	ok(load("queue_dir = /tmp/a//q\nlogfile = /tmp//log\naccount \"a\" {\n host = \"h\"\n"
		" proxy = socks5h://127.0.0.1:1080\n}\n") == 0, "unquoted values with //: %s", r.text);
	ok(c.queue_dir && c.logfile && conf_find(&c, "a") && !strcmp(c.queue_dir, "/tmp/a//q") && !strcmp(c.logfile, "/tmp//log") &&
	   !strcmp(conf_find(&c, "a")->proxy, "socks5h://127.0.0.1:1080"), "... kept whole");
	{
		static const char *const texts[] = {
			"x = a//b\n", "x = a//b y = c\n", "x = //b\ny = c\n", "x = a #b\n", "x = a#b\n",
			"x = a/*b\n", "x = c /*b*/\n", "x = a/b//c/*d\n", "x = \"q\"//c\n",
			"x = a/ //b\n", "x = a///b\n", "x = /\n", "x = 'p//q' // c\n", "x = ${NOPE_X}//c y = 1\n",
		};
		for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
			char *raw = confuse_value(texts[i]), *b = xstrdup(texts[i]), *blanked;

			conf_blank_comments(b);
			blanked = confuse_value(b);
			ok((!raw && !blanked) || (raw && blanked && !strcmp(raw, blanked)),
			   "blanking follows libconfuse: '%.*s' -> [%s] / [%s]", (int)strcspn(texts[i], "\n"),
			   texts[i], raw ? raw : "(error)", blanked ? blanked : "(error)");
			free(raw);
			free(b);
			free(blanked);
		}
	}

	/* 6: a stray quote where a key is expected, never closed. */
	fails_at("account \"p\" {\n host = \"h\"\n}\n\n\"queue = never\nsyslog = on\n", 5,
		 "a stray quote in key position, open to the end");
	ok(strstr(r.text, "never closed") != NULL, "... said so: %s", r.text);

	/* 7: empty user or password (an unset ${VAR}). */
	unsetenv("MAILOUT_TEST_UNSET");
	check_fails_at("account \"a\" {\n host = \"h\"\n user = \"${MAILOUT_TEST_UNSET}\"\n"
		       " password = \"x\"\n}\n", 3, "unset", "an empty user");
	ok(load("account \"a\" {\n host = \"h\"\n user = \"\"\n}\n") == 0 &&
	   !account_auth_enabled(conf_find(&c, "a")), "an empty user does not turn auth on");
	check_fails_at("account \"a\" {\n host = \"h\"\n auth = plain\n user = \"\"\n"
		       " password = \"x\"\n}\n", 4, "empty", "auth = plain with an empty user");
	check_fails_at("account \"a\" {\n host = \"h\"\n user = \"u\"\n"
		       " password = ${MAILOUT_TEST_UNSET}\n}\n", 4, "unset", "an empty password");

	/* 8: host with ':' must be IPv6; '%' in domain. */
	fails_at("account \"a\" {\n host = \"127.0.0.1:2525\"\n}\n", 2, "host:port refused");
	ok(strstr(r.text, "port") != NULL, "... says to use port: %s", r.text);
	fails_at("account \"a\" {\n host = \"[h.example]\"\n}\n", 2, "brackets around a name refused");
	fails_at("account \"a\" {\n host = \"h\"\n domain = \"a%41b\"\n}\n", 3, "'%' in domain refused");
	ok(load("account \"a\" {\n host = \"::1\"\n}\naccount \"b\" {\n host = \"[2001:db8::1]\"\n}\n") == 0,
	   "IPv6 hosts, bare and in brackets: %s", r.text);

	/* 11: masked errors on secret lines give the cause. */
	fails_at("account \"a\" {\n host = \"h\"\n password = \"s3cr3t\";\n}\n", 3, "'password = \"x\";'");
	ok(strstr(r.text, "';'") && !strstr(r.text, "double quotes") && !strstr(r.text, "s3cr3t"),
	   "... says ';', not 'put it in double quotes': %s", r.text);
	fails_at("account \"a\" {\n host = \"h\"\n password = \"s3\tcr3t\"\n}\n", 3, "a tab in a password");
	ok(strstr(r.text, "control character") && !strstr(r.text, "s3"), "... says control character: %s",
	   r.text);
	fails_at("account \"a\" {\n host = \"h\"\n password = s3cr3t x\n}\n", 3, "an unquoted password with a space");
	ok(strstr(r.text, "double quotes") && !strstr(r.text, "s3cr3t"), "... says to quote it: %s", r.text);

	/* 13: a UTF-8 byte order mark. */
	ok(load("\xef\xbb\xbfqueue_dir = \"/tmp/q\"\n") == 0 && !strcmp(c.queue_dir, "/tmp/q"),
	   "a leading byte order mark is skipped: %s", r.text);

	/* 18: account "". */
	fails_at("account \"b\" {\n host = \"h\"\n}\naccount \"\" {\n host = \"h\"\n}\n", 4, "account \"\"");

	/* 14, 16: files. */
	if (!mkdtemp(dir))
		abort();
	p = xasprintf("%s/fifo", dir);
	if (mkfifo(p, 0600) == 0) {
		alarm(10);      /* the old code blocked in open() */
		conf_free(&c);
		ok(conf_load(&c, p, &r) < 0 && strstr(r.text, "not a regular file"),
		   "-C on a FIFO: refused, no hang: %s", r.text);
		alarm(0);
		unlink(p);
	} else {
		ok(0, "mkfifo");
	}
	free(p);
	for (int i = 0; i < 2; i++) {
		/* Group write: by a group others belong to ("mail", given by
		 * root); the owner's private group is fine (umask 002). */
		struct group *shared = i == 0 && geteuid() == 0 ? getgrnam("mail") : NULL;

		if (i == 0 && !shared)
			continue;
		p = write_file(dir, "w.conf", "account \"a\" {\n host = \"h\"\n passwordeval = \"x\"\n}\n",
			       i ? 0602 : 0620);
		if (shared && chown(p, (uid_t)-1, shared->gr_gid) != 0)
			abort();
		conf_free(&c);
		ok(conf_load(&c, p, &r) < 0 && r.cls == RES_CONFIG && strstr(r.text, "writable"),
		   "a config file writable by %s is refused: %s", i ? "others" : "a shared group",
		   r.text);
		unlink(p);
		free(p);
	}
	if (geteuid() == 0) {
		p = write_file(dir, "o.conf", "account \"a\" {\n host = \"h\"\n}\n", 0644);
		if (chown(p, 65534, 65534) == 0) {
			conf_free(&c);
			ok(conf_load(&c, p, &r) < 0 && strstr(r.text, "owned by another user"),
			   "a config file owned by another user is refused: %s", r.text);
		} else {
			ok(0, "chown");
		}
		unlink(p);
		free(p);
	} else {
		ok(1, "# SKIP not root: cannot give a file to another user");
	}
	rmdir(dir);
	conf_free(&c);
}

int
main(void)
{
	const struct account *a;
	char dir[] = "/tmp/mailout-conf.XXXXXX", *p, *s;

	ok(load("default_account = \"b\"\naliases = \"/etc/aliases\"\nlogfile = \"/tmp/x.log\"\n"
		"syslog = LOG_MAIL\nqueue = always\nqueue_dir = \"/tmp/q\"\nqueue_lifetime = 2d\n"
		"defaults {\n  tls = smtps\n  timeout = 30\n}\n"
		"account \"a\" {\n  host = \"smtp.example.com\"\n  port = 2525\n  user = \"u\"\n"
		"  tls_trust_file = \"/etc/ssl/certs/ca-certificates.crt\"\n"
		"  tls_pin = \"sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\n  tls_cert_file = \"/c.pem\"\n  tls_key_file = \"/k.pem\"\n"
		"  auth = plain\n  passwordeval = \"echo x\"\n  from = \"a@example.com\"\n"
		"  from_name = \"Robot\"\n  senders = { \"*@example.com\", \"x@y.org\" }\n"
		"  rewrite_from = on\n  domain = \"client.example.com\"\n  proxy = \"socks5h://127.0.0.1:1080\"\n"
		"  source_ip = \"192.0.2.7\"\n  partial_delivery = on\n}\n"
		"account \"b\" {\n  inherit = \"a\"\n  port = 587\n}\n") == 0, "every key accepted: %s", r.text);
	a = conf_find(&c, "b");
	ok(a && a->port == 587 && !strcmp(a->host, "smtp.example.com") && a->tls == TLS_SMTPS &&
	   a->timeout == 30 && a->nsenders == 2 && a->partial_delivery && a->rewrite_from &&
	   a->auth == AUTH_PLAIN, "inherit copies the parent, the child's keys win, defaults apply");
	ok(c.queue == QUEUE_ALWAYS && c.queue_lifetime == 2 * 86400 && !strcmp(c.syslog, "LOG_MAIL"),
	   "global keys");
	a = conf_choose(&c, NULL, "someone@EXAMPLE.com", &r);
	ok(a && !strcmp(a->name, "a"), "senders match, case-insensitively");
	a = conf_choose(&c, NULL, "other@else.org", &r);
	ok(a && !strcmp(a->name, "b"), "default_account otherwise");
	a = conf_choose(&c, "a", NULL, &r);
	ok(a && !strcmp(a->name, "a"), "--account wins");
	ok(conf_choose(&c, "zz", NULL, &r) == NULL && r.cls == RES_CONFIG, "unknown --account");

	ok(load("account \"only\" {\n host = \"h\"\n}\n") == 0 &&
	   (a = conf_choose(&c, NULL, NULL, &r)) && !strcmp(a->name, "only"), "the only account");
	ok(load("account \"x\" {\n host = \"h\"\n}\naccount \"y\" {\n host = \"h\"\n}\n") == 0 &&
	   conf_choose(&c, NULL, NULL, &r) == NULL && r.cls == RES_CONFIG, "two accounts, no choice");
	ok(load("account \"s\" {\n host = \"h\"\n tls = starttls\n}\naccount \"i\" {\n host = \"h\"\n"
		" tls = smtps\n}\naccount \"o\" {\n host = \"h\"\n tls = off\n}\n") == 0 &&
	   account_port(conf_find(&c, "s")) == 587 && account_port(conf_find(&c, "i")) == 465 &&
	   account_port(conf_find(&c, "o")) == 25, "default ports 587/465/25");

	fails_at("\n\nbogus = 1\n", 3, "unknown key, true line");
	fails_at("account \"a\" {\n  host = \"h\"\n  password = \"abc\n}\n", 3,
		 "a quote never closed, at the line it opens (libconfuse: the end of the file)");
	fails_at("account \"a\" {\n  bogus = 1\n  password = \"abc\n}\n", 2,
		 "an error before an unclosed quote is the one reported");
	fails_at("# one\n# two\n# three\nbogus = 1\n", 4, "true line after # comments");
	fails_at("// one\n// two\nbogus = 1\n", 3, "true line after // comments");
	fails_at("/* one\n two\n three */\nbogus = 1\n", 4, "true line after a block comment");
	fails_at("a = 1 # x\n", 1, "trailing comment");
	fails_at("logfile = \"/tmp/#not-a-comment\"\n# c\n# c\nbogus = 2\n", 4,
		 "'#' inside a quoted string is not a comment");
	ok(load("account \"a\" {\n  host = \"h\"\n  # c\n  port = 025\n}\n") == 0 &&
	   conf_find(&c, "a")->port == 25, "port 025 is decimal 25, not octal 21");
	fails_at("account \"a\" {\n  port = 70000\n}\n", 2, "port out of range");
	fails_at("account \"a\" {\n  tls = maybe\n}\n", 2, "bad enum");
	fails_at("account \"a\" {\n host = \"h\"\n}\naccount \"a\" {\n host = \"h\"\n}\n", 4,
		 "duplicate account title");
	fails_at("account \"a\" {\n  user = \"u\\nMAIL FROM:<x>\"\n}\n", 2, "control character refused");
	fails_at("account \"a\" {\n  host = \"h;\"\n}\n", 2, "bad host name");
	fails_at("account \"a\" {\n  tls_pin = \"abc\"\n}\n", 2, "bad pin");
	{
		/* What libcurl parses differently (or not at all) is refused. */
		static const char *const bad[] = {
			"sha256//", "sha256//!!!notbase64", "sha256//AAAA",
			"sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
			"sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= ",
			"sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=;",
			"sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=; "
			"sha256//BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			ok(!conf_pin_valid(bad[i]), "tls_pin refused: \"%s\"", bad[i]);
		ok(conf_pin_valid("sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=;"
				  "sha256//Bb+/Bb+/Bb+/Bb+/Bb+/Bb+/Bb+/Bb+/Bb+/Bb+/Bb+="),
		   "two pins joined by ';'");
	}
	ok(load("account \"a\" {\n inherit = \"b\"\n}\naccount \"b\" {\n inherit = \"a\"\n}\n") < 0 &&
	   strstr(r.text, "cycle"), "inherit cycle refused");
	ok(load("account \"a\" {\n inherit = \"nope\"\n}\n") < 0 && strstr(r.text, "nope"),
	   "inherit from an unknown account refused");
	ok(load("default_account = \"nope\"\n") < 0 && strstr(r.text, "nope"),
	   "undefined default_account refused");

	/* Errors found after parsing name the true line, and the man page. */
	load("# c\n# c\naccount \"a\" {\n host = \"h\"\n inherit = \"b\"\n}\n"
	     "/* c\n c */\naccount \"b\" {\n\n inherit = \"a\"\n}\n");
	says(11, "mailout.conf(5), DEFAULTS AND ACCOUNTS", "inherit cycle: file, true line, man page");
	load("account \"a\" {\n inherit = \"a\"\n}\n");
	says(2, "cycle", "an account inheriting from itself");
	load("# c\n// c\naccount \"a\" {\n\n  inherit = \"nope\"\n}\n");
	says(5, "mailout.conf(5), DEFAULTS AND ACCOUNTS", "unknown inherit parent: true line");
	load("# c\n\n# c\ndefault_account = \"nope\"\naccount \"a\" {\n host = \"h\"\n}\n");
	says(4, "mailout.conf(5), ACCOUNT SELECTION", "undefined default_account: true line");

	/* The line of each account and of each key is kept. */
	ok(load("# c\ndefaults {\n  tls = smtps\n}\n/* x\n */\naccount \"p\" {\n  host = \"h\"\n"
		"  user = \"u\"\n}\n# c\naccount \"a\" {\n  inherit = \"p\"\n  # c\n  port = 2525\n}\n") == 0,
	   "layout sample loads: %s", r.text);
	a = conf_find(&c, "a");
	ok(a && a->line == 12 && a->where[conf_key_index("port")].line == 15 &&
	   a->where[conf_key_index("user")].line == 9 &&
	   a->where[conf_key_index("tls")].line == 3 &&
	   !strcmp(a->where[conf_key_index("port")].file, "test.conf") &&
	   a->where[conf_key_index("from")].file == NULL,
	   "account and key lines, through inherit and defaults");
	a = conf_find(&c, "p");
	ok(a && a->line == 7, "the line of the account header");

	/* A section left open at the end of the file (libconfuse accepts it). */
	fails_at("account \"a\" {\n  host = \"h\"\n}\n# c\naccount \"b\" {\n  host = \"h\"\n", 5,
		 "an account without its closing brace");
	fails_at("defaults {\n  tls = off\n", 1, "defaults without its closing brace");
	ok(load("account \"a\" {\n  senders = { \"x@y\" }\n  host = \"{\"\n}\n") < 0,
	   "a brace in a string does not count (and '{' is no host)");
	ok(load("account \"a\" {\n  from_name = \"{ not a brace\"\n}\n") == 0,
	   "a brace inside a quoted value is not a section");

	/* An unquoted value ending in ';' (libconfuse would keep the ';'). */
	fails_at("account \"a\" {\n  host = \"h\"\n  user = me;\n}\n", 3, "unquoted 'user = me;'");
	ok(strstr(r.text, "'user'") && strstr(r.text, "quotes"), "the message names the key and the fix");
	fails_at("account \"a\" {\n  password = s3cr3t;\n}\n", 2, "unquoted password ending in ';'");
	ok(!strstr(r.text, "s3cr3t"), "the message does not show the value");
	fails_at("account \"a\" {\n  senders = { x@y.org; }\n}\n", 2, "';' in an unquoted list item");
	ok(load("account \"a\" {\n  user = \"me;\"\n  from_name = 'x;'\n}\n") == 0 &&
	   !strcmp(conf_find(&c, "a")->user, "me;"), "a quoted value may end in ';'");
	ok(load("account \"a\" {\n  user = a;b\n}\n") == 0 && !strcmp(conf_find(&c, "a")->user, "a;b"),
	   "an unquoted ';' inside a value is kept (only a trailing one is refused)");

	/* ${VAR} expands in double-quoted and unquoted values, not in '...'. */
	setenv("MAILOUT_TEST_USER", "env-user", 1);
	setenv("MAILOUT_TEST_PW", "env-Secret", 1);
	unsetenv("MAILOUT_TEST_UNSET");
	ok(load("account \"a\" {\n  user = ${MAILOUT_TEST_USER}\n  password = \"${MAILOUT_TEST_PW}\"\n"
		"  from_name = '${MAILOUT_TEST_USER}'\n  domain = \"x${MAILOUT_TEST_UNSET}.example\"\n}\n") == 0,
	   "${VAR} values load: %s", r.text);
	a = conf_find(&c, "a");
	s = a ? account_secret(a, &r) : NULL;
	ok(a && !strcmp(a->user, "env-user") && s && !strcmp(s, "env-Secret") &&
	   !strcmp(a->from_name, "${MAILOUT_TEST_USER}") && !strcmp(a->domain, "x.example"),
	   "${VAR} expands (unset: empty), password from ${VAR}, '...' is literal");
	free_secret(s);

	/* proxy: a scheme libcurl takes, checked where it is written. */
	fails_at("account \"a\" {\n  host = \"h\"\n\n  proxy = \"bogus://x\"\n}\n", 4, "unknown proxy scheme");
	ok(strstr(r.text, "socks5h") != NULL, "the message lists the schemes");
	fails_at("account \"a\" {\n  proxy = \"127.0.0.1:1080\"\n}\n", 2, "proxy without a scheme");
	fails_at("account \"a\" {\n  proxy = \"socks5://u:pw@\"\n}\n", 2, "proxy without a host");
	ok(!strstr(r.text, "pw"), "the proxy's password is not shown");
	ok(load("account \"a\" {\n  proxy = \"SOCKS5h://127.0.0.1:1080\"\n}\naccount \"b\" {\n"
		"  proxy = \"http://p:3128\"\n}\naccount \"c\" {\n  proxy = \"\"\n}\n") == 0,
	   "socks5h, http and empty proxies are fine: %s", r.text);

	/* Whole-account checks (account_check), with file and line. */
	check_fails_at("account \"a\" {\n  host = \"h\"\n  # c\n  auth = on\n}\n", 4,
		       "mailout.conf(5)", "auth = on without user");
	ok(strstr(r.text, "user") != NULL, "... says that user is missing");
	check_fails_at("account \"a\" {\n  host = \"h\"\n  user = \"u\"\n}\n", 3,
		       "mailout.conf(5), SECRETS", "user set, neither password nor passwordeval");
	check_fails_at("defaults {\n  auth = plain\n}\naccount \"a\" {\n  host = \"h\"\n  user = \"u\"\n}\n", 2,
		       "neither password nor passwordeval", "auth from defaults: its line");
	check_fails_at("account \"a\" {\n  host = \"h\"\n  auth = external\n}\n", 3,
		       "tls_cert_file", "auth = external without a certificate");
	check_fails_at("account \"a\" {\n  host = \"h\"\n  tls_key_file = \"/k.pem\"\n}\n", 3,
		       "tls_cert_file", "tls_key_file without tls_cert_file");
	/* The TLS files themselves: tests/unit/test-tls-files.c. */
	ok(load("account \"a\" {\n  host = \"h\"\n  tls = off\n  tls_trust_file = \"/nonexistent\"\n}\n") == 0 &&
	   account_check(conf_find(&c, "a"), 1, &r) == 0, "tls = off: the TLS files are not used");
	ok(load("account \"a\" {\n  host = \"h\"\n  auth = on\n}\n") == 0 &&
	   account_check(conf_find(&c, "a"), 0, &r) == 0, "check_auth 0 skips the auth checks");
	ok(load("account \"a\" {\n  host = \"h\"\n  user = \"u\"\n  passwordeval = \"x\"\n}\n") == 0 &&
	   account_check(conf_find(&c, "a"), 1, &r) == 0, "user and passwordeval: fine");

	/* Account choice messages point at ACCOUNT SELECTION. */
	load("account \"x\" {\n host = \"h\"\n}\naccount \"y\" {\n host = \"h\"\n}\n");
	ok(conf_choose(&c, NULL, NULL, &r) == NULL && strstr(r.text, "mailout.conf(5), ACCOUNT SELECTION"),
	   "two accounts and no default_account: man page named");
	ok(conf_choose(&c, "zz", NULL, &r) == NULL && strstr(r.text, "mailout.conf(5), ACCOUNT SELECTION") &&
	   strstr(r.text, "x, y"), "unknown --account: the accounts there and the man page");

	/* files: permissions, missing files */
	if (!mkdtemp(dir))
		abort();
	p = write_file(dir, "open.conf", "account \"a\" {\n host = \"h\"\n password = \"s3cret\"\n}\n", 0644);
	conf_free(&c);
	res_clear(&r);
	ok(conf_load(&c, p, &r) < 0 && r.cls == RES_CONFIG && strstr(r.text, "chmod 600"),
	   "a password in a 0644 file is refused");
	ok(!strstr(r.text, "s3cret"), "the refusal does not show the password");
	chmod(p, 0600);
	conf_free(&c);
	res_clear(&r);
	ok(conf_load(&c, p, &r) == 0, "the same file at 0600 is fine");
	s = account_secret(conf_find(&c, "a"), &r);
	is_str(s, "s3cret", "password is the secret");
	free_secret(s);
	unlink(p);
	free(p);
	p = write_file(dir, "eval.conf",
		       "account \"a\" {\n host = \"h\"\n passwordeval = \"printf 'tok\\\\nsecond'\"\n}\n"
		       "account \"f\" {\n host = \"h\"\n passwordeval = \"exit 3\"\n}\n", 0644);
	conf_free(&c);
	res_clear(&r);
	ok(conf_load(&c, p, &r) == 0, "passwordeval in a 0644 file is fine: %s", r.text);
	s = account_secret(conf_find(&c, "a"), &r);
	is_str(s, "tok", "passwordeval: first line of the output");
	free_secret(s);
	res_clear(&r);
	ok(account_secret(conf_find(&c, "f"), &r) == NULL && r.cls == RES_CONFIG,
	   "a failing passwordeval is a configuration error");
	ok(strstr(r.text, "eval.conf:7:") && strstr(r.text, "mailout.conf(5)") &&
	   strstr(r.text, "exit status 3"), "... naming file, line, status and man page: %s", r.text);
	unlink(p);
	free(p);
	p = xasprintf("%s/missing.conf", dir);
	conf_free(&c);
	res_clear(&r);
	ok(conf_load(&c, p, &r) < 0 && r.cls == RES_CONFIG && strstr(r.text, "missing.conf"),
	   "a missing -C file is an error naming it");
	free(p);
	rmdir(dir);
	conf_free(&c);
	test_internals();
	test_audit();
	test_titles();
	test_inherit_scale();
	conf_free(&c);
	return done_testing();
}
