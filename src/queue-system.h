/*
 * queue-system.h - root's run of the system queue, with privilege
 * separation (SPEC 11).
 *
 * When root runs a queue directory that belongs to the system user
 * (MO_SYSTEM_USER), the run works with the system user's rights on the
 * spool (its files are that user's), takes root's rights back only to open
 * a dropped file, to run passwordeval and to deliver to local mailboxes,
 * and then gives root up for good before any relay dialogue.
 */
#ifndef MAILOUT_QUEUE_SYSTEM_H
#define MAILOUT_QUEUE_SYSTEM_H

#include <sys/types.h>

#include "result.h"

struct queue_system {
	uid_t uid;               /* the system user */
	gid_t gid;               /* its primary group */
	gid_t *groups;           /* root's supplementary groups, restored */
	int ngroups;             /* for queue_system_root() */
};

/*
 * 1 when this process is root (real and effective) and qdir is owned by
 * the system user, which s then describes; 0 otherwise (a run as before).
 * The user is MO_SYSTEM_USER, or root's MAILOUT_SYSTEM_USER when set (for
 * tests and a spool of another name).  Release s with queue_system_free().
 */
int queue_system_detect(const char *qdir, struct queue_system *s);
void queue_system_free(struct queue_system *s);

/* Effective rights of the system user (groups, then gid, then uid), the
 * real and saved ids staying root's; and back to root's.  From then on
 * until queue_system_drop(), queue_system_privileged() is 1.  Return 0, or
 * -1 with r set (the caller stops the run). */
int queue_system_user(struct queue_system *s, struct result *r);
int queue_system_root(struct queue_system *s, struct result *r);

/* 1 between the first queue_system_user() and queue_system_drop(): the
 * process can take root's rights back with queue_system_root(). */
int queue_system_privileged(void);

/* openat() with root's rights (the rest of the process keeps the system
 * user's) when queue_system_privileged(), else a plain openat().  For the
 * drop files, which only their owner and root can read. */
int queue_system_openat(int dirfd, const char *name, int flags);

/* Give up root for good: setgroups(0), setgid, setuid to the system user,
 * in that order; aborts when setuid(0) still succeeds afterwards.
 * Returns 0, or -1 with r set. */
int queue_system_drop(struct queue_system *s, struct result *r);

/*
 * For what needs no root on the system queue (-bp, --delete, --requeue,
 * --show): when this process is root and qdir belongs to the system user,
 * give up root for good and become that user, whose files they are.
 * Returns 0 (also when there was nothing to do), or -1 with r set.
 */
int queue_system_become(const char *qdir, struct result *r);

#endif
