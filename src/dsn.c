/*
 * dsn.c - the text of a delivery status notification (RFC 3464, with the
 * status codes of RFC 3463 and the report type of RFC 6522).
 *
 *   From: Mail Delivery System <MAILER-DAEMON@reporting-mta>
 *   Auto-Submitted: auto-replied            (RFC 3834: no replies to it)
 *   Content-Type: multipart/report; report-type=delivery-status; boundary=...
 *
 *   part 1  text/plain      what happened, in words, per recipient
 *   part 2  message/delivery-status
 *             Reporting-MTA: dns; HOST
 *             X-Mailout-Queue-ID, Arrival-Date
 *             (empty line, then per recipient:)
 *             Final-Recipient: rfc822; ADDR
 *             Action: failed | delayed
 *             Status: 5.1.1
 *             Remote-MTA: dns; RELAY                (when a relay answered)
 *             Diagnostic-Code: smtp; 550 5.1.1 ...  (the relay's reply)
 *             Last-Attempt-Date, Will-Retry-Until   (delayed only)
 *   part 3  text/rfc822-headers   the original header section
 *
 * Text that came from elsewhere (a relay's reply, the original headers)
 * is never trusted to be one header line: control characters become
 * spaces and long values are folded, so that nothing in it can add a
 * field or a part.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dsn.h"
#include "message.h"
#include "mime-out.h"
#include "util.h"

/* Header section of the original that is quoted, at most. */
#define DSN_HEADERS_MAX (1024 * 1024)

/* "X.Y.Z" at the start of s (after white space), RFC 3463 syntax: class
 * 2, 4 or 5; subject up to 3 digits; detail up to 3 digits. */
static int
enhanced_code(const char *s, char *buf, size_t n)
{
	size_t a, b;

	while (*s == ' ')
		s++;
	if ((s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	a = strspn(s + 2, "0123456789");
	if (a < 1 || a > 3 || s[2 + a] != '.')
		return 0;
	b = strspn(s + 3 + a, "0123456789");
	if (b < 1 || b > 3 || (s[3 + a + b] && s[3 + a + b] != ' '))
		return 0;
	snprintf(buf, n, "%.*s", (int)(3 + a + b), s);
	return 1;
}

void
dsn_status(const struct dsn *d, const struct dsn_rcpt *r, char *buf, size_t n)
{
	const char *t = r->reply;

	/* The reply's text starts with its code: "550 5.1.1 ..." or "550-5.1.1". */
	if (t && r->smtp_code >= 400 && strlen(t) > 4 && enhanced_code(t + 4, buf, n) &&
	    buf[0] == '0' + r->smtp_code / 100)
		return;
	if (r->smtp_code >= 400 && r->smtp_code < 600)
		snprintf(buf, n, "%d.0.0", r->smtp_code / 100);
	else if (r->expired)
		snprintf(buf, n, "4.4.7");
	else
		snprintf(buf, n, "%s", d->kind == DSN_DELAYED ? "4.0.0" : "5.0.0");
}

/* text made safe for one header field value: printable ASCII, control
 * characters and bytes over 0x7e as spaces, runs of spaces as one. */
static void
add_clean(struct dynbuf *out, const char *text)
{
	int space = 0;

	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		int c = *p < 0x20 || *p > 0x7e ? ' ' : *p;

		if (c == ' ' && space)
			continue;
		space = c == ' ';
		db_addc(out, (char)c);
	}
}

/* "Name: value" folded at spaces so that no line passes 78 columns where
 * it can be avoided (RFC 5322 2.1.1). */
static void
add_field(struct dynbuf *out, const char *name, const char *value)
{
	struct dynbuf v = { 0 };
	size_t col, start = 0;

	add_clean(&v, value);
	db_printf(out, "%s:", name);
	col = strlen(name) + 1;
	while (start < v.len) {
		size_t end = start, brk = 0;

		while (end < v.len && (col + (end - start) < 78 || !brk)) {
			if (v.s[end] == ' ' && end > start)
				brk = end;
			end++;
		}
		if (end < v.len && brk)
			end = brk;
		db_printf(out, "%s%.*s", start ? "\r\n\t" : " ", (int)(end - start), v.s + start);
		col = 8;
		start = end;
		while (start < v.len && v.s[start] == ' ')
			start++;
	}
	db_adds(out, "\r\n");
	db_free(&v);
}

static void
add_date(struct dynbuf *out, const char *name, time_t t)
{
	char buf[64];

	msg_date(t, buf, sizeof(buf));
	db_printf(out, "%s: %s\r\n", name, buf);
}

static void
top_headers(struct dynbuf *out, const struct dsn *d, const char *boundary)
{
	db_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", d->reporting_mta);
	add_field(out, "To", *d->to ? d->to : "postmaster");
	db_printf(out, "Subject: %s\r\n", d->kind == DSN_DELAYED ?
		  "Delayed Mail (still being retried)" : "Undelivered Mail Returned to Sender");
	msg_add_date(out, "");
	msg_add_message_id(out, "", d->reporting_mta);
	db_adds(out, "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n");
	db_printf(out, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
		  "\tboundary=\"%s\"\r\n\r\nThis is a MIME-encapsulated message.\r\n", boundary);
}

static void
human_part(struct dynbuf *out, const struct dsn *d, const char *boundary)
{
	db_printf(out, "\r\n--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n"
		  "Content-Description: Notification\r\n\r\n", boundary);
	db_printf(out, "This is the mail system at host %s.\r\n\r\n", d->reporting_mta);
	if (d->kind == DSN_DELAYED)
		db_adds(out, "Your message has not been delivered yet to the recipients below.\r\n"
			"It is still being retried; you need not send it again.\r\n");
	else
		db_adds(out, "Your message could not be delivered to the recipients below,\r\n"
			"and no further attempt will be made.\r\n");
	db_adds(out, "The message's header section is attached.\r\n");
	for (size_t i = 0; i < d->nrcpts; i++) {
		const struct dsn_rcpt *r = &d->rcpts[i];
		struct dynbuf why = { 0 };

		add_clean(&why, r->reply ? r->reply : r->reason ? r->reason :
			  r->expired ? "the message was too long in the queue" : "no reason given");
		db_adds(out, "\r\n<");
		add_clean(out, r->rcpt);
		db_printf(out, ">:%s\r\n", r->reply ? (d->remote_mta ? " the relay said:" : " said:") : "");
		db_printf(out, "    %s\r\n", why.s ? why.s : "");
		if (r->reply && d->remote_mta)
			db_printf(out, "    (relay %s)\r\n", d->remote_mta);
		db_free(&why);
	}
}

static void
status_part(struct dynbuf *out, const struct dsn *d, const char *boundary)
{
	char status[32];

	db_printf(out, "\r\n--%s\r\nContent-Type: message/delivery-status\r\n"
		  "Content-Description: Delivery report\r\n\r\n", boundary);
	db_printf(out, "Reporting-MTA: dns; %s\r\n", d->reporting_mta);
	if (d->queue_id)
		add_field(out, "X-Mailout-Queue-ID", d->queue_id);
	add_date(out, "Arrival-Date", d->arrival);
	for (size_t i = 0; i < d->nrcpts; i++) {
		const struct dsn_rcpt *r = &d->rcpts[i];
		struct dynbuf v = { 0 };

		db_adds(out, "\r\n");
		db_adds(&v, "rfc822; ");
		db_adds(&v, r->rcpt);
		add_field(out, "Final-Recipient", v.s);
		db_printf(out, "Action: %s\r\n", d->kind == DSN_DELAYED ? "delayed" : "failed");
		dsn_status(d, r, status, sizeof(status));
		db_printf(out, "Status: %s\r\n", status);
		if (r->reply && d->remote_mta)
			db_printf(out, "Remote-MTA: dns; %s\r\n", d->remote_mta);
		db_reset(&v);
		if (r->reply) {
			db_printf(&v, "smtp; %s", r->reply);
			add_field(out, "Diagnostic-Code", v.s);
		} else if (r->reason) {
			db_printf(&v, "x-mailout; %s", r->reason);
			add_field(out, "Diagnostic-Code", v.s);
		}
		if (d->last_attempt)
			add_date(out, "Last-Attempt-Date", d->last_attempt);
		db_free(&v);
	}
}

/* The original header section, up to its empty line (at most
 * DSN_HEADERS_MAX), CRLF line endings kept. */
static int
headers_part(int out, struct dynbuf *b, const char *boundary, int fd, off_t off)
{
	char buf[8192];
	size_t total = 0;
	int eol = 1, eight = 0;
	struct dynbuf h = { 0 };

	if (lseek(fd, off, SEEK_SET) != off)
		return -1;
	while (total < DSN_HEADERS_MAX) {
		ssize_t n = read_retry(fd, buf, sizeof(buf));
		size_t i;

		if (n <= 0)
			break;
		for (i = 0; i < (size_t)n && total < DSN_HEADERS_MAX; i++, total++) {
			if (buf[i] == '\n' && eol)
				goto end;          /* the empty line */
			if (buf[i] == '\n')
				eol = 1;
			else if (buf[i] != '\r')
				eol = 0;
			eight |= (unsigned char)buf[i] > 0x7e;
			db_addc(&h, buf[i]);
		}
	}
end:
	while (h.len && (h.s[h.len - 1] == '\r' || h.s[h.len - 1] == '\n'))
		h.len--;
	db_printf(b, "\r\n--%s\r\nContent-Type: text/rfc822-headers%s\r\n"
		  "Content-Description: Undelivered message headers\r\n\r\n", boundary,
		  eight ? "; charset=utf-8\r\nContent-Transfer-Encoding: 8bit" : "");
	if (write_all(out, b->s, b->len) < 0 || write_all(out, h.s ? h.s : "", h.len) < 0) {
		db_free(&h);
		return -1;
	}
	db_free(&h);
	db_reset(b);
	db_printf(b, "\r\n\r\n--%s--\r\n", boundary);
	return write_all(out, b->s, b->len);
}

int
dsn_write(int out, const struct dsn *d, int orig_fd, off_t orig_offset, struct result *r)
{
	struct dynbuf b = { 0 };
	char boundary[64];
	int rc;

	mime_make_boundary(boundary, sizeof(boundary));
	top_headers(&b, d, boundary);
	human_part(&b, d, boundary);
	status_part(&b, d, boundary);
	rc = headers_part(out, &b, boundary, orig_fd, orig_offset);
	db_free(&b);
	if (rc < 0)
		return res_fail(r, RES_IOERR, "cannot write the delivery status notification: %s",
				strerror(errno));
	return 0;
}
