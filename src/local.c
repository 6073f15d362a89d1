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
#include <time.h>
#include <unistd.h>

#include "address.h"
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
	    copy_message(in, fd, 0) < 0 || fsync(fd) != 0) {
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

/*
 * The password entry of a local user name.  Postfix's local(8) folds the
 * recipient to lower case before looking it up (the local part of an
 * address is case-insensitive in practice, and aliases.c matches names that
 * way too); the name as given is tried first, so that an account with
 * capitals in its name still gets its mail.  ASCII only: user names are.
 */
static struct passwd *
lookup_user(const char *name)
{
	struct passwd *pw = getpwnam(name);
	char *lower;
	int folded = 0;

	if (pw)
		return pw;
	lower = xstrdup(name);
	for (char *p = lower; *p; p++)
		if (*p >= 'A' && *p <= 'Z') {
			*p = (char)(*p - 'A' + 'a');
			folded = 1;
		}
	if (folded)
		pw = getpwnam(lower);
	free(lower);
	return pw;
}

/* The account of local recipient rcpt: its name as given or folded, then
 * the same without a "+extension".  NULL when there is none. */
static struct passwd *
recipient_user(const char *rcpt)
{
	const char *at = strrchr(rcpt, '@');
	char *user = at ? xstrndup(rcpt, (size_t)(at - rcpt)) : xstrdup(rcpt);
	struct passwd *pw = lookup_user(user);

	if (!pw) {
		char *plus = strchr(user, '+');
		if (plus) {
			*plus = '\0';
			pw = lookup_user(user);
		}
	}
	free(user);
	return pw;
}

int
local_check_users(const struct addr_list *rcpts, struct result *r)
{
	for (size_t i = 0; i < rcpts->n; i++)
		if (local_is_local(rcpts->v[i]) && !recipient_user(rcpts->v[i]))
			return res_fail(r, RES_NOUSER, "unknown local user \"%s\"", rcpts->v[i]);
	return 0;
}

int
local_deliver(const char *rcpt, const char *sender, int fd, off_t start, char *where,
	      size_t wherelen, struct result *r)
{
	char *maildir = NULL, *mbox = NULL, *delivered = NULL;
	struct passwd *pw;
	int rc = -1;

	pw = recipient_user(rcpt);
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
	free(maildir);
	free(mbox);
	free(delivered);
	return rc;
}
