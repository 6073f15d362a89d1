/*
 * json.h - a strict reader of one JSON object (RFC 8259), for the answers
 * of OAuth2 token and device authorization endpoints (RFC 6749 section
 * 5.1, RFC 8628 section 3.2).
 *
 * The whole text must be one object, with nothing but whitespace around
 * it; every value is checked (nesting at most JSON_MAX_DEPTH deep), and
 * the members of the top-level object are kept: strings decoded,
 * numbers as written, the rest by type only.  Refused: invalid UTF-8,
 * control characters in strings, lone surrogates, "\u0000" (no string
 * kept here may hold a NUL), numbers outside the grammar, duplicate
 * member names (which one would count?), trailing commas, comments.
 */
#ifndef MAILOUT_JSON_H
#define MAILOUT_JSON_H

#include <stddef.h>

#define JSON_MAX_DEPTH 32

enum json_type { JSON_STRING, JSON_NUMBER, JSON_TRUE, JSON_FALSE, JSON_NULL,
		 JSON_OBJECT, JSON_ARRAY };

struct json_member {
	char *name;             /* decoded, NUL-terminated */
	enum json_type type;
	char *value;            /* JSON_STRING: decoded; JSON_NUMBER: as
				 * written; NULL for the other types */
};

struct json_object {
	struct json_member *v;
	size_t n;
};

/*
 * Read text[0..len) as one JSON object into *o (which needs no
 * initialisation).  Returns 0, or -1 with *o empty and a reason with its
 * byte offset in err (n bytes).  Free *o with json_free() either way.
 */
int json_parse(const char *text, size_t len, struct json_object *o, char *err, size_t n);

/* The value of the string member name, or NULL (absent, or not a string). */
const char *json_string(const struct json_object *o, const char *name);

/* The member name as a whole number from 0 to LONG_MAX: a number without
 * fraction or exponent, or a string of digits (some endpoints quote
 * expires_in).  Returns 0 with *out set, or -1. */
int json_count(const struct json_object *o, const char *name, long *out);

/* Free what o owns (string values wiped: they may be tokens). */
void json_free(struct json_object *o);

#endif
