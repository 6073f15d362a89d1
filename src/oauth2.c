/*
 * oauth2.c - access tokens from an OAuth2 token endpoint, the token store,
 * and the device authorization grant (oauth2.h).
 *
 * Token answers (RFC 6749 section 5.1, 5.2) are JSON objects, read by
 * json.c.  The refresh runs under the store's lock: a second sender waits
 * and then finds the fresh access token in the cache, so two processes
 * never spend the same refresh token (a provider that rotates refresh
 * tokens may revoke the old one once the new one is issued).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "oauth2.h"

static char *system_dir;

void
oauth2_set_system_dir(const char *queue_dir)
{
	free(system_dir);
	system_dir = queue_dir ? xstrdup(queue_dir) : NULL;
}

/* ---- the store ---- */

/* The account's store directory, created private; NULL with *r set. */
static char *
store_dir(const struct account *a, struct result *r)
{
	const char *state = getenv("XDG_STATE_HOME");
	char *base, *dir;
	struct stat st;

	if (!a->name || !*a->name || strchr(a->name, '/') || a->name[0] == '.') {
		res_fail(r, RES_CONFIG, "OAuth2 needs an account with a name that can name a "
			 "file (no '/', not starting with '.'): use --account");
		return NULL;
	}
	if (geteuid() == 0)
		base = xasprintf("%s/oauth2", system_dir ? system_dir : "/var/spool/mailout");
	else if (state && state[0] == '/')
		base = xasprintf("%s/mailout/oauth2", state);
	else
		base = path_expand("~/.local/state/mailout/oauth2");
	dir = xasprintf("%s/%s", base, a->name);
	free(base);
	if (mkdir_p(dir, 0700) < 0) {
		res_fail(r, RES_CANTCREAT, "cannot create the OAuth2 token store %s: %s", dir,
			 strerror(errno));
	} else if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
		   (st.st_mode & 077)) {
		res_fail(r, RES_CONFIG, "the OAuth2 token store %s must be a directory of "
			 "yours that nobody else can read (mode 700)", dir);
	} else {
		return dir;
	}
	free(dir);
	return NULL;
}

/* The first line of dir/name, or NULL (absent, empty, unreadable). */
static char *
store_read(const char *dir, const char *name, char **second)
{
	char *path = xasprintf("%s/%s", dir, name), buf[16384], *nl, *line = NULL;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	free(path);
	if (second)
		*second = NULL;
	if (fd < 0)
		return NULL;
	n = read_full(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		if ((nl = strchr(buf, '\n'))) {
			*nl = '\0';
			if (second) {
				char *end = strchr(nl + 1, '\n');

				if (end)
					*end = '\0';
				*second = nl[1] ? xstrdup(nl + 1) : NULL;
			}
		}
		line = buf[0] ? xstrdup(buf) : NULL;
	}
	wipe(buf, sizeof(buf));
	return line;
}

/* Replace dir/name with text atomically: a private temporary file,
 * written and fsync()ed, renamed over it, the directory fsync()ed; a
 * crash leaves the old file or the new one, never neither. */
static int
store_write(const char *dir, const char *name, const char *text, struct result *r)
{
	char *tmp = xasprintf("%s/.%s.XXXXXX", dir, name), *path = xasprintf("%s/%s", dir, name);
	int fd = mkstemp(tmp), rc = -1;

	if (fd < 0) {
		res_fail(r, RES_CANTCREAT, "cannot write to the OAuth2 token store %s: %s", dir,
			 strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0600) < 0 || write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
		res_fail(r, RES_IOERR, "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0 || fsync_dir_of(dir, 1) < 0) {
		res_fail(r, RES_IOERR, "cannot store %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	free(path);
	return rc;
}

/* The store's lock, held until the descriptor is closed; -1 with *r set. */
static int
store_lock(const char *dir, struct result *r)
{
	char *path = xasprintf("%s/lock", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		res_fail(r, RES_CANTCREAT, "cannot lock %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	free(path);
	return fd;
}

/* ---- requests and answers ---- */

void
oauth2_form_add(struct dynbuf *d, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";

	if (d->len)
		db_addc(d, '&');
	db_adds(d, name);
	db_addc(d, '=');
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			db_addc(d, (char)*p);
		} else if (*p == ' ') {
			db_addc(d, '+');
		} else {
			db_addc(d, '%');
			db_addc(d, hex[*p >> 4]);
			db_addc(d, hex[*p & 15]);
		}
	}
}

/* The client's credentials onto a form: client_id, and client_secret when
 * the account has one.  0, or -1 with *r set (the eval command failed). */
static int
form_client(const struct account *a, struct dynbuf *form, struct result *r)
{
	char *secret = NULL;

	oauth2_form_add(form, "client_id", a->oauth2_client_id);
	if (a->oauth2_client_secret)
		secret = xstrdup(a->oauth2_client_secret);
	else if (a->oauth2_client_secret_eval &&
		 !(secret = account_eval(a, "oauth2_client_secret_eval", r)))
		return -1;
	if (secret)
		oauth2_form_add(form, "client_secret", secret);
	free_secret(secret);
	return 0;
}

/* A provider's text for a message: printable ASCII, at most 200 bytes. */
static void
clean_text(const char *s, char *out, size_t n)
{
	size_t j = 0;

	for (; s && *s && j + 1 < n && j < 200; s++)
		out[j++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	out[j] = '\0';
}

/*
 * POST form to url and read the JSON answer into *o.  Returns the HTTP
 * status (o filled when it is JSON), or -1 with *r set: not reached, or a
 * 5xx (temporary), or an answer that is no JSON object (protocol).
 */
static long
post_json(const struct account *a, const char *url, struct dynbuf *form,
	  struct json_object *o, struct result *r)
{
	struct dynbuf body = { 0 };
	long status = 0;
	char err[160];
	int rc;

	memset(o, 0, sizeof(*o));
	rc = oauth2_http_post(a, url, db_str(form), &status, &body, r);
	db_free(form);
	if (rc < 0) {
		db_free(&body);
		return -1;
	}
	rc = json_parse(db_str(&body), body.len, o, err, sizeof(err));
	db_free(&body);
	if (status >= 500 || status == 429) {
		json_free(o);
		return res_fail(r, RES_TEMPFAIL, "OAuth2 endpoint %s answered HTTP %ld: try "
				"again later", url, status);
	}
	if (rc < 0)
		return res_fail(r, RES_PROTOCOL, "OAuth2 endpoint %s answered HTTP %ld with no "
				"JSON object (%s)", url, status, err);
	return status;
}

/* An error answer (RFC 6749 section 5.2) as a result. */
static int
token_error(const struct account *a, long status, const struct json_object *o,
	    struct result *r)
{
	const char *error = json_string(o, "error");
	char code[64], descr[256];

	clean_text(error ? error : "(no error code)", code, sizeof(code));
	clean_text(json_string(o, "error_description"), descr, sizeof(descr));
	if (error && !strcmp(error, "invalid_grant"))
		return res_fail(r, RES_NOPERM, "the OAuth2 provider refused the refresh token of "
				"account \"%s\" (invalid_grant%s%s): authorize again with "
				"mailout --authorize %s", a->name, descr[0] ? ": " : "", descr,
				a->name);
	if (error && (!strcmp(error, "invalid_client") || !strcmp(error, "unauthorized_client")))
		return res_fail(r, RES_NOPERM, "the OAuth2 provider refused the client of account "
				"\"%s\" (%s%s%s): check oauth2_client_id and oauth2_client_secret",
				a->name, code, descr[0] ? ": " : "", descr);
	return res_fail(r, RES_UNAVAILABLE, "the OAuth2 token endpoint of account \"%s\" "
			"answered HTTP %ld (%s%s%s)", a->name, status, code, descr[0] ? ": " : "",
			descr);
}

/*
 * A successful token answer: cache its access token, store a refresh token
 * it carries (rotation, or the first one from --authorize) unless it is
 * the one in use.  Returns the access token, or NULL with *r set.
 */
static char *
token_answer(const struct account *a, const char *dir, const struct json_object *o,
	     const char *used_refresh, struct result *r)
{
	const char *token = json_string(o, "access_token"), *refresh = json_string(o, "refresh_token");
	long expires = 3600;
	char *text;
	int rc;

	if (!token || !*token || strpbrk(token, "\r\n")) {
		res_fail(r, RES_PROTOCOL, "the OAuth2 token endpoint of account \"%s\" answered "
			 "without an access token", a->name);
		return NULL;
	}
	(void)json_count(o, "expires_in", &expires);
	if (refresh && *refresh && !strpbrk(refresh, "\r\n") &&
	    (!used_refresh || strcmp(refresh, used_refresh) != 0)) {
		text = xasprintf("%s\n", refresh);
		rc = store_write(dir, "refresh_token", text, r);
		free_secret(text);
		if (rc < 0)
			return NULL;
	}
	text = xasprintf("%lld\n%s\n", (long long)time(NULL) + expires, token);
	rc = store_write(dir, "access_token", text, r);
	free_secret(text);
	if (rc < 0)
		log_err("warning: the access token is not cached: %s", r->text);
	return xstrdup(token);
}

/* The cached access token when it has more than the margin left. */
static char *
cached_token(const char *dir)
{
	char *token = NULL, *expiry = store_read(dir, "access_token", &token), *end;
	long long t = expiry ? strtoll(expiry, &end, 10) : 0;

	if (!expiry || *end || t - OAUTH2_EXPIRY_MARGIN <= (long long)time(NULL)) {
		free_secret(token);
		token = NULL;
	}
	free(expiry);
	return token;
}

/* Exchange the refresh token for an access token (under the lock). */
static char *
refresh_token_grant(const struct account *a, const char *dir, struct result *r)
{
	struct dynbuf form = { 0 };
	struct json_object o;
	char *refresh = store_read(dir, "refresh_token", NULL), *token = NULL;
	long status;

	if (!refresh && a->oauth2_refresh_token_eval &&
	    !(refresh = account_eval(a, "oauth2_refresh_token_eval", r)))
		return NULL;
	if (!refresh) {
		res_fail(r, RES_NOPERM, "account \"%s\" has no OAuth2 refresh token yet: "
			 "authorize with mailout --authorize %s (or set "
			 "oauth2_refresh_token_eval)", a->name, a->name);
		return NULL;
	}
	oauth2_form_add(&form, "grant_type", "refresh_token");
	oauth2_form_add(&form, "refresh_token", refresh);
	if (a->oauth2_scope)
		oauth2_form_add(&form, "scope", a->oauth2_scope);
	if (form_client(a, &form, r) < 0) {
		db_free(&form);
		free_secret(refresh);
		return NULL;
	}
	status = post_json(a, a->oauth2_token_url, &form, &o, r);
	if (status == 200)
		token = token_answer(a, dir, &o, refresh, r);
	else if (status > 0)
		token_error(a, status, &o, r);
	json_free(&o);
	free_secret(refresh);
	return token;
}

char *
oauth2_access_token(const struct account *a, int refresh, int *cached, struct result *r)
{
	char *dir = store_dir(a, r), *token = NULL;
	int lock;

	*cached = 0;
	if (!dir)
		return NULL;
	if ((lock = store_lock(dir, r)) >= 0) {
		if (!refresh && (token = cached_token(dir)))
			*cached = 1;
		else
			token = refresh_token_grant(a, dir, r);
		close(lock);
	}
	free(dir);
	return token;
}

/* ---- the device authorization grant (RFC 8628) ---- */

struct device {
	char *device_code;
	long interval;          /* seconds between polls */
	time_t deadline;
};

/* Ask for a user code and show it (RFC 8628 sections 3.1-3.3). */
static int
device_start(const struct account *a, FILE *out, struct device *dv, struct result *r)
{
	struct dynbuf form = { 0 };
	struct json_object o;
	const char *uri, *code, *complete;
	long status, expires = 1800;
	int rc = -1;

	oauth2_form_add(&form, "client_id", a->oauth2_client_id);
	if (a->oauth2_scope)
		oauth2_form_add(&form, "scope", a->oauth2_scope);
	if ((status = post_json(a, a->oauth2_device_url, &form, &o, r)) < 0)
		return -1;
	/* Google says verification_url (before RFC 8628 settled the name). */
	uri = json_string(&o, "verification_uri");
	if (!uri)
		uri = json_string(&o, "verification_url");
	code = json_string(&o, "user_code");
	complete = json_string(&o, "verification_uri_complete");
	if (status != 200) {
		token_error(a, status, &o, r);
	} else if (!uri || !code || !json_string(&o, "device_code")) {
		res_fail(r, RES_PROTOCOL, "the device authorization endpoint of account \"%s\" "
			 "answered without device_code, user_code or verification_uri", a->name);
	} else {
		dv->device_code = xstrdup(json_string(&o, "device_code"));
		if (json_count(&o, "interval", &dv->interval) < 0 || dv->interval < 1)
			dv->interval = 5;
		(void)json_count(&o, "expires_in", &expires);
		dv->deadline = time(NULL) + expires;
		fprintf(out, "To authorize mailout to send as account \"%s\", open\n  %s\n"
			"and enter the code\n  %s\n", a->name, uri, code);
		if (complete)
			fprintf(out, "(or open %s)\n", complete);
		fprintf(out, "Waiting for the authorization (the code is valid for %ld minutes)...\n",
			(expires + 59) / 60);
		fflush(out);
		rc = 0;
	}
	json_free(&o);
	return rc;
}

/* One poll: 1 authorized (refresh token stored), 0 pending, -1 failed. */
static int
device_poll(const struct account *a, const char *dir, struct device *dv, struct result *r)
{
	struct dynbuf form = { 0 };
	struct json_object o;
	const char *error;
	char *token;
	long status;
	int rc = -1;

	oauth2_form_add(&form, "grant_type", "urn:ietf:params:oauth:grant-type:device_code");
	oauth2_form_add(&form, "device_code", dv->device_code);
	if (form_client(a, &form, r) < 0) {
		db_free(&form);
		return -1;
	}
	if ((status = post_json(a, a->oauth2_token_url, &form, &o, r)) < 0)
		return -1;
	error = json_string(&o, "error");
	if (status == 200 && !json_string(&o, "refresh_token")) {
		res_fail(r, RES_UNAVAILABLE, "the provider gave account \"%s\" no refresh token: "
			 "add offline_access (Microsoft) or the provider's equivalent to "
			 "oauth2_scope", a->name);
	} else if (status == 200) {
		if ((token = token_answer(a, dir, &o, NULL, r))) {
			free_secret(token);
			rc = 1;
		}
	} else if (error && !strcmp(error, "authorization_pending")) {
		rc = 0;
	} else if (error && !strcmp(error, "slow_down")) {
		dv->interval += 5;      /* RFC 8628 section 3.5 */
		rc = 0;
	} else if (error && !strcmp(error, "expired_token")) {
		res_fail(r, RES_NOPERM, "the code expired before it was entered: run mailout "
			 "--authorize %s again", a->name);
	} else if (error && !strcmp(error, "access_denied")) {
		res_fail(r, RES_NOPERM, "the authorization of account \"%s\" was refused at the "
			 "provider", a->name);
	} else {
		token_error(a, status, &o, r);
	}
	json_free(&o);
	return rc;
}

int
oauth2_authorize(const struct account *a, FILE *out, struct result *r)
{
	struct device dv = { 0 };
	char *dir;
	int rc = -1, lock = -1;

	if (!a->oauth2_device_url || !a->oauth2_token_url || !a->oauth2_client_id)
		return account_key_fail(a, "oauth2_device_url", r, "--authorize needs "
					"oauth2_device_url, oauth2_token_url and oauth2_client_id "
					"(see mailout.conf(5), OAUTH2)");
	if (!(dir = store_dir(a, r)))
		return -1;
	if (device_start(a, out, &dv, r) < 0)
		goto out;
	for (;;) {
		int got;

		if (time(NULL) + dv.interval > dv.deadline) {
			res_fail(r, RES_NOPERM, "the code expired before it was entered: run "
				 "mailout --authorize %s again", a->name);
			break;
		}
		sleep((unsigned)dv.interval);
		if ((lock = store_lock(dir, r)) < 0)
			break;
		got = device_poll(a, dir, &dv, r);
		close(lock);
		if (got < 0)
			break;
		if (got > 0) {
			fprintf(out, "Authorized: the refresh token of account \"%s\" is stored in "
				"%s\n", a->name, dir);
			rc = 0;
			break;
		}
	}
out:
	free_secret(dv.device_code);
	free(dir);
	return rc;
}
