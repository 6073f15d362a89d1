/*
 * encode.c - the encodings of mail text, with no I/O: RFC 4648 base64,
 * RFC 2045 quoted-printable, RFC 5322 header folding and quoted phrases,
 * RFC 2047 encoded-words and RFC 2231 parameters.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "util.h"

/*
 * RFC 5322 2.1.1: a line SHOULD be at most 78 characters and MUST be at
 * most 998 (both without the CRLF).  Encoded-words (RFC 2047 2: at most
 * 75 characters each) and quoted-printable lines are kept to 76.
 */
#define LINE_SOFT ENC_LINE_SOFT
#define LINE_HARD 998
#define LINE_ENC 76

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
enc_base64(struct dynbuf *out, const unsigned char *in, size_t n)
{
	char *q;
	size_t i;

	db_reserve(out, (n + 2) / 3 * 4);
	q = out->s + out->len;
	for (i = 0; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		*q++ = b64[v >> 18];
		*q++ = b64[(v >> 12) & 63];
		*q++ = b64[(v >> 6) & 63];
		*q++ = b64[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);
		*q++ = b64[v >> 18];
		*q++ = b64[(v >> 12) & 63];
		*q++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		*q++ = '=';
	}
	out->len = (size_t)(q - out->s);
	out->s[out->len] = '\0';
}

int
enc_needs_encoding(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x7f || (unsigned char)*s < 0x20)
			return 1;
	return 0;
}


void
enc_phrase(struct dynbuf *out, const char *name)
{
	size_t n = strlen(name);
	int plain = n > 0 && name[0] != ' ' && name[n - 1] != ' ';

	for (const char *p = name; plain && *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-/=?^_`{|}~ ", *p) &&
		    !((unsigned char)*p & 0x80))
			plain = 0;
	if (plain) {
		db_adds(out, name);
		return;
	}
	db_addc(out, '"');
	for (const char *p = name; *p; p++) {
		if (*p == '"' || *p == '\\')
			db_addc(out, '\\');
		db_addc(out, *p);
	}
	db_addc(out, '"');
}

size_t
enc_utf8_len(unsigned char c)
{
	if (c >= 0xf0 && c < 0xf8)
		return 4;
	if (c >= 0xe0)
		return c < 0xf0 ? 3 : 1;
	if (c >= 0xc0)
		return 2;
	return 1;
}

/*
 * ASCII header text folded at white space so that lines stay within 78
 * characters.  RFC 5322 2.2.3: a line break may go before any space or
 * tab, and unfolding removes only the CRLF, so the text reads back
 * exactly as given (this holds inside quoted strings too, 3.2.4).
 * Appends nothing and returns -1 when a word, with the white space before
 * it, cannot fit on a line of its own; else returns 0 with *col updated.
 */
static int
fold_ascii(struct dynbuf *out, const char *s, size_t *col)
{
	struct dynbuf d = { 0 };
	size_t c = *col;

	while (*s) {
		size_t ws = strspn(s, " \t"), w = strcspn(s + ws, " \t");

		if (c + ws + w <= LINE_SOFT) {
			;                       /* fits on this line */
		} else if (w == 0 && c + ws <= LINE_HARD) {
			;   /* trailing white space: a line of nothing else is not allowed */
		} else if (ws > 0 && w > 0 && ws + w <= LINE_SOFT) {
			db_adds(&d, "\r\n");
			c = 0;
		} else {
			db_free(&d);
			return -1;
		}
		db_add(&d, s, ws + w);
		c += ws + w;
		s += ws + w;
	}
	db_add(out, db_str(&d), d.len);
	db_free(&d);
	*col = c;
	return 0;
}

/*
 * text as RFC 2047 "B" encoded-words in UTF-8, each at most 72
 * characters, never splitting a UTF-8 sequence.  Adjacent encoded-words
 * need white space between them, which decoders drop (RFC 2047 6.2):
 * each one after the first starts a continuation line.
 */
static size_t
encode_words(struct dynbuf *out, const char *text, size_t col)
{
	size_t len = strlen(text), i = 0;

	while (i < len) {
		size_t room, n = 0;

		/* The longest sequence (4 bytes) needs 20 columns: 12 for
		 * "=?UTF-8?B?" and "?=", 8 of base64. */
		if (i > 0 || (col > 1 && col + 20 > LINE_ENC)) {
			db_adds(out, "\r\n ");
			col = 1;
		}
		room = col + 12 < LINE_ENC ? (LINE_ENC - col - 12) / 4 * 3 : 0;
		if (room > 45)
			room = 45;             /* 60 characters of base64 */
		while (i + n < len) {
			size_t l = enc_utf8_len((unsigned char)text[i + n]);
			if (l > len - i - n)    /* a sequence cut short by the end */
				l = len - i - n;
			if (n + l > room)
				break;
			n += l;
		}
		if (n == 0)     /* never (room >= 6): the loop must advance */
			n = enc_utf8_len((unsigned char)text[i]) < len - i ?
				enc_utf8_len((unsigned char)text[i]) : len - i;
		db_adds(out, "=?UTF-8?B?");
		enc_base64(out, (const unsigned char *)text + i, n);
		db_adds(out, "?=");
		col += 12 + (n + 2) / 3 * 4;
		i += n;
	}
	return col;
}

size_t
enc_header_text(struct dynbuf *out, const char *text, size_t col, int phrase)
{
	if (!enc_needs_encoding(text)) {
		struct dynbuf q = { 0 };
		int folded;

		if (phrase)
			enc_phrase(&q, text);
		folded = fold_ascii(out, phrase ? db_str(&q) : text, &col) == 0;
		db_free(&q);
		if (folded)
			return col;
		/* A word too long for any line: encoded-words can be split
		 * where plain text cannot. */
	}
	return encode_words(out, text, col);
}

size_t
enc_mailbox(struct dynbuf *out, const char *name, const char *addr, size_t col)
{
	size_t alen = strlen(addr);

	if (!name || !*name) {
		db_adds(out, addr);
		return col + alen;
	}
	col = enc_header_text(out, name, col, 1);
	if (col + 3 + alen > LINE_SOFT) {      /* " <" addr ">" */
		db_adds(out, "\r\n");
		col = 0;
	}
	db_printf(out, " <%s>", addr);
	return col + 3 + alen;
}

/* ---- quoted-printable ---- */

static const char hexdigits[] = "0123456789ABCDEF";

/* One quoted-printable unit (a character or "=XX") on the current line,
 * after a soft line break ("=" CRLF) when the line would pass 76. */
static void
qp_put(struct enc_qp *q, struct dynbuf *out, const char *s, size_t len)
{
	if (q->col + len > LINE_ENC - 1) {
		db_adds(out, "=\r\n");
		q->col = 0;
	}
	db_add(out, s, len);
	q->col += len;
}

static void
qp_hex(struct enc_qp *q, struct dynbuf *out, unsigned char c)
{
	char enc[3] = { '=', hexdigits[c >> 4], hexdigits[c & 15] };

	qp_put(q, out, enc, 3);
}

/* Write the held-back space or tab, if any: encoded when it ends a line
 * (RFC 2045 6.7 rule 3), else as it is. */
static void
qp_ws(struct enc_qp *q, struct dynbuf *out, int trailing)
{
	char c = (char)q->ws;

	if (q->ws < 0)
		return;
	if (trailing)
		qp_hex(q, out, (unsigned char)c);
	else
		qp_put(q, out, &c, 1);
	q->ws = -1;
}

void
enc_qp_init(struct enc_qp *q)
{
	q->col = 0;
	q->ws = -1;
	q->cr = 0;
}

void
enc_qp_feed(struct enc_qp *q, const void *in, size_t n, struct dynbuf *out)
{
	const unsigned char *buf = in;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = buf[i];
		char ch = (char)c;
		int bol;

		if (q->cr && c != '\n') {
			/* A lone CR is data, and so is the white space before it. */
			qp_ws(q, out, 0);
			qp_hex(q, out, '\r');
		}
		q->cr = 0;
		if (c == '\r') {
			q->cr = 1;
			continue;
		}
		if (c == '\n') {
			qp_ws(q, out, 1);
			db_adds(out, "\r\n");
			q->col = 0;
			continue;
		}
		qp_ws(q, out, 0);
		if (c == ' ' || c == '\t') {
			q->ws = c;
			continue;
		}
		/* at a line start, after a soft break if one comes first */
		bol = q->col == 0 || q->col + 1 > LINE_ENC - 1;
		if (c >= 33 && c <= 126 && c != '=' && !(bol && (c == '.' || c == 'F')))
			qp_put(q, out, &ch, 1);
		else
			qp_hex(q, out, c);
	}
}

void
enc_qp_finish(struct enc_qp *q, struct dynbuf *out)
{
	qp_ws(q, out, !q->cr);
	if (q->cr)
		qp_hex(q, out, '\r');
	if (q->col)
		db_adds(out, "=\r\n");   /* no line break at the end of the input */
	enc_qp_init(q);
}

/* ---- RFC 2231 parameters ---- */

/*
 * Parameters go one to a line: ";" CRLF TAB name=value, so a parameter
 * has 76 columns (the tab before it, the ";" after it).
 */
enum { PARAM_MAX = LINE_SOFT - 2 };

/* The length of value as a quoted-string (RFC 2045 5.1, RFC 822 3.3). */
static size_t
quoted_len(const char *value)
{
	size_t n = 2;

	for (const char *p = value; *p; p++)
		n += *p == '"' || *p == '\\' ? 2 : 1;
	return n;
}

/* ; name="value" (ASCII). */
static void
add_quoted_param(struct dynbuf *d, const char *name, const char *value)
{
	db_printf(d, ";\r\n\t%s=\"", name);
	for (const char *p = value; *p; p++) {
		if (*p == '"' || *p == '\\')
			db_addc(d, '\\');
		db_addc(d, *p);
	}
	db_addc(d, '"');
}

/*
 * RFC 2231 (sections 3 and 4): name*=UTF-8''value, percent-encoded, or
 * when that is too long for a line, numbered continuations
 * name*0*=UTF-8''...; name*1*=...; each on a line of its own, never
 * cutting a %XX triplet.
 */
static void
add_2231_param(struct dynbuf *d, const char *name, const char *value)
{
	struct dynbuf enc = { 0 };
	size_t nlen = strlen(name);

	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		/* attribute-char: a token character but "*", "'" and "%" */
		if (isalnum(*p) || strchr("!#$&+-.^_`|~", *p)) {
			db_addc(&enc, (char)*p);
		} else {
			db_addc(&enc, '%');
			db_addc(&enc, hexdigits[*p >> 4]);
			db_addc(&enc, hexdigits[*p & 15]);
		}
	}
	if (nlen + 9 + enc.len <= PARAM_MAX) {          /* name*=UTF-8''... */
		db_printf(d, ";\r\n\t%s*=UTF-8''%s", name, enc.s);
		db_free(&enc);
		return;
	}
	for (size_t i = 0, k = 0; i < enc.len; k++) {
		char head[64];
		size_t hlen = (size_t)snprintf(head, sizeof(head), "%s*%zu*=%s", name, k,
					       k == 0 ? "UTF-8''" : "");
		size_t n = enc.len - i;

		if (hlen + n > PARAM_MAX) {
			n = PARAM_MAX > hlen + 3 ? PARAM_MAX - hlen : 3;
			if (enc.s[i + n - 1] == '%')
				n -= 1;
			else if (enc.s[i + n - 2] == '%')
				n -= 2;
		}
		db_printf(d, ";\r\n\t%s%.*s", head, (int)n, enc.s + i);
		i += n;
	}
	db_free(&enc);
}

/*
 * One file name parameter (name in Content-Type, filename in
 * Content-Disposition).  An ASCII name that fits on a line is a quoted
 * string.  Any other is written per RFC 2231 (UTF-8) alone: with a plain
 * ASCII stand-in next to it, mutt 2.2 saved the file under the stand-in's
 * name ("____.docx", a long name cut short).  RFC 2047 encoded-words are
 * not used: they are not allowed inside a quoted string (RFC 2047 5).
 */
void
enc_name_param(struct dynbuf *d, const char *param, const char *value)
{
	size_t plen = strlen(param) + 1;       /* name= */

	if (!enc_needs_encoding(value) && plen + quoted_len(value) <= PARAM_MAX)
		add_quoted_param(d, param, value);
	else
		add_2231_param(d, param, value);
}
