/*
 * queue-file.c - the queue on disk (SPEC 10): its directories, the
 * envelope block, state files and queue ids.
 *
 * Under queue_dir (directories 0700, files 0600, all the user's own; see
 * queue_dir_private()):
 *
 *   tmp/mo.XXXXXX   spool files being written (each mailout run makes one)
 *   q/ID            a queued message
 *   q/ID.state      its delivery state (may be missing: no attempt yet)
 *   failed/ID       a message given up on (permanent failure, older than
 *   failed/ID.state queue_lifetime, or a queue file that cannot be read);
 *                   kept for the administrator
 *   done/ID         delivered, being unlinked (queue-remove.c)
 *   maildrop/       the system queue's drop directory: mailout-drop writes
 *                   there, queue-pickup.c moves its files into q/
 *   corrupt/NAME    drop files that failed a check, kept for the administrator
 *
 * ID is YYYYMMDDTHHMMSSuuuuuu-SUFFIX: the UTC time of queueing to the
 * microsecond (ids sort oldest first) and the spool file's random suffix,
 * with a counter appended when that name was taken.  Other names in q/
 * are not mailout's and are left alone.
 *
 * A spool or queue file starts with an envelope block, then the message
 * exactly as it is sent (CRLF line endings):
 *
 *   mailout-envelope 1
 *   account NAME            or, for --host runs: host H / port P / tls T /
 *                           user U / passwordeval CMD (each optional)
 *   sender ADDR             "sender " alone for the null sender
 *   uid N                   who submitted it to the system queue (the drop
 *                           file's owner; optional)
 *   rcpt ADDR               one line per recipient still to deliver
 *   created EPOCH
 *   <empty line>
 *   <message>
 *
 * The block is at most 16 MiB and holds no NUL byte; each of account,
 * host, port, tls, user, passwordeval, sender and uid appears at most once;
 * sender and one rcpt at least are required; unknown keys are ignored.
 * A file that breaks these rules is not a queued message: a run moves it
 * to failed/ and -bp lists it as unreadable.
 *
 * A state file holds the lines "attempts N", "last_try EPOCH",
 * "next_try EPOCH", "created EPOCH" (only when the envelope's lies in the
 * future), "delay_warned 1" (once the delay_warning notification was
 * sent) and "last_error TEXT" (control characters as spaces).  It is
 * written only by a process holding the message's lock, while q/ID is
 * still the file locked, and replaced atomically (write ID.state.new,
 * fsync, rename, fsync of q/).  It only advises: a missing one is a
 * message not tried yet, and a value that is no number in range reads as
 * 0.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue-internal.h"
#include "queue.h"
#include "util.h"

#define ENV_MAGIC "mailout-envelope 1\n"
#define ENV_MAX   (16 * 1024 * 1024)
#define STATE_MAX (64 * 1024)        /* what mailout writes is under 1 KiB */
#define EPOCH_DIGITS 12              /* up to the year 33658 */

/* A decimal number of at most maxdigits digits, nothing else. */
static int
parse_number(const char *s, int maxdigits, long long *out)
{
	long long v = 0;
	int n = 0;

	for (; isdigit((unsigned char)s[n]); n++) {
		if (n == maxdigits)
			return -1;
		v = v * 10 + (s[n] - '0');
	}
	if (n == 0 || s[n] != '\0')
		return -1;
	*out = v;
	return 0;
}

/* ---- envelope block ---- */

static void
env_line(struct dynbuf *out, const char *key, const char *val)
{
	if (val)
		db_printf(out, "%s %s\n", key, val);
}

void
queue_env_format(struct dynbuf *out, const struct queue_env *e)
{
	db_adds(out, ENV_MAGIC);
	env_line(out, "account", e->account);
	env_line(out, "host", e->host);
	env_line(out, "port", e->port);
	env_line(out, "tls", e->tls);
	env_line(out, "user", e->user);
	env_line(out, "passwordeval", e->passwordeval);
	env_line(out, "sender", e->sender);
	env_line(out, "uid", e->uid);
	for (size_t i = 0; i < e->rcpts.n; i++)
		env_line(out, "rcpt", e->rcpts.v[i]);
	db_printf(out, "created %lld\n\n", (long long)e->created);
}

void
queue_env_free(struct queue_env *e)
{
	free(e->account);
	free(e->host);
	free(e->port);
	free(e->tls);
	free(e->user);
	free(e->passwordeval);
	free(e->sender);
	free(e->uid);
	addr_list_free(&e->rcpts);
	memset(e, 0, sizeof(*e));
}

/* Read from the start of fd to the end of the envelope block into d;
 * *len is the block's length, its blank line included. */
static int
env_slurp(int fd, struct dynbuf *d, size_t *len, struct result *r)
{
	char buf[8192];
	size_t from = 0;
	ssize_t n;
	struct stat sb;

	if (fstat(fd, &sb) != 0)
		return res_fail(r, RES_IOERR, "cannot stat: %s", strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return res_fail(r, RES_DATAERR, "not a regular file");
	if (lseek(fd, 0, SEEK_SET) != 0)
		return res_fail(r, RES_IOERR, "cannot seek: %s", strerror(errno));
	for (;;) {
		/* Search only what is new (and the byte before it). */
		const char *end = d->len > from ? memmem(d->s + from, d->len - from, "\n\n", 2)
						: NULL;
		if (end) {
			*len = (size_t)(end - d->s) + 2;
			return 0;
		}
		from = d->len ? d->len - 1 : 0;
		if (d->len > ENV_MAX || (n = read_retry(fd, buf, sizeof(buf))) <= 0)
			return res_fail(r, RES_DATAERR, "queue file has no complete envelope");
		db_add(d, buf, (size_t)n);
	}
}

/* The field of e that key names, or NULL (rcpt, created, unknown). */
static char **
env_field(struct queue_env *e, const char *key)
{
	static const struct { const char *key; size_t off; } fields[] = {
		{ "account", offsetof(struct queue_env, account) },
		{ "host", offsetof(struct queue_env, host) },
		{ "port", offsetof(struct queue_env, port) },
		{ "tls", offsetof(struct queue_env, tls) },
		{ "user", offsetof(struct queue_env, user) },
		{ "passwordeval", offsetof(struct queue_env, passwordeval) },
		{ "sender", offsetof(struct queue_env, sender) },
		{ "uid", offsetof(struct queue_env, uid) },
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!strcmp(key, fields[i].key))
			return (char **)((char *)e + fields[i].off);
	return NULL;
}

/* One line of the block, "KEY VALUE" (its newline already cut). */
static int
env_parse_line(struct queue_env *e, char *line, struct result *r)
{
	char *sp = strchr(line, ' '), **one;
	const char *val;
	long long t;

	if (!sp)
		return res_fail(r, RES_DATAERR, "bad envelope line \"%.80s\"", line);
	*sp = '\0';
	val = sp + 1;
	if ((one = env_field(e, line))) {
		if (*one)       /* mailout writes each of these once */
			return res_fail(r, RES_DATAERR, "envelope line \"%s\" repeated", line);
		*one = xstrdup(val);
	} else if (!strcmp(line, "rcpt")) {
		addr_list_add(&e->rcpts, val);
	} else if (!strcmp(line, "created")) {
		if (parse_number(val, EPOCH_DIGITS, &t) < 0)
			return res_fail(r, RES_DATAERR, "bad envelope line \"created %.40s\"",
					val);
		e->created = (time_t)t;
	}
	return 0;
}

int
queue_env_read(int fd, struct queue_env *e, off_t *data_offset, struct result *r)
{
	struct dynbuf d = { 0 };
	size_t len, magic = strlen(ENV_MAGIC);
	char *p;
	int rc = -1;

	memset(e, 0, sizeof(*e));
	if (env_slurp(fd, &d, &len, r) < 0)
		goto out;
	if (len < magic || memcmp(d.s, ENV_MAGIC, magic) != 0) {
		res_fail(r, RES_DATAERR, "not a mailout queue file");
		goto out;
	}
	if (memchr(d.s, '\0', len)) {
		res_fail(r, RES_DATAERR, "queue file envelope holds a NUL byte");
		goto out;
	}
	/* Every line of the block ends in \n; the blank line ends it. */
	d.s[len - 1] = '\0';
	for (p = d.s + magic; *p; ) {
		char *nl = strchr(p, '\n');

		*nl = '\0';
		if (env_parse_line(e, p, r) < 0)
			goto out;
		p = nl + 1;
	}
	if (!e->sender || e->rcpts.n == 0) {
		res_fail(r, RES_DATAERR, "queue file envelope lacks sender or recipients");
		goto out;
	}
	*data_offset = (off_t)len;
	rc = 0;
out:
	db_free(&d);
	if (rc < 0)
		queue_env_free(e);
	return rc;
}

/* ---- state files ---- */

static void
state_line(struct queue_state *s, const char *line)
{
	static const struct { const char *key; size_t off; } times[] = {
		{ "last_try ", offsetof(struct queue_state, last_try) },
		{ "next_try ", offsetof(struct queue_state, next_try) },
		{ "created ", offsetof(struct queue_state, created) },
	};
	long long v;

	if (!strncmp(line, "delay_warned ", 13)) {
		s->warned = parse_number(line + 13, 1, &v) == 0 && v == 1;
		return;
	}
	if (!strncmp(line, "attempts ", 9)) {
		if (parse_number(line + 9, 7, &v) == 0 && v <= QUEUE_ATTEMPTS_MAX)
			s->attempts = (int)v;
		return;
	}
	if (!strncmp(line, "last_error ", 11)) {
		str_copy(s->last_error, sizeof(s->last_error), line + 11);
		for (char *p = s->last_error; *p; p++)
			if ((unsigned char)*p < 0x20)
				*p = ' ';
		return;
	}
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
		if (!strncmp(line, times[i].key, strlen(times[i].key)) &&
		    parse_number(line + strlen(times[i].key), EPOCH_DIGITS, &v) == 0)
			*(time_t *)((char *)s + times[i].off) = (time_t)v;
}

void
queue_state_parse(const char *text, size_t len, struct queue_state *s)
{
	char line[sizeof(s->last_error) + 16];

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < len; ) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = (nl ? (size_t)(nl - text) : len) - i;

		size_t k = n < sizeof(line) - 1 ? n : sizeof(line) - 1;

		/* What no key needs is cut; a NUL ends the line's text. */
		memcpy(line, text + i, k);
		line[k] = '\0';
		state_line(s, line);
		i += n + 1;
	}
}

void
queue_state_format(struct dynbuf *out, const struct queue_state *s)
{
	db_printf(out, "attempts %d\nlast_try %lld\nnext_try %lld\n", s->attempts,
		  (long long)s->last_try, (long long)s->next_try);
	if (s->created)
		db_printf(out, "created %lld\n", (long long)s->created);
	if (s->warned)
		db_adds(out, "delay_warned 1\n");
	db_adds(out, "last_error ");
	for (const char *p = s->last_error; *p; p++)
		db_addc(out, (unsigned char)*p < 0x20 ? ' ' : *p);
	db_addc(out, '\n');
}

void
queue_state_read(const char *path, struct queue_state *s)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct dynbuf d = { 0 };
	char buf[4096];
	ssize_t n;

	memset(s, 0, sizeof(*s));
	if (fd < 0)
		return;
	while (d.len < STATE_MAX && (n = read_retry(fd, buf, sizeof(buf))) > 0)
		db_add(&d, buf, (size_t)n);
	close(fd);
	queue_state_parse(d.s ? d.s : "", d.len, s);
	db_free(&d);
}

int
queue_state_write(const char *path, const struct queue_state *s)
{
	char *tmp = xasprintf("%s.new", path);
	struct dynbuf d = { 0 };
	int fd, rc = -1, saved;

	queue_state_format(&d, s);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0 && write_all(fd, d.s, d.len) == 0 && fsync(fd) == 0) {
		rc = close(fd);
		fd = -1;
		if (rc == 0)
			rc = rename(tmp, path) == 0 ? fsync_dir_of(path, 0) : -1;
	}
	saved = errno;          /* the failure's, not the clean-up's */
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		unlink(tmp);
	free(tmp);
	db_free(&d);
	errno = saved;
	return rc;
}

int
queue_state_save(int fd, const char *msgpath, const struct queue_state *s)
{
	struct stat sb;
	char *spath;
	int rc, saved;

	if (!queue_still_there(fd, msgpath, &sb)) {
		errno = ESTALE;
		return -1;
	}
	spath = xasprintf("%s.state", msgpath);
	rc = queue_state_write(spath, s);
	saved = errno;
	free(spath);
	errno = saved;
	return rc;
}

/* ---- ids ---- */

void
queue_make_id(const char *spool_path, char *id, size_t idlen)
{
	const char *dot = strrchr(spool_path, '.');
	struct timespec now;
	struct tm tm;
	char stamp[32];

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	snprintf(id, idlen, "%s%06ld-%s", stamp, now.tv_nsec / 1000, dot ? dot + 1 : "x");
}

int
queue_is_id(const char *n)
{
	size_t i = 0;

	for (; i < 21; i++)
		if (i == 8 ? n[i] != 'T' : !isdigit((unsigned char)n[i]))
			return 0;
	if (n[i++] != '-' || !n[i])
		return 0;
	for (; n[i]; i++)
		if (!isalnum((unsigned char)n[i]))
			return 0;
	return 1;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
queue_list_ids(const char *dir, char ***ids, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 0;

	*ids = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d))) {
		if (!queue_is_id(de->d_name))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 32;
			*ids = xrealloc(*ids, cap * sizeof(char *));
		}
		(*ids)[(*n)++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (*n > 1)     /* qsort(NULL, 0, ...) is undefined behaviour */
		qsort(*ids, *n, sizeof(char *), cmp_str);
	return 0;
}

void
queue_free_ids(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

/* ---- directories ---- */

/* 0 when st is a directory only the effective user owns and can write. */
static int
private_dir_stat(const char *path, const struct stat *st, char *why, size_t whylen)
{
	if (!S_ISDIR(st->st_mode))
		snprintf(why, whylen, "%s is not a directory", path);
	else if (st->st_uid != geteuid())
		snprintf(why, whylen, "%s belongs to user id %lu, not to you", path,
			 (unsigned long)st->st_uid);
	else if (st->st_mode & 022)
		snprintf(why, whylen, "%s is writable by %s", path,
			 st->st_mode & 002 ? "everyone" : "its group");
	else
		return 0;
	return -2;
}

int
queue_dir_private(const char *dir, char *why, size_t whylen)
{
	const char *slash = strrchr(dir, '/');
	char *parent = slash && slash != dir ? xstrndup(dir, (size_t)(slash - dir)) : NULL;
	struct stat st;
	int rc = -1;

	if (mkdir_p(dir, 0700) != 0)
		goto out;
	if (lstat(dir, &st) != 0)
		goto out;
	if (S_ISLNK(st.st_mode)) {
		snprintf(why, whylen, "%s is a symbolic link", dir);
		rc = -2;
		goto out;
	}
	if ((rc = private_dir_stat(dir, &st, why, whylen)) != 0)
		goto out;
	/* The queue directory itself may be a link (to another disk, say);
	 * what it leads to is checked. */
	if (parent && (rc = stat(parent, &st)) != 0)
		goto out;
	if (parent)
		rc = private_dir_stat(parent, &st, why, whylen);
out:
	free(parent);
	return rc;
}

char *
queue_subdir(const char *qdir, const char *name, struct result *r)
{
	char *d = xasprintf("%s/%s", qdir, name);
	char why[PATH_MAX + 100];
	int rc = queue_dir_private(d, why, sizeof(why));

	if (rc == 0)
		return d;
	if (r && rc == -2)
		res_fail(r, RES_CONFIG, "refusing to use the queue: %s (it must belong to you "
			 "and be writable by no one else)", why);
	else if (r)
		res_fail(r, RES_CANTCREAT, "cannot create %s: %s", d, strerror(errno));
	free(d);
	return NULL;
}

int
queue_still_there(int fd, const char *path, struct stat *sb)
{
	struct stat now;

	return fstat(fd, sb) == 0 && sb->st_nlink > 0 && stat(path, &now) == 0 &&
	       now.st_dev == sb->st_dev && now.st_ino == sb->st_ino;
}

void
queue_sweep_dir(const char *dir,
		int (*drop)(const char *path, const char *name, const struct stat *st,
			    time_t now, void *arg),
		void *arg)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	time_t now = time(NULL);

	while (d && (de = readdir(d))) {
		struct stat st;
		char *p;

		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if (lstat(p, &st) == 0 && drop(p, de->d_name, &st, now, arg))
			unlink(p);
		free(p);
	}
	if (d)
		closedir(d);
}
