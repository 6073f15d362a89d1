/*
 * conf-layout.c - what libconfuse gets wrong or does not tell about a
 * configuration file, found by a lexer that splits the text as
 * libconfuse 3.3's does (checked against cfg_yylex()).
 *
 * Why a second lexer beside libconfuse: libconfuse parses the file, but
 *  1. its line numbers are wrong after comments (each comment token bumps
 *     its counter more than once), so every error would name a wrong line;
 *  2. once a file is parsed it keeps no line for sections or options, and
 *     the errors found later (inherit, default_account, authentication,
 *     TLS files) must name the line that set the key;
 *  3. it accepts a section whose closing brace is missing at the end of
 *     the file, and keeps the ';' of an unquoted value ending in ';' (an
 *     msmtp habit) as part of the value;
 *  4. it reports a quoted string left open at the end of the file, or not
 *     at all, instead of where the string starts;
 *  5. it silently changes values: a '*' or '+' next to an unquoted value
 *     is dropped ("*@x" becomes "@x"), a backslash in "..." that is not
 *     \" or \\ is dropped or read as an escape (\n, \t, \x41, \101),
 *     and "+=" appends to a list;
 *  6. its messages quote the token it choked on, which on a password or
 *     passwordeval line is likely part of the secret;
 *  7. it compares the title of each titled section with every earlier one,
 *     so a file of many accounts would take quadratic time: the account
 *     sections reach it untitled, their titles read apart (conf-file.c).
 *
 * So a file is read in two passes before libconfuse sees it:
 * conf_blank_comments() replaces comments with spaces, newlines kept (the
 * text libconfuse parses, so its lines are true: 1); conf_lex() then makes
 * one pass over the tokens for 2 to 5, and notes where each account's
 * title lies for 7.  When libconfuse reports an error,
 * conf_secret_on_line(), conf_stray_semicolon() and
 * conf_quoted_value_on_line() look at that one line for 6 (conf-file.c).
 *
 * Lexical rules followed: outside quoted strings "#" starts a comment
 * anywhere, even inside an unquoted word ("a#b" is "a"), while "//" and
 * "/ *" start one only where a token starts ("a//b" and "/tmp//q" are
 * words, "x = //b" is a comment); "..." strings take backslash escapes,
 * '...' strings take \' and \\ only.  A libconfuse release that changes
 * its lexer must be checked against these rules; the unit tests
 * (tests/unit/test-conf.c) pin each of them.
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
	for (size_t i = 0; l->acct_title && i < l->nacct; i++)
		free(l->acct_title[i]);
	free(l->acct_title);
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

/* ---- the one pass: layout, open quotes, silent changes ---- */

struct frame {
	int list, sec, line;
	const char *title;
	size_t tlen;
};

/* The state of the layout part of the pass. */
struct layout_state {
	struct frame stack[16];
	size_t depth, cap, acap;
	int sec;
	const char *key;    /* the last key, for messages */
	size_t keylen;
};

static void
add_key(struct layout *l, struct layout_state *st, const struct token *k)
{
	if (l->nkeys == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 32;
		l->keys = xrealloc(l->keys, st->cap * sizeof(*l->keys));
	}
	l->keys[l->nkeys].sec = st->sec;
	l->keys[l->nkeys].line = k->line;
	snprintf(l->keys[l->nkeys].key, sizeof(l->keys[0].key), "%.*s", (int)k->n, k->s);
	l->nkeys++;
	st->key = k->s;
	st->keylen = k->n;
}

/* An opening brace after prev2 prev: a list value, `defaults`, an
 * account, or something libconfuse refuses. */
static struct frame
open_frame(struct lexscan *x, struct layout_state *st, const char *text,
	   const struct token *prev2, const struct token *prev, const struct token *t)
{
	struct layout *l = &x->layout;
	struct frame f = { 0, SEC_OTHER, t->line, NULL, 0 };

	if (prev->type == T_EQ || prev->type == T_PLUSEQ) {
		f.list = 1;
		f.sec = st->sec;
	} else if (st->depth == 0 && tok_is(prev, "defaults")) {
		f.sec = SEC_DEFAULTS;
		f.line = prev->line;
		f.title = "defaults";
		f.tlen = 8;
	} else if (st->depth == 0 && tok_is(prev2, "account") &&
		   (prev->type == T_WORD || prev->type == T_STR)) {
		f.sec = (int)l->nacct;
		f.line = prev2->line;
		f.title = prev->s;
		f.tlen = prev->n;
		if (l->nacct == st->acap) {
			st->acap = st->acap ? st->acap * 2 : 16;
			l->acct_line = xrealloc(l->acct_line, st->acap * sizeof(int));
			x->titles = xrealloc(x->titles, st->acap * sizeof(*x->titles));
		}
		x->titles[l->nacct].off = (size_t)(prev->s - text);
		x->titles[l->nacct].n = prev->n;
		x->titles[l->nacct].line = prev->line;
		l->acct_line[l->nacct++] = prev2->line;
	} else if (st->depth == 0 && tok_is(prev, "account") && !x->untitled_line) {
		x->untitled_line = t->line;
	}
	return f;
}

/* The layout part for token t: records keys and sections; refuses an
 * unquoted value ending in ';' and braces nested too deeply. */
static int
layout_token(struct lexscan *x, struct layout_state *st, const char *name, const char *text,
	     const struct token *prev2, const struct token *prev, const struct token *t)
{
	struct layout *l = &x->layout;

	if (t->type == T_EQ || t->type == T_PLUSEQ) {
		if (prev->type == T_WORD)
			add_key(l, st, prev);
	} else if (t->type == T_WORD && t->s[t->n - 1] == ';' &&
		   (prev->type == T_EQ || prev->type == T_PLUSEQ ||
		    (st->depth && st->stack[st->depth - 1].list && prev->type != T_WORD &&
		     prev->type != T_STR))) {
		return res_fail(&x->layout_error, RES_CONFIG,
				"%s:%d: the unquoted value of '%.*s' ends in ';', which would "
				"become part of it: remove the ';' (nothing separates settings "
				"in mailout.conf), or put the value in quotes if the ';' belongs "
				"to it (see mailout.conf(5), Syntax)", name, t->line,
				(int)(st->key ? st->keylen : 1), st->key ? st->key : "?");
	} else if (t->type == T_LBRACE) {
		if (st->depth == sizeof(st->stack) / sizeof(st->stack[0]))
			return res_fail(&x->layout_error, RES_CONFIG,
					"%s:%d: braces nested too deeply", name, t->line);
		st->stack[st->depth] = open_frame(x, st, text, prev2, prev, t);
		st->sec = st->stack[st->depth++].sec;
	} else if (t->type == T_RBRACE) {
		if (st->depth)
			st->depth--;
		st->sec = st->depth ? st->stack[st->depth - 1].sec : SEC_TOP;
	}
	return 0;
}

/* At the end of the text: a section still open is refused. */
static int
layout_end(struct lexscan *x, struct layout_state *st, const char *name)
{
	for (size_t i = 0; i < st->depth; i++) {
		const struct frame *f = &st->stack[i];

		if (f->list)
			continue;
		return res_fail(&x->layout_error, RES_CONFIG,
				"%s:%d: section %s%.*s is not closed: a '}' is missing before the "
				"end of the file (see mailout.conf(5), Syntax)", name, f->line,
				f->title && f->sec >= 0 ? "account " : "",
				(int)(f->title ? (f->tlen > 64 ? 64 : f->tlen) : 1),
				f->title ? f->title : "?");
	}
	return 0;
}

/* A key whose value an error message must not quote. */
static int
is_secret_key(const char *key, size_t n)
{
	return (n == 8 && !strncmp(key, "password", 8)) ||
	       (n == 12 && !strncmp(key, "passwordeval", 12));
}

/* A backslash in the "..." string t that libconfuse would read as an
 * escape mailout does not take: its line, with the message in *r, or 0.
 * key (keylen bytes): the key whose value t is, or NULL. */
static int
bad_escape(const char *name, const struct token *t, const char *key, size_t keylen,
	   struct result *r)
{
	int l = t->line;

	for (size_t i = 1; i < t->n; i++) {
		if (t->s[i] == '\n')
			l++;
		if (t->s[i] != '\\')
			continue;
		if (i + 1 < t->n && (t->s[i + 1] == '"' || t->s[i + 1] == '\\' ||
				     t->s[i + 1] == '\n')) {
			i++;
			if (t->s[i] == '\n')
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
				 name, l, i + 1 < t->n && (unsigned char)t->s[i + 1] >= 0x20 &&
				 t->s[i + 1] != 0x7f ? t->s[i + 1] : '?',
				 key ? " in the value of '" : "",
				 (int)(key ? keylen : 0), key ? key : "", key ? "'" : "");
		return l;
	}
	return 0;
}

/* The state of the lexical part of the pass. */
struct lexical_state {
	const char *key;    /* the key (or account title) whose value follows */
	size_t keylen;
};

/* The lexical part for token t: what libconfuse would silently change.
 * Returns its line, with the message in x->lexical_error, or 0. */
static int
lexical_token(struct lexscan *x, struct lexical_state *st, const char *name,
	      const struct token *prev, const struct token *t)
{
	if ((t->type == T_EQ || t->type == T_PLUSEQ) && prev->type == T_WORD) {
		st->key = prev->s;
		st->keylen = prev->n;
	} else if (t->type == T_STR && tok_is(prev, "account")) {
		st->key = "account";        /* its title */
		st->keylen = 7;
	} else if ((t->type == T_LBRACE && prev->type != T_EQ) || t->type == T_RBRACE) {
		st->key = NULL;
	}
	if (t->type == T_PLUSEQ) {
		res_fail(&x->lexical_error, RES_CONFIG, "%s:%d: '+=' is not supported: write "
			 "the whole value with '=' (a list given with '=' replaces the list "
			 "of defaults or of the inherited account; see mailout.conf(5), "
			 "Syntax)", name, t->line);
		return t->line;
	}
	if (t->type == T_OTHER && (*t->s == '*' || *t->s == '+')) {
		res_fail(&x->lexical_error, RES_CONFIG, "%s:%d: a '%c' outside quotes%s%.*s%s: "
			 "libconfuse would drop it (\"*@example.com\" would become "
			 "\"@example.com\"); put the value in double quotes (see "
			 "mailout.conf(5), Syntax)", name, t->line, *t->s,
			 st->key ? " in the value of '" : "",
			 (int)(st->key ? st->keylen : 0), st->key ? st->key : "",
			 st->key ? "'" : "");
		return t->line;
	}
	if (t->type == T_STR && *t->s == '"')
		return bad_escape(name, t, st->key, st->keylen, &x->lexical_error);
	return 0;
}

void
conf_lex(const char *name, const char *text, struct lexscan *x)
{
	struct layout_state ls = { .sec = SEC_TOP };
	struct lexical_state lx = { NULL, 0 };
	struct token prev2 = { .type = T_EOF }, prev = { .type = T_EOF }, t;
	const char *p = text;
	int line = 1, layout_failed = 0;

	memset(x, 0, sizeof(*x));
	for (;; prev2 = prev, prev = t) {
		t = next_token(&p, &line);
		if (t.type == T_EOF)
			break;
		if (t.open && !x->open)
			x->open = t.line;
		if (!x->lexical_line)
			x->lexical_line = lexical_token(x, &lx, name, &prev, &t);
		if (!layout_failed)
			layout_failed = layout_token(x, &ls, name, text, &prev2, &prev, &t) < 0;
	}
	if (!layout_failed)
		layout_failed = layout_end(x, &ls, name) < 0;
	x->layout_failed = layout_failed;
	index_keys(&x->layout);
}

int
conf_scan_layout(const char *name, const char *text, struct layout *l, struct result *r)
{
	struct lexscan x;

	conf_lex(name, text, &x);
	free(x.titles);
	*l = x.layout;
	if (x.layout_failed)
		*r = x.layout_error;
	return x.layout_failed ? -1 : 0;
}

int
conf_unclosed_quote(const char *text)
{
	struct lexscan x;

	conf_lex("", text, &x);
	free(x.titles);
	conf_layout_free(&x.layout);
	return x.open;
}

int
conf_check_lexical(const char *name, const char *text, struct result *r)
{
	struct lexscan x;

	conf_lex(name, text, &x);
	free(x.titles);
	conf_layout_free(&x.layout);
	if (x.lexical_line)
		*r = x.lexical_error;
	return x.lexical_line;
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
