/*
 * conf-layout.c - what libconfuse does not tell about a configuration file.
 *
 * libconfuse miscounts lines after comments (each comment token bumps its
 * counter more than once), so conf_blank_comments() blanks comments out,
 * newlines kept, before the text reaches cfg_parse_buf(): the lexer never
 * sees a comment and every line it reports is true.  The blanking follows
 * libconfuse 3.3's lexer (checked against cfg_yylex()): outside quoted
 * strings "#" starts a comment anywhere, even inside an unquoted word
 * ("a#b" is "a"), while "//" and "/ *" start one only where a token
 * starts ("a//b" and "/tmp//q" are words, "x = //b" is a comment);
 * "..." strings take backslash escapes, '...' strings take \' and \\
 * only.
 *
 * libconfuse keeps no line numbers for sections or options once a file is
 * parsed, and accepts a section whose closing brace is missing at the end
 * of the file.  So the blanked text is also read by a small scanner
 * (conf_scan_layout()) that follows the same lexical rules: it records the
 * line of every account header and of every key, which later messages
 * (inherit, default_account, authentication and TLS files) name; it
 * refuses a section left open at the end of the file, and an unquoted
 * value that ends in ';' (libconfuse would keep the ';' as part of the
 * value).
 *
 * conf_check_lexical() refuses, before libconfuse reads the text, what
 * its lexer would silently change: a '*' or '+' next to an unquoted value
 * (it drops them: "*@x" becomes "@x"), a backslash in a "..." string
 * that is not \" or \\ or the end of the line (libconfuse drops the
 * backslash of "\j" and reads \n, \t, \x41 and \101 as escapes), and
 * "+=".
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf-internal.h"
#include "util.h"

/* libconfuse's unquoted-string characters (comments are blanked already;
 * '/' is one too, but "//" and "/ *" where a word would start are comments). */
static int
is_word_char(char ch)
{
	return ch && !strchr(" #\"'\t\n\r={}()+,*", ch);
}

void
conf_blank_comments(char *s)
{
	int in_word = 0;        /* p is inside an unquoted word */

	for (char *p = s; *p; ) {
		if (*p == '"' || *p == '\'') {
			char q = *p++;
			while (*p && *p != q) {
				if (*p == '\\' && p[1] &&
				    (q == '"' || p[1] == '\\' || p[1] == '\''))
					p++;
				p++;
			}
			if (*p)
				p++;
			in_word = 0;
		} else if (*p == '#' ||
			   (!in_word && p[0] == '/' && p[1] == '/')) {
			while (*p && *p != '\n')
				*p++ = ' ';
			in_word = 0;
		} else if (!in_word && p[0] == '/' && p[1] == '*') {
			while (*p && !(p[0] == '*' && p[1] == '/')) {
				if (*p != '\n')
					*p = ' ';
				p++;
			}
			if (*p) {
				p[0] = p[1] = ' ';
				p += 2;
			}
			in_word = 0;
		} else {
			in_word = is_word_char(*p);
			p++;
		}
	}
}

/* ---- the layout of a file: lines of sections and keys ---- */

void
conf_layout_free(struct layout *l)
{
	free(l->acct_line);
	free(l->keys);
	memset(l, 0, sizeof(*l));
}

unsigned long conf_lookup_steps;

/* Order of the key index: section, key, then line (file order). */
static int
keyline_cmp(const void *x, const void *y)
{
	const struct keyline *a = x, *b = y;
	int d;

	if (a->sec != b->sec)
		return a->sec < b->sec ? -1 : 1;
	if ((d = strcmp(a->key, b->key)) != 0)
		return d;
	return (a->line > b->line) - (a->line < b->line);
}

/* Sort the keys by (section, key, line) for conf_layout_line(). */
static void
index_keys(struct layout *l)
{
	if (l->nkeys > 1)
		qsort(l->keys, l->nkeys, sizeof(*l->keys), keyline_cmp);
}

/* A binary search of the sorted keys: the last entry of (sec, key) is
 * the line where the section last set it. */
int
conf_layout_line(const struct layout *l, int sec, const char *key)
{
	size_t lo = 0, hi = l ? l->nkeys : 0;

	/* The first entry after every (sec, key) entry. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct keyline *k = &l->keys[mid];
		int d = k->sec != sec ? (k->sec < sec ? -1 : 1) : strcmp(k->key, key);

		conf_lookup_steps++;
		if (d <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || l->keys[lo - 1].sec != sec || strcmp(l->keys[lo - 1].key, key) != 0)
		return 0;
	return l->keys[lo - 1].line;
}

enum tok { T_EOF, T_WORD, T_STR, T_LBRACE, T_RBRACE, T_EQ, T_PLUSEQ, T_OTHER };

struct token {
	enum tok type;
	const char *s;      /* T_WORD, T_STR: the text (quotes included) */
	size_t n;
	int line;
	int open;           /* T_STR: a quoted string the end of the text left open */
};

/* The next token of blanked text, as libconfuse's lexer splits it. */
static struct token
next_token(const char **pp, int *line)
{
	const char *p = *pp;
	struct token t = { T_EOF, NULL, 0, 0, 0 };

	for (; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'; p++)
		if (*p == '\n')
			(*line)++;
	t.line = *line;
	t.s = p;
	if (!*p) {
		*pp = p;
		return t;
	}
	if (*p == '"' || *p == '\'') {
		char q = *p++;
		while (*p && *p != q) {
			if (*p == '\\' && p[1])
				p++;
			if (*p == '\n')
				(*line)++;
			p++;
		}
		if (*p)
			p++;
		else
			t.open = 1;
		t.type = T_STR;
	} else if (p[0] == '$' && p[1] == '{' && strchr(p, '}')) {
		p = strchr(p, '}') + 1;      /* ${VAR}: an environment variable */
		t.type = T_STR;
	} else if (is_word_char(*p)) {
		while (is_word_char(*p))
			p++;
		t.type = T_WORD;
	} else if (p[0] == '+' && p[1] == '=') {
		p += 2;
		t.type = T_PLUSEQ;
	} else {
		t.type = *p == '{' ? T_LBRACE : *p == '}' ? T_RBRACE : *p == '=' ? T_EQ : T_OTHER;
		p++;
	}
	t.n = (size_t)(p - t.s);
	*pp = p;
	return t;
}

static int
tok_is(const struct token *t, const char *word)
{
	return t->type == T_WORD && t->n == strlen(word) && !strncmp(t->s, word, t->n);
}

int
conf_scan_layout(const char *name, const char *text, struct layout *l, struct result *r)
{
	struct frame { int list, sec, line; const char *title; size_t tlen; } stack[16];
	struct token prev2 = { .type = T_EOF }, prev = { .type = T_EOF }, t;
	const char *p = text;
	const char *key = NULL;
	size_t depth = 0, keylen = 0, cap = 0, acap = 0;
	int line = 1, sec = SEC_TOP;

	memset(l, 0, sizeof(*l));
	for (;;) {
		t = next_token(&p, &line);
		if (t.type == T_EOF)
			break;
		if (t.type == T_EQ || t.type == T_PLUSEQ) {
			if (prev.type == T_WORD) {
				if (l->nkeys == cap) {
					cap = cap ? cap * 2 : 32;
					l->keys = xrealloc(l->keys, cap * sizeof(*l->keys));
				}
				l->keys[l->nkeys].sec = sec;
				l->keys[l->nkeys].line = prev.line;
				snprintf(l->keys[l->nkeys].key, sizeof(l->keys[0].key), "%.*s",
					 (int)prev.n, prev.s);
				l->nkeys++;
				key = prev.s;
				keylen = prev.n;
			}
		} else if (t.type == T_WORD && t.s[t.n - 1] == ';' &&
			   (prev.type == T_EQ || prev.type == T_PLUSEQ ||
			    (depth && stack[depth - 1].list && prev.type != T_WORD &&
			     prev.type != T_STR))) {
			return res_fail(r, RES_CONFIG,
					"%s:%d: the unquoted value of '%.*s' ends in ';', which would "
					"become part of it: remove the ';' (nothing separates settings "
					"in mailout.conf), or put the value in quotes if the ';' belongs "
					"to it (see mailout.conf(5), Syntax)", name, t.line,
					(int)(key ? keylen : 1), key ? key : "?");
		} else if (t.type == T_LBRACE) {
			struct frame f = { 0, SEC_OTHER, t.line, NULL, 0 };

			if (depth == sizeof(stack) / sizeof(stack[0]))
				return res_fail(r, RES_CONFIG, "%s:%d: braces nested too deeply",
						name, t.line);
			if (prev.type == T_EQ || prev.type == T_PLUSEQ) {
				f.list = 1;
				f.sec = sec;
			} else if (depth == 0 && tok_is(&prev, "defaults")) {
				f.sec = SEC_DEFAULTS;
				f.line = prev.line;
				f.title = "defaults";
				f.tlen = 8;
			} else if (depth == 0 && tok_is(&prev2, "account") &&
				   (prev.type == T_WORD || prev.type == T_STR)) {
				f.sec = (int)l->nacct;
				f.line = prev2.line;
				f.title = prev.s;
				f.tlen = prev.n;
				if (l->nacct == acap) {
					acap = acap ? acap * 2 : 16;
					l->acct_line = xrealloc(l->acct_line,
								acap * sizeof(int));
				}
				l->acct_line[l->nacct++] = prev2.line;
			}
			stack[depth++] = f;
			sec = f.sec;
		} else if (t.type == T_RBRACE) {
			if (depth)
				depth--;
			sec = depth ? stack[depth - 1].sec : SEC_TOP;
		}
		prev2 = prev;
		prev = t;
	}
	for (size_t i = 0; i < depth; i++) {
		if (stack[i].list)
			continue;
		return res_fail(r, RES_CONFIG,
				"%s:%d: section %s%.*s is not closed: a '}' is missing before the "
				"end of the file (see mailout.conf(5), Syntax)", name, stack[i].line,
				stack[i].title && stack[i].sec >= 0 ? "account " : "",
				(int)(stack[i].title ? (stack[i].tlen > 64 ? 64 : stack[i].tlen) : 1),
				stack[i].title ? stack[i].title : "?");
	}
	index_keys(l);
	return 0;
}

int
conf_unclosed_quote(const char *text)
{
	const char *p = text;
	int line = 1;

	for (;;) {
		struct token t = next_token(&p, &line);

		if (t.type == T_EOF)
			return 0;
		if (t.open)
			return t.line;
	}
}

const char *
conf_secret_on_line(const char *text, int line)
{
	struct token prev = { .type = T_EOF }, t;
	const char *p = text, *key = NULL;
	int l = 1;

	for (;;) {
		t = next_token(&p, &l);
		if (t.type == T_EOF)
			return NULL;
		/* The line of the value after a secret's '=' */
		if (key) {
			if (t.line <= line && line <= l)
				return key;
			key = NULL;
		}
		if ((t.type == T_EQ || t.type == T_PLUSEQ) && prev.type == T_WORD &&
		    (tok_is(&prev, "password") || tok_is(&prev, "passwordeval"))) {
			key = tok_is(&prev, "password") ? "password" : "passwordeval";
			if (prev.line == line || t.line == line)
				return key;
		}
		prev = t;
	}
}

/* A key whose value an error message must not quote. */
static int
is_secret_key(const char *key, size_t n)
{
	return (n == 8 && !strncmp(key, "password", 8)) ||
	       (n == 12 && !strncmp(key, "passwordeval", 12));
}

int
conf_check_lexical(const char *name, const char *text, struct result *r)
{
	struct token prev = { .type = T_EOF }, t;
	const char *p = text, *key = NULL;
	size_t keylen = 0;
	int line = 1;

	for (;; prev = t) {
		t = next_token(&p, &line);
		if (t.type == T_EOF)
			return 0;
		if ((t.type == T_EQ || t.type == T_PLUSEQ) && prev.type == T_WORD) {
			key = prev.s;
			keylen = prev.n;
		} else if (t.type == T_STR && tok_is(&prev, "account")) {
			key = "account";        /* its title */
			keylen = 7;
		} else if ((t.type == T_LBRACE && prev.type != T_EQ) || t.type == T_RBRACE) {
			key = NULL;
		}
		if (t.type == T_PLUSEQ) {
			res_fail(r, RES_CONFIG, "%s:%d: '+=' is not supported: write the whole "
				 "value with '=' (a list given with '=' replaces the list of "
				 "defaults or of the inherited account; see mailout.conf(5), "
				 "Syntax)", name, t.line);
			return t.line;
		}
		if (t.type == T_OTHER && (*t.s == '*' || *t.s == '+')) {
			res_fail(r, RES_CONFIG, "%s:%d: a '%c' outside quotes%s%.*s%s: libconfuse "
				 "would drop it (\"*@example.com\" would become \"@example.com\"); "
				 "put the value in double quotes (see mailout.conf(5), Syntax)",
				 name, t.line, *t.s, key ? " in the value of '" : "",
				 (int)(key ? keylen : 0), key ? key : "", key ? "'" : "");
			return t.line;
		}
		if (t.type == T_STR && *t.s == '"') {
			int l = t.line;

			for (size_t i = 1; i < t.n; i++) {
				if (t.s[i] == '\n')
					l++;
				if (t.s[i] != '\\')
					continue;
				if (i + 1 < t.n && (t.s[i + 1] == '"' || t.s[i + 1] == '\\' ||
						    t.s[i + 1] == '\n')) {
					i++;
					if (t.s[i] == '\n')
						l++;
					continue;
				}
				if (key && is_secret_key(key, keylen))
					res_fail(r, RES_CONFIG, "%s:%d: the value of '%.*s' (not "
						 "shown) has a backslash that starts no escape "
						 "mailout takes: inside double quotes only \\\" and "
						 "\\\\ are escapes, so write \\\\ for a backslash, or "
						 "single-quote the value (see mailout.conf(5), "
						 "Syntax)", name, l, (int)keylen, key);
				else
					res_fail(r, RES_CONFIG, "%s:%d: '\\%c'%s%.*s%s is not an "
						 "escape mailout takes: inside double quotes only "
						 "\\\" and \\\\ are escapes (libconfuse would drop the "
						 "backslash, or read \\n, \\t, \\x41, \\101 as control "
						 "characters), so write \\\\ for a backslash, or "
						 "single-quote the value (see mailout.conf(5), Syntax)",
						 name, l, i + 1 < t.n && (unsigned char)t.s[i + 1] >= 0x20 &&
						 t.s[i + 1] != 0x7f ? t.s[i + 1] : '?',
						 key ? " in the value of '" : "",
						 (int)(key ? keylen : 0), key ? key : "", key ? "'" : "");
				return l;
			}
		}
	}
}

int
conf_stray_semicolon(const char *text, int line)
{
	const char *p = text;
	int l = 1;

	for (;;) {
		struct token t = next_token(&p, &l);

		if (t.type == T_EOF || t.line > line)
			return 0;
		if (t.line == line && t.type == T_WORD && *t.s == ';')
			return 1;
	}
}

int
conf_quoted_value_on_line(const char *text, int line)
{
	struct token prev = { .type = T_EOF }, t;
	const char *p = text;
	int l = 1;

	for (;; prev = t) {
		t = next_token(&p, &l);
		if (t.type == T_EOF || t.line > line)
			return 0;
		if ((prev.type == T_EQ || prev.type == T_PLUSEQ) && t.type == T_STR &&
		    (*t.s == '"' || *t.s == '\'') && t.line <= line && line <= l)
			return 1;
	}
}
