/*
 * accept.h - one message from an input stream to delivered or queued.
 *
 * The pipeline every entry point shares (a piped message, a composed one,
 * each message of a -bs session).  A front end fills a struct submission
 * (the message and what was said about it); accept_message() settles the
 * envelope (headers, -t, sender, account, aliases), spools the message
 * with its envelope, dispatches it (deliver, or queue: queue = always, or
 * a temporary failure with queue = onfail), records the log lines, and
 * says in a struct receipt what became of it.
 */
#ifndef MAILOUT_ACCEPT_H
#define MAILOUT_ACCEPT_H

#include <stddef.h>

#include "address.h"
#include "conf.h"
#include "result.h"

/* Which relay account a message goes through. */
struct account_request {
	const char *account;           /* --account; NULL: by sender, else the default */
	struct overrides ov;           /* --host (an account of its own from the
	                                  defaults), --port, --tls, --user,
	                                  --passwordeval */
};

/* A message to submit, as a front end hands it over.  Strings and lists
 * are the caller's; accept_message() does not change them. */
struct submission {
	const struct config *cfg;
	int in_fd;                     /* the message, read from where it stands */
	int ignore_dots;               /* -i: a line "." does not end the input */
	int read_recipients;           /* -t: and the recipients of the headers */
	int read_envelope_from;        /* sender from the From header when none given */
	const char *sender;            /* -f or MAIL FROM as given ("Name <a>" too);
	                                  "" the null sender; NULL: not given */
	const char *fullname;          /* name of an added From (-F, $NAME); NULL:
	                                  the account's from_name */
	struct addr_list rcpts;        /* operands or RCPT TO */
	struct account_request route;
	int queue;                     /* QUEUE_NEVER/ONFAIL/ALWAYS; -1: the config's */
	const char *dsn_notify, *dsn_ret, *dsn_envid;   /* -N, -R, -V */
	int dry_run;                   /* print envelope and message, send nothing */
};

/* What became of a submission. */
struct receipt {
	int queued;                    /* 1: kept in the queue as queue_id */
	char queue_id[64];
	size_t nrcpts;                 /* recipients after aliases */
	size_t ndelivered;             /* of them, those that got it */
};

/* A submission with nothing set: no descriptor, the configuration's queue
 * mode. */
void accept_init(struct submission *s, const struct config *cfg, int in_fd);

/*
 * Run the pipeline.  Returns 0 when the message was delivered or queued
 * (rc->queued), -1 with *r otherwise (rc->ndelivered says whether some
 * recipients got it all the same).  Notes ("queued as ...") go to stderr,
 * the delivery lines to the log.
 */
int accept_message(const struct submission *s, struct receipt *rc, struct result *r);

/*
 * -f and -r take what Postfix's sendmail takes: a bare address, or one in
 * angle brackets, or "Name <address>".  Returns 0 with *bare NULL when
 * given is fine as it is (a bare address, "" or NULL), 0 with *bare the
 * address (malloc'd; "" for "<>" and "Name <>") when it had to be taken
 * apart, or -1 with RES_USAGE.
 */
int accept_sender(const char *given, char **bare, struct result *r);

/*
 * The account for req and the envelope sender (NULL when not known): a
 * copy in *out (free it with account_free()) with the overrides
 * applied.  Returns 1 when an account applies, 0 when none does (local
 * delivery only), -1 with *r.  The account is not checked as a whole:
 * see account_check().
 */
int accept_choose_account(const struct config *cfg, const struct account_request *req,
			  const char *sender, struct account *out, struct result *r);

#endif
