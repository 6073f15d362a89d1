/*
 * conf.h - the configuration: libconfuse schema, system and user files,
 * defaults and inherit, permission checks, account choice.
 *
 * (Named conf.h, not config.h: config.h is autoconf's.)
 */
#ifndef MAILOUT_CONF_H
#define MAILOUT_CONF_H

#include <stddef.h>

#include "result.h"

enum tls_mode { TLS_STARTTLS, TLS_SMTPS, TLS_OFF };
enum auth_mode {
	AUTH_UNSET,        /* not configured: on when user is set, else off */
	AUTH_OFF, AUTH_ON, AUTH_PLAIN, AUTH_LOGIN, AUTH_CRAM_MD5,
	AUTH_XOAUTH2, AUTH_OAUTHBEARER, AUTH_EXTERNAL
};
enum queue_mode { QUEUE_NEVER, QUEUE_ONFAIL, QUEUE_ALWAYS };

/*
 * Where a setting was made: a configuration file and its true line.
 * file NULL: not set (the built-in default); file CONF_COMMAND_LINE: an
 * option on the command line.  file points into the struct config the
 * account came from (or is CONF_COMMAND_LINE), so it is valid as long as
 * that configuration is.
 */
struct conf_where {
	const char *file;
	int line;
};
extern const char CONF_COMMAND_LINE[];

#define CONF_NKEYS 20          /* account keys, inherit excluded */

/* One account, with defaults and inherit already applied.  Strings are
 * NULL when not set. */
struct account {
	char *name;
	char *file;            /* the file that defined it; NULL for --host */
	int line;              /* the line of its `account` header in file */
	struct conf_where where[CONF_NKEYS]; /* per key: see conf_key_index() */
	char *host;            /* relay; NULL: no relay (local delivery only) */
	long port;             /* 0: by tls (587 starttls, 465 smtps, 25 off) */
	enum tls_mode tls;
	char *tls_trust_file;  /* CA bundle; NULL: the system trust store */
	char *tls_pin;         /* "sha256//BASE64" public-key pin(s) */
	char *tls_cert_file;   /* client certificate, PEM */
	char *tls_key_file;    /* its key, PEM */
	enum auth_mode auth;
	char *user;
	char *password;        /* secret: never printed */
	char *passwordeval;    /* command whose first output line is the secret */
	char *from;            /* envelope sender and default From */
	char *from_name;
	char **senders;        /* envelope sender patterns (fnmatch, case-insensitive) */
	size_t nsenders;
	int rewrite_from;
	char *domain;          /* EHLO name; NULL: host_fqdn() */
	long timeout;          /* seconds, connect and each reply */
	char *proxy;           /* NULL or "": no proxy (environment ignored) */
	char *source_ip;
	int partial_delivery;
};

struct config {
	char *files[2];        /* files read (system, user), or just the -C file */
	size_t nfiles;
	int embedded;          /* 1: no file found, the embedded default applies */
	char *default_account;
	char *aliases;         /* expanded path or NULL */
	char *logfile;         /* expanded path or NULL */
	char *syslog;          /* NULL (off), or a facility name: "LOG_MAIL"... */
	enum queue_mode queue;
	char *queue_dir;       /* expanded path */
	long queue_lifetime;   /* seconds */
	struct account defaults; /* the `defaults` sections alone (for --host) */
	struct account *accounts;
	size_t naccounts;
};

/*
 * Load the configuration.  explicit_file (from -C) or $MAILOUT_CONFIG
 * replaces the search; else SYSCONFDIR/mailout.conf then the user file
 * ($XDG_CONFIG_HOME/mailout/config).  No file at all: c->embedded = 1
 * and the built-in defaults (no accounts).  Errors name the file and the
 * true line and are RES_CONFIG.  Returns 0 or -1.  Free with conf_free().
 */
int conf_load(struct config *c, const char *explicit_file, struct result *r);

/* Same, from a buffer (for tests); name is used in messages. */
int conf_load_buf(struct config *c, const char *name, const char *text,
		 struct result *r);

void conf_free(struct config *c);

/* The index of an account key in struct account's where[], or -1. */
int conf_key_index(const char *key);

/* Record that key (an account key) was set on the command line. */
void conf_set_by_command_line(struct account *a, const char *key);

/*
 * (account.c) Check an account as a whole, once defaults, inherit and the command-line
 * settings are applied: with check_auth, that authentication has what it
 * needs (a user unless auth = external; password or passwordeval for the
 * mechanisms that take a secret; a client certificate for external); and,
 * unless tls = off, that tls_key_file comes with tls_cert_file (the files
 * themselves: tls_files_check() in tls-files.h).  passwordeval is not run.
 * Returns 0, or -1 with RES_CONFIG in *r naming the key, the file and line
 * that set it, and the section of mailout.conf(5) that helps.
 */
int conf_check_account(const struct account *a, int check_auth, struct result *r);

/* (account.c) RES_CONFIG in *r: "FILE:LINE: account "NAME": " where key
 * was set (else where the account is defined), then the message.
 * Returns -1. */
int conf_key_fail(const struct account *a, const char *key, struct result *r,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The account called name, or NULL. */
const struct account *conf_find(const struct config *c, const char *name);

/*
 * Choose the account: name (from --account) > an account whose senders
 * match sender > default_account > the only account.  Returns NULL with
 * *r cleared when no account applies (local delivery only), or NULL with
 * RES_CONFIG in *r when a named account does not exist or the choice is
 * ambiguous.
 */
const struct account *conf_choose(const struct config *c, const char *name,
				 const char *sender, struct result *r);

/* A copy of the defaults-only account (for --host); free with
 * conf_account_free(). */
void conf_account_from_defaults(const struct config *c, struct account *a);
void conf_account_free(struct account *a);
void conf_account_copy(struct account *dst, const struct account *src);

/* Settings given for one message rather than by the account: --host, --port,
 * --tls, --user, --passwordeval (from the command line, or kept in a queued
 * message's envelope).  NULL: not given. */
struct overrides {
	const char *host, *port, *tls, *user, *passwordeval;
};

/*
 * The one place these settings change an account: a set passwordeval
 * replaces the password, and each key is marked as set on the command line
 * (for --show-config and error messages).  ov->host is not applied here
 * (it chooses the account: see conf_account_from_defaults()).  Returns 0,
 * or -1 with RES_USAGE naming the option when a value is not valid (a port
 * that is not a number from 1 to 65535, a tls mode that is not starttls,
 * smtps or off).
 */
int account_apply_overrides(struct account *a, const struct overrides *ov,
			    struct result *r);

/* The effective port of an account (its port, or the default for its tls). */
long conf_port(const struct account *a);

/* Names for printing. */
/*
 * The proxy URL url as it may be shown (messages, --show-config): scheme,
 * host and port, without the user name, the password and any path.
 * Writes it to buf (n bytes); returns 1 when credentials were left out.
 */
int conf_proxy_display(const char *url, char *buf, size_t n);

/* 1 when s is a tls_pin libcurl parses as written: "sha256//BASE64",
 * or several joined by ";". */
int conf_pin_valid(const char *s);

const char *conf_tls_name(enum tls_mode m);
const char *conf_auth_name(enum auth_mode m);
const char *conf_queue_name(enum queue_mode m);
/* Parse those names; -1 when unknown. */
int conf_parse_tls(const char *s);
int conf_parse_auth(const char *s);
int conf_parse_queue(const char *s);

/* 1 when the account will authenticate (auth on, or unset with a user). */
int conf_auth_enabled(const struct account *a);

/*
 * (account.c) The account's secret: password, or the first line of passwordeval's
 * output (run with /bin/sh -c, stdin /dev/null, stderr passed through).
 * Returns a malloc'd string to release with free_secret(), or NULL with
 * RES_CONFIG (no secret configured, command failed) in *r.
 */
char *conf_secret(const struct account *a, struct result *r);

/* Print the effective settings of an account, secrets masked. */
#include <stdio.h>
void conf_show(FILE *out, const struct config *c, const struct account *a);

#endif
