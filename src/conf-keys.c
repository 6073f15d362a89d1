/*
 * conf-keys.c - the keys of mailout.conf, one table row each.
 *
 * conf_keys[] lists the account keys (allowed in `defaults` and `account`
 * sections): name, type, field of struct account, flags, validator,
 * built-in value and how --show-config prints it.  From it come the
 * libconfuse schema (conf_schema()), the validation of every value, and in
 * account.c and conf.c the copy, free, overlay and show of an account.  A
 * new account key is one row here and one field in struct account.
 *
 * The top-level keys (top_keys[]) use the same rows for their schema and
 * validation; conf.c reads their values.
 */
#include "config.h"

#include <arpa/inet.h>
#include <confuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "conf.h"
#include "conf-internal.h"
#include "log.h"

int conf_saw_password;

/* ---- validators: one value of a string key, reported with its line ---- */

/* Keys that name a file or directory: absolute, or "~/" for the home; ""
 * (no file) is allowed, as documented for logfile and aliases. */
static int
v_path(cfg_t *cfg, const char *key, const char *s)
{
	if (*s && s[0] != '/' && strncmp(s, "~/", 2) != 0) {
		cfg_error(cfg, "'%s' must be an absolute path (starting with /) or "
			  "start with ~/: a relative path would depend on the "
			  "directory mailout is started from", key);
		return -1;
	}
	return 0;
}

/* queue_dir: a path, never empty. */
static int
v_dir(cfg_t *cfg, const char *key, const char *s)
{
	return v_path(cfg, key, *s ? s : "(empty)");
}

static int
v_logfile(cfg_t *cfg, const char *key, const char *s)
{
	if (strcmp(s, "-") == 0) {
		cfg_error(cfg, "logfile = \"-\" (msmtp's standard output) is not "
			  "supported: use syslog = on, or the path of a file");
		return -1;
	}
	return v_path(cfg, key, s);
}

/* 1 when s is an IPv6 address, bare or in brackets ("::1", "[::1]"). */
static int
ipv6_literal(const char *s)
{
	unsigned char buf[16];
	char tmp[64];
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']' && n - 2 < sizeof(tmp)) {
		memcpy(tmp, s + 1, n - 2);
		tmp[n - 2] = '\0';
		return inet_pton(AF_INET6, tmp, buf) == 1;
	}
	return inet_pton(AF_INET6, s, buf) == 1;
}

static int
v_host(cfg_t *cfg, const char *key, const char *s)
{
	if (!*s || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			  "0123456789.-_:[]") != strlen(s)) {
		cfg_error(cfg, "invalid host name '%s'", s);
		return -1;
	}
	if (strpbrk(s, ":[]") && !ipv6_literal(s)) {
		cfg_error(cfg, "'%s' = '%s' is neither a host name nor an IPv6 "
			  "address (bare or in brackets): put the port in "
			  "port = N, not after a ':'", key, s);
		return -1;
	}
	return 0;
}

static int
v_domain(cfg_t *cfg, const char *key, const char *s)
{
	(void)key;
	if (!*s || strpbrk(s, " /?#@%")) {
		cfg_error(cfg, "invalid domain '%s'%s", s, strchr(s, '%') ?
			  " ('%' is not allowed: libcurl would percent-decode "
			  "it into the EHLO name)" : "");
		return -1;
	}
	return 0;
}

static int
v_from(cfg_t *cfg, const char *key, const char *s)
{
	char err[256];

	if (addr_check(s, err, sizeof(err)) < 0) {
		cfg_error(cfg, "'%s': %s", key, err);
		return -1;
	}
	return 0;
}

static int
v_pin(cfg_t *cfg, const char *key, const char *s)
{
	if (!conf_pin_valid(s)) {
		cfg_error(cfg, "'%s' must look like sha256//BASE64, or several "
			  "joined by ';' with no spaces (as printed by mailout "
			  "--serverinfo)", key);
		return -1;
	}
	return 0;
}

static int
v_ip(cfg_t *cfg, const char *key, const char *s)
{
	unsigned char buf[16];

	if (inet_pton(AF_INET, s, buf) != 1 && inet_pton(AF_INET6, s, buf) != 1) {
		cfg_error(cfg, "'%s' is not an IP address: '%s'", key, s);
		return -1;
	}
	return 0;
}

static int
v_proxy(cfg_t *cfg, const char *key, const char *s)
{
	char err[256];

	(void)key;
	if (conf_check_proxy(s, err, sizeof(err)) < 0) {
		cfg_error(cfg, "%s", err);
		return -1;
	}
	return 0;
}

static int
v_syslog(cfg_t *cfg, const char *key, const char *s)
{
	if (!log_facility_valid(s)) {
		cfg_error(cfg, "invalid value '%s' for '%s' "
			  "(off, on, LOG_MAIL, LOG_USER, LOG_LOCAL0..7)", s, key);
		return -1;
	}
	return 0;
}

/* A password (or an OAuth2 client secret) makes the file's mode matter
 * (conf-file.c checks it). */
static int
v_password(cfg_t *cfg, const char *key, const char *s)
{
	(void)cfg, (void)key, (void)s;
	conf_saw_password = 1;
	return 0;
}

/* The OAuth2 endpoints: tokens go over verified TLS only (RFC 6749
 * section 3.2: the token endpoint requires TLS). */
static int
v_https(cfg_t *cfg, const char *key, const char *s)
{
	if (strncmp(s, "https://", 8) != 0 || !s[8] || strpbrk(s, " \"\\")) {
		cfg_error(cfg, "'%s' must be an https:// URL (tokens go over TLS only)", key);
		return -1;
	}
	return 0;
}

/* ---- how --show-config prints the keys that need more than their type ---- */

static void
show_port(FILE *out, const struct account *a, const struct conf_key *k)
{
	(void)k;
	fprintf(out, "%ld", account_port(a));
}

/* One relay as a string, several as a list (SPEC 13). */
static void
show_host(FILE *out, const struct account *a, const struct conf_key *k)
{
	const char *h = a->host;

	(void)k;
	if (!h) {
		fprintf(out, "(not set)");
	} else if (!strchr(h, ',')) {
		fprintf(out, "\"%s\"", h);
	} else {
		fprintf(out, "{ \"");
		for (; *h; h++)
			fprintf(out, *h == ',' ? "\", \"" : "%c", *h);
		fprintf(out, "\" }");
	}
}

static void
show_tls(FILE *out, const struct account *a, const struct conf_key *k)
{
	(void)k;
	fprintf(out, "%s", conf_tls_name(a->tls));
}

static void
show_trust(FILE *out, const struct account *a, const struct conf_key *k)
{
	(void)k;
	fprintf(out, "\"%s\"", a->tls_trust_file ? a->tls_trust_file : "(system trust store)");
}

static void
show_oauth2_trust(FILE *out, const struct account *a, const struct conf_key *k)
{
	(void)k;
	fprintf(out, "\"%s\"", a->oauth2_trust_file ? a->oauth2_trust_file
		: "(system trust store)");
}

static void
show_auth(FILE *out, const struct account *a, const struct conf_key *k)
{
	(void)k;
	fprintf(out, "%s", a->auth == AUTH_UNSET
		? (account_auth_enabled(a) ? "on (user is set)"
		   : a->user ? "off (user is empty)" : "off (no user)")
		: conf_auth_name(a->auth));
}

static void
show_proxy(FILE *out, const struct account *a, const struct conf_key *k)
{
	char proxy[512];

	(void)k;
	if (a->proxy && conf_proxy_display(a->proxy, proxy, sizeof(proxy)))
		fprintf(out, "\"%s\" (its user name and password not shown)", proxy);
	else if (a->proxy)
		fprintf(out, "\"%s\"", a->proxy);
	else
		fprintf(out, "(not set)");
}

/* ---- the tables ---- */

#define AOFF(f) offsetof(struct account, f)
#define STR(n, f, fl, v) { n, KT_STR, AOFF(f), 0, fl, v, 0, 0, NULL, NULL, NULL }
#define STR_SHOW(n, f, fl, v, sh) { n, KT_STR, AOFF(f), 0, fl, v, 0, 0, NULL, NULL, sh }
#define NUM(n, f, d, m, sh) { n, KT_NUM, AOFF(f), 0, 0, NULL, d, m, NULL, NULL, sh }
#define ENUM(n, f, d, p, names, sh) { n, KT_ENUM, AOFF(f), 0, 0, NULL, d, 0, p, names, sh }
#define BOOL(n, f) { n, KT_BOOL, AOFF(f), 0, 0, NULL, 0, 0, NULL, NULL, NULL }

#define TLS_NAMES "starttls, smtps, off"
#define AUTH_NAMES "on, off, plain, login, cram-md5, xoauth2, oauthbearer, external"

const struct conf_key conf_keys[CONF_NKEYS] = {
	STR_SHOW("host", host, KF_MULTI, v_host, show_host),
	NUM("port", port, 0, 65535, show_port),
	ENUM("tls", tls, TLS_STARTTLS, conf_parse_tls, TLS_NAMES, show_tls),
	STR_SHOW("tls_trust_file", tls_trust_file, KF_PATH, v_path, show_trust),
	STR("tls_pin", tls_pin, 0, v_pin),
	STR("tls_cert_file", tls_cert_file, KF_PATH, v_path),
	STR("tls_key_file", tls_key_file, KF_PATH, v_path),
	ENUM("auth", auth, AUTH_UNSET, conf_parse_auth, AUTH_NAMES, show_auth),
	STR("user", user, 0, NULL),
	STR("password", password, KF_SECRET, v_password),
	STR("passwordeval", passwordeval, 0, NULL),
	STR("from", from, 0, v_from),
	STR("from_name", from_name, 0, NULL),
	{ "senders", KT_LIST, AOFF(senders), AOFF(nsenders), 0, NULL, 0, 0, NULL, NULL, NULL },
	BOOL("rewrite_from", rewrite_from),
	STR("domain", domain, 0, v_domain),
	NUM("timeout", timeout, 60, 86400, NULL),
	STR_SHOW("proxy", proxy, 0, v_proxy, show_proxy),
	STR("source_ip", source_ip, 0, v_ip),
	BOOL("partial_delivery", partial_delivery),
	STR("oauth2_token_url", oauth2_token_url, 0, v_https),
	STR("oauth2_device_url", oauth2_device_url, 0, v_https),
	STR("oauth2_client_id", oauth2_client_id, 0, NULL),
	STR("oauth2_client_secret", oauth2_client_secret, KF_SECRET, v_password),
	STR("oauth2_client_secret_eval", oauth2_client_secret_eval, 0, NULL),
	STR("oauth2_scope", oauth2_scope, 0, NULL),
	STR_SHOW("oauth2_trust_file", oauth2_trust_file, KF_PATH, v_path, show_oauth2_trust),
	STR("oauth2_refresh_token_eval", oauth2_refresh_token_eval, 0, NULL),
};

/* The top-level keys (no field: conf.c reads them). */
static const struct conf_key top_keys[] = {
	{ "default_account", KT_STR, 0, 0, 0, NULL, 0, 0, NULL, NULL, NULL },
	{ "aliases", KT_STR, 0, 0, KF_PATH, v_path, 0, 0, NULL, NULL, NULL },
	{ "logfile", KT_STR, 0, 0, KF_PATH, v_logfile, 0, 0, NULL, NULL, NULL },
	{ "syslog", KT_STR, 0, 0, 0, v_syslog, 0, 0, NULL, NULL, NULL },
	{ "queue", KT_ENUM, 0, 0, 0, NULL, QUEUE_ONFAIL, 0, conf_parse_queue,
	  "never, onfail, always", NULL },
	{ "queue_dir", KT_STR, 0, 0, KF_PATH, v_dir, 0, 0, NULL, NULL, NULL },
	{ "queue_lifetime", KT_DURATION, 0, 0, 0, NULL, 5 * 86400, 0, NULL, NULL, NULL },
	{ "bounce_notice_to", KT_STR, 0, 0, 0, v_from, 0, 0, NULL, NULL, NULL },
	{ "delay_warning", KT_DURATION, 0, 0, 0, NULL, 0, 0, NULL, NULL, NULL },
};
#define NTOP (sizeof(top_keys) / sizeof(top_keys[0]))

int
conf_key_index(const char *key)
{
	for (size_t i = 0; i < CONF_NKEYS; i++)
		if (strcmp(conf_keys[i].name, key) == 0)
			return (int)i;
	return -1;
}

const struct conf_key *
conf_key_find(const char *name)
{
	int k = conf_key_index(name);

	if (k >= 0)
		return &conf_keys[k];
	for (size_t i = 0; i < NTOP; i++)
		if (strcmp(top_keys[i].name, name) == 0)
			return &top_keys[i];
	return NULL;
}

/* ---- libconfuse callbacks: every check that needs a line number ---- */

static int
cb_enum(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	const struct conf_key *k = conf_key_find(opt->name);
	int v = k->parse(value);

	if (v < 0) {
		cfg_error(cfg, "invalid value '%s' for '%s' (one of: %s)", value,
			  opt->name, k->names);
		return -1;
	}
	*(long *)result = v;
	return 0;
}

static int
cb_number(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	long v, max = conf_key_find(opt->name)->max;

	if (conf_parse_decimal(value, max, &v) < 0 || v == 0) {
		cfg_error(cfg, "invalid value '%s' for '%s' (a decimal number from 1 to %ld)",
			  value, opt->name, max);
		return -1;
	}
	*(long *)result = v;
	return 0;
}

static int
cb_duration(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	if (conf_parse_duration(value, (long *)result) < 0) {
		cfg_error(cfg, "invalid value '%s' for '%s' (like 5d, 12h, 30m)",
			  value, opt->name);
		return -1;
	}
	return 0;
}

/* Every value of a string key: no control character, then its validator. */
static int
v_string(cfg_t *cfg, cfg_opt_t *opt)
{
	const struct conf_key *k = conf_key_find(opt->name);
	unsigned n = cfg_opt_size(opt);

	for (unsigned i = 0; i < n; i++) {
		const char *s = cfg_opt_getnstr(opt, i);

		if (!s)
			continue;
		for (const char *p = s; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				cfg_error(cfg, "'%s' contains a control character", opt->name);
				return -1;
			}
		if (k && k->check && k->check(cfg, opt->name, s) < 0)
			return -1;
	}
	return 0;
}

/* ---- the schema ---- */

static cfg_opt_t
opt_of(const struct conf_key *k)
{
	switch (k->type) {
	case KT_LIST:
		return (cfg_opt_t)CFG_STR_LIST(k->name, NULL, CFGF_NODEFAULT);
	case KT_NUM:
		return (cfg_opt_t)CFG_INT_CB(k->name, k->def, k->def ? CFGF_NONE : CFGF_NODEFAULT,
					     cb_number);
	case KT_ENUM:
		return (cfg_opt_t)CFG_INT_CB(k->name, k->def, CFGF_NONE, cb_enum);
	case KT_DURATION:
		return (cfg_opt_t)CFG_INT_CB(k->name, k->def, CFGF_NONE, cb_duration);
	case KT_BOOL:
		return (cfg_opt_t)CFG_BOOL(k->name, k->def ? cfg_true : cfg_false, CFGF_NONE);
	case KT_STR:
	default:
		if (k->flags & KF_MULTI)
			return (cfg_opt_t)CFG_STR_LIST(k->name, NULL, CFGF_NODEFAULT);
		/* Unset unless the file sets it: conf.c reads set keys only. */
		return (cfg_opt_t)CFG_STR(k->name, NULL, CFGF_NODEFAULT);
	}
}

static cfg_opt_t defaults_opts[CONF_NKEYS + 1];
static cfg_opt_t account_opts[CONF_NKEYS + 2];
static cfg_opt_t top_opts[NTOP + 3];

cfg_opt_t *
conf_schema(void)
{
	size_t i;

	if (top_opts[0].name)
		return top_opts;
	for (i = 0; i < CONF_NKEYS; i++)
		defaults_opts[i] = account_opts[i + 1] = opt_of(&conf_keys[i]);
	defaults_opts[i] = (cfg_opt_t)CFG_END();
	account_opts[0] = (cfg_opt_t)CFG_STR("inherit", NULL, CFGF_NODEFAULT);
	account_opts[i + 1] = (cfg_opt_t)CFG_END();
	for (i = 0; i < NTOP; i++)
		top_opts[i] = opt_of(&top_keys[i]);
	top_opts[i++] = (cfg_opt_t)CFG_SEC("defaults", defaults_opts, CFGF_NONE);
	/* Untitled for libconfuse: conf-file.c reads the titles. */
	top_opts[i++] = (cfg_opt_t)CFG_SEC("account", account_opts, CFGF_MULTI);
	top_opts[i] = (cfg_opt_t)CFG_END();
	return top_opts;
}

void
conf_set_validators(cfg_t *cfg)
{
	char path[64];

	for (size_t i = 0; i < NTOP; i++)
		if (top_keys[i].type == KT_STR)
			cfg_set_validate_func(cfg, top_keys[i].name, v_string);
	for (size_t i = 0; i < CONF_NKEYS; i++) {
		if (conf_keys[i].type != KT_STR && conf_keys[i].type != KT_LIST)
			continue;
		snprintf(path, sizeof(path), "defaults|%s", conf_keys[i].name);
		cfg_set_validate_func(cfg, path, v_string);
		snprintf(path, sizeof(path), "account|%s", conf_keys[i].name);
		cfg_set_validate_func(cfg, path, v_string);
	}
	cfg_set_validate_func(cfg, "account|inherit", v_string);
}
