/*
 * lazylib.h - libcurl and GnuTLS, loaded when they are first needed.
 *
 * mailout is not linked with libcurl or GnuTLS: it dlopen()s them the
 * first time a relay is used (or a client certificate is checked, or
 * --serverinfo runs), so that --version, -bp, -bs greetings, queueing and
 * local delivery map none of the libraries they bring and run none of
 * their constructors (bench/RESULTS.md measures it).  Every dlopen() is
 * declared for packagers in a .note.dlopen ELF note
 * (LAZY_ELF_NOTE_DLOPEN(), next to the lazy_open() call it describes).
 *
 * Functions of a loaded library are called through pointers named
 * sym_<function>, declared with the library's own prototypes (__typeof__),
 * so a mismatch is a compile error.  submit.c, the only file that
 * includes curl.h, keeps the libcurl pointers; the GnuTLS ones, used by
 * tls-files.c, serverinfo.c and submit.c, are declared here.
 *
 * A library that cannot be loaded is a temporary failure (RES_TEMPFAIL):
 * with queue = onfail the message is kept and a later queue run retries,
 * the way a broken installation defers mail in Postfix.
 */
#ifndef MAILOUT_LAZYLIB_H
#define MAILOUT_LAZYLIB_H

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "result.h"

/*
 * LAZY_ELF_NOTE_DLOPEN(id, feature, description, soname): declare, in the
 * ELF note section .note.dlopen, that mailout dlopen()s soname for
 * feature, with priority "required" (the format of systemd's
 * ELF_DLOPEN_METADATA: owner "FDO", type 0x407c0c0a, a JSON array of
 * {feature, description, priority, soname[]}).  Packaging tools
 * (dh_dlopenlibdeps, rpm's generators) turn it into a dependency.  The
 * strings must be literals without '"' or '\\'; id names the object.
 */
#define LAZY_NOTE_JSON(feature, descr, soname) \
	"[{\"feature\":\"" feature "\",\"description\":\"" descr \
	"\",\"priority\":\"required\",\"soname\":[\"" soname "\"]}]"
#define LAZY_ELF_NOTE_DLOPEN(id, feature, descr, soname) \
	__attribute__((used, section(".note.dlopen"), aligned(4))) \
	static const struct { \
		uint32_t namesz, descsz, type; \
		char name[4]; \
		char json[(sizeof(LAZY_NOTE_JSON(feature, descr, soname)) + 3) & ~(size_t)3]; \
	} id = { \
		4, sizeof(LAZY_NOTE_JSON(feature, descr, soname)), 0x407c0c0a, "FDO", \
		LAZY_NOTE_JSON(feature, descr, soname) \
	}

/* One symbol to fetch: its name and where to store its address. */
struct lazy_sym {
	const char *name;
	void **ptr;
};

/*
 * dlopen() the library soname and store the address of every symbol of
 * syms[0..n) in *syms[i].ptr.  RTLD_LAZY, as if mailout were linked with
 * it: functions are bound when first called, never those of the
 * dependencies that mailout does not call.  A library already loaded is
 * opened again cheaply (the loader keeps one copy).  Returns the handle
 * (never closed), or NULL with *r set to RES_TEMPFAIL naming the library,
 * the Debian package that provides it when known, and the loader's error;
 * the pointers are then left untouched.
 */
void *lazy_open(const char *soname, const struct lazy_sym *syms, size_t n,
		struct result *r);

/* Load GnuTLS once per process and fill the sym_gnutls_ pointers below.
 * 0, or -1 with *r set as lazy_open() does. */
int lazy_gnutls(struct result *r);

extern __typeof__(gnutls_strerror) *sym_gnutls_strerror;
extern __typeof__(gnutls_alert_get_name) *sym_gnutls_alert_get_name;
extern __typeof__(gnutls_session_get_desc) *sym_gnutls_session_get_desc;
extern __typeof__(gnutls_x509_crt_init) *sym_gnutls_x509_crt_init;
extern __typeof__(gnutls_x509_crt_deinit) *sym_gnutls_x509_crt_deinit;
extern __typeof__(gnutls_x509_crt_import) *sym_gnutls_x509_crt_import;
extern __typeof__(gnutls_x509_crt_get_key_id) *sym_gnutls_x509_crt_get_key_id;
extern __typeof__(gnutls_x509_crt_get_dn3) *sym_gnutls_x509_crt_get_dn3;
extern __typeof__(gnutls_x509_crt_get_issuer_dn3) *sym_gnutls_x509_crt_get_issuer_dn3;
extern __typeof__(gnutls_x509_crt_get_activation_time) *sym_gnutls_x509_crt_get_activation_time;
extern __typeof__(gnutls_x509_crt_get_expiration_time) *sym_gnutls_x509_crt_get_expiration_time;
extern __typeof__(gnutls_x509_crt_get_fingerprint) *sym_gnutls_x509_crt_get_fingerprint;
extern __typeof__(gnutls_x509_privkey_init) *sym_gnutls_x509_privkey_init;
extern __typeof__(gnutls_x509_privkey_deinit) *sym_gnutls_x509_privkey_deinit;
extern __typeof__(gnutls_x509_privkey_import2) *sym_gnutls_x509_privkey_import2;
extern __typeof__(gnutls_x509_privkey_get_key_id) *sym_gnutls_x509_privkey_get_key_id;

/* GnuTLS's deallocator for what it hands out (the library exports it as a
 * variable holding a function pointer, not as a function). */
void lazy_gnutls_free(void *p);

#endif
