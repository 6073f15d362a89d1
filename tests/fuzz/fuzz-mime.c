/* Fuzz the MIME writer's encoders: RFC 2047 header text, quoted-printable
 * and 7bit bodies, base64, and attachments: the RFC 2231 file-name
 * encoder with its ASCII fallback (through compose mode) and sendmail
 * mode's -a (mime_attach: wrapping a message, or adding parts to a
 * multipart/mixed one).
 *
 * Input: the whole of it is the subject and body of a first compose run;
 * then, split at the first NUL, the part before is an attachment's path
 * (CR and LF replaced, as mailout refuses them before this point) and the
 * part after is the attachment's content, the body of a second compose
 * run, and the piped message of a sendmail-mode run. */
#include "fuzz-common.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "encode.h"
#include "message.h"
#include "mime.h"
#include "result.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Everything written to fd, from its start. */
static void
read_back(int fd, struct dynbuf *d)
{
	char buf[65536];
	ssize_t n;

	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		db_add(d, buf, (size_t)n);
}

static int
hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 :
	       c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * The file name as a reader gets it back from the last attachment part's
 * Content-Disposition: the RFC 2231 value (filename*= or the numbered
 * filename*N*= pieces, percent-decoded) when there is one, else the
 * quoted-string.  Parameters are written one to a line as ";" CRLF TAB
 * name=value.  Returns 0, or -1 when the header cannot be parsed back.
 */
static int
decoded_filename(const char *out, size_t len, struct dynbuf *name)
{
	static const char cd[] = "\r\nContent-Disposition: attachment";
	const char *p = NULL, *end, *q;
	int rfc2231 = 0;
	struct dynbuf quoted = { 0 };

	for (q = out; (q = memmem(q, len - (size_t)(q - out), cd, sizeof(cd) - 1)); q++)
		p = q;
	if (!p || !(end = memmem(p, len - (size_t)(p - out), "\r\nContent-Transfer-Encoding:", 28)))
		return -1;
	p += sizeof(cd) - 1;
	while (p < end) {
		const char *next;

		if (end - p < 4 || memcmp(p, ";\r\n\t", 4) != 0)
			return -1;
		p += 4;
		next = memmem(p, (size_t)(end - p), ";\r\n\t", 4);
		if (!next)
			next = end;
		if (next - p > 9 && !memcmp(p, "filename*", 9)) {
			const char *v = memchr(p, '=', (size_t)(next - p));
			if (!v)
				return -1;
			v++;
			if (next - v >= 7 && !memcmp(v, "UTF-8''", 7))
				v += 7;
			for (; v < next; v++) {
				if (*v != '%') {
					db_addc(name, *v);
				} else if (next - v >= 3 && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
					db_addc(name, (char)(hexval(v[1]) << 4 | hexval(v[2])));
					v += 2;
				} else {
					return -1;      /* a cut %XX triplet */
				}
			}
			rfc2231 = 1;
		} else if (next - p >= 11 && !memcmp(p, "filename=\"", 10)) {
			for (const char *v = p + 10; v < next - 1; v++) {
				if (*v == '\\')
					v++;
				db_addc(&quoted, *v);
			}
		}
		p = next;
	}
	if (!rfc2231)
		db_add(name, db_str(&quoted), quoted.len);
	db_free(&quoted);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dynbuf d = { 0 };
	struct mime_compose c = { 0 };
	struct addr_list to = { 0 };
	struct result r;
	char *text = xstrndup((const char *)data, size);
	int body, out;

	/* Header text: every produced line must stay short and 7-bit. */
	enc_header_text(&d, text, 9, size & 1);
	for (size_t i = 0, col = 9; i < d.len; i++) {
		unsigned char ch = (unsigned char)d.s[i];
		if (!enc_needs_encoding(text) && strchr(text, '\n') == NULL)
			break;      /* ASCII text is passed through as given */
		if (ch >= 0x80)
			abort();
		col = ch == '\n' ? 0 : col + 1;
		if (col > 998)
			abort();
	}
	db_free(&d);
	enc_base64(&d, data, size);
	db_free(&d);

	addr_list_add(&to, "a@example.com");
	c.to = &to;
	c.subject = text;
	body = fuzz_fd(data, size);
	out = open("/dev/null", O_WRONLY);
	res_clear(&r);
	mime_compose(body, &c, out, &r);
	close(body);
	close(out);

	/* An attachment: path before the first NUL, content after it. */
	const uint8_t *nul = memchr(data, 0, size);
	size_t plen = nul ? (size_t)(nul - data) : size;
	const uint8_t *content = nul ? nul + 1 : data + size;
	size_t clen = size - (size_t)(content - data);
	char *path = xstrndup((const char *)data, plen);
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct mime_attachment att = { path, -1 };
	struct dynbuf got = { 0 }, name = { 0 };

	for (char *p = path; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = '_';

	/* Compose mode with the attachment: the whole message is 7-bit with
	 * lines of at most 998 bytes, and the file name reads back exact. */
	c.subject = NULL;
	c.att = &att;
	c.natt = 1;
	body = fuzz_fd(content, clen);
	att.fd = fuzz_fd(content, clen);
	out = memfd_create("out", MFD_CLOEXEC);
	res_clear(&r);
	if (body >= 0 && att.fd >= 0 && out >= 0 && mime_compose(body, &c, out, &r) == 0) {
		read_back(out, &got);
		for (size_t i = 0, col = 0; i < got.len; i++) {
			unsigned char ch = (unsigned char)got.s[i];
			if (ch >= 0x80)
				abort();
			col = ch == '\n' ? 0 : col + 1;
			if (col > 1000)
				abort();
		}
		if (decoded_filename(db_str(&got), got.len, &name) < 0 ||
		    name.len != strlen(base) || memcmp(db_str(&name), base, name.len) != 0) {
			fprintf(stderr, "file name %s does not read back (got \"%s\")\n", base,
				db_str(&name));
			abort();
		}
	}
	close(body);
	close(att.fd);
	close(out);
	db_free(&got);
	db_free(&name);

	/* Sendmail mode: the content is a piped message, the same file attached. */
	{
		struct msg m;
		int in = fuzz_fd(content, clen);

		att.fd = fuzz_fd(content, clen);
		out = open("/dev/null", O_WRONLY);
		res_clear(&r);
		msg_init(&m, in, size > 0 && (data[size - 1] & 1));
		if (in >= 0 && att.fd >= 0 && msg_read_headers(&m, &r) == 0)
			mime_attach(&m, &att, 1, NULL, out, &r);
		msg_free(&m, 0);
		close(in);
		close(att.fd);
		close(out);
	}

	free(path);
	addr_list_free(&to);
	free(text);
	return 0;
}
