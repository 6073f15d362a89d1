/*
 * queue-list.c - the queue as -bp and mailq show it, and the cheap look
 * that tells a sender whether a background run is worth starting.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue-internal.h"
#include "queue.h"
#include "util.h"

#define INDENT 54                /* where the second and later lines start */

void
queue_age_str(char *buf, size_t len, long secs)
{
	if (secs < 3600)
		snprintf(buf, len, "%ldm", secs / 60);
	else if (secs < 86400)
		snprintf(buf, len, "%ldh%02ldm", secs / 3600, secs % 3600 / 60);
	else
		snprintf(buf, len, "%ldd%02ldh", secs / 86400, secs % 86400 / 3600);
}

/* The entry of dir/id.  A file that cannot be read is shown all the same,
 * with the reason: a message nobody sees is lost.  Returns the size of the
 * message (0 when it cannot be read). */
static long long
list_one(const char *dir, const char *id, int failed, FILE *out)
{
	char *path = xasprintf("%s/%s", dir, id);
	char *spath = xasprintf("%s.state", path), age[32];
	const char *mark = failed ? "  (FAILED)" : "";
	struct queue_env e;
	struct queue_state st;
	struct result r;
	struct stat sb;
	off_t off;
	long long size = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), ok;

	res_clear(&r);
	if (fd < 0)
		res_fail(&r, RES_NOINPUT, "cannot open it: %s", strerror(errno));
	ok = fd >= 0 && fstat(fd, &sb) == 0 && queue_env_read(fd, &e, &off, &r) == 0;
	queue_state_read(spath, &st);
	if (ok) {
		long secs = (long)(time(NULL) - e.created);

		size = (long long)(sb.st_size - off);
		queue_age_str(age, sizeof(age), secs < 0 ? 0 : secs);
		fprintf(out, "%-28s %10lld %7s %5d  %s%s\n", id, size, age, st.attempts,
			*e.sender ? e.sender : "<>", mark);
	} else {
		fprintf(out, "%-28s %10s %7s %5d  %s%s\n", id, "?", "?", st.attempts,
			"(unreadable)", mark);
		fprintf(out, "%*s(%s)\n", INDENT, "", r.text);
	}
	if (st.last_error[0] && (ok || strcmp(st.last_error, r.text) != 0))
		fprintf(out, "%*s(%s)\n", INDENT, "", st.last_error);
	if (ok) {
		for (size_t k = 0; k < e.rcpts.n; k++)
			fprintf(out, "%*s%s\n", INDENT, "", e.rcpts.v[k]);
		queue_env_free(&e);
	}
	if (fd >= 0)
		close(fd);
	free(path);
	free(spath);
	return size;
}

static int
list_dir(const char *dir, int failed, FILE *out, int *count, long long *bytes)
{
	char **ids;
	size_t n;

	if (queue_list_ids(dir, &ids, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (*count == 0)
			fprintf(out, "%-28s %10s %7s %5s  %s\n", "Queue ID", "Size", "Age",
				"Tries", "Sender/Recipients");
		*bytes += list_one(dir, ids[i], failed, out);
		(*count)++;
	}
	queue_free_ids(ids, n);
	return 0;
}

int
queue_list(const struct config *c, FILE *out, struct result *r)
{
	char *q = xasprintf("%s/q", c->queue_dir);
	char *f = xasprintf("%s/failed", c->queue_dir);
	long long bytes = 0;
	int count = 0, rc = 0;

	if (list_dir(q, 0, out, &count, &bytes) < 0 || list_dir(f, 1, out, &count, &bytes) < 0)
		rc = res_fail(r, RES_IOERR, "cannot read the queue in %s: %s", c->queue_dir,
			      strerror(errno));
	else if (count == 0)
		fprintf(out, "Mail queue is empty\n");
	else    /* Postfix's summary line, which monitoring (check_mailq) reads */
		fprintf(out, "-- %lld Kbytes in %d Request%s.\n", (bytes + 1023) / 1024, count,
			count == 1 ? "" : "s");
	free(q);
	free(f);
	return rc;
}

int
queue_waiting(const char *qdir)
{
	char *q = xasprintf("%s/q", qdir);
	DIR *d = opendir(q);
	struct dirent *de;
	int found = 0;

	while (d && !found && (de = readdir(d)))
		found = queue_is_id(de->d_name);
	if (d)
		closedir(d);
	free(q);
	return found;
}
