/*
 * queue-system.c - the rights of root's run of the system queue
 * (SPEC 11; the plan is in queue.c, queue_run()).
 *
 * Why effective ids rather than fchown(): while the run works in the spool
 * with the system user's effective uid and gid, every path the kernel
 * resolves there (tmp/, q/, failed/, corrupt/, links and renames) is
 * checked with that user's rights, and each file is created as that
 * user's.  A spool that the system user (or whoever took it over) filled
 * with symbolic links or swapped directories therefore gains nothing that
 * user did not have: root never writes a path in it.  fchown() after a
 * root write would leave every path operation done as root.  The real and
 * saved uid stay 0, so the system user can neither signal nor trace the
 * process meanwhile (and the kernel marks it not dumpable).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue-system.h"
#include "util.h"

static int privileged;
static uid_t sys_uid;        /* the effective uid outside root's moments */

int
queue_system_detect(const char *qdir, struct queue_system *s)
{
	const char *name = MO_SYSTEM_USER, *env = getenv("MAILOUT_SYSTEM_USER");
	struct passwd *pw;
	struct stat st;
	int n;

	memset(s, 0, sizeof(*s));
	if (getuid() != 0 || geteuid() != 0)
		return 0;
	if (env && *env)
		name = env;
	if (!(pw = getpwnam(name)) || pw->pw_uid == 0)
		return 0;
	if (stat(qdir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != pw->pw_uid)
		return 0;
	s->uid = pw->pw_uid;
	s->gid = pw->pw_gid;
	n = getgroups(0, NULL);
	if (n > 0) {
		s->groups = xmalloc((size_t)n * sizeof(gid_t));
		n = getgroups(n, s->groups);
	}
	s->ngroups = n > 0 ? n : 0;
	return 1;
}

void
queue_system_free(struct queue_system *s)
{
	free(s->groups);
	s->groups = NULL;
	s->ngroups = 0;
}

int
queue_system_user(struct queue_system *s, struct result *r)
{
	if (setgroups(1, &s->gid) != 0 || setegid(s->gid) != 0 || seteuid(s->uid) != 0)
		return res_fail(r, RES_OSERR, "cannot take the system user's rights (uid %lu): %s",
				(unsigned long)s->uid, strerror(errno));
	sys_uid = s->uid;
	privileged = 1;
	return 0;
}

int
queue_system_root(struct queue_system *s, struct result *r)
{
	if (seteuid(0) != 0 || setegid(0) != 0 || setgroups((size_t)s->ngroups, s->groups) != 0)
		return res_fail(r, RES_OSERR, "cannot take root's rights back: %s",
				strerror(errno));
	return 0;
}

int
queue_system_privileged(void)
{
	return privileged;
}

int
queue_system_openat(int dirfd, const char *name, int flags)
{
	int fd, err;

	if (!privileged)
		return openat(dirfd, name, flags);
	/* Only the effective uid: the groups need not change to read a file
	 * as root, and the system user's are back at once. */
	if (seteuid(0) != 0)
		return -1;
	fd = openat(dirfd, name, flags);
	err = errno;
	if (seteuid(sys_uid) != 0)
		abort();      /* never go on as root unnoticed */
	errno = err;
	return fd;
}

int
queue_system_drop(struct queue_system *s, struct result *r)
{
	if (seteuid(0) != 0 || setgroups(0, NULL) != 0 || setgid(s->gid) != 0 ||
	    setuid(s->uid) != 0)
		return res_fail(r, RES_OSERR, "cannot become the system user (uid %lu): %s",
				(unsigned long)s->uid, strerror(errno));
	privileged = 0;
	/* Gone for good, or the relay dialogue must not start at all. */
	if (setuid(0) == 0 || seteuid(0) == 0 || getuid() != s->uid || geteuid() != s->uid)
		abort();
	return 0;
}

int
queue_system_become(const char *qdir, struct result *r)
{
	struct queue_system s;
	int rc;

	if (!queue_system_detect(qdir, &s))
		return 0;
	rc = queue_system_drop(&s, r);
	queue_system_free(&s);
	return rc;
}
