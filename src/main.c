/*
 * main.c - personality, mode dispatch and the delivery pipeline.
 *
 *   argv + config -> options/account -> spool file + envelope
 *   -> deliver (local | relay) -> queue on temporary failure
 *   -> result -> log line + exit status
 *
 * The only place that calls exit() and maps a result to a status.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "aliases.h"
#include "cli.h"
#include "conf.h"
#include "deliver.h"
#include "log.h"
#include "message.h"
#include "queue.h"
#include "result.h"
#include "submit.h"
#include "util.h"

/* Everything one message needs, built step by step. */
struct job {
	struct options *o;
	struct config cfg;
	struct account adhoc;          /* --host, or the chosen account with overrides */
	const struct account *acct;    /* NULL: no relay */
	char *sender;                  /* envelope sender; "" = null sender */
	struct addr_list rcpts;        /* from operands and -t */
	struct addr_list expanded;     /* after aliases */
	struct msg msg;
};

static int
finish(struct result *r)
{
	if (r->cls != RES_OK)
		log_err("%s", r->text);
	return res_exit_code(r->cls);
}

/* Parse every recipient operand ("a@x,b@y", "Name <a@x>"). */
static int
operand_recipients(struct job *j, struct result *r)
{
	char err[256];

	for (size_t i = 0; i < j->o->recipients.n; i++) {
		const char *a = j->o->recipients.v[i];
		if (addr_parse_list(a, strlen(a), &j->rcpts, err, sizeof(err)) < 0)
			return res_fail(r, RES_USAGE, "recipient \"%s\": %s",
					has_line_break(a) ? "(with a line break)" : a, err);
	}
	return 0;
}

static int
check_text(const char *what, const char *s, struct result *r)
{
	if (s && has_line_break(s))
		return res_fail(r, RES_USAGE, "%s contains a line break", what);
	return 0;
}

/* The account, with --host/--port/--tls/--user/--passwordeval applied. */
static int
choose_account(struct job *j, struct result *r)
{
	const struct options *o = j->o;
	const struct account *base;
	long port;

	if (check_text("--host", o->host, r) < 0 || check_text("--user", o->user, r) < 0 ||
	    check_text("--passwordeval", o->passwordeval, r) < 0)
		return -1;
	if (o->host) {
		if (strspn(o->host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			   "0123456789.-_:[]") != strlen(o->host) || !*o->host)
			return res_fail(r, RES_USAGE, "--host: invalid host name");
		conf_account_from_defaults(&j->cfg, &j->adhoc);
		free(j->adhoc.host);
		j->adhoc.host = xstrdup(o->host);
	} else {
		base = conf_choose(&j->cfg, o->account, j->sender, r);
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
	if (o->port) {
		if (strspn(o->port, "0123456789") != strlen(o->port) ||
		    sscanf(o->port, "%ld", &port) != 1 || port < 1 || port > 65535)
			return res_fail(r, RES_USAGE, "--port: not a port number: %s", o->port);
		j->adhoc.port = port;
	}
	if (o->tls) {
		int t = conf_parse_tls(o->tls);
		if (t < 0)
			return res_fail(r, RES_USAGE, "--tls: one of starttls, smtps, off");
		j->adhoc.tls = (enum tls_mode)t;
	}
	if (o->user) {
		free(j->adhoc.user);
		j->adhoc.user = xstrdup(o->user);
	}
	if (o->passwordeval) {
		free_secret(j->adhoc.password);
		j->adhoc.password = NULL;
		free(j->adhoc.passwordeval);
		j->adhoc.passwordeval = xstrdup(o->passwordeval);
	}
	j->acct = &j->adhoc;
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
	char *dir = xasprintf("%s/tmp", j->cfg.queue_dir);
	const char *t;

	*in_queue = 1;
	if (mkdir_p(dir, 0700) == 0 && access(dir, W_OK) == 0)
		return dir;
	log_info("cannot use %s (%s); spooling in the temporary directory", dir,
		 strerror(errno));
	free(dir);
	*in_queue = 0;
	t = getenv("TMPDIR");
	return xstrdup(t && *t ? t : "/tmp");
}

/* The envelope block written at the top of the spool file. */
static char *
envelope_block(const struct job *j)
{
	struct queue_env e = { 0 };
	struct dynbuf d = { 0 };
	char port[16];

	if (j->o->host || !j->acct) {
		e.host = j->acct ? j->acct->host : NULL;
		if (j->acct && j->o->port) {
			snprintf(port, sizeof(port), "%ld", j->acct->port);
			e.port = port;
		}
		e.tls = j->o->tls ? (char *)conf_tls_name(j->acct->tls) : NULL;
		e.user = (char *)j->o->user;
		e.passwordeval = (char *)j->o->passwordeval;
	} else {
		e.account = j->acct->name;
	}
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

/* queue = always: deliver in a detached child, so the caller returns now. */
static void
deliver_in_background(const struct config *c, const char *id)
{
	pid_t pid = fork();

	if (pid != 0) {
		if (pid > 0)
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
		return;
	}
	/* First child: a new session, then a grandchild that init adopts. */
	if (setsid() < 0 || fork() != 0)
		_exit(0);
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	struct result r;
	queue_run(c, 0, id, &r);
	_exit(0);
}

static int
queue_mode(const struct job *j, struct result *r)
{
	int m = j->cfg.queue;

	if (j->o->queue && (m = conf_parse_queue(j->o->queue)) < 0)
		return res_fail(r, RES_USAGE, "--queue: one of never, onfail, always");
	return m;
}

static int
deliver(struct options *o)
{
	struct job j;
	struct result r;
	struct msg_fix fix = { 0 };
	struct addr_list pending = { 0 };
	struct submit *session = NULL;
	char *dir = NULL, *from_addr = NULL, *env = NULL, err[256], id[64];
	int status, qmode, in_queue, queued = 0;

	memset(&j, 0, sizeof(j));
	j.o = o;
	j.msg.fd = -1;
	res_clear(&r);

	if (o->compose || o->attach.n) {
		res_fail(&r, RES_USAGE, "compose mode and attachments (-s, -a, --cc, --bcc, "
			 "--from, mail/mailx) are not available in this version");
		goto done;
	}
	if (check_text("-F", o->fullname, &r) < 0)
		goto done;
	if (o->sender && *o->sender && addr_check(o->sender, err, sizeof(err)) < 0) {
		res_fail(&r, RES_USAGE, "-f: %s", err);
		goto done;
	}
	if (operand_recipients(&j, &r) < 0)
		goto done;
	if (!o->read_recipients && j.rcpts.n == 0) {
		res_fail(&r, RES_USAGE, "no recipients (give addresses, or -t to read them "
			 "from the message)");
		goto done;
	}
	if (conf_load(&j.cfg, o->config_file, &r) < 0)
		goto done;
	if ((qmode = queue_mode(&j, &r)) < 0)
		goto done;
	log_setup(o->logfile ? o->logfile : j.cfg.logfile, j.cfg.syslog);

	msg_init(&j.msg, 0, o->ignore_dots);
	if (msg_read_headers(&j.msg, &r) < 0)
		goto done;
	if (o->read_recipients && msg_header_recipients(&j.msg, &j.rcpts, &r) < 0)
		goto done;
	if (j.rcpts.n == 0) {
		res_fail(&r, RES_USAGE, "no recipients: none given and none in To, Cc or Bcc");
		goto done;
	}
	if (o->sender)
		j.sender = xstrdup(o->sender);
	else if (o->read_envelope_from && !(j.sender = msg_from_address(&j.msg, &r)))
		goto done;
	if (choose_account(&j, &r) < 0)
		goto done;
	if (!j.sender)
		j.sender = default_sender(&j);
	if (aliases_expand(j.cfg.aliases, &j.rcpts, &j.expanded, &r) < 0)
		goto done;

	/* Refuse before accepting anything when nobody can take remote mail. */
	if (deliver_check_relay(j.acct, &j.expanded, &r) < 0)
		goto done;

	/* The From header: the sender, or for the null sender who we are. */
	from_addr = *j.sender ? xstrdup(j.sender) : default_sender(&j);
	if (j.acct && j.acct->rewrite_from && j.acct->from) {
		free(from_addr);
		from_addr = xstrdup(j.acct->from);
	}
	fix.from_addr = from_addr;
	fix.from_name = o->fullname ? o->fullname : j.acct ? j.acct->from_name : NULL;
	fix.rewrite_from = j.acct ? j.acct->rewrite_from : 0;
	fix.id_domain = addr_domain(from_addr) ? addr_domain(from_addr) : host_fqdn();

	dir = spool_dir(&j, &in_queue);
	env = envelope_block(&j);
	if (msg_spool(&j.msg, dir, env, &fix, &r) < 0)
		goto done;

	if (o->dry_run) {
		print_dry_run(&j);
		goto done;
	}
	if (qmode == QUEUE_ALWAYS && in_queue) {
		if (queue_keep(j.cfg.queue_dir, j.msg.path, j.msg.fd, j.msg.data_offset, NULL,
			       NULL, id, sizeof(id), &r) < 0)
			goto done;
		queued = 1;
		log_err("queued as %s", id);
		deliver_in_background(&j.cfg, id);
		goto done;
	}

	{
		struct delivery d = {
			.acct = j.acct, .sender = j.sender, .fd = j.msg.fd,
			.start = j.msg.data_offset, .size = j.msg.size,
			.dsn_notify = o->dsn_notify, .dsn_ret = o->dsn_ret, .dsn_envid = o->dsn_envid,
		};
		deliver_run(&d, &j.expanded, &session, &pending, &r);
	}
	if (pending.n && qmode != QUEUE_NEVER) {
		struct result qr;

		res_clear(&qr);
		if (!in_queue) {
			log_err("cannot queue: the queue directory %s is not usable",
				j.cfg.queue_dir);
		} else if (queue_keep(j.cfg.queue_dir, j.msg.path, j.msg.fd, j.msg.data_offset,
				      &pending, r.text, id, sizeof(id), &qr) == 0) {
			queued = 1;
			log_err("queued as %s: %s", id, r.text);
			/* Only temporary failures were queued; a permanent one still counts. */
			if (res_is_temporary(&r))
				res_clear(&r);
		} else {
			log_err("cannot queue: %s", qr.text);
		}
	}
done:
	submit_free(session);
	status = finish(&r);
	msg_free(&j.msg, queued);
	addr_list_free(&pending);
	addr_list_free(&j.rcpts);
	addr_list_free(&j.expanded);
	conf_account_free(&j.adhoc);
	conf_free(&j.cfg);
	free(j.sender);
	free(from_addr);
	free(env);
	free(dir);
	return status;
}

static int
show_config(struct options *o)
{
	struct job j;
	struct result r;
	int status;

	memset(&j, 0, sizeof(j));
	j.o = o;
	res_clear(&r);
	if (conf_load(&j.cfg, o->config_file, &r) == 0) {
		j.sender = o->sender ? xstrdup(o->sender) : NULL;
		if (choose_account(&j, &r) == 0)
			conf_show(stdout, &j.cfg, j.acct);
	}
	status = finish(&r);
	conf_account_free(&j.adhoc);
	conf_free(&j.cfg);
	free(j.sender);
	return status;
}

static int
queue_mode_run(struct options *o)
{
	struct config cfg;
	struct result r;
	int status;

	res_clear(&r);
	if (conf_load(&cfg, o->config_file, &r) == 0) {
		log_setup(o->logfile ? o->logfile : cfg.logfile, cfg.syslog);
		if (o->mode == MODE_LIST_QUEUE) {
			queue_list(&cfg, stdout, &r);
		} else {
			queue_run(&cfg, o->queue_due_only, NULL, &r);
			/* Each message's failure was reported; the run itself is
			 * fine when messages were merely deferred. */
			if (res_is_temporary(&r))
				res_clear(&r);
			else if (r.cls != RES_OK)
				snprintf(r.text, sizeof(r.text), "some queued messages failed "
					 "permanently and were moved to failed/ (see mailq)");
		}
	}
	status = finish(&r);
	conf_free(&cfg);
	return status;
}

int
main(int argc, char **argv)
{
	struct options o;
	struct result r;
	int status;

	signal(SIGPIPE, SIG_IGN);
	umask(077);
	res_clear(&r);
	if (cli_parse(argc, argv, &o, &r) < 0) {
		status = finish(&r);
		cli_free(&o);
		exit(status);
	}
	log_verbose_level = o.verbose;
	switch (o.mode) {
	case MODE_HELP:
		cli_help(stdout);
		status = 0;
		break;
	case MODE_VERSION:
		printf("mailout %s\n", PACKAGE_VERSION);
		status = 0;
		break;
	case MODE_NOOP:
		status = 0;
		break;
	case MODE_SHOW_CONFIG:
		status = show_config(&o);
		break;
	case MODE_DELIVER:
		status = deliver(&o);
		break;
	case MODE_LIST_QUEUE:
	case MODE_RUN_QUEUE:
		status = queue_mode_run(&o);
		break;
	case MODE_SMTPD:
	case MODE_SERVERINFO:
	default:
		res_fail(&r, RES_USAGE, "%s is not available in this version",
			 o.mode == MODE_SMTPD ? "SMTP on standard input (-bs)" : "--serverinfo");
		status = finish(&r);
		break;
	}
	cli_free(&o);
	exit(status);
}
