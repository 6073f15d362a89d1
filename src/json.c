/*
 * json.c - a strict reader of one JSON object (json.h).
 *
 * A recursive-descent parser of RFC 8259's grammar: value = object /
 * array / string / number / true / false / null, whitespace = space, tab,
 * LF, CR.  Strings are UTF-8 (RFC 8259 section 8.1; RFC 3629's rules:
 * no overlong forms, no surrogates, nothing above U+10FFFF), and a
 * \uXXXX escape of a surrogate must be a high one followed by a low one.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

struct parser {
	const unsigned char *p, *start, *end;
	char *err;
	size_t errlen;
	int failed;
};

static int
fail(struct parser *ps, const char *what)
{
	if (!ps->failed)
		snprintf(ps->err, ps->errlen, "%s at byte %zu", what,
			 (size_t)(ps->p - ps->start));
	ps->failed = 1;
	return -1;
}

static void
skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
				   *ps->p == '\r'))
		ps->p++;
}

static int
hex4(struct parser *ps, unsigned *out)
{
	unsigned v = 0;

	if (ps->end - ps->p < 4)
		return fail(ps, "short \\u escape");
	for (int i = 0; i < 4; i++) {
		unsigned char c = *ps->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return fail(ps, "bad \\u escape");
	}
	*out = v;
	return 0;
}

static void
put_utf8(struct dynbuf *d, unsigned cp)
{
	if (cp < 0x80) {
		db_addc(d, (char)cp);
	} else if (cp < 0x800) {
		db_addc(d, (char)(0xc0 | cp >> 6));
		db_addc(d, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		db_addc(d, (char)(0xe0 | cp >> 12));
		db_addc(d, (char)(0x80 | ((cp >> 6) & 0x3f)));
		db_addc(d, (char)(0x80 | (cp & 0x3f)));
	} else {
		db_addc(d, (char)(0xf0 | cp >> 18));
		db_addc(d, (char)(0x80 | ((cp >> 12) & 0x3f)));
		db_addc(d, (char)(0x80 | ((cp >> 6) & 0x3f)));
		db_addc(d, (char)(0x80 | (cp & 0x3f)));
	}
}

/* One \uXXXX escape (the "\u" read), a surrogate pair as one. */
static int
unicode_escape(struct parser *ps, struct dynbuf *d)
{
	unsigned cp, lo;

	if (hex4(ps, &cp) < 0)
		return -1;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(ps, "lone low surrogate");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
			return fail(ps, "lone high surrogate");
		ps->p += 2;
		if (hex4(ps, &lo) < 0)
			return -1;
		if (lo < 0xdc00 || lo > 0xdfff)
			return fail(ps, "high surrogate without a low one");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (cp == 0)
		return fail(ps, "\\u0000 in a string");
	put_utf8(d, cp);
	return 0;
}

/* The length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0. */
static size_t
utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	size_t n;
	unsigned lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	/* The second byte's range excludes overlong forms, surrogates and
	 * code points above U+10FFFF (RFC 3629 section 4). */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* A string (at its opening quote); its decoded text goes to d (NULL: checked only). */
static int
string(struct parser *ps, struct dynbuf *d)
{
	struct dynbuf ignored = { 0 };
	int rc = -1;

	if (!d)
		d = &ignored;
	ps->p++;
	for (;;) {
		unsigned char c;

		if (ps->p >= ps->end) {
			fail(ps, "unterminated string");
			break;
		}
		c = *ps->p;
		if (c == '"') {
			ps->p++;
			rc = 0;
			break;
		}
		if (c < 0x20) {
			fail(ps, "control character in a string");
			break;
		}
		if (c >= 0x80) {
			size_t n = utf8_len(ps->p, ps->end);

			if (!n) {
				fail(ps, "invalid UTF-8");
				break;
			}
			db_add(d, ps->p, n);
			ps->p += n;
			continue;
		}
		ps->p++;
		if (c != '\\') {
			db_addc(d, (char)c);
			continue;
		}
		if (ps->p >= ps->end) {
			fail(ps, "unterminated string");
			break;
		}
		c = *ps->p++;
		if (c == 'u') {
			if (unicode_escape(ps, d) < 0)
				break;
			continue;
		}
		{
			const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
			const char *e = c ? strchr(from, c) : NULL;

			if (!e) {
				fail(ps, "bad escape");
				break;
			}
			db_addc(d, to[e - from]);
		}
	}
	db_free(&ignored);
	return rc;
}

static int
digits(struct parser *ps)
{
	const unsigned char *s = ps->p;

	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
		ps->p++;
	return ps->p > s ? 0 : fail(ps, "digit expected");
}

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int
number(struct parser *ps)
{
	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p < ps->end && *ps->p == '0')
		ps->p++;
	else if (digits(ps) < 0)
		return -1;
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (digits(ps) < 0)
			return -1;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (digits(ps) < 0)
			return -1;
	}
	return 0;
}

static int
literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return fail(ps, "unexpected character");
	ps->p += n;
	return 0;
}

static int value(struct parser *ps, int depth, struct json_object *top,
		 enum json_type *type, struct dynbuf *text);

static int
add_member(struct parser *ps, struct json_object *o, struct dynbuf *name,
	   enum json_type type, struct dynbuf *text)
{
	struct json_member *m;

	if (memchr(db_str(name), '\0', name->len))
		return fail(ps, "NUL in a member name");
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->v[i].name, db_str(name)) == 0)
			return fail(ps, "duplicate member name");
	o->v = xrealloc(o->v, (o->n + 1) * sizeof(*o->v));
	m = &o->v[o->n++];
	m->name = xstrdup(db_str(name));
	m->type = type;
	m->value = type == JSON_STRING || type == JSON_NUMBER ? xstrdup(db_str(text)) : NULL;
	return 0;
}

/* An object (at its '{'); top: where its members go (NULL: checked only). */
static int
object(struct parser *ps, int depth, struct json_object *top)
{
	struct dynbuf name = { 0 }, text = { 0 };
	int rc = -1;

	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return 0;
	}
	for (;;) {
		enum json_type type;

		skip_ws(ps);
		db_reset(&name);
		db_reset(&text);
		if (ps->p >= ps->end || *ps->p != '"') {
			fail(ps, "member name expected");
			break;
		}
		if (string(ps, &name) < 0)
			break;
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':') {
			fail(ps, "':' expected");
			break;
		}
		ps->p++;
		if (value(ps, depth, NULL, &type, top ? &text : NULL) < 0)
			break;
		if (top && add_member(ps, top, &name, type, &text) < 0)
			break;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			rc = 0;
		} else {
			fail(ps, "',' or '}' expected");
		}
		break;
	}
	db_free(&name);
	db_free(&text);
	return rc;
}

static int
array(struct parser *ps, int depth)
{
	enum json_type type;

	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return 0;
	}
	for (;;) {
		if (value(ps, depth, NULL, &type, NULL) < 0)
			return -1;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			return 0;
		}
		return fail(ps, "',' or ']' expected");
	}
}

/* One value; *type gets its type, text (when not NULL) a string's decoded
 * text or a number as written; top: an object's members go there. */
static int
value(struct parser *ps, int depth, struct json_object *top, enum json_type *type,
      struct dynbuf *text)
{
	const unsigned char *s;

	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, "value expected");
	if (depth >= JSON_MAX_DEPTH && (*ps->p == '{' || *ps->p == '['))
		return fail(ps, "nested too deep");
	switch (*ps->p) {
	case '{':
		*type = JSON_OBJECT;
		return object(ps, depth + 1, top);
	case '[':
		*type = JSON_ARRAY;
		return array(ps, depth + 1);
	case '"':
		*type = JSON_STRING;
		return string(ps, text);
	case 't':
		*type = JSON_TRUE;
		return literal(ps, "true");
	case 'f':
		*type = JSON_FALSE;
		return literal(ps, "false");
	case 'n':
		*type = JSON_NULL;
		return literal(ps, "null");
	default:
		*type = JSON_NUMBER;
		s = ps->p;
		if (number(ps) < 0)
			return -1;
		if (text)
			db_add(text, s, (size_t)(ps->p - s));
		return 0;
	}
}

int
json_parse(const char *text, size_t len, struct json_object *o, char *err, size_t n)
{
	struct parser ps = {
		.p = (const unsigned char *)text, .start = (const unsigned char *)text,
		.end = (const unsigned char *)text + len, .err = err, .errlen = n,
	};
	enum json_type type;

	memset(o, 0, sizeof(*o));
	if (n)
		err[0] = '\0';
	skip_ws(&ps);
	if (ps.p >= ps.end || *ps.p != '{') {
		fail(&ps, "not a JSON object");
	} else if (value(&ps, 0, o, &type, NULL) == 0) {
		skip_ws(&ps);
		if (ps.p == ps.end)
			return 0;
		fail(&ps, "text after the object");
	}
	json_free(o);
	return -1;
}

const char *
json_string(const struct json_object *o, const char *name)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->v[i].name, name) == 0)
			return o->v[i].type == JSON_STRING ? o->v[i].value : NULL;
	return NULL;
}

int
json_count(const struct json_object *o, const char *name, long *out)
{
	for (size_t i = 0; i < o->n; i++) {
		const struct json_member *m = &o->v[i];
		char *end;
		long v;

		if (strcmp(m->name, name) != 0)
			continue;
		if ((m->type != JSON_NUMBER && m->type != JSON_STRING) || !m->value[0] ||
		    strspn(m->value, "0123456789") != strlen(m->value))
			return -1;
		errno = 0;
		v = strtol(m->value, &end, 10);
		if (errno || *end)
			return -1;
		*out = v;
		return 0;
	}
	return -1;
}

void
json_free(struct json_object *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free(o->v[i].name);
		free_secret(o->v[i].value);
	}
	free(o->v);
	memset(o, 0, sizeof(*o));
}
