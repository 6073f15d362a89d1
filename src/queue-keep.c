/*
 * queue-keep.c - keeping a spool file in the queue (SPEC 10), for the
 * recipients still to deliver, and rewriting a queued message's
 * envelope for fewer recipients.
 *
 * Durability: a message enters q/ by link() of a spool file that was
 * fsync'd, followed by an fsync of q/; so after a crash it is either in
 * q/ whole or was never accepted (the caller got no success status).
 *
 * The sender that keeps a message holds its flock() from before the link()
 * until the state file is written, so that no run delivers it in between
 * (see queue.c's "Exactly once").
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

/* Copy the message of fd (from data_offset) after the envelope e into a
 * new spool file in qdir/tmp, locked.  Returns its path and fd, or NULL. */
static char *
rewrite(const char *qdir, int fd, off_t data_offset, const struct queue_env *e,
	int *newfd, struct result *r)
{
	struct dynbuf d = { 0 };
	char buf[65536], *path = xasprintf("%s/tmp/mo.XXXXXX", qdir);
	ssize_t n;
	int out;

	/* tmp/ again if someone cleaned it away meanwhile */
	free(queue_subdir(qdir, "tmp", NULL));
	out = mkostemp(path, O_CLOEXEC);
	if (out < 0) {
		res_fail(r, RES_CANTCREAT, "cannot create %s: %s", path, strerror(errno));
		free(path);
		return NULL;
	}
	queue_env_format(&d, e);
	if (flock(out, LOCK_EX | LOCK_NB) != 0 || write_all(out, d.s, d.len) < 0 ||
	    lseek(fd, data_offset, SEEK_SET) != data_offset)
		goto fail;
	while ((n = read_retry(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 || write_all(out, buf, (size_t)n) < 0)
			goto fail;
	}
	db_free(&d);
	*newfd = out;
	return path;
fail:
	res_fail(r, RES_IOERR, "cannot rewrite queue file: %s", strerror(errno));
	db_free(&d);
	close(out);
	unlink(path);
	free(path);
	return NULL;
}

static int
same_rcpts(const struct addr_list *a, const struct addr_list *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (!addr_list_contains(b, a->v[i]))
			return 0;
	return 1;
}

int
queue_rewrite_rcpts(const char *qdir, int fd, off_t data_offset, struct queue_env *e,
		    const struct addr_list *pending, char **newpath, int *newfd,
		    struct result *r)
{
	*newpath = NULL;
	if (same_rcpts(pending, &e->rcpts))
		return 0;
	addr_list_free(&e->rcpts);
	for (size_t i = 0; i < pending->n; i++)
		addr_list_add(&e->rcpts, pending->v[i]);
	*newpath = rewrite(qdir, fd, data_offset, e, newfd, r);
	return *newpath ? 0 : -1;
}

/* Link src into q under a new id (never replacing a message already
 * there).  Returns the new path, or NULL. */
static char *
link_new_id(const char *q, const char *src, char *id, size_t idlen, struct result *r)
{
	for (int i = 0; ; i++) {
		char *dst;

		queue_make_id(src, id, idlen);
		if (i)
			snprintf(id + strlen(id), idlen - strlen(id), "%d", i);
		dst = xasprintf("%s/%s", q, id);
		if (link(src, dst) == 0)
			return dst;
		if (errno != EEXIST || i > 100) {
			res_fail(r, RES_CANTCREAT, "cannot queue %s as %s: %s", src, dst,
				 strerror(errno));
			free(dst);
			return NULL;
		}
		free(dst);
	}
}

/* The first state of a message just kept (fd holds its lock). */
static void
keep_state(int fd, const char *path, const char *last_error)
{
	struct queue_state st;

	memset(&st, 0, sizeof(st));
	if (last_error) {
		st.attempts = 1;
		st.last_try = time(NULL);
		st.next_try = st.last_try + queue_backoff(1);
		str_copy(st.last_error, sizeof(st.last_error), last_error);
	} else {
		st.next_try = time(NULL);
	}
	if (queue_state_save(fd, path, &st) != 0)
		log_err("warning: cannot write %s.state: %s", path, strerror(errno));
}

int
queue_keep(const char *qdir, const char *spool_path, int fd, off_t data_offset,
	   const struct addr_list *pending, const char *last_error, char *id,
	   size_t idlen, struct result *r)
{
	struct queue_env e;
	off_t off;
	char *q = NULL, *dst = NULL, *newpath = NULL;
	const char *src = spool_path;
	int newfd = -1, locked = -1, rc = -1;

	if (!(q = queue_subdir(qdir, "q", r)))
		goto out;
	if (pending) {
		if (queue_env_read(fd, &e, &off, r) < 0)
			goto out;
		rc = queue_rewrite_rcpts(qdir, fd, data_offset, &e, pending, &newpath, &newfd, r);
		queue_env_free(&e);
		if (rc < 0)
			goto out;
		rc = -1;
		if (newpath) {
			src = newpath;
			fd = newfd;
		}
	}
	/* Locked from before it enters q/ until its state is written: no
	 * run delivers it meanwhile, to leave a state file without message. */
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		res_fail(r, RES_IOERR, "cannot lock %s: %s", src, strerror(errno));
		goto out;
	}
	locked = fd;
	if (fsync(fd) != 0) {
		res_fail(r, RES_IOERR, "cannot fsync %s: %s", src, strerror(errno));
		goto out;
	}
	if (!(dst = link_new_id(q, src, id, idlen, r)))
		goto out;
	if (fsync_dir_of(q, 1) != 0) {
		res_fail(r, RES_IOERR, "cannot fsync %s: %s", q, strerror(errno));
		unlink(dst);
		goto out;
	}
	unlink(src);
	if (newpath)
		unlink(spool_path);
	keep_state(fd, dst, last_error);
	rc = 0;
out:
	if (locked >= 0)
		(void)flock(locked, LOCK_UN);
	if (newfd >= 0)
		close(newfd);
	if (newpath && rc != 0)
		unlink(newpath);
	free(newpath);
	free(q);
	free(dst);
	return rc;
}
