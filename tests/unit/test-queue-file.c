/* test-queue-file.c - the queue's files: hostile envelopes, state files,
 * ids, and the rule that a state file is written only for the message
 * still locked. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue-internal.h"
#include "queue.h"
#include "tap.h"
#include "util.h"

static char dir[] = "/tmp/test-queue-file.XXXXXX";

/* A file in dir holding data[0..len). */
static int
file_with(const char *name, const void *data, size_t len)
{
	char *path = xasprintf("%s/%s", dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd >= 0 && write_all(fd, data, len) < 0) {
		close(fd);
		fd = -1;
	}
	free(path);
	return fd;
}

/* queue_env_read() of data: 0 or -1, the reason in why. */
static int
read_env(const void *data, size_t len, struct result *r)
{
	struct queue_env e;
	off_t off = -1;
	int fd = file_with("env", data, len), rc;

	res_clear(r);
	rc = fd >= 0 ? queue_env_read(fd, &e, &off, r) : -2;
	if (rc == 0)
		queue_env_free(&e);
	if (fd >= 0)
		close(fd);
	return rc;
}

#define READ_ENV(lit) read_env((lit), sizeof(lit) - 1, &r)

static void
test_hostile_envelopes(void)
{
	struct dynbuf d = { 0 };
	struct result r;

	/* A NUL in a line longer than one read, the block's end in a later
	 * read: the line parser met a NUL before the newline. */
	db_adds(&d, "mailout-envelope 1\nsender ");
	db_addc(&d, 'a');
	db_addc(&d, '\0');
	while (d.len < 9000)
		db_addc(&d, 'a');
	db_adds(&d, "\nrcpt r@x\n\nbody\r\n");
	ok(read_env(d.s, d.len, &r) < 0 && r.cls == RES_DATAERR && strstr(r.text, "NUL"),
	   "a NUL byte in a long envelope line is a data error (%s)", r.text);
	/* The same NUL in a short line, and right after the magic line. */
	ok(READ_ENV("mailout-envelope 1\nsender a\0b\nrcpt r@x\n\nbody") < 0 &&
	   r.cls == RES_DATAERR, "a NUL byte in a short line is a data error");
	ok(READ_ENV("mailout-envelope 1\n\0\n\n") < 0 && r.cls == RES_DATAERR,
	   "a NUL byte as a line is a data error");
	ok(READ_ENV("") < 0 && r.cls == RES_DATAERR, "an empty file is a data error");
	ok(READ_ENV("\n\n") < 0 && r.cls == RES_DATAERR, "a blank file is not a queue file");
	ok(READ_ENV("mailout-envelope 1\n\n") < 0 && r.cls == RES_DATAERR,
	   "an envelope without sender or recipients is a data error");
	ok(READ_ENV("mailout-envelope 1\nsenderx\n\n") < 0 && strstr(r.text, "bad"),
	   "a line without a value is a data error");
	ok(READ_ENV("mailout-envelope 1\nsender \nrcpt r@x\ncreated -5\n\n") < 0 &&
	   strstr(r.text, "created"), "a negative creation time is a data error");
	ok(READ_ENV("mailout-envelope 1\nsender \nrcpt r@x\ncreated 99999999999999999999\n\n")
	   < 0, "a creation time out of range is a data error");
	ok(READ_ENV("mailout-envelope 1\nsender \nrcpt r@x\nfuture thing\ncreated 5\n\nx")
	   == 0, "unknown keys are ignored (%s)", r.text);

	/* A block that never ends stops at the size limit. */
	db_reset(&d);
	db_adds(&d, "mailout-envelope 1\nsender s@x\n");
	while (d.len < 17 * 1024 * 1024)
		db_adds(&d, "rcpt r@example.com\n");
	ok(read_env(d.s, d.len, &r) < 0 && strstr(r.text, "no complete envelope"),
	   "an envelope over 16 MiB is refused");
	db_free(&d);

	/* Not a regular file: refused without reading (a FIFO would block). */
	char *fifo = xasprintf("%s/fifo", dir);
	int fd = mkfifo(fifo, 0600) == 0 ? open(fifo, O_RDWR | O_NONBLOCK) : -1;
	struct queue_env e;
	off_t off;

	res_clear(&r);
	ok(fd >= 0 && queue_env_read(fd, &e, &off, &r) < 0 && strstr(r.text, "regular"),
	   "a FIFO is not a queue file");
	if (fd >= 0)
		close(fd);
	unlink(fifo);
	free(fifo);
}

static void
test_state_round_trip(void)
{
	struct queue_state s, back;
	struct dynbuf d = { 0 };

	memset(&s, 0, sizeof(s));
	s.attempts = 3;
	s.last_try = 1700000000;
	s.next_try = 1700000600;
	s.created = 1600000000;
	str_copy(s.last_error, sizeof(s.last_error), "451 4.3.0\ttry\r later");
	queue_state_format(&d, &s);
	queue_state_parse(d.s, d.len, &back);
	is_int(back.attempts, 3, "attempts");
	ok(back.last_try == s.last_try && back.next_try == s.next_try &&
	   back.created == s.created, "times");
	is_str(back.last_error, "451 4.3.0 try  later", "control characters are spaces");
	ok(!back.warned && !strstr(d.s, "delay_warned"), "no delay warning: no line");
	db_reset(&d);
	s.warned = 1;
	queue_state_format(&d, &s);
	queue_state_parse(d.s, d.len, &back);
	ok(back.warned == 1, "delay_warned is kept");
	queue_state_parse("delay_warned 2\n", 15, &back);
	ok(back.warned == 0, "delay_warned other than 1 reads as not sent");
	db_free(&d);
}

static void
test_hostile_state(void)
{
	static const char text[] =
		"attempts 2147483647\nlast_try -9223372036854775808\nnext_try 1e9\n"
		"created 99999999999999999999\nlast_error a\0hidden\nattempts";
	struct queue_state s;
	struct dynbuf d = { 0 };

	queue_state_parse(text, sizeof(text) - 1, &s);
	ok(s.attempts == 0 && s.last_try == 0 && s.next_try == 0 && s.created == 0,
	   "numbers out of range, negative or malformed read as 0");
	is_str(s.last_error, "a", "a NUL ends a value");

	/* A line longer than any value: cut, and what follows is a new line. */
	db_adds(&d, "last_error ");
	for (int i = 0; i < 5000; i++)
		db_addc(&d, 'x');
	db_adds(&d, "\nattempts 7\n");
	queue_state_parse(d.s, d.len, &s);
	ok(strlen(s.last_error) == sizeof(s.last_error) - 1 && s.attempts == 7,
	   "a long last_error is cut, and the next line still counts");
	db_free(&d);
}

/* The state is written for the message fd still names, never for one
 * that another process has moved, removed or replaced meanwhile. */
static void
test_state_only_for_the_message_still_there(void)
{
	char *msg = xasprintf("%s/20261207T000000000000-abc", dir);
	char *state = xasprintf("%s.state", msg), *other = xasprintf("%s/other", dir);
	struct queue_state s, back;
	struct stat st;
	int fd = file_with("20261207T000000000000-abc", "x", 1);

	memset(&s, 0, sizeof(s));
	s.attempts = 1;
	ok(fd >= 0 && queue_state_save(fd, msg, &s) == 0 && stat(state, &st) == 0,
	   "the state of a message still there is written");
	queue_state_read(state, &back);
	is_int(back.attempts, 1, "and reads back");
	unlink(state);
	ok(rename(msg, other) == 0, "the message moves away (another run delivered it)");
	errno = 0;
	ok(queue_state_save(fd, msg, &s) < 0 && errno == ESTALE && stat(state, &st) != 0,
	   "no state file is left for a message that is gone");
	close(file_with("20261207T000000000000-abc", "y", 1));
	ok(queue_state_save(fd, msg, &s) < 0 && stat(state, &st) != 0,
	   "nor for another file under the same name");
	close(fd);
	unlink(msg);
	unlink(other);
	free(msg);
	free(state);
	free(other);
}

/* The warning names the failure's errno, not the clean-up's. */
static void
test_state_write_keeps_errno(void)
{
	char *state = xasprintf("%s/x.state", dir);
	struct queue_state s;
	struct rlimit old, low;
	int fd, rc, saved;

	memset(&s, 0, sizeof(s));
	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	fd = open("/dev/null", O_RDONLY);       /* the lowest free descriptor */
	low.rlim_cur = (rlim_t)fd;              /* so: no new one */
	close(fd);
	ok(setrlimit(RLIMIT_NOFILE, &low) == 0, "limit the descriptors");
	errno = 0;
	rc = queue_state_write(state, &s);
	saved = errno;
	setrlimit(RLIMIT_NOFILE, &old);
	ok(rc < 0 && saved == EMFILE, "EMFILE is reported as EMFILE (%s)", strerror(saved));
	unlink(state);
	free(state);
}

static void
test_ids(void)
{
	char id[64], **ids;
	size_t n;

	queue_make_id("/q/tmp/mo.AbC123", id, sizeof(id));
	ok(queue_is_id(id) && strlen(id) == 28 && !strcmp(id + 22, "AbC123"),
	   "a new id has the form of an id (%s)", id);
	ok(!queue_is_id("20261207T000000000000-abc.state") && !queue_is_id("README") &&
	   !queue_is_id("20261207T000000000000-") && !queue_is_id(""),
	   "state files and other names are not ids");
	close(file_with("20261207T000000000002-b", "", 0));
	close(file_with("20261207T000000000001-a", "", 0));
	close(file_with("20261207T000000000001-a.state", "", 0));
	ok(queue_list_ids(dir, &ids, &n) == 0 && n == 2 &&
	   !strcmp(ids[0], "20261207T000000000001-a"), "ids are listed oldest first");
	queue_free_ids(ids, n);
	char *missing = xasprintf("%s/none", dir);
	ok(queue_list_ids(missing, &ids, &n) == 0 && n == 0, "a missing directory is empty");
	free(missing);
}

static void
cleanup(void)
{
	static const char *const names[] = {
		"env", "20261207T000000000001-a", "20261207T000000000001-a.state",
		"20261207T000000000002-b",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *p = xasprintf("%s/%s", dir, names[i]);
		unlink(p);
		free(p);
	}
	rmdir(dir);
}

int
main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_hostile_envelopes();
	test_state_round_trip();
	test_hostile_state();
	test_state_only_for_the_message_still_there();
	test_state_write_keeps_errno();
	test_ids();
	cleanup();
	return done_testing();
}
