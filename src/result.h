/*
 * result.h - the one result type every delivery path returns.
 *
 * Modules never exit(): they fill a struct result and return -1.  Only
 * main() turns a result into an exit status, through res_exit_code().
 * The classes follow sysexits.h one to one so that temporary (RES_TEMPFAIL)
 * and permanent failures never blur.
 */
#ifndef MAILOUT_RESULT_H
#define MAILOUT_RESULT_H

#include <stdarg.h>

enum res_class {
	RES_OK = 0,
	RES_USAGE,       /* 64: bad options, no recipients */
	RES_DATAERR,     /* 65: malformed input */
	RES_NOINPUT,     /* 66: named file unreadable */
	RES_NOUSER,      /* 67: recipient refused permanently, unknown local user */
	RES_NOHOST,      /* 68: relay name does not exist */
	RES_UNAVAILABLE, /* 69: other permanent refusal, TLS verification, missing STARTTLS/AUTH */
	RES_SOFTWARE,    /* 70: internal error */
	RES_OSERR,       /* 71 */
	RES_CANTCREAT,   /* 73 */
	RES_IOERR,       /* 74 */
	RES_TEMPFAIL,    /* 75: 4xx, refused/reset connection, timeout, temporary DNS failure */
	RES_PROTOCOL,    /* 76: the relay broke the protocol */
	RES_NOPERM,      /* 77: authentication failed */
	RES_CONFIG       /* 78: configuration error, insecure secrets file */
};

struct result {
	enum res_class cls;
	int smtp_code;        /* the relay's reply code that decided, 0 if none */
	int about_message;    /* 1: the refusal concerns this message (MAIL, RCPT,
			       * DATA, an unknown local user), not the relay
			       * session or our settings */
	char reply[512];      /* that reply's text (lines joined by spaces), "" if none */
	char text[1024];      /* what went wrong, in words, without the "mailout: " prefix */
};

/* Reset to RES_OK with empty texts. */
void res_clear(struct result *r);

/* Set class and text (printf format).  Keeps r->smtp_code and r->reply.
 * Returns -1 so that callers can write "return res_fail(r, ...);". */
int res_fail(struct result *r, enum res_class cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* 1 when the failure is temporary (worth queueing and retrying): 4xx,
 * connection failures, timeouts, and a relay that broke the protocol. */
int res_is_temporary(const struct result *r);

/* 1 when the failure is permanent and about the message itself (so a
 * queue run gives up on it); settings, credentials, TLS and relays that
 * refuse the whole session are not: they are for the administrator to fix
 * while the message waits. */
int res_is_message_refusal(const struct result *r);

/* 1 when a result means the relay could not be reached or talked to at
 * all, or broke the protocol, so other messages for it need not be tried
 * in this queue run: RES_PROTOCOL, or a temporary failure that is not
 * about the message (no connection, a 4xx greeting, or a 4xx to EHLO/HELO,
 * STARTTLS or AUTH).  A 4xx to MAIL, RCPT or DATA is about one message
 * (about_message): the next may go. */
int res_relay_down(const struct result *r);

/* Keep the more important of two outcomes in *into: a permanent failure
 * beats a temporary one, which beats success. */
void res_merge(struct result *into, const struct result *from);

/* The sysexits.h status for a class, and its symbolic name ("EX_OK"...). */
int res_exit_code(enum res_class cls);
const char *res_exit_name(enum res_class cls);

#endif
