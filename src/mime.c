/*
 * mime.c - MIME messages (SPEC 4): media types, opening attachments, the
 * multipart writer and compose mode.  Bodies and attachments are
 * streamed: memory stays bounded whatever their size.  The encodings
 * themselves are encode.c's; attachments added to a piped message (-a in
 * sendmail mode) are attach.c's; what both write with is in mime-out.h.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "address.h"
#include "encode.h"
#include "mime.h"
#include "mime-out.h"
#include "util.h"

/* ---- attachments ---- */


int
mime_open_attachments(struct mime_attachment *a, size_t n, struct result *r)
{
	for (size_t i = 0; i < n; i++) {
		const char *why = NULL;
		struct stat st, in;

		a[i].fd = -1;
		if (has_line_break(a[i].path)) {
			mime_close_attachments(a, i);
			return res_fail(r, RES_USAGE, "attachment name contains a line break");
		}
		/* O_NONBLOCK: a FIFO without a writer must not block the open;
		 * what is no regular file is refused before anything is read. */
		a[i].fd = open(a[i].path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (a[i].fd < 0 || fstat(a[i].fd, &st) != 0)
			why = strerror(errno);
		else if (S_ISDIR(st.st_mode))
			why = "is a directory";
		else if (S_ISFIFO(st.st_mode) && fstat(0, &in) == 0 && S_ISFIFO(in.st_mode) &&
			 st.st_dev == in.st_dev && st.st_ino == in.st_ino)
			/* -a /dev/stdin: the body takes the data */
			why = "it is the standard input, which holds the message";
		else if (!S_ISREG(st.st_mode))
			why = S_ISFIFO(st.st_mode) ? "a pipe, not a regular file"
						   : "not a regular file";
		else if (fcntl(a[i].fd, F_SETFL, fcntl(a[i].fd, F_GETFL) & ~O_NONBLOCK) != 0)
			why = strerror(errno);
		if (why) {
			res_fail(r, RES_NOINPUT, "cannot attach %s: %s", a[i].path, why);
			mime_close_attachments(a, i + 1);
			return -1;
		}
	}
	return 0;
}

void
mime_close_attachments(struct mime_attachment *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i].fd >= 0)
			close(a[i].fd);
		a[i].fd = -1;
	}
}

static const char *const builtin_types[][2] = {
	{ "txt", "text/plain" }, { "log", "text/plain" }, { "csv", "text/csv" },
	{ "html", "text/html" }, { "htm", "text/html" }, { "xml", "application/xml" },
	{ "json", "application/json" }, { "pdf", "application/pdf" },
	{ "zip", "application/zip" }, { "gz", "application/gzip" },
	{ "tgz", "application/gzip" }, { "tar", "application/x-tar" },
	{ "bz2", "application/x-bzip2" }, { "xz", "application/x-xz" },
	{ "zst", "application/zstd" }, { "7z", "application/x-7z-compressed" },
	{ "png", "image/png" }, { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
	{ "gif", "image/gif" }, { "svg", "image/svg+xml" }, { "webp", "image/webp" },
	{ "ics", "text/calendar" }, { "eml", "message/rfc822" },
	{ "doc", "application/msword" },
	{ "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document" },
	{ "xls", "application/vnd.ms-excel" },
	{ "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" },
	{ "odt", "application/vnd.oasis.opendocument.text" },
	{ "ods", "application/vnd.oasis.opendocument.spreadsheet" },
	{ "mp3", "audio/mpeg" }, { "mp4", "video/mp4" }, { "sh", "application/x-sh" },
};

const char *
mime_type_for(const char *filename)
{
	static char found[128];
	const char *dot = strrchr(filename, '.');
	const char *slash = strrchr(filename, '/');
	FILE *f;
	char *line = NULL;
	size_t cap = 0;

	if (!dot || (slash && dot < slash) || !dot[1])
		return "application/octet-stream";
	dot++;
	if ((f = fopen("/etc/mime.types", "re"))) {
		while (getline(&line, &cap, f) > 0) {
			char *save, *type = strtok_r(line, " \t\r\n", &save), *ext;
			if (!type || type[0] == '#')
				continue;
			while ((ext = strtok_r(NULL, " \t\r\n", &save)))
				if (strcasecmp(ext, dot) == 0 && strlen(type) < sizeof(found)) {
					strcpy(found, type);
					free(line);
					fclose(f);
					return found;
				}
		}
		free(line);
		fclose(f);
	}
	for (size_t i = 0; i < sizeof(builtin_types) / sizeof(builtin_types[0]); i++)
		if (strcasecmp(builtin_types[i][0], dot) == 0)
			return builtin_types[i][1];
	return "application/octet-stream";
}

/* ---- writing ---- */

void
mime_out_flush(struct mime_out *o)
{
	if (o->b.len && !o->failed && write_all(o->fd, o->b.s, o->b.len) < 0)
		o->failed = errno ? errno : EIO;
	db_reset(&o->b);
}

void
mime_out_add(struct mime_out *o, const void *p, size_t n)
{
	db_add(&o->b, p, n);
	if (o->b.len >= 65536)
		mime_out_flush(o);
}

void
mime_out_adds(struct mime_out *o, const char *s)
{
	mime_out_add(o, s, strlen(s));
}

/* base64 in 76-column lines, streamed from fd. */
static int
write_base64(struct mime_out *o, int fd)
{
	enum { LINE = 57, CHUNK = LINE * 1024 };
	unsigned char *buf = xmalloc(CHUNK);
	ssize_t n;
	int rc = 0;

	while ((n = read_full(fd, buf, CHUNK)) > 0) {
		for (ssize_t i = 0; i < n; i += LINE) {
			size_t len = (size_t)(n - i) < LINE ? (size_t)(n - i) : LINE;
			enc_base64(&o->b, buf + i, len);
			db_add(&o->b, "\r\n", 2);
		}
		if (o->b.len >= 65536)
			mime_out_flush(o);
		if (n < CHUNK)
			break;
	}
	if (n < 0)
		rc = -1;
	free(buf);
	return rc;
}

/* What the body needs: 8-bit bytes, control characters or long lines. */
struct body_facts {
	int eightbit, binary, longline;
};

static int
scan_body(int fd, struct body_facts *f)
{
	unsigned char buf[65536];
	size_t col = 0;
	ssize_t n;
	int prev_cr = 0;

	memset(f, 0, sizeof(*f));
	while ((n = read_retry(fd, buf, sizeof(buf))) != 0) {
		if (n < 0)
			return -1;
		for (ssize_t i = 0; i < n; i++) {
			unsigned char c = buf[i];
			if (prev_cr && c != '\n')
				f->binary = 1;      /* a lone CR */
			prev_cr = c == '\r';
			if (c == '\n') {
				col = 0;
				continue;
			}
			if (c >= 0x80)
				f->eightbit = 1;
			else if ((c < 0x20 && c != '\t' && c != '\r' && c != '\f') || c == 0x7f)
				f->binary = 1;
			if (++col > 998)
				f->longline = 1;
		}
	}
	if (prev_cr)
		f->binary = 1;
	return lseek(fd, 0, SEEK_SET) == 0 ? 0 : -1;
}

/* Copy text from fd with CRLF line endings, ending with a line break. */
static int
write_text_crlf(struct mime_out *o, int fd)
{
	char buf[65536];
	ssize_t n;
	int prev_cr = 0, at_bol = 1;

	while ((n = read_retry(fd, buf, sizeof(buf))) != 0) {
		if (n < 0)
			return -1;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' && !prev_cr)
				mime_out_add(o, "\r", 1);
			mime_out_add(o, &buf[i], 1);
			prev_cr = buf[i] == '\r';
			at_bol = buf[i] == '\n';
		}
	}
	if (!at_bol)
		mime_out_adds(o, "\r\n");
	return 0;
}

/* The body as quoted-printable (encode.h), streamed from fd. */
static int
write_qp(struct mime_out *o, int fd)
{
	unsigned char buf[65536];
	struct enc_qp q;
	ssize_t n;

	enc_qp_init(&q);
	while ((n = read_retry(fd, buf, sizeof(buf))) != 0) {
		if (n < 0)
			return -1;
		enc_qp_feed(&q, buf, (size_t)n, &o->b);
		if (o->b.len >= 65536)
			mime_out_flush(o);
	}
	enc_qp_finish(&q, &o->b);
	return 0;
}

void
mime_make_boundary(char *b, size_t len)
{
	unsigned char rnd[12];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0x5a, sizeof(rnd));
	snprintf(b, len, "=_mailout_%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x",
		 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], rnd[8],
		 rnd[9], rnd[10], rnd[11]);
}

/*
 * The charset of a text attachment, from its first 64 KiB (a regular
 * file only: a pipe cannot be read twice): "us-ascii" when the whole file
 * is ASCII, "utf-8" when what was read is valid UTF-8, else NULL (no
 * charset: readers then guess, as they did before).  Without one, mutt
 * showed UTF-8 text as "Gr????e".
 */
static const char *
text_charset(int fd)
{
	static unsigned char buf[64 * 1024];
	struct stat st;
	ssize_t n;
	int ascii = 1;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (n = pread(fd, buf, sizeof(buf), 0)) < 0)
		return NULL;
	for (ssize_t i = 0; i < n; ) {
		size_t l = buf[i] < 0x80 ? 1 : enc_utf8_len(buf[i]);

		if (buf[i] >= 0x80) {
			ascii = 0;
			if (l == 1 || (buf[i] & 0xc0) == 0x80)
				return NULL;
			if (i + (ssize_t)l > n)       /* cut by the 64 KiB */
				return (size_t)n == sizeof(buf) ? "utf-8" : NULL;
			for (size_t k = 1; k < l; k++)
				if ((buf[i + k] & 0xc0) != 0x80)
					return NULL;
		}
		i += (ssize_t)l;
	}
	return ascii && n == st.st_size ? "us-ascii" : "utf-8";
}

/* One attachment part.  lead: "\r\n" when the content before it ends with
 * a line break of its own (the delimiter's CRLF must not eat it). */
static int
write_attachment(struct mime_out *o, const char *boundary, struct mime_attachment *a,
		 const char *lead)
{
	const char *base = strrchr(a->path, '/');
	const char *type, *charset;
	struct dynbuf h = { 0 };
	int rc;

	base = base ? base + 1 : a->path;
	type = mime_type_for(base);
	/* A long media type starts on a continuation line of its own. */
	db_printf(&h, "%s--%s\r\nContent-Type:", lead, boundary);
	db_adds(&h, strlen("Content-Type: ;") + strlen(type) > ENC_LINE_SOFT ? "\r\n " : " ");
	db_adds(&h, type);
	if (!strncmp(type, "text/", 5) && (charset = text_charset(a->fd)))
		db_printf(&h, ";\r\n\tcharset=%s", charset);
	enc_name_param(&h, "name", base);
	db_adds(&h, "\r\nContent-Disposition: attachment");
	enc_name_param(&h, "filename", base);
	db_adds(&h, "\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	mime_out_add(o, h.s, h.len);
	db_free(&h);
	rc = write_base64(o, a->fd);
	return rc;
}

/* mime-out.h */
int
mime_write_parts(struct mime_out *o, const char *boundary, struct mime_attachment *att,
		 size_t n, const char *lead, int close)
{
	for (size_t i = 0; i < n; i++)
		if (write_attachment(o, boundary, &att[i], i == 0 ? lead : "") < 0)
			return -1;
	if (close) {
		mime_out_adds(o, "--");
		mime_out_adds(o, boundary);
		mime_out_adds(o, "--\r\n");
	}
	return 0;
}

/*
 * An address header: "Name: mailbox, mailbox", each mailbox on the line
 * when it fits there whole, else on a continuation line of its own.
 */
static void
add_address_header(struct dynbuf *d, const char *name, const struct addr_list *l)
{
	struct dynbuf one = { 0 };
	size_t col;

	if (!l || l->n == 0)
		return;
	db_printf(d, "%s:", name);
	col = strlen(name) + 1;
	for (size_t i = 0; i < l->n; i++) {
		const char *dn = addr_list_name(l, i);
		/* A local name ("mail -s ... root") is no address in a header
		 * that may leave this host: qualified with the mail domain, as
		 * Postfix appends myorigin. */
		char *a = strchr(l->v[i], '@') ? xstrdup(l->v[i])
					       : xasprintf("%s@%s", l->v[i], mail_domain());
		size_t end;

		if (i) {
			db_addc(d, ',');
			col++;
		}
		db_reset(&one);
		end = enc_mailbox(&one, dn, a, col + 1);
		if (i && (memchr(one.s, '\n', one.len) || end > ENC_LINE_SOFT)) {
			db_adds(d, "\r\n");
			db_reset(&one);
			end = enc_mailbox(&one, dn, a, 1);
		}
		free(a);
		db_addc(d, ' ');
		db_add(d, one.s, one.len);
		col = end;
	}
	db_adds(d, "\r\n");
	db_free(&one);
}

/* See addr_is_ascii(): exit 64, as for any option mailout cannot use. */
static int
check_ascii_address(const char *a, struct result *r)
{
	if (!addr_is_ascii(a))
		return res_fail(r, RES_USAGE, "address %s has non-ASCII characters, which "
				"need SMTPUTF8; mailout does not do SMTPUTF8", a);
	return 0;
}

static int
check_ascii_addresses(const struct mime_compose *c, struct result *r)
{
	const struct addr_list *lists[] = { c->to, c->cc, c->bcc };

	if ((c->from && check_ascii_address(c->from, r) < 0) ||
	    (c->sender && check_ascii_address(c->sender, r) < 0))
		return -1;
	for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++)
		for (size_t i = 0; lists[k] && i < lists[k]->n; i++)
			if (check_ascii_address(lists[k]->v[i], r) < 0)
				return -1;
	return 0;
}

int
mime_compose(int body_fd, const struct mime_compose *c, int out_fd, struct result *r)
{
	struct mime_out o = { out_fd, { 0 }, 0 };
	struct body_facts f;
	struct dynbuf h = { 0 };
	char boundary[64];
	const char *charset, *cte;
	int qp, rc = -1;

	if (check_ascii_addresses(c, r) < 0)
		goto out;
	if (scan_body(body_fd, &f) < 0) {
		res_fail(r, RES_IOERR, "cannot read the message body: %s", strerror(errno));
		goto out;
	}
	qp = f.eightbit || f.binary || f.longline;
	charset = f.eightbit ? "utf-8" : "us-ascii";
	cte = qp ? "quoted-printable" : "7bit";

	if (c->from) {
		db_adds(&h, "From: ");
		enc_mailbox(&h, c->from_name, c->from, 6);
		db_adds(&h, "\r\n");
	}
	add_address_header(&h, "To", c->to);
	add_address_header(&h, "Cc", c->cc);
	add_address_header(&h, "Bcc", c->bcc);   /* removed by the spooler */
	if (c->subject) {
		db_adds(&h, "Subject: ");
		enc_header_text(&h, c->subject, 9, 0);
		db_adds(&h, "\r\n");
	}
	db_adds(&h, "MIME-Version: 1.0\r\n");
	if (c->natt) {
		mime_make_boundary(boundary, sizeof(boundary));
		db_printf(&h, "Content-Type: multipart/mixed;\r\n\tboundary=\"%s\"\r\n\r\n"
			  "This is a message in MIME format.\r\n\r\n--%s\r\n", boundary, boundary);
	}
	db_printf(&h, "Content-Type: text/plain; charset=%s\r\nContent-Transfer-Encoding: %s"
		  "\r\n\r\n", charset, cte);
	mime_out_add(&o, h.s, h.len);
	if ((qp ? write_qp(&o, body_fd) : write_text_crlf(&o, body_fd)) < 0) {
		res_fail(r, RES_IOERR, "cannot read the message body: %s", strerror(errno));
		goto out;
	}
	if (c->natt && mime_write_parts(&o, boundary, c->att, c->natt, "\r\n", 1) < 0) {
		res_fail(r, RES_NOINPUT, "cannot read an attachment: %s", strerror(errno));
		goto out;
	}
	mime_out_flush(&o);
	if (o.failed) {
		res_fail(r, disk_full_errno(o.failed) ? RES_TEMPFAIL : RES_IOERR,
			 "cannot complete the composed message: %s; nothing was sent",
			 strerror(o.failed));
		goto out;
	}
	rc = 0;
out:
	db_free(&h);
	db_free(&o.b);
	return rc;
}
