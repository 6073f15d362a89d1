/* test-tls-files.c - the account's TLS files are checked before use
 * (tls-files.c): each refusal is a configuration error naming the key's
 * file and line. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "tap.h"
#include "tls-files.h"
#include "util.h"

static struct config c;
static struct result r;

/* Load text as test.conf and check account "a".  Returns what
 * tls_files_check() did, or 99 when the text did not load. */
static int
check(const char *text)
{
	const struct account *a;

	conf_free(&c);
	res_clear(&r);
	if (conf_load_buf(&c, "test.conf", text, &r) < 0 || !(a = conf_find(&c, "a")))
		return 99;
	res_clear(&r);
	return tls_files_check(a, &r);
}

/* The check refuses the account with "test.conf:LINE:" and want. */
static void
refused_at(const char *text, int line, const char *want, const char *name)
{
	char at[32];
	int rc = check(text);

	snprintf(at, sizeof(at), "test.conf:%d:", line);
	if (!ok(rc == -1 && r.cls == RES_CONFIG && strstr(r.text, at) && strstr(r.text, want),
		"%s", name))
		printf("#   rc %d, message: %s\n#   wanted: %s ... %s\n", rc, r.text, at, want);
}

int
main(void)
{
	char dir[] = "/tmp/test-tls-files.XXXXXX", *text, *notpem;
	FILE *f;

	if (!mkdtemp(dir))
		return 1;
	notpem = xasprintf("%s/ca.txt", dir);
	f = fopen(notpem, "w");
	fputs("not a certificate\n", f);
	fclose(f);

	refused_at("account \"a\" {\n  host = \"h\"\n\n  tls_cert_file = \"/nonexistent/c.pem\"\n}\n", 4,
		   "/nonexistent/c.pem: No such file or directory", "missing tls_cert_file");
	refused_at("account \"a\" {\n  host = \"h\"\n  tls_trust_file = \"/\"\n}\n", 3,
		   "not a regular file", "tls_trust_file is a directory");
	refused_at("account \"a\" {\n  host = \"h\"\n  tls_trust_file = \"/dev/null\"\n}\n", 3,
		   "not a regular file", "tls_trust_file is a device");
	text = xasprintf("account \"a\" {\n  host = \"h\"\n  tls_trust_file = \"%s\"\n}\n", notpem);
	refused_at(text, 3, "no PEM certificate", "tls_trust_file without a certificate");
	free(text);
	text = xasprintf("account \"a\" {\n  host = \"h\"\n  tls_cert_file = \"%s\"\n}\n", notpem);
	refused_at(text, 3, "no PEM certificate", "tls_cert_file without a certificate");
	free(text);
	ok(check("account \"a\" {\n  host = \"h\"\n  tls = off\n  tls_trust_file = \"/nonexistent\"\n}\n") == 0,
	   "tls = off: the TLS files are not used");
	ok(check("account \"a\" {\n  host = \"h\"\n}\n") == 0, "no TLS files: nothing to check");
	ok(check("account \"a\" {\n  host = \"h\"\n  tls_key_file = \"/nonexistent\"\n}\n") == 0,
	   "a key without a certificate is account_check()'s to refuse");

	unlink(notpem);
	free(notpem);
	rmdir(dir);
	conf_free(&c);
	return done_testing();
}
