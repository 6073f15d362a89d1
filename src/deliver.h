/*
 * deliver.h - one message, already spooled, to its recipients.
 *
 * The one delivery path shared by direct sends and queue runs: local
 * recipients go to local.c, the others to the relay of the account through
 * submit.c (all of them in one SMTP transaction).  What became of each
 * recipient comes back as a report; the caller writes the log lines from
 * it (deliver_log(), once it knows whether the message was queued) and
 * decides from it what to queue.  Only notes for the user (refusals,
 * "delivered to ..." with -v) go to stderr from here.
 */
#ifndef MAILOUT_DELIVER_H
#define MAILOUT_DELIVER_H

#include <sys/types.h>

#include "address.h"
#include "conf.h"
#include "result.h"

struct submit;

/* Which recipients deliver_run() serves (root's system queue run delivers
 * the local ones as root, then the relay's without root: queue-system.h).
 * The others are left out of the report and of *r altogether. */
enum deliver_only {
	DELIVER_ALL = 0,
	DELIVER_LOCAL_ONLY,
	DELIVER_RELAY_ONLY
};

struct delivery {
	const struct account *acct;  /* relay account; NULL or no host: no relay */
	const char *sender;          /* "" for the null sender */
	int fd;                      /* the spool or queue file */
	off_t start, size;           /* where the message starts, its length */
	const char *queue_id;        /* the queue file it was read from, or NULL */
	const char *uid;             /* who submitted it to the system queue, or NULL */
	const char *dsn_notify, *dsn_ret, *dsn_envid;
	enum deliver_only only;      /* DELIVER_ALL unless set */
};

enum deliver_state {
	DELIVER_DELIVERED,           /* the mailbox or the relay took it */
	DELIVER_DEFERRED,            /* a temporary failure: worth queueing */
	DELIVER_REFUSED              /* a permanent failure */
};

/* The recipients that share one outcome, which is one log line: each local
 * recipient on its own, the relay's recipients together (one transaction),
 * except that each one the relay refused at RCPT has its own. */
struct deliver_outcome {
	struct addr_list rcpts;
	int remote;                  /* through the relay (else a local mailbox) */
	enum deliver_state state;
	struct result r;             /* RES_OK when delivered; smtp_code and reply
	                                hold the relay's reply when there was one */
};

struct deliver_report {
	struct deliver_outcome *v;   /* in the order of the dialogue */
	size_t n;
	char *relay;                 /* the relay the session used (of the
	                                account's host list), NULL: none */
};

/*
 * Deliver to every recipient of rcpts and fill *rep (free it with
 * deliver_report_free()).  session: NULL to have deliver_run() open a relay
 * session for this message and close it; else *session is used (when
 * NULL, one is opened and left there for the next message: the caller
 * frees it with submit_free()).  Returns 0 when everything was delivered,
 * or -1 with the most important failure in *r (permanent beats
 * temporary).  A failure that concerns no recipient in particular (no
 * relay for a remote recipient) is in *r with no outcome.
 */
int deliver_run(const struct delivery *d, const struct addr_list *rcpts,
		struct submit **session, struct deliver_report *rep, struct result *r);

/* Append to out the recipients of rep whose outcome is state. */
void deliver_recipients(const struct deliver_report *rep, enum deliver_state state,
			struct addr_list *out);

/* Write one log line per outcome (log_delivery()).  queue= names
 * d->queue_id when set (a queue run), else kept_as on the lines of
 * deferred recipients (the queue id the message was kept under for them,
 * or NULL). */
void deliver_log(const struct delivery *d, const struct deliver_report *rep,
		 const char *kept_as);

void deliver_report_free(struct deliver_report *rep);

/* The log line of a message refused before any delivery was tried (an
 * unknown local user, no relay, a malformed header...): host= the
 * account's relay, "local" when every recipient is local, else "unknown";
 * sender NULL (no from= field) when it was not known yet; size -1 when the
 * message was not stored. */
void deliver_log_failure(const struct account *acct, const char *sender,
			 const struct addr_list *rcpts, off_t size, const struct result *r);

/* Check that recipients that are not local have a relay to go to.
 * Returns 0, or -1 with RES_CONFIG saying how to add an account. */
int deliver_check_relay(const struct account *acct, const struct addr_list *rcpts,
			struct result *r);

/* 1 when a result means the relay could not be reached or talked to at
 * all, or broke the protocol (so other messages for it need not be tried
 * in this run). */
int deliver_relay_down(const struct result *r);

#endif
