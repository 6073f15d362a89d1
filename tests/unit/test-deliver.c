/* test-deliver.c - deliver_run()'s report of what became of each recipient
 * (here with local recipients: the invoking user's Maildir, a user that
 * does not exist), and the log lines written from a report. */
#include "config.h"

#include <dirent.h>
#include <pwd.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver.h"
#include "log.h"
#include "tap.h"
#include "testutil.h"
#include "util.h"

static char base[] = "/tmp/test-deliver.XXXXXX";

static int
count_files(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

static int
spool(void)
{
	static const char msg[] = "Subject: t\r\n\r\nbody\r\n";
	char *p = xasprintf("%s/spool", base);
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);

	(void)write_all(fd, msg, sizeof(msg) - 1);
	unlink(p);
	free(p);
	return fd;
}

static void
test_report_of_local_recipients(void)
{
	struct addr_list rcpts = { 0 }, got = { 0 };
	struct deliver_report rep;
	struct result r;
	char *newdir = xasprintf("%s/Maildir/new", base);
	int fd = spool();
	struct delivery d = { .sender = "a@example.com", .fd = fd, .start = 0, .size = 21 };

	addr_list_add(&rcpts, user_name());
	addr_list_add(&rcpts, "no-such-user-of-mailout-tests");
	addr_list_add(&rcpts, "remote@example.com");
	is_int(deliver_run(&d, &rcpts, NULL, &rep, &r), -1, "not everything was delivered");
	ok(r.cls != RES_OK && !res_is_temporary(&r), "the total is a permanent failure");
	is_int(rep.n, 2, "one outcome per local recipient; none for the remote one "
	       "without a relay");
	ok(rep.n == 2 && rep.v[0].state == DELIVER_DELIVERED && !rep.v[0].remote &&
	   rep.v[0].r.cls == RES_OK, "the invoking user: delivered");
	ok(rep.n == 2 && rep.v[1].state == DELIVER_REFUSED && rep.v[1].r.cls == RES_NOUSER,
	   "an unknown user: refused");
	is_int(count_files(newdir), 1, "the Maildir got one copy");
	deliver_recipients(&rep, DELIVER_DELIVERED, &got);
	ok(got.n == 1 && !strcmp(got.v[0], user_name()), "deliver_recipients: delivered");
	addr_list_free(&got);
	deliver_recipients(&rep, DELIVER_DEFERRED, &got);
	is_int(got.n, 0, "deliver_recipients: none deferred");
	deliver_report_free(&rep);
	addr_list_free(&rcpts);
	close(fd);
	free(newdir);
}

static void
add(struct deliver_report *rep, const char *rcpt, enum deliver_state st, enum res_class cls)
{
	struct deliver_outcome *o;

	rep->v = xrealloc(rep->v, (rep->n + 1) * sizeof(*rep->v));
	o = &rep->v[rep->n++];
	memset(o, 0, sizeof(*o));
	addr_list_add(&o->rcpts, rcpt);
	o->state = st;
	res_clear(&o->r);
	if (cls != RES_OK)
		res_fail(&o->r, cls, "failed");
}

static void
test_log_lines_and_queue_ids(void)
{
	struct deliver_report rep = { 0 };
	struct delivery d = { .sender = "", .size = 10 };
	char *path = xasprintf("%s/log", base), *text;

	add(&rep, "me", DELIVER_DELIVERED, RES_OK);
	add(&rep, "later", DELIVER_DEFERRED, RES_TEMPFAIL);
	add(&rep, "never", DELIVER_REFUSED, RES_NOUSER);
	log_setup(path, NULL);
	deliver_log(&d, &rep, "KEPT");
	text = t_read_file_or_empty(path);
	ok(strstr(text, " from=<> recipients=me mailsize=10 exitcode=EX_OK\n") != NULL,
	   "a direct delivery: the delivered line has no queue id");
	ok(strstr(text, " recipients=later mailsize=10 errormsg='failed' queue=KEPT "
		  "exitcode=EX_TEMPFAIL\n") != NULL, "the deferred line names the queue id kept");
	ok(strstr(text, " recipients=never mailsize=10 errormsg='failed' exitcode=EX_NOUSER\n")
	   != NULL, "the refused line has none");
	ok(strstr(text, "=me ") < strstr(text, "=later ") &&
	   strstr(text, "=later ") < strstr(text, "=never "), "in the order of the report");
	free(text);
	unlink(path);
	d.queue_id = "QID";
	deliver_log(&d, &rep, NULL);
	text = t_read_file_or_empty(path);
	ok(strstr(text, "recipients=me mailsize=10 queue=QID ") &&
	   strstr(text, "recipients=later mailsize=10 errormsg='failed' queue=QID ") &&
	   strstr(text, "recipients=never mailsize=10 errormsg='failed' queue=QID "),
	   "a queue run: every line names the queue file");
	free(text);
	unlink(path);
	log_setup(NULL, NULL);
	deliver_report_free(&rep);
	ok(rep.n == 0 && rep.v == NULL, "deliver_report_free empties the report");
	free(path);
}

int
main(void)
{
	char *p;

	if (!mkdtemp(base))
		return 1;
	setenv("HOME", base, 1);
	unsetenv("MAIL");
	for (const char *const *s = (const char *const[]){ "Maildir", "Maildir/cur",
			"Maildir/new", "Maildir/tmp", NULL }; *s; s++) {
		p = xasprintf("%s/%s", base, *s);
		mkdir(p, 0700);
		free(p);
	}
	if (getpwuid(getuid()))
		test_report_of_local_recipients();
	else
		printf("# skipped the local recipients: this uid has no password entry\n");
	test_log_lines_and_queue_ids();
	p = xasprintf("rm -rf '%s'", base);
	if (system(p) != 0)
		printf("# could not remove %s\n", base);
	free(p);
	return done_testing();
}
