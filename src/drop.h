/*
 * drop.h - the form check of mailout-drop's input (drop-check.c), and the
 * helper's limits and exit statuses.  The check is a byte-at-a-time state
 * machine, so that input of any size is checked as it streams through and
 * the fuzz target drives exactly the code the helper runs.
 */
#ifndef MAILOUT_DROP_H
#define MAILOUT_DROP_H

#include <stddef.h>

/* Limits, fixed at build time: the helper reads no configuration. */
#ifndef DROP_SIZE_MAX
#define DROP_SIZE_MAX (1024ULL * 1024 * 1024)   /* the whole input, bytes */
#endif
#define DROP_LINE_MAX 2048                       /* one envelope line, bytes */
#define DROP_RCPT_MAX 100000                     /* rcpt lines */

/* sysexits.h values, spelled out so that the helper includes nothing more. */
enum {
	DROP_EX_USAGE = 64, DROP_EX_DATAERR = 65, DROP_EX_OSERR = 71,
	DROP_EX_CANTCREAT = 73, DROP_EX_IOERR = 74, DROP_EX_TEMPFAIL = 75,
	DROP_EX_CONFIG = 78
};

struct drop_check {
	int state;              /* where in the input: first line, envelope, message */
	char line[DROP_LINE_MAX + 1];
	size_t len;             /* bytes of the current envelope line */
	unsigned long rcpts;
	int senders, accounts, created;
	const char *error;      /* what was wrong, once drop_check_feed() failed */
};

void drop_check_init(struct drop_check *c);

/* Check the next n bytes.  Returns 0, or -1 with c->error set (and every
 * later call fails the same way). */
int drop_check_feed(struct drop_check *c, const char *p, size_t n);

/* At the end of the input: 0 when the envelope was complete (its empty
 * line seen, one sender, at least one recipient), else -1 with c->error. */
int drop_check_finish(struct drop_check *c);

#endif
