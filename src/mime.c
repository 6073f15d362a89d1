/* mime.c - MIME encoders (RFC 2045 base64, RFC 2047 encoded-words). */
#include "config.h"

#include <string.h>

#include "address.h"
#include "mime.h"
#include "util.h"

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
mime_base64(struct dynbuf *out, const unsigned char *in, size_t n)
{
	char q[4];

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		q[0] = b64[(v >> 18) & 63];
		q[1] = b64[(v >> 12) & 63];
		q[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? b64[v & 63] : '=';
		db_add(out, q, 4);
	}
}

int
mime_needs_encoding(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x7f || (unsigned char)*s < 0x20)
			return 1;
	return 0;
}

/* Length of the UTF-8 sequence starting with byte c (1 for stray bytes). */
static size_t
utf8_len(unsigned char c)
{
	if (c >= 0xf0 && c < 0xf8)
		return 4;
	if (c >= 0xe0)
		return c < 0xf0 ? 3 : 1;
	if (c >= 0xc0)
		return 2;
	return 1;
}

void
mime_header_text(struct dynbuf *out, const char *text, size_t col, int phrase)
{
	/* "=?UTF-8?B?" + 60 base64 chars + "?=" = 72 <= 75: 45 input bytes. */
	const size_t max_chunk = 45;
	size_t len = strlen(text), i = 0;

	if (!mime_needs_encoding(text)) {
		if (phrase)
			addr_format_phrase(out, text);
		else
			db_adds(out, text);
		return;
	}
	while (i < len) {
		size_t n = 0;

		while (i + n < len) {
			size_t l = utf8_len((unsigned char)text[i + n]);
			if (n + l > max_chunk)
				break;
			n += l;
		}
		if (n == 0)
			n = 1;
		size_t wlen = 12 + (n + 2) / 3 * 4;   /* "=?UTF-8?B?" ... "?=" */
		if (i > 0 || (col > 1 && col + wlen > 76)) {
			db_adds(out, "\r\n ");
			col = 1;
		}
		db_adds(out, "=?UTF-8?B?");
		mime_base64(out, (const unsigned char *)text + i, n);
		db_adds(out, "?=");
		col += wlen;
		i += n;
	}
}
