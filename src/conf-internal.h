/*
 * conf-internal.h - the parts of the configuration module that conf.c
 * uses and no other module does:
 *  - conf-layout.c: comment blanking and the true line of every section
 *    and key of a file (libconfuse's own numbers are wrong);
 *  - conf-values.c: numbers, durations and proxy URLs.
 */
#ifndef MAILOUT_CONF_INTERNAL_H
#define MAILOUT_CONF_INTERNAL_H

#include <stddef.h>

#include "result.h"

#define SEC_TOP (-1)        /* outside any section */
#define SEC_DEFAULTS (-2)   /* the defaults section(s) */
#define SEC_OTHER (-3)      /* anything else (libconfuse refuses it) */

struct keyline {
	int sec;            /* SEC_TOP, SEC_DEFAULTS, or the n-th account section */
	char key[32];
	int line;
};

struct layout {
	int *acct_line;     /* line of each account header, in file order */
	size_t nacct;
	struct keyline *keys;   /* every "key =" / "key +=", sorted by
				 * section, key and line (see conf_layout_line()) */
	size_t nkeys;
};

/* Replace every comment of text with spaces, in place, keeping newlines. */
void conf_blank_comments(char *text);

/*
 * Read the layout of blanked text into *l (which needs no initialisation;
 * free it with conf_layout_free(), also after a failure).  Refuses a
 * section still open at the end of the text and an unquoted value ending
 * in ';', naming the file (name) and line.  Returns 0, or -1 with
 * RES_CONFIG in *r.
 */
int conf_scan_layout(const char *name, const char *text, struct layout *l, struct result *r);

/* The line where section sec last set key, or 0 (also when l is NULL).
 * A binary search: O(log n) in the keys of the file. */
int conf_layout_line(const struct layout *l, int sec, const char *key);

/*
 * Steps taken by the lookups of a load (binary-search steps of
 * conf_layout_line(), probes of the account-name index): for tests that
 * check loading stays near-linear in the number of accounts.  Only ever
 * incremented.
 */
extern unsigned long conf_lookup_steps;

void conf_layout_free(struct layout *l);

/* The line where a quoted string of blanked text starts that the end of
 * the text leaves open, or 0 (libconfuse reports the end of the file). */
int conf_unclosed_quote(const char *text);

/*
 * What libconfuse would silently change, in blanked text: a '*' or '+'
 * outside quotes (dropped), a backslash in a "..." string other than \",
 * \\ and one that ends the line (dropped, or read as \n, \t, \x41,
 * \101), and "+=".  Returns the line of the first, with RES_CONFIG in *r
 * naming the file (name), the line and the key (never the value of
 * password or passwordeval), or 0.
 */
int conf_check_lexical(const char *name, const char *text, struct result *r);

/* "password" or "passwordeval" when line of blanked text holds that key,
 * its '=' or its value (whose text an error message must not quote),
 * else NULL. */
const char *conf_secret_on_line(const char *text, int line);

/* 1 when line of blanked text holds a ';' that starts a word (one after
 * a quoted value: "abc";), else 0. */
int conf_stray_semicolon(const char *text, int line);

/* 1 when a quoted value after '=' starts or ends on line, else 0. */
int conf_quoted_value_on_line(const char *text, int line);

/* A decimal number from 0 to max into *out (libconfuse would read "025"
 * as octal 21).  Returns 0, or -1 for anything else. */
int conf_parse_decimal(const char *s, long max, long *out);

/* A duration, "5d", "12h", "30m", "90s", "2w" or plain seconds, from one
 * second to a year, into *out in seconds.  Returns 0 or -1. */
int conf_parse_duration(const char *s, long *out);

/* 0 when url is empty (no proxy) or a proxy URL with a scheme libcurl
 * uses and a host; else -1 with the reason in err (never the URL itself:
 * it may hold a password). */
int conf_check_proxy(const char *url, char *err, size_t n);

#endif
