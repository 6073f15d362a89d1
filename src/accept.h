/*
 * accept.h - one message from an input stream to delivered or queued.
 *
 * The pipeline every entry point shares (a piped message, each message of
 * a -bs session): read the headers, settle recipients (-t), envelope
 * sender, account and aliases, spool the message with its envelope, then
 * deliver it, or queue it (queue = always, or a temporary failure with
 * queue = onfail).
 */
#ifndef MAILOUT_ACCEPT_H
#define MAILOUT_ACCEPT_H

#include "address.h"
#include "cli.h"
#include "conf.h"
#include "message.h"
#include "result.h"

struct job {
	/* Set by the caller (accept_init, then adjust). */
	const struct options *o;
	const struct config *cfg;
	int in_fd;                     /* the message */
	int ignore_dots;               /* -i */
	int read_recipients;           /* -t */
	const char *sender_in;         /* -f or MAIL FROM; NULL: not given */
	char *sender_arg;              /* sender_in as a bare address, when -f gave
	                                  "<addr>" or "Name <addr>" (owned) */
	struct addr_list rcpts;        /* operands or RCPT TO */

	/* Filled in by accept_message(). */
	struct account adhoc;          /* --host, or the chosen account with overrides */
	const struct account *acct;    /* NULL: no relay */
	char *sender;                  /* envelope sender; "" = null sender */
	struct addr_list expanded;     /* recipients after aliases */
	struct msg msg;
	struct addr_list delivered;    /* the recipients that got it (partial delivery) */
	int queued;                    /* 1: kept in the queue as queue_id */
	char queue_id[64];
};

void accept_init(struct job *j, const struct options *o, const struct config *cfg,
		 int in_fd);

/*
 * Run the pipeline.  Returns 0 when the message was delivered or queued
 * (j->queued), -1 with *r otherwise.  Notes ("queued as ...") go to
 * stderr.
 */
int accept_message(struct job *j, struct result *r);

/* The account for j->sender_in / --account / --host and the overrides;
 * j->acct is NULL when none applies.  Returns 0 or -1. */
int accept_choose_account(struct job *j, struct result *r);

void accept_free(struct job *j);

#endif
