/* test-compose.c - what the command line says about the message
 * (compose.c): the recipient operands (comma lists, "Name <addr>", a line
 * break refused), --queue, and which options land in the submission. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accept.h"
#include "cli.h"
#include "compose.h"
#include "conf.h"
#include "tap.h"
#include "util.h"

static struct options o;
static struct result r;
static char *words[32];
static int nwords;

/* Release the options and the words they point into. */
static void
forget(void)
{
	cli_free(&o);
	for (int i = 0; i < nwords; i++)
		free(words[i]);
	nwords = 0;
}

/* Parse the words given (ending in NULL) as argv; 0 or -1.  The words are
 * copies kept until the next call, since o points into them. */
static int
parse(const char *first, ...)
{
	va_list ap;
	const char *w;

	forget();
	va_start(ap, first);
	for (w = first; w && nwords < 31; w = va_arg(ap, const char *))
		words[nwords++] = xstrdup(w);
	va_end(ap);
	words[nwords] = NULL;
	res_clear(&r);
	return cli_parse(nwords, words, &o, &r);
}

/* compose_operands() on the options parsed; the list in *l (freed first). */
static int
operands(struct addr_list *l)
{
	addr_list_free(l);
	res_clear(&r);
	return compose_operands(&o, l, &r);
}

static int
list_is(const struct addr_list *l, const char *a, const char *b, const char *c)
{
	const char *want[3] = { a, b, c };
	size_t n = c ? 3 : b ? 2 : a ? 1 : 0;

	if (l->n != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(l->v[i], want[i]) != 0)
			return 0;
	return 1;
}

static const char *
name_of(const struct addr_list *l, size_t i)
{
	return l->names && i < l->n ? l->names[i] : NULL;
}

static void
test_operands(void)
{
	struct addr_list l = { 0 };

	ok(parse("sendmail", "a@x.test", NULL) == 0 && operands(&l) == 0 &&
	   list_is(&l, "a@x.test", NULL, NULL), "one operand");
	ok(parse("sendmail", "a@x.test,b@y.test", "c@z.test", NULL) == 0 && operands(&l) == 0 &&
	   list_is(&l, "a@x.test", "b@y.test", "c@z.test"),
	   "a comma list and a second operand: three recipients in order");
	ok(parse("sendmail", "a@x.test, b@y.test", NULL) == 0 && operands(&l) == 0 &&
	   list_is(&l, "a@x.test", "b@y.test", NULL), "a comma list with a space");
	ok(parse("sendmail", "Alice Example <alice@x.test>", NULL) == 0 &&
	   operands(&l) == 0 && list_is(&l, "alice@x.test", NULL, NULL),
	   "\"Name <addr>\": the bare address");
	is_str(name_of(&l, 0), "Alice Example", "\"Name <addr>\": the name is kept");
	ok(parse("sendmail", "\"Doe, John\" <j@x.test>, <k@y.test>", NULL) == 0 &&
	   operands(&l) == 0 && list_is(&l, "j@x.test", "k@y.test", NULL),
	   "a quoted name with a comma, then <addr>");
	ok(parse("sendmail", "a@x.test", "a@X.TEST", NULL) == 0 && operands(&l) == 0 &&
	   l.n == 1, "the same address twice (the domain in other case) is one recipient");
	ok(parse("sendmail", NULL) == 0 && operands(&l) == 0 && l.n == 0,
	   "no operand: no recipient, no error");

	ok(parse("sendmail", "a@x.test\nBcc: evil@y.test", NULL) == 0 && operands(&l) < 0 &&
	   r.cls == RES_USAGE && strstr(r.text, "line break"), "an LF in an operand: RES_USAGE");
	ok(parse("sendmail", "Name\r\n <a@x.test>", NULL) == 0 && operands(&l) < 0 &&
	   r.cls == RES_USAGE, "a folded operand (CRLF SP): RES_USAGE");
	ok(parse("sendmail", "ok@x.test", "b@y.test\r", NULL) == 0 && operands(&l) < 0 &&
	   r.cls == RES_USAGE, "a bare CR in the second operand: RES_USAGE");
	ok(parse("sendmail", "a@x.test,,<", NULL) == 0 && operands(&l) < 0 &&
	   r.cls == RES_USAGE && strstr(r.text, "recipient \"a@x.test,,<\""),
	   "a malformed operand: RES_USAGE naming it");
	ok(parse("sendmail", "Name <a@x.test", NULL) == 0 && operands(&l) < 0 &&
	   r.cls == RES_USAGE, "an unclosed angle bracket: RES_USAGE");
	addr_list_free(&l);
}

static void
test_queue_mode(void)
{
	static const struct { const char *arg; int want; } good[] = {
		{ "never", QUEUE_NEVER }, { "onfail", QUEUE_ONFAIL }, { "always", QUEUE_ALWAYS },
	};
	struct submission s;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		accept_init(&s, NULL, -1);
		ok(parse("sendmail", "--queue", good[i].arg, "a@x.test", NULL) == 0 &&
		   compose_queue_mode(&o, &s, &r) == 0 && s.queue == good[i].want,
		   "--queue %s", good[i].arg);
	}
	accept_init(&s, NULL, -1);
	ok(parse("sendmail", "a@x.test", NULL) == 0 && compose_queue_mode(&o, &s, &r) == 0 &&
	   s.queue == -1, "no --queue: the configuration's mode (-1) is kept");
	for (const char *const *bad = (const char *const[]){ "sometimes", "", "ALWAYS ", NULL };
	     *bad; bad++) {
		accept_init(&s, NULL, -1);
		res_clear(&r);
		ok(parse("sendmail", "--queue", *bad, "a@x.test", NULL) == 0 &&
		   compose_queue_mode(&o, &s, &r) < 0 && r.cls == RES_USAGE &&
		   strstr(r.text, "--queue"), "--queue \"%s\": RES_USAGE naming --queue", *bad);
	}
}

static void
test_submission(void)
{
	struct submission s;

	unsetenv("NAME");
	accept_init(&s, NULL, -1);
	ok(parse("sendmail", "-i", "-t", "-f", "me@x.test", "-F", "Me Myself",
		 "--account", "work", "-N", "failure,delay", "-R", "hdrs", "-V", "env1",
		 "--read-envelope-from", "--dry-run", "a@x.test", NULL) == 0,
	   "a command line with every message option parses");
	compose_submission(&o, &s);
	ok(s.ignore_dots && s.read_recipients && s.read_envelope_from && s.dry_run,
	   "-i, -t, --read-envelope-from, --dry-run land in the submission");
	is_str(s.sender, "me@x.test", "-f is the sender");
	is_str(s.fullname, "Me Myself", "-F is the full name");
	is_str(s.route.account, "work", "--account is the route's account");
	is_str(s.dsn_notify, "failure,delay", "-N");
	is_str(s.dsn_ret, "hdrs", "-R");
	is_str(s.dsn_envid, "env1", "-V");
	ok(!s.route.ov.host && !s.route.ov.port && !s.route.ov.tls && !s.route.ov.user &&
	   !s.route.ov.passwordeval, "no overrides given: none set");
	ok(s.rcpts.n == 0, "the operands are not the submission's business");

	accept_init(&s, NULL, -1);
	ok(parse("sendmail", "--host", "relay.test", "--port", "2525", "--tls", "starttls",
		 "--user", "u1", "--passwordeval", "echo pw", "a@x.test", NULL) == 0,
	   "a command line with the overrides parses");
	compose_submission(&o, &s);
	is_str(s.route.ov.host, "relay.test", "--host");
	is_str(s.route.ov.port, "2525", "--port");
	is_str(s.route.ov.tls, "starttls", "--tls");
	is_str(s.route.ov.user, "u1", "--user");
	is_str(s.route.ov.passwordeval, "echo pw", "--passwordeval");
	ok(!s.ignore_dots && !s.read_recipients && !s.read_envelope_from && !s.dry_run &&
	   !s.sender && !s.fullname && !s.route.account && !s.dsn_notify,
	   "options not given stay unset");
	ok(s.queue == -1, "compose_submission leaves the queue mode alone");
}

static void
test_fullname_env(void)
{
	struct submission s;

	setenv("NAME", "Env Name", 1);
	accept_init(&s, NULL, -1);
	parse("sendmail", "a@x.test", NULL);
	compose_submission(&o, &s);
	is_str(s.fullname, "Env Name", "no -F: the full name from $NAME");

	accept_init(&s, NULL, -1);
	parse("sendmail", "-F", "Given", "a@x.test", NULL);
	compose_submission(&o, &s);
	is_str(s.fullname, "Given", "-F wins over $NAME");

	setenv("NAME", "Evil\nBcc: x@y.test", 1);
	accept_init(&s, NULL, -1);
	parse("sendmail", "a@x.test", NULL);
	compose_submission(&o, &s);
	ok(s.fullname == NULL, "$NAME with a line break is not used");

	setenv("NAME", "", 1);
	accept_init(&s, NULL, -1);
	parse("sendmail", "a@x.test", NULL);
	compose_submission(&o, &s);
	ok(s.fullname == NULL, "an empty $NAME is not used");
	unsetenv("NAME");
}

int
main(void)
{
	test_operands();
	test_queue_mode();
	test_submission();
	test_fullname_env();
	forget();
	return done_testing();
}
