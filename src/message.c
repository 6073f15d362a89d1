/*
 * message.c - standard input to spool file (SPEC 3).
 *
 * All input goes through one converter (msg_conv_*) that yields the
 * message with CRLF line endings and stops at a lone dot; the header
 * section is read line by line from its output, the body is streamed
 * from it to the spool file in large blocks.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "encode.h"
#include "message.h"
#include "util.h"

#define READ_CHUNK (256 * 1024)

/* ---- the converter ---- */

void
msg_conv_init(struct msg_conv *c, int ignore_dots)
{
	memset(c, 0, sizeof(*c));
	c->ignore_dots = ignore_dots;
	c->at_bol = 1;
}

size_t
msg_conv_feed(struct msg_conv *c, const char *in, size_t n, struct dynbuf *out)
{
	size_t i;

	if (c->ended)
		return 0;
	/* Worst case every byte becomes two (LF -> CRLF), plus a held ".\r". */
	db_reserve(out, 2 * n + 4);
	char *o = out->s + out->len;
	for (i = 0; i < n; i++) {
		char ch = in[i];

		/* Fast path: copy a run of ordinary bytes up to the next CR or LF. */
		if (!c->dot && !c->pending_cr && ch != '\r' && ch != '\n' &&
		    !(ch == '.' && c->at_bol && !c->ignore_dots)) {
			const char *p = in + i;
			const char *nl = memchr(p, '\n', n - i);
			size_t run = nl ? (size_t)(nl - p) : n - i;
			const char *cr = memchr(p, '\r', run);

			if (cr)
				run = (size_t)(cr - p);
			memcpy(o, p, run);
			o += run;
			i += run - 1;
			c->at_bol = 0;
			continue;
		}
		if (c->dot) {
			/* A "." opened this line: is it alone on it? */
			if (ch == '\n') {
				c->ended = 1;
				i++;
				break;
			}
			if (ch == '\r' && c->dot == 1) {
				c->dot = 2;
				continue;
			}
			*o++ = '.';
			if (c->dot == 2)
				c->pending_cr = 1;
			c->dot = 0;
			c->at_bol = 0;
		}
		if (c->pending_cr) {
			c->pending_cr = 0;
			if (ch == '\n') {
				*o++ = '\r';
				*o++ = '\n';
				c->at_bol = 1;
				continue;
			}
			/* A lone CR stays, and is data; except before a dot,
			 * where it becomes a space (as Postfix's cleanup makes
			 * every stray CR): "CR . CR LF" ends the data for a
			 * relay that takes a lone CR for a line end, and what
			 * follows would be SMTP commands (SMTP smuggling). */
			*o++ = ch == '.' ? ' ' : '\r';
			c->at_bol = 0;
		}
		if (ch == '\r') {
			c->pending_cr = 1;
		} else if (ch == '\n') {
			*o++ = '\r';
			*o++ = '\n';
			c->at_bol = 1;
		} else if (ch == '.' && c->at_bol && !c->ignore_dots) {
			c->dot = 1;
		} else {
			*o++ = ch;
			c->at_bol = 0;
		}
	}
	out->len = (size_t)(o - out->s);
	out->s[out->len] = '\0';
	return i;
}

void
msg_conv_finish(struct msg_conv *c, struct dynbuf *out)
{
	if (c->ended)
		return;
	if (c->dot) {
		/* "." or ".\r" as the very last line ends the input too. */
		c->dot = 0;
		c->ended = 1;
		return;
	}
	if (c->pending_cr) {
		db_addc(out, '\r');
		c->pending_cr = 0;
		c->at_bol = 0;
	}
	if (!c->at_bol) {
		db_adds(out, "\r\n");
		c->at_bol = 1;
	}
}

/* ---- buffered reading through the converter ---- */

struct msg_input {
	int fd;
	int eof;
	struct msg_conv conv;
	struct dynbuf norm;      /* converted, not yet consumed */
	size_t pos;              /* consumed up to here */
	char raw[READ_CHUNK];
};

/* Convert one more chunk of input.  Returns 1 when something may have
 * been added, 0 at the end of input, -1 on a read error. */
static int
fill(struct msg_input *in)
{
	ssize_t n;

	if (in->eof || in->conv.ended)
		return 0;
	/* Drop what was consumed (keeping a partial line), so that the
	 * buffer holds at most one line and a chunk however long the header
	 * section is. */
	if (in->pos > 0) {
		memmove(in->norm.s, in->norm.s + in->pos, in->norm.len - in->pos);
		in->norm.len -= in->pos;
		in->norm.s[in->norm.len] = '\0';
		in->pos = 0;
	}
	n = read_retry(in->fd, in->raw, sizeof(in->raw));
	if (n < 0)
		return -1;
	if (n == 0) {
		in->eof = 1;
		msg_conv_finish(&in->conv, &in->norm);
		return 1;
	}
	msg_conv_feed(&in->conv, in->raw, (size_t)n, &in->norm);
	return 1;
}

/* The next converted line (CRLF included) at *line, length *len; 0 at the
 * end of input, -1 on a read error.  The line stays valid until the next
 * call. */
static int
next_line(struct msg_input *in, const char **line, size_t *len)
{
	for (;;) {
		const char *start = in->norm.s ? in->norm.s + in->pos : NULL;
		size_t avail = in->norm.len - in->pos;
		const char *nl = avail ? memchr(start, '\n', avail) : NULL;
		int rc;

		if (nl) {
			*line = start;
			*len = (size_t)(nl - start) + 1;
			in->pos += *len;
			return 1;
		}
		if (avail > MSG_MAX_HEADER_BYTES) {
			errno = EMSGSIZE;
			return -1;
		}
		rc = fill(in);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			if (!avail)
				return 0;
			*line = start;
			*len = avail;
			in->pos += avail;
			return 1;
		}
	}
}

/* ---- headers ---- */

void
msg_init(struct msg *m, int fd, int ignore_dots)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->in = xcalloc(1, sizeof(*m->in));
	m->in->fd = fd;
	msg_conv_init(&m->in->conv, ignore_dots);
}

/* Length of the field name when line starts a header field, else 0. */
static size_t
field_name_len(const char *line, size_t len)
{
	size_t i = 0, name;

	while (i < len && line[i] > 32 && line[i] < 127 && line[i] != ':')
		i++;
	name = i;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return name > 0 && i < len && line[i] == ':' ? name : 0;
}

static void
add_header(struct msg *m, const char *line, size_t len, size_t namelen)
{
	if (m->nh == m->caph) {
		m->caph = m->caph ? m->caph * 2 : 16;
		m->h = xrealloc(m->h, m->caph * sizeof(*m->h));
	}
	m->h[m->nh].raw = xstrndup(line, len);
	m->h[m->nh].len = len;
	m->h[m->nh].cap = len + 1;
	m->h[m->nh].namelen = namelen;
	m->h[m->nh].drop = 0;
	m->nh++;
}

/* Append a continuation line to h.  The buffer grows geometrically: a
 * header folded over many thousand short lines must not be copied once per
 * line (quadratic wherever realloc() moves the block, as under ASan and
 * valgrind: 64 K lines took 33 s and 2.2 GB there). */
static void
continue_header(struct msg_header *h, const char *line, size_t len)
{
	if (h->len + len + 1 > h->cap) {
		size_t cap = h->cap < 256 ? 256 : h->cap;

		while (cap < h->len + len + 1)
			cap *= 2;
		h->raw = xrealloc(h->raw, cap);
		h->cap = cap;
	}
	memcpy(h->raw + h->len, line, len);
	h->len += len;
	h->raw[h->len] = '\0';
}

/* An mbox "From " line, or one quoted as ">From ", ">>From "...: the
 * lines of this kind before the first header are dropped, as Postfix's
 * sendmail drops them. */
static int
is_from_line(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && line[i] == '>')
		i++;
	return len - i >= 5 && memcmp(line + i, "From ", 5) == 0;
}

int
msg_read_headers(struct msg *m, struct result *r)
{
	struct msg_input *in = m->in;
	const char *line;
	size_t len;
	int leading = 1, rc;

	while ((rc = next_line(in, &line, &len)) > 0) {
		size_t content = len, namelen;

		if (content >= 2 && line[content - 2] == '\r' && line[content - 1] == '\n')
			content -= 2;
		if (content == 0)
			return 0;                       /* the blank line */
		if (leading && is_from_line(line, content))
			continue;
		leading = 0;
		if ((line[0] == ' ' || line[0] == '\t') && m->nh > 0) {
			namelen = 0;                    /* continuation */
		} else if (!(namelen = field_name_len(line, content))) {
			in->pos -= len;                 /* the body starts here */
			return 0;
		}
		if (memchr(line, '\0', content))
			return res_fail(r, RES_DATAERR, "NUL byte in a header line");
		if (memchr(line, '\r', content))
			return res_fail(r, RES_DATAERR, "CR without LF in a header line");
		m->header_bytes += len;
		if (m->header_bytes > MSG_MAX_HEADER_BYTES)
			return res_fail(r, RES_DATAERR, "header section larger than %u MiB",
					MSG_MAX_HEADER_BYTES >> 20);
		if (namelen) {
			add_header(m, line, len, namelen);
		} else {
			continue_header(&m->h[m->nh - 1], line, len);
		}
	}
	if (rc < 0) {
		if (errno == EMSGSIZE)
			return res_fail(r, RES_DATAERR, "header line longer than %u MiB",
					MSG_MAX_HEADER_BYTES >> 20);
		return res_fail(r, RES_IOERR, "cannot read the message: %s", strerror(errno));
	}
	m->input_ended = 1;
	return 0;
}

static int
name_is(const struct msg_header *h, const char *name)
{
	return strlen(name) == h->namelen && strncasecmp(h->raw, name, h->namelen) == 0;
}

struct msg_header *
msg_find(const struct msg *m, const char *name)
{
	for (size_t i = 0; i < m->nh; i++)
		if (!m->h[i].drop && name_is(&m->h[i], name))
			return &m->h[i];
	return NULL;
}

const char *
msg_value(const struct msg_header *h, size_t *len)
{
	const char *v = memchr(h->raw, ':', h->len) + 1;
	size_t n = h->len - (size_t)(v - h->raw);

	if (n >= 2 && v[n - 2] == '\r' && v[n - 1] == '\n')
		n -= 2;
	else if (n >= 1 && v[n - 1] == '\n')
		n -= 1;
	*len = n;
	return v;
}

int
msg_is_resent(const struct msg *m)
{
	for (size_t i = 0; i < m->nh; i++)
		if (m->h[i].namelen > 7 && strncasecmp(m->h[i].raw, "Resent-", 7) == 0)
			return 1;
	return 0;
}

int
msg_header_recipients(const struct msg *m, struct addr_list *out, struct result *r)
{
	static const char *const plain[] = { "To", "Cc", "Bcc" };
	static const char *const resent[] = { "Resent-To", "Resent-Cc", "Resent-Bcc" };
	const char *const *names = msg_is_resent(m) ? resent : plain;
	char err[256];

	for (size_t i = 0; i < m->nh; i++) {
		for (int k = 0; k < 3; k++) {
			size_t len;
			const char *v;

			if (!name_is(&m->h[i], names[k]))
				continue;
			v = msg_value(&m->h[i], &len);
			if (addr_parse_list(v, len, out, err, sizeof(err)) < 0)
				return res_fail(r, RES_DATAERR, "%.*s header: %s",
						(int)m->h[i].namelen, m->h[i].raw, err);
		}
	}
	return 0;
}

char *
msg_from_address(const struct msg *m, struct result *r)
{
	struct msg_header *h = msg_find(m, "From");
	struct addr_list l = { 0 };
	char err[256], *a;
	const char *v;
	size_t len;
	int n;

	if (!h) {
		res_fail(r, RES_DATAERR, "--read-envelope-from: the message has no From header");
		return NULL;
	}
	v = msg_value(h, &len);
	if ((n = addr_parse_list(v, len, &l, err, sizeof(err))) <= 0) {
		res_fail(r, RES_DATAERR, "From header: %s", n < 0 ? err : "no address");
		addr_list_free(&l);
		return NULL;
	}
	a = xstrdup(l.v[0]);
	addr_list_free(&l);
	return a;
}

/* ---- spooling ---- */

void
msg_date(time_t t, char *buf, size_t n)
{
	struct tm tm;

	localtime_r(&t, &tm);
	/* The C locale is in force: English day and month names. */
	strftime(buf, n, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

void
msg_add_date(struct dynbuf *d, const char *prefix)
{
	char buf[64];

	msg_date(time(NULL), buf, sizeof(buf));
	db_printf(d, "%sDate: %s\r\n", prefix, buf);
}

void
msg_add_message_id(struct dynbuf *d, const char *prefix, const char *domain)
{
	unsigned char rnd[12];
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		/* Not cryptographic, only unique enough. */
		for (size_t i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)(rand() ^ getpid() ^ (int)now);
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
	db_printf(d, "%sMessage-ID: <%s.", prefix, stamp);
	for (size_t i = 0; i < sizeof(rnd); i++)
		db_printf(d, "%02x", rnd[i]);
	db_printf(d, "@%s>\r\n", domain);
}

static void
add_from(struct dynbuf *d, const char *prefix, const char *addr, const char *name)
{
	/* -F / from_name, RFC 2047-encoded or folded as it needs */
	db_printf(d, "%sFrom: ", prefix);
	enc_mailbox(d, name, addr, strlen(prefix) + 6);
	db_adds(d, "\r\n");
}

static int
flush_out(int fd, struct dynbuf *b, const char *path, struct result *r)
{
	if (b->len && write_all(fd, b->s, b->len) < 0)
		return res_fail(r, disk_full_errno(errno) ? RES_TEMPFAIL : RES_IOERR,
				"cannot complete the spool file %s: %s; nothing was sent", path,
				strerror(errno));
	db_reset(b);
	return 0;
}

/*
 * Body lines longer than RFC 5321's 998 bytes (before the CRLF) are broken
 * by inserting CRLF and a space, as Postfix's SMTP client does
 * (smtp_line_length_limit): a relay that enforces the limit refuses the
 * whole message for good otherwise, and cron output with one long line
 * would be lost.  Headers are never touched.  w carries the state across
 * pieces of converted (CRLF) text.
 */
#define SMTP_LINE_MAX 998

struct wrap {
	size_t col;              /* bytes on the current output line */
	int cr;                  /* a CR ended the last piece */
};

static void
wrap_content(struct wrap *w, const char *s, size_t n, struct dynbuf *out)
{
	while (n) {
		size_t take;

		if (w->col == SMTP_LINE_MAX) {
			db_adds(out, "\r\n ");
			w->col = 1;
		}
		take = SMTP_LINE_MAX - w->col < n ? SMTP_LINE_MAX - w->col : n;
		db_add(out, s, take);
		w->col += take;
		s += take;
		n -= take;
	}
}

static void
wrap_add(struct wrap *w, const char *s, size_t n, struct dynbuf *out)
{
	const char *end = s + n;

	while (s < end) {
		const char *cr;

		if (w->cr) {
			w->cr = 0;
			if (*s == '\n') {
				db_adds(out, "\r\n");
				w->col = 0;
				s++;
				continue;
			}
			wrap_content(w, "\r", 1, out);      /* a lone CR: data */
		}
		cr = memchr(s, '\r', (size_t)(end - s));
		wrap_content(w, s, (size_t)((cr ? cr : end) - s), out);
		if (!cr)
			break;
		w->cr = 1;
		s = cr + 1;
	}
}

/* Stream the rest of the input (after the headers) through out to fd. */
static int
copy_body(struct msg *m, int fd, struct dynbuf *out, struct result *r)
{
	struct msg_input *in = m->in;
	const char *what = m->path ? m->path : "the output";
	struct dynbuf conv = { 0 };
	struct wrap w = { 0, 0 };
	int rc = -1;

	/* What is converted already, then the rest of the input. */
	wrap_add(&w, in->norm.s ? in->norm.s + in->pos : "", in->norm.len - in->pos, out);
	in->pos = in->norm.len;
	for (;;) {
		if (out->len >= READ_CHUNK && flush_out(fd, out, what, r) < 0)
			goto out;
		if (in->eof || in->conv.ended)
			break;
		ssize_t n = read_retry(in->fd, in->raw, sizeof(in->raw));
		if (n < 0) {
			res_fail(r, RES_IOERR, "cannot read the message: %s", strerror(errno));
			goto out;
		}
		if (n == 0) {
			in->eof = 1;
			msg_conv_finish(&in->conv, &conv);
		} else {
			msg_conv_feed(&in->conv, in->raw, (size_t)n, &conv);
		}
		wrap_add(&w, conv.s ? conv.s : "", conv.len, out);
		db_reset(&conv);
	}
	/* The converter ends every line with CRLF: no CR is left pending. */
	rc = flush_out(fd, out, what, r);
out:
	db_free(&conv);
	return rc;
}

int
msg_copy_body(struct msg *m, int fd, struct result *r)
{
	struct dynbuf out = { 0 };
	int rc = copy_body(m, fd, &out, r);

	db_free(&out);
	return rc;
}

int
msg_spool(struct msg *m, const char *dir, const char *envelope,
	  const struct msg_fix *fix, struct result *r)
{
	struct dynbuf out = { 0 };
	struct stat st;
	const char *pfx;
	int fd, resent, rc = -1;

	m->path = xasprintf("%s/mo.XXXXXX", dir);
	fd = mkostemp(m->path, O_CLOEXEC);   /* O_RDWR, mode 0600 */
	if (fd < 0) {
		res_fail(r, disk_full_errno(errno) ? RES_TEMPFAIL : RES_CANTCREAT,
			 "cannot create a spool file in %s: %s", dir,
			 strerror(errno));
		free(m->path);
		m->path = NULL;
		return -1;
	}
	m->fd = fd;
	if (envelope)
		db_adds(&out, envelope);
	m->data_offset = (off_t)out.len;

	/* Return-Path is the final delivery's to add (RFC 5321 4.4), as
	 * Postfix's cleanup(8) drops it.  A resent message gets the Resent- fields of its resending (RFC 5322
	 * 3.6.6; Postfix's cleanup adds them), and rewrite_from rewrites who
	 * resent it, not the author. */
	resent = msg_is_resent(m);
	pfx = resent ? "Resent-" : "";
	for (size_t i = 0; i < m->nh; i++) {
		struct msg_header *h = &m->h[i];

		if (name_is(h, "Bcc") || name_is(h, "Resent-Bcc") ||
		    name_is(h, "Return-Path") ||
		    (fix->rewrite_from && fix->from_addr &&
		     name_is(h, resent ? "Resent-From" : "From")))
			h->drop = 1;
		if (!h->drop)
			db_add(&out, h->raw, h->len);
	}
	/* Every message has its From, Date and Message-ID (SPEC 3); a resent
	 * one also gets the Resent- fields it lacks. */
	for (int k = 0; k <= resent; k++) {
		const char *p = k ? pfx : "";
		char name[32];

		snprintf(name, sizeof(name), "%sFrom", p);
		if (fix->from_addr && !msg_find(m, name))
			add_from(&out, p, fix->from_addr, fix->from_name);
		snprintf(name, sizeof(name), "%sDate", p);
		if (!msg_find(m, name))
			msg_add_date(&out, p);
		snprintf(name, sizeof(name), "%sMessage-ID", p);
		if (!msg_find(m, name))
			msg_add_message_id(&out, p, fix->id_domain);
	}
	db_adds(&out, "\r\n");

	if (copy_body(m, fd, &out, r) < 0)
		goto fail;
	if (fstat(fd, &st) != 0 || lseek(fd, m->data_offset, SEEK_SET) != m->data_offset) {
		res_fail(r, RES_IOERR, "spool file %s: %s", m->path, strerror(errno));
		goto fail;
	}
	m->size = st.st_size - m->data_offset;
	rc = 0;
fail:
	db_free(&out);
	return rc;
}

void
msg_free(struct msg *m, int keep)
{
	for (size_t i = 0; i < m->nh; i++)
		free(m->h[i].raw);
	free(m->h);
	if (m->in) {
		db_free(&m->in->norm);
		free(m->in);
	}
	if (m->fd >= 0)
		close(m->fd);
	if (m->path && !keep)
		unlink(m->path);
	free(m->path);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}
