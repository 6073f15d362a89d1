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
 * Maildir: the message is written to tmp/UNIQUE, fsync'd, then linked to
 * new/UNIQUE and the directory fsync'd.
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
#include <time.h>
#include <unistd.h>

#include "local.h"
#include "util.h"

#define LOCK_TIMEOUT 30      /* seconds to wait for a mailbox lock */
#define LOCK_STALE   300     /* a dot-lock older than this is removed */

int
local_is_local(const char *addr)
{
	const char *at = strrchr(addr, '@'), *d;
	const char *host = host_name();
	size_t hl = strlen(host);

	if (!at)
		return 1;
	d = at + 1;
	if (strcasecmp(d, "localhost") == 0 || strcasecmp(d, host) == 0)
		return 1;
	/* The fully qualified name starts with the host name: only then is
	 * the (possibly resolver-backed) lookup worth it. */
	return strncasecmp(d, host, hl) == 0 && d[hl] == '.' &&
	       strcasecmp(d, host_fqdn()) == 0;
}

/* Copy the spool file (CRLF) to out with LF line endings; quote "From "
 * at the start of lines when mbox is set.  Returns 0 or -1 (errno). */
static int
copy_lf(int in, int out, int mbox)
{
	static const char from[] = "From ";
	char ibuf[65536];
	struct dynbuf ob = { 0 };
	int pending_cr = 0, at_bol = 1;
	size_t matched = 0;   /* bytes of "From " matched at a line start */
	ssize_t n;

	while ((n = read_retry(in, ibuf, sizeof(ibuf))) != 0) {
		if (n < 0)
			goto fail;
		db_reserve(&ob, (size_t)n + 8);
		for (ssize_t i = 0; i < n; i++) {
			char c = ibuf[i];

			if (mbox && (at_bol || matched)) {
				if (c == from[matched]) {
					at_bol = 0;
					if (++matched == 5) {
						db_adds(&ob, ">From ");
						matched = 0;
					}
					continue;
				}
				db_add(&ob, from, matched);
				matched = 0;
			}
			if (pending_cr) {
				pending_cr = 0;
				if (c == '\n') {
					db_addc(&ob, '\n');
					at_bol = 1;
					continue;
				}
				db_addc(&ob, '\r');
			}
			if (c == '\r') {
				pending_cr = 1;
				at_bol = 0;
				continue;
			}
			db_addc(&ob, c);
			at_bol = c == '\n';
		}
		if (write_all(out, ob.s, ob.len) < 0)
			goto fail;
		db_reset(&ob);
	}
	db_add(&ob, from, matched);
	if (pending_cr)
		db_addc(&ob, '\r');
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

static int
deliver_mbox(const char *path, const struct passwd *pw, const char *sender, int in,
	     off_t start, struct result *r)
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
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		res_fail(r, errno == EACCES ? RES_CANTCREAT : RES_IOERR,
			 "cannot open mailbox %s: %s", path, strerror(errno));
		goto unlock;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		res_fail(r, RES_CANTCREAT, "mailbox %s is not a regular file with one link",
			 path);
		goto close;
	}
	if (geteuid() == 0 && st.st_uid != pw->pw_uid) {
		if (st.st_size == 0) {
			struct group *g = getgrnam("mail");
			if (fchown(fd, pw->pw_uid, g ? g->gr_gid : pw->pw_gid) != 0) {
				res_fail(r, RES_CANTCREAT, "cannot give %s to %s: %s", path,
					 pw->pw_name, strerror(errno));
				goto close;
			}
			(void)fchmod(fd, g ? 0660 : 0600);
		} else {
			res_fail(r, RES_CANTCREAT, "mailbox %s is not owned by %s", path,
				 pw->pw_name);
			goto close;
		}
	}
	if (fcntl_lock(fd, path, r) < 0)
		goto close;
	if (fstat(fd, &st) != 0)
		goto ioerr;
	oldsize = st.st_size;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%a %b %e %H:%M:%S %Y", &tm);
	line = xasprintf("From %s %s\n", *sender ? sender : "MAILER-DAEMON", stamp);
	if (write_all(fd, line, strlen(line)) < 0 || write_return_path(fd, sender) < 0 ||
	    lseek(in, start, SEEK_SET) != start || copy_lf(in, fd, 1) < 0 ||
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
	res_fail(r, RES_IOERR, "cannot write mailbox %s: %s", path, strerror(errno));
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

static int
deliver_maildir(const char *dir, const struct passwd *pw, const char *sender, int in,
		off_t start, char **where, struct result *r)
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

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		res_fail(r, RES_CANTCREAT, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (geteuid() == 0 && pw->pw_uid != 0 &&
	    fchown(fd, pw->pw_uid, pw->pw_gid) != 0) {
		res_fail(r, RES_CANTCREAT, "cannot give %s to %s: %s", tmp, pw->pw_name,
			 strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (write_return_path(fd, sender) < 0 || lseek(in, start, SEEK_SET) != start ||
	    copy_lf(in, fd, 0) < 0 || fsync(fd) != 0) {
		res_fail(r, RES_IOERR, "cannot write %s: %s", tmp, strerror(errno));
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

int
local_deliver(const char *rcpt, const char *sender, int fd, off_t start, char *where,
	      size_t wherelen, struct result *r)
{
	const char *at = strrchr(rcpt, '@');
	char *user = at ? xstrndup(rcpt, (size_t)(at - rcpt)) : xstrdup(rcpt);
	char *maildir = NULL, *mbox = NULL, *delivered = NULL;
	struct passwd *pw;
	int rc = -1;

	pw = getpwnam(user);
	if (!pw) {
		/* "user+extension" */
		char *plus = strchr(user, '+');
		if (plus) {
			*plus = '\0';
			pw = getpwnam(user);
		}
	}
	if (!pw) {
		res_fail(r, RES_NOUSER, "unknown local user \"%s\"", rcpt);
		goto out;
	}
	if (pw->pw_uid == getuid()) {
		const char *home = getenv("HOME"), *mail = getenv("MAIL");

		if (!home || !*home)
			home = pw->pw_dir;
		maildir = xasprintf("%s/Maildir", home);
		if (!is_dir(maildir)) {
			free(maildir);
			maildir = NULL;
			mbox = mail && *mail ? xstrdup(mail)
					     : xasprintf("/var/mail/%s", pw->pw_name);
		}
	} else {
		maildir = xasprintf("%s/Maildir", pw->pw_dir);
		if (!is_dir(maildir)) {
			free(maildir);
			maildir = NULL;
			mbox = xasprintf("/var/mail/%s", pw->pw_name);
		}
	}
	if (maildir) {
		char *sub[2] = { xasprintf("%s/tmp", maildir), xasprintf("%s/new", maildir) };
		for (int i = 0; i < 2; i++)
			if (!is_dir(sub[i]) && mkdir(sub[i], 0700) == 0 && geteuid() == 0)
				(void)!chown(sub[i], pw->pw_uid, pw->pw_gid);
		free(sub[0]);
		free(sub[1]);
		rc = deliver_maildir(maildir, pw, sender, fd, start, &delivered, r);
	} else {
		rc = deliver_mbox(mbox, pw, sender, fd, start, r);
		delivered = mbox;
		mbox = NULL;
	}
	if (rc == 0)
		snprintf(where, wherelen, "%s", delivered);
out:
	free(user);
	free(maildir);
	free(mbox);
	free(delivered);
	return rc;
}
