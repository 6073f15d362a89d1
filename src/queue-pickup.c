/*
 * queue-pickup.c - files dropped by mailout-drop move into the queue
 * (SPEC 11).
 *
 * QDIR/maildrop holds what local users handed to the set-group-id helper
 * (format in drop.c).  Everything there is hostile input: a user owns each
 * file, and whoever subverted the drop group could have placed anything.
 * So each entry is opened without following a link and without blocking,
 * checked with fstat() (a regular file with one link, complete, of a size
 * the helper could have written), read once, checked again for its form,
 * and copied into a new queue file; only then is it removed.  An entry that
 * fails a check is moved to QDIR/corrupt/ with a log line and never looked
 * at again; the others go on.  Who sent it is the file's owner as the
 * kernel reports it: it goes into the envelope ("uid N") and a Received
 * header, never taken from the file's content.
 *
 * The copy goes through the message converter (message.h) with -i
 * semantics, so that the queue file has CRLF line endings whatever the
 * user wrote: text inside a message can never become SMTP commands.
 *
 * A crash after the copy entered q/ and before the drop file was removed
 * makes the next pickup queue it again (a duplicate, never a loss), as the
 * window between a relay's 250 and the removal of a queue file does.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "conf.h"
#include "drop.h"
#include "log.h"
#include "message.h"
#include "queue.h"
#include "queue-system.h"
#include "received.h"
#include "util.h"

/* Embryonic files (a helper still writing, or one that was killed) older
 * than this are removed. */
#define PICKUP_STALE (24L * 3600)

/* The helper's own first lines: "mailout-drop 1", "uid N", "created T". */
#define PICKUP_HEAD_MAX 128

struct pickup {
	const struct config *c;
	const char *qdir;
	int dirfd;               /* QDIR/maildrop */
	char *tmp;               /* QDIR/tmp */
	int picked, aside;
};

/* One dropped file, being read (through buf: the envelope is read by
 * lines, and what follows it in buf is the start of the message). */
struct dropped {
	const char *name;
	int fd;
	char buf[65536];
	size_t pos, len;
	struct stat st;
	long uid;                /* from the helper's line: checked against st_uid */
	time_t created;
	struct queue_env env;
	char reason[160];        /* why it is set aside */
};

static int
aside_reason(struct dropped *d, const char *why)
{
	str_copy(d->reason, sizeof(d->reason), why);
	return -1;
}

/* Move a refused entry to QDIR/corrupt/ (made when first needed). */
static void
set_aside(struct pickup *p, const struct dropped *d)
{
	char *dir = xasprintf("%s/corrupt", p->qdir);
	int dfd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		log_err("cannot make %s: %s", dir, strerror(errno));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 || renameat(p->dirfd, d->name, dfd, d->name) < 0) {
		log_err("drop file %s (%s) cannot be set aside: %s; removing it", d->name,
			d->reason, strerror(errno));
		unlinkat(p->dirfd, d->name, 0);
	} else {
		log_err("drop file %s set aside in %s: %s", d->name, dir, d->reason);
		(void)fsync(dfd);
	}
	if (dfd >= 0)
		close(dfd);
	free(dir);
	p->aside++;
}

/*
 * Open and stat.  Returns 1 to go on, 0 to leave it (embryonic and
 * recent, or gone), -1 to set it aside (d->reason says why).
 */
static int
open_dropped(struct pickup *p, struct dropped *d)
{
	struct stat l;

	/* Look before opening: a device or FIFO is never opened at all. */
	if (fstatat(p->dirfd, d->name, &l, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (S_ISLNK(l.st_mode))
		return aside_reason(d, "a symbolic link");
	if (!S_ISREG(l.st_mode))
		return aside_reason(d, "not a regular file");
	/* Root's rights for this open alone in a system run: the copy is
	 * written with the system user's (queue-system.c). */
	d->fd = queue_system_openat(p->dirfd, d->name,
				    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (d->fd < 0) {
		if (errno == ELOOP)
			return aside_reason(d, "a symbolic link");
		if (errno != ENOENT)
			log_err("cannot open drop file %s: %s", d->name, strerror(errno));
		return 0;
	}
	if (fstat(d->fd, &d->st) < 0)
		return aside_reason(d, "cannot be examined");
	if (!S_ISREG(d->st.st_mode) || d->st.st_ino != l.st_ino || d->st.st_dev != l.st_dev)
		return aside_reason(d, "replaced while it was opened");
	if (d->st.st_nlink != 1)
		return aside_reason(d, "more than one link");
	if (!(d->st.st_mode & S_IXUSR)) {
		if (time(NULL) - d->st.st_mtime > PICKUP_STALE) {
			log_err("drop file %s was never completed: removed", d->name);
			unlinkat(p->dirfd, d->name, 0);
		}
		return 0;
	}
	if ((unsigned long long)d->st.st_size > DROP_SIZE_MAX + PICKUP_HEAD_MAX)
		return aside_reason(d, "larger than mailout-drop writes");
	return 1;
}

/* The next n lines (through their LF) into out[size], NUL-terminated.
 * Returns 0, or -1 at the end of the file or when they do not fit. */
static int
read_lines(struct dropped *d, char *out, size_t size, int n)
{
	size_t len = 0;

	while (n > 0) {
		if (d->pos == d->len) {
			ssize_t k = read_retry(d->fd, d->buf, sizeof(d->buf));

			if (k <= 0)
				return -1;
			d->pos = 0;
			d->len = (size_t)k;
		}
		if (len + 1 >= size)
			return -1;
		if ((out[len++] = d->buf[d->pos++]) == '\n')
			n--;
	}
	out[len] = '\0';
	return 0;
}

static int
read_head(struct dropped *d)
{
	char head[PICKUP_HEAD_MAX];
	long long created;

	if (read_lines(d, head, sizeof(head), 3) < 0 ||
	    sscanf(head, "mailout-drop 1\nuid %ld\ncreated %lld\n", &d->uid, &created) != 2)
		return aside_reason(d, "not written by mailout-drop");
	if (d->uid < 0 || (uid_t)d->uid != d->st.st_uid)
		return aside_reason(d, "its uid line does not name its owner");
	d->created = (time_t)created;
	return 0;
}

/* One envelope line into d->env (the form was checked by drop_check). */
static int
envelope_line(struct dropped *d, char *line)
{
	char err[256], *v = strchr(line, ' ');

	*v++ = '\0';
	if (!strcmp(line, "account")) {
		d->env.account = xstrdup(v);
	} else if (!strcmp(line, "sender")) {
		if (*v && addr_check(v, err, sizeof(err)) < 0)
			return aside_reason(d, "the sender is not a valid address");
		d->env.sender = xstrdup(v);
	} else if (!strcmp(line, "rcpt")) {
		if (addr_check(v, err, sizeof(err)) < 0)
			return aside_reason(d, "a recipient is not a valid address");
		addr_list_add(&d->env.rcpts, v);
	}
	return 0;
}

/* Read and check the envelope; the descriptor is left at the message. */
static int
read_envelope(struct dropped *d)
{
	struct drop_check chk;
	char line[DROP_LINE_MAX + 2];
	int rc = 0;

	drop_check_init(&chk);
	while (rc == 0) {
		if (read_lines(d, line, sizeof(line), 1) < 0)
			return aside_reason(d, "the envelope is cut short");
		if (drop_check_feed(&chk, line, strlen(line)) < 0)
			return aside_reason(d, chk.error);
		if (!strcmp(line, "\n"))
			break;
		if (strcmp(line, "mailout-envelope 1\n") != 0) {
			line[strlen(line) - 1] = '\0';
			rc = envelope_line(d, line);
		}
	}
	if (rc == 0 && drop_check_finish(&chk) < 0)
		return aside_reason(d, chk.error);
	return rc;
}

/* A message that names no account goes the way the system's choice
 * (senders, default_account, the only account) sends its sender. */
static void
choose_account(const struct pickup *p, struct dropped *d)
{
	const struct account *a;
	struct result r;

	if (d->env.account)
		return;
	res_clear(&r);
	a = conf_choose(p->c, NULL, d->env.sender, &r);
	if (a)
		d->env.account = xstrdup(a->name);
}

/* Envelope, Received and the message, CRLF-normalised, into a new file of
 * QDIR/tmp.  Returns its fd (at *path) with *offset where the message
 * starts, or -1. */
static int
write_copy(struct pickup *p, struct dropped *d, char **path, off_t *offset)
{
	struct dynbuf b = { 0 };
	struct msg_conv conv;
	char buf[65536];
	unsigned long long total = 0;
	ssize_t n;
	int out;

	*path = xasprintf("%s/mo.XXXXXX", p->tmp);
	out = mkostemp(*path, O_CLOEXEC);
	if (out < 0) {
		log_err("cannot create a file in %s: %s", p->tmp, strerror(errno));
		return -1;
	}
	queue_env_format(&b, &d->env);
	*offset = (off_t)b.len;
	received_header(&b, NULL, d->st.st_uid, "local", "\r\n");
	msg_conv_init(&conv, 1);
	/* What the envelope's reading left in d->buf comes first. */
	n = (ssize_t)(d->len - d->pos);
	memcpy(buf, d->buf + d->pos, (size_t)n);
	d->pos = d->len;
	for (; n > 0; n = read_retry(d->fd, buf, sizeof(buf))) {
		total += (unsigned long long)n;
		if (total > DROP_SIZE_MAX)
			break;
		msg_conv_feed(&conv, buf, (size_t)n, &b);
		if (write_all(out, b.s, b.len) < 0)
			break;
		db_reset(&b);
	}
	if (n == 0) {
		msg_conv_finish(&conv, &b);
		if (write_all(out, b.s, b.len) == 0) {
			db_free(&b);
			return out;
		}
	}
	log_err("cannot copy drop file %s: %s", d->name,
		n < 0 ? strerror(errno) : total > DROP_SIZE_MAX ? "it grew while read" : strerror(errno));
	db_free(&b);
	close(out);
	unlink(*path);
	free(*path);
	*path = NULL;
	return -1;
}

/* The file must be what it was when opened: same size and times. */
static int
unchanged(const struct dropped *d)
{
	struct stat now;

	return fstat(d->fd, &now) == 0 && now.st_size == d->st.st_size &&
	       now.st_mtim.tv_sec == d->st.st_mtim.tv_sec &&
	       now.st_mtim.tv_nsec == d->st.st_mtim.tv_nsec && now.st_nlink == 1;
}

static void
pickup_one(struct pickup *p, const char *name)
{
	static struct dropped d;
	struct result r;
	char id[64], *path = NULL;
	off_t offset;
	int rc, out;

	memset(&d, 0, sizeof(d));
	d.name = name;
	d.fd = -1;
	res_clear(&r);
	rc = open_dropped(p, &d);
	if (rc > 0 && (read_head(&d) < 0 || read_envelope(&d) < 0))
		rc = -1;
	if (rc > 0) {
		d.env.uid = xasprintf("%lu", (unsigned long)d.st.st_uid);
		choose_account(p, &d);
		d.env.created = d.created;
		out = write_copy(p, &d, &path, &offset);
		if (out >= 0 && !unchanged(&d)) {
			aside_reason(&d, "changed while it was read");
			rc = -1;
		} else if (out >= 0 && queue_keep(p->qdir, path, out, offset, NULL, NULL, id,
						  sizeof(id), &r) == 0) {
			unlinkat(p->dirfd, name, 0);
			log_info("picked up %s from uid %lu as %s", name,
				 (unsigned long)d.st.st_uid, id);
			p->picked++;
		} else if (out >= 0) {
			log_err("cannot queue drop file %s: %s", name, r.text);
		}
		if (out >= 0)
			close(out);
		if (path && rc < 0)
			unlink(path);
	}
	if (rc < 0)
		set_aside(p, &d);
	free(path);
	queue_env_free(&d.env);
	if (d.fd >= 0)
		close(d.fd);
}

int
queue_pickup(const struct config *c, struct result *r)
{
	const char *qdir = c->queue_dir;
	struct pickup p = { .c = c, .qdir = qdir, .dirfd = -1 };
	char *dir = xasprintf("%s/maildrop", qdir);
	struct dirent *e;
	DIR *dp = NULL;

	res_clear(r);
	p.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (p.dirfd < 0) {
		if (errno != ENOENT)
			res_fail(r, RES_IOERR, "cannot open %s: %s", dir, strerror(errno));
		goto out;
	}
	if (geteuid() != 0 && !queue_system_privileged()) {
		log_info("%s: only root picks up dropped messages", dir);
		goto out;
	}
	p.tmp = xasprintf("%s/tmp", qdir);
	if (mkdir(p.tmp, 0700) < 0 && errno != EEXIST) {
		res_fail(r, RES_CANTCREAT, "cannot make %s: %s", p.tmp, strerror(errno));
		goto out;
	}
	if (!(dp = fdopendir(dup(p.dirfd)))) {
		res_fail(r, RES_IOERR, "cannot read %s: %s", dir, strerror(errno));
		goto out;
	}
	while ((e = readdir(dp)))
		if (e->d_name[0] != '.')
			pickup_one(&p, e->d_name);
	if (p.picked || p.aside)
		(void)fsync(p.dirfd);
out:
	if (dp)
		closedir(dp);
	if (p.dirfd >= 0)
		close(p.dirfd);
	free(p.tmp);
	free(dir);
	return r->cls == RES_OK ? p.picked : -1;
}
