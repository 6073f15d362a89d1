/*
 * deliver.h - one message, already spooled, to its recipients.
 *
 * The one delivery path shared by direct sends and queue runs: local
 * recipients go to local.c, the others to the relay of the account through
 * submit.c (all of them in one SMTP transaction).  Each destination gets
 * its log line.  Recipients that failed temporarily are collected so that
 * the caller can queue the message for them, and the ones that got it so
 * that a caller can tell a partial delivery from a failure.
 */
#ifndef MAILOUT_DELIVER_H
#define MAILOUT_DELIVER_H

#include <sys/types.h>

#include "address.h"
#include "conf.h"
#include "result.h"

struct submit;

struct delivery {
	const struct account *acct;  /* relay account; NULL or no host: no relay */
	const char *sender;          /* "" for the null sender */
	int fd;                      /* the spool or queue file */
	off_t start, size;           /* where the message starts, its length */
	const char *queue_id;        /* for the log line, or NULL */
	const char *dsn_notify, *dsn_ret, *dsn_envid;
};

/*
 * Deliver to every recipient of rcpts.  *session is the relay session to
 * use; when NULL one is opened (and left in *session for reuse; the caller
 * frees it with submit_free()).  Recipients that failed temporarily are
 * appended to pending, those that got the message to delivered (either
 * may be NULL).  Returns 0 when everything was delivered, or -1 with the
 * most important failure in *r (permanent beats temporary).
 */
int deliver_run(const struct delivery *d, const struct addr_list *rcpts,
		struct submit **session, struct addr_list *pending,
		struct addr_list *delivered, struct result *r);

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
