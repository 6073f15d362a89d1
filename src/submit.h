/*
 * submit.h - hand messages to a relay through libcurl's SMTP transport.
 *
 * With submit-probe.c, oauth2-http.c and curlsym.c, the only files that
 * include curl.h.  One struct submit holds
 * one libcurl handle, so several messages to the same account reuse one
 * connection.  Failures are classified (SPEC 8) from libcurl's code, the
 * relay's last reply code and the SMTP stage it answered.
 */
#ifndef MAILOUT_SUBMIT_H
#define MAILOUT_SUBMIT_H

#include "address.h"
#include "conf.h"
#include "result.h"

struct submit;

struct submit_envelope {
	const char *sender;             /* "" for the null sender */
	const struct addr_list *rcpts;
	const char *dsn_notify, *dsn_ret, *dsn_envid; /* dropped on libcurl < 8.16 */
};

/* Load libcurl and GnuTLS (lazylib.h) and initialise libcurl, once per
 * process; call before anything else that may start threads.  0, or -1
 * with *r set (RES_TEMPFAIL when a library cannot be loaded). */
int submit_global_init(struct result *r);

/*
 * Prepare a session for account a (not copied: must outlive the session).
 * Fetches the secret (passwordeval runs here).  Returns NULL with
 * RES_CONFIG in *r on bad settings.
 */
struct submit *submit_new(const struct account *a, struct result *r);

/*
 * Send one message read from fd (from its current offset to EOF; fd must
 * be seekable when there are more than SUBMIT_RCPT_MAX recipients).
 * Returns 0 when the relay accepted it (r->smtp_code and r->reply hold the
 * final reply), or -1 with *r classified as SPEC 8 says.  A reply to the
 * final dot that cannot be read (lines without a reply code, or more than
 * libcurl takes) counts as accepted, with a warning on stderr: the relay may have taken
 * the message, and sending it again would deliver it twice (SPEC 10).  No
 * reply at all (a timeout, a closed connection) stays temporary (RFC 1047:
 * a duplicate rather than a loss).  See submit_refusals() for recipients
 * that did not get it.
 */
int submit_message(struct submit *s, const struct submit_envelope *env,
		   int fd, struct result *r);

/* 1 when the last failure came after the final dot was sent (the relay
 * may have accepted the message). */
int submit_after_dot(const struct submit *s);

void submit_free(struct submit *s);

/*
 * The relay the session is on: the account's host names one or more,
 * separated by ',' (SPEC 13); a session starts on the first, moves on when
 * one fails before MAIL FROM (res_try_next_relay()), and stays on the one
 * that took a message, for the messages after it.  Valid until
 * submit_free().
 */
const char *submit_relay(const struct submit *s);

/* A recipient that did not get the message while others did: refused at
 * RCPT (partial_delivery = on), or in a transaction of its own that failed
 * (an envelope split, below). */
struct submit_refusal {
	char *rcpt;
	int code;               /* 4xx or 5xx; any other code (-1: none) is a
				 * reply RCPT cannot get: the relay broke the
				 * protocol */
	char *reply;            /* the relay's reply text */
	const struct result *result; /* NULL: refused at RCPT (code, reply);
				 * else what became of its transaction, to
				 * take as it is (owned by the session) */
};

/*
 * An envelope of more than SUBMIT_RCPT_MAX recipients goes out in several
 * transactions of at most that many (RFC 5321 section 4.5.3.1.8: every
 * relay must take 100 recipients in one; libcurl also caps the replies of
 * one transaction), one after the other, on one connection while it lasts.
 */
#define SUBMIT_RCPT_MAX 100

/*
 * The recipients that did not get the message in the last
 * submit_message() while others did.  With one transaction: those refused
 * at RCPT while libcurl went on with the others (partial_delivery on; none
 * otherwise); when submit_message() failed, its result is what became of
 * the transaction for the recipients the relay accepted, unless every
 * recipient is in this list (then it is the first refusal).  With an
 * envelope split: every recipient that did not get it, each with its
 * transaction's result (or its refusal at RCPT); submit_message() returned
 * 0 when some got it, else -1 with the first failure, and every recipient
 * is in the list.
 */
const struct submit_refusal *submit_refusals(const struct submit *s, size_t *n);

/* What --serverinfo shows. */
struct submit_probe {
	char *relay;            /* the relay that answered (the last tried if none) */
	char *greeting;         /* the relay's 220 reply */
	char **ehlo;            /* EHLO reply lines (the last EHLO: after STARTTLS) */
	size_t nehlo;
	char **ehlo_plain;      /* tls = starttls: the EHLO reply before STARTTLS */
	size_t nehlo_plain;
	char *tls_desc;         /* protocol, key exchange, cipher; NULL without TLS */
	char **certs;           /* the relay's certificate chain in PEM, leaf first */
	size_t ncerts;
	int verified;           /* the chain verifies against the trust store and
				 * names the host (tls_pin plays no part here) */
	char verify_error[256]; /* why not */
};

/*
 * Connect with the account's settings (without authenticating) to the
 * first of its relays that answers (SPEC 13, as a message would go), read the
 * greeting and capabilities, and for TLS the certificates; a relay whose
 * certificate does not verify against the trust store is inspected on a
 * second connection that skips verification.  Nothing is sent beyond EHLO,
 * STARTTLS and NOOP.  Returns 0, or -1 with *r classified as for
 * submit_message(); *p holds what was learnt either way (free it).
 */
int submit_probe(const struct account *a, struct submit_probe *p, struct result *r);
void submit_probe_free(struct submit_probe *p);

#endif
