/*
 * queue.c - the durable queue (SPEC 10).
 *
 * On disk, under queue_dir (directories 0700, files 0600):
 *
 *   tmp/mo.XXXXXX   spool files being written (each mailout run makes one)
 *   q/ID            a queued message
 *   q/ID.state      its delivery state (may be missing: no attempt yet)
 *   failed/ID       a message given up on (permanent failure, or older
 *   failed/ID.state than queue_lifetime); kept for the administrator
 *   done/ID         delivered, being unlinked (see "removals" below)
 *   maildrop/       the system queue's drop directory (mailout-drop writes,
 *                   queue-pickup.c moves files into q/)
 *   corrupt/NAME    drop files that failed a check, kept for the administrator
 *
 * A spool or queue file starts with an envelope block, then the message
 * exactly as it is sent (CRLF line endings):
 *
 *   mailout-envelope 1
 *   account NAME            or, for --host runs: host H / port P / tls T /
 *                           user U / passwordeval CMD (each optional)
 *   sender ADDR             "sender " alone for the null sender
 *   uid N                   the system queue's submitting user (optional)
 *   rcpt ADDR               one line per recipient still to deliver
 *   created EPOCH
 *   <empty line>
 *   <message>
 *
 * A state file holds "attempts N", "last_try EPOCH", "next_try EPOCH" and
 * "last_error TEXT" lines; it is replaced atomically (write, fsync,
 * rename).
 *
 * Durability: a message enters q/ by link() of a spool file that was
 * fsync'd, followed by an fsync of q/; so after a crash it is either in
 * q/ whole or was never accepted (the caller got no success status).
 *
 * Exactly once: a queue run takes a non-blocking flock() on q/ID before
 * anything else and skips the message when another run holds it; a run
 * that gets the lock checks that q/ID is still the file it opened
 * (another run may have delivered it, moved it to failed/ or rewritten it
 * in between).  The file is removed right after the relay's 250 to the
 * final dot, still under the lock (see "removals" below for the thread
 * that does it).  Those removals are made durable with
 * one fsync of q/ at the end of the run rather than one per message: a
 * removal is visible to every other process at once, and only a power
 * loss within the run could bring a delivered message back (as a timeout
 * after the final dot can make a relay see a message twice anyway).
 *
 * Failures in a run: a permanent refusal of the message itself (5xx to
 * MAIL, RCPT or DATA, an unknown local user) moves it to failed/; so does
 * queue_lifetime.  Anything else (the relay down, 4xx, and also settings,
 * credentials, TLS trust, a relay refusing the session) leaves it queued
 * with the error, and the rest of that account's messages wait for the
 * next run.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deliver.h"
#include "log.h"
#include "queue.h"
#include "submit.h"
#include "util.h"

#define ENV_MAGIC "mailout-envelope 1\n"
#define ENV_MAX   (16 * 1024 * 1024)

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

int
queue_env_read(int fd, struct queue_env *e, off_t *data_offset, struct result *r)
{
	struct dynbuf d = { 0 };
	char buf[8192];
	char *end = NULL, *p;
	ssize_t n;
	int rc = -1;

	memset(e, 0, sizeof(*e));
	if (lseek(fd, 0, SEEK_SET) != 0)
		return res_fail(r, RES_IOERR, "cannot seek: %s", strerror(errno));
	for (size_t from = 0; ; ) {
		/* Search only what is new (and the byte before it). */
		if (d.s && (end = strstr(d.s + from, "\n\n")))
			break;
		from = d.len ? d.len - 1 : 0;
		n = read_retry(fd, buf, sizeof(buf));
		if (n <= 0 || d.len > ENV_MAX) {
			res_fail(r, RES_DATAERR, "queue file has no complete envelope");
			goto out;
		}
		db_add(&d, buf, (size_t)n);
	}
	if (strncmp(d.s, ENV_MAGIC, strlen(ENV_MAGIC)) != 0) {
		res_fail(r, RES_DATAERR, "not a mailout queue file");
		goto out;
	}
	end[1] = '\0';
	*data_offset = (off_t)(end - d.s) + 2;
	for (p = d.s + strlen(ENV_MAGIC); *p; ) {
		char *nl = strchr(p, '\n'), *sp = strchr(p, ' ');
		const char *val;

		*nl = '\0';
		if (!sp || sp > nl) {
			res_fail(r, RES_DATAERR, "bad envelope line \"%s\"", p);
			goto out;
		}
		*sp = '\0';
		val = sp + 1;
		char **one = !strcmp(p, "account") ? &e->account : !strcmp(p, "host") ? &e->host :
			     !strcmp(p, "port") ? &e->port : !strcmp(p, "tls") ? &e->tls :
			     !strcmp(p, "user") ? &e->user :
			     !strcmp(p, "passwordeval") ? &e->passwordeval :
			     !strcmp(p, "sender") ? &e->sender :
			     !strcmp(p, "uid") ? &e->uid : NULL;
		if (one && *one) {      /* mailout writes each of these once */
			res_fail(r, RES_DATAERR, "envelope line \"%s\" repeated", p);
			goto out;
		}
		if (one)                             *one = xstrdup(val);
		else if (!strcmp(p, "rcpt"))         addr_list_add(&e->rcpts, val);
		else if (!strcmp(p, "created"))      e->created = (time_t)atoll(val);
		p = nl + 1;
	}
	if (!e->sender || e->rcpts.n == 0) {
		res_fail(r, RES_DATAERR, "queue file envelope lacks sender or recipients");
		goto out;
	}
	rc = 0;
out:
	db_free(&d);
	if (rc < 0)
		queue_env_free(e);
	return rc;
}

/* ---- state files ---- */

struct qstate {
	int attempts;
	time_t last_try, next_try;
	time_t created;          /* when the envelope's is in the future: see process() */
	char last_error[512];
};

static void
state_read(const char *path, struct qstate *s)
{
	FILE *f = fopen(path, "re");
	char line[700];

	memset(s, 0, sizeof(*s));
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "attempts ", 9))
			s->attempts = atoi(line + 9);
		else if (!strncmp(line, "last_try ", 9))
			s->last_try = (time_t)atoll(line + 9);
		else if (!strncmp(line, "next_try ", 9))
			s->next_try = (time_t)atoll(line + 9);
		else if (!strncmp(line, "created ", 8))
			s->created = (time_t)atoll(line + 8);
		else if (!strncmp(line, "last_error ", 11))
			str_copy(s->last_error, sizeof(s->last_error), line + 11);
	}
	fclose(f);
}

static int
state_write(const char *path, const struct qstate *s)
{
	char *tmp = xasprintf("%s.new", path);
	struct dynbuf d = { 0 };
	int fd, rc = -1;

	db_printf(&d, "attempts %d\nlast_try %lld\nnext_try %lld\n", s->attempts,
		  (long long)s->last_try, (long long)s->next_try);
	if (s->created)
		db_printf(&d, "created %lld\n", (long long)s->created);
	db_adds(&d, "last_error ");
	for (const char *p = s->last_error; *p; p++)
		db_addc(&d, (unsigned char)*p < 0x20 ? ' ' : *p);
	db_addc(&d, '\n');
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		if (write_all(fd, d.s, d.len) == 0 && fsync(fd) == 0 && close(fd) == 0)
			rc = rename(tmp, path) == 0 ? fsync_dir_of(path, 0) : -1;
		else
			close(fd);
	}
	if (rc != 0)
		unlink(tmp);
	free(tmp);
	db_free(&d);
	return rc;
}

long
queue_backoff(int attempts)
{
	long base = 300, cap = QUEUE_BACKOFF_MAX - QUEUE_BACKOFF_MAX / 6, delay = base;
	unsigned int rnd = 0;

	for (int i = 1; i < attempts && delay < cap; i++)
		delay *= 2;
	if (delay > cap)
		delay = cap;
	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd = (unsigned)getpid();
	/* +-20% so that many queued messages do not retry in lockstep */
	return delay - delay / 5 + (long)(rnd % (unsigned)(2 * (delay / 5) + 1));
}

/* ---- keeping a spool file ---- */

/* QDIR/NAME, made if needed and checked private (queue_dir_private());
 * NULL, with r set when given, when it cannot be used. */
static char *
subdir(const char *qdir, const char *name, struct result *r)
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

/* Copy the message of fd (from data_offset) after a new envelope into a
 * new spool file in qdir/tmp.  Returns its path and fd, or NULL. */
static char *
rewrite(const char *qdir, int fd, off_t data_offset, const struct queue_env *e,
	int *newfd, struct result *r)
{
	struct dynbuf d = { 0 };
	char buf[65536], *path = xasprintf("%s/tmp/mo.XXXXXX", qdir);
	ssize_t n;
	int out;

	/* tmp/ again if someone cleaned it away meanwhile */
	free(subdir(qdir, "tmp", NULL));
	out = mkostemp(path, O_CLOEXEC);
	if (out < 0) {
		res_fail(r, RES_CANTCREAT, "cannot create %s: %s", path, strerror(errno));
		free(path);
		return NULL;
	}
	queue_env_format(&d, e);
	if (write_all(out, d.s, d.len) < 0 || lseek(fd, data_offset, SEEK_SET) != data_offset)
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

/* A queue id: the time to the microsecond (so that ids sort oldest
 * first) and the spool file's random suffix. */
static void
make_id(const char *spool_path, char *id, size_t idlen)
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
queue_keep(const char *qdir, const char *spool_path, int fd, off_t data_offset,
	   const struct addr_list *pending, const char *last_error, char *id,
	   size_t idlen, struct result *r)
{
	struct queue_env e;
	struct qstate st;
	off_t off;
	char *q = NULL, *dst = NULL, *state = NULL, *newpath = NULL;
	const char *src = spool_path;
	int newfd = -1, rc = -1;

	if (!(q = subdir(qdir, "q", r)))
		goto out;
	if (pending) {
		if (queue_env_read(fd, &e, &off, r) < 0)
			goto out;
		if (!same_rcpts(pending, &e.rcpts)) {
			addr_list_free(&e.rcpts);
			for (size_t i = 0; i < pending->n; i++)
				addr_list_add(&e.rcpts, pending->v[i]);
			newpath = rewrite(qdir, fd, data_offset, &e, &newfd, r);
			if (!newpath) {
				queue_env_free(&e);
				goto out;
			}
			src = newpath;
			fd = newfd;
		}
		queue_env_free(&e);
	}
	if (fsync(fd) != 0) {
		res_fail(r, RES_IOERR, "cannot fsync %s: %s", src, strerror(errno));
		goto out;
	}
	/* link() rather than rename(): never replace a message already there. */
	for (int i = 0; ; i++) {
		make_id(src, id, idlen);
		if (i)
			snprintf(id + strlen(id), idlen - strlen(id), "%d", i);
		free(dst);
		dst = xasprintf("%s/%s", q, id);
		if (link(src, dst) == 0)
			break;
		if (errno != EEXIST || i > 100) {
			res_fail(r, RES_CANTCREAT, "cannot queue %s as %s: %s", src, dst,
				 strerror(errno));
			goto out;
		}
	}
	if (fsync_dir_of(q, 1) != 0) {
		res_fail(r, RES_IOERR, "cannot fsync %s: %s", q, strerror(errno));
		unlink(dst);
		goto out;
	}
	unlink(src);
	if (newpath)
		unlink(spool_path);
	memset(&st, 0, sizeof(st));
	if (last_error) {
		st.attempts = 1;
		st.last_try = time(NULL);
		st.next_try = st.last_try + queue_backoff(1);
		str_copy(st.last_error, sizeof(st.last_error), last_error);
	} else {
		st.next_try = time(NULL);
	}
	state = xasprintf("%s.state", dst);
	if (state_write(state, &st) != 0)
		log_err("warning: cannot write %s: %s", state, strerror(errno));
	rc = 0;
out:
	if (newfd >= 0)
		close(newfd);
	if (newpath && rc != 0)
		unlink(newpath);
	free(newpath);
	free(q);
	free(dst);
	free(state);
	return rc;
}

static void age_str(char *buf, size_t len, long secs);

/* ---- removals ----
 *
 * A delivered message leaves q/ at once, still under its lock: q/ID and
 * q/ID.state are renamed into done/, and a thread of its own unlinks them
 * there while the run goes on with the next message.  The unlinking is
 * what costs: on ext4 mounted with "discard" it trims the freed blocks
 * before it returns, 0.1 ms and more per file, more than a message's whole
 * SMTP exchange on loopback; a rename frees nothing.  A crash can still
 * make a message go twice only between the relay's 250 and the rename, as
 * with an unlink in place.  Whatever a killed run leaves in done/ is
 * removed by the next run that delivers a message.  When done/ cannot be
 * made, a rename fails or the thread cannot start, the files are unlinked
 * in place.
 */
#define MAX_PENDING 256          /* names waiting for the thread */

struct removal {
	struct removal *next;
	char *path;              /* done/ID or done/ID.state */
};

struct remover {
	char *done;              /* queue_dir/done, NULL when it cannot be made */
	pthread_mutex_t mu;
	pthread_cond_t cv;       /* a name queued, a name done, or closing */
	struct removal *head, **tail;
	size_t pending;
	int closing, started, running;
	pthread_t thread;
};

/* What a killed run left in done/ (called by the thread, first). */
static void
sweep_done(const char *done)
{
	DIR *d = opendir(done);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char *p;

		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s", done, de->d_name);
		unlink(p);
		free(p);
	}
	if (d)
		closedir(d);
}

static void *
remover_main(void *arg)
{
	struct remover *rm = arg;

	sweep_done(rm->done);
	pthread_mutex_lock(&rm->mu);
	for (;;) {
		struct removal *x = rm->head;

		if (!x) {
			if (rm->closing)
				break;
			pthread_cond_wait(&rm->cv, &rm->mu);
			continue;
		}
		rm->head = x->next;
		if (!rm->head)
			rm->tail = &rm->head;
		pthread_mutex_unlock(&rm->mu);
		unlink(x->path);        /* ENOENT: another run's sweep was first */
		free(x->path);
		free(x);
		pthread_mutex_lock(&rm->mu);
		rm->pending--;
		pthread_cond_broadcast(&rm->cv);
	}
	pthread_mutex_unlock(&rm->mu);
	return NULL;
}

static void
remover_start(struct remover *rm, const char *qdir)
{
	rm->done = subdir(qdir, "done", NULL);
	pthread_mutex_init(&rm->mu, NULL);
	pthread_cond_init(&rm->cv, NULL);
	rm->head = NULL;
	rm->tail = &rm->head;
	rm->pending = 0;
	rm->closing = 0;
	rm->started = rm->running = 0;
}

/* The thread starts with the first removal: a run that delivers nothing
 * needs none, and by then libcurl is loaded.  (A dlopen() while another
 * thread runs makes glibc keep the old scope arrays for good, which
 * valgrind reports as a leak.) */
static void
remover_launch(struct remover *rm)
{
	rm->started = 1;
	rm->running = rm->done &&
		      pthread_create(&rm->thread, NULL, remover_main, rm) == 0;
}

/* Takes q/NAME out of the queue: into done/ for the thread, or unlinked.
 * Returns 0, or -1 (errno set) when it is still there. */
static int
remover_take(struct remover *rm, const char *path)
{
	const char *name = strrchr(path, '/') + 1;
	struct removal *x;
	char *dst;

	if (!rm->started)
		remover_launch(rm);
	if (!rm->running)
		return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
	dst = xasprintf("%s/%s", rm->done, name);
	if (rename(path, dst) != 0) {
		int saved = errno;

		free(dst);
		if (saved == ENOENT)
			return 0;
		return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
	}
	x = xmalloc(sizeof(*x));
	x->next = NULL;
	x->path = dst;
	pthread_mutex_lock(&rm->mu);
	while (rm->pending >= MAX_PENDING)
		pthread_cond_wait(&rm->cv, &rm->mu);
	*rm->tail = x;
	rm->tail = &x->next;
	rm->pending++;
	pthread_cond_broadcast(&rm->cv);
	pthread_mutex_unlock(&rm->mu);
	return 0;
}

/* Waits until every name handed over is unlinked. */
static void
remover_finish(struct remover *rm)
{
	if (rm->running) {
		pthread_mutex_lock(&rm->mu);
		rm->closing = 1;
		pthread_cond_broadcast(&rm->cv);
		pthread_mutex_unlock(&rm->mu);
		pthread_join(rm->thread, NULL);
		rm->running = 0;
	}
	pthread_cond_destroy(&rm->cv);
	pthread_mutex_destroy(&rm->mu);
	free(rm->done);
}

/* ---- queue runs ---- */

/* One relay session per account for the whole run. */
struct session {
	char *key;
	struct account acct;     /* a copy: outlives the session */
	struct submit *s;
	int down;                /* unreachable in this run: skip its messages */
};

struct run {
	const struct config *c;
	char *qdir, *q, *failed;
	int due_only;
	struct session *sess;
	size_t nsess;
	int tried, delivered, deferred, failed_n;
	struct result worst;
	struct remover rm;
};

static void envelope_overrides(const struct queue_env *e, struct account *a);

/* The account of a message queued with --host: the `defaults` section with
 * the settings its envelope kept.  Free with conf_account_free(). */
static void
envelope_account(const struct config *c, const struct queue_env *e, struct account *a)
{
	conf_account_from_defaults(c, a);
	if (e->host) {
		free(a->host);
		a->host = xstrdup(e->host);
	}
	envelope_overrides(e, a);
}

/* The --port, --tls, --user and --passwordeval the message was given (checked
 * when it was accepted; a value changed since is ignored). */
static void
envelope_overrides(const struct queue_env *e, struct account *a)
{
	const struct overrides ov = {
		.port = e->port, .tls = e->tls, .user = e->user, .passwordeval = e->passwordeval,
	};
	struct result ignored;

	res_clear(&ignored);
	(void)account_apply_overrides(a, &ov, &ignored);
}

static struct session *
session_for(struct run *run, const struct queue_env *e, struct result *r)
{
	char *key;
	struct account a;

	if (e->account) {
		const struct account *named = conf_find(run->c, e->account);
		if (!named) {
			res_fail(r, RES_TEMPFAIL, "account \"%s\" is no longer configured",
				 e->account);
			return NULL;
		}
		key = xasprintf("account %s %s %s %s %s", e->account, e->port ? e->port : "",
				e->tls ? e->tls : "", e->user ? e->user : "",
				e->passwordeval ? e->passwordeval : "");
		for (size_t i = 0; i < run->nsess; i++)
			if (!strcmp(run->sess[i].key, key)) {
				free(key);
				return &run->sess[i];
			}
		conf_account_copy(&a, named);
		envelope_overrides(e, &a);
	} else {
		key = xasprintf("host %s %s %s %s %s", e->host ? e->host : "",
				e->port ? e->port : "", e->tls ? e->tls : "",
				e->user ? e->user : "", e->passwordeval ? e->passwordeval : "");
		for (size_t i = 0; i < run->nsess; i++)
			if (!strcmp(run->sess[i].key, key)) {
				free(key);
				return &run->sess[i];
			}
		envelope_account(run->c, e, &a);
	}
	run->sess = xrealloc(run->sess, (run->nsess + 1) * sizeof(*run->sess));
	run->sess[run->nsess] = (struct session){ .key = key, .acct = a };
	return &run->sess[run->nsess++];
}

static void
log_queue_event(const struct config *c, const char *id, const struct queue_env *e, off_t size,
		const char *what, const struct result *r)
{
	const struct account *a = e->account ? conf_find(c, e->account) : NULL;
	struct account adhoc = { 0 };
	struct dynbuf rc = { 0 };
	struct log_entry le;

	for (size_t i = 0; i < e->rcpts.n; i++) {
		if (i)
			db_addc(&rc, ',');
		db_adds(&rc, e->rcpts.v[i]);
	}
	memset(&le, 0, sizeof(le));
	/* The relay it was meant for, as a delivery would log it: its
	 * account's, or the --host settings kept in the envelope (none when
	 * the envelope could not be read: e->sender is then NULL). */
	if (!a && !e->account && e->sender) {
		envelope_account(c, e, &adhoc);
		a = &adhoc;
	}
	if (!a && e->account)
		le.host = "unknown";    /* its account is no longer configured */
	if (a) {
		le.host = a->host;
		le.tls = a->host && a->tls != TLS_OFF;
		le.auth = a->host && conf_auth_enabled(a);
		le.user = le.auth ? a->user : NULL;
	}
	le.from = !e->sender ? "unknown" : *e->sender ? e->sender : "<>";
	le.recipients = db_str(&rc);
	le.mailsize = (long long)size;
	le.errormsg = what;
	le.queue_id = id;
	le.exitcode = res_exit_name(r->cls);
	log_delivery(&le);
	db_free(&rc);
	conf_account_free(&adhoc);
}

/* 1 when path still names the file open on fd (which *sb then describes). */
static int
still_there(int fd, const char *path, struct stat *sb)
{
	struct stat now;

	return fstat(fd, sb) == 0 && sb->st_nlink > 0 && stat(path, &now) == 0 &&
	       now.st_dev == sb->st_dev && now.st_ino == sb->st_ino;
}

/* Move q/ID (and its state) to failed/, with the reason in the state. */
static void
give_up(struct run *run, const char *id, const char *path, struct qstate *st,
	const char *reason)
{
	char *dst = xasprintf("%s/%s", run->failed, id);
	char *spath = xasprintf("%s.state", path), *sdst = xasprintf("%s.state", dst);

	str_copy(st->last_error, sizeof(st->last_error), reason);
	st->next_try = 0;
	st->last_try = time(NULL);
	if (state_write(spath, st) != 0 || rename(spath, sdst) != 0)
		log_err("warning: cannot move the state of %s to failed/", id);
	if (rename(path, dst) != 0)
		log_err("warning: cannot move %s to failed/: %s", id, strerror(errno));
	(void)fsync_dir_of(run->failed, 1);
	(void)fsync_dir_of(run->q, 1);
	run->failed_n++;
	free(dst);
	free(spath);
	free(sdst);
}

/* queue_lifetime is over, and the message was not delivered in this run. */
static void
expire(struct run *run, const char *id, const char *path, struct qstate *st,
       const struct queue_env *e, off_t size, time_t age)
{
	struct result r;
	char shown[32], *why;

	age_str(shown, sizeof(shown), (long)age);
	why = xasprintf("expired after %s in the queue; last error: %s", shown,
			st->last_error[0] ? st->last_error : "none");
	res_clear(&r);
	res_fail(&r, RES_TEMPFAIL, "%s", why);
	log_err("%s: %s", id, why);
	log_queue_event(run->c, id, e, size, why, &r);
	give_up(run, id, path, st, why);
	free(why);
	res_merge(&run->worst, &r);
}

static void
process(struct run *run, const char *id)
{
	char *path = xasprintf("%s/%s", run->q, id);
	char *spath = xasprintf("%s.state", path);
	struct queue_env e = { 0 };
	struct addr_list pending = { 0 };
	struct qstate st;
	struct stat sb;
	struct result r;
	struct session *sess;
	off_t off = 0;
	time_t now = time(NULL), created;
	int fd, have_env = 0, expired;

	res_clear(&r);
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno != ENOENT) {
		/* Left by another user (root with this queue's configuration,
		 * say): stuck until someone fixes it, so not in silence. */
		res_fail(&r, RES_IOERR, "cannot open queue file %s: %s", path, strerror(errno));
		log_err("%s", r.text);
		res_merge(&run->worst, &r);
	}
	if (fd < 0)
		goto out;                       /* delivered by another run */
	if (flock(fd, LOCK_EX | LOCK_NB) != 0)
		goto out;                       /* another run holds it */
	if (!still_there(fd, path, &sb))
		goto out;                       /* removed, moved or rewritten meanwhile */
	state_read(spath, &st);
	if (queue_env_read(fd, &e, &off, &r) < 0) {
		struct queue_env none = { 0 };

		log_err("queue file %s: %s", path, r.text);
		log_queue_event(run->c, id, &none, sb.st_size, r.text, &r);
		give_up(run, id, path, &st, r.text);
		res_merge(&run->worst, &r);
		goto out;
	}
	have_env = 1;
	/* A creation time in the future: the clock was ahead when the message
	 * was queued.  Its age then counts from the first run that saw it
	 * (kept in the state), or it would never expire. */
	if (e.created > now && (!st.created || st.created > now))
		st.created = now;
	created = st.created ? st.created : e.created;
	expired = created && now - created > run->c->queue_lifetime;
	/* An expired message is tried once more, not kept for its back-off,
	 * and given up on only if that fails (as Postfix does): a clock that
	 * was behind, or a machine off for a week, must not turn deliverable
	 * mail into failed mail.  A next try further away than any back-off
	 * was set by a clock that was ahead: the message is due. */
	if (run->due_only && st.next_try > now && !expired &&
	    st.next_try - now <= QUEUE_BACKOFF_MAX)
		goto out;
	sess = session_for(run, &e, &r);
	if (sess && sess->down) {
		if (expired)
			expire(run, id, path, &st, &e, sb.st_size - off, now - created);
		else
			run->deferred++;
		goto out;
	}
	run->tried++;
	if (sess) {
		struct delivery d = {
			.acct = &sess->acct, .sender = e.sender, .fd = fd, .start = off,
			.size = sb.st_size - off, .queue_id = id,
		};
		deliver_run(&d, &e.rcpts, &sess->s, &pending, NULL, &r);
	} else {
		/* No relay to try (its account is gone): still one log line
		 * per attempt, as SPEC 9 has it. */
		log_queue_event(run->c, id, &e, sb.st_size - off, r.text, &r);
	}
	if (r.cls == RES_OK) {
		/* Accepted: out of q/ still under the lock (see "removals"),
		 * with the state file a killed run may have left half-written. */
		char *snew = xasprintf("%s.new", spath);

		if (remover_take(&run->rm, path) != 0) {
			/* Emptied instead, so that no run sends it again: the
			 * next one finds no envelope and moves it aside. */
			log_err("%s: delivered, but cannot be removed from the queue: %s", id,
				strerror(errno));
			if (ftruncate(fd, 0) != 0 || fsync(fd) != 0)
				log_err("%s: cannot empty it either (%s): it will be sent again",
					id, strerror(errno));
		}
		(void)remover_take(&run->rm, spath);
		unlink(snew);
		free(snew);
		run->delivered++;           /* q/ is fsync'd at the end of the run */
		log_info("%s: delivered", id);
		goto out;
	}
	res_merge(&run->worst, &r);
	log_err("%s: %s", id, r.text);
	st.attempts++;
	if (res_is_message_refusal(&r) && pending.n == 0) {
		give_up(run, id, path, &st, r.text);
		goto out;
	}
	/* The relay is unreachable, or refuses the session or our settings:
	 * its other messages would fare no better in this run. */
	if (sess && (deliver_relay_down(&r) || (!res_is_temporary(&r) &&
						!res_is_message_refusal(&r))))
		sess->down = 1;
	if (pending.n && !same_rcpts(&pending, &e.rcpts)) {
		/* Some recipients are done: keep the message for the others. */
		struct result wr;
		int nfd = -1;
		char *np;

		addr_list_free(&e.rcpts);
		for (size_t i = 0; i < pending.n; i++)
			addr_list_add(&e.rcpts, pending.v[i]);
		res_clear(&wr);
		np = rewrite(run->qdir, fd, off, &e, &nfd, &wr);
		if (np) {
			/* Durable before the state says anything: after a crash
			 * the old envelope would resend to the recipients done. */
			if (fsync(nfd) != 0 || rename(np, path) != 0) {
				res_fail(&wr, RES_IOERR, "cannot replace %s: %s", path,
					 strerror(errno));
				unlink(np);
			} else {
				(void)fsync_dir_of(run->q, 1);
			}
			close(nfd);
			free(np);
		}
		if (wr.cls != RES_OK)
			log_err("%s: %s; the recipients it reached will get it again", id,
				wr.text);
	}
	st.last_try = now;
	st.next_try = now + queue_backoff(st.attempts);
	str_copy(st.last_error, sizeof(st.last_error), r.text);
	if (expired) {
		expire(run, id, path, &st, &e, sb.st_size - off, now - created);
		goto out;
	}
	if (state_write(spath, &st) != 0)
		log_err("warning: cannot write %s: %s", spath, strerror(errno));
	run->deferred++;
out:
	if (fd >= 0)
		close(fd);                      /* releases the lock */
	if (have_env)
		queue_env_free(&e);
	addr_list_free(&pending);
	free(path);
	free(spath);
}

/* Queue ids never hold a dot; state and temporary files do. */
static int
is_message_name(const char *n)
{
	/* YYYYMMDDTHHMMSSuuuuuu-SUFFIX (make_id()); anything else is not
	 * mailout's, and is left alone. */
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

/* The message ids in dir, sorted (oldest first: ids start with the time).
 * A missing directory is an empty list. */
static int
list_ids(const char *dir, char ***ids, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 0;

	*ids = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d))) {
		if (!is_message_name(de->d_name))
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

/* queue.h */
int
queue_waiting(const char *qdir)
{
	char *q = xasprintf("%s/q", qdir);
	DIR *d = opendir(q);
	struct dirent *de;
	int found = 0;

	while (d && !found && (de = readdir(d)))
		found = is_message_name(de->d_name);
	if (d)
		closedir(d);
	free(q);
	return found;
}

/* Spool files that a killed mailout left in tmp/ a day ago or more: no
 * live process writes that slowly. */
static void
sweep_tmp(const char *qdir)
{
	char *tmp = xasprintf("%s/tmp", qdir);
	DIR *d = opendir(tmp);
	struct dirent *de;
	time_t now = time(NULL);

	while (d && (de = readdir(d))) {
		struct stat st;
		char *p;

		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s", tmp, de->d_name);
		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > 86400) {
			log_info("removing %s, left by an interrupted run", p);
			unlink(p);
		}
		free(p);
	}
	if (d)
		closedir(d);
	free(tmp);
}

/* q/ID.state and q/ID.state.new files whose message is gone (a run killed
 * between the two renames or unlinks), a day old or more. */
static void
sweep_orphans(const char *q)
{
	DIR *d = opendir(q);
	struct dirent *de;
	time_t now = time(NULL);

	while (d && (de = readdir(d))) {
		const char *dot = strchr(de->d_name, '.');
		struct stat st;
		char *p, *msg;

		if (!dot || dot == de->d_name ||
		    (strcmp(dot, ".state") != 0 && strcmp(dot, ".state.new") != 0))
			continue;
		p = xasprintf("%s/%s", q, de->d_name);
		msg = xasprintf("%s/%.*s", q, (int)(dot - de->d_name), de->d_name);
		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > 86400 &&
		    access(msg, F_OK) != 0 && errno == ENOENT)
			unlink(p);
		free(p);
		free(msg);
	}
	if (d)
		closedir(d);
}

int
queue_run(const struct config *c, int due_only, const char *only_id, struct result *r)
{
	struct run run = { .c = c, .due_only = due_only };
	char **ids = NULL;
	size_t n = 0;

	res_clear(r);
	res_clear(&run.worst);
	run.qdir = xstrdup(c->queue_dir);
	if (!(run.q = subdir(c->queue_dir, "q", r)) ||
	    !(run.failed = subdir(c->queue_dir, "failed", r)))
		goto out;
	if (!only_id) {
		struct result pr;

		if (queue_pickup(c, &pr) < 0)
			log_err("%s", pr.text);
		sweep_tmp(c->queue_dir);
		sweep_orphans(run.q);
	}
	if (only_id) {
		ids = xmalloc(sizeof(char *));
		ids[0] = xstrdup(only_id);
		n = 1;
	} else if (list_ids(run.q, &ids, &n) < 0) {
		res_fail(r, RES_IOERR, "cannot read %s: %s", run.q, strerror(errno));
		goto out;
	}
	remover_start(&run.rm, run.qdir);
	for (size_t i = 0; i < n; i++)
		process(&run, ids[i]);
	remover_finish(&run.rm);
	if (run.delivered)
		(void)fsync_dir_of(run.q, 1);   /* the removals (see the top) */
	log_info("queue run: %d tried, %d delivered, %d deferred, %d failed", run.tried,
		 run.delivered, run.deferred, run.failed_n);
	*r = run.worst;
out:
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	for (size_t i = 0; i < run.nsess; i++) {
		submit_free(run.sess[i].s);
		conf_account_free(&run.sess[i].acct);
		free(run.sess[i].key);
	}
	free(run.sess);
	free(run.qdir);
	free(run.q);
	free(run.failed);
	return r->cls == RES_OK ? 0 : -1;
}

/* ---- listing ---- */

static void
age_str(char *buf, size_t len, long secs)
{
	if (secs < 3600)
		snprintf(buf, len, "%ldm", secs / 60);
	else if (secs < 86400)
		snprintf(buf, len, "%ldh%02ldm", secs / 3600, secs % 3600 / 60);
	else
		snprintf(buf, len, "%ldd%02ldh", secs / 86400, secs % 86400 / 3600);
}

static int
list_dir(const char *dir, int failed, FILE *out, int *count)
{
	char **ids;
	size_t n;

	if (list_ids(dir, &ids, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", dir, ids[i]);
		char *spath = xasprintf("%s.state", path), age[32];
		struct queue_env e;
		struct qstate st;
		struct result r;
		struct stat sb;
		off_t off;
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), ok;

		res_clear(&r);
		if (fd < 0)
			res_fail(&r, RES_NOINPUT, "cannot open it: %s", strerror(errno));
		ok = fd >= 0 && fstat(fd, &sb) == 0 && queue_env_read(fd, &e, &off, &r) == 0;
		state_read(spath, &st);
		if (*count == 0)
			fprintf(out, "%-28s %10s %7s %5s  %s\n", "Queue ID", "Size", "Age",
				"Tries", "Sender/Recipients");
		if (ok) {
			long secs = (long)(time(NULL) - e.created);

			age_str(age, sizeof(age), secs < 0 ? 0 : secs);
			fprintf(out, "%-28s %10lld %7s %5d  %s%s\n", ids[i],
				(long long)(sb.st_size - off), age, st.attempts,
				*e.sender ? e.sender : "<>", failed ? "  (FAILED)" : "");
		} else {
			/* Shown all the same: a message nobody sees is lost. */
			fprintf(out, "%-28s %10s %7s %5d  %s%s\n", ids[i], "?", "?",
				st.attempts, "(unreadable)", failed ? "  (FAILED)" : "");
			fprintf(out, "%54s(%s)\n", "", r.text);
		}
		if (st.last_error[0] && (ok || strcmp(st.last_error, r.text) != 0))
			fprintf(out, "%54s(%s)\n", "", st.last_error);
		if (ok) {
			for (size_t k = 0; k < e.rcpts.n; k++)
				fprintf(out, "%54s%s\n", "", e.rcpts.v[k]);
			queue_env_free(&e);
		}
		(*count)++;
		if (fd >= 0)
			close(fd);
		free(path);
		free(spath);
		free(ids[i]);
	}
	free(ids);
	return 0;
}

int
queue_list(const struct config *c, FILE *out, struct result *r)
{
	char *q = xasprintf("%s/q", c->queue_dir);
	char *f = xasprintf("%s/failed", c->queue_dir);
	int count = 0, rc = 0;

	if (list_dir(q, 0, out, &count) < 0 || list_dir(f, 1, out, &count) < 0)
		rc = res_fail(r, RES_IOERR, "cannot read the queue in %s: %s", c->queue_dir,
			      strerror(errno));
	else if (count == 0)
		fprintf(out, "Mail queue is empty\n");
	else
		fprintf(out, "-- %d message%s in %s\n", count, count == 1 ? "" : "s",
			c->queue_dir);
	free(q);
	free(f);
	return rc;
}

void
queue_run_detached(const struct config *c, const char *only_id, int due_only)
{
	struct result r;
	pid_t pid = fork();
	int null;

	if (pid != 0) {
		if (pid > 0)
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
		return;
	}
	/* First child: a new session, then a grandchild that init adopts,
	 * with no descriptor of the caller's kept open. */
	if (setsid() < 0 || fork() != 0)
		_exit(0);
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	/* Nor any other: the spool file, a -bs session's, the caller's. */
	if (close_range(3, ~0U, 0) != 0)
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
	queue_run(c, due_only, only_id, &r);
	_exit(0);
}
