/* accept.c - the pipeline from an input stream to delivered or queued. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accept.h"
#include "aliases.h"
#include "deliver.h"
#include "local.h"
#include "log.h"
#include "message.h"
#include "queue.h"
#include "tls-files.h"
#include "util.h"

/* One message on its way: the submission and what the pipeline settles. */
struct job {
	const struct submission *s;
	struct receipt *rc;
	const char *sender_in;         /* s->sender, or sender_arg */
	char *sender_arg;              /* s->sender taken apart (owned) */
	struct addr_list rcpts;        /* s->rcpts, and with -t the headers' */
	struct account adhoc;          /* the chosen account with overrides */
	const struct account *acct;    /* NULL: no relay */
	char *sender;                  /* envelope sender; "" = null sender */
	struct addr_list expanded;     /* recipients after aliases */
	struct msg msg;
	char *dir;                     /* where the spool file is */
	int in_queue;                  /* dir is the queue's tmp/ */
	int qmode;
	const char *helper;            /* the system queue's, when this message may
	                                  go there (may_drop()); else NULL */
	int to_system;                 /* 1: it goes to the system queue whole */
	int kept;                      /* 1: the spool file is in our own queue */
	struct delivery d;             /* set when a delivery was tried */
	struct deliver_report rep;
};

void
accept_init(struct submission *s, const struct config *cfg, int in_fd)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->in_fd = in_fd;
	s->queue = -1;
}

static int
check_text(const char *what, const char *s, struct result *r)
{
	if (s && has_line_break(s))
		return res_fail(r, RES_USAGE, "%s contains a line break", what);
	return 0;
}

int
accept_sender(const char *given, char **bare, struct result *r)
{
	struct addr_list l = { 0 };
	char err[256];
	int n;

	*bare = NULL;
	if (!given || !*given || addr_check(given, err, sizeof(err)) == 0)
		return 0;
	if (has_line_break(given))
		return res_fail(r, RES_USAGE, "sender: the address contains a line break");
	n = addr_parse_list(given, strlen(given), &l, err, sizeof(err));
	if (n != 1 && !(n == 0 && strstr(given, "<>"))) {
		addr_list_free(&l);
		return res_fail(r, RES_USAGE, "sender: %s", n < 0 ? err : "give one address");
	}
	/* "Name <>" is the null sender, as "<>" is. */
	*bare = xstrdup(n == 1 ? l.v[0] : "");
	addr_list_free(&l);
	return 0;
}

int
accept_choose_account(const struct config *cfg, const struct account_request *req,
		      const char *sender, struct account *out, struct result *r)
{
	const struct overrides *ov = &req->ov;
	const struct account *base;

	memset(out, 0, sizeof(*out));
	if (check_text("--host", ov->host, r) < 0 || check_text("--user", ov->user, r) < 0 ||
	    check_text("--passwordeval", ov->passwordeval, r) < 0)
		return -1;
	if (ov->host) {
		if (!*ov->host || strspn(ov->host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					 "0123456789.-_:[]") != strlen(ov->host))
			return res_fail(r, RES_USAGE, "--host: invalid host name");
		conf_account_from_defaults(cfg, out);
		free(out->host);
		out->host = xstrdup(ov->host);
		account_set_by_command_line(out, "host");
	} else {
		base = conf_choose(cfg, req->account, sender, r);
		if (r->cls != RES_OK)
			return -1;
		if (!base) {
			if (ov->port || ov->tls || ov->user || ov->passwordeval)
				return res_fail(r, RES_USAGE,
						"--port, --tls, --user and --passwordeval need --host "
						"or a configured account");
			return 0;
		}
		account_copy(out, base);
	}
	if (account_apply_overrides(out, ov, r) < 0)
		return -1;
	return 1;
}

static char *
default_sender(const struct job *j)
{
	if (j->acct && j->acct->from)
		return xstrdup(j->acct->from);
	return xasprintf("%s@%s", user_name(), mail_domain());
}

/* The directory for the private copy: queue_dir/tmp, or $TMPDIR. */
static char *
spool_dir(const struct job *j, int *in_queue)
{
	char *dir = xasprintf("%s/tmp", j->s->cfg->queue_dir), why[PATH_MAX + 100];
	const char *t;
	int rc;

	*in_queue = 1;
	if ((rc = queue_dir_private(dir, why, sizeof(why))) == 0 && access(dir, W_OK) == 0)
		return dir;
	if (rc == -2)
		log_err("warning: not using the queue: %s (it must belong to you and be "
			"writable by no one else)", why);
	else
		log_info("cannot use %s (%s); spooling in the temporary directory", dir,
			 strerror(errno));
	free(dir);
	*in_queue = 0;
	t = getenv("TMPDIR");
	return xstrdup(t && *t ? t : "/tmp");
}

/* The envelope block written at the top of the spool file: enough for a
 * later queue run to deliver the message the same way. */
static char *
envelope_block(const struct job *j)
{
	struct queue_env e = { 0 };
	struct dynbuf d = { 0 };
	char port[16];

	/* --port, --tls, --user and --passwordeval are kept whether they go
	 * with --host or change an account for this message. */
	if (j->acct && j->s->route.ov.port) {
		snprintf(port, sizeof(port), "%ld", j->acct->port);
		e.port = port;
	}
	e.tls = j->acct && j->s->route.ov.tls ? (char *)conf_tls_name(j->acct->tls) : NULL;
	e.user = (char *)j->s->route.ov.user;
	e.passwordeval = (char *)j->s->route.ov.passwordeval;
	if (j->s->route.ov.host || !j->acct)
		e.host = j->acct ? j->acct->host : NULL;
	else
		e.account = j->acct->name;
	e.sender = j->sender;
	e.rcpts = j->expanded;
	e.created = time(NULL);
	queue_env_format(&d, &e);
	return d.s;
}

static void
print_dry_run(struct job *j)
{
	char buf[65536];
	ssize_t n;

	printf("Envelope-From: <%s>\n", j->sender);
	for (size_t i = 0; i < j->expanded.n; i++)
		printf("Envelope-To: <%s>\n", j->expanded.v[i]);
	if (j->acct && j->acct->host)
		printf("Account: %s (%s:%ld, tls %s)\n", j->acct->name, j->acct->host,
		       account_port(j->acct), conf_tls_name(j->acct->tls));
	else
		printf("Account: (local delivery)\n");
	printf("\n");
	fflush(stdout);
	while ((n = read(j->msg.fd, buf, sizeof(buf))) > 0)
		if (write_all(1, buf, (size_t)n) < 0)
			break;
}

/*
 * The relay just took a message: whatever this user has queued and is due
 * goes now too, in the background (as msmtpq flushes its queue when it can
 * send), so that a user whom no timer runs the queue for (www-data, PHP's
 * mail()) does not depend on one.  Once per process (-bs sends several).
 */
static void
flush_due_queue(const struct job *j)
{
	static int done;
	int remote = 0;

	for (size_t i = 0; i < j->expanded.n && !remote; i++)
		remote = !addr_is_local(j->expanded.v[i]);
	if (done || !remote || !queue_waiting(j->s->cfg->queue_dir))
		return;
	done = 1;
	log_info("the relay is up: delivering due queued messages in the background");
	queue_run_detached(j->s->cfg, NULL, 1);
}

/*
 * The addresses that go to the relay must be ASCII (see addr_is_ascii()):
 * refused here, where the caller still hears it, instead of sent raw.
 * 64 for what came from the command line, 65 for what came from the
 * message.
 */
static int
check_relay_ascii(const struct job *j, struct result *r)
{
	int remote = 0;

	for (size_t i = 0; i < j->expanded.n; i++) {
		const char *a = j->expanded.v[i];

		if (addr_is_local(a))
			continue;
		remote = 1;
		if (!addr_is_ascii(a)) {
			const char *at = strrchr(a, '@');
			char *local = xstrndup(a, at ? (size_t)(at - a) : strlen(a));
			int idn = addr_is_ascii(local);

			free(local);
			return res_fail(r, j->s->read_recipients ? RES_DATAERR : RES_USAGE,
					"recipient %s has non-ASCII characters, which need "
					"SMTPUTF8; mailout does not do SMTPUTF8%s", a, idn ?
					" (write the domain in its ASCII form, xn--...)" : "");
		}
	}
	if (remote && !addr_is_ascii(j->sender))
		return res_fail(r, j->sender_in ? RES_USAGE : RES_DATAERR,
				"sender %s has non-ASCII characters, which need SMTPUTF8; "
				"mailout does not do SMTPUTF8", j->sender);
	return 0;
}

/*
 * The envelope in canonical SMTP form (addr_canonical()), or refused
 * before anything is sent: 64 for what came from the command line, 65
 * for what came from the message.
 */
static int
canonical_envelope(struct job *j, struct result *r)
{
	char err[320], *c = *j->sender ? addr_canonical(j->sender, err, sizeof(err)) : xstrdup("");

	if (!c)
		return res_fail(r, j->sender_in ? RES_USAGE : RES_DATAERR, "sender %s", err);
	free(j->sender);
	j->sender = c;
	if (addr_list_canonical(&j->expanded, err, sizeof(err)) < 0)
		return res_fail(r, j->s->read_recipients ? RES_DATAERR : RES_USAGE,
				"recipient %s", err);
	return 0;
}

/* 1 when the account is the system file's (SPEC 2: its secret is the mail
 * system's; SPEC 10: its mail is queued in the system queue). */
static int
system_account(const struct account *a)
{
	return a && a->file && strcmp(a->file, SYSCONFDIR "/mailout.conf") == 0;
}

/*
 * Whether this message may go to the system queue (SPEC 11), and through
 * which helper: only for a caller that is not root (root's queue is the
 * system queue), when the helper is installed, when no relay setting came
 * from the command line (the system chooses the relay), and when the
 * account is not one of the user's own (they keep their own queue).
 */
static const char *
may_drop(const struct job *j)
{
	const struct overrides *ov = &j->s->route.ov;

	if (getuid() == 0 || ov->host || ov->port || ov->tls || ov->user || ov->passwordeval)
		return NULL;
	if (j->acct && !system_account(j->acct))
		return NULL;
	return queue_drop_helper();
}

/*
 * The whole message goes to the system queue when this user cannot send
 * it through the account the system would use: the system file exists but
 * is not readable by them (its accounts, aliases and secrets are the mail
 * system's), or the chosen system account authenticates with a secret
 * (a password, or a passwordeval command: it is never run as a user other
 * than root, so that nothing it reads can leak to them).  Nothing is run
 * to find this out.
 */
static int
goes_to_system(const struct job *j)
{
	if (!j->helper)
		return 0;
	if (!j->acct)
		return j->s->cfg->system_unreadable;
	return account_auth_enabled(j->acct) && (j->acct->password || j->acct->passwordeval);
}

/* Without the helper, why a message this user cannot send is not queued. */
static void
explain_no_system_queue(const struct job *j)
{
	if (getuid() != 0 && !j->helper && j->s->cfg->system_unreadable && !j->acct)
		log_err("%s is not readable by you, and the system queue is not installed "
			"(no set-group-id %s): nothing can take this message for the mail system",
			SYSCONFDIR "/mailout.conf", LIBEXECDIR "/mailout-drop");
}

/* Step 1: read the headers and settle recipients, envelope sender,
 * account and aliases; refuse what cannot go anywhere. */
static int
settle_envelope(struct job *j, struct result *r)
{
	const struct submission *s = j->s;
	int have;

	if (check_text("-F", s->fullname, r) < 0 ||
	    accept_sender(s->sender, &j->sender_arg, r) < 0)
		return -1;
	j->sender_in = j->sender_arg ? j->sender_arg : s->sender;
	msg_init(&j->msg, s->in_fd, s->ignore_dots);
	if (msg_read_headers(&j->msg, r) < 0)
		return -1;
	if (s->read_recipients && msg_header_recipients(&j->msg, &j->rcpts, r) < 0)
		return -1;
	if (j->rcpts.n == 0)
		return res_fail(r, RES_USAGE, "no recipients: none given%s",
				!s->read_recipients ? "" : msg_is_resent(&j->msg) ?
				" and none in Resent-To, Resent-Cc or Resent-Bcc" :
				" and none in To, Cc or Bcc");
	if (j->sender_in)
		j->sender = xstrdup(j->sender_in);
	else if (s->read_envelope_from && !(j->sender = msg_from_address(&j->msg, r)))
		return -1;
	if ((have = accept_choose_account(s->cfg, &s->route, j->sender, &j->adhoc, r)) < 0)
		return -1;
	j->acct = have ? &j->adhoc : NULL;
	j->helper = may_drop(j);
	j->to_system = goes_to_system(j);
	/* Settings that cannot work are a configuration error now, before
	 * anything is spooled, sent or queued (--dry-run included); the
	 * system queue's are the system's to check. */
	if (j->acct && !j->to_system &&
	    (account_check(j->acct, 1, r) < 0 || tls_files_check(j->acct, r) < 0))
		return -1;
	if (!j->sender)
		j->sender = default_sender(j);
	if (*j->sender && !strchr(j->sender, '@')) {
		/* "-f root" (cron): qualify it as Postfix's myorigin does, since
		 * relays refuse a sender without a domain. */
		char *q = xasprintf("%s@%s", j->sender, mail_domain());
		free(j->sender);
		j->sender = q;
	}
	if (aliases_expand(s->cfg->aliases, &j->rcpts, &j->expanded, r) < 0 ||
	    canonical_envelope(j, r) < 0 || check_relay_ascii(j, r) < 0)
		return -1;
	/* The system knows its relay, aliases and users. */
	if (j->to_system)
		return 0;
	/* Refuse before accepting anything when nobody can take remote mail,
	 * or, unless partial_delivery allows the others to get it, when a
	 * local recipient is no user of this host. */
	if (deliver_check_relay(j->acct, &j->expanded, r) < 0) {
		explain_no_system_queue(j);
		return -1;
	}
	if (!(j->acct && j->acct->partial_delivery) && addr_check_local_users(&j->expanded, r) < 0)
		return -1;
	return 0;
}

/* Step 2: the message with its envelope block and the headers it lacks,
 * in a private file (the queue's tmp/ when usable). */
static int
spool_message(struct job *j, struct result *r)
{
	struct msg_fix fix = { 0 };
	char *from_addr, *env;
	int rc;

	/* The From header: the sender, or for the null sender who we are. */
	from_addr = *j->sender ? xstrdup(j->sender) : default_sender(j);
	if (j->acct && j->acct->rewrite_from && j->acct->from) {
		free(from_addr);
		from_addr = xstrdup(j->acct->from);
	}
	fix.from_addr = from_addr;
	fix.from_name = j->s->fullname ? j->s->fullname : j->acct ? j->acct->from_name : NULL;
	fix.rewrite_from = j->acct ? j->acct->rewrite_from : 0;
	fix.id_domain = addr_domain(from_addr) ? addr_domain(from_addr) : host_fqdn();
	j->dir = spool_dir(j, &j->in_queue);
	env = envelope_block(j);
	rc = msg_spool(&j->msg, j->dir, env, &fix, r);
	free(env);
	free(from_addr);
	return rc;
}

/* Keep the spooled message in the queue, for pending only (NULL: every
 * recipient), with why as the last error.  0, or -1 with *r. */
static int
keep(struct job *j, const struct addr_list *pending, const char *why, struct result *r)
{
	if (queue_keep(j->s->cfg->queue_dir, j->msg.path, j->msg.fd, j->msg.data_offset,
		       pending, why, j->rc->queue_id, sizeof(j->rc->queue_id), r) < 0)
		return -1;
	j->rc->queued = 1;
	j->kept = 1;
	return 0;
}

/* Hand the spooled message to the system queue for rcpts (NULL: every
 * recipient).  0, or -1 with *r. */
static int
drop(struct job *j, const struct addr_list *rcpts, struct result *r)
{
	struct queue_env e = { 0 };

	e.account = system_account(j->acct) ? j->acct->name : NULL;
	e.sender = j->sender;
	e.rcpts = rcpts ? *rcpts : j->expanded;
	if (queue_drop(j->helper, j->msg.fd, j->msg.data_offset, &e, j->rc->queue_id,
		       sizeof(j->rc->queue_id), r) < 0) {
		log_err("cannot hand the message to the system queue: %s", r->text);
		return -1;
	}
	j->rc->queued = 1;
	log_err("queued in the system queue (%s) as %s: the mail system delivers it",
		LOCALSTATEDIR "/spool/mailout", j->rc->queue_id);
	return 0;
}

/*
 * After a delivery, what the system queue takes (SPEC 11): the deferred
 * recipients unless queue = never (this user's own queue serves only their
 * own accounts), and the local ones whose mailbox this user may not create.
 * Returns 0 when that leaves no failure to report; else -1 with *r the
 * failures of the others (or the drop's own failure).
 */
static int
drop_undelivered(struct job *j, struct result *r)
{
	struct addr_list todo = { 0 };
	struct result left;
	int rc;

	res_clear(&left);
	for (size_t i = 0; i < j->rep.n; i++) {
		const struct deliver_outcome *o = &j->rep.v[i];
		int take = (o->state == DELIVER_DEFERRED && j->qmode != QUEUE_NEVER) ||
			   (!o->remote && o->r.cls == RES_CANTCREAT);

		if (o->state == DELIVER_DELIVERED)
			continue;
		for (size_t k = 0; take && k < o->rcpts.n; k++)
			addr_list_add(&todo, o->rcpts.v[k]);
		if (!take)
			res_merge(&left, &o->r);
	}
	rc = todo.n ? drop(j, &todo, r) : 0;
	addr_list_free(&todo);
	if (rc < 0)
		return -1;
	if (left.cls != RES_OK) {
		*r = left;
		return -1;
	}
	res_clear(r);
	return 0;
}

/* queue = onfail (or always, with the queue unusable): the recipients
 * deferred are queued.  Returns 0 when that leaves no failure to report. */
static int
queue_deferred(struct job *j, const struct addr_list *pending, struct result *r)
{
	struct result qr;

	res_clear(&qr);
	if (!j->in_queue) {
		log_err("cannot queue: the queue directory %s is not usable%s",
			j->s->cfg->queue_dir, getuid() == 0 || queue_drop_helper() ? "" :
			", and the system queue "
			"is not installed (no set-group-id " LIBEXECDIR "/mailout-drop)");
		return -1;
	}
	if (keep(j, pending, r->text, &qr) < 0) {
		log_err("cannot queue: %s", qr.text);
		return -1;
	}
	log_err("queued as %s: %s", j->rc->queue_id, r->text);
	/* Only temporary failures were queued; a permanent one still counts. */
	if (!res_is_temporary(r))
		return -1;
	res_clear(r);
	return 0;
}

/* Step 3: print (--dry-run), queue (queue = always) or deliver. */
static int
dispatch(struct job *j, struct result *r)
{
	const struct submission *s = j->s;
	struct addr_list pending = { 0 };
	int rc;

	if (s->dry_run) {
		print_dry_run(j);
		return 0;
	}
	if (j->to_system || (j->helper && j->qmode == QUEUE_ALWAYS))
		return drop(j, NULL, r);
	if (j->qmode == QUEUE_ALWAYS && j->in_queue) {
		if (keep(j, NULL, NULL, r) < 0)
			return -1;
		log_err("queued as %s", j->rc->queue_id);
		queue_run_detached(s->cfg, j->rc->queue_id, 0);
		return 0;
	}
	j->d = (struct delivery){
		.acct = j->acct, .sender = j->sender, .fd = j->msg.fd,
		.start = j->msg.data_offset, .size = j->msg.size,
		.dsn_notify = s->dsn_notify, .dsn_ret = s->dsn_ret, .dsn_envid = s->dsn_envid,
	};
	rc = deliver_run(&j->d, &j->expanded, NULL, &j->rep, r);
	if (rc < 0 && j->helper && j->rep.n)
		return drop_undelivered(j, r);
	deliver_recipients(&j->rep, DELIVER_DEFERRED, &pending);
	if (pending.n && j->qmode != QUEUE_NEVER)
		rc = queue_deferred(j, &pending, r);
	addr_list_free(&pending);
	return rc;
}

/* Step 4: the log lines, now that the queue id is known; one line per
 * message also when it never got as far as a delivery. */
static void
record(struct job *j, int rc, const struct result *r)
{
	struct addr_list got = { 0 };

	if (j->rep.n) {
		deliver_log(&j->d, &j->rep, j->rc->queued ? j->rc->queue_id : NULL);
	} else if (rc < 0 && !j->s->dry_run && r->cls != RES_USAGE) {
		deliver_log_failure(j->acct, j->sender ? j->sender : j->sender_in,
				    j->expanded.n ? &j->expanded : &j->rcpts,
				    j->msg.path ? j->msg.size : -1, r);
	}
	deliver_recipients(&j->rep, DELIVER_DELIVERED, &got);
	j->rc->ndelivered = got.n;
	j->rc->nrcpts = j->expanded.n;
	addr_list_free(&got);
}

static void
job_free(struct job *j)
{
	msg_free(&j->msg, j->kept);
	deliver_report_free(&j->rep);
	addr_list_free(&j->rcpts);
	addr_list_free(&j->expanded);
	account_free(&j->adhoc);
	free(j->sender);
	free(j->sender_arg);
	free(j->dir);
}

int
accept_message(const struct submission *s, struct receipt *rc, struct result *r)
{
	struct job j = { .s = s, .rc = rc, .msg.fd = -1 };
	int ret;

	memset(rc, 0, sizeof(*rc));
	res_clear(r);
	j.qmode = s->queue >= 0 ? s->queue : (int)s->cfg->queue;
	for (size_t i = 0; i < s->rcpts.n; i++)
		addr_list_add(&j.rcpts, s->rcpts.v[i]);
	ret = settle_envelope(&j, r) == 0 && spool_message(&j, r) == 0 ? dispatch(&j, r) : -1;
	record(&j, ret, r);
	if (ret == 0 && !s->dry_run && !rc->queued && j.in_queue)
		flush_due_queue(&j);
	job_free(&j);
	return ret;
}
