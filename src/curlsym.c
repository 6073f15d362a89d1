/* curlsym.c - libcurl's function pointers and typed options (curlsym.h). */
#include "config.h"

#include <curl/curl.h>

#include "curlsym.h"
#include "lazylib.h"

__typeof__(curl_global_init) *sym_curl_global_init;
__typeof__(curl_easy_init) *sym_curl_easy_init;
__typeof__(curl_easy_setopt) *sym_curl_easy_setopt;
__typeof__(curl_easy_perform) *sym_curl_easy_perform;
__typeof__(curl_easy_getinfo) *sym_curl_easy_getinfo;
__typeof__(curl_easy_strerror) *sym_curl_easy_strerror;
__typeof__(curl_easy_cleanup) *sym_curl_easy_cleanup;
__typeof__(curl_slist_append) *sym_curl_slist_append;
__typeof__(curl_slist_free_all) *sym_curl_slist_free_all;
__typeof__(curl_version_info) *sym_curl_version_info;

/* Declared for packagers (lazylib.h): a relay needs libcurl. */
LAZY_ELF_NOTE_DLOPEN(mo_note_libcurl, "smtp-relay",
		     "Sending mail through an SMTP relay", MO_LIBCURL_SONAME);

int
curlsym_init(struct result *r)
{
#define SYM(f) { #f, (void **)&sym_##f }
	static const struct lazy_sym syms[] = {
		SYM(curl_global_init), SYM(curl_easy_init), SYM(curl_easy_setopt),
		SYM(curl_easy_perform), SYM(curl_easy_getinfo), SYM(curl_easy_strerror),
		SYM(curl_easy_cleanup), SYM(curl_slist_append), SYM(curl_slist_free_all),
		SYM(curl_version_info),
	};
#undef SYM
	static int done;

	if (done)
		return 0;
	if (!lazy_open(MO_LIBCURL_SONAME, syms, sizeof(syms) / sizeof(syms[0]), r) ||
	    lazy_gnutls(r) < 0)
		return -1;
	if (sym_curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return res_fail(r, RES_SOFTWARE, "cannot initialise libcurl");
	done = 1;
	return 0;
}

#define TYPED_SETOPT(name, type) \
	int \
	name(CURL *h, CURLoption opt, type v, const char *optname, struct result *r) \
	{ \
		if (sym_curl_easy_setopt(h, opt, v) != CURLE_OK) \
			return res_fail(r, RES_SOFTWARE, "libcurl refused option %s", optname); \
		return 0; \
	}
TYPED_SETOPT(curlsym_setopt_long, long)
TYPED_SETOPT(curlsym_setopt_str, const char *)
TYPED_SETOPT(curlsym_setopt_ptr, void *)
TYPED_SETOPT(curlsym_setopt_off, curl_off_t)
TYPED_SETOPT(curlsym_setopt_debug, curl_debug_callback)
TYPED_SETOPT(curlsym_setopt_read, curl_read_callback)
TYPED_SETOPT(curlsym_setopt_write, curl_write_callback)
TYPED_SETOPT(curlsym_setopt_sockopt, curl_sockopt_callback)
TYPED_SETOPT(curlsym_setopt_prereq, curlsym_prereq_callback)
#undef TYPED_SETOPT
