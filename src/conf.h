/*
 * conf.h - the configuration: the system and user files (or the -C file),
 * read into a struct config with every account built (defaults and inherit
 * applied), and the choice of account for a message.
 *
 * (Named conf.h, not config.h: config.h is autoconf's.)
 */
#ifndef MAILOUT_CONF_H
#define MAILOUT_CONF_H

#include <stddef.h>
#include <stdio.h>

#include "account.h"
#include "result.h"

/* A loaded configuration.  It owns every string and account in it; free
 * it with conf_free(). */
struct config {
	char *files[2];        /* files read (system, user), or just the -C file */
	size_t nfiles;
	int embedded;          /* 1: no file found, the embedded default applies */
	int system_unreadable; /* 1: the system file exists but this user cannot
	                          read it (its accounts are the system queue's) */
	char *default_account;
	char *aliases;         /* expanded path or NULL */
	char *logfile;         /* expanded path or NULL */
	char *syslog;          /* NULL (off), or a facility name: "LOG_MAIL"... */
	enum queue_mode queue;
	char *queue_dir;       /* expanded path */
	long queue_lifetime;   /* seconds */
	char *bounce_notice_to; /* also gets every notification (SPEC 12), or NULL */
	long delay_warning;    /* seconds before a "delayed" notification; 0: none */
	struct account defaults; /* the `defaults` sections alone (for --host) */
	struct account *accounts; /* in file order */
	size_t naccounts;
};

/*
 * Load the configuration into *c (which needs no initialisation).
 * explicit_file (from -C) or $MAILOUT_CONFIG replaces the search; else
 * SYSCONFDIR/mailout.conf then the user file
 * ($XDG_CONFIG_HOME/mailout/config).  No file at all: c->embedded = 1 and
 * the built-in defaults (no accounts).  Errors name the file and the true
 * line and are RES_CONFIG.  Returns 0 or -1; free *c with conf_free() in
 * both cases.
 */
int conf_load(struct config *c, const char *explicit_file, struct result *r);

/* Same, from a buffer (for tests); name is used in messages. */
int conf_load_buf(struct config *c, const char *name, const char *text,
		 struct result *r);

/* Free everything c owns, and zero it. */
void conf_free(struct config *c);

/* The account called name, or NULL.  The pointer is into c: valid until
 * conf_free(c). */
const struct account *conf_find(const struct config *c, const char *name);

/*
 * Choose the account: name (from --account) > an account whose senders
 * match sender > default_account > the only account.  Returns a pointer
 * into c (valid until conf_free(c)); NULL with *r cleared when no account
 * applies (local delivery only), or NULL with RES_CONFIG in *r when a
 * named account does not exist or the choice is ambiguous.
 */
const struct account *conf_choose(const struct config *c, const char *name,
				 const char *sender, struct result *r);

/* A deep copy of the defaults-only account into *a (for --host); free it
 * with account_free(). */
void conf_account_from_defaults(const struct config *c, struct account *a);

/* Print the global settings of c and the effective settings of a (or
 * that no account applies), secrets masked: --show-config. */
void conf_show(FILE *out, const struct config *c, const struct account *a);

/* ---- values (conf-values.c) ---- */

/*
 * The proxy URL url as it may be shown (messages, --show-config): scheme,
 * host and port, without the user name, the password and any path.
 * Writes it to buf (n bytes); returns 1 when credentials were left out.
 */
int conf_proxy_display(const char *url, char *buf, size_t n);

/* 1 when s is a tls_pin libcurl parses as written: "sha256//BASE64",
 * or several joined by ";". */
int conf_pin_valid(const char *s);

/* The names of the enumerations, and their values (-1 when unknown). */
const char *conf_tls_name(enum tls_mode m);
const char *conf_auth_name(enum auth_mode m);
const char *conf_queue_name(enum queue_mode m);
int conf_parse_tls(const char *s);
int conf_parse_auth(const char *s);
int conf_parse_queue(const char *s);

#endif
