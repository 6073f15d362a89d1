/*
 * curlsym.h - libcurl, loaded on first use (lazylib.h), for the files that
 * talk to a server through it: submit.c (SMTP) and oauth2-http.c (the
 * OAuth2 token endpoint, HTTPS).  Only they and curlsym.c include curl.h.
 *
 * libcurl's functions are called through the sym_curl_ pointers below,
 * declared with libcurl's own prototypes (__typeof__).  Through a pointer,
 * libcurl's compile-time check of curl_easy_setopt() arguments does not
 * apply: options are set with the typed helpers (curlsym_setopt_long() and
 * the rest), each taking the one C type its option kind wants, and
 * CURLSYM_SET() checks at compile time that the option is of that kind.
 */
#ifndef MAILOUT_CURLSYM_H
#define MAILOUT_CURLSYM_H

#include <curl/curl.h>

#include "result.h"

extern __typeof__(curl_global_init) *sym_curl_global_init;
extern __typeof__(curl_easy_init) *sym_curl_easy_init;
extern __typeof__(curl_easy_setopt) *sym_curl_easy_setopt;
extern __typeof__(curl_easy_perform) *sym_curl_easy_perform;
extern __typeof__(curl_easy_getinfo) *sym_curl_easy_getinfo;
extern __typeof__(curl_easy_strerror) *sym_curl_easy_strerror;
extern __typeof__(curl_easy_cleanup) *sym_curl_easy_cleanup;
extern __typeof__(curl_slist_append) *sym_curl_slist_append;
extern __typeof__(curl_slist_free_all) *sym_curl_slist_free_all;
extern __typeof__(curl_version_info) *sym_curl_version_info;

/* Load libcurl and GnuTLS and run curl_global_init(), once per process,
 * before anything else that may start threads.  0, or -1 with *r set
 * (RES_TEMPFAIL when a library cannot be loaded). */
int curlsym_init(struct result *r);

/* PREREQFUNCTION's prototype (libcurl names no type for it). */
typedef int (*curlsym_prereq_callback)(void *, char *, char *, int, int);

/* curl_easy_setopt() with one C type each; optname names the option in
 * the error.  0, or -1 with RES_SOFTWARE in *r. */
int curlsym_setopt_long(CURL *h, CURLoption opt, long v, const char *optname,
			struct result *r);
int curlsym_setopt_str(CURL *h, CURLoption opt, const char *v, const char *optname,
		       struct result *r);
int curlsym_setopt_ptr(CURL *h, CURLoption opt, void *v, const char *optname,
		       struct result *r);
int curlsym_setopt_off(CURL *h, CURLoption opt, curl_off_t v, const char *optname,
		       struct result *r);
int curlsym_setopt_debug(CURL *h, CURLoption opt, curl_debug_callback v,
			 const char *optname, struct result *r);
int curlsym_setopt_read(CURL *h, CURLoption opt, curl_read_callback v,
			const char *optname, struct result *r);
int curlsym_setopt_write(CURL *h, CURLoption opt, curl_write_callback v,
			 const char *optname, struct result *r);
int curlsym_setopt_sockopt(CURL *h, CURLoption opt, curl_sockopt_callback v,
			   const char *optname, struct result *r);
int curlsym_setopt_prereq(CURL *h, CURLoption opt, curlsym_prereq_callback v,
			  const char *optname, struct result *r);

/* CURLSYM_SET(h, kind, OPTION, value): the option must be of libcurl's
 * kind for that helper (CURLOPTTYPE_*), checked at compile time; on
 * failure the calling function returns -1 with *r set (r must be in
 * scope). */
#define CURLSYM_KIND_long    CURLOPTTYPE_LONG
#define CURLSYM_KIND_str     CURLOPTTYPE_STRINGPOINT
#define CURLSYM_KIND_ptr     CURLOPTTYPE_OBJECTPOINT
#define CURLSYM_KIND_off     CURLOPTTYPE_OFF_T
#define CURLSYM_KIND_debug   CURLOPTTYPE_FUNCTIONPOINT
#define CURLSYM_KIND_read    CURLOPTTYPE_FUNCTIONPOINT
#define CURLSYM_KIND_write   CURLOPTTYPE_FUNCTIONPOINT
#define CURLSYM_KIND_sockopt CURLOPTTYPE_FUNCTIONPOINT
#define CURLSYM_KIND_prereq  CURLOPTTYPE_FUNCTIONPOINT
#define CURLSYM_SET(h, kind, opt, val) do { \
		_Static_assert((opt) / 10000 * 10000 == CURLSYM_KIND_##kind, \
			       #opt " is not set with curlsym_setopt_" #kind); \
		if (curlsym_setopt_##kind(h, opt, val, #opt, r) < 0) \
			return -1; \
	} while (0)

#endif
