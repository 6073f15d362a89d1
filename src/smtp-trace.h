/*
 * smtp-trace.h - following an SMTP dialogue line by line.
 *
 * submit.c hands every line libcurl sends or receives to the trace; the
 * trace knows which command was sent last (the stage), every reply's code
 * and text, the first refusal of the transaction, the recipients refused
 * at RCPT, whether AUTH was offered and succeeded (235), and, for
 * --serverinfo, the greeting and capabilities.  It also writes the -v
 * transcript with the secrets of AUTH redacted.  It knows nothing of
 * libcurl (no curl.h): its input is the lines, so it is tested with
 * recorded transcripts (tests/unit/test-trace.c).
 *
 * Relay text is stored with C1 control characters replaced
 * (smtp_trace_clean()), so no reply reaches a terminal or a log with them.
 */
#ifndef MAILOUT_SMTP_TRACE_H
#define MAILOUT_SMTP_TRACE_H

#include <stddef.h>

#include "classify.h"
#include "submit.h"
#include "util.h"

struct smtp_trace {
	int partial_delivery;   /* set by the caller: a refused RCPT is the
				 * recipient's alone, not the transaction's */
	struct submit_probe *probe; /* NULL, or where --serverinfo records */

	enum smtp_stage stage;  /* of the last command sent */
	enum smtp_stage before_quit; /* the stage libcurl's QUIT interrupted */
	int auth_offered;       /* EHLO listed AUTH */
	int auth_ok;            /* 235 seen on this connection */
	int in_sasl;            /* between "AUTH MECH" and its final reply:
				 * outgoing lines are SASL data (redacted) */
	int awaiting;           /* a command was sent and its reply is not
				 * complete yet */
	int code;               /* code of the last complete reply; 0 none,
				 * -1 a line with no reply code */
	struct dynbuf reply;    /* its text, lines joined by spaces */
	int body_uncoded;       /* lines without a reply code received after
				 * DATA's 354 (in reply to the final dot) */
	struct dynbuf partial;  /* lines of a multi-line reply so far */
	char *rcpt;             /* the recipient of the last RCPT TO */

	/* The first refusal (4xx/5xx), or reply the command cannot get, of
	 * the transaction: it decides its failure (libcurl sends QUIT after
	 * it, so the last reply would mislead).  With partial_delivery a
	 * refused RCPT is not recorded here. */
	int fail_code;          /* 0: none */
	enum smtp_stage fail_stage;
	struct dynbuf fail_reply;
	char *fail_rcpt;        /* the recipient, when it was a RCPT */

	/* Every recipient whose RCPT got anything but a 2xx. */
	struct submit_refusal *refused;
	size_t nrefused;
};

/* A trace at the greeting, with nothing recorded. */
void smtp_trace_init(struct smtp_trace *t, int partial_delivery);

/* Before a new transaction (same connection or a new one): forget the
 * replies, the refusals and the first refusal; the stage is the greeting
 * (a reused connection goes straight to MAIL, which sets it).  Whether
 * AUTH was offered and succeeded is the connection's and is kept. */
void smtp_trace_reset(struct smtp_trace *t);

void smtp_trace_free(struct smtp_trace *t);

/* One line, without its line end: sent by the client (outgoing) or
 * received from the relay. */
void smtp_trace_line(struct smtp_trace *t, int outgoing, const char *line, size_t n);

/*
 * The -v transcript line for a line about to be traced (call before
 * smtp_trace_line()): "--> " or "<-- " and the line, at most 1000 bytes;
 * the arguments of AUTH and every outgoing line of the SASL exchange that
 * follows are "[redacted]"; control characters (C0, DEL, C1) become '?'.
 * Writes into buf (always terminated) and returns buf.
 */
char *smtp_trace_show(const struct smtp_trace *t, int outgoing, const char *line, size_t n,
		      char *buf, size_t size);

/* The stage whose reply decides a failure: the first refusal's, else the
 * last command's (the one before QUIT when libcurl was quitting). */
enum smtp_stage smtp_trace_stage(const struct smtp_trace *t);

/* Replace C1 control characters in s[0..n), in place: the UTF-8 forms of
 * U+0080-U+009F and bytes 0x80-0x9f outside a valid UTF-8 sequence each
 * become one '?'; other bytes are kept.  Returns the new length. */
size_t smtp_trace_clean(char *s, size_t n);

#endif
