/*
 * submit.c - messages to a relay through libcurl's SMTP transport.
 *
 * libcurl's SMTP transport is used here alone (submit-probe.c runs the
 * same session for --serverinfo; oauth2-http.c uses libcurl for HTTPS; all
 * through curlsym.h).  An account's host may list several relays (SPEC
 * 13): a failure of the session before MAIL FROM that is the relay's
 * (res_try_next_relay()) moves the session to the next, where it stays.
 * libcurl's own error codes are
 * coarse (LIBRARY-NOTES trap 6), so every line of the dialogue goes to an
 * SMTP trace (smtp-trace.c), and a failure is classified (classify.c) from
 * the trace and a transport error translated from libcurl's code here.
 *
 * Guards against libcurl's traps:
 *  - INFILESIZE is the size libcurl sends, after its own dot-stuffing
 *    (stuffed_size()): libcurl stops at that many bytes and declares it as
 *    SIZE= when the relay offers SIZE (trap 1: a smaller one would cut the
 *    message without an error).
 *  - CURLOPT_CRLF is never set; the spool file is CRLF already (trap 2).
 *  - Addresses reach us checked by addr_check() (trap 3).
 *  - With credentials configured, no MAIL FROM is sent unless AUTH
 *    succeeded: the pre-request callback aborts the transfer (trap 4).
 *  - CURLOPT_LOGIN_OPTIONS is always set (trap 5).
 *  - The EHLO name, the proxy (even "none") and every timeout are set
 *    explicitly (traps 9, 10, 11).
 *  - Options are set through typed helpers (curlsym.h): through the
 *    dlsym() pointer libcurl's own argument checks do not apply, so each
 *    helper takes the one C type its option kind wants and a static
 *    assertion checks the option is of that kind.
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "classify.h"
#include "curlsym.h"
#include "lazylib.h"
#include "log.h"
#include "netcheck.h"
#include "oauth2.h"
#include "smtp-trace.h"
#include "submit.h"
#include "submit-internal.h"
#include "tls-files.h"
#include "util.h"

int
submit_global_init(struct result *r)
{
	return curlsym_init(r);
}

/* --serverinfo: describe the TLS session while the connection is up. */
static void
probe_tls_desc(struct submit *s, CURL *h)
{
	const struct curl_tlssessioninfo *ti = NULL;
	char *d;

	if (sym_curl_easy_getinfo(h, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK || !ti ||
	    ti->backend != CURLSSLBACKEND_GNUTLS || !ti->internals)
		return;
	if ((d = sym_gnutls_session_get_desc((gnutls_session_t)ti->internals))) {
		s->tr.probe->tls_desc = xstrdup(d);
		lazy_gnutls_free(d);
	}
}

/*
 * A relay that let a reply time out gets no QUIT: libcurl says QUIT on its
 * way out of a failed transfer and waits for the reply as long again, so
 * one timeout would cost two (mailout.conf(5): timeout is the longest wait
 * for any reply).  When QUIT goes out while the last command is still
 * unanswered, the socket is shut down and that wait ends at once.
 */
static void
quit_unanswered(struct submit *s, const char *line, size_t n)
{
	if (n >= 4 && strncasecmp(line, "QUIT", 4) == 0 && s->tr.awaiting &&
	    s->sock != CURL_SOCKET_BAD)
		shutdown(s->sock, SHUT_RDWR);
}

static int
on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *userp)
{
	struct submit *s = userp;
	int out = type == CURLINFO_HEADER_OUT;

	if (s->tr.probe && !s->tr.probe->tls_desc && out && s->a->tls != TLS_OFF &&
	    size >= 4 && strncasecmp(data, "NOOP", 4) == 0)
		probe_tls_desc(s, h);
	if (type == CURLINFO_TEXT) {
		if (log_verbose_level > 1) {
			size_t n = size;
			while (n && (data[n - 1] == '\n' || data[n - 1] == '\r'))
				n--;
			fprintf(stderr, "* %.*s\n", (int)n, data);
		}
		return 0;
	}
	if (type != CURLINFO_HEADER_IN && type != CURLINFO_HEADER_OUT)
		return 0;   /* message data and TLS records are not shown */
	while (size > 0) {
		char *nl = memchr(data, '\n', size), show[1100];
		size_t len = nl ? (size_t)(nl - data) + 1 : size, n = len;

		while (n && (data[n - 1] == '\n' || data[n - 1] == '\r'))
			n--;
		if (log_verbose_level)
			fprintf(stderr, "%s\n", smtp_trace_show(&s->tr, out, data, n, show,
								sizeof(show)));
		if (out)
			quit_unanswered(s, data, n);
		smtp_trace_line(&s->tr, out, data, n);
		data += len;
		size -= len;
	}
	return 0;
}

/* Called once the connection is ready (greeting, EHLO, STARTTLS, AUTH
 * done) and before MAIL FROM: refuse to go on unauthenticated. */
static int
on_prereq(void *userp, char *conn_primary_ip, char *conn_local_ip,
	  int conn_primary_port, int conn_local_port)
{
	struct submit *s = userp;

	(void)conn_primary_ip;
	(void)conn_local_ip;
	(void)conn_primary_port;
	(void)conn_local_port;
	if (s->need_auth && !s->tr.auth_ok) {
		s->abort = AB_NO_AUTH;
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}

static size_t
on_read(char *buf, size_t size, size_t nitems, void *userp)
{
	struct submit *s = userp;
	ssize_t n;

	/* Second line of defence for trap 4. */
	if (s->need_auth && !s->tr.auth_ok) {
		s->abort = AB_NO_AUTH;
		return CURL_READFUNC_ABORT;
	}
	n = read_retry(s->fd, buf, size * nitems);
	if (n < 0) {
		s->read_errno = errno;
		s->abort = AB_READ;
		return CURL_READFUNC_ABORT;
	}
	s->read_total += n;
	if (n == 0)
		s->read_eof = 1;
	return (size_t)n;
}

/* Every new connection's socket, for quit_unanswered(). */
static int
on_sockopt(void *userp, curl_socket_t fd, curlsocktype purpose)
{
	struct submit *s = userp;

	if (purpose == CURLSOCKTYPE_IPCXN)
		s->sock = fd;
	return CURL_SOCKOPT_OK;
}

/* ---- the session ---- */

static const char *
login_options(const struct account *a)
{
	switch (a->auth) {
	case AUTH_PLAIN:       return "AUTH=PLAIN";
	case AUTH_LOGIN:       return "AUTH=LOGIN";
	case AUTH_CRAM_MD5:    return "AUTH=CRAM-MD5";
	case AUTH_XOAUTH2:     return "AUTH=XOAUTH2";
	case AUTH_OAUTHBEARER: return "AUTH=OAUTHBEARER";
	case AUTH_EXTERNAL:    return "AUTH=EXTERNAL";
	default:
		/* Never let libcurl pick GSSAPI, NTLM or DIGEST-MD5 by itself. */
		return "AUTH=CRAM-MD5;AUTH=PLAIN;AUTH=LOGIN";
	}
}

/* Where to connect: the URL, protocols, the source address. */
static int
url_setopts(struct submit *s, struct result *r)
{
	const struct account *a = s->a;
	int v6 = strchr(a->host, ':') && a->host[0] != '[';

	s->url = xasprintf("%s://%s%s%s:%ld/%s", a->tls == TLS_SMTPS ? "smtps" : "smtp",
			   v6 ? "[" : "", a->host, v6 ? "]" : "", account_port(a),
			   a->domain ? a->domain : host_fqdn());
	SET(str, CURLOPT_URL, s->url);
	SET(str, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	SET(str, CURLOPT_PROXY, a->proxy ? a->proxy : "");
	if (a->source_ip) {
		char *iface = xasprintf("host!%s", a->source_ip);
		int rc = curlsym_setopt_str(s->h, CURLOPT_INTERFACE, iface, "CURLOPT_INTERFACE", r);

		free(iface);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* The dialogue goes to the trace; the message comes from s->fd. */
static int
callback_setopts(struct submit *s, struct result *r)
{
	SET(long, CURLOPT_NOSIGNAL, 1L);
	SET(ptr, CURLOPT_ERRORBUFFER, s->errbuf);
	SET(long, CURLOPT_VERBOSE, 1L);
	SET(debug, CURLOPT_DEBUGFUNCTION, on_debug);
	SET(ptr, CURLOPT_DEBUGDATA, s);
	SET(prereq, CURLOPT_PREREQFUNCTION, on_prereq);
	SET(ptr, CURLOPT_PREREQDATA, s);
	SET(sockopt, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
	SET(ptr, CURLOPT_SOCKOPTDATA, s);
	SET(read, CURLOPT_READFUNCTION, on_read);
	SET(ptr, CURLOPT_READDATA, s);
	SET(long, CURLOPT_UPLOAD, 1L);
	SET(long, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
	if (s->a->partial_delivery)
		SET(long, MO_CURLOPT_ALLOWFAILS, 1L);
	return 0;
}

static int
tls_setopts(struct submit *s, struct result *r)
{
	const struct account *a = s->a;

	SET(long, CURLOPT_USE_SSL, a->tls == TLS_STARTTLS ? (long)CURLUSESSL_ALL
							   : (long)CURLUSESSL_NONE);
	if (a->tls_pin) {
		/* A pinned key is the trust decision (as msmtp's tls_fingerprint):
		 * a self-signed relay needs no CA; a different key is refused. */
		SET(str, CURLOPT_PINNEDPUBLICKEY, a->tls_pin);
		SET(long, CURLOPT_SSL_VERIFYPEER, 0L);
		SET(long, CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		SET(long, CURLOPT_SSL_VERIFYPEER, 1L);
		SET(long, CURLOPT_SSL_VERIFYHOST, 2L);
	}
	if (a->tls_trust_file) {
		/* Instead of the system store, as mailout.conf(5) says: Debian's
		 * libcurl also loads its built-in CA directory unless told not
		 * to, and any public CA would then do. */
		SET(str, CURLOPT_CAINFO, a->tls_trust_file);
		SET(str, CURLOPT_CAPATH, NULL);
	}
	/* TLS 1.0 and 1.1 are withdrawn (RFC 8996): never send a password
	 * over them. */
	SET(long, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (a->tls_cert_file) {
		SET(str, CURLOPT_SSLCERT, a->tls_cert_file);
		SET(str, CURLOPT_SSLCERTTYPE, "PEM");
		SET(str, CURLOPT_SSLKEY, a->tls_key_file ? a->tls_key_file : a->tls_cert_file);
		SET(str, CURLOPT_SSLKEYTYPE, "PEM");
	}
	return 0;
}

/* timeout is the longest wait for the connection and for each reply. */
static int
timeout_setopts(struct submit *s, struct result *r)
{
	SET(long, CURLOPT_CONNECTTIMEOUT, s->a->timeout);
	SET(long, CURLOPT_SERVER_RESPONSE_TIMEOUT, s->a->timeout);
	SET(long, CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(long, CURLOPT_LOW_SPEED_TIME, s->a->timeout);
	return 0;
}

static int
auth_setopts(struct submit *s, struct result *r)
{
	const struct account *a = s->a;

	if (!s->need_auth) {
		SET(str, CURLOPT_LOGIN_OPTIONS, "AUTH=*");
		return 0;
	}
	SET(str, CURLOPT_LOGIN_OPTIONS, login_options(a));
	SET(str, CURLOPT_USERNAME, a->user ? a->user : "");
	if (a->auth == AUTH_XOAUTH2 || a->auth == AUTH_OAUTHBEARER)
		SET(str, CURLOPT_XOAUTH2_BEARER, s->secret);
	else if (s->secret)
		SET(str, CURLOPT_PASSWORD, s->secret);
	return 0;
}

/* Split the account's host into its relays; cur starts on the first. */
static void
relays_init(struct submit *s, const struct account *a)
{
	const char *h = a->host ? a->host : "";

	s->cur = *a;
	s->a = &s->cur;
	do {
		size_t n = strcspn(h, ",");

		s->relays = xrealloc(s->relays, (s->nrelays + 1) * sizeof(char *));
		s->relays[s->nrelays++] = xstrndup(h, n);
		h += n + (h[n] == ',');
	} while (*h);
	s->cur.host = s->relays[0];
}

/*
 * After a failure r of the session (before MAIL FROM) on relays[relay]:
 * move to the next relay, if there is one and res_try_next_relay() says
 * the failure is the relay's.  Returns 1 when moved (the URL set, the
 * trace reset), else 0.
 */
static int
next_relay(struct submit *s, const struct result *failure, struct result *r)
{
	if (s->relay + 1 >= s->nrelays)
		return 0;
	log_info("%s: %s; trying the next relay, %s", s->cur.host, failure->text,
		 s->relays[s->relay + 1]);
	{
		char *tried = xasprintf("%s%s%s", s->tried ? s->tried : "",
					s->tried ? ", " : "", s->cur.host);

		free(s->tried);
		s->tried = tried;
	}
	s->cur.host = s->relays[++s->relay];
	free(s->url);
	s->url = NULL;
	smtp_trace_reset(&s->tr);
	s->tr.auth_ok = s->tr.auth_offered = 0;
	s->errbuf[0] = '\0';
	s->sock = CURL_SOCKET_BAD;
	return url_setopts(s, r) == 0;
}

const char *
submit_relay(const struct submit *s)
{
	return s->cur.host;
}

struct submit *
submit_new(const struct account *a, struct result *r)
{
	struct submit *s = xcalloc(1, sizeof(*s));

	relays_init(s, a);
	s->fd = -1;
	s->sock = CURL_SOCKET_BAD;
	smtp_trace_init(&s->tr, a->partial_delivery);
	s->need_auth = account_auth_enabled(a);
	/* Checked when the account was chosen, but a queue run comes here
	 * directly: a missing TLS file must not look like a failed handshake
	 * (temporary), nor a missing user like a refused login. */
	if (account_check(a, 1, r) < 0 || tls_files_check(a, r) < 0)
		goto fail;
	if (s->need_auth && a->auth != AUTH_EXTERNAL &&
	    !(s->secret = account_uses_oauth2(a) ? oauth2_access_token(a, 0, &s->token_cached, r)
			  : account_secret(a, r)))
		goto fail;
	if (!(s->h = sym_curl_easy_init())) {
		res_fail(r, RES_SOFTWARE, "cannot initialise libcurl");
		goto fail;
	}
	if (url_setopts(s, r) < 0 || callback_setopts(s, r) < 0 || tls_setopts(s, r) < 0 ||
	    timeout_setopts(s, r) < 0 || auth_setopts(s, r) < 0)
		goto fail;
	return s;
fail:
	submit_free(s);
	return NULL;
}

/* ---- what went wrong ---- */

/* 1 when text holds the password of the proxy URL (the text between its
 * user name's ':' and the last '@'). */
static int
quotes_proxy_password(const char *proxy, const char *text)
{
	const char *user = proxy ? strstr(proxy, "://") : NULL, *at, *colon;

	if (!user || !(at = strrchr(user + 3, '@')))
		return 0;
	user += 3;
	colon = memchr(user, ':', (size_t)(at - user));
	return colon && at > colon + 1 &&
	       memmem(text, strlen(text), colon + 1, (size_t)(at - colon - 1)) != NULL;
}

static enum xfer_error
xfer_error_of(const struct submit *s, CURLcode c)
{
	switch (c) {
	case CURLE_OK:                       return XFER_OK;
	case CURLE_ABORTED_BY_CALLBACK:
		return s->abort == AB_READ ? XFER_ABORT_READ
		     : s->abort == AB_NO_AUTH ? XFER_ABORT_NO_AUTH : XFER_OTHER;
	case CURLE_COULDNT_RESOLVE_HOST:     return XFER_RESOLVE_HOST;
	case CURLE_COULDNT_RESOLVE_PROXY:    return XFER_RESOLVE_PROXY;
	case CURLE_COULDNT_CONNECT:
		return netcheck_no_descriptors() ? XFER_NO_FDS : XFER_CONNECT;
	case CURLE_PROXY:                    return XFER_PROXY;
	case CURLE_PEER_FAILED_VERIFICATION: return XFER_TLS_UNTRUSTED;
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH: return XFER_TLS_PIN;
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:      return XFER_TLS_SETTINGS;
	case CURLE_SSL_CONNECT_ERROR:        return XFER_TLS_HANDSHAKE;
	case CURLE_USE_SSL_FAILED:           return XFER_STARTTLS;
	case CURLE_LOGIN_DENIED:             return XFER_LOGIN;
	case CURLE_READ_ERROR:               return XFER_READ;
	case CURLE_INTERFACE_FAILED:         return XFER_INTERFACE;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:     return XFER_SETTINGS;
	case CURLE_OUT_OF_MEMORY:            return XFER_NOMEM;
	case CURLE_OPERATION_TIMEDOUT:       return XFER_TIMEOUT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_QUOTE_ERROR:
	case CURLE_REMOTE_ACCESS_DENIED:     return XFER_RESPONSE;
	case CURLE_WEIRD_SERVER_REPLY:       return XFER_WEIRD_REPLY;
	default:                             return XFER_OTHER;
	}
}

/* The name of the fatal TLS alert libcurl reports for a handshake the
 * relay ended ("gnutls_handshake() failed: ALERT NAME"), or NULL when the
 * failure was no alert.  GnuTLS itself names the alerts. */
static const char *
received_alert(const char *err)
{
	static const char pre[] = "gnutls_handshake() failed: ";
	const char *name;

	if (strncmp(err, pre, sizeof(pre) - 1) != 0)
		return NULL;
	err += sizeof(pre) - 1;
	for (int a = 0; a < 256; a++)
		if ((name = sym_gnutls_alert_get_name((gnutls_alert_description_t)a)) &&
		    strcmp(name, err) == 0)
			return name;
	return NULL;
}

/* The result of a failed transfer: the names are looked up again here,
 * before classifying, as classify.c does no I/O. */
int
submit_classify(struct submit *s, CURLcode c, struct result *r)
{
	const struct smtp_trace *t = &s->tr;
	const struct account *a = s->a;
	struct xfer_outcome x = {
		.err = xfer_error_of(s, c),
		/* libcurl's own text, unless it quotes the proxy's password. */
		.errtext = s->errbuf[0] && !quotes_proxy_password(a->proxy, s->errbuf)
			   ? s->errbuf : sym_curl_easy_strerror(c),
		.acct = a,
		.stage = smtp_trace_stage(t),
		.code = t->fail_code ? t->fail_code : t->code,
		.reply = t->fail_code ? db_str(&t->fail_reply) : db_str(&t->reply),
		.rcpt = t->fail_code ? t->fail_rcpt : NULL,
		.refused = t->fail_code != 0,
		.auth_offered = t->auth_offered,
		.read_errno = s->read_errno,
		.after_dot = submit_after_dot(s),
	};

	if (x.err == XFER_TLS_HANDSHAKE)
		x.tls_alert = received_alert(s->errbuf);
	if (x.err == XFER_RESOLVE_HOST) {
		x.proxy_unresolved = a->proxy && *a->proxy && netcheck_proxy_unresolved(a->proxy);
		x.host_unknown = !x.proxy_unresolved && netcheck_name_unknown(a->host);
	}
	return res_from_xfer(&x, r);
}

static void drop_connection(struct submit *s);

/*
 * The relay refused the cached OAuth2 access token: a 5xx to AUTH, or
 * RFC 7628 section 3.2.2's error challenge (a 334 with a JSON status),
 * where libcurl 7.88 gives up on XOAUTH2 before the final reply:
 * it may have been revoked before it expired.  A new one is fetched, once
 * per session.  1: try again with it; 0: not such a refusal; -1: no new
 * token (*r set: invalid_grant, the endpoint down...).
 */
static int
token_refused(struct submit *s, struct result *r)
{
	const struct smtp_trace *t = &s->tr;
	int code = t->fail_code ? t->fail_code : t->code, cached;
	char *fresh;

	if (!s->token_cached || smtp_trace_stage(t) != SMTP_AUTH ||
	    (code / 100 != 5 && code != 334))
		return 0;
	s->token_cached = 0;
	log_info("%s refused the cached OAuth2 access token: getting a new one", s->cur.host);
	if (!(fresh = oauth2_access_token(s->a, 1, &cached, r)))
		return -1;
	free_secret(s->secret);
	s->secret = fresh;
	if (curlsym_setopt_str(s->h, CURLOPT_XOAUTH2_BEARER, s->secret, "CURLOPT_XOAUTH2_BEARER",
			       r) < 0)
		return -1;
	smtp_trace_reset(&s->tr);
	s->errbuf[0] = '\0';
	return 1;
}

/*
 * A failed transfer on the session's relay: when the failure is the
 * relay's (res_try_next_relay()) and another relay is left, the session
 * moves to it and this returns 1 (try again); else 0.  A failure to set
 * the next relay's URL is in *r (and 0).
 */
int
submit_relay_failed(struct submit *s, CURLcode c, struct result *r)
{
	struct result failure;
	enum smtp_stage st = smtp_trace_stage(&s->tr);

	if (s->relay + 1 >= s->nrelays || st >= SMTP_MAIL)
		return 0;
	res_clear(&failure);
	submit_classify(s, c, &failure);
	if (!res_try_next_relay(st, &failure))
		return 0;
	if (c == CURLE_OPERATION_TIMEDOUT)
		drop_connection(s);
	return next_relay(s, &failure, r);
}

/* A failure after other relays were given up says which. */
void
submit_tried_note(const struct submit *s, struct result *r)
{
	char text[sizeof(r->text)];

	if (!s->tried)
		return;
	str_copy(text, sizeof(text), r->text);
	res_fail(r, r->cls, "%s (given up before: %s)", text, s->tried);
}

const struct submit_refusal *
submit_refusals(const struct submit *s, size_t *n)
{
	if (s->split) {
		*n = s->nmissed;
		return s->missed;
	}
	/* Without partial_delivery a refusal stops the whole message: it is
	 * the failure submit_message() reported. */
	*n = s->a->partial_delivery ? s->tr.nrefused : 0;
	return s->tr.refused;
}

static void
free_missed(struct submit *s)
{
	for (size_t i = 0; i < s->nmissed; i++) {
		free(s->missed[i].rcpt);
		free(s->missed[i].reply);
	}
	free(s->missed);
	for (size_t i = 0; i < s->nresults; i++)
		free(s->results[i]);
	free(s->results);
	s->missed = NULL;
	s->results = NULL;
	s->nmissed = s->nresults = 0;
	s->split = 0;
}

static void
add_missed(struct submit *s, const char *rcpt, int code, const char *reply,
	   const struct result *res)
{
	struct submit_refusal *m;

	s->missed = xrealloc(s->missed, (s->nmissed + 1) * sizeof(*s->missed));
	m = &s->missed[s->nmissed++];
	m->rcpt = xstrdup(rcpt);
	m->code = code;
	m->reply = xstrdup(reply ? reply : "");
	m->result = res;
}

/* A relay whose reply to the final dot timed out gets no QUIT either: the
 * socket is shut down, so libcurl's QUIT at cleanup fails at once. */
static void
drop_connection(struct submit *s)
{
	curl_socket_t fd = CURL_SOCKET_BAD;

	if (sym_curl_easy_getinfo(s->h, CURLINFO_ACTIVESOCKET, &fd) == CURLE_OK &&
	    fd != CURL_SOCKET_BAD)
		shutdown(fd, SHUT_RDWR);
}

/*
 * After the whole message went out, the relay answered with something
 * that cannot be read as a reply: lines without a reply code, or more
 * text than libcurl takes.  The relay may have taken the message.  (A
 * reply with a code the final dot cannot get is a protocol error, read as
 * such; a refusal is a refusal.)
 */
static int
unreadable_after_dot(const struct submit *s, CURLcode c)
{
	const struct smtp_trace *t = &s->tr;
	int code = t->fail_code ? t->fail_code : t->code;

	if (!submit_after_dot(s) || (code >= 400 && code < 600))
		return 0;
	if (c == CURLE_RECV_ERROR && (strstr(s->errbuf, "Too large response") ||
				      strstr(s->errbuf, "Excessive server response")))
		return 1;
	return t->body_uncoded > 0 && c != CURLE_SEND_ERROR;
}

/*
 * The size of the message from fd's offset start to EOF as libcurl sends
 * it: one more byte for every CRLF followed by '.' (RFC 5321 section
 * 4.5.2; libcurl's Curl_smtp_escape_eob() doubles the dot there).  This is
 * what SIZE= declares, at most the number of dot lines above RFC 1870's
 * count: never less, as a smaller size would cut the message.  *raw gets
 * the size as it is in the file.  -1 on a read error (errno set).
 */
static off_t
stuffed_size(int fd, off_t start, off_t *raw)
{
	char buf[65536];
	off_t total = 0, pos = start;
	int state = 0;          /* how much of "\r\n" ends what was read */
	ssize_t n;

	while ((n = pread(fd, buf, sizeof(buf), pos)) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (state == 2 && buf[i] == '.')
				total++;
			state = buf[i] == '\r' ? 1 : state == 1 && buf[i] == '\n' ? 2 : 0;
		}
		total += n;
		pos += n;
	}
	*raw = pos - start;
	return n < 0 ? -1 : total;
}

/*
 * curl_easy_perform(), again on the next relay (submit_relay_failed()) or
 * with a new OAuth2 token (token_refused()) while the failure allows:
 * nothing of the message went out then (no MAIL FROM), so it is read from
 * start again.  *c gets the last libcurl code.  Returns 0, or -1 with *r
 * set when no retry could be made that should have been.
 */
static int
perform(struct submit *s, int fd, off_t start, CURLcode *c, struct result *r)
{
	while ((*c = sym_curl_easy_perform(s->h)) != CURLE_OK) {
		int again = submit_relay_failed(s, *c, r);

		if (!again && (again = token_refused(s, r)) < 0)
			return -1;      /* no new token */
		if (!again)
			break;
		s->read_eof = 0;
		s->abort = AB_NONE;
		s->read_total = 0;
		if (lseek(fd, start, SEEK_SET) != start)
			return res_fail(r, RES_IOERR, "cannot read the spool file: %s",
					strerror(errno));
	}
	return 0;
}

/* One SMTP transaction for recipients v[0..n). */
static int
one_transaction(struct submit *s, const struct submit_envelope *env, char *const *v,
		size_t n, int fd, struct result *r)
{
	struct smtp_trace *t = &s->tr;
	struct curl_slist *rcpts = NULL;
	off_t size, start;
	CURLcode c;
	int rc = -1;

	smtp_trace_reset(t);
	for (size_t i = 0; i < n; i++) {
		struct curl_slist *n = sym_curl_slist_append(rcpts, v[i]);
		if (!n) {
			res_fail(r, RES_OSERR, "out of memory");
			goto out;
		}
		rcpts = n;
	}
	if (env->dsn_notify || env->dsn_ret || env->dsn_envid)
		log_info("DSN requests (-N/-R/-V) dropped: libcurl %s cannot pass them on",
			 sym_curl_version_info(CURLVERSION_NOW)->version);
	s->fd = fd;
	s->read_eof = 0;
	s->abort = AB_NONE;
	s->errbuf[0] = '\0';
	s->read_total = 0;
	if ((start = lseek(fd, 0, SEEK_CUR)) < 0 ||
	    (size = stuffed_size(fd, start, &s->to_read)) < 0) {
		res_fail(r, RES_IOERR, "cannot read the spool file: %s", strerror(errno));
		goto out;
	}
	/* libcurl strips one pair of <> itself; "" gives MAIL FROM:<>. */
	if (curlsym_setopt_str(s->h, CURLOPT_MAIL_FROM, env->sender, "CURLOPT_MAIL_FROM", r) < 0 ||
	    curlsym_setopt_ptr(s->h, CURLOPT_MAIL_RCPT, rcpts, "CURLOPT_MAIL_RCPT", r) < 0 ||
	    curlsym_setopt_off(s->h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size,
		       "CURLOPT_INFILESIZE_LARGE", r) < 0)
		goto out;
	if (perform(s, fd, start, &c, r) < 0)
		goto done;      /* *r says why */
	if (c == CURLE_OPERATION_TIMEDOUT)
		drop_connection(s);
	/* libcurl takes only 250 after the final dot.  Another 2xx is still
	 * the relay taking the message (RFC 5321 section 4.2.1: positive
	 * completion), and queueing it would deliver it twice. */
	if (c == CURLE_WEIRD_SERVER_REPLY && submit_after_dot(s) && !t->fail_code &&
	    t->code / 100 == 2)
		c = CURLE_OK;
	if (c != CURLE_OK && unreadable_after_dot(s, c)) {
		log_err("warning: %s: the reply to the end of the message cannot be read (%s); "
			"the relay may have taken it: counted as delivered, not sent again",
			s->a->host, s->errbuf[0] ? s->errbuf : sym_curl_easy_strerror(c));
		drop_connection(s);
		res_clear(r);
		str_copy(r->reply, sizeof(r->reply), db_str(&t->reply));
		rc = 0;
		goto done;
	}
	/* partial_delivery, and every recipient refused: libcurl gave up at
	 * RCPT, and the first refusal decides, as it does without. */
	if (c != CURLE_OK && !t->fail_code && s->a->partial_delivery && t->nrefused &&
	    t->nrefused >= n) {
		t->fail_code = t->refused[0].code;
		t->fail_stage = SMTP_RCPT;
		db_reset(&t->fail_reply);
		db_adds(&t->fail_reply, t->refused[0].reply);
		t->fail_rcpt = xstrdup(t->refused[0].rcpt);
	}
	if (c == CURLE_OK) {
		r->smtp_code = t->code;
		snprintf(r->reply, sizeof(r->reply), "%s", db_str(&t->reply));
		rc = 0;
	} else {
		submit_classify(s, c, r);
		submit_tried_note(s, r);
	}
done:
	sym_curl_easy_setopt(s->h, CURLOPT_MAIL_RCPT, NULL);
out:
	sym_curl_slist_free_all(rcpts);
	s->fd = -1;
	return rc;
}

/* 1 when rcpt is one of this transaction's refusals at RCPT. */
static int
refused_at_rcpt(const struct smtp_trace *t, const char *rcpt)
{
	for (size_t i = 0; i < t->nrefused; i++)
		if (!strcmp(t->refused[i].rcpt, rcpt))
			return 1;
	return 0;
}

/* Record what became of the recipients v[0..n) of one transaction of a
 * split envelope (rc, *cr), or that it was not tried (cr: why). */
static void
note_transaction(struct submit *s, char *const *v, size_t n, int rc, const struct result *cr,
		 int tried)
{
	struct result *keep = NULL;

	if (tried && s->a->partial_delivery)
		for (size_t i = 0; i < s->tr.nrefused; i++)
			add_missed(s, s->tr.refused[i].rcpt, s->tr.refused[i].code,
				   s->tr.refused[i].reply, NULL);
	if (rc == 0)
		return;
	keep = xmalloc(sizeof(*keep));
	*keep = *cr;
	s->results = xrealloc(s->results, (s->nresults + 1) * sizeof(*s->results));
	s->results[s->nresults++] = keep;
	for (size_t i = 0; i < n; i++)
		if (!tried || !s->a->partial_delivery || !refused_at_rcpt(&s->tr, v[i]))
			add_missed(s, v[i], cr->smtp_code ? cr->smtp_code : -1, cr->reply, keep);
}

int
submit_message(struct submit *s, const struct submit_envelope *env, int fd,
	       struct result *r)
{
	size_t n = env->rcpts->n;
	off_t start;
	int delivered = 0, down = 0;
	struct result first;

	free_missed(s);
	if (n <= SUBMIT_RCPT_MAX)
		return one_transaction(s, env, env->rcpts->v, n, fd, r);
	/* Split: every transaction reads the message from the same start. */
	s->split = 1;
	res_clear(&first);
	if ((start = lseek(fd, 0, SEEK_CUR)) < 0)
		return res_fail(r, RES_IOERR, "cannot read the spool file: %s", strerror(errno));
	for (size_t off = 0; off < n; off += SUBMIT_RCPT_MAX) {
		size_t k = n - off < SUBMIT_RCPT_MAX ? n - off : SUBMIT_RCPT_MAX;
		char *const *v = env->rcpts->v + off;
		struct result cr;
		int rc = -1;

		res_clear(&cr);
		if (down)
			cr = first;     /* the relay is down: not tried */
		else if (lseek(fd, start, SEEK_SET) != start)
			res_fail(&cr, RES_IOERR, "cannot read the spool file: %s", strerror(errno));
		else
			rc = one_transaction(s, env, v, k, fd, &cr);
		note_transaction(s, v, k, rc, &cr, !down);
		if (rc == 0) {
			delivered = 1;
			r->smtp_code = cr.smtp_code;
			str_copy(r->reply, sizeof(r->reply), cr.reply);
		} else if (first.cls == RES_OK) {
			first = cr;
		}
		down = down || (rc != 0 && res_relay_down(&cr));
	}
	if (delivered)
		return 0;
	*r = first;
	return -1;
}

int
submit_after_dot(const struct submit *s)
{
	/* libcurl stops reading at the size it was given (INFILESIZE): the
	 * message was read whole without a read at its end. */
	return s->tr.stage == SMTP_BODY && (s->read_eof || s->read_total >= s->to_read);
}

void
submit_free(struct submit *s)
{
	if (!s)
		return;
	if (s->h)
		sym_curl_easy_cleanup(s->h);
	free_secret(s->secret);
	free(s->url);
	for (size_t i = 0; i < s->nrelays; i++)
		free(s->relays[i]);
	free(s->relays);
	free(s->tried);
	smtp_trace_free(&s->tr);
	free_missed(s);
	free(s);
}
