/* test-queue-manage.c - --delete, --requeue and --show (queue-manage.c) on
 * a queue built in a temporary directory with queue_keep(): what each
 * does, ids that are no queue id ("../x"), unknown ids, an id given twice,
 * the requeue of a failed message, and a message a run holds. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "queue-internal.h"
#include "queue.h"
#include "tap.h"
#include "util.h"

static char qdir[] = "/tmp/test-queue-manage.XXXXXX";
static struct config c;
static struct result r;
static char *out_text;

/* A message from s@example.com to a@ and b@, kept in q/ for b@ only
 * after "451 busy"; its id into id. */
static int
keep(char *id, size_t idlen)
{
	static int n;
	struct queue_env e = { 0 };
	struct addr_list pending = { 0 };
	struct dynbuf d = { 0 };
	char *spool;
	off_t off;
	int fd, rc;

	free(queue_subdir(qdir, "tmp", NULL));
	spool = xasprintf("%s/tmp/mo.Test%d", qdir, ++n);
	e.sender = xstrdup("s@example.com");
	addr_list_add(&e.rcpts, "a@example.com");
	addr_list_add(&e.rcpts, "b@example.com");
	e.created = 1700000000;
	queue_env_format(&d, &e);
	off = (off_t)d.len;
	db_adds(&d, "Subject: kept\r\n\r\nthe body\r\n");
	fd = open(spool, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	addr_list_add(&pending, "b@example.com");
	res_clear(&r);
	rc = fd >= 0 && write_all(fd, d.s, d.len) == 0 &&
	     queue_keep(qdir, spool, fd, off, &pending, "451 busy", id, idlen, &r) == 0;
	if (fd >= 0)
		close(fd);
	free(spool);
	addr_list_free(&pending);
	queue_env_free(&e);
	db_free(&d);
	return rc;
}

/* queue_manage() for op on the ids (ending in NULL); what it printed in
 * out_text. */
static int
manage(enum queue_op op, const char *const *ids)
{
	size_t n = 0, len = 0;
	FILE *out;
	int rc;

	while (ids[n])
		n++;
	free(out_text);
	out_text = NULL;
	out = open_memstream(&out_text, &len);
	if (!out)
		abort();
	res_clear(&r);
	rc = queue_manage(&c, op, (char *const *)ids, n, out, &r);
	fclose(out);
	return rc;
}

/* 1 when sub/id exists in the queue. */
static int
in(const char *sub, const char *id)
{
	char *path = xasprintf("%s/%s/%s", qdir, sub, id);
	struct stat sb;
	int there = lstat(path, &sb) == 0;

	free(path);
	return there;
}

/* Move q/ID (and its state) to failed/, as a run does when it gives up. */
static int
fail_it(const char *id)
{
	char *q = xasprintf("%s/q/%s", qdir, id), *qs = xasprintf("%s.state", q);
	char *f = queue_subdir(qdir, "failed", NULL), *fp, *fs;
	int rc;

	if (!f)
		return 0;
	fp = xasprintf("%s/%s", f, id);
	fs = xasprintf("%s.state", fp);
	rc = rename(q, fp) == 0 && rename(qs, fs) == 0;
	free(q);
	free(qs);
	free(f);
	free(fp);
	free(fs);
	return rc;
}

static void
test_bad_ids(void)
{
	ok(manage(QUEUE_DELETE, (const char *const[]){ NULL }) < 0 && r.cls == RES_USAGE &&
	   strstr(r.text, "--delete needs one queue id"), "--delete without an id: RES_USAGE");
	ok(manage(QUEUE_SHOW, (const char *const[]){ "../x", NULL }) < 0 && r.cls == RES_USAGE &&
	   strstr(r.text, "not a queue id"), "--show ../x: RES_USAGE, not a queue id");
	ok(manage(QUEUE_DELETE, (const char *const[]){ "../q/20260101T000000123456-x", NULL }) < 0 &&
	   r.cls == RES_USAGE, "--delete of a path: RES_USAGE");
	ok(manage(QUEUE_DELETE, (const char *const[]){ "20260101T000000123456-x.state", NULL }) < 0 &&
	   r.cls == RES_USAGE, "--delete of a state file's name: RES_USAGE");
	ok(manage(QUEUE_DELETE, (const char *const[]){ "20260101T000000123456-Zz9", NULL }) < 0 &&
	   r.cls == RES_NOINPUT && strstr(r.text, "no such message"),
	   "--delete of an unknown id: RES_NOINPUT");
	ok(manage(QUEUE_REQUEUE, (const char *const[]){ "20260101T000000123456-Zz9", NULL }) < 0 &&
	   r.cls == RES_NOINPUT && strstr(r.text, "failed/"),
	   "--requeue of an unknown id: RES_NOINPUT naming failed/");
	ok(out_text && !*out_text, "nothing was printed for them");
}

static void
test_show_delete(void)
{
	char id[64], id2[64], *want;
	const char *ids[4] = { NULL };
	int lockfd;

	if (!ok(keep(id, sizeof(id)) && keep(id2, sizeof(id2)), "two messages kept (%s)", r.text))
		return;
	ids[0] = id;
	ok(manage(QUEUE_SHOW, ids) == 0, "--show of a queued message");
	want = xasprintf("Queue-ID: %s\nStatus: queued\n", id);
	ok(out_text && strncmp(out_text, want, strlen(want)) == 0, "it starts with its id and status");
	free(want);
	ok(out_text && strstr(out_text, "Sender: <s@example.com>\n") &&
	   strstr(out_text, "Recipient: <b@example.com>\n") &&
	   !strstr(out_text, "Recipient: <a@example.com>"), "the sender and the pending recipient");
	ok(out_text && strstr(out_text, "Attempts: 1\n") &&
	   strstr(out_text, "Last-Error: 451 busy\n") && strstr(out_text, "Next-Try: "),
	   "the state: one attempt, the error, the next try");
	ok(out_text && strstr(out_text, "\n\nSubject: kept\r\n\r\nthe body\r\n"),
	   "then an empty line and the message");
	ok(in("q", id), "--show leaves it in place");

	/* A run holds the message: it is left alone. */
	{
		char *path = xasprintf("%s/q/%s", qdir, id);

		lockfd = open(path, O_RDONLY | O_CLOEXEC);
		free(path);
	}
	ok(lockfd >= 0 && flock(lockfd, LOCK_EX | LOCK_NB) == 0, "a run's lock on it");
	ok(manage(QUEUE_DELETE, ids) < 0 && r.cls == RES_TEMPFAIL &&
	   strstr(r.text, "being delivered") && in("q", id),
	   "--delete of a locked message: RES_TEMPFAIL, left in place");
	if (lockfd >= 0)
		close(lockfd);

	ids[0] = id;
	ids[1] = id;
	ok(manage(QUEUE_DELETE, ids) == 0, "--delete ID ID: done (%s)", r.text);
	want = xasprintf("%s: deleted\n", id);
	is_str(out_text, want, "deleted once, named once");
	free(want);
	want = xasprintf("%s.state", id);
	ok(!in("q", id) && !in("q", want), "the message and its state are gone");
	free(want);
	ok(in("q", id2), "the other message is still there");
	ids[1] = NULL;
	ok(manage(QUEUE_DELETE, ids) < 0 && r.cls == RES_NOINPUT,
	   "--delete again: RES_NOINPUT");

	/* Several ids, two of them bad: the worst class, the first message,
	 * the good one done all the same. */
	ids[0] = "../x";
	ids[1] = id2;
	ids[2] = "20260101T000000123456-Zz9";
	ok(manage(QUEUE_DELETE, ids) < 0 && r.cls == RES_USAGE &&
	   strstr(r.text, "../x") && strstr(r.text, "1 more of 3"),
	   "one good and two bad ids: the first failure, and a count");
	ok(!in("q", id2), "... the good one was deleted all the same");
}

static void
test_requeue(void)
{
	char id[64], *want, *spath;
	const char *ids[2] = { NULL };
	struct queue_state st;

	if (!ok(keep(id, sizeof(id)), "a message kept"))
		return;
	ids[0] = id;
	ok(manage(QUEUE_REQUEUE, ids) < 0 && r.cls == RES_NOINPUT && in("q", id),
	   "--requeue of a message in q/: RES_NOINPUT, left in place");
	if (!ok(fail_it(id), "moved to failed/"))
		return;
	ok(manage(QUEUE_SHOW, ids) == 0 && strstr(out_text, "Status: failed\n") &&
	   !strstr(out_text, "Next-Try"), "--show of a failed message: failed, no next try");
	ok(manage(QUEUE_REQUEUE, ids) == 0, "--requeue of a failed message (%s)", r.text);
	want = xasprintf("%s: requeued\n", id);
	is_str(out_text, want, "it is named as requeued");
	free(want);
	spath = xasprintf("%s.state", id);
	ok(in("q", id) && !in("failed", id) && !in("failed", spath),
	   "back in q/, gone from failed/ with its state");
	free(spath);
	spath = xasprintf("%s/q/%s.state", qdir, id);
	queue_state_read(spath, &st);
	free(spath);
	ok(st.attempts == 0 && !st.last_error[0] && st.next_try > 0 &&
	   st.next_try <= time(NULL), "a fresh state: no attempt, no error, due now");
	ok(manage(QUEUE_REQUEUE, ids) < 0 && r.cls == RES_NOINPUT,
	   "--requeue again: RES_NOINPUT");
	ok(manage(QUEUE_DELETE, ids) == 0 && !in("q", id), "deleted");
}

int
main(void)
{
	char *cmd;

	if (!ok(mkdtemp(qdir) != NULL, "a queue directory"))
		return done_testing();
	c.queue_dir = qdir;
	test_bad_ids();
	test_show_delete();
	test_requeue();
	free(out_text);
	cmd = xasprintf("rm -rf '%s'", qdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", qdir);
	free(cmd);
	return done_testing();
}
