/*
 * main.c - personality, mode dispatch and the delivery pipeline.
 *
 *   argv + config -> options/account -> spool file + envelope
 *   -> local | submit -> result -> log line + exit status
 *
 * The only place that calls exit() and maps a result to a status.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "address.h"
#include "aliases.h"
#include "cli.h"
#include "conf.h"
#include "local.h"
#include "log.h"
#include "message.h"
#include "result.h"
#include "submit.h"
#include "util.h"

/* Everything one delivery needs, built step by step. */
struct job {
	struct options *o;
	struct config cfg;
	struct account adhoc;          /* --host, or the chosen account with overrides */
	const struct account *acct;    /* NULL: no relay */
	char *sender;                  /* envelope sender; "" = null sender */
	struct addr_list rcpts;        /* after -t, before aliases */
	struct addr_list local, remote;
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

/* Apply --host/--port/--tls/--user/--passwordeval. */
static int
choose_account(struct job *j, struct result *r)
{
	const struct options *o = j->o;
	const struct account *base;
	long port;

	if (o->host) {
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
		if (sscanf(o->port, "%ld", &port) != 1 || port < 1 || port > 65535 ||
		    strspn(o->port, "0123456789") != strlen(o->port))
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
	if (o->host && strspn(o->host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			      "0123456789.-_:[]") != strlen(o->host))
		return res_fail(r, RES_USAGE, "--host: invalid host name");
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
spool_dir(const struct job *j)
{
	char *dir = xasprintf("%s/tmp", j->cfg.queue_dir);
	const char *t;

	if (mkdir_p(dir, 0700) == 0 && access(dir, W_OK) == 0)
		return dir;
	log_info("cannot use %s (%s); spooling in the temporary directory", dir,
		 strerror(errno));
	free(dir);
	t = getenv("TMPDIR");
	return xstrdup(t && *t ? t : "/tmp");
}

static void
print_dry_run(struct job *j)
{
	char buf[65536];
	ssize_t n;

	printf("Envelope-From: <%s>\n", j->sender);
	for (size_t i = 0; i < j->local.n; i++)
		printf("Envelope-To: <%s>\n", j->local.v[i]);
	for (size_t i = 0; i < j->remote.n; i++)
		printf("Envelope-To: <%s>\n", j->remote.v[i]);
	if (j->acct && j->remote.n)
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

static char *
join(const struct addr_list *l)
{
	struct dynbuf d = { 0 };

	for (size_t i = 0; i < l->n; i++) {
		if (i)
			db_addc(&d, ',');
		db_adds(&d, l->v[i]);
	}
	return d.s ? d.s : xstrdup("");
}

static void
log_result(const struct job *j, const struct addr_list *to, const char *host, int tls,
	   int auth, const struct result *r)
{
	char *rcpts = join(to);
	struct log_entry e = {
		.host = host, .tls = tls, .auth = auth,
		.user = host && auth ? j->acct->user : NULL,
		.from = *j->sender ? j->sender : "<>",
		.recipients = rcpts,
		.mailsize = (long long)j->msg.size,
		.smtpstatus = r->smtp_code,
		.smtpmsg = r->smtp_code ? r->reply : NULL,
		.errormsg = r->cls != RES_OK ? r->text : NULL,
		.exitcode = res_exit_name(r->cls),
	};
	log_delivery(&e);
	free(rcpts);
}

static void
deliver_local(struct job *j, struct result *total)
{
	for (size_t i = 0; i < j->local.n; i++) {
		struct addr_list one = { &j->local.v[i], 1, 1 };
		struct result r;
		char where[4096];

		res_clear(&r);
		if (local_deliver(j->local.v[i], j->sender, j->msg.fd, where, sizeof(where),
				  &r) == 0)
			log_info("delivered to %s for %s", where, j->local.v[i]);
		log_result(j, &one, NULL, 0, 0, &r);
		res_merge(total, &r);
	}
}

static void
deliver_remote(struct job *j, struct result *total)
{
	struct submit_envelope env = {
		.sender = j->sender, .rcpts = &j->remote,
		.dsn_notify = j->o->dsn_notify, .dsn_ret = j->o->dsn_ret,
		.dsn_envid = j->o->dsn_envid,
	};
	struct submit *s;
	struct result r;

	res_clear(&r);
	if (submit_global_init() < 0) {
		res_fail(&r, RES_SOFTWARE, "cannot initialise libcurl");
		res_merge(total, &r);
		return;
	}
	s = submit_new(j->acct, &r);
	if (s && lseek(j->msg.fd, 0, SEEK_SET) == 0 &&
	    submit_message(s, &env, j->msg.fd, &r) == 0)
		log_info("delivered to %s via %s (%d)", j->remote.n == 1 ? j->remote.v[0]
			 : "the recipients", j->acct->host, r.smtp_code);
	log_result(j, &j->remote, j->acct->host, s ? submit_used_tls(s) : 0,
		   s ? submit_used_auth(s) : 0, &r);
	submit_free(s);
	res_merge(total, &r);
}

static int
check_name(const char *what, const char *s, struct result *r)
{
	if (s && has_line_break(s))
		return res_fail(r, RES_USAGE, "%s contains a line break", what);
	return 0;
}

static int
deliver(struct options *o)
{
	struct job j;
	struct result r;
	struct msg_fix fix = { 0 };
	char *dir = NULL, *from_addr = NULL, err[256];
	int status;

	memset(&j, 0, sizeof(j));
	j.o = o;
	j.msg.fd = -1;
	res_clear(&r);

	if (o->compose || o->attach.n) {
		res_fail(&r, RES_USAGE, "compose mode and attachments (-s, -a, --cc, --bcc, "
			 "--from, mail/mailx) are not available in this version");
		goto done;
	}
	if (check_name("-F", o->fullname, &r) < 0)
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
	if (log_setup(o->logfile ? o->logfile : j.cfg.logfile, j.cfg.syslog) < 0) {
		res_fail(&r, RES_CONFIG, "unknown syslog facility %s", j.cfg.syslog);
		goto done;
	}

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

	{
		struct addr_list expanded = { 0 };
		if (aliases_expand(j.cfg.aliases, &j.rcpts, &expanded, &r) < 0) {
			addr_list_free(&expanded);
			goto done;
		}
		for (size_t i = 0; i < expanded.n; i++)
			addr_list_add(local_is_local(expanded.v[i]) ? &j.local : &j.remote,
				      expanded.v[i]);
		addr_list_free(&expanded);
	}
	if (j.remote.n && (!j.acct || !j.acct->host)) {
		res_fail(&r, RES_CONFIG,
			 "no relay is configured for %s%s: add an account with a host to "
			 "~/.config/mailout/config or /etc/mailout.conf (see mailout.conf(5), "
			 "EXAMPLES), or pass --host", j.remote.v[0],
			 j.remote.n > 1 ? " and other recipients" : "");
		goto done;
	}

	/* From header: the sender, or for the null sender who we are. */
	from_addr = *j.sender ? xstrdup(j.sender) : default_sender(&j);
	fix.from_addr = from_addr;
	fix.from_name = o->fullname ? o->fullname : j.acct ? j.acct->from_name : NULL;
	fix.rewrite_from = j.acct ? j.acct->rewrite_from : 0;
	fix.id_domain = addr_domain(from_addr) ? addr_domain(from_addr) : host_fqdn();
	if (fix.rewrite_from && j.acct->from) {
		free(from_addr);
		from_addr = xstrdup(j.acct->from);
		fix.from_addr = from_addr;
	}
	dir = spool_dir(&j);
	if (msg_spool(&j.msg, dir, &fix, &r) < 0)
		goto done;

	if (o->dry_run) {
		print_dry_run(&j);
		goto done;
	}
	if (j.local.n)
		deliver_local(&j, &r);
	if (j.remote.n)
		deliver_remote(&j, &r);
done:
	status = finish(&r);
	msg_free(&j.msg, 0);
	addr_list_free(&j.rcpts);
	addr_list_free(&j.local);
	addr_list_free(&j.remote);
	conf_account_free(&j.adhoc);
	conf_free(&j.cfg);
	free(j.sender);
	free(from_addr);
	free(dir);
	return status;
}

static int
show_config(struct options *o)
{
	struct config cfg;
	struct job j;
	struct result r;
	int status;

	memset(&j, 0, sizeof(j));
	j.o = o;
	res_clear(&r);
	if (conf_load(&cfg, o->config_file, &r) < 0) {
		conf_free(&cfg);
		return finish(&r);
	}
	j.cfg = cfg;
	j.sender = o->sender ? xstrdup(o->sender) : NULL;
	if (choose_account(&j, &r) == 0)
		conf_show(stdout, &j.cfg, j.acct);
	status = finish(&r);
	conf_account_free(&j.adhoc);
	conf_free(&j.cfg);
	free(j.sender);
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
	case MODE_SMTPD:
	case MODE_SERVERINFO:
	default:
		res_fail(&r, RES_USAGE, "%s is not available in this version",
			 o.mode == MODE_LIST_QUEUE ? "listing the queue (-bp, mailq)"
			 : o.mode == MODE_RUN_QUEUE ? "running the queue (-q)"
			 : o.mode == MODE_SMTPD ? "SMTP on standard input (-bs)"
			 : "--serverinfo");
		status = finish(&r);
		break;
	}
	cli_free(&o);
	exit(status);
}
