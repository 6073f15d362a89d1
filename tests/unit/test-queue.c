/* test-queue.c - the queue's envelope block, keeping a spool file, and
 * retry back-off. */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue-internal.h"
#include "queue.h"
#include "tap.h"
#include "util.h"

static void
test_envelope_round_trip(void)
{
	struct queue_env e = { 0 }, back;
	struct dynbuf d = { 0 };
	struct result r;
	off_t off = 0;
	char path[] = "/tmp/test-queue.XXXXXX";
	int fd = mkstemp(path);

	e.account = xstrdup("work");
	e.sender = xstrdup("");
	addr_list_add(&e.rcpts, "a@example.com");
	addr_list_add(&e.rcpts, "b@example.com");
	e.created = 1700000000;
	queue_env_format(&d, &e);
	db_adds(&d, "Subject: x\r\n\r\nbody\r\n");
	ok(fd >= 0 && write_all(fd, d.s, d.len) == 0, "write a queue file");
	res_clear(&r);
	ok(queue_env_read(fd, &back, &off, &r) == 0, "read it back");
	is_str(back.account, "work", "account");
	is_str(back.sender, "", "the null sender survives");
	ok(back.rcpts.n == 2 && !strcmp(back.rcpts.v[1], "b@example.com"), "recipients");
	is_int(back.created, 1700000000, "created");
	ok(off > 0 && (size_t)off == d.len - strlen("Subject: x\r\n\r\nbody\r\n"),
	   "the message starts right after the envelope");
	queue_env_free(&back);
	queue_env_free(&e);

	/* A file cut inside the envelope is refused, not half-read. */
	ok(ftruncate(fd, 20) == 0, "truncate");
	ok(queue_env_read(fd, &back, &off, &r) < 0 && r.cls == RES_DATAERR,
	   "an incomplete envelope is a data error");
	/* A repeated envelope line is refused (it leaked the first value). */
	db_reset(&d);
	db_adds(&d, "mailout-envelope 1\naccount a\naccount b\nsender s@x\nrcpt r@x\n\nbody\r\n");
	ok(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0 && write_all(fd, d.s, d.len) == 0,
	   "write an envelope with a repeated line");
	ok(queue_env_read(fd, &back, &off, &r) < 0 && r.cls == RES_DATAERR &&
	   strstr(r.text, "repeated"), "a repeated envelope line is a data error");

	/* The blank line that ends the envelope, across the 8 KiB reads. */
	db_reset(&d);
	db_adds(&d, "mailout-envelope 1\nsender s@x\n");
	while (d.len < 8191)
		db_adds(&d, "rcpt r@x\n");
	db_adds(&d, "\nbody\r\n");
	ok(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0 && write_all(fd, d.s, d.len) == 0,
	   "write a long envelope");
	ok(queue_env_read(fd, &back, &off, &r) == 0 && (size_t)off == d.len - strlen("body\r\n"),
	   "an envelope end that straddles two reads is found");
	queue_env_free(&back);
	close(fd);
	unlink(path);
	db_free(&d);
}

static void
test_backoff(void)
{
	long lo = 1L << 30, hi = 0, first_lo = 1L << 30, first_hi = 0;

	for (int i = 0; i < 200; i++) {
		long d = queue_backoff(1);
		first_lo = d < first_lo ? d : first_lo;
		first_hi = d > first_hi ? d : first_hi;
	}
	ok(first_lo >= 240 && first_hi <= 360, "first retry after 5 min +-20%% (%ld..%ld)",
	   first_lo, first_hi);
	ok(first_hi > first_lo, "jitter: retries of many messages do not line up");
	for (int i = 0; i < 200; i++) {
		long d = queue_backoff(3);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	ok(lo >= 960 && hi <= 1440, "third retry after 20 min +-20%% (%ld..%ld)", lo, hi);
	lo = 1L << 30, hi = 0;
	for (int i = 0; i < 200; i++) {
		long d = queue_backoff(50 + i);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	ok(lo >= 4 * 3600 * 4 / 5 && hi <= 4 * 3600 * 6 / 5,
	   "capped at 4 h +-20%% however many attempts (%ld..%ld)", lo, hi);
	ok(queue_backoff(1000000) > 0, "no overflow for absurd attempt counts");
}

/* A spool file kept for some of its recipients: the queued copy names
 * only those, its state records the failure, the spool file is gone, and
 * the message is not left locked (a background run must get it). */
static void
test_keep(void)
{
	char qdir[] = "/tmp/test-queue-keep.XXXXXX", id[64];
	struct queue_env e = { 0 }, back;
	struct queue_state st;
	struct addr_list pending = { 0 };
	struct dynbuf d = { 0 };
	struct result r;
	struct stat sb;
	char *spool, *path, *spath;
	off_t off, back_off;
	int fd, other;

	ok(mkdtemp(qdir) != NULL, "a queue directory");
	free(queue_subdir(qdir, "tmp", NULL));
	spool = xasprintf("%s/tmp/mo.AbC123", qdir);
	e.sender = xstrdup("s@example.com");
	addr_list_add(&e.rcpts, "a@example.com");
	addr_list_add(&e.rcpts, "b@example.com");
	e.created = 1700000000;
	queue_env_format(&d, &e);
	off = (off_t)d.len;
	db_adds(&d, "Subject: x\r\n\r\nbody\r\n");
	fd = open(spool, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ok(fd >= 0 && write_all(fd, d.s, d.len) == 0, "a spool file");
	addr_list_add(&pending, "b@example.com");
	res_clear(&r);
	ok(queue_keep(qdir, spool, fd, off, &pending, "451 busy", id, sizeof(id), &r) == 0,
	   "kept (%s)", r.text);
	ok(queue_is_id(id) && stat(spool, &sb) != 0, "under a queue id, the spool file gone");
	path = xasprintf("%s/q/%s", qdir, id);
	spath = xasprintf("%s.state", path);
	other = open(path, O_RDWR | O_CLOEXEC);
	ok(other >= 0 && flock(other, LOCK_EX | LOCK_NB) == 0, "and not left locked");
	ok(other >= 0 && queue_env_read(other, &back, &back_off, &r) == 0 && back.rcpts.n == 1 &&
	   !strcmp(back.rcpts.v[0], "b@example.com"), "the queued copy names the pending only");
	queue_env_free(&back);
	queue_state_read(spath, &st);
	ok(st.attempts == 1 && !strcmp(st.last_error, "451 busy") &&
	   st.next_try >= st.last_try + 240, "its state: one attempt, the error, a back-off");
	if (other >= 0)
		close(other);
	close(fd);
	unlink(path);
	unlink(spath);
	free(path);
	free(spath);

	/* The whole envelope (queue = always), the caller's descriptor still
	 * open: the lock taken while it entered q/ is released all the same. */
	fd = open(spool, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ok(fd >= 0 && write_all(fd, d.s, d.len) == 0, "another spool file");
	ok(queue_keep(qdir, spool, fd, off, NULL, NULL, id, sizeof(id), &r) == 0, "kept");
	path = xasprintf("%s/q/%s", qdir, id);
	spath = xasprintf("%s.state", path);
	other = open(path, O_RDWR | O_CLOEXEC);
	ok(other >= 0 && flock(other, LOCK_EX | LOCK_NB) == 0,
	   "not locked while the caller keeps its descriptor");
	queue_state_read(spath, &st);
	ok(st.attempts == 0 && st.next_try > 0, "due at once");
	if (other >= 0)
		close(other);
	close(fd);
	unlink(path);
	unlink(spath);
	free(path);
	free(spath);
	path = xasprintf("%s/q", qdir);
	rmdir(path);
	free(path);
	path = xasprintf("%s/tmp", qdir);
	rmdir(path);
	free(path);
	ok(rmdir(qdir) == 0, "nothing else left behind");
	free(spool);
	addr_list_free(&pending);
	queue_env_free(&e);
	db_free(&d);
}

int
main(void)
{
	test_envelope_round_trip();
	test_keep();
	test_backoff();
	return done_testing();
}
