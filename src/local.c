/*
 * local.c - delivery to local mailboxes (SPEC 7).
 *
 * mbox: the mailbox is locked with a dot-lock file (MAILBOX.lock, created
 * with O_EXCL; one older than 5 minutes is stale) and an fcntl write
 * lock, then the message is appended: a "From SENDER DATE" line, a
 * Return-Path header, the message with LF line endings and every line
 * that starts with "From " quoted as ">From ", and a blank line.  On a
 * write error the mailbox is truncated back to its old size.
 *
 * Only a regular file with one link is taken (O_NOFOLLOW, O_NONBLOCK), and
 * after the fcntl lock the path must still name the locked file.
 *
 * Maildir: the message is written to tmp/UNIQUE, fsync'd, then renamed to
 * new/UNIQUE and the directory fsync'd.  Missing cur/, new/ and tmp/ are
 * created.  Root does this for another user in a child process that has
 * that user's ids (maildir_as_user).
 *
 * Both leave out the message's own Return-Path and Content-Length header
 * fields, as Postfix does (see dropped_fields), and look a user name up as
 * given, then folded to lower case, as Postfix's local(8) does.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr-local.h"
#include "address.h"
#include "local.h"
#include "util.h"

#define LOCK_TIMEOUT 30      /* seconds to wait for a mailbox lock */
#define LOCK_STALE   300     /* a dot-lock older than this is removed */

/* ---- the copy written to a mailbox ---- */

/* CRLF -> LF conversion, quoting "From " at the start of lines as
 * ">From " when mbox is set.  State carries across calls of lf_putc(). */
struct lf_conv {
	int mbox;
	int pending_cr;   /* a CR was seen and not yet written */
	int at_bol;       /* at the start of a line */
	size_t matched;   /* bytes of "From " matched at a line start */
};

static const char from_line[] = "From ";

static void
lf_putc(struct lf_conv *c, char ch, struct dynbuf *ob)
{
	if (c->mbox && (c->at_bol || c->matched)) {
		if (ch == from_line[c->matched]) {
			c->at_bol = 0;
			if (++c->matched == 5) {
				db_adds(ob, ">From ");
				c->matched = 0;
			}
			return;
		}
		db_add(ob, from_line, c->matched);
		c->matched = 0;
	}
	if (c->pending_cr) {
		c->pending_cr = 0;
		if (ch == '\n') {
			db_addc(ob, '\n');
			c->at_bol = 1;
			return;
		}
		db_addc(ob, '\r');
	}
	if (ch == '\r') {
		c->pending_cr = 1;
		c->at_bol = 0;
		return;
	}
	db_addc(ob, ch);
	c->at_bol = ch == '\n';
}

/* At the end of the message: write what is held back. */
static void
lf_finish(struct lf_conv *c, struct dynbuf *ob)
{
	db_add(ob, from_line, c->matched);
	if (c->pending_cr)
		db_addc(ob, '\r');
}

/*
 * Header fields of the message that local delivery drops, as Postfix does:
 * its cleanup(8) removes them from every message (message_drop_headers,
 * whose default names both), and local(8) writes its own Return-Path.
 * Kept, they would give the mailbox a second Return-Path, and a stale
 * Content-Length makes mbox readers that trust it cut the message short or
 * run it into the next one.  The relay still gets them (SPEC 3).
 */
static const char *const dropped_fields[] = { "Return-Path", "Content-Length" };

/* Longest start of a header line held back until its colon decides; a
 * longer one cannot name a dropped field. */
#define FIELD_HOLD 64

/* Drops the fields above from the header section of the spool (CRLF, a
 * field's continuation lines start with a space or a tab, an empty line
 * ends it), passing every other byte on to an lf_conv unchanged. */
struct hdr_filter {
	int in_body;      /* past the empty line that ends the header section */
	int at_bol;       /* at the start of a line */
	int dropping;     /* the current field, continuation lines too, goes */
	size_t held;      /* bytes of a field's first line held back in name */
	char name[FIELD_HOLD];
};

/* 1 when the held "Name" (with any spaces or tabs before the colon, which
 * RFC 5322's obsolete syntax allows and message.c accepts) is dropped. */
static int
is_dropped_field(const char *name, size_t len)
{
	while (len && (name[len - 1] == ' ' || name[len - 1] == '\t'))
		len--;
	for (size_t i = 0; i < sizeof(dropped_fields) / sizeof(dropped_fields[0]); i++)
		if (strlen(dropped_fields[i]) == len &&
		    strncasecmp(name, dropped_fields[i], len) == 0)
			return 1;
	return 0;
}

/* One byte of the header section (or, once past it, of the body). */
static void
hdr_putc(struct hdr_filter *h, struct lf_conv *c, char ch, struct dynbuf *ob)
{
	if (h->in_body) {
		lf_putc(c, ch, ob);
		return;
	}
	if (h->held) {
		/* A field's name: hold it until the colon says which field
		 * this is (or the line or the hold ends without one). */
		if (ch != ':' && ch != '\r' && ch != '\n' && h->held < sizeof(h->name)) {
			h->name[h->held++] = ch;
			return;
		}
		h->dropping = ch == ':' && is_dropped_field(h->name, h->held);
		for (size_t i = 0; !h->dropping && i < h->held; i++)
			lf_putc(c, h->name[i], ob);
		h->held = 0;
	} else if (h->at_bol) {
		h->at_bol = 0;
		if (ch == '\r' || ch == '\n') {
			h->in_body = 1;      /* the empty line: kept, the body follows */
			lf_putc(c, ch, ob);
			return;
		}
		if (ch != ' ' && ch != '\t') {
			h->name[0] = ch;     /* a new field */
			h->held = 1;
			return;
		}
		/* a continuation line goes (or stays) with its field */
	}
	if (ch == '\n')
		h->at_bol = 1;
	if (!h->dropping)
		lf_putc(c, ch, ob);
}

/* At the end of a message that ended inside its header section. */
static void
hdr_finish(struct hdr_filter *h, struct lf_conv *c, struct dynbuf *ob)
{
	for (size_t i = 0; i < h->held; i++)
		lf_putc(c, h->name[i], ob);
	h->held = 0;
}

/* Copy the spool file (CRLF) to out as the mailbox holds it: the dropped
 * header fields left out, LF line endings, "From " at the start of lines
 * quoted when mbox is set.  Returns 0 or -1 (errno). */
static int
copy_message(int in, int out, int mbox)
{
	char ibuf[65536];
	struct dynbuf ob = { 0 };
	struct hdr_filter h = { .at_bol = 1 };
	struct lf_conv c = { .mbox = mbox, .at_bol = 1 };
	ssize_t n;

	while ((n = read_retry(in, ibuf, sizeof(ibuf))) != 0) {
		if (n < 0)
			goto fail;
		db_reserve(&ob, (size_t)n + 8);
		for (ssize_t i = 0; i < n; i++)
			hdr_putc(&h, &c, ibuf[i], &ob);
		if (write_all(out, ob.s, ob.len) < 0)
			goto fail;
		db_reset(&ob);
	}
	hdr_finish(&h, &c, &ob);
	lf_finish(&c, &ob);
	if (ob.len && write_all(out, ob.s, ob.len) < 0)
		goto fail;
	db_free(&ob);
	return 0;
fail:
	db_free(&ob);
	return -1;
}

static int
write_return_path(int fd, const char *sender)
{
	char *s = xasprintf("Return-Path: <%s>\n", sender);
	int rc = write_all(fd, s, strlen(s));

	free(s);
	return rc;
}

/* ---- mbox ---- */

static int
dotlock(const char *lockpath, struct result *r)
{
	time_t start = time(NULL);

	for (;;) {
		int fd = open(lockpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		struct stat st;

		if (fd >= 0) {
			close(fd);
			return 1;
		}
		if (errno == EACCES || errno == EROFS || errno == EPERM)
			return 0;   /* cannot dot-lock here: the fcntl lock must do */
		if (errno != EEXIST)
			return res_fail(r, RES_CANTCREAT, "cannot create %s: %s", lockpath,
					strerror(errno));
		if (stat(lockpath, &st) == 0 && time(NULL) - st.st_mtime > LOCK_STALE)
			unlink(lockpath);
		if (time(NULL) - start > LOCK_TIMEOUT)
			return res_fail(r, RES_TEMPFAIL, "mailbox is locked (%s)", lockpath);
		usleep(200000);
	}
}

static int
fcntl_lock(int fd, const char *path, struct result *r)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	time_t start = time(NULL);

	while (fcntl(fd, F_SETLK, &fl) != 0) {
		if (errno != EACCES && errno != EAGAIN && errno != EINTR)
			return res_fail(r, RES_IOERR, "cannot lock %s: %s", path, strerror(errno));
		if (time(NULL) - start > LOCK_TIMEOUT)
			return res_fail(r, RES_TEMPFAIL, "mailbox %s is locked", path);
		usleep(200000);
	}
	return 0;
}

/* Tries at opening and locking a mailbox that is replaced meanwhile. */
#define MBOX_REOPENS 5

/*
 * Open and fcntl-lock the mbox at path: the descriptor, or -1 (*r).
 * O_NONBLOCK (cleared after) so that a FIFO or a device cannot block the
 * open, as Postfix's mbox_open() does; only a regular file with one link
 * is taken.  When another program replaced or removed the mailbox while
 * we waited for the lock (a mail reader writing a new file and renaming it
 * over the old one), the path no longer names what is locked: open it
 * again, as Postfix's mbox_open() re-checks after locking.
 */
static int
open_mbox(const char *path, const struct passwd *pw, int self, struct result *r)
{
	for (int tries = 0;; tries++) {
		struct stat st, now;
		int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
				    O_CLOEXEC, 0600);

		if (fd < 0) {
			int e = errno;
			if (e == ENXIO)   /* a FIFO nobody reads, a device */
				return res_fail(r, RES_CANTCREAT, "mailbox %s is not a regular "
						"file", path);
			if (e == EACCES && lstat(path, &st) != 0 && errno == ENOENT)
				return res_fail(r, RES_CANTCREAT, "cannot create mailbox %s: %s "
						"(%s may not create files there: %s, or have "
						"root create %s owned by %s)", path, strerror(e),
						pw->pw_name, self ? "create ~/Maildir or set $MAIL "
						"to a file you can write" : "create the user's ~/Maildir",
						path, pw->pw_name);
			return res_fail(r, e == EACCES ? RES_CANTCREAT : RES_IOERR,
					"cannot open mailbox %s: %s", path, strerror(e));
		}
		if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
			close(fd);
			return res_fail(r, RES_CANTCREAT, "mailbox %s is not a regular file with "
					"one link", path);
		}
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
			close(fd);
			return res_fail(r, RES_IOERR, "cannot open mailbox %s: %s", path,
					strerror(errno));
		}
		if (geteuid() == 0 && st.st_uid != pw->pw_uid) {
			if (st.st_size == 0) {
				struct group *g = getgrnam("mail");
				if (fchown(fd, pw->pw_uid, g ? g->gr_gid : pw->pw_gid) != 0) {
					res_fail(r, RES_CANTCREAT, "cannot give %s to %s: %s", path,
						 pw->pw_name, strerror(errno));
					close(fd);
					return -1;
				}
				(void)fchmod(fd, 0600);   /* SPEC 7: the user's alone */
			} else {
				close(fd);
				return res_fail(r, RES_CANTCREAT, "mailbox %s is not owned by %s",
						path, pw->pw_name);
			}
		}
		if (fcntl_lock(fd, path, r) < 0) {
			close(fd);
			return -1;
		}
		if (fstat(fd, &st) == 0 && st.st_nlink == 1 && lstat(path, &now) == 0 &&
		    now.st_dev == st.st_dev && now.st_ino == st.st_ino)
			return fd;
		close(fd);
		if (tries + 1 >= MBOX_REOPENS)
			return res_fail(r, RES_TEMPFAIL, "mailbox %s keeps changing while "
					"it is locked", path);
	}
}

static int
deliver_mbox(const char *path, const struct passwd *pw, int self, const char *sender,
	     int in, off_t start, struct result *r)
{
	char *lockpath = xasprintf("%s.lock", path);
	char stamp[64], *line = NULL;
	struct stat st;
	time_t now = time(NULL);
	struct tm tm;
	off_t oldsize;
	int fd, locked, rc = -1;

	locked = dotlock(lockpath, r);
	if (locked < 0)
		goto out;
	fd = open_mbox(path, pw, self, r);
	if (fd < 0)
		goto unlock;
	if (fstat(fd, &st) != 0)
		goto ioerr;
	oldsize = st.st_size;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%a %b %e %H:%M:%S %Y", &tm);
	line = xasprintf("From %s %s\n", *sender ? sender : "MAILER-DAEMON", stamp);
	if (write_all(fd, line, strlen(line)) < 0 || write_return_path(fd, sender) < 0 ||
	    lseek(in, start, SEEK_SET) != start || copy_message(in, fd, 1) < 0 ||
	    write_all(fd, "\n", 1) < 0 || fsync(fd) != 0) {
		int e = errno;
		if (ftruncate(fd, oldsize) != 0)
			(void)0;   /* the error below is what matters */
		errno = e;
		goto ioerr;
	}
	rc = 0;
	goto close;
ioerr:
	/* A full disk is a passing condition (Postfix defers too); a full
	 * quota or file size limit stays an error (Postfix bounces it). */
	res_fail(r, errno == ENOSPC ? RES_TEMPFAIL : RES_IOERR, "cannot write mailbox %s: %s",
		 path, strerror(errno));
close:
	close(fd);   /* releases the fcntl lock */
unlock:
	if (locked > 0)
		unlink(lockpath);
out:
	free(line);
	free(lockpath);
	return rc;
}

/* ---- Maildir ---- */

/* Write the message to dir/tmp/UNIQUE and rename it into dir/new/.  Runs
 * with the recipient's privileges when delivering for another user (see
 * maildir_as_user), so creates files that are the recipient's already. */
static int
deliver_maildir(const char *dir, const char *sender, int in, off_t start, char **where,
		struct result *r)
{
	unsigned char rnd[6];
	struct timeval tv;
	char host[256], *name, *tmp, *new;
	int fd, rc = -1;

	snprintf(host, sizeof(host), "%s", host_name());
	for (char *p = host; *p; p++)
		if (*p == '/' || *p == ':')
			*p = '_';
	gettimeofday(&tv, NULL);
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	name = xasprintf("%lld.M%ldP%dR%02x%02x%02x%02x%02x%02x.%s", (long long)tv.tv_sec,
			 (long)tv.tv_usec, (int)getpid(), rnd[0], rnd[1], rnd[2], rnd[3],
			 rnd[4], rnd[5], host);
	tmp = xasprintf("%s/tmp/%s", dir, name);
	new = xasprintf("%s/new/%s", dir, name);
	free(name);

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		res_fail(r, RES_CANTCREAT, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (write_return_path(fd, sender) < 0 || lseek(in, start, SEEK_SET) != start ||
	    copy_message(in, fd, 0) < 0 || fsync(fd) != 0) {
		res_fail(r, errno == ENOSPC ? RES_TEMPFAIL : RES_IOERR, "cannot write %s: %s",
			 tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, new) != 0) {
		res_fail(r, RES_CANTCREAT, "cannot move %s into new/: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	(void)fsync_dir_of(new, 0);
	*where = new;
	new = NULL;
	rc = 0;
out:
	free(tmp);
	free(new);
	return rc;
}

static int
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * Deliver to the Maildir dir when it is a directory: 1 delivered (the file
 * in *where), 0 there is no Maildir, -1 failed (*r).  Its cur/, new/ and
 * tmp/ are created when missing, all three (as Postfix's maildir.c does;
 * mutt and others know a Maildir by cur/).
 */
static int
maildir_here(const char *dir, const char *sender, int in, off_t start, char **where,
	     struct result *r)
{
	static const char *const subdirs[] = { "cur", "new", "tmp" };

	if (!is_dir(dir))
		return 0;
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		char *sub = xasprintf("%s/%s", dir, subdirs[i]);
		int bad = mkdir(sub, 0700) != 0 && (errno != EEXIST || !is_dir(sub));

		if (bad)
			res_fail(r, RES_CANTCREAT, "cannot create %s: %s", sub,
				 errno == EEXIST ? "not a directory" : strerror(errno));
		free(sub);
		if (bad)
			return -1;
	}
	return deliver_maildir(dir, sender, in, start, where, r) == 0 ? 1 : -1;
}

/* What the process that delivers to another user's Maildir reports. */
struct maildir_report {
	int rc;                 /* maildir_here()'s */
	struct result r;
	char where[4096];
};

/*
 * maildir_here() for another user, when running as root: in a child
 * process that has only the recipient's user and group ids, as Postfix's
 * local(8) delivers to a Maildir with the recipient's rights.  Every path
 * under the recipient's home is the recipient's to change: done as root,
 * a symbolic link there (~/Maildir, tmp/ or new/ pointing elsewhere) would
 * make root create directories and files in places the recipient cannot
 * write.  As the recipient, it reaches only what the recipient may write.
 */
static int
maildir_as_user(const char *dir, const struct passwd *pw, const char *sender, int in,
		off_t start, char **where, struct result *r)
{
	struct maildir_report rep;
	int pipefd[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) != 0)
		return res_fail(r, RES_TEMPFAIL, "pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return res_fail(r, RES_TEMPFAIL, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		char *w = NULL;
		gid_t gid = pw->pw_gid;

		close(pipefd[0]);
		memset(&rep, 0, sizeof(rep));
		res_clear(&rep.r);
		if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(pw->pw_uid) != 0 ||
		    getuid() != pw->pw_uid || geteuid() != pw->pw_uid) {
			rep.rc = -1;
			res_fail(&rep.r, RES_TEMPFAIL, "cannot switch to user %s: %s",
				 pw->pw_name, strerror(errno));
		} else {
			rep.rc = maildir_here(dir, sender, in, start, &w, &rep.r);
			if (w)
				snprintf(rep.where, sizeof(rep.where), "%s", w);
		}
		_exit(write_all(pipefd[1], &rep, sizeof(rep)) < 0 ? 1 : 0);
	}
	close(pipefd[1]);
	n = read_full(pipefd[0], &rep, sizeof(rep));
	got = n > 0 ? (size_t)n : 0;
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got != sizeof(rep) || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return res_fail(r, RES_TEMPFAIL, "the process delivering to %s as %s failed "
				"(%s %d)", dir, pw->pw_name,
				WIFEXITED(status) ? "exit status" : "signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	rep.where[sizeof(rep.where) - 1] = '\0';
	rep.r.text[sizeof(rep.r.text) - 1] = '\0';
	rep.r.reply[sizeof(rep.r.reply) - 1] = '\0';
	if (rep.rc < 0) {
		*r = rep.r;
		return -1;
	}
	if (rep.rc > 0)
		*where = xstrdup(rep.where);
	return rep.rc;
}

int
local_deliver(const char *rcpt, const char *sender, int fd, off_t start, char *where,
	      size_t wherelen, struct result *r)
{
	char *maildir = NULL, *mbox = NULL, *delivered = NULL;
	struct passwd *pw;
	int rc = -1, err, self;

	pw = addr_local_user(rcpt, &err);
	if (!pw) {
		if (err)
			res_fail(r, RES_TEMPFAIL, "cannot look up local user \"%s\": %s", rcpt,
				 strerror(err));
		else
			res_fail(r, RES_NOUSER, "unknown local user \"%s\"", rcpt);
		goto out;
	}
	self = pw->pw_uid == getuid();
	if (self) {
		const char *home = user_home(), *mail = getenv("MAIL");

		if (!home || !*home)
			home = pw->pw_dir;
		maildir = xasprintf("%s/Maildir", home);
		mbox = mail && *mail ? xstrdup(mail) : xasprintf("/var/mail/%s", pw->pw_name);
	} else {
		maildir = xasprintf("%s/Maildir", pw->pw_dir);
		mbox = xasprintf("/var/mail/%s", pw->pw_name);
	}
	/* Root works in another user's Maildir only as that user. */
	if (!self && geteuid() == 0 && pw->pw_uid != 0)
		rc = maildir_as_user(maildir, pw, sender, fd, start, &delivered, r);
	else
		rc = maildir_here(maildir, sender, fd, start, &delivered, r);
	if (rc == 0) {
		rc = deliver_mbox(mbox, pw, self, sender, fd, start, r);
		delivered = mbox;
		mbox = NULL;
	} else if (rc > 0)
		rc = 0;
	if (rc == 0)
		snprintf(where, wherelen, "%s", delivered);
out:
	free(maildir);
	free(mbox);
	free(delivered);
	return rc;
}
