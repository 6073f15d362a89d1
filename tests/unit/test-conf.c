/* Unit tests for conf.c: schema, defaults/inherit, account choice, true line
 * numbers after comments, permissions, secrets. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
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
		"  tls_pin = \"sha256//AAAA\"\n  tls_cert_file = \"/c.pem\"\n  tls_key_file = \"/k.pem\"\n"
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
	   conf_port(conf_find(&c, "s")) == 587 && conf_port(conf_find(&c, "i")) == 465 &&
	   conf_port(conf_find(&c, "o")) == 25, "default ports 587/465/25");

	fails_at("\n\nbogus = 1\n", 3, "unknown key, true line");
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
	ok(load("account \"a\" {\n inherit = \"b\"\n}\naccount \"b\" {\n inherit = \"a\"\n}\n") < 0 &&
	   strstr(r.text, "cycle"), "inherit cycle refused");
	ok(load("account \"a\" {\n inherit = \"nope\"\n}\n") < 0 && strstr(r.text, "nope"),
	   "inherit from an unknown account refused");
	ok(load("default_account = \"nope\"\n") < 0 && strstr(r.text, "nope"),
	   "undefined default_account refused");

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
	s = conf_secret(conf_find(&c, "a"), &r);
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
	s = conf_secret(conf_find(&c, "a"), &r);
	is_str(s, "tok", "passwordeval: first line of the output");
	free_secret(s);
	res_clear(&r);
	ok(conf_secret(conf_find(&c, "f"), &r) == NULL && r.cls == RES_CONFIG,
	   "a failing passwordeval is a configuration error");
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
	return done_testing();
}
