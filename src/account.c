/*
 * account.c - an account as a whole: built-in values, copy and free (both
 * driven by the key table of conf-keys.c), --show-config's account part,
 * the overrides given for one message, the checks that need several keys,
 * and the secret.
 *
 * Settings that libconfuse accepts one by one can still not work
 * together: auth without a user or a secret, a key without its
 * certificate.  Each is a configuration error (78) naming the file and
 * line where the key was set, found before anything is spooled, sent or
 * queued.  The TLS files themselves are the transport's to check
 * (tls-files.c).
 * The secret comes from password or from passwordeval's first line.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "conf-internal.h"
#include "log.h"
#include "util.h"

/*
 * "FILE:LINE: account "NAME": " for key k (an index into where[], or -1):
 * where it was set, else where the account is defined.
 */
static void
where_text(const struct account *a, int k, char *buf, size_t n)
{
	const struct conf_where *w = k >= 0 ? &a->where[k] : NULL;

	if (w && w->file == CONF_COMMAND_LINE && a->file)
		snprintf(buf, n, "account \"%s\" with the command-line settings: ", a->name);
	else if (w && w->file == CONF_COMMAND_LINE)
		snprintf(buf, n, "--host: ");
	else if (w && w->file && w->line)
		snprintf(buf, n, "%s:%d: account \"%s\": ", w->file, w->line, a->name);
	else if (w && w->file)
		snprintf(buf, n, "%s: account \"%s\": ", w->file, a->name);
	else if (a->file && a->line)
		snprintf(buf, n, "%s:%d: account \"%s\": ", a->file, a->line, a->name);
	else if (a->file)
		snprintf(buf, n, "%s: account \"%s\": ", a->file, a->name);
	else
		snprintf(buf, n, "--host: ");
}

int
account_key_fail(const struct account *a, const char *key, struct result *r, const char *fmt, ...)
{
	char at[1100], msg[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	where_text(a, conf_key_index(key), at, sizeof(at));
	return res_fail(r, RES_CONFIG, "%s%s", at, msg);
}

/* The OAuth2 keys that only work together (SPEC 13). */
static int
check_oauth2(const struct account *a, struct result *r)
{
	static const char *const evals[] = { "oauth2_client_secret_eval",
					     "oauth2_refresh_token_eval" };

	if ((a->oauth2_token_url || a->oauth2_device_url) && !a->oauth2_client_id)
		return account_key_fail(a, a->oauth2_token_url ? "oauth2_token_url"
					: "oauth2_device_url", r, "OAuth2 needs oauth2_client_id "
					"(the application's id at the provider; see mailout.conf(5), "
					"OAUTH2)");
	if (a->oauth2_device_url && !a->oauth2_token_url)
		return account_key_fail(a, "oauth2_device_url", r, "oauth2_device_url needs "
					"oauth2_token_url (see mailout.conf(5), OAUTH2)");
	if (a->oauth2_client_secret && a->oauth2_client_secret_eval)
		return account_key_fail(a, "oauth2_client_secret_eval", r, "set "
					"oauth2_client_secret or oauth2_client_secret_eval, "
					"not both (see mailout.conf(5), OAUTH2)");
	if (a->oauth2_client_secret && !*a->oauth2_client_secret)
		return account_key_fail(a, "oauth2_client_secret", r, "oauth2_client_secret "
					"is empty (an unset environment variable in ${VAR}?)");
	for (size_t i = 0; i < 2; i++) {
		int k = conf_key_index(evals[i]);
		const char *v = *(char *const *)((const char *)a + conf_keys[k].off);

		if (v && !*v)
			return account_key_fail(a, evals[i], r, "%s is empty (an unset "
						"environment variable in ${VAR}?)", evals[i]);
	}
	return 0;
}

int
account_uses_oauth2(const struct account *a)
{
	return (a->auth == AUTH_XOAUTH2 || a->auth == AUTH_OAUTHBEARER) &&
	       a->oauth2_token_url && !a->password && !a->passwordeval;
}

int
account_check(const struct account *a, int check_auth, struct result *r)
{
	/* An empty name or secret cannot log in; it is most often a ${VAR}
	 * that is not set in this environment (cron's is small). */
	if (check_auth && a->user && !*a->user)
		return account_key_fail(a, "user", r, "user is empty (an unset environment variable "
				"in ${VAR}?): set it, or remove the key to send without "
				"authentication (see mailout.conf(5), DEFAULTS AND ACCOUNTS)");
	if (check_auth && a->password && !*a->password)
		return account_key_fail(a, "password", r, "password is empty (an unset environment "
				"variable in ${VAR}?) (see mailout.conf(5), SECRETS)");
	if (check_auth && a->passwordeval && !*a->passwordeval)
		return account_key_fail(a, "passwordeval", r, "passwordeval is empty (an unset "
				"environment variable in ${VAR}?) (see mailout.conf(5), SECRETS)");
	if (check_auth && account_auth_enabled(a)) {
		const char *mech = conf_auth_name(a->auth);

		if (a->auth == AUTH_EXTERNAL) {
			if (!a->tls_cert_file)
				return account_key_fail(a, "auth", r, "auth = external needs a client "
						"certificate: set tls_cert_file (see mailout.conf(5), "
						"DEFAULTS AND ACCOUNTS)");
			if (a->tls == TLS_OFF)
				return account_key_fail(a, "auth", r, "auth = external needs TLS "
						"(tls = starttls or smtps), since the client "
						"certificate is the identity (see mailout.conf(5), "
						"DEFAULTS AND ACCOUNTS)");
		} else if (!a->user || !*a->user) {
			return account_key_fail(a, "auth", r, "auth = %s but no user is set: add "
					"user = \"NAME\" to the account, or set auth = off "
					"(see mailout.conf(5), DEFAULTS AND ACCOUNTS)", mech);
		} else if (!a->password && !a->passwordeval &&
			   !(a->oauth2_token_url && (a->auth == AUTH_XOAUTH2 ||
						     a->auth == AUTH_OAUTHBEARER))) {
			return account_key_fail(a, a->auth == AUTH_UNSET ? "user" : "auth", r,
					"%s%s, but neither password nor passwordeval is set%s "
					"(see mailout.conf(5), SECRETS)",
					a->auth == AUTH_UNSET ? "user is set, so the account "
					"authenticates" : "auth = ", a->auth == AUTH_UNSET ? "" : mech,
					a->auth == AUTH_UNSET ? " (auth = off to send without "
					"authentication)" : a->auth == AUTH_XOAUTH2 ||
					a->auth == AUTH_OAUTHBEARER ? " (nor oauth2_token_url)" : "");
		}
	}
	if (check_oauth2(a, r) < 0)
		return -1;
	if (a->tls == TLS_OFF)
		return 0;       /* the TLS files are not used */
	if (a->tls_key_file && !a->tls_cert_file)
		return account_key_fail(a, "tls_key_file", r, "tls_key_file is set but tls_cert_file is "
				"not: set both, the client certificate and its key (see "
				"mailout.conf(5), DEFAULTS AND ACCOUNTS)");
	return 0;
}

size_t
account_secret_line(const char *out, size_t len)
{
	const char *nl = memchr(out, '\n', len), *nul;

	if (nl)
		len = (size_t)(nl - out);
	if ((nul = memchr(out, '\0', len)))
		len = (size_t)(nul - out);
	if (len && out[len - 1] == '\r')
		len--;
	return len;
}

char *
account_secret(const struct account *a, struct result *r)
{
	char at[1200];

	if (a->password)
		return xstrdup(a->password);
	if (!a->passwordeval) {
		where_text(a, conf_key_index("user"), at, sizeof(at));
		res_fail(r, RES_CONFIG, "%sauthenticates but sets neither password nor "
			 "passwordeval (see mailout.conf(5), SECRETS)", at);
		return NULL;
	}
	return account_eval(a, "passwordeval", r);
}

char *
account_eval(const struct account *a, const char *key, struct result *r)
{
	struct dynbuf out = { 0 };
	char buf[4096];
	int pipefd[2], status, devnull;
	pid_t pid;
	ssize_t n;
	char *secret, at[1200];
	int k = conf_key_index(key);
	const char *command = k >= 0 ? *(char *const *)((const char *)a + conf_keys[k].off) : NULL;

	where_text(a, k, at, sizeof(at));
	if (!command) {
		res_fail(r, RES_CONFIG, "%s%s is not set", at, key);
		return NULL;
	}
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		res_fail(r, RES_OSERR, "pipe: %s", strerror(errno));
		return NULL;
	}
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		res_fail(r, RES_OSERR, "fork: %s", strerror(errno));
		return NULL;
	}
	if (pid == 0) {
		devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(pipefd[1], 1);
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while ((n = read_retry(pipefd[0], buf, sizeof(buf))) > 0) {
		if (out.len < 65536)
			db_add(&out, buf, (size_t)n);
	}
	wipe(buf, sizeof(buf));
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		db_free(&out);
		res_fail(r, RES_CONFIG, "%s%s command failed (%s %d; see "
			 "%s in mailout.conf(5), DEFAULTS AND ACCOUNTS)", at, key,
			 WIFEXITED(status) ? "exit status" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), key);
		return NULL;
	}
	out.len = account_secret_line(db_str(&out), out.len);
	if (out.len == 0) {
		db_free(&out);
		res_fail(r, RES_CONFIG, "%s%s printed nothing (see %s in "
			 "mailout.conf(5), DEFAULTS AND ACCOUNTS)", at, key, key);
		return NULL;
	}
	secret = xstrndup(out.s, out.len);
	db_free(&out);
	return secret;
}

int
account_apply_overrides(struct account *a, const struct overrides *ov, struct result *r)
{
	long port;

	if (ov->port) {
		if (!*ov->port || strspn(ov->port, "0123456789") != strlen(ov->port) ||
		    sscanf(ov->port, "%ld", &port) != 1 || port < 1 || port > 65535)
			return res_fail(r, RES_USAGE, "--port: not a port number: %s", ov->port);
		a->port = port;
		account_set_by_command_line(a, "port");
	}
	if (ov->tls) {
		int t = conf_parse_tls(ov->tls);

		if (t < 0)
			return res_fail(r, RES_USAGE, "--tls: one of starttls, smtps, off");
		a->tls = (enum tls_mode)t;
		account_set_by_command_line(a, "tls");
	}
	if (ov->user) {
		free(a->user);
		a->user = xstrdup(ov->user);
		account_set_by_command_line(a, "user");
	}
	if (ov->passwordeval) {
		free_secret(a->password);
		a->password = NULL;
		free(a->passwordeval);
		a->passwordeval = xstrdup(ov->passwordeval);
		account_set_by_command_line(a, "password");
		account_set_by_command_line(a, "passwordeval");
	}
	return 0;
}

void
account_set_by_command_line(struct account *a, const char *key)
{
	int k = conf_key_index(key);

	if (k >= 0) {
		a->where[k].file = CONF_COMMAND_LINE;
		a->where[k].line = 0;
	}
}

long
account_port(const struct account *a)
{
	if (a->port)
		return a->port;
	return a->tls == TLS_SMTPS ? 465 : a->tls == TLS_OFF ? 25 : 587;
}

int
account_auth_enabled(const struct account *a)
{
	if (a->auth == AUTH_UNSET)
		return a->user != NULL && *a->user;     /* "": an unset ${VAR} */
	return a->auth != AUTH_OFF;
}

/* ---- by the key table: built-in values, copy, free, show ---- */

void
account_init(struct account *a)
{
	memset(a, 0, sizeof(*a));
	for (size_t i = 0; i < CONF_NKEYS; i++) {
		const struct conf_key *k = &conf_keys[i];
		char *field = (char *)a + k->off;

		if (k->type == KT_NUM)
			*(long *)field = k->def;
		else if (k->type == KT_ENUM || k->type == KT_BOOL)
			*(int *)field = (int)k->def;
	}
}

static char **
str_field(const struct account *a, const struct conf_key *k)
{
	return (char **)((char *)a + k->off);
}

static char ***
list_field(const struct account *a, const struct conf_key *k, size_t **count)
{
	*count = (size_t *)((char *)a + k->count_off);
	return (char ***)((char *)a + k->off);
}

void
account_copy(struct account *dst, const struct account *src)
{
	*dst = *src;
	dst->name = src->name ? xstrdup(src->name) : NULL;
	dst->file = src->file ? xstrdup(src->file) : NULL;
	for (size_t i = 0; i < CONF_NKEYS; i++) {
		const struct conf_key *k = &conf_keys[i];

		if (k->type == KT_STR) {
			char **f = str_field(dst, k);

			*f = *f ? xstrdup(*f) : NULL;
		} else if (k->type == KT_LIST) {
			size_t *n;
			char ***f = list_field(dst, k, &n);
			char **from = *f;

			*f = *n ? xcalloc(*n, sizeof(char *)) : NULL;
			for (size_t j = 0; j < *n; j++)
				(*f)[j] = xstrdup(from[j]);
		}
	}
}

void
account_free(struct account *a)
{
	free(a->name);
	free(a->file);
	for (size_t i = 0; i < CONF_NKEYS; i++) {
		const struct conf_key *k = &conf_keys[i];

		if (k->type == KT_STR && (k->flags & KF_SECRET)) {
			free_secret(*str_field(a, k));
		} else if (k->type == KT_STR) {
			free(*str_field(a, k));
		} else if (k->type == KT_LIST) {
			size_t *n;
			char ***f = list_field(a, k, &n);

			for (size_t j = 0; j < *n; j++)
				free((*f)[j]);
			free(*f);
		}
	}
	memset(a, 0, sizeof(*a));
}

/* The value of key k as --show-config prints it. */
static void
show_value(FILE *out, const struct account *a, const struct conf_key *k)
{
	const char *field = (const char *)a + k->off;

	if (k->show) {
		k->show(out, a, k);
		return;
	}
	switch (k->type) {
	case KT_STR: {
		const char *v = *str_field(a, k);

		if (k->flags & KF_SECRET)
			fprintf(out, "%s", v ? "********" : "(not set)");
		else
			fprintf(out, "%s%s%s", v ? "\"" : "", v ? v : "(not set)", v ? "\"" : "");
		break;
	}
	case KT_LIST: {
		size_t *n;
		char **v = *list_field(a, k, &n);

		fprintf(out, "{");
		for (size_t j = 0; j < *n; j++)
			fprintf(out, "%s\"%s\"", j ? ", " : " ", v[j]);
		fprintf(out, "%s}", *n ? " " : "");
		break;
	}
	case KT_NUM:
	case KT_DURATION:
		fprintf(out, "%ld", *(const long *)field);
		break;
	case KT_ENUM:
		fprintf(out, "%d", *(const int *)field);
		break;
	case KT_BOOL:
		fprintf(out, "%s", *(const int *)field ? "on" : "off");
		break;
	}
}

void
account_show(FILE *out, const struct account *a)
{
	fprintf(out, "account \"%s\"%s%s:\n", a->name, a->file ? " from " : "",
		a->file ? a->file : "");
	for (size_t i = 0; i < CONF_NKEYS; i++) {
		fprintf(out, "  %-16s = ", conf_keys[i].name);
		show_value(out, a, &conf_keys[i]);
		fprintf(out, "\n");
	}
}
