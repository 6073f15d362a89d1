/* accept.c - the pipeline from an input stream to delivered or queued. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
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
#include "queue.h"
#include "submit.h"
#include "tls-files.h"
#include "util.h"

void
accept_init(struct job *j, const struct options *o, const struct config *cfg, int in_fd)
{
	memset(j, 0, sizeof(*j));
	j->o = o;
	j->cfg = cfg;
	j->in_fd = in_fd;
	j->ignore_dots = o->ignore_dots;
	j->read_recipients = o->read_recipients;
	j->sender_in = o->sender;
	j->msg.fd = -1;
}

static int
check_text(const char *what, const char *s, struct result *r)
{
	if (s && has_line_break(s))
		return res_fail(r, RES_USAGE, "%s contains a line break", what);
	return 0;
}

/*
 * -f and -r take what Postfix's sendmail takes: a bare address, or one in
 * angle brackets, or "Name <address>" (Postfix parses the argument as an
 * RFC 822 address and keeps the address).  Leaves j->sender_in a bare
 * address (a copy in j->sender_arg when it had to be taken apart), or ""
 * for the null sender.  Returns 0, or -1 with RES_USAGE.
 */
static int
sender_argument(struct job *j, struct result *r)
{
	struct addr_list l = { 0 };
	char err[256];
	int n;

	if (!j->sender_in || !*j->sender_in || addr_check(j->sender_in, err, sizeof(err)) == 0)
		return 0;
	if (has_line_break(j->sender_in))
		return res_fail(r, RES_USAGE, "sender: the address contains a line break");
	n = addr_parse_list(j->sender_in, strlen(j->sender_in), &l, err, sizeof(err));
	if (n != 1 && !(n == 0 && strstr(j->sender_in, "<>"))) {
		addr_list_free(&l);
		return res_fail(r, RES_USAGE, "sender: %s", n < 0 ? err : "give one address");
	}
	/* "Name <>" is the null sender, as "<>" is. */
	free(j->sender_arg);
	j->sender_arg = xstrdup(n == 1 ? l.v[0] : "");
	j->sender_in = j->sender_arg;
	addr_list_free(&l);
	return 0;
}

int
accept_choose_account(struct job *j, struct result *r)
{
	const struct options *o = j->o;
	const struct account *base;

	if (sender_argument(j, r) < 0)
		return -1;
	if (check_text("--host", o->host, r) < 0 || check_text("--user", o->user, r) < 0 ||
	    check_text("--passwordeval", o->passwordeval, r) < 0)
		return -1;
	if (o->host) {
		if (!*o->host || strspn(o->host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					"0123456789.-_:[]") != strlen(o->host))
			return res_fail(r, RES_USAGE, "--host: invalid host name");
		conf_account_from_defaults(j->cfg, &j->adhoc);
		free(j->adhoc.host);
		j->adhoc.host = xstrdup(o->host);
		conf_set_by_command_line(&j->adhoc, "host");
	} else {
		base = conf_choose(j->cfg, o->account, j->sender ? j->sender : j->sender_in, r);
		if (r->cls != RES_OK)
			return -1;
		if (!base) {
			if (o->port || o->tls || o->user || o->passwordeval)
				return res_fail(r, RES_USAGE,
						"--port, --tls, --user and --passwordeval need --host "
						"or a configured account");
			j->acct = NULL;
			return 0;
		}
		conf_account_copy(&j->adhoc, base);
	}
	{
		const struct overrides ov = {
			.port = o->port, .tls = o->tls, .user = o->user,
			.passwordeval = o->passwordeval,
		};
		if (account_apply_overrides(&j->adhoc, &ov, r) < 0)
			return -1;
	}
	j->acct = &j->adhoc;
	/* Settings that cannot work are a configuration error now, before
	 * anything is spooled, sent or queued (--dry-run included).
	 * --serverinfo does not authenticate.  --show-config: the account is
	 * chosen all the same and 0 returned with the problem in *r, so that
	 * main() prints the settings and then reports it. */
	if (conf_check_account(j->acct, o->mode != MODE_SERVERINFO, r) < 0 ||
	    tls_files_check(j->acct, r) < 0)
		return o->mode == MODE_SHOW_CONFIG ? 0 : -1;
	return 0;
}

static char *
default_sender(const struct job *j)
{
	if (j->acct && j->acct->from)
		return xstrdup(j->acct->from);
	return xasprintf("%s@%s", user_name(), host_fqdn());
}

/* The directory for the private copy: queue_dir/tmp, or $TMPDIR. */
static char *
spool_dir(const struct job *j, int *in_queue)
{
	char *dir = xasprintf("%s/tmp", j->cfg->queue_dir), why[PATH_MAX + 100];
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
	if (j->acct && j->o->port) {
		snprintf(port, sizeof(port), "%ld", j->acct->port);
		e.port = port;
	}
	e.tls = j->acct && j->o->tls ? (char *)conf_tls_name(j->acct->tls) : NULL;
	e.user = (char *)j->o->user;
	e.passwordeval = (char *)j->o->passwordeval;
	if (j->o->host || !j->acct)
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
		       conf_port(j->acct), conf_tls_name(j->acct->tls));
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
		remote = !local_is_local(j->expanded.v[i]);
	if (done || !remote || !queue_waiting(j->cfg->queue_dir))
		return;
	done = 1;
	log_info("the relay is up: delivering due queued messages in the background");
	queue_run_detached(j->cfg, NULL, 1);
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

		if (local_is_local(a))
			continue;
		remote = 1;
		if (!addr_is_ascii(a)) {
			const char *at = strrchr(a, '@');
			char *local = xstrndup(a, at ? (size_t)(at - a) : strlen(a));
			int idn = addr_is_ascii(local);

			free(local);
			return res_fail(r, j->read_recipients ? RES_DATAERR : RES_USAGE,
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

int
accept_message(struct job *j, struct result *r)
{
	const struct options *o = j->o;
	struct msg_fix fix = { 0 };
	struct addr_list pending = { 0 };
	struct submit *session = NULL;
	char *dir = NULL, *from_addr = NULL, *env = NULL;
	int qmode = j->cfg->queue, in_queue = 0, rc = -1;
	unsigned long logged = log_count();

	res_clear(r);
	if (o->queue && (qmode = conf_parse_queue(o->queue)) < 0)
		return res_fail(r, RES_USAGE, "--queue: one of never, onfail, always");
	if (check_text("-F", o->fullname, r) < 0)
		return -1;
	if (sender_argument(j, r) < 0)
		return -1;

	msg_init(&j->msg, j->in_fd, j->ignore_dots);
	if (msg_read_headers(&j->msg, r) < 0)
		goto out;
	if (j->read_recipients && msg_header_recipients(&j->msg, &j->rcpts, r) < 0)
		goto out;
	if (j->rcpts.n == 0) {
		res_fail(r, RES_USAGE, "no recipients: none given%s",
			 !j->read_recipients ? "" : msg_is_resent(&j->msg) ?
			 " and none in Resent-To, Resent-Cc or Resent-Bcc" :
			 " and none in To, Cc or Bcc");
		goto out;
	}
	if (j->sender_in)
		j->sender = xstrdup(j->sender_in);
	else if (o->read_envelope_from && !(j->sender = msg_from_address(&j->msg, r)))
		goto out;
	if (accept_choose_account(j, r) < 0)
		goto out;
	if (!j->sender)
		j->sender = default_sender(j);
	if (*j->sender && !strchr(j->sender, '@')) {
		/* "-f root" (cron): qualify it as Postfix's myorigin does, since
		 * relays refuse a sender without a domain. */
		char *q = xasprintf("%s@%s", j->sender, host_fqdn());
		free(j->sender);
		j->sender = q;
	}
	if (aliases_expand(j->cfg->aliases, &j->rcpts, &j->expanded, r) < 0 ||
	    check_relay_ascii(j, r) < 0)
		goto out;
	/* Refuse before accepting anything when nobody can take remote mail,
	 * or, unless partial_delivery allows the others to get it, when a
	 * local recipient is no user of this host. */
	if (deliver_check_relay(j->acct, &j->expanded, r) < 0)
		goto out;
	if (!(j->acct && j->acct->partial_delivery) && local_check_users(&j->expanded, r) < 0)
		goto out;

	/* The From header: the sender, or for the null sender who we are. */
	from_addr = *j->sender ? xstrdup(j->sender) : default_sender(j);
	if (j->acct && j->acct->rewrite_from && j->acct->from) {
		free(from_addr);
		from_addr = xstrdup(j->acct->from);
	}
	fix.from_addr = from_addr;
	fix.from_name = o->fullname ? o->fullname : j->acct ? j->acct->from_name : NULL;
	fix.rewrite_from = j->acct ? j->acct->rewrite_from : 0;
	fix.id_domain = addr_domain(from_addr) ? addr_domain(from_addr) : host_fqdn();

	dir = spool_dir(j, &in_queue);
	env = envelope_block(j);
	if (msg_spool(&j->msg, dir, env, &fix, r) < 0)
		goto out;

	if (o->dry_run) {
		print_dry_run(j);
		rc = 0;
		goto out;
	}
	if (qmode == QUEUE_ALWAYS && in_queue) {
		if (queue_keep(j->cfg->queue_dir, j->msg.path, j->msg.fd, j->msg.data_offset,
			       NULL, NULL, j->queue_id, sizeof(j->queue_id), r) < 0)
			goto out;
		j->queued = 1;
		log_err("queued as %s", j->queue_id);
		queue_run_detached(j->cfg, j->queue_id, 0);
		rc = 0;
		goto out;
	}
	{
		struct delivery d = {
			.acct = j->acct, .sender = j->sender, .fd = j->msg.fd,
			.start = j->msg.data_offset, .size = j->msg.size,
			.dsn_notify = o->dsn_notify, .dsn_ret = o->dsn_ret, .dsn_envid = o->dsn_envid,
		};
		/* The lines wait for the queue id, should the message be kept. */
		log_hold();
		rc = deliver_run(&d, &j->expanded, &session, &pending, &j->delivered, r);
	}
	if (pending.n && qmode != QUEUE_NEVER) {
		struct result qr;

		res_clear(&qr);
		if (!in_queue) {
			log_err("cannot queue: the queue directory %s is not usable",
				j->cfg->queue_dir);
		} else if (queue_keep(j->cfg->queue_dir, j->msg.path, j->msg.fd,
				      j->msg.data_offset, &pending, r->text, j->queue_id,
				      sizeof(j->queue_id), &qr) == 0) {
			j->queued = 1;
			log_err("queued as %s: %s", j->queue_id, r->text);
			/* Only temporary failures were queued; a permanent one still counts. */
			if (res_is_temporary(r)) {
				res_clear(r);
				rc = 0;
			}
		} else {
			log_err("cannot queue: %s", qr.text);
		}
	}
out:
	log_release(j->queued ? j->queue_id : NULL);
	/* One line per message, also when it never got as far as a delivery. */
	if (rc < 0 && !o->dry_run && r->cls != RES_USAGE && log_count() == logged)
		deliver_log_failure(j->acct, j->sender ? j->sender : j->sender_in,
				    j->expanded.n ? &j->expanded : &j->rcpts,
				    j->msg.path ? j->msg.size : -1, r);
	submit_free(session);
	if (rc == 0 && !o->dry_run && !j->queued && in_queue)
		flush_due_queue(j);
	addr_list_free(&pending);
	free(from_addr);
	free(env);
	free(dir);
	return rc;
}

void
accept_free(struct job *j)
{
	msg_free(&j->msg, j->queued);
	addr_list_free(&j->rcpts);
	addr_list_free(&j->expanded);
	addr_list_free(&j->delivered);
	conf_account_free(&j->adhoc);
	free(j->sender);
	free(j->sender_arg);
	memset(j, 0, sizeof(*j));
	j->msg.fd = -1;
}
