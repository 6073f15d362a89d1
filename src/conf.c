/*
 * conf.c - configuration files (libconfuse).
 *
 * Two files are read, the system file and then the user file; -C or
 * $MAILOUT_CONFIG names one file that replaces both.  Each file is parsed
 * on its own.  An account is built from, in order: the system `defaults`,
 * the user `defaults` (or, with `inherit`, the parent account instead of
 * both), then the keys its own section sets.  An account in the user file
 * replaces a system account of the same name.
 *
 * libconfuse's line numbers are wrong after comments and it keeps none
 * for sections and keys: conf-layout.c blanks comments out before
 * parsing and records the true line of every account and key.
 */
#include "config.h"

#include <arpa/inet.h>
#include <confuse.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "address.h"
#include "conf.h"
#include "conf-internal.h"
#include "log.h"
#include "util.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

#define CONFIG_MAX_BYTES (1024 * 1024)

const char CONF_COMMAND_LINE[] = "the command line";

/* ---- libconfuse callbacks: every check that needs a line number ---- */

static int
cb_enum(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	int v;
	const char *allowed;

	if (strcmp(opt->name, "tls") == 0) {
		v = conf_parse_tls(value);
		allowed = "starttls, smtps, off";
	} else if (strcmp(opt->name, "auth") == 0) {
		v = conf_parse_auth(value);
		allowed = "on, off, plain, login, cram-md5, xoauth2, oauthbearer, external";
	} else {
		v = conf_parse_queue(value);
		allowed = "never, onfail, always";
	}
	if (v < 0) {
		cfg_error(cfg, "invalid value '%s' for '%s' (one of: %s)", value,
			  opt->name, allowed);
		return -1;
	}
	*(long *)result = v;
	return 0;
}

static int
cb_number(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	long v;
	long max = strcmp(opt->name, "port") == 0 ? 65535 : 86400;

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

/* Keys that name a file or directory: absolute, or "~/" for the home. */
static int
is_path_key(const char *name)
{
	return strcmp(name, "tls_trust_file") == 0 || strcmp(name, "tls_cert_file") == 0 ||
	       strcmp(name, "tls_key_file") == 0 || strcmp(name, "queue_dir") == 0 ||
	       strcmp(name, "logfile") == 0 || strcmp(name, "aliases") == 0;
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

/* Set by v_string when a section sets `password`; checked per file. */
static int file_has_password;

static int
v_string(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *name = opt->name;
	unsigned n = cfg_opt_size(opt);
	char err[256];

	for (unsigned i = 0; i < n; i++) {
		const char *s = cfg_opt_getnstr(opt, i);

		if (!s)
			continue;
		for (const char *p = s; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				cfg_error(cfg, "'%s' contains a control character", name);
				return -1;
			}
		if (strcmp(name, "password") == 0) {
			file_has_password = 1;
		} else if (is_path_key(name)) {
			if (strcmp(name, "logfile") == 0 && strcmp(s, "-") == 0) {
				cfg_error(cfg, "logfile = \"-\" (msmtp's standard output) is not "
					  "supported: use syslog = on, or the path of a file");
				return -1;
			}
			/* Empty: no file, for logfile and aliases (documented). */
			if ((*s || strcmp(name, "queue_dir") == 0) && s[0] != '/' &&
			    strncmp(s, "~/", 2) != 0) {
				cfg_error(cfg, "'%s' must be an absolute path (starting with /) or "
					  "start with ~/: a relative path would depend on the "
					  "directory mailout is started from", name);
				return -1;
			}
		} else if (strcmp(name, "host") == 0) {
			if (!*s || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					  "0123456789.-_:[]") != strlen(s)) {
				cfg_error(cfg, "invalid host name '%s'", s);
				return -1;
			}
			if (strpbrk(s, ":[]") && !ipv6_literal(s)) {
				cfg_error(cfg, "'host' = '%s' is neither a host name nor an IPv6 "
					  "address (bare or in brackets): put the port in "
					  "port = N, not after a ':'", s);
				return -1;
			}
		} else if (strcmp(name, "domain") == 0) {
			if (!*s || strpbrk(s, " /?#@%")) {
				cfg_error(cfg, "invalid domain '%s'%s", s, strchr(s, '%') ?
					  " ('%' is not allowed: libcurl would percent-decode "
					  "it into the EHLO name)" : "");
				return -1;
			}
		} else if (strcmp(name, "from") == 0) {
			if (addr_check(s, err, sizeof(err)) < 0) {
				cfg_error(cfg, "'from': %s", err);
				return -1;
			}
		} else if (strcmp(name, "tls_pin") == 0) {
			if (!conf_pin_valid(s)) {
				cfg_error(cfg, "'tls_pin' must look like sha256//BASE64, or several "
					  "joined by ';' with no spaces (as printed by mailout "
					  "--serverinfo)");
				return -1;
			}
		} else if (strcmp(name, "source_ip") == 0) {
			unsigned char buf[16];
			if (inet_pton(AF_INET, s, buf) != 1 && inet_pton(AF_INET6, s, buf) != 1) {
				cfg_error(cfg, "'source_ip' is not an IP address: '%s'", s);
				return -1;
			}
		} else if (strcmp(name, "proxy") == 0) {
			if (conf_check_proxy(s, err, sizeof(err)) < 0) {
				cfg_error(cfg, "%s", err);
				return -1;
			}
		} else if (strcmp(name, "syslog") == 0) {
			if (!log_facility_valid(s)) {
				cfg_error(cfg, "invalid value '%s' for 'syslog' "
					  "(off, on, LOG_MAIL, LOG_USER, LOG_LOCAL0..7)", s);
				return -1;
			}
		}
	}
	return 0;
}

/* ---- schema ---- */

#define ACCOUNT_KEYS \
	CFG_STR("host", NULL, CFGF_NODEFAULT), \
	CFG_INT_CB("port", 0, CFGF_NODEFAULT, cb_number), \
	CFG_INT_CB("tls", TLS_STARTTLS, CFGF_NONE, cb_enum), \
	CFG_STR("tls_trust_file", NULL, CFGF_NODEFAULT), \
	CFG_STR("tls_pin", NULL, CFGF_NODEFAULT), \
	CFG_STR("tls_cert_file", NULL, CFGF_NODEFAULT), \
	CFG_STR("tls_key_file", NULL, CFGF_NODEFAULT), \
	CFG_INT_CB("auth", AUTH_UNSET, CFGF_NONE, cb_enum), \
	CFG_STR("user", NULL, CFGF_NODEFAULT), \
	CFG_STR("password", NULL, CFGF_NODEFAULT), \
	CFG_STR("passwordeval", NULL, CFGF_NODEFAULT), \
	CFG_STR("from", NULL, CFGF_NODEFAULT), \
	CFG_STR("from_name", NULL, CFGF_NODEFAULT), \
	CFG_STR_LIST("senders", NULL, CFGF_NODEFAULT), \
	CFG_BOOL("rewrite_from", cfg_false, CFGF_NONE), \
	CFG_STR("domain", NULL, CFGF_NODEFAULT), \
	CFG_INT_CB("timeout", 60, CFGF_NONE, cb_number), \
	CFG_STR("proxy", NULL, CFGF_NODEFAULT), \
	CFG_STR("source_ip", NULL, CFGF_NODEFAULT), \
	CFG_BOOL("partial_delivery", cfg_false, CFGF_NONE)

static cfg_opt_t defaults_opts[] = { ACCOUNT_KEYS, CFG_END() };
static cfg_opt_t account_opts[] = {
	CFG_STR("inherit", NULL, CFGF_NODEFAULT), ACCOUNT_KEYS, CFG_END()
};
static cfg_opt_t top_opts[] = {
	CFG_STR("default_account", NULL, CFGF_NODEFAULT),
	CFG_STR("aliases", NULL, CFGF_NODEFAULT),
	CFG_STR("logfile", NULL, CFGF_NODEFAULT),
	CFG_STR("syslog", "off", CFGF_NONE),
	CFG_INT_CB("queue", QUEUE_ONFAIL, CFGF_NONE, cb_enum),
	CFG_STR("queue_dir", NULL, CFGF_NODEFAULT),
	CFG_INT_CB("queue_lifetime", 5 * 86400, CFGF_NONE, cb_duration),
	CFG_SEC("defaults", defaults_opts, CFGF_NONE),
	CFG_SEC("account", account_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_END()
};

/* Account keys, their types and where they land in struct account. */
enum ktype { K_STR, K_INT, K_BOOL, K_LIST };
#define AOFF(f) offsetof(struct account, f)
static const struct akey {
	const char *name;
	enum ktype type;
	size_t off;
} akeys[] = {
	{ "host", K_STR, AOFF(host) },
	{ "port", K_INT, AOFF(port) },
	{ "tls", K_INT, AOFF(tls) },
	{ "tls_trust_file", K_STR, AOFF(tls_trust_file) },
	{ "tls_pin", K_STR, AOFF(tls_pin) },
	{ "tls_cert_file", K_STR, AOFF(tls_cert_file) },
	{ "tls_key_file", K_STR, AOFF(tls_key_file) },
	{ "auth", K_INT, AOFF(auth) },
	{ "user", K_STR, AOFF(user) },
	{ "password", K_STR, AOFF(password) },
	{ "passwordeval", K_STR, AOFF(passwordeval) },
	{ "from", K_STR, AOFF(from) },
	{ "from_name", K_STR, AOFF(from_name) },
	{ "senders", K_LIST, AOFF(senders) },
	{ "rewrite_from", K_BOOL, AOFF(rewrite_from) },
	{ "domain", K_STR, AOFF(domain) },
	{ "timeout", K_INT, AOFF(timeout) },
	{ "proxy", K_STR, AOFF(proxy) },
	{ "source_ip", K_STR, AOFF(source_ip) },
	{ "partial_delivery", K_BOOL, AOFF(partial_delivery) },
};
#define NAKEYS (sizeof(akeys) / sizeof(akeys[0]))
_Static_assert(NAKEYS == CONF_NKEYS, "CONF_NKEYS in conf.h must count akeys[]");

int
conf_key_index(const char *key)
{
	for (size_t i = 0; i < NAKEYS; i++)
		if (strcmp(akeys[i].name, key) == 0)
			return (int)i;
	return -1;
}

void
conf_set_by_command_line(struct account *a, const char *key)
{
	int k = conf_key_index(key);

	if (k >= 0) {
		a->where[k].file = CONF_COMMAND_LINE;
		a->where[k].line = 0;
	}
}

static void
set_validators(cfg_t *cfg)
{
	static const char *const top_strs[] = {
		"default_account", "aliases", "logfile", "syslog", "queue_dir"
	};
	char path[64];

	for (size_t i = 0; i < sizeof(top_strs) / sizeof(top_strs[0]); i++)
		cfg_set_validate_func(cfg, top_strs[i], v_string);
	for (size_t i = 0; i < NAKEYS; i++) {
		if (akeys[i].type != K_STR && akeys[i].type != K_LIST)
			continue;
		snprintf(path, sizeof(path), "defaults|%s", akeys[i].name);
		cfg_set_validate_func(cfg, path, v_string);
		snprintf(path, sizeof(path), "account|%s", akeys[i].name);
		cfg_set_validate_func(cfg, path, v_string);
	}
	cfg_set_validate_func(cfg, "account|inherit", v_string);
}

/* ---- parsing one file ---- */

/* Error text from libconfuse's error callback, with our file name; the
 * text being parsed, to tell whether the failing line sets a secret. */
static char parse_error[512];
static int parse_error_line;
static const char *parse_name;
static const char *parse_text_now;

static void
on_cfg_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	char msg[400];
	int line = cfg ? cfg->line : 0;
	const char *secret = parse_text_now ? conf_secret_on_line(parse_text_now, line) : NULL;

	/* libconfuse quotes the token it choked on, which on such a line
	 * is likely part of the secret (an unquoted password with a space:
	 * "no such option 'rest-of-it'"). */
	if (secret) {
		/* The advice follows the cause, read from the hidden message
		 * and from the line's tokens, never from the value. */
		char hidden[400];
		const char *hint = "put it in double quotes";

		vsnprintf(hidden, sizeof(hidden), fmt, ap);
		if (strstr(hidden, "control character"))
			hint = "it contains a control character (a tab or a line break "
			       "inside the quotes?)";
		else if (conf_stray_semicolon(parse_text_now, line))
			hint = "a ';' follows it on the line: remove the ';' (nothing "
			       "separates settings in mailout.conf)";
		else if (conf_quoted_value_on_line(parse_text_now, line))
			hint = "the value is quoted, so something else on the line does not "
			       "parse: look at what follows the closing quote";
		wipe(hidden, sizeof(hidden));
		snprintf(msg, sizeof(msg), "cannot read the value of '%s' (not shown): %s",
			 secret, hint);
	} else {
		vsnprintf(msg, sizeof(msg), fmt, ap);
	}
	snprintf(parse_error, sizeof(parse_error), "%s:%d: %s", parse_name, line, msg);
	parse_error_line = line;
}

struct parsed {
	char *name;
	cfg_t *cfg;
	struct layout layout;
};

/* Parse text (modified: comments blanked) into p->cfg and p->layout.
 * Returns 0, or -1 with RES_CONFIG. */
static int
parse_text(struct parsed *p, const char *name, char *text, struct result *r)
{
	cfg_t *cfg;
	struct result lex;
	int rc, open, lexline;

	/* A UTF-8 byte order mark (Windows editors write one) is not text:
	 * blanked, it would be part of the first key's name. */
	if (!strncmp(text, "\xef\xbb\xbf", 3))
		memset(text, ' ', 3);
	conf_blank_comments(text);
	/* libconfuse notices a missing closing quote only at the end of the
	 * file, and says so there, or not at all: a quote where a key is
	 * expected, never closed, takes the rest of the file as one token. */
	open = conf_unclosed_quote(text);
	res_clear(&lex);
	lexline = conf_check_lexical(name, text, &lex);
	if (open && lexline >= open)
		lexline = 0;    /* inside the unclosed string */

	cfg = cfg_init(top_opts, CFGF_NONE);
	cfg_set_error_function(cfg, on_cfg_error);
	set_validators(cfg);
	parse_error[0] = '\0';
	parse_name = name;
	parse_text_now = text;
	file_has_password = 0;
	rc = cfg_parse_buf(cfg, text);
	parse_text_now = NULL;
	/* The first problem in the file is reported; libconfuse may report
	 * one of ours later than its line (a string that spans lines). */
	if (rc != CFG_SUCCESS && parse_error[0] &&
	    (!open || parse_error_line < open) && (!lexline || parse_error_line < lexline)) {
		res_fail(r, RES_CONFIG, "%s (see mailout.conf(5))", parse_error);
		goto fail;
	}
	if (open && (!lexline || open <= lexline)) {
		res_fail(r, RES_CONFIG, "%s:%d: a quoted value starts here and is never "
			 "closed: its closing quote is missing (see mailout.conf(5), Syntax)",
			 name, open);
		goto fail;
	}
	if (lexline) {
		*r = lex;
		goto fail;
	}
	if (rc != CFG_SUCCESS) {
		res_fail(r, RES_CONFIG, "%s (see mailout.conf(5))",
			 parse_error[0] ? parse_error : name);
		goto fail;
	}
	if (conf_scan_layout(name, text, &p->layout, r) < 0) {
		conf_layout_free(&p->layout);
		goto fail;
	}
	p->cfg = cfg;
	return 0;
fail:
	cfg_free(cfg);
	return -1;
}

/*
 * 1 when gid is the owner's own group (a user private group, as Debian
 * and Ubuntu give each user: the owner's primary group, of the owner's
 * name, with no other member).  With umask 002, which such systems use,
 * files come out group-writable, and that group write is no one else's.
 */
static int
private_group(uid_t uid, gid_t gid)
{
	struct passwd *pw = getpwuid(uid);
	struct group *gr;

	if (!pw || pw->pw_gid != gid || !(gr = getgrgid(gid)) || strcmp(gr->gr_name, pw->pw_name))
		return 0;
	for (char **m = gr->gr_mem; *m; m++)
		if (strcmp(*m, pw->pw_name) != 0)
			return 0;
	return 1;
}

/*
 * Read and parse one file into *out (name not set).  Returns 1, or 0 with
 * *r cleared when the file does not exist and may be absent (optional: 1),
 * or also when it cannot be read by this user (optional: 2, the system
 * file, which may hold root's secrets), or -1 with RES_CONFIG.
 */
static int
parse_file(const char *path, int optional, struct parsed *out, struct result *r)
{
	struct stat st;
	char *text = NULL;
	ssize_t n;
	int fd, rc = -1;

	/* O_NONBLOCK: a FIFO would block open() until a writer comes; it is
	 * refused below, as any file that is not a regular one. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if ((optional && errno == ENOENT) || (optional == 2 && errno == EACCES)) {
			if (errno == EACCES)
				log_info("skipping %s: not readable by this user", path);
			res_clear(r);
			return 0;
		}
		res_fail(r, RES_CONFIG, "cannot open configuration file %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		res_fail(r, RES_CONFIG, "%s: not a regular file", path);
		goto done;
	}
	/* Whoever can change the file chooses passwordeval's command, which
	 * runs as the caller (root, for cron mail). */
	if ((st.st_mode & 002) || (st.st_uid != geteuid() && st.st_uid != 0) ||
	    ((st.st_mode & 020) && !private_group(st.st_uid, st.st_gid))) {
		const char *why = (st.st_mode & 002) ? ((st.st_mode & 020) ?
				  "writable by group and others" : "writable by others")
				  : st.st_uid != geteuid() && st.st_uid != 0 ? "owned by another user"
				  : "writable by a group that others may belong to";

		res_fail(r, RES_CONFIG, "%s is %s, so others could change it and make "
			 "mailout run commands (passwordeval) as you: it must be owned by "
			 "you or root and writable by no one else (chmod go-w %s; see "
			 "mailout.conf(5), SECRETS)", path, why, path);
		goto done;
	}
	if (st.st_size > CONFIG_MAX_BYTES) {
		res_fail(r, RES_CONFIG, "%s: larger than 1 MiB", path);
		goto done;
	}
	text = xmalloc((size_t)st.st_size + 1);
	n = read(fd, text, (size_t)st.st_size);
	if (n < 0) {
		res_fail(r, RES_CONFIG, "cannot read %s: %s", path, strerror(errno));
		goto done;
	}
	text[n] = '\0';
	if (memchr(text, '\0', (size_t)n)) {
		res_fail(r, RES_CONFIG, "%s: contains a NUL byte", path);
		goto done;
	}
	if (parse_text(out, path, text, r) < 0)
		goto done;
	if (file_has_password && (st.st_uid != geteuid() || (st.st_mode & 077) != 0)) {
		if (optional == 2 && st.st_uid != geteuid())
			/* The system file, read by someone who cannot change it. */
			res_fail(r, RES_CONFIG,
				 "%s holds a password, so it must be private to its owner "
				 "(mode 600), and you could read it: its owner must make it "
				 "private, or move the password to passwordeval (see "
				 "mailout.conf(5), SECRETS)", path);
		else
			res_fail(r, RES_CONFIG,
				 "%s holds a password, so it must be owned by you and not "
				 "accessible by group or others (chmod 600 %s), or use "
				 "passwordeval (see mailout.conf(5), SECRETS)", path, path);
		cfg_free(out->cfg);
		out->cfg = NULL;
		conf_layout_free(&out->layout);
		goto done;
	}
	rc = 1;
done:
	if (text) {
		wipe(text, (size_t)st.st_size);
		free(text);
	}
	close(fd);
	return rc;
}

/* ---- building accounts ---- */

static void
set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? xstrdup(src) : NULL;
}

/* Copy every key that sec sets onto a, and where each was set: file (a
 * string of the config), and the line from layout l of section number id. */
static void
overlay(struct account *a, cfg_t *sec, const char *file, const struct layout *l, int id)
{
	for (size_t i = 0; i < NAKEYS; i++) {
		const struct akey *k = &akeys[i];
		cfg_opt_t *opt = cfg_getopt(sec, k->name);
		char *field = (char *)a + k->off;

		if (!opt || !(opt->flags & CFGF_MODIFIED))
			continue;
		a->where[i].file = file;
		a->where[i].line = conf_layout_line(l, id, k->name);
		switch (k->type) {
		case K_STR: {
			const char *v = cfg_opt_getnstr(opt, 0);
			char *x = v && is_path_key(k->name) ? path_expand(v) : NULL;
			if (strcmp(k->name, "password") == 0)
				free_secret(*(char **)field), *(char **)field = NULL;
			set_str((char **)field, x ? x : v);
			free(x);
			break;
		}
		case K_INT:
			if (k->off == AOFF(port) || k->off == AOFF(timeout))
				*(long *)field = cfg_opt_getnint(opt, 0);
			else if (k->off == AOFF(tls))
				a->tls = (enum tls_mode)cfg_opt_getnint(opt, 0);
			else
				a->auth = (enum auth_mode)cfg_opt_getnint(opt, 0);
			break;
		case K_BOOL:
			*(int *)field = cfg_opt_getnbool(opt, 0) ? 1 : 0;
			break;
		case K_LIST:
			for (size_t j = 0; j < a->nsenders; j++)
				free(a->senders[j]);
			free(a->senders);
			a->nsenders = cfg_opt_size(opt);
			a->senders = xcalloc(a->nsenders, sizeof(char *));
			for (size_t j = 0; j < a->nsenders; j++)
				a->senders[j] = xstrdup(cfg_opt_getnstr(opt, (unsigned)j));
			break;
		}
	}
}

static void
account_init(struct account *a)
{
	memset(a, 0, sizeof(*a));
	a->tls = TLS_STARTTLS;
	a->auth = AUTH_UNSET;
	a->timeout = 60;
}

void
conf_account_free(struct account *a)
{
	free(a->name);
	free(a->file);
	free(a->host);
	free(a->tls_trust_file);
	free(a->tls_pin);
	free(a->tls_cert_file);
	free(a->tls_key_file);
	free(a->user);
	free_secret(a->password);
	free(a->passwordeval);
	free(a->from);
	free(a->from_name);
	for (size_t i = 0; i < a->nsenders; i++)
		free(a->senders[i]);
	free(a->senders);
	free(a->domain);
	free(a->proxy);
	free(a->source_ip);
	memset(a, 0, sizeof(*a));
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void
conf_account_copy(struct account *dst, const struct account *src)
{
	*dst = *src;
	dst->name = dup_or_null(src->name);
	dst->file = dup_or_null(src->file);
	dst->host = dup_or_null(src->host);
	dst->tls_trust_file = dup_or_null(src->tls_trust_file);
	dst->tls_pin = dup_or_null(src->tls_pin);
	dst->tls_cert_file = dup_or_null(src->tls_cert_file);
	dst->tls_key_file = dup_or_null(src->tls_key_file);
	dst->user = dup_or_null(src->user);
	dst->password = dup_or_null(src->password);
	dst->passwordeval = dup_or_null(src->passwordeval);
	dst->from = dup_or_null(src->from);
	dst->from_name = dup_or_null(src->from_name);
	dst->senders = src->nsenders ? xcalloc(src->nsenders, sizeof(char *)) : NULL;
	for (size_t i = 0; i < src->nsenders; i++)
		dst->senders[i] = xstrdup(src->senders[i]);
	dst->domain = dup_or_null(src->domain);
	dst->proxy = dup_or_null(src->proxy);
	dst->source_ip = dup_or_null(src->source_ip);
}

/* One account section and where it came from. */
struct asec {
	const char *name;
	const char *file;          /* a string of the config (c->files[]) */
	const struct layout *layout;
	int id;                    /* its number among the file's account sections */
	int line;                  /* of its header */
	cfg_t *sec;
	int state;       /* 0 unresolved, 1 on the inherit path being resolved, 2 done */
	int index;       /* in c->accounts: its place in b->secs (file order) */
	struct asec *below;        /* the account that inherits from it, on that path */
};

struct build {
	struct config *c;
	struct parsed *files;
	size_t nfiles;
	struct asec *secs;
	size_t nsecs;
	int *slots;                /* name index: open addressing, -1 empty */
	size_t nslots;             /* a power of two, over twice the sections */
};

static size_t
name_hash(const char *s)
{
	size_t h = 2166136261u;         /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The slot of name in the index: where it is, or the empty slot where it
 * goes. */
static int *
name_slot(struct build *b, const char *name)
{
	size_t i = name_hash(name) & (b->nslots - 1);

	for (;; i = (i + 1) & (b->nslots - 1)) {
		conf_lookup_steps++;
		if (b->slots[i] < 0 || strcmp(b->secs[b->slots[i]].name, name) == 0)
			return &b->slots[i];
	}
}

static struct asec *
find_sec(struct build *b, const char *name)
{
	int *slot = name_slot(b, name);

	return *slot < 0 ? NULL : &b->secs[*slot];
}

static void
apply_defaults(struct build *b, struct account *a)
{
	for (size_t i = 0; i < b->nfiles; i++) {
		cfg_t *d = cfg_getsec(b->files[i].cfg, "defaults");
		if (d)
			overlay(a, d, b->c->files[i], &b->files[i].layout, SEC_DEFAULTS);
	}
}

/* Build the account of section s on top of its parent p (resolved), or
 * of the defaults when p is NULL. */
static void
build_account(struct build *b, struct asec *s, const struct asec *p)
{
	struct account a;

	conf_account_copy(&a, p ? &b->c->accounts[p->index] : &b->c->defaults);
	free(a.name);
	free(a.file);
	overlay(&a, s->sec, s->file, s->layout, s->id);
	a.name = xstrdup(s->name);
	a.file = xstrdup(s->file);
	a.line = s->line;
	/* Each account keeps the place of its section, whatever order
	 * inherit resolves them in: senders are tried in file order. */
	b->c->accounts[s->index] = a;
	s->state = 2;
}

/*
 * Resolve s and the accounts it inherits from, parents first.  No
 * recursion: an inherit chain may be as long as the file size allows.
 * The path is walked up to an account that is resolved or inherits from
 * none, then built back down along the below links.
 */
static int
resolve(struct build *b, struct asec *s, struct result *r)
{
	struct asec *cur = s, *p = NULL;

	if (s->state == 2)
		return 0;
	for (;;) {
		const char *parent = cfg_getstr(cur->sec, "inherit");
		int line;

		cur->state = 1;
		if (!parent)
			break;
		p = find_sec(b, parent);
		if (p && p->state == 2)
			break;
		line = conf_layout_line(cur->layout, cur->id, "inherit");
		if (!p)
			return res_fail(r, RES_CONFIG,
					"%s:%d: account \"%s\" inherits from unknown account \"%s\" "
					"(see mailout.conf(5), DEFAULTS AND ACCOUNTS)",
					cur->file, line, cur->name, parent);
		if (p->state == 1)
			return res_fail(r, RES_CONFIG, "%s:%d: account \"%s\": inherit = \"%s\" "
					"forms a cycle (accounts that inherit from each other; "
					"see mailout.conf(5), DEFAULTS AND ACCOUNTS)",
					cur->file, line, cur->name, parent);
		p->below = cur;
		cur = p;
	}
	for (;;) {
		build_account(b, cur, p);
		if (cur == s)
			return 0;
		p = cur;
		cur = cur->below;
	}
}

/* A global key's value from the last file that sets it; *where (when not
 * NULL) gets that file's index. */
static const char *
top_str(struct build *b, const char *key, size_t *where)
{
	const char *v = NULL;

	for (size_t i = 0; i < b->nfiles; i++) {
		cfg_opt_t *opt = cfg_getopt(b->files[i].cfg, key);
		if (opt->flags & CFGF_MODIFIED) {
			v = cfg_opt_getnstr(opt, 0);
			if (where)
				*where = i;
		}
	}
	return v;
}

static long
top_int(struct build *b, const char *key, long def)
{
	long v = def;

	for (size_t i = 0; i < b->nfiles; i++) {
		cfg_opt_t *opt = cfg_getopt(b->files[i].cfg, key);
		if (opt->flags & CFGF_MODIFIED)
			v = cfg_opt_getnint(opt, 0);
	}
	return v;
}

static char *
default_queue_dir(void)
{
	const char *state = getenv("XDG_STATE_HOME");

	if (geteuid() == 0)
		return xstrdup("/var/spool/mailout");
	if (state && state[0] == '/')
		return xasprintf("%s/mailout/queue", state);
	return path_expand("~/.local/state/mailout/queue");
}

static int
build_config(struct config *c, struct parsed *files, size_t nfiles, struct result *r)
{
	struct build b = { c, files, nfiles, NULL, 0, NULL, 0 };
	size_t total = 0, dfile = 0;
	const char *v;
	int rc = -1;

	res_clear(r);

	for (size_t i = 0; i < nfiles; i++)
		total += cfg_size(files[i].cfg, "account");
	b.secs = xcalloc(total ? total : 1, sizeof(*b.secs));
	for (b.nslots = 16; b.nslots < 2 * total; b.nslots *= 2)
		;
	b.slots = xmalloc(b.nslots * sizeof(*b.slots));
	memset(b.slots, 0xff, b.nslots * sizeof(*b.slots));
	/* Later files replace accounts of the same name. */
	for (size_t i = 0; i < nfiles; i++) {
		for (unsigned j = 0; j < cfg_size(files[i].cfg, "account"); j++) {
			cfg_t *sec = cfg_getnsec(files[i].cfg, "account", j);
			int *slot = name_slot(&b, cfg_title(sec));
			struct asec *s = *slot < 0 ? NULL : &b.secs[*slot];
			const struct layout *l = &files[i].layout;
			if (!*cfg_title(sec)) {
				res_fail(r, RES_CONFIG, "%s:%d: an account needs a name: "
					 "account \"\" is not allowed (see mailout.conf(5), "
					 "DEFAULTS AND ACCOUNTS)", c->files[i],
					 l->nacct == cfg_size(files[i].cfg, "account")
					 ? l->acct_line[j] : 0);
				goto fail;
			}
			if (!s) {
				s = &b.secs[b.nsecs];
				s->index = (int)b.nsecs;
				*slot = (int)b.nsecs++;
			}
			s->name = cfg_title(sec);
			s->file = c->files[i];
			s->sec = sec;
			/* The scanner sees the sections in the order libconfuse does. */
			s->layout = l->nacct == cfg_size(files[i].cfg, "account") ? l : NULL;
			s->id = (int)j;
			s->line = s->layout ? l->acct_line[j] : 0;
		}
	}
	account_init(&c->defaults);
	apply_defaults(&b, &c->defaults);
	c->defaults.name = xstrdup("(command line)");
	c->accounts = xcalloc(b.nsecs ? b.nsecs : 1, sizeof(struct account));
	c->naccounts = b.nsecs;        /* slots not filled yet are all zero */
	for (size_t i = 0; i < b.nsecs; i++)
		if (resolve(&b, &b.secs[i], r) < 0)
			goto fail;

	c->default_account = dup_or_null(top_str(&b, "default_account", &dfile));
	v = top_str(&b, "aliases", NULL);
	c->aliases = v ? path_expand(v) : NULL;
	v = top_str(&b, "logfile", NULL);
	c->logfile = v && *v ? path_expand(v) : NULL;
	v = top_str(&b, "syslog", NULL);
	c->syslog = v && strcasecmp(v, "off") != 0 ? xstrdup(v) : NULL;
	c->queue = (enum queue_mode)top_int(&b, "queue", QUEUE_ONFAIL);
	v = top_str(&b, "queue_dir", NULL);
	c->queue_dir = v ? path_expand(v) : default_queue_dir();
	c->queue_lifetime = top_int(&b, "queue_lifetime", 5 * 86400);

	if (c->default_account && !conf_find(c, c->default_account)) {
		res_fail(r, RES_CONFIG, "%s:%d: default_account \"%s\" is not defined "
			 "(see mailout.conf(5), ACCOUNT SELECTION)", c->files[dfile],
			 conf_layout_line(&files[dfile].layout, SEC_TOP, "default_account"),
			 c->default_account);
		goto fail;
	}
	rc = 0;
fail:
	free(b.secs);
	free(b.slots);
	return rc;
}

static int
load_parsed(struct config *c, struct parsed *p, size_t n, struct result *r)
{
	int rc;

	c->nfiles = n;
	for (size_t i = 0; i < n; i++)
		c->files[i] = xstrdup(p[i].name);
	if (n == 0) {
		c->embedded = 1;
		c->queue = QUEUE_ONFAIL;
		c->queue_dir = default_queue_dir();
		c->queue_lifetime = 5 * 86400;
		account_init(&c->defaults);
		c->defaults.name = xstrdup("(command line)");
		return 0;
	}
	rc = build_config(c, p, n, r);
	return rc;
}

static char *
user_config_path(void)
{
	const char *x = getenv("XDG_CONFIG_HOME");

	if (x && x[0] == '/')
		return xasprintf("%s/mailout/config", x);
	return path_expand("~/.config/mailout/config");
}

int
conf_load(struct config *c, const char *explicit_file, struct result *r)
{
	struct parsed p[2];
	size_t n = 0;
	const char *env = getenv("MAILOUT_CONFIG");
	char *paths[2] = { NULL, NULL };
	int rc = -1;

	memset(c, 0, sizeof(*c));
	if (!explicit_file && env && *env)
		explicit_file = env;
	memset(p, 0, sizeof(p));
	if (explicit_file) {
		paths[0] = path_expand(explicit_file);
		if (parse_file(paths[0], 0, &p[0], r) <= 0)
			goto done;
		p[0].name = paths[0];
		n = 1;
	} else {
		paths[0] = xstrdup(SYSCONFDIR "/mailout.conf");
		paths[1] = user_config_path();
		for (int i = 0; i < 2; i++) {
			int got = parse_file(paths[i], i == 0 ? 2 : 1, &p[n], r);
			if (got < 0)
				goto done;
			if (got == 0)
				continue;
			p[n].name = paths[i];
			n++;
		}
	}
	rc = load_parsed(c, p, n, r);
done:
	for (size_t i = 0; i < n; i++) {
		cfg_free(p[i].cfg);
		conf_layout_free(&p[i].layout);
	}
	free(paths[0]);
	free(paths[1]);
	return rc;
}

int
conf_load_buf(struct config *c, const char *name, const char *text, struct result *r)
{
	struct parsed p;
	char *copy = xstrdup(text);
	int rc;

	memset(c, 0, sizeof(*c));
	memset(&p, 0, sizeof(p));
	p.name = (char *)name;
	rc = parse_text(&p, name, copy, r);
	free(copy);
	if (rc < 0)
		return -1;
	rc = load_parsed(c, &p, 1, r);
	cfg_free(p.cfg);
	conf_layout_free(&p.layout);
	return rc;
}

void
conf_free(struct config *c)
{
	for (size_t i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	free(c->default_account);
	free(c->aliases);
	free(c->logfile);
	free(c->syslog);
	free(c->queue_dir);
	for (size_t i = 0; i < c->naccounts; i++)
		conf_account_free(&c->accounts[i]);
	free(c->accounts);
	conf_account_free(&c->defaults);
	memset(c, 0, sizeof(*c));
}

const struct account *
conf_find(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->naccounts; i++)
		if (strcmp(c->accounts[i].name, name) == 0)
			return &c->accounts[i];
	return NULL;
}

const struct account *
conf_choose(const struct config *c, const char *name, const char *sender,
	   struct result *r)
{
	const struct account *a;

	res_clear(r);
	if (name) {
		if (!(a = conf_find(c, name))) {
			struct dynbuf names = { 0 };

			for (size_t i = 0; i < c->naccounts && i < 20; i++) {
				db_adds(&names, i ? ", " : "");
				db_adds(&names, c->accounts[i].name);
			}
			if (c->nfiles == 0)
				res_fail(r, RES_CONFIG, "no account named \"%s\": no configuration "
					 "file was found (see mailout.conf(5), ACCOUNT SELECTION)", name);
			else
				res_fail(r, RES_CONFIG, "no account named \"%s\" in %s%s%s%s%s (see "
					 "mailout.conf(5), ACCOUNT SELECTION)", name, c->files[0],
					 c->nfiles > 1 ? " or " : "", c->nfiles > 1 ? c->files[1] : "",
					 names.len ? "; accounts: " : "; it defines no account",
					 db_str(&names));
			db_free(&names);
		}
		return a;
	}
	if (sender && *sender) {
		for (size_t i = 0; i < c->naccounts; i++)
			for (size_t j = 0; j < c->accounts[i].nsenders; j++)
				if (fnmatch(c->accounts[i].senders[j], sender, FNM_CASEFOLD) == 0)
					return &c->accounts[i];
	}
	if (c->default_account)
		return conf_find(c, c->default_account);
	if (c->naccounts == 1)
		return &c->accounts[0];
	if (c->naccounts > 1)
		res_fail(r, RES_CONFIG,
			 "%zu accounts and no choice: set default_account, or use --account NAME "
			 "(see mailout.conf(5), ACCOUNT SELECTION)", c->naccounts);
	return NULL;
}

void
conf_account_from_defaults(const struct config *c, struct account *a)
{
	conf_account_copy(a, &c->defaults);
}

long
conf_port(const struct account *a)
{
	if (a->port)
		return a->port;
	return a->tls == TLS_SMTPS ? 465 : a->tls == TLS_OFF ? 25 : 587;
}

int
conf_auth_enabled(const struct account *a)
{
	if (a->auth == AUTH_UNSET)
		return a->user != NULL && *a->user;     /* "": an unset ${VAR} */
	return a->auth != AUTH_OFF;
}

static void
show_str(FILE *out, const char *key, const char *v)
{
	fprintf(out, "  %-16s = %s%s%s\n", key, v ? "\"" : "", v ? v : "(not set)", v ? "\"" : "");
}

void
conf_show(FILE *out, const struct config *c, const struct account *a)
{
	char proxy[512];

	fprintf(out, "configuration files: ");
	if (c->nfiles == 0)
		fprintf(out, "none (embedded default: local delivery)\n");
	for (size_t i = 0; i < c->nfiles; i++)
		fprintf(out, "%s%s", c->files[i], i + 1 < c->nfiles ? ", " : "\n");
	show_str(out, "default_account", c->default_account);
	show_str(out, "aliases", c->aliases);
	show_str(out, "logfile", c->logfile);
	fprintf(out, "  %-16s = %s\n", "syslog", c->syslog ? c->syslog : "off");
	fprintf(out, "  %-16s = %s\n", "queue", conf_queue_name(c->queue));
	show_str(out, "queue_dir", c->queue_dir);
	fprintf(out, "  %-16s = %lds\n", "queue_lifetime", c->queue_lifetime);
	if (!a) {
		fprintf(out, "account: none (local delivery only)\n");
		return;
	}
	fprintf(out, "account \"%s\"%s%s:\n", a->name, a->file ? " from " : "",
		a->file ? a->file : "");
	show_str(out, "host", a->host);
	fprintf(out, "  %-16s = %ld\n", "port", conf_port(a));
	fprintf(out, "  %-16s = %s\n", "tls", conf_tls_name(a->tls));
	show_str(out, "tls_trust_file", a->tls_trust_file ? a->tls_trust_file
			: "(system trust store)");
	show_str(out, "tls_pin", a->tls_pin);
	show_str(out, "tls_cert_file", a->tls_cert_file);
	show_str(out, "tls_key_file", a->tls_key_file);
	fprintf(out, "  %-16s = %s\n", "auth", a->auth == AUTH_UNSET
		? (conf_auth_enabled(a) ? "on (user is set)"
		   : a->user ? "off (user is empty)" : "off (no user)")
		: conf_auth_name(a->auth));
	show_str(out, "user", a->user);
	fprintf(out, "  %-16s = %s\n", "password", a->password ? "********" : "(not set)");
	show_str(out, "passwordeval", a->passwordeval);
	show_str(out, "from", a->from);
	show_str(out, "from_name", a->from_name);
	fprintf(out, "  %-16s = {", "senders");
	for (size_t i = 0; i < a->nsenders; i++)
		fprintf(out, "%s\"%s\"", i ? ", " : " ", a->senders[i]);
	fprintf(out, "%s}\n", a->nsenders ? " " : "");
	fprintf(out, "  %-16s = %s\n", "rewrite_from", a->rewrite_from ? "on" : "off");
	show_str(out, "domain", a->domain);
	fprintf(out, "  %-16s = %ld\n", "timeout", a->timeout);
	if (a->proxy && conf_proxy_display(a->proxy, proxy, sizeof(proxy)))
		fprintf(out, "  %-16s = \"%s\" (its user name and password not shown)\n",
			"proxy", proxy);
	else
		show_str(out, "proxy", a->proxy);
	show_str(out, "source_ip", a->source_ip);
	fprintf(out, "  %-16s = %s\n", "partial_delivery", a->partial_delivery ? "on" : "off");
	fprintf(out, "(see mailout.conf(5) for every key)\n");
}
