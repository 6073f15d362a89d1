/*
 * classify.h - what happened, as a result: SMTP replies and transport
 * failures to result classes (SPEC 8), and results back to SMTP replies.
 *
 * Part of the result module (prefix res_): result.h is the type and its
 * exit status, this is the one place that decides which class a relay's
 * reply or a failed connection is.  Every function here is pure: no I/O,
 * no name lookups (what the caller learnt from DNS comes in as a value),
 * so the rules are unit-tested as a table (tests/unit/test-classify.c).
 */
#ifndef MAILOUT_CLASSIFY_H
#define MAILOUT_CLASSIFY_H

#include <stddef.h>

#include "conf.h"
#include "result.h"

/* The SMTP command a reply answers (RFC 5321 section 4.3.2's sequence). */
enum smtp_stage {
	SMTP_CONNECT,   /* the greeting */
	SMTP_EHLO,      /* EHLO, or HELO after a refused EHLO */
	SMTP_STARTTLS,
	SMTP_AUTH,
	SMTP_MAIL,
	SMTP_RCPT,
	SMTP_DATA,
	SMTP_BODY,      /* DATA accepted (354): the reply to the final dot */
	SMTP_QUIT,
	SMTP_OTHER      /* NOOP and the like (--serverinfo) */
};

/* "the greeting", "EHLO", ..., "the end of the message". */
const char *res_stage_name(enum smtp_stage st);

/*
 * Can a command at stage st get a reply with this code?  Every command may
 * be refused (4xx, 5xx: RFC 5321 section 4.2.1); it succeeds with a 2xx,
 * except DATA, which goes on with 354; 334 carries an AUTH challenge.
 * Anything else (a 1xx, another 3xx, a 2xx to DATA, a code outside
 * 100-599, -1 for no code at all) is the relay breaking the protocol.
 */
int res_reply_fits(enum smtp_stage st, int code);

/*
 * The class of the reply code to a command at stage st, from the table in
 * classify.c: a reply that fits and is no refusal is RES_OK (returns 0,
 * *r untouched); a reply the command cannot get is RES_PROTOCOL; a 4xx or
 * 5xx is the stage's row (4xx temporary; 5xx: RCPT RES_NOUSER, AUTH
 * RES_NOPERM, the others RES_UNAVAILABLE; a refusal at RCPT whose enhanced
 * status code refuses the sender, X.1.7, X.1.8, or X.7.1 naming the
 * sender, is RES_UNAVAILABLE, as the message is), with r->smtp_code, r->reply
 * (text) and r->about_message set.  relay names the relay in r->text;
 * rcpt is the recipient of a RCPT (NULL otherwise).  Returns 0 or -1.
 */
int res_from_reply(const char *relay, enum smtp_stage st, int code, const char *text,
		   const char *rcpt, struct result *r);

/* Transport failures, as submit.c translates libcurl's codes. */
enum xfer_error {
	XFER_OK,
	XFER_ABORT_READ,        /* the spool file could not be read */
	XFER_ABORT_NO_AUTH,     /* credentials, and no AUTH succeeded: nothing sent */
	XFER_RESOLVE_HOST,      /* the relay's name (or a SOCKS proxy's) did not resolve */
	XFER_RESOLVE_PROXY,
	XFER_CONNECT,           /* connection refused or unreachable */
	XFER_PROXY,             /* the proxy could not reach the relay */
	XFER_TLS_UNTRUSTED,     /* the relay's certificate does not verify */
	XFER_TLS_PIN,           /* its public key does not match tls_pin */
	XFER_TLS_SETTINGS,      /* our trust, certificate or key file is unusable */
	XFER_TLS_HANDSHAKE,     /* the TLS handshake failed */
	XFER_STARTTLS,          /* STARTTLS not offered, or refused */
	XFER_LOGIN,             /* no usable mechanism, or the login failed */
	XFER_READ,              /* reading the message failed */
	XFER_INTERFACE,         /* source_ip is no address of this host */
	XFER_SETTINGS,          /* a malformed URL or protocol */
	XFER_NOMEM,
	XFER_TIMEOUT,
	XFER_RESPONSE,          /* a refusal (libcurl's SEND/RECV/LOGIN... errors) */
	XFER_WEIRD_REPLY,       /* a reply libcurl could not read or accept */
	XFER_NO_FDS,            /* too many open files (EMFILE, ENFILE) */
	XFER_OTHER              /* a broken connection and the rest: temporary */
};

/* Everything the classifier knows about a failed transaction. */
struct xfer_outcome {
	enum xfer_error err;
	const char *errtext;        /* libcurl's words for it (never a secret) */
	const struct account *acct; /* the account (host, name, proxy, tls, port) */
	/* The reply that decides: the first refusal, or else the last reply. */
	enum smtp_stage stage;      /* QUIT already replaced by the stage before */
	int code;                   /* its code; 0 no reply, -1 no code */
	const char *reply;          /* its text */
	const char *rcpt;           /* the recipient, when stage is RCPT */
	int refused;                /* 1: that reply was recorded as a refusal
				     * or a reply the command cannot get */
	int auth_offered;           /* EHLO listed AUTH */
	int read_errno;             /* XFER_ABORT_READ: why */
	const char *tls_alert;      /* XFER_TLS_HANDSHAKE: the name of the fatal
				     * TLS alert the relay sent, or NULL */
	int after_dot;              /* the whole message was sent */
	/* Looked up by the caller after the failure, for XFER_RESOLVE_HOST. */
	int host_unknown;           /* 1: the relay's name does not exist */
	int proxy_unresolved;       /* 1: the proxy's name does not resolve */
};

/* The result of a failed transaction (SPEC 8).  Always returns -1. */
int res_from_xfer(const struct xfer_outcome *x, struct result *r);

/*
 * Relay failover (SPEC 13): 1 when the failure r of a session that had not
 * sent MAIL FROM yet (st, the stage it reached, before SMTP_MAIL) is the
 * relay's, so the next relay of the account's host may take the message:
 * the relay could not be reached (a connection failure, a timeout, a name
 * that does not exist) or answered the greeting, EHLO, STARTTLS or AUTH
 * with a 4xx.  A permanent refusal of the session (5xx, 535), a TLS
 * verification failure, and anything at or after MAIL FROM are final.
 */
int res_try_next_relay(enum smtp_stage st, const struct result *r);

/*
 * The reply -bs gives to the final dot for a failed message, without the
 * relay's own reply (smtpd.c passes a relay's 4xx/5xx on as it came, with
 * res_smtp_relay_code()): 451 4.3.0 for local and temporary trouble, 550
 * 5.1.1 for an unknown recipient, 554 5.6.0 for the rest.  Returns the
 * code; *status gets the enhanced status code (RFC 3463).
 */
int res_smtp_reply(const struct result *r, const char **status);

/* A relay's reply code as -bs passes it on: 421 says the relay closed
 * its channel, not this one, and becomes 451 (Postfix's smtpd never
 * passes a downstream 421 on); others stay. */
int res_smtp_relay_code(int relay_code);

#endif
