/*
 * submit-internal.h - what submit.c shares with submit-probe.c (the
 * --serverinfo probe) and no other module uses: the session and the
 * classification of its failures.
 */
#ifndef MAILOUT_SUBMIT_INTERNAL_H
#define MAILOUT_SUBMIT_INTERNAL_H

#include "curlsym.h"
#include "smtp-trace.h"
#include "submit.h"

enum abort_reason { AB_NONE, AB_NO_AUTH, AB_READ };

struct submit {
	CURL *h;
	const struct account *a; /* &cur */
	/* The relays of the account's host (SPEC 13), tried in order; cur is
	 * the account with host = the relay in use, relays[relay].  A
	 * session stays on the first relay that works. */
	struct account cur;
	char **relays;
	size_t nrelays, relay;
	char *tried;            /* "relay: why; ..." for the relays given up */
	char *secret;
	int token_cached;       /* secret is an OAuth2 access token from the
				 * cache, not yet accepted by the relay */
	int need_auth;
	char *url;
	char errbuf[CURL_ERROR_SIZE];
	struct smtp_trace tr;   /* the dialogue, per connection and message */
	curl_socket_t sock;     /* the connection's socket, CURL_SOCKET_BAD if none */

	/* An envelope split into transactions (SUBMIT_RCPT_MAX): the
	 * recipients that did not get the message, and the results they
	 * point to. */
	int split;
	struct submit_refusal *missed;
	size_t nmissed;
	struct result **results;
	size_t nresults;

	/* The message being sent. */
	int fd;
	off_t to_read, read_total; /* the message's bytes, and those read so far */
	int read_eof;
	int read_errno;
	enum abort_reason abort;
};

/* SET(kind, OPTION, value) on the session's handle (curlsym.h). */
#define SET(kind, opt, val) CURLSYM_SET(s->h, kind, opt, val)

/* The result of a failed transfer (libcurl code c) in *r.  Returns -1. */
int submit_classify(struct submit *s, CURLcode c, struct result *r);

/*
 * A failed transfer on the session's relay: when the failure is the
 * relay's (res_try_next_relay()) and another relay is left, the session
 * moves to it and this returns 1 (try again); else 0.
 */
int submit_relay_failed(struct submit *s, CURLcode c, struct result *r);

/* Add to a failure in *r the relays given up before, if any. */
void submit_tried_note(const struct submit *s, struct result *r);

#endif
