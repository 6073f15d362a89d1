/*
 * attach.c - attachments added to a piped message (-a in sendmail mode,
 * SPEC 4): the message's own headers are kept, its body becomes the first
 * part (with the Content- headers it had), and each file a part after it.  A message that is already
 * multipart/mixed gets the files as parts of its own, before its close
 * delimiter.  The parts themselves are written by mime.c (mime-out.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <unistd.h>

#include "encode.h"
#include "message.h"
#include "mime.h"
#include "mime-out.h"
#include "util.h"

/*
 * Reading a Content-Type value (RFC 2045 5.1):
 *   content   := type "/" subtype *(";" parameter)
 *   parameter := attribute "=" value     value := token / quoted-string
 * with white space, folding and (nested) comments allowed between the
 * tokens (RFC 822 3.1.4); attribute names are case-insensitive.
 */
struct ct_lex {
	const char *s, *end;
};

/* Skip white space, line breaks and comments. */
static void
ct_skip(struct ct_lex *x)
{
	while (x->s < x->end) {
		if (*x->s == ' ' || *x->s == '\t' || *x->s == '\r' || *x->s == '\n') {
			x->s++;
		} else if (*x->s == '(') {
			int depth = 0;
			do {
				if (*x->s == '\\' && x->s + 1 < x->end)
					x->s++;
				else if (*x->s == '(')
					depth++;
				else if (*x->s == ')')
					depth--;
				x->s++;
			} while (depth > 0 && x->s < x->end);
		} else {
			break;
		}
	}
}

/* 0 and past c when c comes next, else -1. */
static int
ct_char(struct ct_lex *x, char c)
{
	ct_skip(x);
	if (x->s >= x->end || *x->s != c)
		return -1;
	x->s++;
	return 0;
}

/* A token (any printable ASCII but tspecials) appended to out; -1 when none. */
static int
ct_token(struct ct_lex *x, struct dynbuf *out)
{
	const char *b;

	ct_skip(x);
	for (b = x->s; x->s < x->end; x->s++) {
		unsigned char c = (unsigned char)*x->s;
		if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?=", c))
			break;
	}
	if (x->s == b)
		return -1;
	db_add(out, b, (size_t)(x->s - b));
	return 0;
}

/* A token or a quoted-string (unquoted, unfolded) appended to out; -1 when
 * there is neither. */
static int
ct_value(struct ct_lex *x, struct dynbuf *out)
{
	ct_skip(x);
	if (x->s >= x->end || *x->s != '"')
		return ct_token(x, out);
	for (x->s++; x->s < x->end; x->s++) {
		char c = *x->s;
		if (c == '"') {
			x->s++;
			db_add(out, "", 0);     /* "" is a value too */
			return 0;
		}
		if (c == '\\' && x->s + 1 < x->end)
			c = *++x->s;
		else if (c == '\r' || c == '\n')
			continue;               /* folding: the CRLF goes */
		db_addc(out, c);
	}
	return -1;                              /* unterminated */
}

/*
 * The boundary of a multipart/mixed Content-Type value, or NULL (another
 * type, a malformed value, or a boundary that RFC 2046 5.1.1 does not
 * allow: 1 to 70 characters, no control characters, not ending in a
 * space).  Parsing stops at the first malformed parameter: what follows
 * it cannot be read reliably.
 */
static char *
mixed_boundary(const char *v, size_t len)
{
	struct ct_lex x = { v, v + len };
	struct dynbuf type = { 0 }, sub = { 0 }, name = { 0 }, val = { 0 };
	char *b = NULL;

	if (ct_token(&x, &type) < 0 || ct_char(&x, '/') < 0 || ct_token(&x, &sub) < 0 ||
	    strcasecmp(type.s, "multipart") != 0 || strcasecmp(sub.s, "mixed") != 0)
		goto out;
	while (ct_char(&x, ';') == 0) {
		db_reset(&name);
		db_reset(&val);
		if (ct_token(&x, &name) < 0 || ct_char(&x, '=') < 0 || ct_value(&x, &val) < 0)
			break;
		if (strcasecmp(name.s, "boundary") != 0)
			continue;
		if (val.len >= 1 && val.len <= 70 && val.s[val.len - 1] != ' ' &&
		    strlen(val.s) == val.len && !enc_needs_encoding(val.s))
			b = xstrdup(val.s);
		break;
	}
out:
	db_free(&type);
	db_free(&sub);
	db_free(&name);
	db_free(&val);
	return b;
}

/*
 * The offset in fd (read from its start to its end) of the line that
 * holds the close delimiter "--boundary--" (RFC 2046 5.1.1: at the start
 * of a line, perhaps followed by white space), or -1 when there is none
 * or on a read error (errno set; 0 when simply not found).  Read in fixed
 * chunks, matching as it goes: memory stays bounded whatever the lines.
 */
static off_t
find_close_delimiter(int fd, const char *boundary)
{
	char *pat = xasprintf("--%s--", boundary);
	size_t plen = strlen(pat), k = 0;    /* bytes of pat matched on this line */
	int skip = 0;                        /* this line is not it */
	unsigned char buf[65536];
	off_t pos = 0, line = 0, found = -1;
	ssize_t n;

	errno = 0;
	while (found < 0 && (n = read_retry(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++, pos++) {
			unsigned char c = buf[i];

			if (c == '\n') {
				if (!skip && k == plen) {
					found = line;
					break;
				}
				k = 0;
				skip = 0;
				line = pos + 1;
			} else if (skip) {
				;
			} else if (k < plen && c == (unsigned char)pat[k]) {
				k++;
			} else if (k < plen || (c != ' ' && c != '\t' && c != '\r')) {
				skip = 1;
			}
		}
	}
	if (found < 0 && errno == 0 && !skip && k == plen)
		found = line;           /* the last line, without a line break */
	free(pat);
	return found;
}

/* Copy n bytes of fd (to its end when n < 0) from where it is to o,
 * after what o holds.  0, or -1 with errno set when fd cannot be read (a
 * write error is kept in o->failed). */
static int
copy_to_out(struct mime_out *o, int fd, off_t n)
{
	int rc;

	mime_out_flush(o);
	if (o->failed)
		return 0;
	rc = copy_fd(fd, o->fd, n);
	if (rc == -2)
		o->failed = errno ? errno : EIO;
	return rc == -1 ? -1 : 0;
}

/* A multipart/mixed message: everything is kept, the attachments go in
 * before the close delimiter (or at the end, closed, when there is none). */
static int
attach_to_mixed(struct msg *m, struct mime_out *o, const char *boundary,
		struct mime_attachment *att, size_t natt, const char *tmpdir,
		struct result *r)
{
	int fd = tmp_private(tmpdir), rc = -1;
	off_t at = -1;

	if (fd < 0)
		return res_fail(r, RES_CANTCREAT, "cannot create a temporary file: %s",
				strerror(errno));
	/* The body goes through a private file: it is read twice. */
	if (msg_copy_body(m, fd, r) < 0)
		goto out;
	if (lseek(fd, 0, SEEK_SET) != 0 || ((at = find_close_delimiter(fd, boundary)) < 0 &&
					     errno != 0) || lseek(fd, 0, SEEK_SET) != 0) {
		res_fail(r, RES_IOERR, "cannot read back the message body: %s", strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < m->nh; i++)
		mime_out_add(o, m->h[i].raw, m->h[i].len);
	mime_out_adds(o, "\r\n");
	if (copy_to_out(o, fd, at) < 0) {
		res_fail(r, RES_IOERR, "cannot read back the message body: %s", strerror(errno));
		goto out;
	}
	/* Before the close delimiter, the CRLF ending the line before it
	 * delimits our first part (RFC 2046 5.1.1: it belongs to the
	 * delimiter). */
	if (mime_write_parts(o, boundary, att, natt, at >= 0 ? "" : "\r\n", at < 0) < 0) {
		res_fail(r, RES_NOINPUT, "cannot read an attachment: %s", strerror(errno));
		goto out;
	}
	if (at >= 0 && copy_to_out(o, fd, -1) < 0) {
		res_fail(r, RES_IOERR, "cannot read back the message body: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

/* A header that describes the body (RFC 2045, 2183: Content-Type,
 * -Transfer-Encoding, -Disposition, -Description, -ID...). */
static int
is_content_header(const struct msg_header *h)
{
	return h->namelen > 8 && !strncasecmp(h->raw, "Content-", 8);
}

/* Any other message: its MIME headers move into the first part of a new
 * multipart/mixed, its body (streamed straight through) becomes that part.
 * Every Content- header moves, not only the type and encoding: a
 * Content-Disposition left on top made readers show the whole message as
 * one attachment. */
static int
attach_wrapped(struct msg *m, struct mime_out *o, struct mime_attachment *att, size_t natt,
	       struct result *r)
{
	struct dynbuf part = { 0 };
	char boundary[64];

	mime_make_boundary(boundary, sizeof(boundary));
	for (size_t i = 0; i < m->nh; i++) {
		struct msg_header *h = &m->h[i];
		if (is_content_header(h) ||
		    (h->namelen == 12 && !strncasecmp(h->raw, "MIME-Version", 12)))
			continue;
		mime_out_add(o, h->raw, h->len);
	}
	db_printf(&part, "MIME-Version: 1.0\r\nContent-Type: multipart/mixed;\r\n"
		  "\tboundary=\"%s\"\r\n\r\nThis is a message in MIME format.\r\n\r\n"
		  "--%s\r\n", boundary, boundary);
	if (!msg_find(m, "Content-Type"))
		db_adds(&part, "Content-Type: text/plain; charset=utf-8\r\n");
	if (!msg_find(m, "Content-Transfer-Encoding"))
		db_adds(&part, "Content-Transfer-Encoding: 8bit\r\n");
	for (size_t i = 0; i < m->nh; i++)
		if (is_content_header(&m->h[i]))
			db_add(&part, m->h[i].raw, m->h[i].len);
	db_adds(&part, "\r\n");
	mime_out_add(o, part.s, part.len);
	db_free(&part);
	mime_out_flush(o);
	if (o->failed)
		return 0;                       /* reported by the caller */
	if (msg_copy_body(m, o->fd, r) < 0)
		return -1;
	if (mime_write_parts(o, boundary, att, natt, "\r\n", 1) < 0)
		return res_fail(r, RES_NOINPUT, "cannot read an attachment: %s", strerror(errno));
	return 0;
}

int
mime_attach(struct msg *m, struct mime_attachment *att, size_t natt, const char *tmpdir,
	    int out_fd, struct result *r)
{
	struct mime_out o = { out_fd, { 0 }, 0 };
	struct msg_header *ct = msg_find(m, "Content-Type");
	char *mixed = NULL;
	int rc;

	if (ct) {
		size_t vlen;
		const char *v = msg_value(ct, &vlen);
		mixed = mixed_boundary(v, vlen);
	}
	if (mixed)
		rc = attach_to_mixed(m, &o, mixed, att, natt, tmpdir, r);
	else
		rc = attach_wrapped(m, &o, att, natt, r);
	mime_out_flush(&o);
	if (rc == 0 && o.failed)
		rc = res_fail(r, disk_full_errno(o.failed) ? RES_TEMPFAIL : RES_IOERR,
			      "cannot complete the message with its attachments: %s; nothing "
			      "was sent", strerror(o.failed));
	free(mixed);
	db_free(&o.b);
	return rc;
}
