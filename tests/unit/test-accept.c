/* test-accept.c - the pieces of the pipeline (accept.c) that stand alone:
 * the sender as -f and -r take it (bare, <addr>, Name <addr>, the null
 * sender's forms, a line break refused), and the choice of the account
 * (--account, senders, default_account, the only account, none; --host
 * and the other overrides). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accept.h"
#include "account.h"
#include "conf.h"
#include "tap.h"
#include "util.h"

static struct config c;
static struct result r;

/* accept_sender() on given: its return, *bare in *out (freed first). */
static int
sender(const char *given, char **out)
{
	free(*out);
	*out = NULL;
	res_clear(&r);
	return accept_sender(given, out, &r);
}

static void
test_sender(void)
{
	char *bare = NULL;

	ok(sender("a@x.test", &bare) == 0 && !bare, "a bare address is fine as it is");
	ok(sender(NULL, &bare) == 0 && !bare, "no sender: fine");
	ok(sender("", &bare) == 0 && !bare, "\"\" (the null sender): fine as it is");
	ok(sender("root", &bare) == 0 && !bare, "a bare local name (cron's -f root) is kept");
	ok(sender("<a@x.test>", &bare) == 0, "<addr> is taken");
	is_str(bare, "a@x.test", "<addr>: the bare address");
	ok(sender("Alice Example <alice@x.test>", &bare) == 0, "Name <addr> is taken");
	is_str(bare, "alice@x.test", "Name <addr>: the bare address");
	ok(sender("\"Doe, J.\" <j@x.test>", &bare) == 0, "a quoted name with a comma is taken");
	is_str(bare, "j@x.test", "\"Doe, J.\" <addr>: the bare address");
	ok(sender("<>", &bare) == 0, "<> is taken");
	is_str(bare, "", "<>: the null sender");
	ok(sender("Mailer Daemon <>", &bare) == 0, "Name <> is taken");
	is_str(bare, "", "Name <>: the null sender");

	ok(sender("a@x.test\nBcc: b@y.test", &bare) < 0 && r.cls == RES_USAGE &&
	   strstr(r.text, "line break") && !bare, "a line break: RES_USAGE, no address");
	ok(sender("Name\r\n <a@x.test>", &bare) < 0 && r.cls == RES_USAGE,
	   "a folded Name <addr>: RES_USAGE");
	ok(sender("a@x.test, b@y.test", &bare) < 0 && r.cls == RES_USAGE &&
	   strstr(r.text, "one address") && !bare, "two addresses: RES_USAGE");
	ok(sender("Name <a@x.test", &bare) < 0 && r.cls == RES_USAGE && !bare,
	   "an unclosed angle bracket: RES_USAGE");
	free(bare);
}

static int
load(const char *text)
{
	conf_free(&c);
	res_clear(&r);
	return conf_load_buf(&c, "test.conf", text, &r);
}

/* accept_choose_account() for --account name (NULL: none) and sender:
 * its return, the account's name in *out (account freed). */
static int
choose(const char *name, const char *sender_addr, const struct overrides *ov,
       struct account *out)
{
	struct account_request req = { .account = name };

	if (ov)
		req.ov = *ov;
	account_free(out);
	res_clear(&r);
	return accept_choose_account(&c, &req, sender_addr, out, &r);
}

static const char three[] =
	"default_account = \"home\"\n"
	"account \"work\" {\n host = \"smtp.work.test\"\n senders = { \"*@work.test\" }\n}\n"
	"account \"home\" {\n host = \"smtp.home.test\"\n}\n"
	"account \"list\" {\n host = \"smtp.list.test\"\n port = 2525\n"
	" senders = { \"news@*\" }\n}\n";

static void
test_choose(void)
{
	struct account a = { 0 };

	if (!ok(load(three) == 0, "a configuration of three accounts loads (%s)", r.text))
		return;
	ok(choose("list", "me@work.test", NULL, &a) == 1 && !strcmp(a.name, "list") &&
	   !strcmp(a.host, "smtp.list.test"), "--account wins over a matching sender");
	ok(choose(NULL, "me@work.test", NULL, &a) == 1 && !strcmp(a.name, "work"),
	   "a sender matching senders chooses its account");
	ok(choose(NULL, "ME@WORK.TEST", NULL, &a) == 1 && !strcmp(a.name, "work"),
	   "senders match case-insensitively");
	ok(choose(NULL, "news@anywhere.test", NULL, &a) == 1 && !strcmp(a.name, "list") &&
	   a.port == 2525, "a pattern on the local part; the account's own port");
	ok(choose(NULL, "me@elsewhere.test", NULL, &a) == 1 && !strcmp(a.name, "home"),
	   "no sender matches: default_account");
	ok(choose(NULL, NULL, NULL, &a) == 1 && !strcmp(a.name, "home"),
	   "no sender known: default_account");
	ok(choose(NULL, "", NULL, &a) == 1 && !strcmp(a.name, "home"),
	   "the null sender: default_account");
	ok(choose("nosuch", "me@work.test", NULL, &a) < 0 && r.cls == RES_CONFIG &&
	   strstr(r.text, "\"nosuch\"") && strstr(r.text, "work, home, list"),
	   "an unknown --account: RES_CONFIG naming it and the accounts");

	ok(load("account \"only\" {\n host = \"smtp.only.test\"\n}\n") == 0 &&
	   choose(NULL, "a@x.test", NULL, &a) == 1 && !strcmp(a.name, "only"),
	   "the only account applies without default_account");
	ok(load("account \"a\" {\n host = \"h1.test\"\n}\naccount \"b\" {\n host = \"h2.test\"\n}\n") == 0 &&
	   choose(NULL, "a@x.test", NULL, &a) < 0 && r.cls == RES_CONFIG &&
	   strstr(r.text, "2 accounts"), "two accounts and no choice: RES_CONFIG");
	ok(load("queue = never\n") == 0 && choose(NULL, "a@x.test", NULL, &a) == 0 &&
	   r.cls == RES_OK && !a.name && !a.host, "no account at all: 0, nothing chosen");
	ok(choose("work", NULL, NULL, &a) < 0 && r.cls == RES_CONFIG,
	   "no account at all, --account given: RES_CONFIG");
	account_free(&a);
}

static void
test_overrides(void)
{
	struct account a = { 0 };
	struct overrides ov = { 0 };

	if (!ok(load(three) == 0, "the three accounts load again"))
		return;
	ov = (struct overrides){ .host = "relay.test" };
	ok(choose(NULL, "me@work.test", &ov, &a) == 1 && !strcmp(a.host, "relay.test") &&
	   a.nsenders == 0, "--host: an account of its own from the defaults");
	ov = (struct overrides){ .port = "2600", .user = "u1" };
	ok(choose("home", NULL, &ov, &a) == 1 && !strcmp(a.host, "smtp.home.test") &&
	   a.port == 2600 && a.user && !strcmp(a.user, "u1"),
	   "--port and --user apply to the chosen account");
	ov = (struct overrides){ .host = "bad host" };
	ok(choose(NULL, NULL, &ov, &a) < 0 && r.cls == RES_USAGE && strstr(r.text, "--host"),
	   "--host with a space: RES_USAGE");
	ov = (struct overrides){ .host = "" };
	ok(choose(NULL, NULL, &ov, &a) < 0 && r.cls == RES_USAGE, "an empty --host: RES_USAGE");
	ov = (struct overrides){ .user = "u\nv" };
	ok(choose(NULL, NULL, &ov, &a) < 0 && r.cls == RES_USAGE &&
	   strstr(r.text, "--user contains a line break"), "--user with a line break: RES_USAGE");
	ov = (struct overrides){ .passwordeval = "echo x\r" };
	ok(choose(NULL, NULL, &ov, &a) < 0 && r.cls == RES_USAGE &&
	   strstr(r.text, "--passwordeval"), "--passwordeval with a CR: RES_USAGE");
	ok(load("queue = never\n") == 0, "a configuration without accounts loads");
	ov = (struct overrides){ .port = "2525" };
	ok(choose(NULL, NULL, &ov, &a) < 0 && r.cls == RES_USAGE && strstr(r.text, "need --host"),
	   "--port without --host or an account: RES_USAGE");
	ov = (struct overrides){ .host = "relay.test", .port = "2525" };
	ok(choose(NULL, NULL, &ov, &a) == 1 && !strcmp(a.host, "relay.test") && a.port == 2525,
	   "--host and --port without accounts: an account of their own");
	account_free(&a);
}

int
main(void)
{
	test_sender();
	test_choose();
	test_overrides();
	conf_free(&c);
	return done_testing();
}
