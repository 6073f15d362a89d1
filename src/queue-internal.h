/*
 * queue-internal.h - what the files of the queue module share, and no
 * other module uses:
 *  - queue-file.c: state files, queue ids, directories (the on-disk format
 *    is described at its top);
 *  - queue-remove.c: the thread that unlinks delivered messages;
 *  - queue-list.c: -bp, and the age shown there and in expiry messages;
 *  - queue-notify.c: delivery status notifications (SPEC 12);
 *  - queue-manage.c: --delete, --requeue, --show (SPEC 10).
 */
#ifndef MAILOUT_QUEUE_INTERNAL_H
#define MAILOUT_QUEUE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

#include "dsn.h"
#include "queue.h"
#include "result.h"
#include "util.h"

/* ---- state files (queue-file.c) ---- */

struct queue_state {
	int attempts;            /* 0 .. QUEUE_ATTEMPTS_MAX */
	time_t last_try, next_try;
	time_t created;          /* set when the envelope's lies in the future */
	int warned;              /* the delay_warning notification was sent */
	char last_error[512];    /* no control characters */
};

#define QUEUE_ATTEMPTS_MAX 1000000

/* Parse the text of a state file (any bytes) into *s, which is cleared
 * first.  Unknown lines, and values that are no number in range, are
 * ignored: a state file only advises. */
void queue_state_parse(const char *text, size_t len, struct queue_state *s);

/* Append the text of a state file for s to out. */
void queue_state_format(struct dynbuf *out, const struct queue_state *s);

/* Read path into *s; a missing or unreadable file is an empty state. */
void queue_state_read(const char *path, struct queue_state *s);

/* Write *s to msgpath.state (write, fsync, rename, fsync of the
 * directory) if fd, which holds the message's lock, is still the file
 * msgpath names: a state file is never written for a message another run
 * has delivered, moved or replaced.  Returns 0, or -1 with errno set
 * (ESTALE when the message is no longer msgpath). */
int queue_state_save(int fd, const char *msgpath, const struct queue_state *s);

/* The same without the check, to path itself (for failed/). */
int queue_state_write(const char *path, const struct queue_state *s);

/* ---- ids and directories (queue-file.c) ---- */

/* A new queue id for a spool file (its random suffix) into id. */
void queue_make_id(const char *spool_path, char *id, size_t idlen);

/* 1 when name has the form of a queue id (no state or temporary file). */
int queue_is_id(const char *name);

/* The queue ids in dir, sorted oldest first, into a new array (*ids, *n;
 * free with queue_free_ids()).  A missing directory is an empty list.
 * Returns 0, or -1 with errno set. */
int queue_list_ids(const char *dir, char ***ids, size_t *n);
void queue_free_ids(char **ids, size_t n);

/* QDIR/NAME, made if needed and checked with queue_dir_private(); NULL,
 * with r set when r is not NULL, when it cannot be used.  Free it. */
char *queue_subdir(const char *qdir, const char *name, struct result *r);

/* 1 when path still names the file open on fd (which *sb then
 * describes). */
int queue_still_there(int fd, const char *path, struct stat *sb);

/* Remove the entries of dir (none whose name starts with a dot) for which
 * drop(path, name, lstat of it, now, arg) returns 1.  A directory that
 * cannot be read is no error. */
void queue_sweep_dir(const char *dir,
		     int (*drop)(const char *path, const char *name, const struct stat *st,
				 time_t now, void *arg),
		     void *arg);

/* ---- removals (queue-remove.c) ---- */

struct queue_remover {
	char *done;              /* queue_dir/done, NULL when it cannot be made */
	pthread_mutex_t mu;
	pthread_cond_t cv;       /* a name queued, a name done, or closing */
	struct queue_removal *head, **tail;
	size_t pending;
	int closing, started, running;
	pthread_t thread;
};

/* Prepare rm for the queue in qdir (no thread yet). */
void queue_remover_start(struct queue_remover *rm, const char *qdir);

/* Take q/NAME out of the queue at once: renamed into done/ for the thread
 * to unlink, or unlinked here.  Returns 0 (also when it was gone
 * already), or -1 with errno set when it is still there. */
int queue_remover_take(struct queue_remover *rm, const char *path);

/* Wait until every file taken is unlinked, and release rm. */
void queue_remover_finish(struct queue_remover *rm);

/* ---- notifications (queue-notify.c) ---- */

struct deliver_report;

/* A recipient refused for good in an attempt. */
struct queue_refusal {
	char *rcpt;
	int code;                    /* the relay's reply code, 0: none */
	char *reply, *reason;        /* the relay's reply (or NULL), mailout's words */
};

/* What a notification needs of a queue run's attempt. */
struct queue_outcomes {
	struct queue_refusal *refused;   /* refused for good */
	size_t nrefused;
	struct addr_list delivered;      /* got the message */
	int remote;                      /* the relay answered for some recipient */
};

/* Add what rep says to o (zeroed at first); free with queue_outcomes_free(). */
void queue_outcomes_note(struct queue_outcomes *o, const struct deliver_report *rep);
void queue_outcomes_free(struct queue_outcomes *o);

/*
 * The recipients a notification of kind is about, into v (room for
 * o->nrefused + e->rcpts.n): for DSN_FAILED those o says were refused,
 * and unless refused_only every other recipient of e that o does not say
 * got it, with the attempt's reply (why, when a 4xx or 5xx reply decided
 * and the message did not expire) and last_error as the reason; expired:
 * given up for queue_lifetime (Status 4.4.7).  The entries point into o,
 * e, why and last_error.  Returns how many.
 */
size_t queue_notice_rcpts(const struct queue_outcomes *o, const struct queue_env *e,
			  enum dsn_kind kind, int refused_only, const struct result *why,
			  const char *last_error, int expired, struct dsn_rcpt *v);

/* A notification about one queued message, as a queue run knows it. */
struct queue_notice {
	enum dsn_kind kind;
	const char *id;                  /* the message's queue id */
	const struct queue_env *e;       /* its envelope */
	int fd;                          /* open on it: its header section is quoted */
	off_t off;                       /* where the message starts in fd */
	time_t arrival, last_attempt;
	const char *remote_mta;          /* the relay that answered, or NULL */
	const struct dsn_rcpt *rcpts;    /* the recipients it is about */
	size_t nrcpts;
};

/*
 * Keep the notification n in the queue of c as a message of its own, from
 * the null sender to n->e's sender and c->bounce_notice_to (after
 * aliases), through the original's relay settings (or the account
 * conf_choose() gives its sender when it had none); its id goes to nid.
 * Returns 1 when it was queued, 0 when none is due (the original's sender
 * is null, or no recipient given), -1 with *r.
 */
int queue_notice_keep(const struct config *c, const struct queue_notice *n, char *nid,
		      size_t nidlen, struct result *r);

/* ---- listing (queue-list.c) ---- */

/* secs as "12m", "3h05m" or "2d04h". */
void queue_age_str(char *buf, size_t len, long secs);

/*
 * The message of fd for the recipients in pending only: when they are not
 * e's, e's recipients become pending and a copy of the message with that
 * envelope is made in qdir/tmp, locked (*newpath, *newfd; *newpath stays
 * NULL when nothing changed).  Returns 0, or -1 with r set.
 */
int queue_rewrite_rcpts(const char *qdir, int fd, off_t data_offset, struct queue_env *e,
			const struct addr_list *pending, char **newpath, int *newfd,
			struct result *r);

#endif
