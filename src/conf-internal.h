/*
 * conf-internal.h - the parts of the configuration module that its files
 * share and no other module uses:
 *  - conf-keys.c: the table of keys, which drives the libconfuse schema,
 *    validation, copy, free, overlay and --show-config;
 *  - conf-file.c: reading and parsing one file;
 *  - conf-layout.c: comment blanking and the true line of every section
 *    and key of a file (libconfuse's own numbers are wrong);
 *  - conf-values.c: numbers, durations and proxy URLs.
 * Only conf-keys.c, conf-file.c and conf.c include confuse.h.
 */
#ifndef MAILOUT_CONF_INTERNAL_H
#define MAILOUT_CONF_INTERNAL_H

#include <stddef.h>
#include <stdio.h>

#include "account.h"
#include "result.h"

struct cfg_t;       /* libconfuse's cfg_t */
struct cfg_opt_t;   /* libconfuse's cfg_opt_t */

/* ---- the keys (conf-keys.c) ---- */

enum conf_ktype {
	KT_STR,             /* char * */
	KT_LIST,            /* char ** and its count (count_off) */
	KT_NUM,             /* long, decimal, 1 to max */
	KT_ENUM,            /* an enum stored as int: parse() reads its names */
	KT_BOOL,            /* int, 0 or 1 */
	KT_DURATION         /* long seconds, "5d" (top-level only) */
};

#define KF_PATH   0x1       /* a file or directory: absolute or ~/, expanded */
#define KF_SECRET 0x2       /* never shown, wiped when freed */
#define KF_MULTI  0x4       /* KT_STR that takes one value or a list: the
                               values joined by ',' (host: relays in order) */

struct conf_key {
	const char *name;
	enum conf_ktype type;
	size_t off;             /* account keys: the field in struct account */
	size_t count_off;       /* KT_LIST: the field of its count */
	unsigned flags;
	/* KT_STR, KT_LIST: checks one value (control characters are refused
	 * before); reports with cfg_error() and returns -1, or returns 0. */
	int (*check)(struct cfg_t *cfg, const char *key, const char *value);
	long def;               /* KT_NUM, KT_ENUM, KT_BOOL, KT_DURATION */
	long max;               /* KT_NUM */
	int (*parse)(const char *s);    /* KT_ENUM: the value of a name, or -1 */
	const char *names;      /* KT_ENUM: the names, for messages */
	/* --show-config's value (after "  key = "); NULL: by type. */
	void (*show)(FILE *out, const struct account *a, const struct conf_key *k);
};

/* The account keys, in the order of struct account and of --show-config. */
extern const struct conf_key conf_keys[CONF_NKEYS];

/* The key called name, account or top-level, or NULL ("inherit"). */
const struct conf_key *conf_key_find(const char *name);

/* The libconfuse schema of a file, built from the key tables; and the
 * validators set on a cfg_t made from it. */
struct cfg_opt_t *conf_schema(void);
void conf_set_validators(struct cfg_t *cfg);

/* Set when a value of `password` is read; conf-file.c clears it before a
 * file and checks the file's mode after. */
extern int conf_saw_password;

/* ---- the layout of a file (conf-layout.c) ---- */

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
	char **acct_title;  /* the title of each, as libconfuse reads it
			     * (set by conf_parse_text()) */
	size_t nacct;
	struct keyline *keys;   /* every "key =" / "key +=", sorted by
				 * section, key and line (see conf_layout_line()) */
	size_t nkeys;
};

/* Replace every comment of text with spaces, in place, keeping newlines. */
void conf_blank_comments(char *text);

/* Where a token lies in the text. */
struct span {
	size_t off, n;
	int line;
};

/* What one pass over blanked text finds (conf_lex()). */
struct lexscan {
	struct span *titles;    /* the title token of each account header
				 * (layout.nacct); free() it */
	int untitled_line;      /* the line of an `account {` without a title, or 0 */
	struct layout layout;   /* free with conf_layout_free(), always */
	int layout_failed;      /* a section left open at the end of the text,
				 * an unquoted value ending in ';', braces
				 * nested too deeply: message in layout_error */
	struct result layout_error;
	int open;               /* the line where a quoted string starts that
				 * the end of the text leaves open, or 0 */
	int lexical_line;       /* the line of the first thing libconfuse would
				 * silently change, or 0: message in lexical_error */
	struct result lexical_error;
};

/*
 * One pass over the tokens of blanked text (name: the file, for
 * messages), as libconfuse's lexer splits them, into *x (which needs no
 * initialisation):
 *  - the layout: the true line of every account header and every key;
 *    refused: a section still open at the end of the text, an unquoted
 *    value ending in ';' (libconfuse would keep the ';');
 *  - the line where a quoted string left open starts (libconfuse reports
 *    the end of the file, or nothing);
 *  - the first thing libconfuse would silently change: a '*' or '+'
 *    outside quotes (dropped), a backslash in a "..." string other than
 *    \", \\ and one that ends the line (dropped, or read as \n, \t,
 *    \x41, \101), and "+=".  Messages name the file, the line and the key,
 *    never the value of password or passwordeval.
 */
void conf_lex(const char *name, const char *text, struct lexscan *x);

/* The parts of conf_lex() on their own (the unit tests use them).
 * conf_scan_layout(): the layout into *l (free it with conf_layout_free(),
 * also after a failure); returns 0, or -1 with RES_CONFIG in *r. */
int conf_scan_layout(const char *name, const char *text, struct layout *l, struct result *r);

/* The line where section sec last set key, or 0 (also when l is NULL).
 * A binary search: O(log n) in the keys of the file. */
int conf_layout_line(const struct layout *l, int sec, const char *key);

/*
 * Steps taken by the lookups of a load (binary-search steps of
 * conf_layout_line(), probes of the account-name index, comparisons of
 * the sort that finds duplicate titles): for tests that
 * check loading stays near-linear in the number of accounts.  Only ever
 * incremented.
 */
extern unsigned long conf_lookup_steps;

void conf_layout_free(struct layout *l);

/* conf_lex()'s open. */
int conf_unclosed_quote(const char *text);

/* conf_lex()'s lexical_line, with lexical_error in *r. */
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

/* ---- one file (conf-file.c) ---- */

/* A file read and parsed: its libconfuse tree and its layout. */
struct parsed {
	char *name;             /* not owned */
	struct cfg_t *cfg;
	struct layout layout;
};

/*
 * Parse text (modified: a byte order mark and comments blanked) into
 * p->cfg and p->layout, naming the file name in messages.  Returns 0
 * (free with conf_parsed_free()), or -1 with RES_CONFIG.
 */
int conf_parse_text(struct parsed *p, const char *name, char *text, struct result *r);

/*
 * Read and parse the file path into *out (name not set): it must be a
 * regular file of at most 1 MiB without NUL bytes, owned by the user or
 * root and writable by no one else, and private when it holds a password.
 * Returns 1 (free with conf_parsed_free()), or 0 with *r cleared when the
 * file does not exist or cannot be read by this user and may be absent
 * (optional: 1, the user file, skipped with a warning; 2, the system
 * file, which may hold the mail system's secrets), or -1 with RES_CONFIG.
 */
int conf_parse_file(const char *path, int optional, struct parsed *out, struct result *r);

void conf_parsed_free(struct parsed *p);

#endif
