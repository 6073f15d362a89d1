/*
 * queue-drop.c - handing a message to the system queue through
 * mailout-drop (SPEC 11), for a caller who may not deliver or queue it
 * itself.
 *
 * The helper is run with an empty environment and no argument; its
 * standard input gets the envelope the system queue takes (account,
 * sender, recipients: see drop.c) and the message exactly as spooled; its
 * standard output gives the drop file's name; its standard error is the
 * caller's, so its own words reach the user.  What it exits with becomes
 * a result class here.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "queue.h"
#include "util.h"

#ifndef MO_DROP_HELPER
#define MO_DROP_HELPER LIBEXECDIR "/mailout-drop"
#endif

const char *
queue_drop_helper(void)
{
	struct stat st;

	if (stat(MO_DROP_HELPER, &st) != 0 || !S_ISREG(st.st_mode) ||
	    !(st.st_mode & S_ISGID) || !(st.st_mode & S_IXOTH))
		return NULL;
	return MO_DROP_HELPER;
}

/* The drop envelope: what the system queue takes of e, nothing more. */
static void
drop_envelope(struct dynbuf *d, const struct queue_env *e)
{
	db_adds(d, "mailout-envelope 1\n");
	if (e->account)
		db_printf(d, "account %s\n", e->account);
	db_printf(d, "sender %s\n", e->sender ? e->sender : "");
	for (size_t i = 0; i < e->rcpts.n; i++)
		db_printf(d, "rcpt %s\n", e->rcpts.v[i]);
	db_adds(d, "\n");
}

static pid_t
start_helper(const char *helper, int *in, int *out)
{
	int to[2], from[2];
	pid_t pid;

	if (pipe2(to, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(from, O_CLOEXEC) < 0) {
		close(to[0]);
		close(to[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		char *const argv[] = { (char *)"mailout-drop", NULL };
		char *const envp[] = { NULL };

		if (dup2(to[0], 0) < 0 || dup2(from[1], 1) < 0)
			_exit(71);
		execve(helper, argv, envp);
		_exit(71);
	}
	close(to[0]);
	close(from[1]);
	if (pid < 0) {
		close(to[1]);
		close(from[0]);
		return -1;
	}
	*in = to[1];
	*out = from[0];
	return pid;
}

/* Envelope, then the message from fd at data_offset, to the helper. */
static int
feed(int in, int fd, off_t data_offset, const struct queue_env *e)
{
	struct dynbuf d = { 0 };
	char buf[65536];
	ssize_t n;
	int rc = -1;

	drop_envelope(&d, e);
	if (write_all(in, d.s, d.len) < 0 || lseek(fd, data_offset, SEEK_SET) != data_offset)
		goto out;
	while ((n = read_retry(fd, buf, sizeof(buf))) > 0)
		if (write_all(in, buf, (size_t)n) < 0)
			goto out;
	rc = n == 0 ? 0 : -1;
out:
	db_free(&d);
	return rc;
}

static int
helper_status(int status, struct result *r)
{
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

	switch (code) {
	case 0:
		return 0;
	case 75:
		return res_fail(r, RES_TEMPFAIL, "the system queue cannot take the message now");
	case 78:
		return res_fail(r, RES_CONFIG, "the system queue is not installed as it should be "
				"(mailout-drop says why)");
	case 65:
		return res_fail(r, RES_DATAERR, "the system queue refused the message "
				"(mailout-drop says why)");
	default:
		if (code < 0)
			return res_fail(r, RES_TEMPFAIL, "mailout-drop was killed by signal %d",
					WTERMSIG(status));
		return res_fail(r, RES_TEMPFAIL, "mailout-drop failed (exit %d)", code);
	}
}

int
queue_drop(const char *helper, int fd, off_t data_offset, const struct queue_env *e,
	   char *id, size_t idlen, struct result *r)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	int in = -1, out = -1, status = 0, fed;
	ssize_t n;
	size_t len = 0;
	pid_t pid;

	/* A helper that stops reading must not kill us with SIGPIPE. */
	sigaction(SIGPIPE, &ign, &old);
	pid = start_helper(helper, &in, &out);
	if (pid < 0) {
		sigaction(SIGPIPE, &old, NULL);
		return res_fail(r, RES_OSERR, "cannot run %s: %s", helper, strerror(errno));
	}
	fed = feed(in, fd, data_offset, e);
	/* A message we could not read whole must not be taken as complete:
	 * the helper removes its unfinished file on SIGTERM. */
	if (fed < 0)
		kill(pid, SIGTERM);
	close(in);
	while (len + 1 < idlen && (n = read_retry(out, id + len, idlen - 1 - len)) > 0)
		len += (size_t)n;
	id[len] = '\0';
	id[strcspn(id, "\n")] = '\0';
	close(out);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	sigaction(SIGPIPE, &old, NULL);
	if (helper_status(status, r) < 0)
		return -1;
	if (fed < 0)
		return res_fail(r, RES_IOERR, "cannot hand the message to %s", helper);
	return 0;
}
