/*
 * queue.c - the durable queue (SPEC 10): queue runs.  The files are
 * described at the top of queue-file.c; keeping a message is
 * queue-keep.c's.
 *
 * Exactly once: whoever changes q/ID or its state holds a flock() on
 * q/ID.  The sender that keeps a message takes it before the link() and
 * keeps it until the state file is written; a queue run takes it,
 * non-blocking, before anything else and skips the message when someone
 * else holds it.  A run that gets the lock checks that q/ID is still the
 * file it opened (another run may have delivered it, moved it to failed/
 * or rewritten it in between).  The file is removed right after the
 * relay's 250 to the final dot, still under the lock (queue-remove.c).
 * Those removals are made durable with one fsync of q/ at the end of the
 * run rather than one per message: a removal is visible to every other
 * process at once, and only a power loss within the run could bring a
 * delivered message back (as a timeout after the final dot can make a
 * relay see a message twice anyway).
 *
 * Failures in a run: a permanent refusal of the message itself (5xx to
 * MAIL, RCPT or DATA, an unknown local user) moves it to failed/; so does
 * queue_lifetime, and so does a queue file that cannot be read.  Anything
 * else (the relay down, 4xx, and also settings, credentials, TLS trust, a
 * relay refusing the session) leaves it queued with the error, and the
 * rest of that account's messages wait for the next run.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr-local.h"
#include "deliver.h"
#include "dsn.h"
#include "log.h"
#include "queue-internal.h"
#include "queue.h"
#include "queue-system.h"
#include "submit.h"
#include "util.h"

#define DAY 86400

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

/* ---- queue runs ---- */

/* One relay session per account for the whole run. */
struct session {
	char *key;
	struct account acct;     /* a copy: outlives the session */
	struct submit *s;
	int down;                /* unreachable in this run: skip its messages */
	int no_secret;           /* system run: none could be had (secret_err) */
	struct result secret_err;
};

/* Root's run of the system queue (queue-system.h) is in two phases. */
enum run_phase {
	RUN_PLAIN,               /* one user's own queue, as that user */
	RUN_SYSTEM_LOCAL,        /* pickup, secrets and local mailboxes; root
	                            can be had back */
	RUN_SYSTEM_RELAY         /* the relay's recipients, root given up */
};

struct run {
	const struct config *c;
	char *qdir, *q, *failed;
	int due_only;
	enum run_phase phase;
	struct queue_system sys;
	struct session *sess;
	size_t nsess;
	int tried, delivered, deferred, failed_n;
	struct result worst;
	struct queue_remover rm;
};

/* One message of a run, from its opening to its closing. */
struct item {
	const char *id;
	char *path, *spath;          /* q/ID, q/ID.state */
	int fd;                      /* open on q/ID, its lock held; -1 */
	struct queue_env e;
	struct queue_state st;
	off_t off, size;             /* where the message starts, its length */
	time_t now, created;         /* created: what its age counts from */
	int expired;
	struct session *sess;        /* NULL: no relay to try (r says why) */
	struct addr_list pending;    /* recipients that failed temporarily */
	struct queue_outcomes out;   /* the attempt's, for a notification */
	const struct result *why;    /* the attempt's failure, or NULL */
};

static void process(struct run *run, const char *id);

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

/* The account of a message queued with --host: the `defaults` section with
 * the settings its envelope kept.  Free with account_free(). */
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

static struct session *
session_find(struct run *run, const char *key)
{
	for (size_t i = 0; i < run->nsess; i++)
		if (!strcmp(run->sess[i].key, key))
			return &run->sess[i];
	return NULL;
}

/*
 * A system run: the session's secret into its account as the password,
 * fetched as root in the first phase (passwordeval runs as root, there
 * and then); after the drop, passwordeval is never run.  Returns 0, or -1
 * with s->no_secret and s->secret_err set.
 */
static int
session_secret(struct run *run, struct session *s)
{
	struct account *a = &s->acct;
	char *secret;

	res_clear(&s->secret_err);
	if (!a->host || !account_auth_enabled(a) || a->auth == AUTH_EXTERNAL || a->password ||
	    !a->passwordeval)
		return 0;
	if (run->phase == RUN_SYSTEM_RELAY) {
		res_fail(&s->secret_err, RES_TEMPFAIL, "passwordeval is run only as root, before "
			 "the system queue's run gives root up; this message waits for the next "
			 "run");
	} else if (queue_system_root(&run->sys, &s->secret_err) == 0) {
		secret = account_secret(a, &s->secret_err);
		if (queue_system_user(&run->sys, &s->secret_err) < 0)
			abort();        /* no relay dialogue with root's rights */
		if (secret) {
			a->password = secret;
			free(a->passwordeval);
			a->passwordeval = NULL;
			return 0;
		}
	}
	s->no_secret = 1;
	return -1;
}

static struct session *
session_for(struct run *run, const struct queue_env *e, struct result *r)
{
	const struct account *named = NULL;
	const struct queue_env own = { .account = e->account, .sender = e->sender };
	struct session *s;
	struct account a;
	char *key;

	/* The system user writes the system queue's files, and the pickup
	 * never keeps relay settings in them: any there are forged, and are
	 * not obeyed (a passwordeval would run as root). */
	if (run->phase != RUN_PLAIN) {
		if (e->host || e->port || e->tls || e->user || e->passwordeval)
			log_err("warning: relay settings in a system queue file ignored");
		e = &own;
	}

	if (e->account && !(named = conf_find(run->c, e->account))) {
		res_fail(r, RES_TEMPFAIL, "account \"%s\" is no longer configured", e->account);
		return NULL;
	}
	key = xasprintf("%s %s %s %s %s %s", e->account ? "account" : "host",
			e->account ? e->account : e->host ? e->host : "", e->port ? e->port : "",
			e->tls ? e->tls : "", e->user ? e->user : "",
			e->passwordeval ? e->passwordeval : "");
	if ((s = session_find(run, key))) {
		free(key);
		if (s->no_secret) {
			*r = s->secret_err;
			return NULL;
		}
		return s;
	}
	if (named) {
		account_copy(&a, named);
		envelope_overrides(e, &a);
	} else {
		envelope_account(run->c, e, &a);
	}
	run->sess = xrealloc(run->sess, (run->nsess + 1) * sizeof(*run->sess));
	run->sess[run->nsess] = (struct session){ .key = key, .acct = a };
	s = &run->sess[run->nsess++];
	if (run->phase != RUN_PLAIN && session_secret(run, s) < 0) {
		*r = s->secret_err;
		return NULL;
	}
	return s;
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
		le.auth = a->host && account_auth_enabled(a);
		le.user = le.auth ? a->user : NULL;
	}
	le.from = !e->sender ? "unknown" : *e->sender ? e->sender : "<>";
	le.recipients = db_str(&rc);
	le.mailsize = (long long)size;
	le.errormsg = what;
	le.queue_id = id;
	le.uid = e->uid;
	le.exitcode = res_exit_name(r->cls);
	log_delivery(&le);
	db_free(&rc);
	account_free(&adhoc);
}

/*
 * SPEC 12: tell the sender (and bounce_notice_to) what became of the
 * message: a notification queued from the null sender and delivered in
 * this run (queue-notify.c).  A message from the null sender never causes
 * one, so a notification that fails ends in failed/ and goes no further.
 */
static void
notify(struct run *run, struct item *it, enum dsn_kind kind, int refused_only)
{
	struct dsn_rcpt *v = xcalloc(it->out.nrefused + it->e.rcpts.n + 1, sizeof(*v));
	struct queue_notice qn = {
		.kind = kind, .id = it->id, .e = &it->e, .fd = it->fd, .off = it->off,
		.arrival = it->created ? it->created : it->e.created,
		.last_attempt = it->st.last_try,
		.remote_mta = it->out.remote && it->sess ? it->sess->acct.host : NULL,
		.rcpts = v,
		.nrcpts = queue_notice_rcpts(&it->out, &it->e, kind, refused_only, it->why,
					     it->st.last_error, it->expired, v),
	};
	struct result r;
	char nid[64];

	switch (queue_notice_keep(run->c, &qn, nid, sizeof(nid), &r)) {
	case 1:
		log_info("%s: %s notification to %s queued as %s", it->id,
			 kind == DSN_DELAYED ? "delay" : "delivery status", it->e.sender, nid);
		process(run, nid);
		it->sess = NULL;        /* run->sess may have moved meanwhile */
		break;
	case -1:
		log_err("%s: cannot send its delivery status notification: %s", it->id, r.text);
		break;
	}
	free(v);
}

/* Move q/ID (and its state) to failed/, with the reason in the state, and
 * notify its sender. */
static void
give_up(struct run *run, struct item *it, const char *reason)
{
	char *dst = xasprintf("%s/%s", run->failed, it->id);
	char *sdst = xasprintf("%s.state", dst);

	str_copy(it->st.last_error, sizeof(it->st.last_error), reason);
	it->st.next_try = 0;
	it->st.last_try = time(NULL);
	if (queue_state_save(it->fd, it->path, &it->st) != 0 || rename(it->spath, sdst) != 0)
		log_err("warning: cannot move the state of %s to failed/: %s", it->id,
			strerror(errno));
	if (rename(it->path, dst) != 0)
		log_err("warning: cannot move %s to failed/: %s", it->id, strerror(errno));
	(void)fsync_dir_of(run->failed, 1);
	(void)fsync_dir_of(run->q, 1);
	run->failed_n++;
	free(dst);
	free(sdst);
	if (it->e.sender)
		notify(run, it, DSN_FAILED, 0);
}

/* queue_lifetime is over, and the message was not delivered in this run. */
static void
expire(struct run *run, struct item *it)
{
	struct result r;
	char shown[32], *why;

	queue_age_str(shown, sizeof(shown), (long)(it->now - it->created));
	why = xasprintf("expired after %s in the queue; last error: %s", shown,
			it->st.last_error[0] ? it->st.last_error : "none");
	res_clear(&r);
	res_fail(&r, RES_TEMPFAIL, "%s", why);
	log_err("%s: %s", it->id, why);
	log_queue_event(run->c, it->id, &it->e, it->size, why, &r);
	give_up(run, it, why);
	free(why);
	res_merge(&run->worst, &r);
}

/* A queue file whose envelope cannot be read: set aside in failed/. */
static void
item_unreadable(struct run *run, struct item *it, off_t size, const struct result *r)
{
	struct queue_env none = { 0 };

	log_err("queue file %s: %s", it->path, r->text);
	log_queue_event(run->c, it->id, &none, size, r->text, r);
	give_up(run, it, r->text);
	res_merge(&run->worst, r);
}

/* Open q/ID, lock it and read it.  Returns 1 when it is there to try, 0
 * when another run has it or had it, or it was set aside. */
static int
item_open(struct run *run, const char *id, struct item *it)
{
	struct stat sb;
	struct result r;

	memset(it, 0, sizeof(*it));
	it->id = id;
	it->path = xasprintf("%s/%s", run->q, id);
	it->spath = xasprintf("%s.state", it->path);
	it->now = time(NULL);
	it->fd = open(it->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	res_clear(&r);
	if (it->fd < 0 && errno != ENOENT) {
		/* Left by another user (root with this queue's configuration,
		 * say): stuck until someone fixes it, so not in silence. */
		res_fail(&r, RES_IOERR, "cannot open queue file %s: %s", it->path,
			 strerror(errno));
		log_err("%s", r.text);
		res_merge(&run->worst, &r);
	}
	if (it->fd < 0)
		return 0;                       /* delivered by another run */
	if (flock(it->fd, LOCK_EX | LOCK_NB) != 0)
		return 0;                       /* another process holds it */
	if (!queue_still_there(it->fd, it->path, &sb))
		return 0;                       /* removed, moved or rewritten meanwhile */
	queue_state_read(it->spath, &it->st);
	if (queue_env_read(it->fd, &it->e, &it->off, &r) < 0) {
		item_unreadable(run, it, sb.st_size, &r);
		return 0;
	}
	it->size = sb.st_size - it->off;
	return 1;
}

/* 1 when the message is to be tried now (r: why it has no relay, if so). */
static int
item_due(struct run *run, struct item *it, struct result *r)
{
	/* A creation time in the future: the clock was ahead when the message
	 * was queued.  Its age then counts from the first run that saw it
	 * (kept in the state), or it would never expire. */
	if (it->e.created > it->now && (!it->st.created || it->st.created > it->now))
		it->st.created = it->now;
	it->created = it->st.created ? it->st.created : it->e.created;
	it->expired = it->created && it->now - it->created > run->c->queue_lifetime;
	/* An expired message is tried once more, not kept for its back-off,
	 * and given up on only if that fails (as Postfix does): a clock that
	 * was behind, or a machine off for a week, must not turn deliverable
	 * mail into failed mail.  A next try further away than any back-off
	 * was set by a clock that was ahead: the message is due. */
	if (run->due_only && it->st.next_try > it->now && !it->expired &&
	    it->st.next_try - it->now <= QUEUE_BACKOFF_MAX)
		return 0;
	it->sess = session_for(run, &it->e, r);
	if (it->sess && it->sess->down) {
		if (it->expired)
			expire(run, it);
		else
			run->deferred++;
		return 0;
	}
	return 1;
}

/* One attempt: the only call of the delivery pipeline in a run.  Returns
 * 0 when every recipient got the message; otherwise r says why, and
 * it->pending holds the recipients that failed temporarily. */
static int
item_try(struct run *run, struct item *it, struct result *r)
{
	run->tried++;
	if (!it->sess) {
		/* No relay to try (its account is gone): still one log line
		 * per attempt, as SPEC 9 has it. */
		log_queue_event(run->c, it->id, &it->e, it->size, r->text, r);
		return -1;
	}
	struct delivery d = {
		.acct = &it->sess->acct, .sender = it->e.sender, .fd = it->fd,
		.start = it->off, .size = it->size, .queue_id = it->id, .uid = it->e.uid,
		.only = run->phase == RUN_SYSTEM_RELAY ? DELIVER_RELAY_ONLY : DELIVER_ALL,
	};
	struct deliver_report rep;

	deliver_run(&d, &it->e.rcpts, &it->sess->s, &rep, r);
	deliver_log(&d, &rep, NULL);
	deliver_recipients(&rep, DELIVER_DEFERRED, &it->pending);
	queue_outcomes_note(&it->out, &rep);
	deliver_report_free(&rep);
	return r->cls == RES_OK ? 0 : -1;
}

/* Accepted: out of q/ still under the lock (queue-remove.c), with the
 * state file a killed run may have left half-written. */
static void
item_delivered(struct run *run, struct item *it)
{
	char *snew = xasprintf("%s.new", it->spath);

	if (queue_remover_take(&run->rm, it->path) != 0) {
		/* Emptied instead, so that no run sends it again: the next one
		 * finds no envelope and moves it aside. */
		log_err("%s: delivered, but cannot be removed from the queue: %s", it->id,
			strerror(errno));
		if (ftruncate(it->fd, 0) != 0 || fsync(it->fd) != 0)
			log_err("%s: cannot empty it either (%s): it will be sent again", it->id,
				strerror(errno));
	}
	(void)queue_remover_take(&run->rm, it->spath);
	unlink(snew);
	free(snew);
	run->delivered++;           /* q/ is fsync'd at the end of the run */
	log_info("%s: delivered", it->id);
}

/* Some recipients are done: keep the message for the others only.  The
 * new file is durable, and locked, before the state says anything: after
 * a crash the old envelope would resend to the recipients done. */
static void
item_keep_pending(struct run *run, struct item *it)
{
	struct result wr;
	char *np = NULL;
	int nfd = -1;

	res_clear(&wr);
	if (queue_rewrite_rcpts(run->qdir, it->fd, it->off, &it->e, &it->pending, &np, &nfd,
			  &wr) == 0 && np) {
		if (fsync(nfd) != 0 || rename(np, it->path) != 0) {
			res_fail(&wr, RES_IOERR, "cannot replace %s: %s", it->path,
				 strerror(errno));
			unlink(np);
			close(nfd);
		} else {
			(void)fsync_dir_of(run->q, 1);
			close(it->fd);          /* the lock now is nfd's */
			it->fd = nfd;
		}
		free(np);
	}
	if (wr.cls != RES_OK)
		log_err("%s: %s; the recipients it reached will get it again", it->id, wr.text);
}

/* delay_warning (SPEC 12): one "delayed" notification per message, once
 * it has waited that long (the state records it). */
static void
delay_warning(struct run *run, struct item *it)
{
	if (!run->c->delay_warning || it->st.warned ||
	    it->now - it->created < run->c->delay_warning)
		return;
	it->st.warned = 1;
	notify(run, it, DSN_DELAYED, 0);
}

/* Not delivered: set aside, or kept for the next run (or expired). */
static void
item_failed(struct run *run, struct item *it, const struct result *r)
{
	res_merge(&run->worst, r);
	it->why = r;
	/* Deferred: in the log, and on stderr only with -v (a queue run from
	 * cron mails whatever it prints). */
	if (res_is_temporary(r))
		log_info("%s: %s", it->id, r->text);
	else
		log_err("%s: %s", it->id, r->text);
	if (it->st.attempts < QUEUE_ATTEMPTS_MAX)
		it->st.attempts++;
	if (res_is_message_refusal(r) && it->pending.n == 0) {
		give_up(run, it, r->text);
		return;
	}
	/* The relay is unreachable, or refuses the session or our settings:
	 * its other messages would fare no better in this run. */
	if (it->sess && (deliver_relay_down(r) || (!res_is_temporary(r) &&
						   !res_is_message_refusal(r))))
		it->sess->down = 1;
	if (it->pending.n)
		item_keep_pending(run, it);
	it->st.last_try = it->now;
	it->st.next_try = it->now + queue_backoff(it->st.attempts);
	str_copy(it->st.last_error, sizeof(it->st.last_error), r->text);
	if (it->pending.n && it->out.nrefused && !it->expired)
		notify(run, it, DSN_FAILED, 1);     /* the others stay queued */
	if (it->expired) {
		expire(run, it);
		return;
	}
	delay_warning(run, it);
	if (queue_state_save(it->fd, it->path, &it->st) != 0)
		log_err("warning: cannot write %s: %s", it->spath, strerror(errno));
	run->deferred++;
}

static void
item_close(struct item *it)
{
	if (it->fd >= 0)
		close(it->fd);                  /* releases the lock */
	queue_env_free(&it->e);
	addr_list_free(&it->pending);
	queue_outcomes_free(&it->out);
	free(it->path);
	free(it->spath);
}

static int
has_local(const struct addr_list *rcpts)
{
	for (size_t i = 0; i < rcpts->n; i++)
		if (addr_is_local(rcpts->v[i]))
			return 1;
	return 0;
}

/*
 * The first phase of a system run: the message's local recipients, as
 * root.  A message with none is left alone (no attempt, no back-off).
 * When they are done and relay recipients remain, the message is kept for
 * those only, as it was (no attempt counted): the second phase sends it.
 * A local failure is one as in any run (its back-off holds the relay
 * recipients too).
 */
static void
item_local(struct run *run, struct item *it)
{
	struct delivery d = {
		.sender = it->e.sender, .fd = it->fd, .start = it->off, .size = it->size,
		.queue_id = it->id, .only = DELIVER_LOCAL_ONLY,
	};
	struct deliver_report rep;
	struct result r;
	int nrelay = 0;

	if (!has_local(&it->e.rcpts))
		return;
	run->tried++;
	res_clear(&r);
	if (queue_system_root(&run->sys, &r) < 0) {
		item_failed(run, it, &r);
		return;
	}
	deliver_run(&d, &it->e.rcpts, NULL, &rep, &r);
	if (queue_system_user(&run->sys, &r) < 0)
		abort();                /* nothing more is done as root */
	deliver_log(&d, &rep, NULL);
	deliver_recipients(&rep, DELIVER_DEFERRED, &it->pending);
	deliver_report_free(&rep);
	for (size_t i = 0; i < it->e.rcpts.n; i++)
		if (!addr_is_local(it->e.rcpts.v[i])) {
			addr_list_add(&it->pending, it->e.rcpts.v[i]);
			nrelay++;
		}
	it->sess = NULL;            /* a mailbox's failure says nothing of the relay */
	if (r.cls != RES_OK)
		item_failed(run, it, &r);
	else if (nrelay)
		item_keep_pending(run, it);
	else
		item_delivered(run, it);
}

static void
process(struct run *run, const char *id)
{
	struct item it;
	struct result r;

	res_clear(&r);
	if (!item_open(run, id, &it)) {
		;       /* gone, another run's, or set aside */
	} else if (run->phase == RUN_SYSTEM_RELAY && has_local(&it.e.rcpts)) {
		;       /* root's next run delivers to its mailboxes first */
	} else if (item_due(run, &it, &r)) {
		if (run->phase == RUN_SYSTEM_LOCAL)
			item_local(run, &it);
		else if (item_try(run, &it, &r) == 0)
			item_delivered(run, &it);
		else
			item_failed(run, &it, &r);
	}
	item_close(&it);
}

/* Spool files that a killed mailout left in tmp/ a day ago or more: no
 * live process writes that slowly. */
static int
drop_stale_spool(const char *path, const char *name, const struct stat *st, time_t now,
		 void *arg)
{
	(void)name, (void)arg;
	if (!S_ISREG(st->st_mode) || now - st->st_mtime <= DAY)
		return 0;
	log_info("removing %s, left by an interrupted run", path);
	return 1;
}

/* q/ID.state and q/ID.state.new files whose message is gone (a run killed
 * between the two renames or unlinks), a day old or more. */
static int
drop_orphan_state(const char *path, const char *name, const struct stat *st, time_t now,
		  void *arg)
{
	const char *q = arg, *dot = strchr(name, '.');
	char *msg;
	int gone;

	(void)path;
	if (!dot || dot == name || (strcmp(dot, ".state") != 0 && strcmp(dot, ".state.new") != 0))
		return 0;
	if (!S_ISREG(st->st_mode) || now - st->st_mtime <= DAY)
		return 0;
	msg = xasprintf("%s/%.*s", q, (int)(dot - name), name);
	gone = access(msg, F_OK) != 0 && errno == ENOENT;
	free(msg);
	return gone;
}

static void
run_free(struct run *run)
{
	for (size_t i = 0; i < run->nsess; i++) {
		submit_free(run->sess[i].s);
		account_free(&run->sess[i].acct);
		free(run->sess[i].key);
	}
	free(run->sess);
	free(run->qdir);
	free(run->q);
	free(run->failed);
}

/* One pass over the queue (with the pickup and the sweeps first unless
 * only_id).  Returns 0, or -1 with r set when q/ cannot be read. */
static int
run_pass(struct run *run, const char *only_id, struct result *r)
{
	char **ids = NULL;
	size_t n = 0;

	if (only_id) {
		ids = xmalloc(sizeof(char *));
		ids[0] = xstrdup(only_id);
		n = 1;
	} else {
		if (run->phase != RUN_SYSTEM_RELAY) {
			char *tmp = xasprintf("%s/tmp", run->qdir);
			struct result pr;

			if (queue_pickup(run->c, &pr) < 0)
				log_err("%s", pr.text);
			queue_sweep_dir(tmp, drop_stale_spool, NULL);
			queue_sweep_dir(run->q, drop_orphan_state, run->q);
			free(tmp);
		}
		if (queue_list_ids(run->q, &ids, &n) < 0)
			return res_fail(r, RES_IOERR, "cannot read %s: %s", run->q, strerror(errno));
	}
	queue_remover_start(&run->rm, run->qdir);
	for (size_t i = 0; i < n; i++)
		process(run, ids[i]);
	queue_remover_finish(&run->rm);
	if (run->delivered)
		(void)fsync_dir_of(run->q, 1);   /* the removals (see the top) */
	queue_free_ids(ids, n);
	return 0;
}

/*
 * Root's run of the system queue (SPEC 11), in two passes.  The first
 * works in the spool with the system user's effective ids (so every file
 * it makes is that user's), takes root's back only to open dropped files,
 * to get each account's secret (passwordeval runs then, as root) and to
 * deliver to local mailboxes; a message's relay recipients wait.  Then
 * root is given up for good (queue_system_drop()), and the second pass
 * sends to the relays with the secrets already in memory.
 */
static int
run_system(struct run *run, const char *only_id, struct result *r)
{
	run->phase = RUN_SYSTEM_LOCAL;
	log_hold_file();        /* root's log file, written later without root */
	if (queue_system_user(&run->sys, r) < 0 ||
	    !(run->q = queue_subdir(run->qdir, "q", r)) ||
	    !(run->failed = queue_subdir(run->qdir, "failed", r)) ||
	    run_pass(run, only_id, r) < 0)
		return -1;
	if (queue_system_drop(&run->sys, r) < 0)
		return -1;
	run->phase = RUN_SYSTEM_RELAY;
	return run_pass(run, only_id, r);
}

int
queue_run(const struct config *c, int due_only, const char *only_id, struct result *r)
{
	struct run run = { .c = c, .due_only = due_only };
	int rc;

	res_clear(r);
	res_clear(&run.worst);
	run.qdir = xstrdup(c->queue_dir);
	if (queue_system_detect(c->queue_dir, &run.sys))
		rc = run_system(&run, only_id, r);
	else
		rc = !(run.q = queue_subdir(c->queue_dir, "q", r)) ||
		     !(run.failed = queue_subdir(c->queue_dir, "failed", r)) ||
		     run_pass(&run, only_id, r) < 0 ? -1 : 0;
	if (rc == 0) {
		log_info("queue run: %d tried, %d delivered, %d deferred, %d failed", run.tried,
			 run.delivered, run.deferred, run.failed_n);
		*r = run.worst;
	}
	queue_system_free(&run.sys);
	run_free(&run);
	return r->cls == RES_OK ? 0 : -1;
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
