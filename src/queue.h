/*
 * queue.h - the durable queue (SPEC 10).  The on-disk format is described
 * at the top of queue-file.c, how runs keep "exactly once" at the top of
 * queue.c.
 */
#ifndef MAILOUT_QUEUE_H
#define MAILOUT_QUEUE_H

#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "address.h"
#include "conf.h"
#include "result.h"

struct dynbuf;

/* The envelope block at the top of every spool and queue file. */
struct queue_env {
	char *account;        /* account name; NULL: settings below (--host) */
	char *host, *port, *tls, *user, *passwordeval;
	char *sender;         /* "" for the null sender */
	char *uid;            /* who submitted it to the system queue (the drop
	                         file's owner), or NULL */
	struct addr_list rcpts;
	time_t created;
};

/* Append the envelope block for e to out. */
void queue_env_format(struct dynbuf *out, const struct queue_env *e);

/* Read the envelope block from the start of fd (a regular file) into *e,
 * whose strings are then the caller's (free them with queue_env_free());
 * *data_offset is where the message starts.  Any bytes are safe to read.
 * Returns 0, or -1 with RES_DATAERR (a file that is not a well-formed
 * queue file) or RES_IOERR, and *e empty. */
int queue_env_read(int fd, struct queue_env *e, off_t *data_offset, struct result *r);

/* Free the strings of e and clear it (an empty e is fine). */
void queue_env_free(struct queue_env *e);

/*
 * A directory of the queue (QDIR/tmp, QDIR/q, ...): made with mode 0700
 * when missing, then it and QDIR must be directories owned by the
 * effective user and writable by no one else, and the subdirectory no
 * symbolic link: anyone else who can write there could remove, forge or
 * redirect queued mail.  Returns 0; -1 with errno set when it cannot be
 * made; -2 with the reason in why when it is not private.
 */
int queue_dir_private(const char *dir, char *why, size_t whylen);

/*
 * Keep a spool file (written by msg_spool() with an envelope block) in
 * the queue of qdir, for the recipients in pending (NULL: the envelope's).
 * fsync'd, then linked into place; the spool path is gone afterwards.
 * The file is locked (flock) from before the link until its state is
 * written, and no longer when this returns.
 * last_error is recorded for -bp.  The new id is copied to id.
 * Returns 0, or -1 with RES_CANTCREAT / RES_IOERR (the spool file is then
 * left where it was).
 */
int queue_keep(const char *qdir, const char *spool_path, int fd, off_t data_offset,
	       const struct addr_list *pending, const char *last_error,
	       char *id, size_t idlen, struct result *r);

/*
 * Try queued messages: all of them (due_only = 0), or only those whose
 * retry time has come.  only_id: just that message.  Returns 0 when every
 * message tried was delivered (or there was none), -1 with the most
 * important failure otherwise; failures are logged per message.
 * Run by root on a queue directory of the system user's, it gives root up
 * on the way (queue-system.h): the process is the system user's afterwards.
 */
int queue_run(const struct config *c, int due_only, const char *only_id,
	      struct result *r);

/* Run the queue as queue_run() does, in a detached grandchild (a new
 * session, standard descriptors on /dev/null, no other descriptor of the
 * caller's), so that the caller returns at once. */
void queue_run_detached(const struct config *c, const char *only_id, int due_only);

/*
 * Move the messages that local users dropped with mailout-drop
 * (QDIR/maildrop, QDIR being c->queue_dir) into QDIR/q, each checked as hostile input; refused
 * entries go to QDIR/corrupt/ (queue-pickup.c).  Only root does it (it
 * reads files that belong to their senders); for anyone else, or without
 * QDIR/maildrop, it does nothing.  A message that names no account gets
 * the one conf_choose() gives its sender.  Returns the number picked up, or -1
 * with *r when the drop directory cannot be read.
 */
int queue_pickup(const struct config *c, struct result *r);

/* The system queue's drop helper (LIBEXECDIR/mailout-drop) when it is
 * installed set-group-id, else NULL (queue-drop.c). */
const char *queue_drop_helper(void);

/*
 * Hand the message in fd (from data_offset) to the system queue through
 * helper, with e's account, sender and recipients (the other envelope
 * fields are the system's to choose).  The drop file's name goes to
 * id[idlen].  Returns 0, or -1 with RES_TEMPFAIL (the helper could not
 * take it now, or failed), RES_CONFIG (the system queue is not installed
 * as it should be), RES_DATAERR (it refused the form) or RES_OSERR.
 */
int queue_drop(const char *helper, int fd, off_t data_offset, const struct queue_env *e,
	       char *id, size_t idlen, struct result *r);

/* 1 when q/ holds at least one message (a cheap look: no state read). */
int queue_waiting(const char *qdir);

/* Print the queue (-bp, mailq): q/ then failed/, unreadable files too,
 * then Postfix's summary line "-- N Kbytes in M Requests." (both counted),
 * or "Mail queue is empty".  Returns 0, or -1 with RES_IOERR when a directory cannot be read. */
int queue_list(const struct config *c, FILE *out, struct result *r);

/* What queue_manage() does with each message. */
enum queue_op {
	QUEUE_DELETE,      /* --delete: out of q/ or failed/ */
	QUEUE_REQUEUE,     /* --requeue: from failed/ back to q/, fresh back-off */
	QUEUE_SHOW         /* --show: envelope, state and message on out */
};

/*
 * --delete, --requeue or --show (SPEC 10) for each of ids[n] (each once,
 * however often given) in c's queue, which must be the caller's own
 * (root: the system queue).  A message a queue run holds at that moment
 * is left alone.  Done messages are named on out ("ID: deleted").
 * Returns 0, or -1 with the first failure in *r (the others are printed):
 * RES_USAGE (no id, or a name that is no queue id), RES_NOINPUT (no such
 * message; for --requeue, none in failed/), RES_TEMPFAIL (being delivered
 * now), RES_CONFIG (the queue is not the caller's) or RES_IOERR.
 */
int queue_manage(const struct config *c, enum queue_op op, char *const *ids, size_t n,
		 FILE *out, struct result *r);

/* Seconds to wait before attempt number attempts+1 (exponential backoff
 * from 5 minutes, capped at 4 hours, with +-20% jitter). */
long queue_backoff(int attempts);

/* No back-off is longer: 4 hours and 20%. */
#define QUEUE_BACKOFF_MAX (4L * 3600 + 4L * 3600 / 5)

#endif
