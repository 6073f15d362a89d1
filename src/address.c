/*
 * address.c - RFC 5322 address lists (section 3.4) reduced to the bare
 * addr-specs the SMTP envelope needs.
 *
 * The grammar handled:
 *   address-list = element *("," element)
 *   element      = mailbox / group / (empty)
 *   group        = display-name ":" [mailbox *("," mailbox)] ";"
 *   mailbox      = [display-name] "<" [route ":"] addr-spec ">" / addr-spec
 * with comments "(...)" (nested, backslash escapes) and folding white
 * space allowed between tokens, quoted strings and domain literals kept
 * intact, and the obsolete "local . part @ domain" spacing accepted.
 * Outside a group, ";" separates elements as "," does, and a missing ","
 * is supplied where Postfix's tok822_parse() supplies one: after "<...>",
 * and between addr-specs that white space alone separates when each has
 * an "@" (split_spaced()).
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "util.h"

#define ADDR_MAX 254

/*
 * De-duplication index.  Once a list's capacity reaches ADDR_LIST_INDEX_MIN,
 * l->index is an open-addressing hash table of 2 * cap slots (cap is a
 * power of two, so the load factor stays at or below 1/2).  A slot holds
 * 1 + the index in v of an address, or 0 when empty; entries are never
 * removed.  Below the threshold there is no table and the list is searched
 * linearly, which for at most 8 entries costs less than hashing.
 */
#define ADDR_LIST_INDEX_MIN 16

static int
ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Domains compare without regard to ASCII case (as strcasecmp() does in
 * the C locale mailout runs in), whatever the locale. */
static int
domain_equal(const char *a, const char *b)
{
	for (; *a && ascii_lower((unsigned char)*a) == ascii_lower((unsigned char)*b); a++, b++)
		;
	return ascii_lower((unsigned char)*a) == ascii_lower((unsigned char)*b);
}

/* Local parts compare exactly, domains without regard to case; an
 * address without a domain equals only the same string. */
static int
addr_equal(const char *a, const char *b)
{
	const char *da = addr_domain(a), *db = addr_domain(b);

	if (!da || !db)
		return !da && !db && strcmp(a, b) == 0;
	return da - a == db - b && strncmp(a, b, (size_t)(da - a)) == 0 &&
	       domain_equal(da, db);
}

/* A hash that agrees with addr_equal(): the bytes up to the domain as they
 * are, the domain folded to lower case (FNV-1a, 64 bits). */
static size_t
addr_hash(const char *a)
{
	const char *d = addr_domain(a);
	uint64_t h = 14695981039346656037ULL;

	for (const char *p = a; *p; p++) {
		int c = (unsigned char)*p;

		if (d && p >= d)
			c = ascii_lower(c);
		h = (h ^ (uint64_t)c) * 1099511628211ULL;
	}
	return (size_t)(h ^ (h >> 32));
}

/* Where a is in l (its slot holds an equal address) or would go (an
 * empty slot). */
static size_t *
index_slot(size_t *slots, size_t nslots, char *const *v, const char *a)
{
	size_t i = addr_hash(a) & (nslots - 1);

	while (slots[i] && !addr_equal(v[slots[i] - 1], a))
		i = (i + 1) & (nslots - 1);
	return &slots[i];
}

/* Build the index of l afresh from v[0..n). */
static void
list_reindex(struct addr_list *l)
{
	if (!l->index)
		return;
	memset(l->index, 0, 2 * l->cap * sizeof(*l->index));
	for (size_t k = 0; k < l->n; k++)
		*index_slot(l->index, 2 * l->cap, l->v, l->v[k]) = k + 1;
}

/* Make room for one more entry (the index is rebuilt for the new size). */
static void
list_grow(struct addr_list *l)
{
	size_t cap = l->cap ? l->cap * 2 : 8;

	l->v = xrealloc(l->v, cap * sizeof(*l->v));
	if (l->names) {
		l->names = xrealloc(l->names, cap * sizeof(*l->names));
		memset(l->names + l->cap, 0, (cap - l->cap) * sizeof(*l->names));
	}
	l->cap = cap;
	if (cap >= ADDR_LIST_INDEX_MIN) {
		free(l->index);
		l->index = xmalloc(2 * cap * sizeof(*l->index));
		list_reindex(l);
	}
}

/* Drop the entries from v[n] on (a parse that failed half-way). */
static void
list_truncate(struct addr_list *l, size_t n)
{
	if (n >= l->n)
		return;
	for (size_t i = n; i < l->n; i++) {
		free(l->v[i]);
		if (l->names) {
			free(l->names[i]);
			l->names[i] = NULL;
		}
	}
	l->n = n;
	list_reindex(l);
}

void
addr_list_free(struct addr_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i]);
		if (l->names)
			free(l->names[i]);
	}
	free(l->v);
	free(l->names);
	free(l->index);
	memset(l, 0, sizeof(*l));
}

int
addr_list_contains(const struct addr_list *l, const char *a)
{
	if (l->index)
		return *index_slot(l->index, 2 * l->cap, l->v, a) != 0;
	for (size_t i = 0; i < l->n; i++)
		if (addr_equal(l->v[i], a))
			return 1;
	return 0;
}

void
addr_list_add_named(struct addr_list *l, const char *a, const char *name)
{
	if (addr_list_contains(l, a))
		return;
	if (l->n == l->cap)
		list_grow(l);
	if (name && *name) {
		if (!l->names)
			l->names = xcalloc(l->cap, sizeof(*l->names));
		l->names[l->n] = xstrdup(name);
	}
	l->v[l->n++] = xstrdup(a);
	if (l->index)
		*index_slot(l->index, 2 * l->cap, l->v, a) = l->n;
}

void
addr_list_add(struct addr_list *l, const char *a)
{
	addr_list_add_named(l, a, NULL);
}

const char *
addr_list_name(const struct addr_list *l, size_t i)
{
	return l->names && i < l->n ? l->names[i] : NULL;
}

const char *
addr_domain(const char *a)
{
	const char *at = NULL;
	int quoted = 0;

	for (const char *p = a; *p; p++) {
		if (quoted && *p == '\\' && p[1])
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '@')
			at = p;
	}
	return at ? at + 1 : NULL;
}

static int
errf(char *err, size_t errlen, const char *fmt, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, what);
	return -1;
}

int
addr_check(const char *a, char *err, size_t errlen)
{
	size_t len = strlen(a);
	int quoted = 0, literal = 0, ats = 0;
	const char *p;

	if (len == 0)
		return errf(err, errlen, "empty address%s", "");
	if (len > ADDR_MAX)
		return errf(err, errlen, "address longer than 254 characters: %.60s...", a);
	for (p = a; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f)
			return errf(err, errlen,
				    "address contains a control character (CR, LF, NUL...): %s",
				    "refused");
		if (quoted) {
			if (c == '\\') {
				if (!p[1])
					return errf(err, errlen, "bad quoting in address %s", a);
				p++;
			} else if (c == '"') {
				quoted = 0;
			}
			continue;
		}
		if (literal) {
			if (c == ']')
				literal = 0;
			else if (c == '[' || c == '\\' || c == ' ')
				return errf(err, errlen, "bad domain literal in address %s", a);
			continue;
		}
		switch (c) {
		case '"':
			if (p != a && p[-1] != '.')
				return errf(err, errlen, "misplaced quote in address %s", a);
			quoted = 1;
			break;
		case '[':
			if (ats == 0 || p[-1] != '@')
				return errf(err, errlen, "misplaced '[' in address %s", a);
			literal = 1;
			break;
		case '@':
			if (++ats > 1)
				return errf(err, errlen, "more than one '@' in address %s", a);
			if (p == a || !p[1])
				return errf(err, errlen, "empty local part or domain in address %s", a);
			break;
		case ' ': case '<': case '>': case '(': case ')': case ',':
		case ';': case ':': case '\\': case ']':
			return errf(err, errlen, "invalid character in address %s", a);
		default:
			break;
		}
	}
	if (quoted || literal)
		return errf(err, errlen, "unterminated quote in address %s", a);
	return 0;
}

/* Parser state for one address list. */
struct lp {
	const char *s, *end;
	char *err;
	size_t errlen;
};

/* Skip white space and comments. Returns -1 on an unterminated comment. */
static int
skip_cfws(struct lp *p)
{
	while (p->s < p->end) {
		char c = *p->s;

		if (c == ' ' || c == '\t') {
			p->s++;
		} else if (c == '\r' || c == '\n') {
			/* Only folding: CRLF (or LF) followed by white space. */
			const char *q = p->s + (c == '\r' && p->s + 1 < p->end && p->s[1] == '\n' ? 2 : 1);
			if (c == '\r' && q == p->s + 1)
				return errf(p->err, p->errlen, "CR without LF in address list%s", "");
			if (q >= p->end || (*q != ' ' && *q != '\t'))
				return errf(p->err, p->errlen, "line break in address list%s", "");
			p->s = q;
		} else if (c == '(') {
			int depth = 0;

			do {
				if (p->s >= p->end)
					return errf(p->err, p->errlen, "unterminated comment%s", "");
				if (*p->s == '\\' && p->s + 1 < p->end)
					p->s++;
				else if (*p->s == '(')
					depth++;
				else if (*p->s == ')')
					depth--;
				p->s++;
			} while (depth > 0);
		} else {
			break;
		}
	}
	return 0;
}

/* Copy a quoted string or domain literal (opening char at p->s) to out. */
static int
copy_delimited(struct lp *p, struct dynbuf *out, char close)
{
	db_addc(out, *p->s++);
	while (p->s < p->end) {
		char c = *p->s++;

		if (c == '\\' && p->s < p->end) {
			/* A quoted pair: the escaped character never closes. */
			db_addc(out, c);
			db_addc(out, *p->s++);
			continue;
		} else if (c == '\r' || c == '\n') {
			/* folding inside a quoted string: CRLF then white space */
			if (c == '\r' && (p->s >= p->end || *p->s != '\n'))
				return errf(p->err, p->errlen, "CR without LF in address list%s", "");
			if (c == '\r')
				p->s++;
			if (p->s >= p->end || (*p->s != ' ' && *p->s != '\t'))
				return errf(p->err, p->errlen, "line break in address list%s", "");
			continue;
		}
		db_addc(out, c);
		if (c == close)
			return 0;
	}
	return errf(p->err, p->errlen, "unterminated %s in address list",
		    close == '"' ? "quoted string" : "domain literal");
}

/*
 * Read one mailbox or the display-name part of one, up to (not including)
 * one of ",;:" at top level or the end, or up to what follows "<...>".
 * The bare text goes to word (with *spaced set when white space separated
 * two atoms), the content of "<...>" to angle (*has_angle set).
 *
 * Inside "<...>" white space and comments may stand only next to "." and
 * "@" (and the "," and ":" of a source route): "<john doe@x>" is refused
 * as "john doe@x" is, never read as johndoe@x.  Text after "<...>" other
 * than a comment starts the next address, as if a comma stood there (what
 * Postfix does): "Al <a@x> b@y" is two recipients, not one named "Al b@y".
 */
static int
read_element(struct lp *p, struct dynbuf *word, int *spaced,
	     struct dynbuf *angle, int *has_angle)
{
	int pending_space = 0;

	for (;;) {
		const char *before = p->s;

		if (skip_cfws(p) < 0)
			return -1;
		if (p->s != before && word->len)
			pending_space = 1;
		if (p->s >= p->end)
			return 0;
		char c = *p->s;
		if (c == ',' || c == ';' || c == ':' || *has_angle)
			return 0;
		if (c == '<') {
			const char *open = p->s;

			*has_angle = 1;
			p->s++;
			for (;;) {
				const char *gap = p->s;

				if (skip_cfws(p) < 0)
					return -1;
				if (p->s >= p->end)
					return errf(p->err, p->errlen, "missing '>' in address list%s", "");
				c = *p->s;
				if (c == '>') {
					p->s++;
					break;
				}
				if (p->s != gap && angle->len && !strchr(".@,:", c) &&
				    !strchr(".@,:", angle->s[angle->len - 1])) {
					const char *close = memchr(p->s, '>', (size_t)(p->end - p->s));
					size_t n = (size_t)((close ? close + 1 : p->end) - open);
					char shown[84];

					snprintf(shown, sizeof(shown), "%.*s", n > 80 ? 80 : (int)n, open);
					return errf(p->err, p->errlen,
						    "white space inside <address>: %s", shown);
				}
				if (c == '"' || c == '[') {
					if (copy_delimited(p, angle, c == '"' ? '"' : ']') < 0)
						return -1;
				} else if (c == '<') {
					return errf(p->err, p->errlen, "nested '<' in address%s", "");
				} else {
					db_addc(angle, c);
					p->s++;
				}
			}
			pending_space = 0;
			continue;
		}
		if (c == '>')
			return errf(p->err, p->errlen, "unexpected '>' in address list%s", "");
		if (pending_space && word->len) {
			char last = word->s[word->len - 1];
			if (last != '.' && last != '@' && c != '.' && c != '@')
				*spaced = 1;
			db_addc(word, ' ');
		}
		pending_space = 0;
		if (c == '"' || c == '[') {
			if (copy_delimited(p, word, c == '"' ? '"' : ']') < 0)
				return -1;
		} else {
			db_addc(word, c);
			p->s++;
		}
	}
}

/* Remove the spaces read_element() kept between obsolete-syntax tokens
 * ("john . doe @ x") from an addr-spec, outside quotes. */
static void
squeeze(struct dynbuf *d)
{
	size_t j = 0;
	int quoted = 0;

	for (size_t i = 0; i < d->len; i++) {
		char c = d->s[i];
		if (quoted && c == '\\' && i + 1 < d->len) {
			d->s[j++] = c;
			d->s[j++] = d->s[++i];
			continue;
		}
		if (c == '"')
			quoted = !quoted;
		if (c == ' ' && !quoted)
			continue;
		d->s[j++] = c;
	}
	d->len = j;
	if (d->s)
		d->s[j] = '\0';
}

/* Drop an obsolete source route "@a,@b:" from the front of an angle-addr. */
static const char *
strip_route(const char *a)
{
	if (a[0] == '@') {
		const char *colon = strchr(a, ':');
		if (colon)
			return colon + 1;
	}
	return a;
}

/*
 * The text of a display name as read_element() collected it: quoted
 * strings lose their quotes and backslashes ("\"Doe, John\"" -> "Doe,
 * John"); the single spaces it kept between words stay.
 */
static void
phrase_text(const struct dynbuf *word, struct dynbuf *name)
{
	int quoted = 0;

	for (size_t i = 0; i < word->len; i++) {
		char c = word->s[i];
		if (c == '"') {
			quoted = !quoted;
			continue;
		}
		if (quoted && c == '\\' && i + 1 < word->len)
			c = word->s[++i];
		db_addc(name, c);
	}
}

/*
 * A quoted local part that needs no quotes loses them ("a"@x and "a\.b"@x
 * are a@x and a.b@x, RFC 5321 4.1.2): otherwise the same mailbox counts
 * as two recipients and gets two copies.  Postfix unquotes the same way.
 */
static void
unquote_local(struct dynbuf *d)
{
	const char *s = db_str(d), *at;
	struct dynbuf plain = { 0 };
	size_t i = 1;

	if (s[0] != '"')
		return;
	for (; s[i] && s[i] != '"'; i++) {
		char c = s[i];

		if (c == '\\' && s[i + 1])
			c = s[++i];
		if (!(isalnum((unsigned char)c) || strchr("!#$%&'*+-/=?^_`{|}~.", c)) ||
		    (c == '.' && (plain.len == 0 || plain.s[plain.len - 1] == '.'))) {
			db_free(&plain);
			return;
		}
		db_addc(&plain, c);
	}
	at = s + i + 1;
	if (s[i] != '"' || *at != '@' || plain.len == 0 || plain.s[plain.len - 1] == '.') {
		db_free(&plain);
		return;
	}
	db_adds(&plain, at);
	db_reset(d);
	db_adds(d, db_str(&plain));
	db_free(&plain);
}

/*
 * One addr-spec of a bare mailbox (no "<...>") as read_element() left it:
 * obsolete spacing squeezed, needless quotes dropped, checked, added.
 */
static int
add_spec(struct lp *p, struct dynbuf *spec, struct addr_list *out, int *added)
{
	squeeze(spec);
	unquote_local(spec);
	if (addr_check(db_str(spec), p->err, p->errlen) < 0)
		return -1;
	if (!addr_list_contains(out, db_str(spec))) {
		addr_list_add_named(out, db_str(spec), NULL);
		(*added)++;
	}
	return 0;
}

/*
 * The words of a bare mailbox in which white space separates two atoms
 * ("a@x.org b@y.org", "John Doe"): split at each such space (outside
 * quoted strings and domain literals, and not next to "." or "@", which
 * is obsolete spacing inside one address).  The words are taken as one
 * address each only when every word has an '@' outside quotes, i.e. is a
 * complete addr-spec: Postfix inserts the missing comma between adjacent
 * addresses, but "John Doe" is a name that lost its <address>, not the
 * two local users Postfix would make of it, and "John a@x" is no safer.
 * Returns 0, or -1 with the error.
 */
static int
split_spaced(struct lp *p, const struct dynbuf *word, struct addr_list *out,
	     int *added)
{
	struct dynbuf piece = { 0 };
	const char *s = db_str(word);
	size_t n = word->len;
	int rc = -1;

	/* Pass 0 checks that every word names a domain; pass 1 adds them. */
	for (int pass = 0; pass < 2; pass++) {
		int quoted = 0, literal = 0;
		size_t start = 0;

		for (size_t i = 0; i <= n; i++) {
			char c = i < n ? s[i] : ' ';

			if ((quoted || literal) && c == '\\' && i + 1 < n) {
				i++;
				continue;
			}
			if (quoted || literal) {
				if (c == (quoted ? '"' : ']'))
					quoted = literal = 0;
				continue;
			}
			if (c == '"' || c == '[') {
				quoted = c == '"';
				literal = c == '[';
				continue;
			}
			/* read_element() keeps one space between tokens, never
			 * one at either end. */
			if (c != ' ' || (i < n && (strchr(".@", s[i - 1]) || strchr(".@", s[i + 1]))))
				continue;
			db_reset(&piece);
			db_add(&piece, s + start, i - start);
			start = i + 1;
			if (pass == 0 && !addr_domain(db_str(&piece))) {
				errf(p->err, p->errlen,
				     "not an address (a name without <address>?): %.80s", s);
				goto out;
			}
			if (pass == 1 && add_spec(p, &piece, out, added) < 0)
				goto out;
		}
	}
	rc = 0;
out:
	db_free(&piece);
	return rc;
}

static int
finish_mailbox(struct lp *p, struct dynbuf *word, int spaced,
	       struct dynbuf *angle, int has_angle, struct addr_list *out,
	       int *added)
{
	struct dynbuf name = { 0 };
	const char *a;

	if (has_angle) {
		squeeze(angle);
		if (db_str(angle)[0] == '@') {      /* a route: drop it first */
			char *rest = xstrdup(strip_route(db_str(angle)));

			db_reset(angle);
			db_adds(angle, rest);
			free(rest);
		}
		unquote_local(angle);
		a = db_str(angle);
		if (!*a)
			return 0;          /* "<>": nothing to deliver to */
		phrase_text(word, &name);
	} else {
		if (!word->len)
			return 0;          /* empty element */
		return spaced ? split_spaced(p, word, out, added) : add_spec(p, word, out, added);
	}
	if (addr_check(a, p->err, p->errlen) < 0) {
		db_free(&name);
		return -1;
	}
	if (!addr_list_contains(out, a)) {
		addr_list_add_named(out, a, db_str(&name));
		(*added)++;
	}
	db_free(&name);
	return 0;
}

int
addr_parse_list(const char *s, size_t len, struct addr_list *out,
		char *err, size_t errlen)
{
	struct lp p = { s, s + len, err, errlen };
	struct dynbuf word = { 0 }, angle = { 0 };
	int in_group = 0, added = 0, rc = -1;
	size_t n0 = out->n, cap0 = out->cap;

	if (memchr(s, '\0', len)) {
		errf(err, errlen, "NUL byte in address list%s", "");
		goto fail;
	}
	for (;;) {
		int spaced = 0, has_angle = 0;

		db_reset(&word);
		db_reset(&angle);
		if (read_element(&p, &word, &spaced, &angle, &has_angle) < 0)
			goto fail;
		if (p.s < p.end && *p.s == ':') {
			/* What we read was a group's display name. */
			if (in_group || has_angle) {
				errf(err, errlen, "unexpected ':' in address list%s", "");
				goto fail;
			}
			in_group = 1;
			p.s++;
			continue;
		}
		if (finish_mailbox(&p, &word, spaced, &angle, has_angle, out, &added) < 0)
			goto fail;
		if (p.s >= p.end)
			break;
		if (has_angle && !strchr(",;:", *p.s))
			continue;   /* text after "<...>": the next address */
		/* ';' ends a group; outside one it ends an address as ',' does
		 * ("a@x; b@y", as Outlook users write; Postfix's tok822_parse()
		 * reads it the same way). */
		if (*p.s == ';')
			in_group = 0;
		p.s++;   /* ',' or ';' */
	}
	rc = added;
fail:
	/* All or nothing: a list that had no storage gets none. */
	if (rc < 0 && cap0 == 0)
		addr_list_free(out);
	else if (rc < 0)
		list_truncate(out, n0);
	db_free(&word);
	db_free(&angle);
	return rc;
}

int
addr_is_ascii(const char *a)
{
	for (const unsigned char *p = (const unsigned char *)a; *p; p++)
		if (*p >= 0x80)
			return 0;
	return 1;
}

/* ---- canonical envelope form (SPEC 3, RFC 5321 4.1.2) ---- */

/* atext (RFC 5322 3.2.3); bytes of UTF-8 sequences count as text here
 * (whether they may be sent is addr_is_ascii()'s question). */
static int
is_atext(unsigned char c)
{
	return isalnum(c) || c >= 0x80 || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/*
 * The local part s[0..n), dot-separated words each an atom or a quoted
 * string, as its text without quotes in *text.  NULL, or the rule broken.
 */
static const char *
local_text(const char *s, size_t n, struct dynbuf *text)
{
	size_t i = 0;

	if (n == 0)
		return "the local part is empty";
	for (;;) {
		size_t start = i;

		if (s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++) {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				db_addc(text, s[i]);
			}
			if (i++ >= n)
				return "the local part has an unterminated quoted string";
		} else {
			while (i < n && is_atext((unsigned char)s[i]))
				db_addc(text, s[i++]);
			if (i == start)
				return start == 0 ? (s[0] == '.' ? "the local part starts with a dot"
						     : "the local part has a character that needs quoting")
				       : s[i] == '.' ? "the local part has two dots in a row"
				       : "the local part has a character that needs quoting";
		}
		if (i == n)
			return NULL;
		if (s[i] != '.')
			return s[start] == '"' ? "the local part has text after a quoted string"
			       : "the local part has a character that needs quoting";
		db_addc(text, s[i++]);
		if (i == n)
			return "the local part ends with a dot";
	}
}

/* 1 when t is a dot-atom: atoms joined by single dots. */
static int
is_dot_atom(const char *t)
{
	if (!*t || *t == '.')
		return 0;
	for (; *t; t++)
		if (*t == '.' ? t[1] == '.' || !t[1] : !is_atext((unsigned char)*t))
			return 0;
	return 1;
}

/* The domain d (one final dot already removed): NULL, or the rule broken;
 * the offending label in label[]. */
static const char *
domain_rule(const char *d, char *label, size_t labellen)
{
	if (*d == '[')
		return strchr(d, ']')[1] ? "the domain has text after its literal" : NULL;
	if (!*d || *d == '.')
		return "the domain starts with a dot";
	for (const char *p = d; *p;) {
		size_t n = strcspn(p, ".");

		if (n == 0)
			return "the domain has two dots in a row";
		snprintf(label, labellen, "%.*s", (int)n, p);
		if (p[0] == '-')
			return "a domain label starts with a hyphen";
		if (p[n - 1] == '-')
			return "a domain label ends with a hyphen";
		p += n;
		if (*p == '.' && !*++p)
			return "the domain has two dots in a row";
	}
	return NULL;
}

char *
addr_canonical(const char *a, char *err, size_t errlen)
{
	const char *dom = addr_domain(a), *why;
	struct dynbuf text = { 0 }, out = { 0 };
	char label[64] = "";
	size_t dlen;

	if (addr_check(a, err, errlen) < 0)
		return NULL;
	if (!dom)
		return xstrdup(a);
	why = local_text(a, (size_t)(dom - 1 - a), &text);
	if (!why) {
		if (is_dot_atom(db_str(&text))) {
			db_adds(&out, db_str(&text));
		} else {
			db_addc(&out, '"');
			for (const char *p = db_str(&text); *p; p++) {
				if (*p == '"' || *p == '\\')
					db_addc(&out, '\\');
				db_addc(&out, *p);
			}
			db_addc(&out, '"');
		}
		/* A final dot names the DNS root: the same domain. */
		dlen = strlen(dom);
		if (dlen > 1 && dom[dlen - 1] == '.' && dom[dlen - 2] != '.' && *dom != '[')
			dlen--;
		db_printf(&out, "@%.*s", (int)dlen, dom);
		why = domain_rule(db_str(&out) + out.len - dlen, label, sizeof(label));
	}
	if (!why && addr_check(db_str(&out), err, errlen) == 0) {
		db_free(&text);
		return out.s;
	}
	if (why && strstr(why, "label"))
		snprintf(err, errlen, "%s: %s (\"%s\")", a, why, label);
	else if (why)
		snprintf(err, errlen, "%s: %s", a, why);
	db_free(&text);
	db_free(&out);
	return NULL;
}

int
addr_list_canonical(struct addr_list *l, char *err, size_t errlen)
{
	struct addr_list c = { 0 };

	for (size_t i = 0; i < l->n; i++) {
		char *a = addr_canonical(l->v[i], err, errlen);

		if (!a) {
			addr_list_free(&c);
			return -1;
		}
		addr_list_add_named(&c, a, addr_list_name(l, i));
		free(a);
	}
	addr_list_free(l);
	*l = c;
	return 0;
}
