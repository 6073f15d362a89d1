/*
 * main.c - personality and mode dispatch.
 *
 *   argv -> options -> (compose) -> submission -> accept -> result -> exit status
 *
 * The command-line options stop here: the pipeline gets a struct
 * submission.  The only place that calls exit() and maps a result to a
 * status.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accept.h"
#include "address.h"
#include "cli.h"
#include "compose.h"
#include "conf.h"
#include "log.h"
#include "queue.h"
#include "queue-system.h"
#include "result.h"
#include "oauth2.h"
#include "serverinfo.h"
#include "smtpd.h"
#include "tls-files.h"
#include "util.h"

static int
finish(struct result *r)
{
	if (r->cls != RES_OK)
		log_err("%s", r->text);
	return res_exit_code(r->cls);
}

/* Set when the caller started mailout with standard input closed. */
static int stdin_was_closed;

/*
 * Descriptors 0, 1 and 2 that the caller left closed are opened on
 * /dev/null first, as Postfix's sendmail does: otherwise the spool or
 * queue file would get descriptor 2, and every diagnostic would be
 * written into the message.
 */
static void
open_standard_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		int n;

		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (n != fd)
			_exit(71);          /* EX_OSERR, with nowhere to say it */
		if (fd == 0)
			stdin_was_closed = 1;
	}
}

/* sendmail mode (and compose mode): the message on standard input. */
static int
sendmail_mode(const struct options *o)
{
	struct config cfg;
	struct submission s;
	struct receipt rc;
	struct addr_list from = { 0 };      /* --from / -r, for s.sender */
	struct result r;
	int status;

	memset(&cfg, 0, sizeof(cfg));
	res_clear(&r);
	accept_init(&s, &cfg, 0);
	compose_submission(o, &s);
	if (stdin_was_closed) {
		res_fail(&r, RES_IOERR, "standard input is closed: there is no message to read");
		goto done;
	}
	if (compose_operands(o, &s.rcpts, &r) < 0)
		goto done;
	/* No recipients and no -t: say so before waiting for the message. */
	if (!o->read_recipients && s.rcpts.n == 0 &&
	    (!o->compose || (o->cc.n == 0 && o->bcc.n == 0))) {
		res_fail(&r, RES_USAGE, "no recipients (give addresses%s)",
			 o->personality == PERS_MAILX ? ", or -c or -b" :
			 o->compose ? ", or --cc or --bcc" : ", or -t to read them from the message");
		goto done;
	}
	if (conf_load(&cfg, o->config_file, &r) < 0)
		goto done;
	oauth2_set_system_dir(cfg.queue_dir);
	log_setup(o->logfile ? o->logfile : cfg.logfile, cfg.syslog);
	/* compose_build(): -1 with r set, or 1 for mailx -E and an empty body */
	if ((o->compose || o->attach.n) && compose_build(o, &s, &from, &r) != 0)
		goto done;
	if (compose_queue_mode(o, &s, &r) < 0)
		goto done;
	accept_message(&s, &rc, &r);
done:
	status = finish(&r);
	if (s.in_fd > 0)
		close(s.in_fd);
	addr_list_free(&s.rcpts);
	addr_list_free(&from);
	conf_free(&cfg);
	return status;
}

/* --show-config and --serverinfo: the account a message would use. */
static void
account_mode(const struct options *o, const struct config *cfg, struct result *r)
{
	struct submission s;
	struct account acct;
	char *bare = NULL;
	int have = 0;

	accept_init(&s, cfg, -1);
	compose_submission(o, &s);
	memset(&acct, 0, sizeof(acct));
	if (accept_sender(s.sender, &bare, r) < 0 ||
	    (have = accept_choose_account(cfg, &s.route, bare ? bare : s.sender, &acct, r)) < 0)
		goto out;
	if (o->mode == MODE_SHOW_CONFIG) {
		/* Settings that cannot work are printed, then reported. */
		if (have)
			(void)(account_check(&acct, 1, r) < 0 || tls_files_check(&acct, r) < 0);
		conf_show(stdout, cfg, have ? &acct : NULL);
	} else if (have && (account_check(&acct, 0, r) < 0 || tls_files_check(&acct, r) < 0)) {
		;   /* r says why (no AUTH: the credentials are not checked) */
	} else if (!have || !acct.host) {
		res_fail(r, RES_USAGE, "--serverinfo needs an account with a host, or --host");
	} else {
		serverinfo_print(&acct, stdout, r);
	}
out:
	account_free(&acct);
	free(bare);
}

/* --authorize ACCOUNT: the OAuth2 device grant for that account. */
static void
authorize_mode(const struct options *o, const struct config *cfg, struct result *r)
{
	const struct account *a = conf_find(cfg, o->account);

	if (!a)
		res_fail(r, RES_CONFIG, "--authorize: no account \"%s\" in the configuration",
			 o->account);
	else if (account_check(a, 0, r) == 0)
		oauth2_authorize(a, stdout, r);
}

/* The result of a queue run as the caller should see it. */
static void
queue_run_status(struct result *r)
{
	/* Each message's failure was reported; the run itself is fine when
	 * messages were merely deferred. */
	if (res_is_temporary(r)) {
		res_clear(r);
	} else if (res_is_message_refusal(r)) {
		snprintf(r->text, sizeof(r->text), "some queued messages failed permanently "
			 "and were moved to failed/ (see mailq)");
	} else if (r->cls != RES_OK) {
		/* Settings, credentials, TLS: the messages were kept. */
		char why[sizeof(r->text)];
		str_copy(why, sizeof(why), r->text);
		snprintf(r->text, sizeof(r->text), "queued messages stay queued until this is "
			 "fixed: %.900s", why);
	}
}

/* The modes that need the configuration but no message on standard input. */
static int
run_mode(const struct options *o)
{
	struct config cfg;
	struct submission s;
	struct result r;
	int status;

	memset(&cfg, 0, sizeof(cfg));
	res_clear(&r);
	if (conf_load(&cfg, o->config_file, &r) < 0)
		goto done;
	oauth2_set_system_dir(cfg.queue_dir);
	log_setup(o->logfile ? o->logfile : cfg.logfile, cfg.syslog);
	switch (o->mode) {
	case MODE_AUTHORIZE:
		authorize_mode(o, &cfg, &r);
		break;
	case MODE_SHOW_CONFIG:
	case MODE_SERVERINFO:
		account_mode(o, &cfg, &r);
		break;
	case MODE_SMTPD:
		accept_init(&s, &cfg, -1);
		compose_submission(o, &s);
		if (compose_queue_mode(o, &s, &r) == 0)
			smtpd_serve(&s, 0, 1, &r);
		break;
	case MODE_LIST_QUEUE:
		if (queue_system_become(cfg.queue_dir, &r) == 0)
			queue_list(&cfg, stdout, &r);
		/* What a user handed to the system queue is root's to list. */
		if (getuid() != 0 && queue_drop_helper())
			log_err("messages you handed to the system queue are listed by root's "
				"mailq, with your user id");
		break;
	case MODE_DELETE:
	case MODE_REQUEUE:
	case MODE_SHOW:
		if (queue_system_become(cfg.queue_dir, &r) == 0)
			queue_manage(&cfg, o->mode == MODE_DELETE ? QUEUE_DELETE :
				     o->mode == MODE_REQUEUE ? QUEUE_REQUEUE : QUEUE_SHOW,
				     o->recipients.v, o->recipients.n, stdout, &r);
		break;
	case MODE_RUN_QUEUE:
		queue_run(&cfg, o->queue_due_only, NULL, &r);
		queue_run_status(&r);
		break;
	default:
		res_fail(&r, RES_SOFTWARE, "unknown mode");
		break;
	}
done:
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

	open_standard_fds();
	signal(SIGPIPE, SIG_IGN);
	umask(077);
	/* No core dumps, ever: a password from the configuration is in
	 * memory from the moment it is parsed, and so is private mail. */
	struct rlimit nocore = { 0, 0 };
	(void)setrlimit(RLIMIT_CORE, &nocore);
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
	case MODE_DELIVER:
		status = sendmail_mode(&o);
		break;
	default:
		status = run_mode(&o);
		break;
	}
	cli_free(&o);
	exit(status);
}
