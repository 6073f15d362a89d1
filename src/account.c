/*
 * account.c - an account as a whole: built-in values, copy and free (both
 * driven by the key table of conf-keys.c), --show-config's account part,
 * the overrides given for one message, the checks that need several keys,
 * and the secret.
 *
 * Settings that libconfuse accepts one by one can still not work
 * together: auth without a user or a secret, a key without its
 * certificate, TLS files that are missing, empty, not PEM, encrypted, or a
 * key that does not match its certificate.  Each is a configuration error
 * (78) naming the file and line where the key was set, found before
 * anything is spooled, sent or queued, rather than a handshake failure
 * that would look temporary and keep a message in the queue for days.
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
#include "lazylib.h"
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

static int
key_fail(const struct account *a, const char *key, struct result *r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
key_fail(const struct account *a, const char *key, struct result *r, const char *fmt, ...)
{
	char at[1100], msg[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	where_text(a, conf_key_index(key), at, sizeof(at));
	return res_fail(r, RES_CONFIG, "%s%s", at, msg);
}

#define TLS_FILE_MAX (64 * 1024 * 1024)

/* Read a TLS file (regular, readable, not empty, not huge) into *d
 * (free_tls_file() it).  Returns 0, or -1 with the reason in err. */
static int
load_tls_file(const char *path, gnutls_datum_t *d, char *err, size_t n)
{
	struct stat st;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	d->data = NULL;
	d->size = 0;
	if (fd < 0) {
		snprintf(err, n, "%s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, n, "not a regular file");
		close(fd);
		return -1;
	}
	if (st.st_size == 0 || st.st_size > TLS_FILE_MAX) {
		snprintf(err, n, st.st_size ? "larger than 64 MiB" : "empty");
		close(fd);
		return -1;
	}
	d->data = xmalloc((size_t)st.st_size + 1);
	got = read_retry(fd, d->data, (size_t)st.st_size);
	close(fd);
	if (got <= 0) {
		snprintf(err, n, "%s", got < 0 ? strerror(errno) : "empty");
		free(d->data);
		d->data = NULL;
		return -1;
	}
	d->data[got] = '\0';
	d->size = (unsigned)got;
	return 0;
}

static void
free_tls_file(gnutls_datum_t *d)
{
	if (d->data) {
		wipe(d->data, d->size);
		free(d->data);
	}
	d->data = NULL;
}

/* The first PEM certificate of d, imported into *crt. */
static int
first_cert(const gnutls_datum_t *d, gnutls_x509_crt_t *crt, char *err, size_t n)
{
	int rc;

	*crt = NULL;
	if (!memmem(d->data, d->size, "-----BEGIN ", 11) ||
	    !memmem(d->data, d->size, "CERTIFICATE-----", 16)) {
		snprintf(err, n, "no PEM certificate in it (-----BEGIN CERTIFICATE-----)");
		return -1;
	}
	if ((rc = sym_gnutls_x509_crt_init(crt)) < 0) {
		*crt = NULL;
		snprintf(err, n, "GnuTLS: %s", sym_gnutls_strerror(rc));
		return -1;
	}
	if ((rc = sym_gnutls_x509_crt_import(*crt, d, GNUTLS_X509_FMT_PEM)) < 0) {
		snprintf(err, n, "its certificate cannot be read: %s", sym_gnutls_strerror(rc));
		sym_gnutls_x509_crt_deinit(*crt);
		*crt = NULL;
		return -1;
	}
	return 0;
}

/* The client certificate and key: readable, PEM, key unencrypted and
 * matching the certificate.  Returns 0 or -1 with RES_CONFIG. */
static int
check_client_cert(const struct account *a, struct result *r)
{
	const char *keyfile = a->tls_key_file ? a->tls_key_file : a->tls_cert_file;
	const char *keykey = a->tls_key_file ? "tls_key_file" : "tls_cert_file";
	gnutls_datum_t cd = { 0 }, kd = { 0 };
	gnutls_x509_crt_t crt = NULL;
	gnutls_x509_privkey_t key = NULL;
	unsigned char id1[64], id2[64];
	size_t n1 = sizeof(id1), n2 = sizeof(id2);
	char err[300];
	int rc = -1, e;

	if (load_tls_file(a->tls_cert_file, &cd, err, sizeof(err)) < 0 ||
	    first_cert(&cd, &crt, err, sizeof(err)) < 0) {
		key_fail(a, "tls_cert_file", r, "tls_cert_file %s: %s (see mailout.conf(5), "
			 "DEFAULTS AND ACCOUNTS)", a->tls_cert_file, err);
		goto out;
	}
	if (a->tls_key_file && load_tls_file(keyfile, &kd, err, sizeof(err)) < 0) {
		key_fail(a, "tls_key_file", r, "tls_key_file %s: %s (see mailout.conf(5), "
			 "DEFAULTS AND ACCOUNTS)", keyfile, err);
		goto out;
	}
	if ((e = sym_gnutls_x509_privkey_init(&key)) < 0) {
		key = NULL;
		res_fail(r, RES_OSERR, "GnuTLS: %s", sym_gnutls_strerror(e));
		goto out;
	}
	e = sym_gnutls_x509_privkey_import2(key, a->tls_key_file ? &kd : &cd,
					    GNUTLS_X509_FMT_PEM, NULL, 0);
	if (e < 0) {
		int encrypted = e == GNUTLS_E_DECRYPTION_FAILED ||
				memmem((a->tls_key_file ? &kd : &cd)->data,
				       (a->tls_key_file ? &kd : &cd)->size, "ENCRYPTED", 9);
		if (encrypted)
			key_fail(a, keykey, r, "%s %s: the private key is encrypted, and mailout "
				 "cannot ask for its passphrase (store it decrypted, readable only "
				 "by you: openssl pkey -in KEY -out KEY.plain; see mailout.conf(5), "
				 "DEFAULTS AND ACCOUNTS)", keykey, keyfile);
		else
			key_fail(a, keykey, r, "%s %s: no PEM private key in it%s (see "
				 "mailout.conf(5), DEFAULTS AND ACCOUNTS)", keykey, keyfile,
				 a->tls_key_file ? "" : " (set tls_key_file when the key is in "
				 "a file of its own)");
		goto out;
	}
	if (sym_gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, id1, &n1) >= 0 &&
	    sym_gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, id2, &n2) >= 0 &&
	    (n1 != n2 || memcmp(id1, id2, n1) != 0)) {
		key_fail(a, keykey, r, "%s %s: the private key does not belong to the "
			 "certificate in tls_cert_file %s (see mailout.conf(5), DEFAULTS AND "
			 "ACCOUNTS)", keykey, keyfile, a->tls_cert_file);
		goto out;
	}
	rc = 0;
out:
	if (crt)
		sym_gnutls_x509_crt_deinit(crt);
	if (key)
		sym_gnutls_x509_privkey_deinit(key);
	free_tls_file(&cd);
	free_tls_file(&kd);
	return rc;
}

int
account_check(const struct account *a, int check_auth, struct result *r)
{
	/* An empty name or secret cannot log in; it is most often a ${VAR}
	 * that is not set in this environment (cron's is small). */
	if (check_auth && a->user && !*a->user)
		return key_fail(a, "user", r, "user is empty (an unset environment variable "
				"in ${VAR}?): set it, or remove the key to send without "
				"authentication (see mailout.conf(5), DEFAULTS AND ACCOUNTS)");
	if (check_auth && a->password && !*a->password)
		return key_fail(a, "password", r, "password is empty (an unset environment "
				"variable in ${VAR}?) (see mailout.conf(5), SECRETS)");
	if (check_auth && a->passwordeval && !*a->passwordeval)
		return key_fail(a, "passwordeval", r, "passwordeval is empty (an unset "
				"environment variable in ${VAR}?) (see mailout.conf(5), SECRETS)");
	if (check_auth && account_auth_enabled(a)) {
		const char *mech = conf_auth_name(a->auth);

		if (a->auth == AUTH_EXTERNAL) {
			if (!a->tls_cert_file)
				return key_fail(a, "auth", r, "auth = external needs a client "
						"certificate: set tls_cert_file (see mailout.conf(5), "
						"DEFAULTS AND ACCOUNTS)");
			if (a->tls == TLS_OFF)
				return key_fail(a, "auth", r, "auth = external needs TLS "
						"(tls = starttls or smtps), since the client "
						"certificate is the identity (see mailout.conf(5), "
						"DEFAULTS AND ACCOUNTS)");
		} else if (!a->user || !*a->user) {
			return key_fail(a, "auth", r, "auth = %s but no user is set: add "
					"user = \"NAME\" to the account, or set auth = off "
					"(see mailout.conf(5), DEFAULTS AND ACCOUNTS)", mech);
		} else if (!a->password && !a->passwordeval) {
			return key_fail(a, a->auth == AUTH_UNSET ? "user" : "auth", r,
					"%s%s, but neither password nor passwordeval is set%s "
					"(see mailout.conf(5), SECRETS)",
					a->auth == AUTH_UNSET ? "user is set, so the account "
					"authenticates" : "auth = ", a->auth == AUTH_UNSET ? "" : mech,
					a->auth == AUTH_UNSET ? " (auth = off to send without "
					"authentication)" : "");
		}
	}
	if (a->tls == TLS_OFF)
		return 0;       /* the TLS files are not used */
	if (a->tls_key_file && !a->tls_cert_file)
		return key_fail(a, "tls_key_file", r, "tls_key_file is set but tls_cert_file is "
				"not: set both, the client certificate and its key (see "
				"mailout.conf(5), DEFAULTS AND ACCOUNTS)");
	if ((a->tls_trust_file || a->tls_cert_file) && lazy_gnutls(r) < 0)
		return -1;
	if (a->tls_trust_file) {
		gnutls_datum_t d = { 0 };
		gnutls_x509_crt_t crt;
		char err[300];

		/* Only the first certificate: a full bundle takes GnuTLS 20 ms,
		 * which libcurl spends anyway when it connects. */
		if (load_tls_file(a->tls_trust_file, &d, err, sizeof(err)) < 0 ||
		    first_cert(&d, &crt, err, sizeof(err)) < 0) {
			free_tls_file(&d);
			return key_fail(a, "tls_trust_file", r, "tls_trust_file %s: %s (see "
					"mailout.conf(5), DEFAULTS AND ACCOUNTS)",
					a->tls_trust_file, err);
		}
		sym_gnutls_x509_crt_deinit(crt);
		free_tls_file(&d);
	}
	if (a->tls_cert_file && check_client_cert(a, r) < 0)
		return -1;
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
	struct dynbuf out = { 0 };
	char buf[4096];
	int pipefd[2], status, devnull;
	pid_t pid;
	ssize_t n;
	char *secret, at[1200];

	if (a->password)
		return xstrdup(a->password);
	if (!a->passwordeval) {
		where_text(a, conf_key_index("user"), at, sizeof(at));
		res_fail(r, RES_CONFIG, "%sauthenticates but sets neither password nor "
			 "passwordeval (see mailout.conf(5), SECRETS)", at);
		return NULL;
	}
	where_text(a, conf_key_index("passwordeval"), at, sizeof(at));
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
		execl("/bin/sh", "sh", "-c", a->passwordeval, (char *)NULL);
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
		res_fail(r, RES_CONFIG, "%spasswordeval command failed (%s %d; see "
			 "passwordeval in mailout.conf(5), DEFAULTS AND ACCOUNTS)", at,
			 WIFEXITED(status) ? "exit status" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return NULL;
	}
	out.len = account_secret_line(db_str(&out), out.len);
	if (out.len == 0) {
		db_free(&out);
		res_fail(r, RES_CONFIG, "%spasswordeval printed nothing (see passwordeval in "
			 "mailout.conf(5), DEFAULTS AND ACCOUNTS)", at);
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
