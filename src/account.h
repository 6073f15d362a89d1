/*
 * account.h - one account: its settings (struct account, built by the
 * configuration module from the files, or from the defaults for --host),
 * and what is done with an account as a whole: copy, free, the overrides
 * given for one message, the checks that need several keys, the secret,
 * and showing it.
 *
 * An account owns its strings: account_copy() makes a deep copy, and every
 * account that was copied or built must be released with account_free().
 * The where[] file names are the exception: they point into the struct
 * config the account came from (or are CONF_COMMAND_LINE).
 */
#ifndef MAILOUT_ACCOUNT_H
#define MAILOUT_ACCOUNT_H

#include <stddef.h>
#include <stdio.h>

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

#define CONF_NKEYS 28          /* account keys (conf-keys.c), inherit excluded */

/* One account, with defaults and inherit already applied.  Strings are
 * NULL when not set.  The keys are listed in conf-keys.c, in this order. */
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
	/* OAuth2 (SPEC 13, oauth2.h): the access token for auth = xoauth2 or
	 * oauthbearer comes from the token endpoint when oauth2_token_url is
	 * set and neither password nor passwordeval is. */
	char *oauth2_token_url;         /* https:// */
	char *oauth2_device_url;        /* https://, for --authorize */
	char *oauth2_client_id;
	char *oauth2_client_secret;     /* secret: never printed */
	char *oauth2_client_secret_eval; /* command whose first output line is it */
	char *oauth2_scope;
	char *oauth2_trust_file;        /* CA bundle; NULL: the system trust store */
	char *oauth2_refresh_token_eval; /* seeds the token store when it is empty */
};

/* An account with every key at its built-in value and no name. */
void account_init(struct account *a);

/* Make dst a deep copy of src (dst need not be initialised; whatever it
 * held is not freed).  Free it with account_free(). */
void account_copy(struct account *dst, const struct account *src);

/* Free what a owns (secrets wiped first) and zero it. */
void account_free(struct account *a);

/* The index of an account key in struct account's where[], or -1. */
int conf_key_index(const char *key);

/* Record that key (an account key) was set on the command line. */
void account_set_by_command_line(struct account *a, const char *key);

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

/*
 * Check an account as a whole, once defaults, inherit and the command-line
 * settings are applied: with check_auth, that authentication has what it
 * needs (a user unless auth = external; password or passwordeval for the
 * mechanisms that take a secret; a client certificate for external); and,
 * unless tls = off, that tls_key_file comes with tls_cert_file and that
 * tls_trust_file, tls_cert_file and tls_key_file are readable regular
 * files in a form GnuTLS reads (PEM; the key unencrypted and matching the
 * certificate).  passwordeval is not run.  Returns 0, or -1 with
 * RES_CONFIG in *r naming the key, the file and line that set it, and the
 * section of mailout.conf(5) that helps.
 */
int account_check(const struct account *a, int check_auth, struct result *r);

/* The effective port of an account (its port, or the default for its tls). */
long account_port(const struct account *a);

/* 1 when the account will authenticate (auth on, or unset with a user). */
int account_auth_enabled(const struct account *a);

/*
 * The account's secret: password, or the first line of passwordeval's
 * output (run with /bin/sh -c, stdin /dev/null, stderr passed through).
 * Returns a malloc'd string to release with free_secret(), or NULL with
 * RES_CONFIG (no secret configured, command failed) in *r.
 */
char *account_secret(const struct account *a, struct result *r);

/*
 * The first line of the output of the command in the account's key (a
 * string key such as "passwordeval" or "oauth2_client_secret_eval"), run
 * as for passwordeval.  Returns a malloc'd string to release with
 * free_secret(), or NULL with RES_CONFIG (key not set, command failed,
 * nothing printed) in *r naming the key and where it was set.
 */
char *account_eval(const struct account *a, const char *key, struct result *r);

/* 1 when the account gets its access token from oauth2_token_url: auth =
 * xoauth2 or oauthbearer, the URL set, and no password or passwordeval
 * (which would be the token itself). */
int account_uses_oauth2(const struct account *a);

/*
 * The secret in passwordeval's output out (len bytes, need not end in
 * NUL): its first line, ending before the first LF, less a CR that ends
 * it (CRLF), and before a NUL byte (a secret holds none).  Returns its
 * length; the secret is out[0..length).
 */
size_t account_secret_line(const char *out, size_t len);

/* Print the account's effective settings, one key a line in the order of
 * the key table, secrets masked. */
void account_show(FILE *out, const struct account *a);

/* RES_CONFIG in *r: "FILE:LINE: account "NAME": " where key was set
 * (else where the account is defined), then the message.  Returns -1. */
int account_key_fail(const struct account *a, const char *key, struct result *r,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
