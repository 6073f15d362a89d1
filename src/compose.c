/* compose.c - what the command line says about the message: the submission
 * for the pipeline, the recipient operands, compose mode and -a. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compose.h"
#include "log.h"
#include "message.h"
#include "mime.h"
#include "queue.h"
#include "util.h"

void
compose_submission(const struct options *o, struct submission *s)
{
	const char *name = getenv("NAME");

	s->ignore_dots = o->ignore_dots;
	s->read_recipients = o->read_recipients;
	s->read_envelope_from = o->read_envelope_from;
	s->sender = o->sender;
	/* The full name of an added From: -F, else NAME from the environment
	 * (sendmail's and Postfix's rule), else the account's from_name. */
	s->fullname = o->fullname ? o->fullname :
		      name && *name && !has_line_break(name) ? name : NULL;
	s->route.account = o->account;
	s->route.ov = (struct overrides){
		.host = o->host, .port = o->port, .tls = o->tls, .user = o->user,
		.passwordeval = o->passwordeval,
	};
	s->dsn_notify = o->dsn_notify;
	s->dsn_ret = o->dsn_ret;
	s->dsn_envid = o->dsn_envid;
	s->dry_run = o->dry_run;
}

int
compose_queue_mode(const struct options *o, struct submission *s, struct result *r)
{
	if (o->queue && (s->queue = conf_parse_queue(o->queue)) < 0)
		return res_fail(r, RES_USAGE, "--queue: one of never, onfail, always");
	return 0;
}

int
compose_operands(const struct options *o, struct addr_list *out, struct result *r)
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

/* --from and mailx -r: an address, or "Name <address>", into from.
 * 0 (also when not given), or -1 with RES_USAGE. */
static int
from_option(const struct options *o, struct addr_list *from, struct result *r)
{
	const char *opt = o->personality == PERS_MAILX ? "-r" : "--from";
	const char *why = NULL;
	char err[256];
	int n;

	if (!o->from)
		return 0;
	if (has_line_break(o->from))
		why = "the address contains a line break";
	else if ((n = addr_parse_list(o->from, strlen(o->from), from, err, sizeof(err))) < 0)
		why = err;
	else if (n != 1)
		why = "give one address, or \"Name <address>\"";
	return why ? res_fail(r, RES_USAGE, "%s: %s", opt, why) : 0;
}

/* The body from standard input, in a private file read from its start.
 * 0; 1 for mailx -E and an empty body; -1 with *r. */
static int
read_body(const struct options *o, const char *tmpdir, int *body, struct result *r)
{
	if ((*body = tmp_private(tmpdir)) < 0 || copy_fd(0, *body, -1) < 0 ||
	    lseek(*body, 0, SEEK_SET) != 0)
		return res_fail(r, disk_full_errno(errno) ? RES_TEMPFAIL : RES_IOERR,
				"cannot store the message body: %s; nothing was sent", strerror(errno));
	/* mailx -E (bsd-mailx, s-nail): "cmd | mail -E -s ..." mails only
	 * when cmd said something. */
	if (o->skip_empty_body && lseek(*body, 0, SEEK_END) == 0) {
		log_info("empty body: nothing sent (-E)");
		return 1;
	}
	if (lseek(*body, 0, SEEK_SET) != 0)
		return res_fail(r, RES_IOERR, "cannot read back the message body: %s",
				strerror(errno));
	return 0;
}

/* Compose mode: headers from the options, the body from standard input,
 * the attachments, written to out.  0, 1 (nothing to send) or -1. */
static int
compose(const struct options *o, struct submission *s, struct addr_list *from,
	const char *tmpdir, struct mime_attachment *att, int out, struct result *r)
{
	struct mime_compose c = { 0 };
	struct addr_list cc = { 0 }, bcc = { 0 };
	const char *from_addr = NULL, *from_name = NULL;
	int body = -1, rc = -1;

	if (o->subject && has_line_break(o->subject)) {
		res_fail(r, RES_USAGE, "the subject contains a line break");
		goto out;
	}
	if (from_option(o, from, r) < 0)
		goto out;
	if (from->n) {
		from_addr = from->v[0];
		from_name = addr_list_name(from, 0);
	}
	if (parse_lists(&o->cc, &cc, "--cc", r) < 0 || parse_lists(&o->bcc, &bcc, "--bcc", r) < 0)
		goto out;
	if ((rc = read_body(o, tmpdir, &body, r)) != 0)
		goto out;
	rc = -1;
	/* --from is the envelope sender too, unless -f says otherwise; then
	 * (or when it has a name) From is written here, else the spooler adds
	 * it.  Its name: -F, the one --from gave, else $NAME. */
	c.from = from_addr && (o->sender || from_name) ? from_addr : NULL;
	c.from_name = o->fullname ? o->fullname : from_name ? from_name : s->fullname;
	c.sender = o->sender ? o->sender : from_addr;
	c.subject = o->subject;
	c.to = &s->rcpts;
	c.cc = &cc;
	c.bcc = &bcc;
	c.att = att;
	c.natt = o->attach.n;
	if (mime_compose(body, &c, out, r) < 0)
		goto out;
	if (from_addr && !o->sender)
		s->sender = from_addr;
	/* The envelope: the operands (already in s->rcpts), --cc and --bcc,
	 * as given: the headers qualify local names, the envelope keeps them
	 * for the aliases. */
	for (size_t i = 0; i < cc.n; i++)
		addr_list_add(&s->rcpts, cc.v[i]);
	for (size_t i = 0; i < bcc.n; i++)
		addr_list_add(&s->rcpts, bcc.v[i]);
	/* -t would read back the headers just written: root and the root@host
	 * of To: two copies, one past the aliases. */
	s->read_recipients = 0;
	rc = 0;
out:
	if (body >= 0)
		close(body);
	addr_list_free(&cc);
	addr_list_free(&bcc);
	return rc;
}

/* -a on a piped message: its headers, then a multipart body. */
static int
attach_piped(const struct options *o, const char *tmpdir, struct mime_attachment *att,
	     int out, struct result *r)
{
	struct msg m;
	int rc;

	msg_init(&m, 0, o->ignore_dots);
	rc = msg_read_headers(&m, r) < 0 || mime_attach(&m, att, o->attach.n, tmpdir, out, r) < 0
	     ? -1 : 0;
	msg_free(&m, 0);
	return rc;
}

int
compose_build(const struct options *o, struct submission *s, struct addr_list *from,
	      struct result *r)
{
	struct mime_attachment *att = xcalloc(o->attach.n + 1, sizeof(*att));
	char *tmpdir = xasprintf("%s/tmp", s->cfg->queue_dir), err[256];
	int out = -1, rc = -1;

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
	rc = o->compose ? compose(o, s, from, tmpdir, att, out, r)
			: attach_piped(o, tmpdir, att, out, r);
	if (rc != 0)
		goto out;
	rc = -1;
	if (lseek(out, 0, SEEK_SET) != 0) {
		res_fail(r, RES_IOERR, "cannot read back the message: %s", strerror(errno));
		goto out;
	}
	s->in_fd = out;
	s->ignore_dots = 1;                 /* the input rules applied already */
	out = -1;
	rc = 0;
out:
	mime_close_attachments(att, o->attach.n);
	free(att);
	if (out >= 0)
		close(out);
	free(tmpdir);
	return rc;
}
