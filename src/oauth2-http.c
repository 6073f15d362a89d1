/*
 * oauth2-http.c - one HTTPS form POST to an OAuth2 endpoint (oauth2.h).
 *
 * The second file that includes curl.h (through curlsym.h): the token and
 * device authorization endpoints speak HTTPS, and libcurl, loaded already
 * for the relay, does it with the same TLS stack, trust store and typed
 * options as submit.c; an HTTP client of our own would be a second TLS
 * user to keep right.  Nothing here is shown with -v: the request holds
 * the refresh token and the client secret, the answer the access token.
 */
#include "config.h"

#include <string.h>

#include "curlsym.h"
#include "oauth2.h"
#include "util.h"

#define ANSWER_MAX 65536        /* a token answer is a few kilobytes */

struct answer {
	struct dynbuf *body;
	int too_big;
};

static size_t
on_write(char *p, size_t size, size_t n, void *userp)
{
	struct answer *ans = userp;

	if (ans->body->len + size * n > ANSWER_MAX) {
		ans->too_big = 1;
		return 0;
	}
	db_add(ans->body, p, size * n);
	return size * n;
}

/* Every option of the request (r in scope for CURLSYM_SET). */
static int
request_setopts(CURL *h, const struct account *a, const char *url, const char *form,
		struct curl_slist *headers, struct answer *ans, char *errbuf,
		struct result *r)
{
	CURLSYM_SET(h, long, CURLOPT_NOSIGNAL, 1L);
	CURLSYM_SET(h, ptr, CURLOPT_ERRORBUFFER, errbuf);
	CURLSYM_SET(h, str, CURLOPT_URL, url);
	CURLSYM_SET(h, str, CURLOPT_PROTOCOLS_STR, "https");
	CURLSYM_SET(h, long, CURLOPT_FOLLOWLOCATION, 0L);
	CURLSYM_SET(h, str, CURLOPT_PROXY, a->proxy ? a->proxy : "");
	CURLSYM_SET(h, str, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	CURLSYM_SET(h, ptr, CURLOPT_HTTPHEADER, headers);
	CURLSYM_SET(h, str, CURLOPT_POSTFIELDS, form);
	CURLSYM_SET(h, long, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
	CURLSYM_SET(h, write, CURLOPT_WRITEFUNCTION, on_write);
	CURLSYM_SET(h, ptr, CURLOPT_WRITEDATA, ans);
	CURLSYM_SET(h, long, CURLOPT_SSL_VERIFYPEER, 1L);
	CURLSYM_SET(h, long, CURLOPT_SSL_VERIFYHOST, 2L);
	CURLSYM_SET(h, long, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (a->oauth2_trust_file) {
		/* Instead of the system store (and libcurl's built-in CA
		 * directory), as for tls_trust_file. */
		CURLSYM_SET(h, str, CURLOPT_CAINFO, a->oauth2_trust_file);
		CURLSYM_SET(h, str, CURLOPT_CAPATH, NULL);
	}
	/* timeout: the longest wait for the connection, and for the answer. */
	CURLSYM_SET(h, long, CURLOPT_CONNECTTIMEOUT, a->timeout);
	CURLSYM_SET(h, long, CURLOPT_TIMEOUT, a->timeout);
	return 0;
}

/* The class of a failed request: the endpoint not reached or not answering
 * is temporary; a certificate that does not verify, or a trust file that
 * cannot be used, is for the administrator. */
static int
request_failed(const char *url, CURLcode c, const char *errbuf, int too_big,
	       struct result *r)
{
	const char *why = errbuf[0] ? errbuf : sym_curl_easy_strerror(c);

	switch (c) {
	case CURLE_PEER_FAILED_VERIFICATION:
		return res_fail(r, RES_UNAVAILABLE, "OAuth2 endpoint %s: its certificate does not "
				"verify (%s); see oauth2_trust_file in mailout.conf(5)", url, why);
	case CURLE_SSL_CACERT_BADFILE:
		return res_fail(r, RES_CONFIG, "OAuth2 endpoint %s: oauth2_trust_file cannot be "
				"used (%s)", url, why);
	case CURLE_WRITE_ERROR:
		if (too_big)
			return res_fail(r, RES_PROTOCOL, "OAuth2 endpoint %s: its answer is over "
					"%d bytes", url, ANSWER_MAX);
		break;
	default:
		break;
	}
	return res_fail(r, RES_TEMPFAIL, "OAuth2 endpoint %s cannot be reached (%s)", url, why);
}

int
oauth2_http_post(const struct account *a, const char *url, const char *form, long *status,
		 struct dynbuf *body, struct result *r)
{
	struct answer ans = { .body = body };
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *h;
	CURLcode c;
	int rc = -1;

	if (curlsym_init(r) < 0)
		return -1;
	if (!(h = sym_curl_easy_init()))
		return res_fail(r, RES_SOFTWARE, "cannot initialise libcurl");
	if (!(headers = sym_curl_slist_append(NULL, "Accept: application/json"))) {
		res_fail(r, RES_OSERR, "out of memory");
		goto out;
	}
	if (request_setopts(h, a, url, form, headers, &ans, errbuf, r) < 0)
		goto out;
	c = sym_curl_easy_perform(h);
	if (c != CURLE_OK) {
		request_failed(url, c, errbuf, ans.too_big, r);
		goto out;
	}
	if (sym_curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status) != CURLE_OK) {
		res_fail(r, RES_SOFTWARE, "libcurl gave no HTTP status");
		goto out;
	}
	rc = 0;
out:
	/* The form went out of the handle's buffers with the handle. */
	sym_curl_easy_cleanup(h);
	sym_curl_slist_free_all(headers);
	return rc;
}
