/*
 * queue-manage.c - an administrator's hands on the queue (SPEC 10):
 * --delete, --requeue and --show.
 *
 * Whose queue: the configuration's queue_dir, which must belong to the
 * caller (queue_subdir()): root manages the system queue, a user their own
 * queue, which holds only their messages.
 *
 * A change takes the message's lock (flock on the queue file, as a queue
 * run does) without waiting: a message a run is delivering at that moment
 * is left alone and reported (exit 75, "try again"), so that it is
 * neither sent twice nor lost.  --show only reads.
 *
 * Each id is handled once however often it is given; the exit status is
 * the worst of them: 64 for a name that is no queue id, 66 for an id that
 * is in neither q/ nor failed/ (or, for --requeue, not in failed/), 75 for
 * a message being delivered.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "queue-internal.h"
#include "queue.h"
#include "util.h"

/* A message of the queue, opened and (for a change) locked. */
struct held {
	char *path, *spath;          /* DIR/ID, DIR/ID.state */
	int fd;
	int failed;                  /* in failed/ (else q/) */
};

static void
held_close(struct held *h)
{
	if (h->fd >= 0)
		close(h->fd);           /* releases the lock */
	free(h->path);
	free(h->spath);
	memset(h, 0, sizeof(*h));
	h->fd = -1;
}

/* Open dir/id (and lock it when lock is set).  Returns 1 when held, 0
 * when it is not there, -1 with *r (being delivered, unreadable). */
static int
hold_in(const char *dir, const char *id, int lock, struct held *h, struct result *r)
{
	struct stat sb;

	h->path = xasprintf("%s/%s", dir, id);
	h->spath = xasprintf("%s.state", h->path);
	h->fd = open(h->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (h->fd < 0)
		return errno == ENOENT ? 0 : res_fail(r, RES_IOERR, "%s: cannot open %s: %s",
						      id, h->path, strerror(errno));
	if (lock && flock(h->fd, LOCK_EX | LOCK_NB) != 0)
		return res_fail(r, RES_TEMPFAIL, "%s: being delivered at this moment; "
				"try again when the queue run is over", id);
	/* Delivered, moved or rewritten while we waited for nothing. */
	if (lock && !queue_still_there(h->fd, h->path, &sb))
		return 0;
	return 1;
}

/* Find id in q/ (unless failed_only) then failed/.  Same returns. */
static int
hold(const struct config *c, const char *id, int lock, int failed_only, struct held *h,
     struct result *r)
{
	static const char *const subs[] = { "q", "failed" };

	for (int i = failed_only ? 1 : 0; i < 2; i++) {
		char *dir = queue_subdir(c->queue_dir, subs[i], r);
		int rc;

		if (!dir)
			return -1;
		rc = hold_in(dir, id, lock, h, r);
		free(dir);
		if (rc != 0)
			return h->failed = i, rc;
		held_close(h);
	}
	return res_fail(r, RES_NOINPUT, "%s: no such message in %s%s", id, failed_only ?
			"failed/ of " : "the queue ", c->queue_dir);
}

static int
do_delete(const struct config *c, const char *id, FILE *out, struct result *r)
{
	struct held h = { .fd = -1 };
	int rc = hold(c, id, 1, 0, &h, r);

	if (rc > 0) {
		if (unlink(h.path) != 0 && errno != ENOENT)
			rc = res_fail(r, RES_IOERR, "%s: cannot remove %s: %s", id, h.path,
				      strerror(errno));
		else {
			unlink(h.spath);
			(void)fsync_dir_of(h.path, 0);
			fprintf(out, "%s: deleted\n", id);
		}
	}
	held_close(&h);
	return rc > 0 ? 0 : -1;
}

/* failed/ID back into q/ with a fresh state: no attempt yet, due now, its
 * queue_lifetime counted from now. */
static int
do_requeue(const struct config *c, const char *id, FILE *out, struct result *r)
{
	struct held h = { .fd = -1 };
	struct queue_state st = { 0 };
	char *q = NULL, *dst = NULL, *sdst = NULL;
	int rc = hold(c, id, 1, 1, &h, r);

	if (rc <= 0)
		goto out;
	rc = -1;
	if (!(q = queue_subdir(c->queue_dir, "q", r)))
		goto out;
	dst = xasprintf("%s/%s", q, id);
	sdst = xasprintf("%s.state", dst);
	st.next_try = st.created = time(NULL);
	/* The state first: a run that finds q/ID waits for our lock, then
	 * reads it. */
	if (queue_state_write(sdst, &st) != 0 || link(h.path, dst) != 0) {
		res_fail(r, errno == EEXIST ? RES_CANTCREAT : RES_IOERR,
			 "%s: cannot move it back to %s: %s", id, q, strerror(errno));
		if (errno != EEXIST)
			unlink(sdst);
		goto out;
	}
	(void)fsync_dir_of(q, 1);
	unlink(h.path);
	unlink(h.spath);
	(void)fsync_dir_of(h.path, 0);
	fprintf(out, "%s: requeued\n", id);
	rc = 0;
out:
	held_close(&h);
	free(q);
	free(dst);
	free(sdst);
	return rc > 0 ? 0 : rc;
}

static void
show_time(FILE *out, const char *name, time_t t)
{
	char buf[64];
	struct tm tm;

	if (!t)
		return;
	localtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %z", &tm);
	fprintf(out, "%s: %s\n", name, buf);
}

/* The envelope and state as "Name: value" lines, an empty line, then the
 * message as it is sent. */
static int
do_show(const struct config *c, const char *id, FILE *out, struct result *r)
{
	struct held h = { .fd = -1 };
	struct queue_env e;
	struct queue_state st;
	char buf[65536];
	off_t off;
	ssize_t n;
	int rc = hold(c, id, 0, 0, &h, r);

	if (rc <= 0 || queue_env_read(h.fd, &e, &off, r) < 0) {
		held_close(&h);
		return -1;
	}
	queue_state_read(h.spath, &st);
	fprintf(out, "Queue-ID: %s\nStatus: %s\n", id, h.failed ? "failed" : "queued");
	if (e.account)
		fprintf(out, "Account: %s\n", e.account);
	if (e.host)
		fprintf(out, "Host: %s\n", e.host);
	fprintf(out, "Sender: <%s>\n", e.sender);
	if (e.uid)
		fprintf(out, "Submitter-UID: %s\n", e.uid);
	for (size_t i = 0; i < e.rcpts.n; i++)
		fprintf(out, "Recipient: <%s>\n", e.rcpts.v[i]);
	show_time(out, "Created", e.created);
	fprintf(out, "Attempts: %d\n", st.attempts);
	show_time(out, "Last-Try", st.last_try);
	if (!h.failed)
		show_time(out, "Next-Try", st.next_try);
	if (st.last_error[0])
		fprintf(out, "Last-Error: %s\n", st.last_error);
	fputc('\n', out);
	fflush(out);
	if (lseek(h.fd, off, SEEK_SET) != off)
		rc = res_fail(r, RES_IOERR, "%s: cannot read it: %s", id, strerror(errno));
	while (rc > 0 && (n = read_retry(h.fd, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)n, out) != (size_t)n)
			break;
	fflush(out);
	queue_env_free(&e);
	held_close(&h);
	return rc > 0 ? 0 : -1;
}

int
queue_manage(const struct config *c, enum queue_op op, char *const *ids, size_t n,
	     FILE *out, struct result *r)
{
	struct result one, first;
	size_t nfail = 0, ndone = 0;

	res_clear(r);
	res_clear(&first);
	if (n == 0)
		return res_fail(r, RES_USAGE, "%s needs one queue id at least (see mailq)",
				op == QUEUE_DELETE ? "--delete" : op == QUEUE_REQUEUE ?
				"--requeue" : "--show");
	for (size_t i = 0; i < n; i++) {
		int again = 0;

		for (size_t k = 0; k < i && !again; k++)
			again = !strcmp(ids[k], ids[i]);
		if (again)
			continue;               /* each id once */
		ndone++;
		res_clear(&one);
		if (!queue_is_id(ids[i]))
			res_fail(&one, RES_USAGE, "%.200s: not a queue id (mailq lists them)", ids[i]);
		else if (op == QUEUE_DELETE)
			do_delete(c, ids[i], out, &one);
		else if (op == QUEUE_REQUEUE)
			do_requeue(c, ids[i], out, &one);
		else
			do_show(c, ids[i], out, &one);
		if (one.cls == RES_OK)
			continue;
		/* The first failure is the caller's message; the others are
		 * printed as they come. */
		if (nfail++ == 0)
			first = one;
		else
			log_err("%s", one.text);
		res_merge(r, &one);
	}
	if (nfail == 1)
		*r = first;
	else if (nfail > 1)
		res_fail(r, r->cls, "%s (and %zu more of %zu messages not done)", first.text,
			 nfail - 1, ndone);
	return r->cls == RES_OK ? 0 : -1;
}
