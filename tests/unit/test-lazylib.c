/* test-lazylib.c - loading libraries on first use: all or nothing. */
#include "config.h"

#include <dlfcn.h>
#include <string.h>

#include "lazylib.h"
#include "tap.h"

static size_t (*my_strlen)(const char *);
static int (*my_getpid)(void);
static void *my_missing;

static void
test_missing_library(void)
{
	struct lazy_sym syms[] = { { "strlen", (void **)&my_strlen } };
	struct result r;

	res_clear(&r);
	my_strlen = NULL;
	ok(lazy_open("libmailout-no-such-library.so.9", syms, 1, &r) == NULL,
	   "a library that is not there: NULL");
	is_int(r.cls, RES_TEMPFAIL, "it is a temporary failure (the message waits in the queue)");
	ok(strstr(r.text, "libmailout-no-such-library.so.9") != NULL,
	   "the error names the library: %s", r.text);
	ok(my_strlen == NULL, "no pointer is set");
}

static void
test_missing_symbol(void)
{
	struct lazy_sym syms[] = {
		{ "strlen", (void **)&my_strlen },
		{ "mailout_no_such_function", &my_missing },
		{ "getpid", (void **)&my_getpid },
	};
	struct result r;

	res_clear(&r);
	my_strlen = NULL;
	my_getpid = NULL;
	ok(lazy_open("libc.so.6", syms, 3, &r) == NULL, "a symbol missing: NULL");
	is_int(r.cls, RES_TEMPFAIL, "a temporary failure");
	ok(strstr(r.text, "mailout_no_such_function") != NULL, "the error names the symbol: %s",
	   r.text);
	ok(my_strlen == NULL && my_getpid == NULL,
	   "no pointer is set, not even those found before and after it");
}

/* "cannot load" names the Debian package that provides the library, so
 * that the fix is one apt-get away. */
static void
test_package_named(void)
{
	struct lazy_sym syms[] = { { "mailout_no_such_function", &my_missing } };
	struct result r;

	res_clear(&r);
	ok(lazy_open(MO_GNUTLS_SONAME, syms, 1, &r) == NULL, "GnuTLS without that symbol: NULL");
	ok(strncmp(r.text, "cannot load " MO_GNUTLS_SONAME, strlen("cannot load " MO_GNUTLS_SONAME)) == 0,
	   "the message starts with the soname: %s", r.text);
	if (strcmp(MO_GNUTLS_SONAME, "libgnutls.so.30") == 0)
		ok(strstr(r.text, "(Debian package libgnutls30)") != NULL,
		   "and names the package: %s", r.text);
	res_clear(&r);
	lazy_open("libmailout-no-such-library.so.9", syms, 1, &r);
	ok(strstr(r.text, "Debian package") == NULL,
	   "a library of no known package names none: %s", r.text);
}

static void
test_found(void)
{
	struct lazy_sym syms[] = {
		{ "strlen", (void **)&my_strlen },
		{ "getpid", (void **)&my_getpid },
	};
	struct result r;

	res_clear(&r);
	ok(lazy_open("libc.so.6", syms, 2, &r) != NULL, "every symbol there: a handle");
	ok(my_strlen && my_strlen("mailout") == 7, "the pointer calls the library's function");
	is_int(r.cls, RES_OK, "no failure");
}

static void
test_gnutls(void)
{
	struct result r;

	res_clear(&r);
	is_int(lazy_gnutls(&r), 0, "GnuTLS (%s) loads", MO_GNUTLS_SONAME);
	ok(sym_gnutls_strerror && sym_gnutls_strerror(GNUTLS_E_MEMORY_ERROR) != NULL,
	   "and its functions can be called");
	is_int(lazy_gnutls(&r), 0, "a second call is a no-op");
	lazy_gnutls_free(NULL);
	ok(1, "lazy_gnutls_free(NULL) does nothing");
}

int
main(void)
{
	test_missing_library();
	test_missing_symbol();
	test_found();
	test_package_named();
	test_gnutls();
	return done_testing();
}
