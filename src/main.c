/*
 * main.c - personality, mode dispatch and the delivery pipeline.
 *
 *   argv + config -> accept (spool, deliver, queue) -> result -> exit status
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accept.h"
#include "address.h"
#include "cli.h"
#include "conf.h"
#include "log.h"
#include "mime.h"
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
		/* Not even header folding: an argument never holds a line break. */
		if (has_line_break(a))
			return res_fail(r, RES_USAGE, "a recipient argument contains a line break");
		if (addr_parse_list(a, strlen(a), out, err, sizeof(err)) < 0)
			return res_fail(r, RES_USAGE, "recipient \"%s\": %s", a, err);
	}
	return 0;
}

/* Copy fd to the end into out. 0 or -1. */
static int
copy_all(int fd, int out)
{
	char buf[65536];
	ssize_t n;

	while ((n = read_retry(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 || write_all(out, buf, (size_t)n) < 0)
			return -1;
	}
	return 0;
}

static int
parse_lists(const struct strlist *in, struct addr_list *out, const char *what,
	    struct result *r)
{
	char err[256];

	for (size_t i = 0; i < in->n; i++) {
		if (has_line_break(in->v[i]))
			return res_fail(r, RES_USAGE, "%s contains a line break", what);
		if (addr_parse_list(in->v[i], strlen(in->v[i]), out, err, sizeof(err)) < 0)
			return res_fail(r, RES_USAGE, "%s: %s", what, err);
	}
	return 0;
}

/*
 * Compose mode (-s, --cc, --bcc, --from, mail/mailx) and -a: build the
 * message in a private temporary file, which the pipeline then reads like
 * a piped message.  Attachments are opened first, so a missing one stops
 * everything before anything is read.  Returns 0; -1 with r set; 1 when
 * there is nothing to send (mailx -E, empty body).
 */
static int
build_message(const struct options *o, const struct config *cfg, struct job *j,
	      struct addr_list *from, struct result *r)
{
	struct mime_attachment *att = xcalloc(o->attach.n + 1, sizeof(*att));
	struct addr_list cc = { 0 }, bcc = { 0 };
	char *tmpdir = xasprintf("%s/tmp", cfg->queue_dir), err[256];
	int out = -1, body = -1, rc = -1;

	if (queue_dir_private(tmpdir, err, sizeof(err)) != 0) {
		free(tmpdir);
		tmpdir = NULL;
	}
	for (size_t i = 0; i < o->attach.n; i++)
		att[i].path = o->attach.v[i];
	if (mime_open_attachments(att, o->attach.n, r) < 0)
		goto out;
	if ((out = tmp_private(tmpdir)) < 0) {
		res_fail(r, RES_CANTCREAT, "cannot create a temporary file: %s", strerror(errno));
		goto out;
	}
	if (o->compose) {
		struct mime_compose c = { 0 };
		const char *from_addr = NULL, *from_name = NULL;

		if (o->subject && has_line_break(o->subject)) {
			res_fail(r, RES_USAGE, "the subject contains a line break");
			goto out;
		}
		/* --from and mailx -r: an address, or "Name <address>" */
		if (o->from) {
			const char *opt = o->personality == PERS_MAILX ? "-r" : "--from";
			const char *why = NULL;
			int n;

			if (has_line_break(o->from))
				why = "the address contains a line break";
			else if ((n = addr_parse_list(o->from, strlen(o->from), from, err,
						      sizeof(err))) < 0)
				why = err;
			else if (n != 1)
				why = "give one address, or \"Name <address>\"";
			if (why) {
				res_fail(r, RES_USAGE, "%s: %s", opt, why);
				goto out;
			}
			from_addr = from->v[0];
			from_name = addr_list_name(from, 0);
		}
		if (parse_lists(&o->cc, &cc, "--cc", r) < 0 ||
		    parse_lists(&o->bcc, &bcc, "--bcc", r) < 0)
			goto out;
		if ((body = tmp_private(tmpdir)) < 0 || copy_all(0, body) < 0 ||
		    lseek(body, 0, SEEK_SET) != 0) {
			res_fail(r, disk_full_errno(errno) ? RES_TEMPFAIL : RES_IOERR,
				 "cannot store the message body: %s; nothing was sent", strerror(errno));
			goto out;
		}
		/* mailx -E (bsd-mailx, s-nail): "cmd | mail -E -s ..." mails
		 * only when cmd said something. */
		if (o->skip_empty_body && lseek(body, 0, SEEK_END) == 0) {
			log_info("empty body: nothing sent (-E)");
			rc = 1;
			goto out;
		}
		if (lseek(body, 0, SEEK_SET) != 0) {
			res_fail(r, RES_IOERR, "cannot read back the message body: %s", strerror(errno));
			goto out;
		}
		/* --from is the envelope sender too, unless -f says otherwise;
		 * then (or when it has a name) From is written here, else the
		 * spooler adds it. */
		c.from = from_addr && (o->sender || from_name) ? from_addr : NULL;
		c.from_name = o->fullname ? o->fullname : from_name;
		c.sender = o->sender ? o->sender : from_addr;
		c.subject = o->subject;
		c.to = &j->rcpts;
		c.cc = &cc;
		c.bcc = &bcc;
		c.att = att;
		c.natt = o->attach.n;
		if (mime_compose(body, &c, out, r) < 0)
			goto out;
		if (from_addr && !o->sender)
			j->sender_in = from_addr;
		/* The envelope: the operands (already in j->rcpts), --cc and
		 * --bcc, as given: the headers qualify local names, the
		 * envelope keeps them for the aliases. */
		for (size_t i = 0; i < cc.n; i++)
			addr_list_add(&j->rcpts, cc.v[i]);
		for (size_t i = 0; i < bcc.n; i++)
			addr_list_add(&j->rcpts, bcc.v[i]);
		/* -t would read back the headers just written: root and the
		 * root@host of To: two copies, one past the aliases. */
		j->read_recipients = 0;
	} else {
		struct msg m;

		msg_init(&m, 0, o->ignore_dots);
		if (msg_read_headers(&m, r) < 0 ||
		    mime_attach(&m, att, o->attach.n, tmpdir, out, r) < 0) {
			msg_free(&m, 0);
			goto out;
		}
		msg_free(&m, 0);
	}
	if (lseek(out, 0, SEEK_SET) != 0) {
		res_fail(r, RES_IOERR, "cannot read back the message: %s", strerror(errno));
		goto out;
	}
	j->in_fd = out;
	j->ignore_dots = 1;                 /* the input rules applied already */
	out = -1;
	rc = 0;
out:
	mime_close_attachments(att, o->attach.n);
	free(att);
	addr_list_free(&cc);
	addr_list_free(&bcc);
	if (out >= 0)
		close(out);
	if (body >= 0)
		close(body);
	free(tmpdir);
	return rc;
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

/* sendmail mode: the message on standard input. */
static int
deliver(struct options *o)
{
	struct config cfg;
	struct job j;
	struct addr_list from = { 0 };      /* --from / -r, for j.sender_in */
	struct result r;
	int status;

	memset(&cfg, 0, sizeof(cfg));
	res_clear(&r);
	accept_init(&j, o, &cfg, 0);
	if (stdin_was_closed) {
		res_fail(&r, RES_IOERR, "standard input is closed: there is no message to read");
		goto done;
	}
	if (operand_recipients(o, &j.rcpts, &r) < 0)
		goto done;
	/* No recipients and no -t: say so before waiting for the message. */
	if (!o->read_recipients && j.rcpts.n == 0 &&
	    (!o->compose || (o->cc.n == 0 && o->bcc.n == 0))) {
		res_fail(&r, RES_USAGE, "no recipients (give addresses%s)",
			 o->personality == PERS_MAILX ? ", or -c or -b" :
			 o->compose ? ", or --cc or --bcc" : ", or -t to read them from the message");
		goto done;
	}
	if (conf_load(&cfg, o->config_file, &r) < 0)
		goto done;
	log_setup(o->logfile ? o->logfile : cfg.logfile, cfg.syslog);
	/* build_message(): -1 with r set, or 1 for mailx -E and an empty body */
	if ((o->compose || o->attach.n) && build_message(o, &cfg, &j, &from, &r) != 0)
		goto done;
	accept_message(&j, &r);
done:
	status = finish(&r);
	if (j.in_fd > 0)
		close(j.in_fd);
	accept_free(&j);
	addr_list_free(&from);
	conf_free(&cfg);
	return status;
}

/* The modes that need the configuration but no message on standard input. */
static int
run_mode(struct options *o)
{
	struct config cfg;
	struct job j;
	struct result r;
	int status;

	res_clear(&r);
	accept_init(&j, o, &cfg, -1);
	if (conf_load(&cfg, o->config_file, &r) < 0)
		goto done;
	log_setup(o->logfile ? o->logfile : cfg.logfile, cfg.syslog);
	switch (o->mode) {
	case MODE_SHOW_CONFIG:
		if (accept_choose_account(&j, &r) == 0)
			conf_show(stdout, &cfg, j.acct);
		break;
	case MODE_SERVERINFO:
		if (accept_choose_account(&j, &r) < 0)
			break;
		if (!j.acct || !j.acct->host)
			res_fail(&r, RES_USAGE, "--serverinfo needs an account with a host, or --host");
		else
			serverinfo_print(j.acct, stdout, &r);
		break;
	case MODE_SMTPD:
		smtpd_serve(o, &cfg, 0, 1, &r);
		break;
	case MODE_LIST_QUEUE:
		queue_list(&cfg, stdout, &r);
		break;
	case MODE_RUN_QUEUE:
		queue_run(&cfg, o->queue_due_only, NULL, &r);
		/* Each message's failure was reported; the run itself is fine
		 * when messages were merely deferred. */
		if (res_is_temporary(&r)) {
			res_clear(&r);
		} else if (res_is_message_refusal(&r)) {
			snprintf(r.text, sizeof(r.text), "some queued messages failed permanently "
				 "and were moved to failed/ (see mailq)");
		} else if (r.cls != RES_OK) {
			/* Settings, credentials, TLS: the messages were kept. */
			char why[sizeof(r.text)];
			str_copy(why, sizeof(why), r.text);
			snprintf(r.text, sizeof(r.text), "queued messages stay queued until this is "
				 "fixed: %.900s", why);
		}
		break;
	default:
		res_fail(&r, RES_SOFTWARE, "unknown mode");
		break;
	}
done:
	status = finish(&r);
	accept_free(&j);
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
		status = deliver(&o);
		break;
	default:
		status = run_mode(&o);
		break;
	}
	cli_free(&o);
	exit(status);
}
