/* Unit tests for mime.c: quoted-printable bodies as composed,
 * attachments (what can be attached, file name parameters) and -a on a
 * piped message (the Content-Type parser).  The encoders alone are
 * test-encode.c's. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "message.h"
#include "mime.h"
#include "result.h"
#include "tap.h"
#include "testutil.h"
#include "util.h"

/* The composed message for body (length n) and c, as a string. */
static char *
compose(const char *body, size_t n, struct mime_compose *c, struct result *r)
{
	int in = t_fd_of(body, n), out = tmp_private(NULL);
	char *s;

	res_clear(r);
	if (mime_compose(in, c, out, r) < 0) {
		close(in);
		close(out);
		return NULL;
	}
	s = t_read_fd(out, 0);
	close(in);
	close(out);
	return s;
}

/* The body of the composed text/plain message for body. */
static char *
qp_of(const char *body, size_t n)
{
	struct addr_list to = { 0 };
	struct mime_compose c = { 0 };
	struct result r;
	char *s, *b;

	addr_list_add(&to, "to@example.com");
	c.to = &to;
	s = compose(body, n, &c, &r);
	addr_list_free(&to);
	if (!s)
		return xstrdup("(failed)");
	b = xstrdup(strstr(s, "\r\n\r\n") + 4);
	free(s);
	return b;
}

#define QP(s) qp_of(s, sizeof(s) - 1)

static void
test_quoted_printable(void)
{
	char *s, *s2;

	s = QP("caf\xc3\xa9 a \rb\n");
	is_str(s, "caf=C3=A9 a =0Db\r\n", "white space before a lone CR stays before it");
	free(s);
	s = QP("caf\xc3\xa9 a \r");
	is_str(s, "caf=C3=A9 a =0D=\r\n", "... at the end of the input too");
	free(s);
	s = QP("caf\xc3\xa9 \r\nx\t\n");
	is_str(s, "caf=C3=A9=20\r\nx=09\r\n", "white space before a line break is encoded");
	free(s);
	s = QP("caf\xc3\xa9 ");
	is_str(s, "caf=C3=A9=20=\r\n", "... and at the end of the input");
	free(s);
	s = QP("\xc3\xa9\n.\nFrom here\n= \n");
	is_str(s, "=C3=A9\r\n=2E\r\n=46rom here\r\n=3D=20\r\n",
	       "'.' and 'F' at a line start, and '=', are encoded");
	free(s);
	/* 68 + 6 columns, then the space: the =0D goes after a soft break */
	s = QP("\xc3\xa9" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa \rFx\n");
	is_str(s, "=C3=A9aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa =\r\n"
	       "=0DFx\r\n", "space, soft break, then the CR, on lines of 76");
	s2 = QP("\xc3\xa9" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "F\n");
	is_str(s2, "=C3=A9aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=\r\n"
	       "=46\r\n", "an 'F' that a soft break puts at a line start is encoded");
	free(s);
	free(s2);
}

static void
test_compose_headers(void)
{
	struct addr_list to = { 0 }, cc = { 0 }, bad = { 0 };
	struct mime_compose c = { 0 };
	struct result r;
	char err[256], *s;

	const char *list = "J\xc3\xb6rg M\xc3\xbcller <j@example.com>, \"Doe, John\" <d@example.com>,"
			   " k@example.com";

	ok(addr_parse_list(list, strlen(list), &cc, err, sizeof(err)) == 3, "--cc list parsed");
	is_str(addr_list_name(&cc, 0), "J\xc3\xb6rg M\xc3\xbcller", "display name kept");
	is_str(addr_list_name(&cc, 1), "Doe, John", "quoted display name unquoted");
	ok(addr_list_name(&cc, 2) == NULL, "no display name");
	addr_list_add(&to, "to@example.com");
	c.to = &to;
	c.cc = &cc;
	c.from = "robot@example.com";
	c.from_name = "Backup robot";
	c.subject = "x";
	s = compose("hi\n", 3, &c, &r);
	ok(s && strstr(s, "From: Backup robot <robot@example.com>\r\n"), "From with its name");
	ok(s && strstr(s, "Cc: =?UTF-8?B?SsO2cmcgTcO8bGxlcg==?= <j@example.com>,\r\n"
		       " \"Doe, John\" <d@example.com>, k@example.com\r\n"),
	   "Cc with names, folded between mailboxes");
	free(s);

	addr_list_add(&bad, "j\xc3\xb6rg@example.com");
	c.cc = &bad;
	s = compose("hi\n", 3, &c, &r);
	ok(s == NULL && r.cls == RES_USAGE && strstr(r.text, "SMTPUTF8"),
	   "a non-ASCII address is refused (no SMTPUTF8)");
	free(s);
	c.cc = NULL;
	c.from = "j\xc3\xb6rg@example.com";
	s = compose("hi\n", 3, &c, &r);
	ok(s == NULL && r.cls == RES_USAGE, "... in From too");
	free(s);
	addr_list_free(&to);
	addr_list_free(&cc);
	addr_list_free(&bad);
}

/* What compose mode writes for one attachment at path (headers only). */
static char *
attachment_headers(const char *path)
{
	struct mime_attachment a = { path, -1 };
	struct addr_list to = { 0 };
	struct mime_compose c = { 0 };
	struct result r;
	char *s, *p, *e;

	if (mime_open_attachments(&a, 1, &r) < 0)
		return xstrdup(r.text);
	addr_list_add(&to, "to@example.com");
	c.to = &to;
	c.att = &a;
	c.natt = 1;
	s = compose("hi\n", 3, &c, &r);
	mime_close_attachments(&a, 1);
	addr_list_free(&to);
	if (!s)
		return xstrdup(r.text);
	p = strstr(s, "\r\n\r\n--");                  /* the first part */
	p = p ? strstr(p + 4, "\r\n--") : NULL;       /* the attachment's */
	e = p ? strstr(p, "\r\n\r\n") : NULL;
	p = p && e ? xstrndup(p + 2, (size_t)(e - p)) : xstrdup("(no part)");
	free(s);
	return p;
}

static void
test_open_attachments(void)
{
	char dir[] = "/tmp/mailout-unit.XXXXXX", *path;
	struct mime_attachment a;
	struct result r;
	int p[2];

	if (!mkdtemp(dir))
		abort();
	a.path = "/dev/null";
	ok(mime_open_attachments(&a, 1, &r) < 0 && r.cls == RES_NOINPUT &&
	   strstr(r.text, "/dev/null: not a regular file"),
	   "a device is refused, saying so");
	a.path = dir;
	ok(mime_open_attachments(&a, 1, &r) < 0 && r.cls == RES_NOINPUT &&
	   strstr(r.text, "is a directory"), "a directory is refused, saying so");
	if (pipe(p) != 0)
		abort();
	path = xasprintf("/dev/fd/%d", p[0]);
	a.path = path;
	ok(mime_open_attachments(&a, 1, &r) < 0 && r.cls == RES_NOINPUT &&
	   strstr(r.text, "a pipe, not a regular file") && a.fd == -1,
	   "a pipe is refused at once (it could block for ever), saying so");
	close(p[0]);
	close(p[1]);
	free(path);
	rmdir(dir);
}

static void
test_file_names(void)
{
	char dir[] = "/tmp/mailout-unit.XXXXXX", *path, *s;

	if (!mkdtemp(dir))
		abort();
	path = xasprintf("%s/r\xc3\xa9sum\xc3\xa9 \"\xc3\xa9t\xc3\xa9\".txt", dir);
	close(open(path, O_WRONLY | O_CREAT, 0600));
	s = attachment_headers(path);
	ok(strstr(s, "Content-Type: text/plain;\r\n\tcharset=us-ascii;\r\n"
		     "\tname*=UTF-8''r%C3%A9sum%C3%A9%20%22%C3%A9t%C3%A9%22.txt\r\n") != NULL,
	   "name: RFC 2231 alone (after the charset of an empty text file)");
	ok(strstr(s, "Content-Disposition: attachment;\r\n"
		     "\tfilename*=UTF-8''r%C3%A9sum%C3%A9%20%22%C3%A9t%C3%A9%22.txt\r\n") != NULL,
	   "filename: the same");
	ok(strstr(s, "filename=") == NULL && strstr(s, "name=") == NULL,
	   "no ASCII stand-in (mutt 2.2 would use it)");
	ok(strstr(s, "=?") == NULL, "no encoded-word in a parameter (RFC 2047 5)");
	unlink(path);
	free(path);
	free(s);

	path = xasprintf("%s/%0100d.pdf", dir, 0);
	close(open(path, O_WRONLY | O_CREAT, 0600));
	s = attachment_headers(path);
	ok(t_longest_line(s, 0) <= 78, "a 104-character ASCII name: lines of at most 78");
	ok(strstr(s, "\tfilename*0*=UTF-8''0000") && strstr(s, "\tfilename*1*=0000") &&
	   !strstr(s, "\tfilename=\"0000"), "RFC 2231 continuations, no shortened stand-in");
	unlink(path);
	free(path);
	free(s);

	path = xasprintf("%s/%s.docx", dir, "a");
	close(open(path, O_WRONLY | O_CREAT, 0600));
	s = attachment_headers(path);
	ok(t_longest_line(s, 0) <= 78 && strstr(s, "Content-Type:\r\n application/vnd."),
	   "a long media type starts on a continuation line");
	unlink(path);
	free(path);
	free(s);
	rmdir(dir);

	is_str(mime_type_for("x.bz2"), "application/x-bzip2", "type: built-in table");
	is_str(mime_type_for("dir.d/README"), "application/octet-stream", "type: no extension");
	is_str(mime_type_for("x."), "application/octet-stream", "type: empty extension");
}

/* mime_attach() on a piped message; the result as a string. */
static char *
attach(const char *message, const char *file)
{
	struct mime_attachment a = { file, -1 };
	struct result r;
	struct msg m;
	int in = t_fd_of(message, strlen(message)), out = tmp_private(NULL);
	char *s = NULL;

	msg_init(&m, in, 1);
	if (mime_open_attachments(&a, 1, &r) == 0 && msg_read_headers(&m, &r) == 0 &&
	    mime_attach(&m, &a, 1, NULL, out, &r) == 0)
		s = t_read_fd(out, 0);
	msg_free(&m, 0);
	mime_close_attachments(&a, 1);
	close(in);
	close(out);
	return s ? s : xstrdup(r.text);
}

static void
test_attach_to_mixed(void)
{
	static const char *const types[] = {
		"multipart/mixed; xboundary=\"zz\"; boundary=\"b4\"",
		"multipart/mixed; xboundary=zz; boundary=b4",
		"MULTIPART/Mixed (comment; boundary=zz) ;\r\n\tBoundary = \"b4\"",
		"multipart/mixed; name=\"x; boundary=zz\"; boundary=b4",
		"multipart/mixed; boundary=\"b\\4\"",            /* quoted-pair */
	};
	char path[] = "/tmp/mailout-unit.XXXXXX";
	int fd = mkstemp(path);
	char *msg, *s;

	if (fd < 0 || write_all(fd, "data", 4) < 0)
		abort();
	close(fd);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		msg = xasprintf("Subject: x\r\nContent-Type: %s\r\n\r\npre\r\n--b4\r\n\r\none\r\n"
				"--zz\r\n--b4--  \r\nepilogue\r\n", types[i]);
		s = attach(msg, path);
		ok(strstr(s, "one\r\n--zz\r\n--b4\r\nContent-Type: application/octet-stream;") &&
		   strstr(s, "ZGF0YQ==\r\n--b4--  \r\nepilogue\r\n"),
		   "attachment before the close delimiter (Content-Type %zu)", i);
		free(s);
		free(msg);
	}
	s = attach("Subject: x\r\nContent-Type: multipart/mixed; boundary=b4\r\n\r\n"
		   "--b4\r\n\r\none\r\n--b4--x\r\n--b4-- ", path);
	ok(strstr(s, "--b4--x\r\n--b4\r\nContent-Type") && strstr(s, "ZGF0YQ==\r\n--b4-- \r\n"),
	   "\"--b4--x\" is no close delimiter; one at the very end without a line break is");
	free(s);
	s = attach("Subject: x\r\nContent-Type: multipart/mixed; boundary=b4\r\n\r\n"
		   "--b4\r\n\r\none\r\n", path);
	ok(strstr(s, "one\r\n\r\n--b4\r\n") && strstr(s, "ZGF0YQ==\r\n--b4--\r\n"),
	   "no close delimiter: the parts go at the end, closed");
	free(s);
	s = attach("Subject: x\r\nContent-Type: multipart/alternative; boundary=b4\r\n\r\n"
		   "--b4\r\n\r\none\r\n--b4--\r\n", path);
	ok(strstr(s, "Content-Type: multipart/mixed;") &&
	   strstr(s, "\r\nContent-Type: multipart/alternative; boundary=b4\r\n"),
	   "another multipart type is wrapped as the first part");
	free(s);
	unlink(path);
}

int
main(void)
{
	test_quoted_printable();
	test_compose_headers();
	test_open_attachments();
	test_file_names();
	test_attach_to_mixed();
	return done_testing();
}
