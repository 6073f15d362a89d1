/*
 * lazylib.c - dlopen() of libcurl and GnuTLS on first use (see lazylib.h).
 *
 * The sonames (MO_GNUTLS_SONAME, and MO_LIBCURL_SONAME for submit.c) are
 * the ones the linker would have recorded: configure links a test program
 * against pkg-config's flags and reads its DT_NEEDED entries, so a build
 * against another libcurl (say, the OpenSSL flavour) loads that one.
 */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "lazylib.h"

__typeof__(gnutls_strerror) *sym_gnutls_strerror;
__typeof__(gnutls_alert_get_name) *sym_gnutls_alert_get_name;
__typeof__(gnutls_session_get_desc) *sym_gnutls_session_get_desc;
__typeof__(gnutls_x509_crt_init) *sym_gnutls_x509_crt_init;
__typeof__(gnutls_x509_crt_deinit) *sym_gnutls_x509_crt_deinit;
__typeof__(gnutls_x509_crt_import) *sym_gnutls_x509_crt_import;
__typeof__(gnutls_x509_crt_get_key_id) *sym_gnutls_x509_crt_get_key_id;
__typeof__(gnutls_x509_crt_get_dn3) *sym_gnutls_x509_crt_get_dn3;
__typeof__(gnutls_x509_crt_get_issuer_dn3) *sym_gnutls_x509_crt_get_issuer_dn3;
__typeof__(gnutls_x509_crt_get_activation_time) *sym_gnutls_x509_crt_get_activation_time;
__typeof__(gnutls_x509_crt_get_expiration_time) *sym_gnutls_x509_crt_get_expiration_time;
__typeof__(gnutls_x509_crt_get_fingerprint) *sym_gnutls_x509_crt_get_fingerprint;
__typeof__(gnutls_x509_privkey_init) *sym_gnutls_x509_privkey_init;
__typeof__(gnutls_x509_privkey_deinit) *sym_gnutls_x509_privkey_deinit;
__typeof__(gnutls_x509_privkey_import2) *sym_gnutls_x509_privkey_import2;
__typeof__(gnutls_x509_privkey_get_key_id) *sym_gnutls_x509_privkey_get_key_id;

/* Declared for packagers: client certificates, --serverinfo and the
 * relay's TLS need GnuTLS. */
LAZY_ELF_NOTE_DLOPEN(mo_note_gnutls, "tls", "TLS certificates of the relay and the client",
		     MO_GNUTLS_SONAME);

/* The address of GnuTLS's variable "gnutls_free". */
static gnutls_free_function *gnutls_free_var;

/* The Debian package of a library (issue 18: "cannot load" names it), or
 * NULL when it is not one of these. */
static const char *
debian_package(const char *soname)
{
	static const struct {
		const char *soname, *package;
	} known[] = {
		{ "libcurl-gnutls.so.4", "libcurl3-gnutls" },
		{ "libcurl.so.4", "libcurl4" },
		{ "libcurl-nss.so.4", "libcurl3-nss" },
		{ "libgnutls.so.30", "libgnutls30" },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(soname, known[i].soname) == 0)
			return known[i].package;
	return NULL;
}

/* "SONAME" or "SONAME (Debian package P)" into buf. */
static const char *
library_name(const char *soname, char *buf, size_t n)
{
	const char *pkg = debian_package(soname);

	if (pkg)
		snprintf(buf, n, "%s (Debian package %s)", soname, pkg);
	else
		snprintf(buf, n, "%s", soname);
	return buf;
}

void *
lazy_open(const char *soname, const struct lazy_sym *syms, size_t n, struct result *r)
{
	void *addr[64], *h;
	char name[300];

	if (n > sizeof(addr) / sizeof(addr[0])) {
		res_fail(r, RES_SOFTWARE, "too many symbols asked of %s", soname);
		return NULL;
	}
	if (!(h = dlopen(soname, RTLD_LAZY))) {
		const char *e = dlerror();
		size_t len = strlen(soname);

		/* glibc says "SONAME: cannot open shared object file: ..." */
		if (strncmp(e, soname, len) == 0 && strncmp(e + len, ": ", 2) == 0)
			e += len + 2;
		res_fail(r, RES_TEMPFAIL, "cannot load %s: %s",
			 library_name(soname, name, sizeof(name)), e);
		return NULL;
	}
	/* All or nothing: the pointers are set only when every symbol is
	 * there, so a half-loaded library is never called. */
	for (size_t i = 0; i < n; i++) {
		dlerror();
		addr[i] = dlsym(h, syms[i].name);
		if (!addr[i]) {
			const char *e = dlerror();

			res_fail(r, RES_TEMPFAIL, "cannot load %s: %s",
				 library_name(soname, name, sizeof(name)),
				 e ? e : "a symbol is missing");
			dlclose(h);
			return NULL;
		}
	}
	for (size_t i = 0; i < n; i++)
		*syms[i].ptr = addr[i];
	return h;
}

#define SYM(f) { #f, (void **)&sym_##f }

int
lazy_gnutls(struct result *r)
{
	static const struct lazy_sym syms[] = {
		SYM(gnutls_strerror),
		SYM(gnutls_alert_get_name),
		SYM(gnutls_session_get_desc),
		SYM(gnutls_x509_crt_init),
		SYM(gnutls_x509_crt_deinit),
		SYM(gnutls_x509_crt_import),
		SYM(gnutls_x509_crt_get_key_id),
		SYM(gnutls_x509_crt_get_dn3),
		SYM(gnutls_x509_crt_get_issuer_dn3),
		SYM(gnutls_x509_crt_get_activation_time),
		SYM(gnutls_x509_crt_get_expiration_time),
		SYM(gnutls_x509_crt_get_fingerprint),
		SYM(gnutls_x509_privkey_init),
		SYM(gnutls_x509_privkey_deinit),
		SYM(gnutls_x509_privkey_import2),
		SYM(gnutls_x509_privkey_get_key_id),
		{ "gnutls_free", (void **)&gnutls_free_var },
	};

	if (gnutls_free_var)
		return 0;
	return lazy_open(MO_GNUTLS_SONAME, syms, sizeof(syms) / sizeof(syms[0]), r) ? 0 : -1;
}

void
lazy_gnutls_free(void *p)
{
	if (p)
		(*gnutls_free_var)(p);
}
