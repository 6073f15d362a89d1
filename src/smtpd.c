/*
 * smtpd.c - SMTP on standard input and output (-bs).
 *
 * RFC 5321 server side, the commands a submitting program needs: EHLO,
 * HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT (plus HELP and VRFY answered
 * politely).  Replies are written as soon as each command is handled;
 * since input is read through one buffer, a client that pipelines
 * (RFC 2920) gets its replies in order.  DATA is dot-unstuffed into a
 * private temporary file that then goes through accept_message().
 *
 * Line ends and SMTP smuggling (CVE-2023-51764 and its kin): a client
 * whose first command ends in CRLF is a CRLF client, and for it only
 * CRLF "." CRLF ends DATA; a bare LF inside DATA is content (the spooler
 * makes it a line break, which the relay then sees dot-stuffed), so text
 * such as LF "." LF MAIL FROM:... hidden in a message can never become
 * commands.  A client whose first command ends in a bare LF uses LF
 * throughout, and LF "." LF ends DATA for it, as a line "." is what it
 * would have dot-stuffed.  Control characters inside a command are
 * refused.
 *
 * Commands are dispatched through one table (verb, check, proceed): the
 * check refuses what the state or the argument does not allow, the
 * proceed step does the work.  Each message gets a Received header naming
 * the submitting uid (RFC 5321 4.4) before the pipeline reads it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "accept.h"
#include "aliases.h"
#include "classify.h"
#include "local.h"
#include "log.h"
#include "queue.h"
#include "received.h"
#include "smtpd.h"
#include "util.h"

#define CMD_MAX 2048          /* longest command line accepted */
#define MAX_RCPTS 1000

struct conn {
	int in, out;
	char buf[65536];
	size_t pos, len;
	int eof;
	int read_errno;                /* the error that ended the input, 0 at EOF */
	int lf_client;                 /* -1 not known yet, 0 CRLF, 1 bare LF */
	const struct submission *tmpl; /* what the command line says of each message */
	const struct config *c;
	const char *host;              /* this host's name, for the replies */
	char *helo;                    /* the client's EHLO/HELO name, or NULL */
	int esmtp;                     /* it said EHLO */
	char *path;                    /* the address of the MAIL or RCPT being handled */
	/* the transaction */
	int have_mail;
	char *mail_from;
	struct addr_list rcpts;
};

/*
 * Wait until fd is ready for events.  Standard input and output may be
 * non-blocking (set so by the caller, or shared with a socket or terminal
 * that is): EAGAIN means "not yet", never the end.  0, or -1 with errno.
 */
static int
wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		if (poll(&p, 1, -1) >= 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static int
reply(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
reply(struct conn *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	/* One line: no control characters from relay texts. */
	for (int i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20)
			line[i] = ' ';
	line[n++] = '\r';
	line[n++] = '\n';
	return write_all(c->out, line, (size_t)n);
}

static int
fill(struct conn *c)
{
	ssize_t n;

	if (c->eof)
		return 0;
	if (c->pos > 0) {
		memmove(c->buf, c->buf + c->pos, c->len - c->pos);
		c->len -= c->pos;
		c->pos = 0;
	}
	if (c->len == sizeof(c->buf))
		return 1;
	for (;;) {
		n = read(c->in, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_fd(c->in, POLLIN) == 0)
			continue;
		c->read_errno = errno;
		break;
	}
	if (n <= 0) {
		c->eof = 1;
		return 0;
	}
	c->len += (size_t)n;
	return 1;
}

/*
 * Read one line into line (without CRLF or LF); *crlf says which ended it.
 * Returns 1, 0 at end of input, or 2 when the line was longer than max
 * (it is consumed, and *line holds its start).  *crlf comes from the bytes
 * that really ended the line, also when they were not stored (a too-long
 * line in several reads): a CRLF client must never count as a bare-LF one.
 */
static int
read_line(struct conn *c, struct dynbuf *line, size_t max, int *crlf)
{
	int too_long = 0;
	char last = '\0';             /* the last byte consumed before start */

	db_reset(line);
	*crlf = 0;
	for (;;) {
		char *start = c->buf + c->pos;
		char *nl = memchr(start, '\n', c->len - c->pos);
		size_t take = nl ? (size_t)(nl - start) + 1 : c->len - c->pos;

		if (!too_long) {
			db_add(line, start, take);
			if (line->len > max + 2)
				too_long = 1;
		}
		c->pos += take;
		if (nl) {
			*crlf = (nl > start ? nl[-1] : last) == '\r';
			break;
		}
		if (take)
			last = start[take - 1];
		if (!fill(c)) {
			if (line->len == 0 && !too_long)
				return 0;
			break;
		}
	}
	if (line->len && line->s[line->len - 1] == '\n') {
		line->s[--line->len] = '\0';
		if (*crlf && line->len && line->s[line->len - 1] == '\r')
			line->s[--line->len] = '\0';
	}
	return too_long ? 2 : 1;
}

/* Bytes below space other than tab (a CR or NUL inside a command line). */
static int
has_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
			return 1;
	return 0;
}

static void
reset(struct conn *c)
{
	free(c->mail_from);
	c->mail_from = NULL;
	c->have_mail = 0;
	addr_list_free(&c->rcpts);
}

/* "FROM:<addr> params" or "TO:<addr> params": the address, or NULL;
 * *params is what follows it. */
static char *
path_arg(const char *arg, const char *kw, const char **params)
{
	size_t kl = strlen(kw);
	const char *p, *gt;

	if (strncasecmp(arg, kw, kl) != 0)
		return NULL;
	p = arg + kl;
	while (*p == ' ')
		p++;
	if (*p != '<')
		return NULL;
	gt = strchr(p, '>');
	if (!gt || (gt[1] && gt[1] != ' '))   /* parameters follow a space */
		return NULL;
	*params = gt + 1;
	p++;
	/* A source route ("<@a.example,@b.example:user@c.example>") is
	 * dropped, as RFC 5321 4.1.1.3 and 3.6.1 say a server should. */
	if (*p == '@') {
		const char *colon = memchr(p, ':', (size_t)(gt - p));
		int ok = colon != NULL && colon + 1 < gt;   /* not "<@a:>" */
		for (const char *q = p; ok && q < colon; q++)
			if (*q == '"' || *q == '<' || *q == ' ' || *q == '\\')
				ok = 0;
		if (ok)
			p = colon + 1;
	}
	return xstrndup(p, (size_t)(gt - p));
}

/*
 * Check the MAIL (mail = 1) or RCPT parameters as Postfix's smtpd does:
 * SIZE=digits and BODY=7BIT or 8BITMIME for MAIL (8BITMIME is announced),
 * nothing for RCPT; anything else is refused with 555 (RFC 5321 4.1.1.11),
 * so that a client asking for what is not announced (NOTIFY=, SMTPUTF8)
 * does not believe it got it.  0, or -1 with the reply written to *bad.
 */
static int
check_params(const char *params, int mail, char *bad, size_t badlen)
{
	const char *p = params;

	for (;;) {
		const char *end, *eq;
		size_t n;

		while (*p == ' ')
			p++;
		if (!*p)
			return 0;
		end = strchr(p, ' ');
		n = end ? (size_t)(end - p) : strlen(p);
		eq = memchr(p, '=', n);
		if (mail && eq && eq - p == 4 && strncasecmp(p, "SIZE", 4) == 0) {
			size_t vl = n - 5;
			if (vl == 0 || vl > 20 || strspn(eq + 1, "0123456789") < vl) {
				snprintf(bad, badlen, "501 5.5.4 Bad message size syntax");
				return -1;
			}
		} else if (mail && eq && eq - p == 4 && strncasecmp(p, "BODY", 4) == 0) {
			if (!((n == 9 && strncasecmp(eq + 1, "7BIT", 4) == 0) ||
			      (n == 13 && strncasecmp(eq + 1, "8BITMIME", 8) == 0))) {
				snprintf(bad, badlen, "501 5.5.4 Unsupported BODY parameter value");
				return -1;
			}
		} else {
			snprintf(bad, badlen, "555 5.5.4 Unsupported option: %.*s",
				 n > 200 ? 200 : (int)n, p);
			return -1;
		}
		p += n;
	}
}

/* Copy DATA (dot-unstuffed, up to the lone dot) into fd. 0, or -1 when the
 * input ended first.  A write that fails sets *write_err to its errno, and
 * the input is still read to the end of the data. */
static int
read_data(struct conn *c, int fd, int *write_err)
{
	struct dynbuf out = { 0 };
	int at_bol = 1, rc = -1, lf_ok = c->lf_client == 1;
	char last = '\n';             /* the byte before start */

	*write_err = 0;
	for (;;) {
		if (c->pos == c->len && !fill(c))
			break;
		char *start = c->buf + c->pos;
		size_t avail = c->len - c->pos;

		if (at_bol) {
			/* A line "." ends DATA, with CRLF or a bare LF: read on
			 * only while the bytes at hand cannot tell (".", ".\r"),
			 * so that a client waiting for the reply gets it. */
			if (start[0] == '.' && !c->eof &&
			    (avail == 1 || (avail == 2 && start[1] == '\r'))) {
				if (fill(c))
					continue;
				start = c->buf + c->pos;
				avail = c->len - c->pos;
			}
			if (lf_ok && avail >= 2 && start[0] == '.' && start[1] == '\n') {
				c->pos += 2;
				rc = 0;
				break;
			}
			if (avail >= 3 && start[0] == '.' && start[1] == '\r' && start[2] == '\n') {
				c->pos += 3;
				rc = 0;
				break;
			}
			if (start[0] == '.') {   /* a stuffed dot */
				c->pos++;
				start++;
				avail--;
				last = '.';
			}
		}
		char *nl = memchr(start, '\n', avail);
		size_t take = nl ? (size_t)(nl - start) + 1 : avail;
		db_add(&out, start, take);
		c->pos += take;
		/* For a CRLF client a line begins only after CRLF (whose CR
		 * may have come in the previous read). */
		at_bol = nl && (lf_ok || (nl > start ? nl[-1] : last) == '\r');
		if (take)
			last = start[take - 1];
		if (out.len >= 65536) {
			if (!*write_err && write_all(fd, out.s, out.len) < 0)
				*write_err = errno ? errno : EIO;
			db_reset(&out);
		}
	}
	if (out.len && !*write_err && write_all(fd, out.s, out.len) < 0)
		*write_err = errno ? errno : EIO;
	db_free(&out);
	return rc;
}

/*
 * 1 when rcpt, after aliases, is a local name that no user of this host
 * has (the reason in *r): refused at RCPT, as an MTA does, so that the
 * client knows before it sends the message, and the other recipients'
 * 250 at the final dot does not hide it.  An aliases file that cannot be
 * read is left for the final dot to report.
 */
static int
unknown_local(const struct conn *c, const char *rcpt, struct result *r)
{
	struct addr_list one = { .v = (char **)&rcpt, .n = 1, .cap = 1 }, expanded = { 0 };
	int unknown;

	res_clear(r);
	unknown = aliases_expand(c->c->aliases, &one, &expanded, r) == 0 &&
		  addr_check_local_users(&expanded, r) < 0;
	addr_list_free(&expanded);
	return unknown;
}

/* Replace *a by its canonical SMTP form (addr_canonical()).  0, or -1
 * with the reason in err. */
static int
canonical_arg(char **a, char *err, size_t errlen)
{
	char *c = addr_canonical(*a, err, errlen);

	if (!c)
		return -1;
	free(*a);
	*a = c;
	return 0;
}

/* 1 when s[0..2] are digits and s[3] ends a reply line's code. */
static int
code_at(const char *s)
{
	return s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' &&
	       s[2] >= '0' && s[2] <= '9' && (s[3] == '-' || s[3] == ' ' || s[3] == '\0');
}

/* Length of the enhanced status code (RFC 3463: class.subject.detail, then
 * a space or the end) that s starts with, 0 when there is none. */
static size_t
enhanced_len(const char *s)
{
	const char *p = s;

	if (*p != '2' && *p != '4' && *p != '5')
		return 0;
	p++;
	for (int part = 0; part < 2; part++) {
		int digits = 0;
		if (*p++ != '.')
			return 0;
		while (*p >= '0' && *p <= '9' && digits < 4) {
			p++;
			digits++;
		}
		if (digits < 1 || digits > 3)
			return 0;
	}
	return *p == ' ' || *p == '\0' ? (size_t)(p - s) : 0;
}

/*
 * Pass the relay's refusal on as the reply to the final dot.  submit.c
 * keeps a multi-line reply as its lines joined by spaces, codes included
 * ("554-5.7.1 first 554 5.7.1 second"): it goes out as a multi-line reply
 * again, a new line wherever the code comes back after a space.  A 421
 * says the relay closed its channel, not this one (which stays open): it
 * becomes 451, as Postfix's smtpd never passes a downstream 421 on.
 */
static int
relay_reply(struct conn *c, int relay_code, const char *joined)
{
	char cs[4];
	const char *p = joined;
	int rc, code = res_smtp_relay_code(relay_code);

	snprintf(cs, sizeof(cs), "%03d", relay_code);
	if (code_at(p))
		p += p[3] ? 4 : 3;
	for (;;) {
		const char *q = p, *next = NULL;
		int n;

		/* The next line starts at " CODE-", " CODE " or " CODE" at the end. */
		while ((q = strchr(q, ' ')) != NULL) {
			if (strncmp(q + 1, cs, 3) == 0 && code_at(q + 1)) {
				next = q + 1;
				break;
			}
			q++;
		}
		n = next ? (int)(next - 1 - p) : (int)strlen(p);
		/* ENHANCEDSTATUSCODES is announced: every line carries one
		 * (RFC 2034), X.0.0 by class when the relay gave none. */
		if (enhanced_len(p) > 0 && enhanced_len(p) <= (size_t)n)
			rc = reply(c, "%d%c%.*s", code, next ? '-' : ' ', n, p);
		else
			rc = reply(c, "%d%c%d.0.0%s%.*s", code, next ? '-' : ' ', code / 100,
				   n ? " " : "", n, p);
		if (rc < 0)
			return -1;
		if (!next)
			return 0;
		p = next + (next[3] ? 4 : 3);
	}
}

/* Run the pipeline on the received message and answer the final dot. */
static int
finish_message(struct conn *c, int fd)
{
	struct submission s = *c->tmpl;
	struct receipt done;
	struct result r;
	int rc;

	s.in_fd = fd;
	s.ignore_dots = 1;          /* DATA ended already */
	s.read_recipients = 0;      /* the envelope is RCPT TO */
	s.sender = c->mail_from;
	s.rcpts = c->rcpts;         /* read only: the pipeline copies */
	if (accept_message(&s, &done, &r) == 0) {
		rc = done.queued ? reply(c, "250 2.0.0 Ok: queued as %s", done.queue_id)
			      : reply(c, "250 2.0.0 Ok: delivered");
	} else if (done.ndelivered > 0) {
		/* partial_delivery: some recipients have the message.  A
		 * failure reply would make the client send it again to them
		 * too; the refusals are on stderr and in the log. */
		log_err("%s", r.text);
		rc = reply(c, "250 2.0.0 Ok: delivered to %zu of %zu recipients; the others "
			   "were refused (see the log)", done.ndelivered, done.nrcpts);
	} else if (r.smtp_code >= 400 && r.smtp_code < 600) {
		rc = relay_reply(c, r.smtp_code, r.reply);
	} else {
		const char *status;
		int code = res_smtp_reply(&r, &status);

		log_err("%s", r.text);
		rc = reply(c, "%d %s %s", code, status, r.text);
	}
	return rc;
}

/* The reply when the message cannot be stored: 452 4.3.1 for a full disk
 * or quota (RFC 3463 "mail system full", as Postfix says it), else 451. */
static int
store_failed(struct conn *c, int err)
{
	if (err == ENOSPC
#ifdef EDQUOT
	    || err == EDQUOT
#endif
	   )
		return reply(c, "452 4.3.1 Error: insufficient system storage");
	return reply(c, "451 4.3.0 Error: cannot store the message");
}

/* The Received header, in the client's line ends, at the top of fd. */
static int
write_received(struct conn *c, int fd)
{
	struct dynbuf d = { 0 };
	int rc;

	received_header(&d, c->helo, getuid(), c->esmtp ? "ESMTP" : "SMTP",
			c->lf_client == 1 ? "\n" : "\r\n");
	rc = write_all(fd, d.s, d.len);
	db_free(&d);
	return rc;
}

static int
do_data(struct conn *c)
{
	char *dir = xasprintf("%s/tmp", c->c->queue_dir), *path = NULL, why[300];
	int fd = -1, wf = 0, rc;

	if (queue_dir_private(dir, why, sizeof(why)) != 0) {
		const char *t = getenv("TMPDIR");
		free(dir);
		dir = xstrdup(t && *t ? t : "/tmp");
	}
	path = xasprintf("%s/bs.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		log_err("-bs: cannot create %s: %s", path, strerror(e));
		rc = store_failed(c, e);
		goto out;
	}
	unlink(path);   /* private and anonymous from now on */
	if (write_received(c, fd) < 0) {
		int e = errno;
		log_err("-bs: cannot store the message in %s: %s", dir, strerror(e));
		rc = store_failed(c, e);
		goto out;
	}
	if (reply(c, "354 End data with <CR><LF>.<CR><LF>") < 0) {
		rc = -1;
		goto out;
	}
	if (read_data(c, fd, &wf) < 0) {
		/* Input ended inside DATA: nothing to answer, nothing sent
		 * (Postfix logs "lost connection after DATA"). */
		log_err("-bs: the input ended inside DATA; the message was not sent");
		rc = -1;
		goto out;
	}
	if (wf) {
		log_err("-bs: cannot store the message in %s: %s", dir, strerror(wf));
		rc = store_failed(c, wf);
	} else if (lseek(fd, 0, SEEK_SET) != 0) {
		rc = reply(c, "451 4.3.0 Error: cannot read the message back");
	} else {
		rc = finish_message(c, fd);
	}
out:
	if (fd >= 0)
		close(fd);
	reset(c);
	free(path);
	free(dir);
	return rc;
}

/* ---- commands: each check returns 0 to proceed, 1 when it refused the
 * command (the reply written), -1 when the reply could not be written;
 * each proceed step returns 0, 1 to end the session, or -1. ---- */

static int
check_greeting(struct conn *c, const char *verb, const char *arg)
{
	if (*arg)
		return 0;
	return reply(c, "501 5.5.4 Syntax: %s hostname", verb) < 0 ? -1 : 1;
}

static int
proceed_greeting(struct conn *c, const char *verb, const char *arg)
{
	reset(c);
	free(c->helo);
	c->helo = xstrdup(arg);
	c->esmtp = !strcasecmp(verb, "EHLO");
	if (!c->esmtp)
		return reply(c, "250 %s", c->host);
	return reply(c, "250-%s", c->host) < 0 || reply(c, "250-PIPELINING") < 0 ||
	       reply(c, "250-8BITMIME") < 0 || reply(c, "250 ENHANCEDSTATUSCODES") < 0 ? -1 : 0;
}

/* What MAIL FROM and RCPT TO take: "KW<address> parameters". */
struct path_rule {
	const char *kw;              /* "FROM:", "TO:" */
	const char *syntax;          /* for the 501 */
	int mail;                    /* MAIL: "<>" and SIZE/BODY allowed */
	const char *bad_status;      /* enhanced status of an invalid address */
};

static const struct path_rule from_rule = { "FROM:", "MAIL FROM:<address>", 1, "5.1.7" };
static const struct path_rule to_rule = { "TO:", "RCPT TO:<address>", 0, "5.1.3" };

/* The one argument check of MAIL and RCPT: the path, its parameters, the
 * address (RFC 5321 syntax, ASCII: SMTPUTF8 is not offered).  Leaves the
 * address in c->path, in canonical SMTP form, when it returns 0. */
static int
check_path(struct conn *c, const char *arg, const struct path_rule *rule)
{
	const char *params;
	char err[256];
	int rc;

	free(c->path);
	c->path = path_arg(arg, rule->kw, &params);
	if (!c->path || (!rule->mail && !*c->path))
		rc = reply(c, "501 5.5.4 Syntax: %s", rule->syntax);
	else if (check_params(params, rule->mail, err, sizeof(err)) < 0)
		rc = reply(c, "%s", err);
	else if (*c->path && canonical_arg(&c->path, err, sizeof(err)) < 0)
		rc = reply(c, "553 %s %s", rule->bad_status, err);
	else if (!addr_is_ascii(c->path))
		rc = reply(c, "553 5.6.7 SMTPUTF8 was not offered: the address must be ASCII");
	else
		return 0;
	free(c->path);
	c->path = NULL;
	return rc < 0 ? -1 : 1;
}

static int
check_mail(struct conn *c, const char *verb, const char *arg)
{
	(void)verb;
	if (c->have_mail)
		return reply(c, "503 5.5.1 Error: nested MAIL command") < 0 ? -1 : 1;
	return check_path(c, arg, &from_rule);
}

static int
proceed_mail(struct conn *c, const char *verb, const char *arg)
{
	(void)verb, (void)arg;
	c->mail_from = c->path;
	c->path = NULL;
	c->have_mail = 1;
	return reply(c, "250 2.1.0 Ok");
}

static int
check_rcpt(struct conn *c, const char *verb, const char *arg)
{
	int rc;

	(void)verb;
	if (!c->have_mail)
		return reply(c, "503 5.5.1 Error: need MAIL command") < 0 ? -1 : 1;
	if ((rc = check_path(c, arg, &to_rule)) != 0)
		return rc;
	if (c->rcpts.n < MAX_RCPTS)
		return 0;
	free(c->path);
	c->path = NULL;
	return reply(c, "452 4.5.3 Error: too many recipients") < 0 ? -1 : 1;
}

static int
proceed_rcpt(struct conn *c, const char *verb, const char *arg)
{
	struct result ur;
	char *a = c->path;
	int rc;

	(void)verb, (void)arg;
	c->path = NULL;
	if (!unknown_local(c, a, &ur)) {
		addr_list_add(&c->rcpts, a);
		rc = reply(c, "250 2.1.5 Ok");
	} else if (addr_is_postmaster(a)) {
		/* RFC 5321 4.5.1: postmaster must be accepted.  With no alias
		 * or user of that name it goes to root (and root's alias), as
		 * Postfix's aliases file has it. */
		addr_list_add(&c->rcpts, "root");
		rc = reply(c, "250 2.1.5 Ok");
	} else {
		rc = reply(c, "550 5.1.1 %s", ur.text);
	}
	free(a);
	return rc;
}

static int
check_data(struct conn *c, const char *verb, const char *arg)
{
	int rc;

	(void)verb;
	if (*arg)
		rc = reply(c, "501 5.5.4 Syntax: DATA");
	else if (!c->have_mail)
		rc = reply(c, "503 5.5.1 Error: need MAIL command");
	else if (c->rcpts.n == 0)
		rc = reply(c, "554 5.5.1 Error: no valid recipients");
	else
		return 0;
	return rc < 0 ? -1 : 1;
}

static int
proceed_data(struct conn *c, const char *verb, const char *arg)
{
	int rc = do_data(c);

	(void)verb, (void)arg;
	/* The input ended inside DATA: the session is over, not broken. */
	return rc < 0 && c->eof ? 1 : rc;
}

static int
proceed_rset(struct conn *c, const char *verb, const char *arg)
{
	(void)verb, (void)arg;
	reset(c);
	return reply(c, "250 2.0.0 Ok");
}

/* Commands answered with a fixed reply (text), or that end the session. */
static int
proceed_fixed(struct conn *c, const char *verb, const char *arg)
{
	static const struct {
		const char *verb, *text;
	} fixed[] = {
		{ "NOOP", "250 2.0.0 Ok" },
		{ "QUIT", "221 2.0.0 Bye" },
		{ "HELP", "214 2.0.0 EHLO HELO MAIL RCPT DATA RSET NOOP QUIT" },
		{ "VRFY", "252 2.0.0 Send some mail, I'll try my best" },
	};

	(void)arg;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (!strcasecmp(verb, fixed[i].verb)) {
			if (reply(c, "%s", fixed[i].text) < 0)
				return -1;
			return !strcasecmp(verb, "QUIT");
		}
	return reply(c, "502 5.5.1 Error: command not implemented");
}

static const struct command {
	const char *verb;
	int (*check)(struct conn *, const char *verb, const char *arg);   /* NULL: none */
	int (*proceed)(struct conn *, const char *verb, const char *arg);
} commands[] = {
	{ "EHLO", check_greeting, proceed_greeting },
	{ "HELO", check_greeting, proceed_greeting },
	{ "MAIL", check_mail, proceed_mail },
	{ "RCPT", check_rcpt, proceed_rcpt },
	{ "DATA", check_data, proceed_data },
	{ "RSET", NULL, proceed_rset },
	{ "NOOP", NULL, proceed_fixed },
	{ "QUIT", NULL, proceed_fixed },
	{ "HELP", NULL, proceed_fixed },
	{ "VRFY", NULL, proceed_fixed },
	/* Not offered (EHLO does not announce them). */
	{ "STARTTLS", NULL, proceed_fixed },
	{ "AUTH", NULL, proceed_fixed },
	{ "BDAT", NULL, proceed_fixed },
	{ "ETRN", NULL, proceed_fixed },
};

/* One command line: 0, 1 to end the session, -1 when a reply failed. */
static int
dispatch(struct conn *c, char *line)
{
	char *arg = strchr(line, ' ');
	int rc;

	if (arg)
		*arg++ = '\0';
	else
		arg = "";
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *cmd = &commands[i];

		if (strcasecmp(line, cmd->verb) != 0)
			continue;
		if (cmd->check && (rc = cmd->check(c, line, arg)) != 0)
			return rc < 0 ? -1 : 0;
		return cmd->proceed(c, line, arg);
	}
	return reply(c, "500 5.5.2 Error: command not recognized");
}

static int
session_end(struct conn *c, struct dynbuf *line, int rc, struct result *r)
{
	int e = errno;

	reset(c);
	db_free(line);
	free(c->helo);
	free(c->path);
	if (rc < 0)
		return res_fail(r, RES_IOERR, "-bs: cannot write the reply: %s", strerror(e));
	if (c->read_errno)
		return res_fail(r, RES_IOERR, "-bs: cannot read standard input: %s",
				strerror(c->read_errno));
	return 0;
}

int
smtpd_serve(const struct submission *tmpl, int in, int out, struct result *r)
{
	struct conn c;
	struct dynbuf line = { 0 };
	int rc;

	memset(&c, 0, sizeof(c));
	c.lf_client = -1;
	c.in = in;
	c.out = out;
	c.tmpl = tmpl;
	c.c = tmpl->cfg;
	c.host = host_name();
	rc = reply(&c, "220 %s ESMTP mailout", c.host);
	while (rc == 0) {
		int crlf, got = read_line(&c, &line, CMD_MAX, &crlf);

		if (got == 0)
			break;
		if (c.lf_client < 0)
			c.lf_client = !crlf;
		if (got == 2)
			rc = reply(&c, "500 5.5.0 Error: line too long");
		else if (has_control(line.s, line.len))
			rc = reply(&c, "501 5.5.2 Error: control character in command");
		else
			rc = dispatch(&c, line.s);
	}
	return session_end(&c, &line, rc, r);
}
