/*
 * smtp-trace.c - following an SMTP dialogue line by line (smtp-trace.h).
 *
 * A reply ends where libcurl's smtp_endofresp() says it does: a line of
 * three digits, then a space or nothing.  libcurl reads past any other
 * line, a "DDD-" continuation or one that is no reply at all, and waits
 * for the line that ends the reply: such lines are kept with that reply's
 * text and decide nothing on their own.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp-trace.h"

void
smtp_trace_init(struct smtp_trace *t, int partial_delivery)
{
	memset(t, 0, sizeof(*t));
	t->partial_delivery = partial_delivery;
	t->stage = SMTP_CONNECT;
}

static void
free_refusals(struct smtp_trace *t)
{
	for (size_t i = 0; i < t->nrefused; i++) {
		free(t->refused[i].rcpt);
		free(t->refused[i].reply);
	}
	free(t->refused);
	t->refused = NULL;
	t->nrefused = 0;
}

void
smtp_trace_reset(struct smtp_trace *t)
{
	free_refusals(t);
	t->code = 0;
	db_reset(&t->reply);
	db_reset(&t->partial);
	t->fail_code = 0;
	db_reset(&t->fail_reply);
	free(t->fail_rcpt);
	t->fail_rcpt = NULL;
	t->stage = SMTP_CONNECT;
	t->in_sasl = 0;
	t->awaiting = 0;
	t->body_uncoded = 0;
}

void
smtp_trace_free(struct smtp_trace *t)
{
	free_refusals(t);
	db_free(&t->reply);
	db_free(&t->partial);
	db_free(&t->fail_reply);
	free(t->rcpt);
	free(t->fail_rcpt);
	t->rcpt = t->fail_rcpt = NULL;
}

size_t
smtp_trace_clean(char *s, size_t n)
{
	size_t i = 0, out = 0;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 1;
		size_t k = 1;

		if (c < 0x80 || len == 1 || c > 0xf4) {
			s[out++] = c >= 0x80 && c <= 0x9f ? '?' : (char)c;
			i++;
			continue;
		}
		while (k < len && i + k < n && ((unsigned char)s[i + k] & 0xc0) == 0x80)
			k++;
		if (k < len) {          /* not a UTF-8 sequence: the byte alone */
			s[out++] = (char)c;
			i++;
		} else if (c == 0xc2 && (unsigned char)s[i + 1] <= 0x9f) {
			s[out++] = '?'; /* U+0080-U+009F */
			i += 2;
		} else {
			memmove(s + out, s + i, len);
			out += len;
			i += len;
		}
	}
	if (out < n)
		s[out] = '\0';
	return out;
}

/* The EHLO answer in plain text is the one that offers STARTTLS: keep it
 * apart from the one after. */
static void
probe_starttls(struct submit_probe *p)
{
	for (size_t i = 0; i < p->nehlo_plain; i++)
		free(p->ehlo_plain[i]);
	free(p->ehlo_plain);
	p->ehlo_plain = p->ehlo;
	p->nehlo_plain = p->nehlo;
	p->ehlo = NULL;
	p->nehlo = 0;
}

static int
verb(const char *line, size_t n, const char *v)
{
	size_t k = strlen(v);

	return n >= k && strncasecmp(line, v, k) == 0;
}

static void
on_command(struct smtp_trace *t, const char *line, size_t n)
{
	/* Between "AUTH MECH" and the relay's final reply to it every line
	 * is a SASL response: base64 that may well start like a verb
	 * ("eHlo..." is base64 of "xyh..."), never a command. */
	if (t->in_sasl)
		return;
	if (verb(line, n, "EHLO")) {
		t->stage = SMTP_EHLO;
		t->auth_offered = 0;
		if (t->probe) {   /* keep only the last EHLO's answer */
			for (size_t i = 0; i < t->probe->nehlo; i++)
				free(t->probe->ehlo[i]);
			t->probe->nehlo = 0;
		}
	} else if (verb(line, n, "STARTTLS")) {
		if (t->probe)
			probe_starttls(t->probe);
		t->stage = SMTP_STARTTLS;
	} else if (verb(line, n, "HELO")) {
		/* libcurl falls back to HELO when EHLO is refused: HELO's
		 * reply decides, not EHLO's. */
		if (t->fail_code && t->fail_stage == SMTP_EHLO)
			t->fail_code = 0;
		t->stage = SMTP_EHLO;
	} else if (verb(line, n, "AUTH ")) {
		t->stage = SMTP_AUTH;
		t->in_sasl = 1;
	} else if (verb(line, n, "MAIL FROM:")) {
		t->stage = SMTP_MAIL;
	} else if (verb(line, n, "RCPT TO:")) {
		const char *lt = memchr(line, '<', n), *gt = memchr(line, '>', n);

		t->stage = SMTP_RCPT;
		free(t->rcpt);
		t->rcpt = lt && gt && gt > lt ? xstrndup(lt + 1, (size_t)(gt - lt - 1))
					      : xstrndup(line + 8, n - 8);
	} else if (verb(line, n, "DATA")) {
		t->stage = SMTP_DATA;
	} else if (verb(line, n, "QUIT")) {
		/* libcurl says QUIT on its way out of a failure too: the
		 * failure belongs to the stage before. */
		if (t->stage != SMTP_QUIT)
			t->before_quit = t->stage;
		t->stage = SMTP_QUIT;
	} else if (verb(line, n, "NOOP") || verb(line, n, "RSET") || verb(line, n, "HELP") ||
		   verb(line, n, "VRFY")) {
		t->stage = SMTP_OTHER;
	}
	/* Anything else is a client response inside AUTH: the stage stays. */
}

/* A complete reply is in t->code and t->reply: record what it decides. */
static void
on_reply(struct smtp_trace *t)
{
	if (t->stage == SMTP_AUTH && t->code == 235)
		t->auth_ok = 1;
	if (t->code != 334)
		t->in_sasl = 0;         /* the exchange is over, either way */
	/* A refusal, or a reply the command cannot get.  QUIT's reply decides
	 * nothing; a refused EHLO is forgotten when libcurl falls back to
	 * HELO (on_command()); with partial_delivery a refused RCPT is only
	 * that recipient's (below). */
	if (!t->fail_code && t->stage != SMTP_QUIT &&
	    !(t->stage == SMTP_RCPT && t->partial_delivery) &&
	    (t->code >= 400 || !res_reply_fits(t->stage, t->code))) {
		t->fail_code = t->code;
		t->fail_stage = t->stage;
		db_reset(&t->fail_reply);
		db_adds(&t->fail_reply, db_str(&t->reply));
		free(t->fail_rcpt);
		t->fail_rcpt = t->stage == SMTP_RCPT && t->rcpt ? xstrdup(t->rcpt) : NULL;
	}
	/* Whatever is not a 2xx refuses the recipient for libcurl (with
	 * partial delivery it goes on to the others). */
	if (t->stage == SMTP_RCPT && t->code / 100 != 2) {
		struct submit_refusal *f;

		t->refused = xrealloc(t->refused, (t->nrefused + 1) * sizeof(*t->refused));
		f = &t->refused[t->nrefused++];
		f->rcpt = xstrdup(t->rcpt ? t->rcpt : "?");
		f->code = t->code;
		f->reply = xstrdup(db_str(&t->reply));
		f->result = NULL;
	}
	if (t->probe && t->stage == SMTP_CONNECT) {
		free(t->probe->greeting);
		t->probe->greeting = xstrdup(db_str(&t->reply));
	}
	if (t->stage == SMTP_DATA && t->code == 354)
		t->stage = SMTP_BODY;
}

static void
on_reply_line(struct smtp_trace *t, const char *line, size_t n)
{
	int digits = n >= 3 && isdigit((unsigned char)line[0]) &&
		     isdigit((unsigned char)line[1]) && isdigit((unsigned char)line[2]);
	int last = digits && (n == 3 || line[3] == ' ');
	const char *text = n > 4 ? line + 4 : "";
	size_t tlen = n > 4 ? n - 4 : 0;

	/* A greeting means a new connection: nothing is authenticated on it. */
	if (t->stage == SMTP_CONNECT)
		t->auth_ok = 0;
	if (t->stage == SMTP_EHLO && tlen >= 4 && strncasecmp(text, "AUTH", 4) == 0 &&
	    (tlen == 4 || text[4] == ' ' || text[4] == '='))
		t->auth_offered = 1;
	if (t->probe && t->stage == SMTP_EHLO) {
		struct submit_probe *p = t->probe;
		p->ehlo = xrealloc(p->ehlo, (p->nehlo + 1) * sizeof(char *));
		p->ehlo[p->nehlo++] = xstrndup(line, n);
	}
	if (!digits) {
		if (t->stage == SMTP_BODY)
			t->body_uncoded++;
		/* No reply code at all.  Should nothing valid follow, this
		 * line is what the relay said (not SMTP). */
		t->code = -1;
		db_reset(&t->reply);
		db_add(&t->reply, line, n);
		return;
	}
	if (t->partial.len)
		db_addc(&t->partial, ' ');
	db_add(&t->partial, line, n);
	if (!last)
		return;
	t->awaiting = 0;
	/* A complete reply; a code under 100 is no SMTP reply code. */
	t->code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (t->code < 100)
		t->code = -1;
	db_reset(&t->reply);
	db_add(&t->reply, t->partial.s, t->partial.len);
	db_reset(&t->partial);
	on_reply(t);
}

void
smtp_trace_line(struct smtp_trace *t, int outgoing, const char *line, size_t n)
{
	char *clean;

	if (outgoing) {
		t->awaiting = 1;
		on_command(t, line, n);
		return;
	}
	clean = xstrndup(line, n);
	n = smtp_trace_clean(clean, n);
	on_reply_line(t, clean, n);
	free(clean);
}

char *
smtp_trace_show(const struct smtp_trace *t, int outgoing, const char *line, size_t n,
		char *buf, size_t size)
{
	size_t len;

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (outgoing && t->in_sasl) {
		snprintf(buf, size, "--> [redacted]");
	} else if (outgoing && verb(line, n, "AUTH ")) {
		/* Keep "AUTH MECH", hide any initial response. */
		const char *sp = memchr(line + 5, ' ', n - 5);
		size_t keep = sp ? (size_t)(sp - line) : n;

		snprintf(buf, size, "--> %.*s%s", (int)(keep > 64 ? 64 : keep), line,
			 sp ? " [redacted]" : "");
	} else {
		snprintf(buf, size, "%s %.*s", outgoing ? "-->" : "<--",
			 (int)(n > 1000 ? 1000 : n), line);
	}
	len = smtp_trace_clean(buf, strlen(buf));
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	return buf;
}

enum smtp_stage
smtp_trace_stage(const struct smtp_trace *t)
{
	if (t->fail_code)
		return t->fail_stage;
	return t->stage == SMTP_QUIT ? t->before_quit : t->stage;
}
