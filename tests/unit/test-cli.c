/* Unit tests for cli.c: real callers' argument vectors, forms, personalities. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tap.h"
#include "util.h"

static struct options o;
static struct result r;

/* Parse a space-separated command line ("''" stands for an empty word). */
static int
parse(const char *line)
{
	static char buf[1024];
	static char *argv[64];
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *save, *w = strtok_r(buf, " ", &save); w && argc < 63;
	     w = strtok_r(NULL, " ", &save))
		argv[argc++] = strcmp(w, "''") == 0 ? (w[0] = '\0', w) : w;
	argv[argc] = NULL;
	cli_free(&o);
	res_clear(&r);
	return cli_parse(argc, argv, &o, &r);
}

static int
rcpts(const char *a, const char *b)
{
	return o.recipients.n == (size_t)(b ? 2 : a ? 1 : 0) &&
	       (!a || strcmp(o.recipients.v[0], a) == 0) &&
	       (!b || strcmp(o.recipients.v[1], b) == 0);
}

int
main(void)
{
	FILE *h;
	char *help = NULL;
	size_t len = 0;

	ok(parse("sendmail -FCronDaemon -i -odi -oem -oi -t -f root") == 0 &&
	   !strcmp(o.fullname, "CronDaemon") && o.ignore_dots && o.read_recipients &&
	   !strcmp(o.sender, "root") && rcpts(NULL, NULL), "cronie");
	ok(parse("sendmail -FCronDaemon -i -B8BITMIME -oem root") == 0 && o.ignore_dots &&
	   !o.read_recipients && rcpts("root", NULL), "Debian cron");
	ok(parse("sendmail -ti") == 0 && o.read_recipients && o.ignore_dots, "busybox -ti");
	ok(parse("sendmail -it") == 0 && o.read_recipients && o.ignore_dots, "grouped -it");
	ok(parse("sendmail -FAnacron -odi root") == 0 && !o.ignore_dots &&
	   !strcmp(o.fullname, "Anacron") && rcpts("root", NULL), "anacron (no -i)");
	ok(parse("sendmail -t -i") == 0 && o.read_recipients && o.ignore_dots, "PHP");
	ok(parse("sendmail -oi -fX@y.org -t") == 0 && !strcmp(o.sender, "X@y.org") &&
	   o.read_recipients && o.ignore_dots, "PHPMailer");
	ok(parse("sendmail -oem -oi -B8BITMIME -f X@y.org -- to@a.org bcc@b.org") == 0 &&
	   !strcmp(o.sender, "X@y.org") && rcpts("to@a.org", "bcc@b.org"), "mutt");
	ok(parse("sendmail -oem -oi -N delay,failure -R hdrs -B8BITMIME -f X@y.org -- to@a.org") == 0 &&
	   !strcmp(o.dsn_notify, "delay,failure") && !strcmp(o.dsn_ret, "hdrs") &&
	   rcpts("to@a.org", NULL), "mutt with DSN");
	ok(parse("sendmail -i -F Me -f X@y.org -- a@a.org b@b.org") == 0 &&
	   !strcmp(o.fullname, "Me") && rcpts("a@a.org", "b@b.org"), "s-nail");
	ok(parse("sendmail -f X@y.org root") == 0 && rcpts("root", NULL), "fail2ban");
	ok(parse("sendmail -B 8BITMIME -f X@y.org -- a@a.org b@b.org") == 0 &&
	   rcpts("a@a.org", "b@b.org"), "Proxmox");
	ok(parse("sendmail -N success,failure -V envid42 -f X@y.org a@a.org") == 0 &&
	   !strcmp(o.dsn_envid, "envid42") && !strcmp(o.dsn_notify, "success,failure"), "Sympa");
	ok(parse("sendmail -t") == 0 && o.read_recipients, "mdadm/logwatch -t");

	ok(parse("sendmail -f ''") == 0 && o.sender && !strcmp(o.sender, ""), "-f '' is the null sender");
	ok(parse("sendmail -f <>") == 0 && o.sender && !strcmp(o.sender, ""), "-f <> is the null sender");
	ok(parse("sendmail -r a@b.c x@y.z") == 0 && !strcmp(o.sender, "a@b.c"), "-r");
	ok(parse("sendmail -Bx -h 5 -L tag -O A=B -odb -oQ/var -em -U -G -m -n -Ac -Am -e x x@y.z") == 0,
	   "accepted-and-ignored options");
	ok(parse("sendmail -bm x@y.z") == 0 && o.mode == MODE_DELIVER, "-bm");
	ok(parse("sendmail -bp") == 0 && o.mode == MODE_LIST_QUEUE, "-bp");
	ok(parse("sendmail -bs") == 0 && o.mode == MODE_SMTPD, "-bs");
	ok(parse("sendmail -bi") == 0 && o.mode == MODE_NOOP, "-bi");
	ok(parse("sendmail -I") == 0 && o.mode == MODE_NOOP, "-I");
	ok(parse("sendmail -q") == 0 && o.mode == MODE_RUN_QUEUE && !o.queue_due_only, "-q");
	ok(parse("sendmail -q30m") == 0 && o.mode == MODE_RUN_QUEUE && !o.queue_due_only,
	   "-q30m: the interval is ignored (SPEC 1.1)");
	ok(parse("sendmail -q --due") == 0 && o.mode == MODE_RUN_QUEUE && o.queue_due_only,
	   "-q --due: only due messages");
	ok(parse("sendmail --due -q5m") == 0 && o.mode == MODE_RUN_QUEUE && o.queue_due_only,
	   "--due before -q5m");
	ok(parse("sendmail -bd") < 0 && r.cls == RES_USAGE && strstr(r.text, "-bd"), "-bd refused");
	ok(parse("mailout -q --dry-run") < 0 && r.cls == RES_USAGE && strstr(r.text, "-q"),
	   "-q --dry-run refused (the run would deliver for real)");
	ok(parse("mailout --dry-run --flush") < 0 && r.cls == RES_USAGE, "--flush --dry-run refused");
	ok(parse("mailout --dry-run -bp") == 0, "-bp --dry-run (a listing) is fine");
	ok(parse("mailout --host h.example --account work a@b.c") < 0 && r.cls == RES_USAGE &&
	   strstr(r.text, "--host") && strstr(r.text, "--account"), "--host with --account refused");
	ok(parse("sendmail -x a@b.c") < 0 && r.cls == RES_USAGE && strstr(r.text, "-x"),
	   "unknown option named");
	ok(parse("sendmail --bogus") < 0 && strstr(r.text, "--bogus"), "unknown long option named");
	ok(parse("sendmail -f") < 0 && strstr(r.text, "-f"), "missing argument");
	ok(parse("sendmail --account=work --user me --port=2525 x@y.z") == 0 &&
	   !strcmp(o.account, "work") && !strcmp(o.user, "me") && !strcmp(o.port, "2525"),
	   "long options, = and separate");
	ok(parse("sendmail --dry-run=yes") < 0, "a value for a flag is refused");
	ok(parse("sendmail -s Subj -a f1 -a f2 x@y.z") == 0 && o.compose && o.attach.n == 2 &&
	   !strcmp(o.subject, "Subj"), "compose options");
	ok(parse("sendmail x@y.z -i") == 0 && o.ignore_dots && rcpts("x@y.z", NULL),
	   "options after operands");
	ok(parse("sendmail -- -i") == 0 && !o.ignore_dots && rcpts("-i", NULL), "-- ends options");

	ok(parse("/usr/sbin/sendmail -t") == 0 && o.personality == PERS_SENDMAIL, "sendmail path");
	ok(parse("mailq") == 0 && o.personality == PERS_MAILQ && o.mode == MODE_LIST_QUEUE, "mailq");
	ok(parse("newaliases") == 0 && o.mode == MODE_NOOP, "newaliases");
	ok(parse("mail -s S -a F -c C@x -b B@x -r R@x to@x") == 0 && o.personality == PERS_MAILX &&
	   o.compose && !strcmp(o.subject, "S") && o.attach.n == 1 && o.cc.n == 1 &&
	   o.bcc.n == 1 && !strcmp(o.from, "R@x") && rcpts("to@x", NULL), "mail personality");
	ok(parse("/usr/bin/mailx -s S to@x") == 0 && o.personality == PERS_MAILX, "mailx");

	/* glued and separate forms give the same options */
	parse("sendmail -fme@x.org -FName -N never x@y.z");
	char *g1 = xasprintf("%s|%s|%s", o.sender, o.fullname, o.dsn_notify);
	parse("sendmail -f me@x.org -F Name -Nnever x@y.z");
	char *g2 = xasprintf("%s|%s|%s", o.sender, o.fullname, o.dsn_notify);
	is_str(g1, g2, "glued == separate");
	free(g1);
	free(g2);

	/* every long option in --help parses */
	h = open_memstream(&help, &len);
	cli_help(h);
	fclose(h);
	int all = 1;
	for (char *p = help; (p = strstr(p, "--")); p += 2) {
		char name[64], line[128];
		size_t n = strspn(p + 2, "abcdefghijklmnopqrstuvwxyz-");
		if (n == 0 || n >= sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)n, p + 2);
		snprintf(line, sizeof(line), "sendmail --%s x x@y.z", name);
		if (parse(line) < 0 && strstr(r.text, "unknown option")) {
			printf("# --%s in --help but unknown to the parser\n", name);
			all = 0;
		}
	}
	ok(all, "every long option in --help is accepted");
	free(help);
	cli_free(&o);
	return done_testing();
}
