/* Unit tests for account.c and the key table of conf-keys.c: every key
 * round-trips from a file through --show-config and through a copy; the
 * effective port and authentication; the secret line of passwordeval's
 * output. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf-internal.h"
#include "tap.h"
#include "util.h"

#define PIN "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

/* For every key of the table: a value as written in a file, and as
 * --show-config prints it.  Each differs from the built-in value. */
static const struct example {
	const char *key, *value, *shown;
} examples[] = {
	{ "host", "\"relay.example\"", "\"relay.example\"" },
	{ "port", "2525", "2525" },
	{ "tls", "smtps", "smtps" },
	{ "tls_trust_file", "\"/etc/ssl/ca.pem\"", "\"/etc/ssl/ca.pem\"" },
	{ "tls_pin", "\"" PIN "\"", "\"" PIN "\"" },
	{ "tls_cert_file", "\"/etc/ssl/c.pem\"", "\"/etc/ssl/c.pem\"" },
	{ "tls_key_file", "\"/etc/ssl/k.pem\"", "\"/etc/ssl/k.pem\"" },
	{ "auth", "login", "login" },
	{ "user", "\"jdoe\"", "\"jdoe\"" },
	{ "password", "\"s3cret\"", "********" },
	{ "passwordeval", "\"pass show mail\"", "\"pass show mail\"" },
	{ "from", "\"a@example.com\"", "\"a@example.com\"" },
	{ "from_name", "\"A B\"", "\"A B\"" },
	{ "senders", "{\"a@x\", \"*@y\"}", "{ \"a@x\", \"*@y\" }" },
	{ "rewrite_from", "on", "on" },
	{ "domain", "\"client.example\"", "\"client.example\"" },
	{ "timeout", "30", "30" },
	{ "proxy", "\"socks5h://u:p@proxy.example:1080\"",
	  "\"socks5h://proxy.example:1080\" (its user name and password not shown)" },
	{ "source_ip", "\"192.0.2.1\"", "\"192.0.2.1\"" },
	{ "partial_delivery", "on", "on" },
	{ "host", "{ \"a.example\", \"b.example\" }", "{ \"a.example\", \"b.example\" }" },
	{ "oauth2_token_url", "\"https://login.example/token\"", "\"https://login.example/token\"" },
	{ "oauth2_device_url", "\"https://login.example/device\"",
	  "\"https://login.example/device\"" },
	{ "oauth2_client_id", "\"client-1\"", "\"client-1\"" },
	{ "oauth2_client_secret", "\"cs3cret\"", "********" },
	{ "oauth2_client_secret_eval", "\"pass show cs\"", "\"pass show cs\"" },
	{ "oauth2_scope", "\"SMTP.Send offline_access\"", "\"SMTP.Send offline_access\"" },
	{ "oauth2_trust_file", "\"/etc/ssl/oauth.pem\"", "\"/etc/ssl/oauth.pem\"" },
	{ "oauth2_refresh_token_eval", "\"pass show rt\"", "\"pass show rt\"" },
};
#define NEXAMPLES (sizeof(examples) / sizeof(examples[0]))

/* account_show() of a, in a malloc'd string. */
static char *
shown(const struct account *a)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	account_show(f, a);
	fclose(f);
	return buf;
}

/* The line account_show() prints for key with value. */
static char *
show_line(const char *key, const char *value)
{
	return xasprintf("  %-16s = %s\n", key, value);
}

static void
test_table_round_trip(void)
{
	struct config c;
	struct result r;
	struct account blank;
	char *blank_show;

	account_init(&blank);
	blank.name = xstrdup("a");
	blank_show = shown(&blank);
	/* A new row of the table needs an example here. */
	for (size_t i = 0; i < CONF_NKEYS; i++) {
		size_t j = 0;

		while (j < NEXAMPLES && strcmp(examples[j].key, conf_keys[i].name))
			j++;
		ok(j < NEXAMPLES, "key %s has an example in this test", conf_keys[i].name);
		is_int(conf_key_index(conf_keys[i].name), i, "conf_key_index(%s)",
		       conf_keys[i].name);
	}
	for (size_t j = 0; j < NEXAMPLES; j++) {
		const struct example *e = &examples[j];
		char *text = xasprintf("account \"a\" {\n  %s = %s\n}\n", e->key, e->value);
		char *want = show_line(e->key, e->shown), *s1, *s2;
		const struct account *a = NULL;
		struct account copy;
		int k = conf_key_index(e->key);

		res_clear(&r);
		if (!ok(k >= 0 && conf_load_buf(&c, "t.conf", text, &r) == 0 &&
			(a = conf_find(&c, "a")), "%s = %s loads", e->key, e->value)) {
			printf("#   %s\n", r.text);
			conf_free(&c);
			free(text);
			free(want);
			continue;
		}
		s1 = shown(a);
		if (!ok(strstr(s1, want) && !strstr(blank_show, want), "%s: shown as %s",
			e->key, e->shown))
			printf("# %s", s1);
		is_int(a->where[k].line, 2, "%s: where[] names its line", e->key);
		account_copy(&copy, a);
		s2 = shown(&copy);
		is_str(s2, s1, "%s: a copy shows the same", e->key);
		ok(copy.where[k].file == a->where[k].file, "%s: the copy's where[] points into "
		   "the same configuration", e->key);
		account_free(&copy);
		ok(copy.name == NULL && copy.host == NULL && copy.senders == NULL,
		   "%s: account_free() zeroes the account", e->key);
		conf_free(&c);
		free(s1);
		free(s2);
		free(text);
		free(want);
	}
	account_free(&blank);
	free(blank_show);
}

static void
test_port_and_auth(void)
{
	struct account a;

	account_init(&a);
	is_int(account_port(&a), 587, "starttls: 587");
	a.tls = TLS_SMTPS;
	is_int(account_port(&a), 465, "smtps: 465");
	a.tls = TLS_OFF;
	is_int(account_port(&a), 25, "off: 25");
	a.port = 2525;
	is_int(account_port(&a), 2525, "a port set wins");
	is_int(a.timeout, 60, "the built-in timeout is 60 s");
	ok(!account_auth_enabled(&a), "no user, auth unset: no authentication");
	a.user = xstrdup("");
	ok(!account_auth_enabled(&a), "an empty user (an unset ${VAR}): none");
	free(a.user);
	a.user = xstrdup("u");
	ok(account_auth_enabled(&a), "a user: authentication");
	a.auth = AUTH_OFF;
	ok(!account_auth_enabled(&a), "auth = off wins over the user");
	account_set_by_command_line(&a, "port");
	ok(a.where[conf_key_index("port")].file == CONF_COMMAND_LINE,
	   "account_set_by_command_line() marks the key");
	account_free(&a);
}

static void
test_secret_line(void)
{
	static const struct {
		const char *out;
		size_t len;
		const char *secret;
		const char *name;
	} cases[] = {
		{ "s3cret\n", 7, "s3cret", "the first line, LF" },
		{ "s3cret\r\n", 8, "s3cret", "CRLF: the CR is not part of it" },
		{ "s3cret", 6, "s3cret", "no line end" },
		{ "one\ntwo\n", 8, "one", "the first line only" },
		{ "a\r\r\n", 4, "a\r", "one CR only is the line end's" },
		{ "ab\0cd\n", 6, "ab", "a NUL byte ends it" },
		{ "\n", 1, "", "an empty line: empty" },
		{ "", 0, "", "no output: empty" },
		{ "x y\tz\n", 6, "x y\tz", "blanks inside are kept" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = account_secret_line(cases[i].out, cases[i].len);

		ok(n == strlen(cases[i].secret) && !memcmp(cases[i].out, cases[i].secret, n),
		   "passwordeval output: %s", cases[i].name);
	}
}

int
main(void)
{
	test_table_round_trip();
	test_port_and_auth();
	test_secret_line();
	return done_testing();
}
