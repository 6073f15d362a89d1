/* Unit tests for message.c: the input converter, header reading, -t, spooling. */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "address.h"
#include "message.h"
#include "tap.h"
#include "testutil.h"
#include "util.h"

/* Convert in (length n) in pieces of step bytes (0: at once). */
static char *
convert(const char *in, size_t n, int ignore_dots, size_t step)
{
	struct msg_conv c;
	struct dynbuf out = { 0 };
	size_t off = 0;

	msg_conv_init(&c, ignore_dots);
	while (off < n && !c.ended) {
		size_t len = step && n - off > step ? step : n - off;
		off += msg_conv_feed(&c, in + off, len, &out);
	}
	msg_conv_finish(&c, &out);
	return out.s ? out.s : xstrdup("");
}

static void
conv_is(const char *in, int ignore_dots, const char *want, const char *name)
{
	char *whole = convert(in, strlen(in), ignore_dots, 0);
	char *bytes = convert(in, strlen(in), ignore_dots, 1);
	char *threes = convert(in, strlen(in), ignore_dots, 3);

	is_str(whole, want, "%s", name);
	ok(!strcmp(whole, bytes) && !strcmp(whole, threes), "%s: same result in pieces", name);
	free(whole);
	free(bytes);
	free(threes);
}

int
main(void)
{
	struct msg m;
	struct result r;
	struct addr_list l = { 0 };
	const char *v;
	size_t len;
	int fd;

	conv_is("a\nb\n", 0, "a\r\nb\r\n", "LF becomes CRLF");
	conv_is("a\r\nb\r\n", 0, "a\r\nb\r\n", "CRLF stays (never CR CR LF)");
	conv_is("a\r\nb\nc", 0, "a\r\nb\r\nc\r\n", "mixed, last line terminated");
	conv_is("a\rb\n", 0, "a\rb\r\n", "a lone CR is kept");
	conv_is("a\r.\r\nMAIL\n", 1, "a .\r\nMAIL\r\n", "a lone CR before a dot is a space");
	conv_is("a\r\r.\n", 1, "a\r .\r\n", "only the CR next to the dot");
	conv_is("a\n.\nb\n", 0, "a\r\n", "a lone dot ends the input");
	conv_is("a\r\n.\r\nb\r\n", 0, "a\r\n", "a lone dot with CRLF ends the input");
	conv_is("a\n.", 0, "a\r\n", "a lone dot at the end of input ends it");
	conv_is("a\n.\nb\n", 1, "a\r\n.\r\nb\r\n", "-i: a lone dot is data");
	conv_is("..\n.x\n", 0, "..\r\n.x\r\n", "other dot lines are data, not unstuffed");
	conv_is("\r.\nx\n", 0, " .\r\nx\r\n", "CR then dot is not a lone dot (the CR is a space)");
	conv_is("", 0, "", "empty input");

	/* headers */
	fd = t_fd_of_str("From mbox line\nSubject: one\n two\nTo: \"Doe, J\" <j@x.org>, k@y.org\n"
		   "Bcc: hidden@z.org\nX-Empty:\n\nbody\n");
	msg_init(&m, fd, 0);
	res_clear(&r);
	ok(msg_read_headers(&m, &r) == 0, "headers read");
	is_int(m.nh, 4, "four headers (mbox From line dropped)");
	v = msg_value(msg_find(&m, "subject"), &len);
	ok(len == 10 && !memcmp(v, " one\r\n two", 10), "folding kept byte for byte");
	ok(msg_header_recipients(&m, &l, &r) == 0 && l.n == 3 && !strcmp(l.v[0], "j@x.org") &&
	   !strcmp(l.v[2], "hidden@z.org"), "-t: To and Bcc recipients");
	addr_list_free(&l);
	{
		struct msg_fix fix = { .from_addr = "me@x.org", .from_name = "Jöhn",
				       .id_domain = "x.org" };
		char *spooled;
		struct stat st;

		ok(msg_spool(&m, "/tmp", NULL, &fix, &r) == 0, "spooled");
		ok(fstat(m.fd, &st) == 0 && (st.st_mode & 0777) == 0600, "spool file is 0600");
		spooled = t_read_fd(m.fd, m.data_offset);
		ok(!strstr(spooled, "Bcc:") && !strstr(spooled, "hidden@z.org"), "Bcc removed");
		ok(strstr(spooled, "From: =?UTF-8?B?") != NULL, "From added, name encoded");
		ok(strstr(spooled, "\r\nDate: ") && strstr(spooled, "\r\nMessage-ID: <"),
		   "Date and Message-ID added");
		ok(strstr(spooled, "\r\n\r\nbody\r\n") != NULL, "body after a blank line, CRLF");
		ok(!strncmp(spooled, "Subject: one\r\n two\r\n", 20), "original headers first");
		free(spooled);
	}
	msg_free(&m, 0);
	close(fd);

	fd = t_fd_of_str("Resent-From: r@x.org\nTo: a@x.org\nResent-To: b@y.org\nResent-Bcc: c@z.org\n\nx\n");
	msg_init(&m, fd, 0);
	msg_read_headers(&m, &r);
	ok(msg_header_recipients(&m, &l, &r) == 0 && l.n == 2 && !strcmp(l.v[0], "b@y.org") &&
	   !strcmp(l.v[1], "c@z.org"), "Resent- headers replace To/Cc/Bcc");
	addr_list_free(&l);
	msg_free(&m, 0);
	close(fd);

	fd = t_fd_of_str("hello world\nsecond\n");
	msg_init(&m, fd, 0);
	ok(msg_read_headers(&m, &r) == 0 && m.nh == 0, "a first line that is no header starts the body");
	msg_free(&m, 0);
	close(fd);

	fd = t_fd_of_str("X: a\rb\n\nbody\n");
	msg_init(&m, fd, 0);
	ok(msg_read_headers(&m, &r) < 0 && r.cls == RES_DATAERR, "lone CR in a header refused");
	msg_free(&m, 0);
	close(fd);

	{
		const char nul[] = "X: a\0b\n\nbody\n";
		char path[] = "/tmp/mailout-unit.XXXXXX";
		fd = mkstemp(path);
		unlink(path);
		if (write_all(fd, nul, sizeof(nul) - 1) < 0)
			abort();
		lseek(fd, 0, SEEK_SET);
		msg_init(&m, fd, 0);
		res_clear(&r);
		ok(msg_read_headers(&m, &r) < 0 && r.cls == RES_DATAERR, "NUL in a header refused");
		msg_free(&m, 0);
		close(fd);
	}

	{
		/* One header folded over 300,000 short lines (1.2 MB after
		 * CRLF): kept byte for byte, with a buffer that grew
		 * geometrically (at most twice what it holds), so that the
		 * lines were not copied once each. */
		const size_t lines = 300000;
		struct dynbuf in = { 0 };
		const struct msg_header *h;
		int whole = 1;

		db_adds(&in, "Subject: x\n");
		for (size_t i = 0; i < lines; i++)
			db_adds(&in, " a\n");
		db_adds(&in, "To: t@x.org\n\nbody\n");
		fd = t_fd_of(in.s, strlen(in.s));
		msg_init(&m, fd, 0);
		res_clear(&r);
		ok(msg_read_headers(&m, &r) == 0 && m.nh == 2, "a header of %zu continuation lines",
		   lines);
		h = msg_find(&m, "Subject");
		ok(h && h->len == 12 + 4 * lines && h->raw[h->len] == '\0',
		   "  kept whole, NUL-terminated");
		for (size_t i = 0; h && i < lines && whole; i++)
			whole = !memcmp(h->raw + 12 + 4 * i, " a\r\n", 4);
		ok(whole && h && !memcmp(h->raw, "Subject: x\r\n", 12), "  byte for byte, CRLF");
		ok(h && h->cap >= h->len + 1 && h->cap <= 2 * (h->len + 1),
		   "  buffer grown geometrically (cap %zu for %zu bytes)", h ? h->cap : 0,
		   h ? h->len : 0);
		ok(msg_find(&m, "To") != NULL, "  the next header follows");
		msg_free(&m, 0);
		close(fd);
		db_free(&in);
	}

	{
		/* --read-envelope-from and a From that is no address list: the
		 * reason, not "no address". */
		static const char *const bad[] = { "From: Joe <j@x.org\n\nx\n",
						   "From: a@x.org, Joe <j@x.org\n\nx\n" };
		for (int k = 0; k < 2; k++) {
			fd = t_fd_of(bad[k], strlen(bad[k]));
			msg_init(&m, fd, 0);
			res_clear(&r);
			msg_read_headers(&m, &r);
			char *a = msg_from_address(&m, &r);
			ok(!a && r.cls == RES_DATAERR && strstr(r.text, "'>'"),
			   "malformed From %d: says why (%s)", k, r.text);
			free(a);
			msg_free(&m, 0);
			close(fd);
		}
		fd = t_fd_of_str("From: undisclosed:;\n\nx\n");
		msg_init(&m, fd, 0);
		res_clear(&r);
		msg_read_headers(&m, &r);
		free(msg_from_address(&m, &r));
		ok(r.cls == RES_DATAERR && strstr(r.text, "no address"), "From without an address");
		msg_free(&m, 0);
		close(fd);
	}

	fd = t_fd_of_str("From: \"Me\" <me@x.org>\nFrom: other@y.org\n\nx\n");
	msg_init(&m, fd, 0);
	msg_read_headers(&m, &r);
	{
		char *a = msg_from_address(&m, &r);
		is_str(a, "me@x.org", "--read-envelope-from: first From address");
		free(a);
	}
	{
		struct msg_fix fix = { .from_addr = "robot@x.org", .rewrite_from = 1,
				       .id_domain = "x.org" };
		char *spooled;
		msg_spool(&m, "/tmp", "ENVELOPE\n\n", &fix, &r);
		spooled = t_read_fd(m.fd, 0);
		ok(!strncmp(spooled, "ENVELOPE\n\n", 10), "envelope block written first");
		ok(strstr(spooled, "From: robot@x.org\r\n") && !strstr(spooled, "me@x.org"),
		   "rewrite_from replaces the From header");
		free(spooled);
	}
	msg_free(&m, 0);
	close(fd);
	return done_testing();
}
