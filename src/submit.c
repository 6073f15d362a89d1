/*
 * submit.c - messages to a relay through libcurl's SMTP transport.
 *
 * The only file that includes curl.h.  libcurl's own error codes are
 * coarse (LIBRARY-NOTES trap 6), so the debug callback follows the SMTP
 * dialogue: which command was sent last (the stage), every reply's code
 * and text, whether AUTH succeeded (235), whether the relay offered AUTH.
 * Failures are classified from all three (classify()).
 *
 * Guards against libcurl's traps:
 *  - INFILESIZE is never set (trap 1: silent truncation).
 *  - CURLOPT_CRLF is never set; the spool file is CRLF already (trap 2).
 *  - Addresses reach us checked by addr_check() (trap 3).
 *  - With credentials configured, no MAIL FROM is sent unless AUTH
 *    succeeded: the pre-request callback aborts the transfer (trap 4).
 *  - CURLOPT_LOGIN_OPTIONS is always set (trap 5).
 *  - The EHLO name, the proxy (even "none") and every timeout are set
 *    explicitly (traps 9, 10, 11).
 */
#include "config.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lazylib.h"
#include "log.h"
#include "submit.h"
#include "util.h"

enum stage {
	ST_CONNECT, ST_EHLO, ST_STARTTLS, ST_AUTH, ST_MAIL, ST_RCPT, ST_DATA,
	ST_BODY,    /* DATA accepted (354): the message is being sent */
	ST_QUIT,
	ST_OTHER    /* NOOP and the like (--serverinfo) */
};

enum abort_reason { AB_NONE, AB_NO_AUTH, AB_READ };

struct submit {
	CURL *h;
	const struct account *a;
	char *secret;
	int need_auth;
	char *url;
	char errbuf[CURL_ERROR_SIZE];
	struct log_transcript tr;

	/* Followed in the debug callback, per connection or per message. */
	enum stage stage;
	enum stage before_quit; /* the stage libcurl's QUIT interrupted */
	int auth_offered;       /* EHLO listed AUTH */
	int auth_ok;            /* 235 seen on this connection */
	int in_sasl;            /* between "AUTH MECH" and its final reply */
	int code;               /* code of the last complete reply */
	struct dynbuf reply;    /* its text, lines joined by spaces */
	struct dynbuf partial;  /* lines of a multi-line reply so far */
	char *rcpt;             /* the recipient of the last RCPT TO */
	/* The first refusal (4xx/5xx) of the transaction decides its failure;
	 * libcurl sends QUIT after it, so the last reply would mislead.  With
	 * partial_delivery, libcurl goes on past a refused RCPT: that refusal
	 * is the recipient's alone (refused, below), not the transaction's,
	 * unless every recipient was refused (submit_message()). */
	int fail_code;
	enum stage fail_stage;
	struct dynbuf fail_reply;
	char *fail_rcpt;        /* the recipient, when it was a RCPT */

	/* Recipients refused at RCPT (with partial delivery, while libcurl
	 * went on with the others). */
	struct submit_refusal *refused;
	size_t nrefused;
	/* --serverinfo: where to record the greeting and capabilities. */
	struct submit_probe *probe;

	/* The message being sent. */
	int fd;
	int read_eof;
	int read_errno;
	enum abort_reason abort;
};

/* ---- libcurl, loaded on first use (lazylib.h) ---- */

static __typeof__(curl_global_init) *sym_curl_global_init;
static __typeof__(curl_easy_init) *sym_curl_easy_init;
static __typeof__(curl_easy_setopt) *sym_curl_easy_setopt;
static __typeof__(curl_easy_perform) *sym_curl_easy_perform;
static __typeof__(curl_easy_getinfo) *sym_curl_easy_getinfo;
static __typeof__(curl_easy_strerror) *sym_curl_easy_strerror;
static __typeof__(curl_easy_cleanup) *sym_curl_easy_cleanup;
static __typeof__(curl_slist_append) *sym_curl_slist_append;
static __typeof__(curl_slist_free_all) *sym_curl_slist_free_all;
static __typeof__(curl_version_info) *sym_curl_version_info;

/*
 * curl_global_init() calls libssh2_init(0) when libcurl is built with SCP
 * and SFTP, as Debian's is, and that initialises OpenSSL: error strings,
 * engines, providers, about a million instructions, 7% of a whole small
 * send.  mailout never speaks SSH (CURLOPT_PROTOCOLS_STR is smtp,smtps),
 * so it takes libssh2's first, counted reference itself with the flag
 * that leaves the crypto library alone; libcurl's call then only counts.
 */
#define MO_LIBSSH2_INIT_NO_CRYPTO 0x0001   /* libssh2.h's LIBSSH2_INIT_NO_CRYPTO */

static void
skip_ssh_crypto_init(void *curl)
{
	int (*ssh2_init)(int);

	*(void **)&ssh2_init = dlsym(curl, "libssh2_init");
	if (ssh2_init)
		ssh2_init(MO_LIBSSH2_INIT_NO_CRYPTO);
}

int
submit_global_init(struct result *r)
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
	void *h;

	if (done)
		return 0;
	if (!(h = lazy_open(MO_LIBCURL_SONAME, syms, sizeof(syms) / sizeof(syms[0]), r)) ||
	    lazy_gnutls(r) < 0)
		return -1;
	skip_ssh_crypto_init(h);
	if (sym_curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return res_fail(r, RES_SOFTWARE, "cannot initialise libcurl");
	done = 1;
	return 0;
}

/* ---- following the dialogue ---- */

/*
 * Can a command at stage st get a reply with this code?  Every command may
 * be refused (4xx, 5xx: RFC 5321 section 4.2.1); it succeeds with a 2xx,
 * except DATA, which goes on with 354; 334 carries an AUTH challenge.
 * Anything else (a 1xx, another 3xx, a 2xx to DATA, a code outside
 * 100-599, no code at all) is the relay breaking the protocol.
 */
static int
reply_fits(enum stage st, int code)
{
	if (code >= 400 && code < 600)
		return 1;
	switch (st) {
	case ST_DATA:
		return code == 354;
	case ST_AUTH:
		return code == 334 || (code >= 200 && code < 300);
	default:
		return code >= 200 && code < 300;
	}
}

static void
on_command(struct submit *s, const char *line, size_t n)
{
	/* Between "AUTH MECH" and the relay's final reply to it every line
	 * is a SASL response: base64 that may well start like a verb
	 * ("eHlo..." is base64 of "xyh..."), never a command. */
	if (s->in_sasl)
		return;
	if (n >= 4 && strncasecmp(line, "EHLO", 4) == 0) {
		s->stage = ST_EHLO;
		s->auth_offered = 0;
		if (s->probe) {   /* keep only the last EHLO's answer */
			for (size_t i = 0; i < s->probe->nehlo; i++)
				free(s->probe->ehlo[i]);
			s->probe->nehlo = 0;
		}
	} else if (n >= 8 && strncasecmp(line, "STARTTLS", 8) == 0 && s->probe) {
		/* The EHLO answer in plain text is the one that offers
		 * STARTTLS: keep it apart from the one after. */
		struct submit_probe *p = s->probe;
		for (size_t i = 0; i < p->nehlo_plain; i++)
			free(p->ehlo_plain[i]);
		free(p->ehlo_plain);
		p->ehlo_plain = p->ehlo;
		p->nehlo_plain = p->nehlo;
		p->ehlo = NULL;
		p->nehlo = 0;
		s->stage = ST_STARTTLS;
	} else if (n >= 4 && strncasecmp(line, "HELO", 4) == 0) {
		/* libcurl falls back to HELO when EHLO is refused: HELO's
		 * reply decides, not EHLO's. */
		if (s->fail_code && s->fail_stage == ST_EHLO)
			s->fail_code = 0;
		s->stage = ST_EHLO;
	} else if (n >= 8 && strncasecmp(line, "STARTTLS", 8) == 0) {
		s->stage = ST_STARTTLS;
	} else if (n >= 5 && strncasecmp(line, "AUTH ", 5) == 0) {
		s->stage = ST_AUTH;
		s->in_sasl = 1;
	} else if (n >= 10 && strncasecmp(line, "MAIL FROM:", 10) == 0) {
		s->stage = ST_MAIL;
	} else if (n >= 8 && strncasecmp(line, "RCPT TO:", 8) == 0) {
		const char *lt = memchr(line, '<', n), *gt = memchr(line, '>', n);
		s->stage = ST_RCPT;
		free(s->rcpt);
		s->rcpt = lt && gt && gt > lt ? xstrndup(lt + 1, (size_t)(gt - lt - 1))
					      : xstrndup(line + 8, n - 8);
	} else if (n >= 4 && strncasecmp(line, "DATA", 4) == 0) {
		s->stage = ST_DATA;
	} else if (n >= 4 && strncasecmp(line, "QUIT", 4) == 0) {
		/* libcurl says QUIT on its way out of a failure too: the
		 * failure belongs to the stage before. */
		if (s->stage != ST_QUIT)
			s->before_quit = s->stage;
		s->stage = ST_QUIT;
	} else if (n >= 4 && (!strncasecmp(line, "NOOP", 4) || !strncasecmp(line, "RSET", 4) ||
			      !strncasecmp(line, "HELP", 4) || !strncasecmp(line, "VRFY", 4))) {
		s->stage = ST_OTHER;
	}
	/* Anything else is a client response inside AUTH: the stage stays. */
}

static void
on_reply_line(struct submit *s, const char *line, size_t n)
{
	/* The line ends a reply when libcurl says so (smtp_endofresp()):
	 * three digits, then a space or nothing.  libcurl reads past any
	 * other line, a "DDD-" continuation or one that is no reply at all,
	 * and waits for the line that ends the reply: its text is kept with
	 * that reply's, and it decides nothing on its own. */
	int digits = n >= 3 && isdigit((unsigned char)line[0]) &&
		     isdigit((unsigned char)line[1]) && isdigit((unsigned char)line[2]);
	int last = digits && (n == 3 || line[3] == ' ');
	const char *text = n > 4 ? line + 4 : "";
	size_t tlen = n > 4 ? n - 4 : 0;

	/* A greeting means a new connection: nothing is authenticated on it. */
	if (s->stage == ST_CONNECT)
		s->auth_ok = 0;
	if (s->stage == ST_EHLO && tlen >= 4 && strncasecmp(text, "AUTH", 4) == 0 &&
	    (tlen == 4 || text[4] == ' ' || text[4] == '='))
		s->auth_offered = 1;
	if (s->probe && s->stage == ST_EHLO) {
		struct submit_probe *p = s->probe;
		p->ehlo = xrealloc(p->ehlo, (p->nehlo + 1) * sizeof(char *));
		p->ehlo[p->nehlo++] = xstrndup(line, n);
	}
	if (!digits) {
		/* No reply code at all.  Should nothing valid follow, this
		 * line is what the relay said (classify(): not SMTP). */
		s->code = -1;
		db_reset(&s->reply);
		db_add(&s->reply, line, n);
		return;
	}
	if (s->partial.len)
		db_addc(&s->partial, ' ');
	db_add(&s->partial, line, n);
	if (!last)
		return;
	/* A complete reply; a code under 100 is no SMTP reply code. */
	s->code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (s->code < 100)
		s->code = -1;
	db_reset(&s->reply);
	db_add(&s->reply, s->partial.s, s->partial.len);
	db_reset(&s->partial);
	if (s->stage == ST_AUTH && s->code == 235)
		s->auth_ok = 1;
	if (s->code != 334)
		s->in_sasl = 0;         /* the exchange is over, either way */
	/* A refusal, or a reply the command cannot get (reply_fits()).
	 * QUIT's reply decides nothing; a refused EHLO is forgotten when
	 * libcurl falls back to HELO (on_command()); with partial_delivery a
	 * refused RCPT is only that recipient's (below). */
	if (!s->fail_code && s->stage != ST_QUIT &&
	    !(s->stage == ST_RCPT && s->a->partial_delivery) &&
	    (s->code >= 400 || !reply_fits(s->stage, s->code))) {
		s->fail_code = s->code;
		s->fail_stage = s->stage;
		db_reset(&s->fail_reply);
		db_adds(&s->fail_reply, db_str(&s->reply));
		free(s->fail_rcpt);
		s->fail_rcpt = s->stage == ST_RCPT && s->rcpt ? xstrdup(s->rcpt) : NULL;
	}
	/* Whatever is not a 2xx refuses the recipient for libcurl (with
	 * MO_CURLOPT_ALLOWFAILS it goes on to the others). */
	if (s->stage == ST_RCPT && s->code / 100 != 2) {
		s->refused = xrealloc(s->refused, (s->nrefused + 1) * sizeof(*s->refused));
		s->refused[s->nrefused].rcpt = xstrdup(s->rcpt ? s->rcpt : "?");
		s->refused[s->nrefused].code = s->code;
		s->refused[s->nrefused].reply = xstrdup(db_str(&s->reply));
		s->nrefused++;
	}
	if (s->probe && s->stage == ST_CONNECT) {
		free(s->probe->greeting);
		s->probe->greeting = xstrdup(db_str(&s->reply));
	}
	if (s->stage == ST_DATA && s->code == 354)
		s->stage = ST_BODY;
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
		s->probe->tls_desc = xstrdup(d);
		lazy_gnutls_free(d);
	}
}

static int
on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *userp)
{
	struct submit *s = userp;
	int out = type == CURLINFO_HEADER_OUT;

	if (s->probe && !s->probe->tls_desc && out && s->a->tls != TLS_OFF &&
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
		char *nl = memchr(data, '\n', size);
		size_t len = nl ? (size_t)(nl - data) + 1 : size, n = len;

		while (n && (data[n - 1] == '\n' || data[n - 1] == '\r'))
			n--;
		if (out)
			on_command(s, data, n);
		else
			on_reply_line(s, data, n);
		if (log_verbose_level)
			log_transcript_line(&s->tr, out, data, n);
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
	if (s->need_auth && !s->auth_ok) {
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
	if (s->need_auth && !s->auth_ok) {
		s->abort = AB_NO_AUTH;
		return CURL_READFUNC_ABORT;
	}
	n = read_retry(s->fd, buf, size * nitems);
	if (n < 0) {
		s->read_errno = errno;
		s->abort = AB_READ;
		return CURL_READFUNC_ABORT;
	}
	if (n == 0)
		s->read_eof = 1;
	return (size_t)n;
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

#define SETOPT(opt, val) do { \
		if (sym_curl_easy_setopt(s->h, opt, val) != CURLE_OK) { \
			res_fail(r, RES_SOFTWARE, "libcurl refused option %s", #opt); \
			goto fail; \
		} \
	} while (0)

struct submit *
submit_new(const struct account *a, struct result *r)
{
	struct submit *s = xcalloc(1, sizeof(*s));
	const char *host = a->host;
	int v6 = strchr(host, ':') && host[0] != '[';

	s->a = a;
	s->fd = -1;
	s->need_auth = conf_auth_enabled(a);
	/* Checked when the account was chosen, but a queue run comes here
	 * directly: a missing TLS file must not look like a failed handshake
	 * (temporary), nor a missing user like a refused login. */
	if (conf_check_account(a, 1, r) < 0)
		goto fail;
	if (s->need_auth) {
		if (a->auth != AUTH_EXTERNAL && !(s->secret = conf_secret(a, r)))
			goto fail;
	}
	s->url = xasprintf("%s://%s%s%s:%ld/%s", a->tls == TLS_SMTPS ? "smtps" : "smtp",
			   v6 ? "[" : "", host, v6 ? "]" : "", conf_port(a),
			   a->domain ? a->domain : host_fqdn());
	s->h = sym_curl_easy_init();
	if (!s->h) {
		res_fail(r, RES_SOFTWARE, "cannot initialise libcurl");
		goto fail;
	}
	SETOPT(CURLOPT_URL, s->url);
	SETOPT(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_ERRORBUFFER, s->errbuf);
	SETOPT(CURLOPT_VERBOSE, 1L);
	SETOPT(CURLOPT_DEBUGFUNCTION, on_debug);
	SETOPT(CURLOPT_DEBUGDATA, s);
	SETOPT(CURLOPT_PREREQFUNCTION, on_prereq);
	SETOPT(CURLOPT_PREREQDATA, s);
	SETOPT(CURLOPT_READFUNCTION, on_read);
	SETOPT(CURLOPT_READDATA, s);
	SETOPT(CURLOPT_UPLOAD, 1L);
	SETOPT(CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
	SETOPT(CURLOPT_USE_SSL, a->tls == TLS_STARTTLS ? (long)CURLUSESSL_ALL
						       : (long)CURLUSESSL_NONE);
	if (a->tls_pin) {
		/* A pinned key is the trust decision (as msmtp's tls_fingerprint):
		 * a self-signed relay needs no CA; a different key is refused. */
		SETOPT(CURLOPT_PINNEDPUBLICKEY, a->tls_pin);
		SETOPT(CURLOPT_SSL_VERIFYPEER, 0L);
		SETOPT(CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
		SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	}
	if (a->tls_trust_file) {
		/* Instead of the system store, as mailout.conf(5) says: Debian's
		 * libcurl also loads its built-in CA directory unless told not
		 * to, and any public CA would then do. */
		SETOPT(CURLOPT_CAINFO, a->tls_trust_file);
		SETOPT(CURLOPT_CAPATH, (char *)NULL);
	}
	/* TLS 1.0 and 1.1 are withdrawn (RFC 8996): never send a password
	 * over them. */
	SETOPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (a->tls_cert_file) {
		SETOPT(CURLOPT_SSLCERT, a->tls_cert_file);
		SETOPT(CURLOPT_SSLCERTTYPE, "PEM");
		SETOPT(CURLOPT_SSLKEY, a->tls_key_file ? a->tls_key_file : a->tls_cert_file);
		SETOPT(CURLOPT_SSLKEYTYPE, "PEM");
	}
	SETOPT(CURLOPT_CONNECTTIMEOUT, a->timeout);
	SETOPT(CURLOPT_SERVER_RESPONSE_TIMEOUT, a->timeout);
	SETOPT(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SETOPT(CURLOPT_LOW_SPEED_TIME, a->timeout);
	SETOPT(CURLOPT_PROXY, a->proxy ? a->proxy : "");
	if (a->source_ip) {
		char *iface = xasprintf("host!%s", a->source_ip);
		CURLcode c = sym_curl_easy_setopt(s->h, CURLOPT_INTERFACE, iface);
		free(iface);
		if (c != CURLE_OK) {
			res_fail(r, RES_SOFTWARE, "libcurl refused option CURLOPT_INTERFACE");
			goto fail;
		}
	}
	if (a->partial_delivery)
		SETOPT(MO_CURLOPT_ALLOWFAILS, 1L);
	if (s->need_auth) {
		SETOPT(CURLOPT_LOGIN_OPTIONS, login_options(a));
		SETOPT(CURLOPT_USERNAME, a->user ? a->user : "");
		if (a->auth == AUTH_XOAUTH2 || a->auth == AUTH_OAUTHBEARER)
			SETOPT(CURLOPT_XOAUTH2_BEARER, s->secret);
		else if (s->secret)
			SETOPT(CURLOPT_PASSWORD, s->secret);
	} else {
		SETOPT(CURLOPT_LOGIN_OPTIONS, "AUTH=*");
	}
	return s;
fail:
	submit_free(s);
	return NULL;
}

/* Did the relay's name fail to resolve for good, or only for now? */
static int
dns_class(const char *host)
{
	struct addrinfo hints, *ai = NULL;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, NULL, &hints, &ai);
	if (ai)
		freeaddrinfo(ai);
	return rc == EAI_NONAME || rc == EAI_NODATA ? RES_NOHOST : RES_TEMPFAIL;
}

/* 1 when the host name of the proxy URL resolves (or is a literal). */
static int
proxy_resolves(const char *url)
{
	const char *h = strstr(url, "://"), *at, *end;
	struct addrinfo hints, *ai = NULL;
	char *host;
	int rc;

	h = h ? h + 3 : url;
	end = h + strcspn(h, "/?#");
	at = memrchr(h, '@', (size_t)(end - h));
	if (at)
		h = at + 1;
	if (*h == '[')
		return 1;
	host = xstrndup(h, strcspn(h, ":/?#"));
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, NULL, &hints, &ai);
	if (ai)
		freeaddrinfo(ai);
	free(host);
	return rc == 0;
}

static const char *
stage_name(enum stage st)
{
	switch (st) {
	case ST_CONNECT:  return "the greeting";
	case ST_EHLO:     return "EHLO";
	case ST_STARTTLS: return "STARTTLS";
	case ST_AUTH:     return "AUTH";
	case ST_MAIL:     return "MAIL FROM";
	case ST_RCPT:     return "RCPT TO";
	case ST_DATA:     return "DATA";
	case ST_BODY:     return "the end of the message";
	case ST_QUIT:     return "QUIT";
	case ST_OTHER:    return "a command";
	}
	return "?";
}

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

/* Turn a libcurl code plus what the dialogue showed into a result. */
static int
classify(struct submit *s, CURLcode c, struct result *r)
{
	const char *where = s->a->host;
	/* libcurl's own text, unless it quotes the proxy's password. */
	const char *err = s->errbuf[0] && !quotes_proxy_password(s->a->proxy, s->errbuf)
			  ? s->errbuf : sym_curl_easy_strerror(c);
	/* The first refusal decides, else the last reply. */
	const char *reply = s->fail_code ? db_str(&s->fail_reply) : db_str(&s->reply);
	int code = s->fail_code ? s->fail_code : s->code;
	enum stage stage = s->fail_code ? s->fail_stage : s->stage;
	char proxy[512];

	if (stage == ST_QUIT && !s->fail_code)
		stage = s->before_quit;

	/* Only a refusal is worth reporting as the relay's status (a reply
	 * that breaks the protocol is reported below). */
	if (code >= 400 && code < 600) {
		r->smtp_code = code;
		snprintf(r->reply, sizeof(r->reply), "%s", reply);
		/* 530 is "authenticate first": our settings, not the message. */
		r->about_message = code != 530 && (stage == ST_MAIL || stage == ST_RCPT ||
						   stage == ST_DATA || stage == ST_BODY);
	}
	/* A reply the command cannot get, whatever libcurl made of it (a
	 * failed MAIL, refused credentials, a denied HELO...): the relay
	 * broke the protocol.  Its reply is the status, as for a refusal. */
	if (s->fail_code && !reply_fits(stage, code)) {
		if (code < 0)
			return res_fail(r, RES_PROTOCOL, "%s broke the SMTP protocol at %s: %s",
					where, stage_name(stage), reply);
		r->smtp_code = code;
		snprintf(r->reply, sizeof(r->reply), "%s", reply);
		return res_fail(r, RES_PROTOCOL, "%s broke the SMTP protocol at %s: reply code "
				"%d is not valid there (it said: %s)", where, stage_name(stage),
				code, reply);
	}
	switch (c) {
	case CURLE_ABORTED_BY_CALLBACK:
		if (s->abort == AB_READ)
			return res_fail(r, RES_IOERR, "cannot read the spool file: %s",
					strerror(s->read_errno));
		if (s->abort == AB_NO_AUTH)
			return res_fail(r, RES_UNAVAILABLE, s->auth_offered
					? "%s offers no AUTH mechanism that account \"%s\" may use; "
					  "nothing sent"
					: "%s did not offer AUTH, and account \"%s\" has credentials; "
					  "nothing sent (relays often offer AUTH only after STARTTLS; "
					  "see tls and auth in mailout.conf(5))",
					where, s->a->name);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		/* libcurl 7.88 reports a SOCKS proxy whose name does not
		 * resolve this way too (only HTTP proxies get
		 * COULDNT_RESOLVE_PROXY): then the relay was not even looked
		 * up, and a proxy problem is a temporary one. */
		if (s->a->proxy && *s->a->proxy && !proxy_resolves(s->a->proxy)) {
			conf_proxy_display(s->a->proxy, proxy, sizeof(proxy));
			return res_fail(r, RES_TEMPFAIL, "cannot resolve proxy %s (for relay %s): %s",
					proxy, where, err);
		}
		return res_fail(r, dns_class(s->a->host) == RES_NOHOST ? RES_NOHOST : RES_TEMPFAIL,
				"cannot resolve relay host %s: %s", where, err);
	case CURLE_COULDNT_RESOLVE_PROXY:
		conf_proxy_display(s->a->proxy ? s->a->proxy : "", proxy, sizeof(proxy));
		return res_fail(r, RES_TEMPFAIL, "cannot resolve proxy %s (for relay %s): %s",
				proxy, where, err);
	case CURLE_COULDNT_CONNECT:
		/* With a proxy, libcurl connects to the proxy only: the relay
		 * was not even tried. */
		if (!s->a->proxy || !*s->a->proxy)
			break;
		conf_proxy_display(s->a->proxy, proxy, sizeof(proxy));
		return res_fail(r, RES_TEMPFAIL, "cannot connect to proxy %s (for relay %s): %s",
				proxy, where, err);
	case CURLE_PROXY:
		/* The proxy answered, but could not (or would not) reach the relay. */
		conf_proxy_display(s->a->proxy ? s->a->proxy : "", proxy, sizeof(proxy));
		return res_fail(r, RES_TEMPFAIL, "proxy %s could not connect to relay %s: %s",
				proxy, where, err);
	case CURLE_PEER_FAILED_VERIFICATION:
		return res_fail(r, RES_UNAVAILABLE, "TLS certificate of %s not trusted: %s "
				"(mailout --serverinfo shows it; see tls_trust_file and tls_pin in "
				"mailout.conf(5))", where, err);
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return res_fail(r, RES_UNAVAILABLE,
				"public key of %s does not match tls_pin (see mailout --serverinfo)",
				where);
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
		return res_fail(r, RES_CONFIG, "TLS settings of account \"%s\": %s",
				s->a->name, err);
	case CURLE_USE_SSL_FAILED:
		/* Offered, then refused: the reply decides (4xx: temporary). */
		if (stage == ST_STARTTLS && code >= 400 && code < 600)
			return res_fail(r, code < 500 ? RES_TEMPFAIL : RES_UNAVAILABLE,
					"%s %s STARTTLS: %s; nothing sent in plain text", where,
					code < 500 ? "deferred" : "refused", reply);
		return res_fail(r, RES_UNAVAILABLE,
				"%s does not offer STARTTLS; nothing sent in plain text "
				"(tls = smtps, or tls = off if that is really wanted: see tls in "
				"mailout.conf(5))", where);
	case CURLE_LOGIN_DENIED:
		/* No AUTH command went out: libcurl found no mechanism both
		 * sides may use (auth = cram-md5 against "AUTH LOGIN", say). */
		if (s->auth_offered && stage != ST_AUTH)
			return res_fail(r, RES_UNAVAILABLE, "%s offers no AUTH mechanism that "
					"account \"%s\" may use; nothing sent (see auth in "
					"mailout.conf(5))", where, s->a->name);
		if (code >= 400 && code < 500)
			return res_fail(r, RES_TEMPFAIL, "%s: authentication failed for now: %s",
					where, reply);
		/* 235 with a failure, no AUTH offered, or a code outside
		 * 2xx-5xx: not a verdict on the credentials (below). */
		if (code == 235 || !s->auth_offered || code < 200 || code >= 600)
			break;
		return res_fail(r, RES_NOPERM, "%s refused the credentials of account \"%s\"%s%s",
				where, s->a->name, code > 0 ? ": " : "", code > 0 ? reply : "");
	case CURLE_READ_ERROR:
		return res_fail(r, RES_IOERR, "cannot read the spool file");
	case CURLE_INTERFACE_FAILED: {
		/* Not an address of this host: a setting to fix, not a retry. */
		const struct conf_where *w = &s->a->where[conf_key_index("source_ip")];
		char at[600] = "";

		if (w->file && w->file != CONF_COMMAND_LINE && w->line)
			snprintf(at, sizeof(at), "%s:%d: ", w->file, w->line);
		return res_fail(r, RES_CONFIG, "%saccount \"%s\": source_ip %s: %s (see "
				"mailout.conf(5), DEFAULTS AND ACCOUNTS)", at, s->a->name,
				s->a->source_ip ? s->a->source_ip : "?", err);
	}
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return res_fail(r, RES_CONFIG, "account \"%s\": %s", s->a->name, err);
	case CURLE_OUT_OF_MEMORY:
		return res_fail(r, RES_OSERR, "out of memory in libcurl");
	default:
		break;
	}
	/* What the relay answered decides, when it answered. */
	if (code >= 400 && code < 600 && (c == CURLE_SEND_ERROR || c == CURLE_WEIRD_SERVER_REPLY ||
					  c == CURLE_RECV_ERROR || c == CURLE_LOGIN_DENIED ||
					  c == CURLE_QUOTE_ERROR || c == CURLE_REMOTE_ACCESS_DENIED)) {
		if (code < 500 && stage == ST_RCPT)
			return res_fail(r, RES_TEMPFAIL, "%s deferred recipient %s: %s", where,
					s->fail_rcpt ? s->fail_rcpt : "?", reply);
		if (code < 500)
			return res_fail(r, RES_TEMPFAIL, "%s deferred the message at %s: %s",
					where, stage_name(stage), reply);
		if (stage == ST_RCPT)
			return res_fail(r, RES_NOUSER, "%s refused recipient %s: %s", where,
					s->fail_rcpt ? s->fail_rcpt : "?", reply);
		return res_fail(r, RES_UNAVAILABLE, "%s refused the message at %s: %s", where,
				stage_name(stage), reply);
	}
	/* A code outside 2xx-5xx, or no code at all, is not SMTP. */
	if (code < 0 || code >= 600 || c == CURLE_WEIRD_SERVER_REPLY ||
	    c == CURLE_FTP_WEIRD_SERVER_REPLY) {
		r->smtp_code = 0;
		if (code < 0 || !*reply)
			return res_fail(r, RES_PROTOCOL, "%s broke the SMTP protocol at %s: %s",
					where, stage_name(stage), code < 0 ? reply : err);
		return res_fail(r, RES_PROTOCOL, "%s broke the SMTP protocol at %s: %s "
				"(it said: %s)", where, stage_name(stage), err, reply);
	}
	if (c == CURLE_OPERATION_TIMEDOUT && stage == ST_BODY && s->read_eof)
		return res_fail(r, RES_TEMPFAIL,
				"%s did not answer the end of the message in time; it may have "
				"been delivered: %s", where, err);
	/* The two ways to mix up the ports: both look like a relay that is
	 * down, so say what else they may be (still temporary: the relay
	 * may really be down). */
	if (c == CURLE_OPERATION_TIMEDOUT && stage == ST_CONNECT && !code &&
	    s->a->tls != TLS_SMTPS && conf_port(s->a) == 465)
		return res_fail(r, RES_TEMPFAIL, "%s: %s (at the greeting; port 465 usually "
				"speaks TLS from the first byte and sends no greeting before it: "
				"tls = smtps)", where, err);
	if (c == CURLE_SSL_CONNECT_ERROR && stage == ST_CONNECT && !code &&
	    s->a->tls == TLS_SMTPS && (strstr(err, "unexpected TLS packet") ||
				       strstr(err, "unexpected length")))
		return res_fail(r, RES_TEMPFAIL, "%s: TLS handshake failed: %s (tls = smtps "
				"expects TLS from the first byte, as on port 465; a relay that "
				"answers in plain text on port %ld wants tls = starttls)",
				where, err, conf_port(s->a));
	/* Refused, reset or timed-out connections and anything else: retry later. */
	return res_fail(r, RES_TEMPFAIL, "%s: %s (at %s)", where, err, stage_name(stage));
}

static void
free_refusals(struct submit *s)
{
	for (size_t i = 0; i < s->nrefused; i++) {
		free(s->refused[i].rcpt);
		free(s->refused[i].reply);
	}
	free(s->refused);
	s->refused = NULL;
	s->nrefused = 0;
}

const struct submit_refusal *
submit_refusals(const struct submit *s, size_t *n)
{
	/* Without partial_delivery a refusal stops the whole message: it is
	 * the failure submit_message() reported. */
	*n = s->a->partial_delivery ? s->nrefused : 0;
	return s->refused;
}

/*
 * A relay that let a reply time out gets no QUIT: libcurl 7.88 keeps a
 * connection whose final dot timed out, sends QUIT at cleanup and waits
 * for its reply as long again (a hung relay cost twice the timeout).
 * Shutting the socket down makes that QUIT fail at once.
 */
static void
drop_connection(struct submit *s)
{
	curl_socket_t fd = CURL_SOCKET_BAD;

	if (sym_curl_easy_getinfo(s->h, CURLINFO_ACTIVESOCKET, &fd) == CURLE_OK &&
	    fd != CURL_SOCKET_BAD)
		shutdown(fd, SHUT_RDWR);
}

int
submit_message(struct submit *s, const struct submit_envelope *env, int fd,
	       struct result *r)
{
	struct curl_slist *rcpts = NULL;
	CURLcode c;
	int rc = -1;

	free_refusals(s);
	for (size_t i = 0; i < env->rcpts->n; i++) {
		struct curl_slist *n = sym_curl_slist_append(rcpts, env->rcpts->v[i]);
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
	s->code = 0;
	db_reset(&s->reply);
	db_reset(&s->partial);
	s->fail_code = 0;
	db_reset(&s->fail_reply);
	free(s->fail_rcpt);
	s->fail_rcpt = NULL;
	/* A new connection starts at the greeting; a reused one at MAIL. */
	s->stage = ST_CONNECT;
	s->in_sasl = 0;
	/* libcurl strips one pair of <> itself; "" gives MAIL FROM:<>. */
	if (sym_curl_easy_setopt(s->h, CURLOPT_MAIL_FROM, env->sender) != CURLE_OK ||
	    sym_curl_easy_setopt(s->h, CURLOPT_MAIL_RCPT, rcpts) != CURLE_OK) {
		res_fail(r, RES_SOFTWARE, "libcurl refused the envelope");
		goto out;
	}
	c = sym_curl_easy_perform(s->h);
	if (c == CURLE_OPERATION_TIMEDOUT)
		drop_connection(s);
	/* libcurl takes only 250 after the final dot.  Another 2xx is still
	 * the relay taking the message (RFC 5321 section 4.2.1: positive
	 * completion), and queueing it would deliver it twice. */
	if (c == CURLE_WEIRD_SERVER_REPLY && submit_after_dot(s) && !s->fail_code &&
	    s->code / 100 == 2)
		c = CURLE_OK;
	/* partial_delivery, and every recipient refused: libcurl gave up at
	 * RCPT, and the first refusal decides, as it does without. */
	if (c != CURLE_OK && !s->fail_code && s->a->partial_delivery && s->nrefused &&
	    s->nrefused >= env->rcpts->n) {
		s->fail_code = s->refused[0].code;
		s->fail_stage = ST_RCPT;
		db_reset(&s->fail_reply);
		db_adds(&s->fail_reply, s->refused[0].reply);
		s->fail_rcpt = xstrdup(s->refused[0].rcpt);
	}
	if (c == CURLE_OK) {
		r->smtp_code = s->code;
		snprintf(r->reply, sizeof(r->reply), "%s", db_str(&s->reply));
		rc = 0;
	} else {
		classify(s, c, r);
	}
	sym_curl_easy_setopt(s->h, CURLOPT_MAIL_RCPT, NULL);
out:
	sym_curl_slist_free_all(rcpts);
	s->fd = -1;
	return rc;
}

int
submit_after_dot(const struct submit *s)
{
	return s->stage == ST_BODY && s->read_eof;
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
	db_free(&s->reply);
	db_free(&s->partial);
	free(s->rcpt);
	free(s->fail_rcpt);
	db_free(&s->fail_reply);
	free_refusals(s);
	free(s);
}

/* ---- --serverinfo ---- */

static size_t
discard(char *p, size_t size, size_t n, void *u)
{
	(void)p;
	(void)u;
	return size * n;
}

/* One NOOP transaction; records into p.  Returns the libcurl code. */
static CURLcode
probe_once(struct submit *s, struct submit_probe *p, int verify)
{
	struct curl_certinfo *ci = NULL;
	CURLcode c;

	s->probe = p;
	s->stage = ST_CONNECT;
	s->in_sasl = 0;
	s->code = 0;
	s->fail_code = 0;
	s->errbuf[0] = '\0';
	sym_curl_easy_setopt(s->h, CURLOPT_UPLOAD, 0L);
	sym_curl_easy_setopt(s->h, CURLOPT_CUSTOMREQUEST, "NOOP");
	sym_curl_easy_setopt(s->h, CURLOPT_NOBODY, 0L);
	sym_curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, discard);
	sym_curl_easy_setopt(s->h, CURLOPT_CERTINFO, 1L);
	/* The trust store alone decides "verified"; serverinfo.c compares
	 * the key with tls_pin itself. */
	sym_curl_easy_setopt(s->h, CURLOPT_PINNEDPUBLICKEY, NULL);
	sym_curl_easy_setopt(s->h, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
	sym_curl_easy_setopt(s->h, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
	c = sym_curl_easy_perform(s->h);
	if (s->a->tls != TLS_OFF && sym_curl_easy_getinfo(s->h, CURLINFO_CERTINFO, &ci) == CURLE_OK &&
	    ci && ci->num_of_certs > 0) {
		for (size_t i = 0; i < p->ncerts; i++)
			free(p->certs[i]);
		free(p->certs);
		p->certs = xcalloc((size_t)ci->num_of_certs, sizeof(char *));
		p->ncerts = 0;
		for (int i = 0; i < ci->num_of_certs; i++)
			for (struct curl_slist *l = ci->certinfo[i]; l; l = l->next)
				if (!strncmp(l->data, "Cert:", 5))
					p->certs[p->ncerts++] = xstrdup(l->data + 5);
	}
	return c;
}

int
submit_probe(const struct account *a, struct submit_probe *p, struct result *r)
{
	struct account plain;
	struct submit *s;
	CURLcode c;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	/* Inspect only: no credentials are fetched or sent. */
	conf_account_copy(&plain, a);
	plain.auth = AUTH_OFF;
	if (submit_global_init(r) < 0)
		goto out;
	if (!(s = submit_new(&plain, r)))
		goto out;
	c = probe_once(s, p, 1);
	if (c == CURLE_PEER_FAILED_VERIFICATION) {
		str_copy(p->verify_error, sizeof(p->verify_error),
			 s->errbuf[0] ? s->errbuf : sym_curl_easy_strerror(c));
		c = probe_once(s, p, 0);
	} else if (c == CURLE_OK && a->tls != TLS_OFF) {
		p->verified = 1;
	}
	if (c == CURLE_OK)
		rc = 0;
	else
		classify(s, c, r);
	submit_free(s);
out:
	conf_account_free(&plain);
	return rc;
}

void
submit_probe_free(struct submit_probe *p)
{
	free(p->greeting);
	for (size_t i = 0; i < p->nehlo; i++)
		free(p->ehlo[i]);
	free(p->ehlo);
	for (size_t i = 0; i < p->nehlo_plain; i++)
		free(p->ehlo_plain[i]);
	free(p->ehlo_plain);
	free(p->tls_desc);
	for (size_t i = 0; i < p->ncerts; i++)
		free(p->certs[i]);
	free(p->certs);
	memset(p, 0, sizeof(*p));
}
