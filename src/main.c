/*
 * main.c - personality, mode dispatch and the delivery pipeline.
 *
 *   argv + config -> accept (spool, deliver, queue) -> result -> exit status
 *
 * The only place that calls exit() and maps a result to a status.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "accept.h"
#include "address.h"
#include "cli.h"
#include "conf.h"
#include "log.h"
#include "queue.h"
#include "result.h"
#include "serverinfo.h"
#include "smtpd.h"
#include "util.h"

static int
finish(struct result *r)
{
	if (r->cls != RES_OK)
		log_err("%s", r->text);
	return res_exit_code(r->cls);
}

/* Parse every recipient operand ("a@x,b@y", "Name <a@x>"). */
static int
operand_recipients(const struct options *o, struct addr_list *out, struct result *r)
{
	char err[256];

	for (size_t i = 0; i < o->recipients.n; i++) {
		const char *a = o->recipients.v[i];
		if (addr_parse_list(a, strlen(a), out, err, sizeof(err)) < 0)
			return res_fail(r, RES_USAGE, "recipient \"%s\": %s",
					has_line_break(a) ? "(with a line break)" : a, err);
	}
	return 0;
}

/* sendmail mode: the message on standard input. */
static int
deliver(struct options *o)
{
	struct config cfg;
	struct job j;
	struct result r;
	int status;

	memset(&cfg, 0, sizeof(cfg));
	res_clear(&r);
	accept_init(&j, o, &cfg, 0);
	if (o->compose || o->attach.n) {
		res_fail(&r, RES_USAGE, "compose mode and attachments (-s, -a, --cc, --bcc, "
			 "--from, mail/mailx) are not available in this version");
		goto done;
	}
	if (operand_recipients(o, &j.rcpts, &r) < 0)
		goto done;
	/* No recipients and no -t: say so before waiting for the message. */
	if (!o->read_recipients && j.rcpts.n == 0) {
		res_fail(&r, RES_USAGE, "no recipients (give addresses, or -t to read them "
			 "from the message)");
		goto done;
	}
	if (conf_load(&cfg, o->config_file, &r) < 0)
		goto done;
	log_setup(o->logfile ? o->logfile : cfg.logfile, cfg.syslog);
	accept_message(&j, &r);
done:
	status = finish(&r);
	accept_free(&j);
	conf_free(&cfg);
	return status;
}

static int
show_config(struct options *o)
{
	struct config cfg;
	struct job j;
	struct result r;
	int status;

	res_clear(&r);
	accept_init(&j, o, &cfg, -1);
	if (conf_load(&cfg, o->config_file, &r) == 0 && accept_choose_account(&j, &r) == 0)
		conf_show(stdout, &cfg, j.acct);
	status = finish(&r);
	accept_free(&j);
	conf_free(&cfg);
	return status;
}

static int
server_info(struct options *o)
{
	struct config cfg;
	struct job j;
	struct result r;
	int status;

	res_clear(&r);
	accept_init(&j, o, &cfg, -1);
	if (conf_load(&cfg, o->config_file, &r) == 0 && accept_choose_account(&j, &r) == 0) {
		if (!j.acct || !j.acct->host)
			res_fail(&r, RES_USAGE, "--serverinfo needs an account with a host, or --host");
		else
			serverinfo_print(j.acct, stdout, &r);
	}
	status = finish(&r);
	accept_free(&j);
	conf_free(&cfg);
	return status;
}

static int
smtp_session(struct options *o)
{
	struct config cfg;
	struct result r;
	int status;

	res_clear(&r);
	if (conf_load(&cfg, o->config_file, &r) == 0) {
		log_setup(o->logfile ? o->logfile : cfg.logfile, cfg.syslog);
		smtpd_serve(o, &cfg, 0, 1, &r);
	}
	status = finish(&r);
	conf_free(&cfg);
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
		status = smtp_session(&o);
		break;
	case MODE_SERVERINFO:
		status = server_info(&o);
		break;
	default:
		res_fail(&r, RES_SOFTWARE, "unknown mode");
		status = finish(&r);
		break;
	}
	cli_free(&o);
	exit(status);
}
