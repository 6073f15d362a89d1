/* test-queue-list.c - -bp lists every file of the queue, readable or not,
 * and the remover takes delivered files out of q/ at once. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue-internal.h"
#include "queue.h"
#include "tap.h"
#include "util.h"

static char qdir[] = "/tmp/test-queue-list.XXXXXX";

static void
put(const char *name, const void *data, size_t len)
{
	char *path = xasprintf("%s/%s", qdir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ok(fd >= 0 && write_all(fd, data, len) == 0, "write %s", name);
	if (fd >= 0)
		close(fd);
	free(path);
}

/* What queue_list() prints for the queue, in a new string. */
static char *
listing(int *rc)
{
	struct config c = { .queue_dir = qdir };
	struct result r;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	res_clear(&r);
	*rc = queue_list(&c, out, &r);
	fclose(out);
	return text;
}

static void
test_list(void)
{
	static const char good[] = "mailout-envelope 1\nsender s@example.com\n"
				   "rcpt r@example.com\ncreated 1\n\nSubject: x\r\n\r\nbody\r\n";
	static const char nul[] = "mailout-envelope 1\nsender a\0b\nrcpt r@x\n\nx";
	char *text, *fifo, *q;
	int rc;

	text = listing(&rc);
	ok(rc == 0 && strstr(text, "Mail queue is empty"), "an empty queue (%s)", text);
	free(text);
	q = queue_subdir(qdir, "q", NULL);
	ok(q != NULL, "q/ made private");
	free(q);
	put("q/20000101T000000000000-nul", nul, sizeof(nul) - 1);
	put("q/20261207T000000000000-good", good, sizeof(good) - 1);
	put("q/20261207T000000000000-good.state", "attempts 2\nlast_error 451 busy\n",
	    strlen("attempts 2\nlast_error 451 busy\n"));
	put("q/README", "notes\n", strlen("notes\n"));
	fifo = xasprintf("%s/q/20000101T000000000001-fifo", qdir);
	ok(mkfifo(fifo, 0600) == 0, "a FIFO named like a message");
	text = listing(&rc);
	ok(rc == 0, "listed");
	ok(strstr(text, "20000101T000000000000-nul") && strstr(text, "NUL byte"),
	   "the file with a NUL is listed, with the reason");
	ok(strstr(text, "20000101T000000000001-fifo") && strstr(text, "not a regular file"),
	   "the FIFO is listed without blocking");
	ok(strstr(text, "20261207T000000000000-good") && strstr(text, "s@example.com") &&
	   strstr(text, "r@example.com") && strstr(text, "(451 busy)"),
	   "the good message after them, with its state");
	ok(!strstr(text, "README") && strstr(text, " Kbytes in 3 Requests.\n"),
	   "other names are not messages");
	free(text);
	unlink(fifo);
	free(fifo);
}

static void
test_remover(void)
{
	struct queue_remover rm;
	char *msg = xasprintf("%s/q/20261207T000000000000-good", qdir);
	char *state = xasprintf("%s.state", msg), *done = xasprintf("%s/done", qdir);
	struct stat st;

	queue_remover_start(&rm, qdir);
	ok(queue_remover_take(&rm, msg) == 0 && stat(msg, &st) != 0,
	   "a delivered message leaves q/ at once");
	ok(queue_remover_take(&rm, state) == 0 && stat(state, &st) != 0, "its state too");
	ok(queue_remover_take(&rm, msg) == 0, "taking it again is no error");
	queue_remover_finish(&rm);
	ok(rmdir(done) == 0, "done/ is empty once the run is over");
	free(msg);
	free(state);
	free(done);
}

int
main(void)
{
	if (!mkdtemp(qdir))
		return 1;
	test_list();
	test_remover();
	{
		char *p = xasprintf("%s/q/20000101T000000000000-nul", qdir);
		unlink(p);
		free(p);
		p = xasprintf("%s/q/README", qdir);
		unlink(p);
		free(p);
		p = xasprintf("%s/q", qdir);
		rmdir(p);
		free(p);
		rmdir(qdir);
	}
	return done_testing();
}
