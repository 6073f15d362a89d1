/* Unit tests for encode.c: base64, RFC 5322 phrases and folding, RFC 2047
 * header text, mailboxes, quoted-printable and RFC 2231 parameters. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "tap.h"
#include "testutil.h"
#include "util.h"

/* s with its folding (CRLF before white space) removed. */
static char *
unfold(const char *s)
{
	struct dynbuf d = { 0 };

	for (; *s; s++) {
		if (s[0] == '\r' && s[1] == '\n' && (s[2] == ' ' || s[2] == '\t')) {
			s++;
			continue;
		}
		db_addc(&d, *s);
	}
	return d.s ? d.s : xstrdup("");
}

static void
test_base64(void)
{
	static const char *const want[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==",
					    "Zm9vYmE=", "Zm9vYmFy" };
	struct dynbuf d = { 0 };

	for (size_t n = 0; n <= 6; n++) {
		db_reset(&d);
		enc_base64(&d, (const unsigned char *)"foobar", n);
		is_str(db_str(&d), want[n], "base64 of %zu bytes of foobar (RFC 4648 10)", n);
	}
	db_free(&d);
}

/* Header text written at col: return what enc_header_text() appended. */
static char *
header_text(const char *text, size_t col, int phrase, size_t *end)
{
	struct dynbuf d = { 0 };

	*end = enc_header_text(&d, text, col, phrase);
	return d.s ? d.s : xstrdup("");
}

static void
test_header_text(void)
{
	struct dynbuf words = { 0 };
	char *s, *u, *line;
	size_t end;

	s = header_text("Nightly report", 9, 0, &end);
	is_str(s, "Nightly report", "short ASCII text as it is");
	is_int(end, 9 + 14, "returns the column where the text ends");
	free(s);

	for (int i = 0; i < 300; i++)
		db_adds(&words, "word ");
	s = header_text(words.s, 9, 0, &end);
	ok(t_longest_line(s, 9) <= 78, "1,500 characters of words: lines of at most 78");
	ok(strstr(s, "\r\n word") != NULL && strstr(s, "=?") == NULL,
	   "folded before white space, not encoded");
	u = unfold(s);
	is_str(u, words.s, "unfolding gives the text back, white space and all");
	line = strrchr(s, '\n');
	is_int(end, strlen(line + 1), "column after folding");
	free(u);
	free(s);

	db_reset(&words);
	db_adds(&words, "see ");
	for (int i = 0; i < 1200; i++)
		db_addc(&words, 'x');
	s = header_text(words.s, 9, 0, &end);
	ok(t_longest_line(s, 9) <= 76, "a 1,200-character word: encoded-words on short lines");
	ok(!strncmp(s, "=?UTF-8?B?", 10), "... as encoded-words");
	free(s);

	s = header_text("Jörg", 6, 1, &end);
	is_str(s, "=?UTF-8?B?SsO2cmc=?=", "non-ASCII name as an encoded-word");
	is_int(end, 6 + 20, "column after an encoded-word");
	free(s);

	s = header_text("Doe, John", 6, 1, &end);
	is_str(s, "\"Doe, John\"", "a name with specials is quoted");
	free(s);

	s = header_text("Department of Redundancy Department, Building 7, Floor 3, Room 12 (east)",
			6, 1, &end);
	ok(t_longest_line(s, 6) <= 78 && strchr(s, '\n'), "a long quoted name folds");
	u = unfold(s);
	is_str(u, "\"Department of Redundancy Department, Building 7, Floor 3, Room 12 (east)\"",
	       "... inside the quoted string, white space kept");
	free(u);
	free(s);

	/* Long enough that the first encoded-word cannot follow the name. */
	s = header_text("é", 70, 0, &end);
	ok(!strncmp(s, "\r\n =?UTF-8?B?", 13), "no room at column 70: a continuation line first");
	free(s);

	db_reset(&words);
	for (int i = 0; i < 200; i++)
		db_adds(&words, "\xf0\x9f\x98\x80");   /* U+1F600, 4 bytes */
	s = header_text(words.s, 9, 0, &end);
	ok(t_longest_line(s, 9) <= 76, "4-byte characters: lines of at most 76");
	ok(strstr(s, "?=\r\n =?UTF-8?B?") != NULL, "adjacent encoded-words on their own lines");
	free(s);
	db_free(&words);
}

static void
test_mailbox(void)
{
	struct dynbuf d = { 0 };
	size_t end;

	end = enc_mailbox(&d, NULL, "a@example.com", 4);
	is_str(db_str(&d), "a@example.com", "no name: the bare address");
	is_int(end, 4 + 13, "its column");
	db_reset(&d);
	end = enc_mailbox(&d, "Backup robot", "a@example.com", 6);
	is_str(db_str(&d), "Backup robot <a@example.com>", "name <address>");
	db_reset(&d);
	end = enc_mailbox(&d, "Backup robot of the accounting department, floor 3",
			   "backup-robot@example.com", 6);
	is_str(db_str(&d), "\"Backup robot of the accounting department, floor 3\"\r\n"
	       " <backup-robot@example.com>", "the address goes on a continuation line");
	is_int(end, 27, "its column");
	db_free(&d);
}

static void
test_phrase(void)
{
	struct dynbuf d = { 0 };

	enc_phrase(&d, "Backup robot");
	is_str(db_str(&d), "Backup robot", "phrase without specials stays");
	db_reset(&d);
	enc_phrase(&d, "Doe, John \"JD\"");
	is_str(db_str(&d), "\"Doe, John \\\"JD\\\"\"", "phrase with specials is quoted");
	db_free(&d);
}

/* Quoted-printable of in[0..n), fed in pieces of step bytes. */
static char *
qp(const char *in, size_t n, size_t step)
{
	struct dynbuf d = { 0 };
	struct enc_qp q;

	enc_qp_init(&q);
	for (size_t i = 0; i < n; i += step)
		enc_qp_feed(&q, in + i, n - i < step ? n - i : step, &d);
	enc_qp_finish(&q, &d);
	return d.s ? d.s : xstrdup("");
}

/* Decode quoted-printable (soft breaks removed, =XX decoded, CRLF kept). */
static char *
qp_decode(const char *s, size_t *n)
{
	struct dynbuf d = { 0 };

	for (; *s; s++) {
		if (s[0] == '=' && s[1] == '\r' && s[2] == '\n') {
			s += 2;
		} else if (s[0] == '=' && s[1] && s[2]) {
			char hex[3] = { s[1], s[2], 0 };
			db_addc(&d, (char)strtol(hex, NULL, 16));
			s += 2;
		} else {
			db_addc(&d, *s);
		}
	}
	*n = d.len;
	return d.s ? d.s : xstrdup("");
}

/*
 * The rule, over many inputs: whatever the pieces the text comes in, the
 * output is the same; every line holds at most 76 characters, only
 * printable ASCII, no white space at its end, no "." or "F" first; and
 * decoding gives the text back with LF and CRLF as CRLF.
 */
static void
test_qp_rule(void)
{
	static const char *const bits[] = { "a", " ", "\t", "\r", "\n", "\r\n", "=", ".",
					    "F", "\xc3\xa9", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "\0" };
	const size_t nb = sizeof(bits) / sizeof(bits[0]);
	unsigned seed = 7;
	int good = 1;

	for (int round = 0; round < 400; round++) {
		struct dynbuf in = { 0 }, want = { 0 };
		char *one, *many, *dec;
		size_t dn, k = 1 + round % 40;

		for (size_t i = 0; i < k; i++) {
			seed = seed * 1103515245 + 12345;
			const char *b = bits[(seed >> 16) % nb];
			size_t bl = *b ? strlen(b) : 1;
			db_add(&in, b, bl);
			if (!strcmp(b, "\n") && !(want.len && want.s[want.len - 1] == '\r'))
				db_addc(&want, '\r');
			db_add(&want, b, bl);
		}
		one = qp(in.s, in.len, in.len);
		many = qp(in.s, in.len, 1 + round % 3);
		dec = qp_decode(one, &dn);
		if (strcmp(one, many) != 0)
			good = 0;
		for (const char *l = one; *l; ) {
			const char *e = strstr(l, "\r\n");
			size_t len = e ? (size_t)(e - l) : strlen(l);

			if (len > 76 || (len && (l[len - 1] == ' ' || l[len - 1] == '\t')) ||
			    *l == '.' || *l == 'F')
				good = 0;
			for (size_t i = 0; i < len; i++)
				if ((l[i] < 32 && l[i] != '\t') || (unsigned char)l[i] > 126)
					good = 0;
			l += len + (e ? 2 : 0);
		}
		if (dn != want.len || memcmp(dec, want.s, dn) != 0)
			good = 0;
		if (!good) {
			printf("#   round %d: %s\n", round, one);
			free(one), free(many), free(dec), db_free(&in), db_free(&want);
			break;
		}
		free(one);
		free(many);
		free(dec);
		db_free(&in);
		db_free(&want);
	}
	ok(good, "quoted-printable: the same in any pieces, 76-column printable lines, "
	   "decodes back (400 texts)");
}

static void
test_name_param(void)
{
	struct dynbuf d = { 0 };
	char name[200];

	enc_name_param(&d, "filename", "report.pdf");
	is_str(db_str(&d), ";\r\n\tfilename=\"report.pdf\"", "ASCII name: a quoted string");
	db_reset(&d);
	enc_name_param(&d, "filename", "a \"b\".txt");
	is_str(db_str(&d), ";\r\n\tfilename=\"a \\\"b\\\".txt\"", "quotes escaped");
	db_reset(&d);
	enc_name_param(&d, "filename", "B\xc3\xa4r.txt");
	is_str(db_str(&d), ";\r\n\tfilename*=UTF-8''B%C3%A4r.txt", "non-ASCII: RFC 2231");
	db_reset(&d);
	memset(name, 0, sizeof(name));
	for (int i = 0; i < 60; i++)
		memcpy(name + 2 * i, "\xc3\xa4", 2);
	enc_name_param(&d, "filename", name);
	{
		int lines_ok = 1, cut = 0;
		const char *l = d.s;

		while ((l = strstr(l, "\r\n\t"))) {
			const char *e = strstr(l + 3, "\r\n");
			size_t len = e ? (size_t)(e - l - 3) : strlen(l + 3);
			lines_ok = lines_ok && 1 + len <= 78;     /* the tab, the text, ";" */
			cut = cut || (len && (l[3 + len - 1] == '%' || (len > 1 && l[3 + len - 2] == '%')));
			l += 3;
		}
		ok(lines_ok && !cut && strstr(d.s, "filename*0*=UTF-8''") && strstr(d.s, "filename*1*="),
		   "a long name: numbered continuations, lines within 78, no %%XX cut");
	}
	db_free(&d);
}

int
main(void)
{
	test_base64();
	test_phrase();
	test_header_text();
	test_mailbox();
	test_qp_rule();
	test_name_param();
	return done_testing();
}
