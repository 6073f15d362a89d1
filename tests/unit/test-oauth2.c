/* test-oauth2.c - the parts of oauth2.c that need no network: the form
 * encoding of a token request (RFC 6749 appendix B), and the token store
 * as oauth2_access_token() reads it: a cached access token used while it
 * has more than the margin left, an account name that cannot name a
 * directory, a store others can read, and no refresh token (each settled
 * before any request would be made).  The requests themselves are the
 * integration tests' (a real endpoint). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "oauth2.h"
#include "tap.h"
#include "util.h"

static struct result r;
static char top[] = "/tmp/mailout-test-oauth2.XXXXXX";

static char *
form(const char *name, const char *value)
{
	struct dynbuf d = { 0 };
	char *s;

	oauth2_form_add(&d, name, value);
	s = xstrdup(db_str(&d));
	db_free(&d);
	return s;
}

static void
form_is(const char *value, const char *want, const char *name)
{
	char *got = form("v", value);

	is_str(got, want, "%s", name);
	free(got);
}

static void
test_form(void)
{
	struct dynbuf d = { 0 };

	form_is("abcXYZ019-._~", "v=abcXYZ019-._~", "unreserved characters stay as they are");
	form_is("a b", "v=a+b", "a space is '+'");
	form_is("a+b", "v=a%2Bb", "'+' is encoded");
	form_is("x=1&y=2", "v=x%3D1%26y%3D2", "'=' and '&' are encoded");
	form_is("1/2?#%", "v=1%2F2%3F%23%25", "'/', '?', '#' and '%' are encoded");
	form_is("\"':;@!*()[]", "v=%22%27%3A%3B%40%21%2A%28%29%5B%5D", "the other reserved bytes");
	form_is("\xc3\xa9\xff", "v=%C3%A9%FF", "non-ASCII bytes, upper-case hex");
	form_is("\r\n\t\x01\x7f", "v=%0D%0A%09%01%7F", "control bytes");
	form_is("", "v=", "an empty value");
	oauth2_form_add(&d, "grant_type", "refresh_token");
	oauth2_form_add(&d, "scope", "https://mail.example/ offline");
	is_str(db_str(&d), "grant_type=refresh_token&scope=https%3A%2F%2Fmail.example%2F+offline",
	       "fields are joined with '&'");
	db_free(&d);
}

/* The store directory of an account called name, as oauth2.h places it. */
static char *
store_of(const char *name)
{
	if (geteuid() == 0)
		return xasprintf("%s/sys/oauth2/%s", top, name);
	return xasprintf("%s/state/mailout/oauth2/%s", top, name);
}

static void
put(const char *dir, const char *file, const char *text)
{
	char *path = xasprintf("%s/%s", dir, file);
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
	chmod(path, 0600);
	free(path);
}

/* oauth2_access_token() for account name: the token or NULL, *cached. */
static char *
token_of(const char *name, int refresh, int *cached)
{
	struct account a = { 0 };

	a.name = (char *)name;
	a.oauth2_token_url = (char *)"https://127.0.0.1:1/token";
	a.oauth2_client_id = (char *)"client";
	res_clear(&r);
	return oauth2_access_token(&a, refresh, cached, &r);
}

static void
test_store(void)
{
	char *sys = xasprintf("%s/sys", top), *state = xasprintf("%s/state", top);
	char *dir = store_of("acct"), *t, *text;
	struct stat st;
	int cached = -1;

	oauth2_set_system_dir(sys);
	setenv("XDG_STATE_HOME", state, 1);

	t = token_of("acct", 0, &cached);
	ok(!t && r.cls == RES_NOPERM && strstr(r.text, "no OAuth2 refresh token") &&
	   strstr(r.text, "--authorize acct") && cached == 0,
	   "an empty store and no refresh token: RES_NOPERM, authorize");
	ok(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
	   "the store was created, mode 700 (%s)", dir);

	text = xasprintf("%lld\nACCESS-1\n", (long long)time(NULL) + 3600);
	put(dir, "access_token", text);
	free(text);
	t = token_of("acct", 0, &cached);
	is_str(t, "ACCESS-1", "a cached token with an hour left is used");
	ok(cached == 1, "... and said to come from the cache");
	free_secret(t);

	t = token_of("acct", 1, &cached);
	ok(!t && r.cls == RES_NOPERM && cached == 0,
	   "refresh asked for: the cache is not used (no refresh token: RES_NOPERM)");

	text = xasprintf("%lld\nACCESS-2\n", (long long)time(NULL) + OAUTH2_EXPIRY_MARGIN - 5);
	put(dir, "access_token", text);
	free(text);
	t = token_of("acct", 0, &cached);
	ok(!t && r.cls == RES_NOPERM && cached == 0,
	   "a token inside the expiry margin is not used");

	text = xasprintf("%lldx\nACCESS-3\n", (long long)time(NULL) + 3600);
	put(dir, "access_token", text);
	free(text);
	t = token_of("acct", 0, &cached);
	ok(!t && r.cls == RES_NOPERM, "a malformed expiry line: the token is not used");

	text = xasprintf("%lld\n", (long long)time(NULL) + 3600);
	put(dir, "access_token", text);
	free(text);
	t = token_of("acct", 0, &cached);
	ok(!t && r.cls == RES_NOPERM, "an expiry without a token: nothing is used");

	text = xasprintf("%lld\nACCESS-4\n", (long long)time(NULL) + 3600);
	put(dir, "access_token", text);
	free(text);
	chmod(dir, 0750);
	t = token_of("acct", 0, &cached);
	ok(!t && r.cls == RES_CONFIG && strstr(r.text, "mode 700"),
	   "a store others can read: RES_CONFIG, the cached token is not used");
	free_secret(t);
	chmod(dir, 0700);
	t = token_of("acct", 0, &cached);
	is_str(t, "ACCESS-4", "mode 700 again: the cached token is used");
	free_secret(t);

	ok(!token_of("a/b", 0, &cached) && r.cls == RES_CONFIG && strstr(r.text, "--account"),
	   "an account name with '/': RES_CONFIG");
	ok(!token_of(".hidden", 0, &cached) && r.cls == RES_CONFIG,
	   "an account name starting with '.': RES_CONFIG");
	ok(!token_of("", 0, &cached) && r.cls == RES_CONFIG, "an empty account name: RES_CONFIG");
	ok(!token_of(NULL, 0, &cached) && r.cls == RES_CONFIG, "no account name: RES_CONFIG");

	oauth2_set_system_dir(NULL);
	free(sys);
	free(state);
	free(dir);
}

int
main(void)
{
	char *cmd;

	test_form();
	if (ok(mkdtemp(top) != NULL, "a temporary directory"))
		test_store();
	cmd = xasprintf("rm -rf '%s'", top);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", top);
	free(cmd);
	return done_testing();
}
