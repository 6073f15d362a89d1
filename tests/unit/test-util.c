/* Unit tests for util.c: the byte buffer, string helpers, paths, and the
 * I/O loops (read_full, write_all on a non-blocking pipe, copy_fd). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "util.h"

static void
test_dynbuf(void)
{
	struct dynbuf d = { 0 };

	is_str(db_str(&d), "", "an empty buffer reads as \"\"");
	for (int i = 0; i < 10000; i++)
		db_addc(&d, (char)('a' + i % 26));
	db_printf(&d, "%s-%d", "end", 42);
	ok(d.len == 10006 && d.s[d.len] == '\0' && !strcmp(d.s + 10000, "end-42"),
	   "grows, stays NUL-terminated, printf appends");
	db_reset(&d);
	ok(d.len == 0 && d.cap > 0 && !strcmp(db_str(&d), ""), "reset keeps the memory");
	db_add(&d, "a\0b", 3);
	ok(d.len == 3 && !memcmp(d.s, "a\0b", 4), "bytes with NUL");
	db_free(&d);
	ok(d.s == NULL && d.len == 0 && d.cap == 0, "free leaves it empty");
}

static void
test_strings(void)
{
	char small[5];

	str_copy(small, sizeof(small), "abcdefgh");
	ok(strcmp(small, "abcd") == 0, "str_copy truncates and terminates");
	ok(has_line_break("a\rb") && has_line_break("a\n") && !has_line_break("ab"),
	   "line breaks are CR or LF");
	ok(has_prefix_ci("MAIL FROM:", "mail from:") && !has_prefix_ci("MAI", "mail"),
	   "case-insensitive prefix");
	ok(disk_full_errno(ENOSPC) && disk_full_errno(EDQUOT) && disk_full_errno(EFBIG) &&
	   !disk_full_errno(EIO) && !disk_full_errno(EACCES) && !disk_full_errno(0),
	   "a full disk, quota or file size limit is temporary; other errors are not");
}

static void
test_paths(const char *dir)
{
	char *p, *home = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL;
	struct stat st;

	setenv("HOME", "/home/tester", 1);
	p = path_expand("~/x/y");
	is_str(p, "/home/tester/x/y", "~/ is $HOME");
	free(p);
	p = path_expand("/etc/~x");
	is_str(p, "/etc/~x", "other paths are copied");
	free(p);
	if (home)
		setenv("HOME", home, 1);
	free(home);

	p = xasprintf("%s/a/b/c", dir);
	ok(mkdir_p(p, 0700) == 0 && stat(p, &st) == 0 && S_ISDIR(st.st_mode) &&
	   (st.st_mode & 0777) == 0700, "mkdir_p makes every level, with the mode");
	ok(mkdir_p(p, 0700) == 0, "and is content when it exists");
	free(p);
	{
		int fd = tmp_private(dir);

		ok(fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600 &&
		   st.st_nlink == 0, "tmp_private: mode 0600, no name");
		if (fd >= 0)
			close(fd);
	}
}

/* A child that reads the pipe slowly and writes what it got to out. */
static pid_t
slow_reader(int rd, int wr, int out)
{
	pid_t pid = fork();

	if (pid == 0) {
		char buf[4096];
		ssize_t n;

		close(wr);
		usleep(100000);
		while ((n = read(rd, buf, sizeof(buf))) > 0)
			if (write_all(out, buf, (size_t)n) < 0)
				_exit(1);
		_exit(n < 0);
	}
	return pid;
}

static void
test_write_all_nonblocking(const char *dir)
{
	enum { SIZE = 1 << 20 };
	char *big, *back;
	int p[2], out = tmp_private(dir), status;
	pid_t pid;

	if (pipe(p) != 0 || out < 0)
		abort();
	fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
	fflush(stdout);
	pid = slow_reader(p[0], p[1], out);
	close(p[0]);
	big = xmalloc(SIZE);
	back = xmalloc(SIZE);
	for (size_t i = 0; i < SIZE; i++)
		big[i] = (char)(i * 7 + i / 251);
	ok(write_all(p[1], big, SIZE) == 0, "write_all: 1 MiB through a non-blocking pipe "
	   "that is full (EAGAIN) waits instead of failing");
	close(p[1]);
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && lseek(out, 0, SEEK_SET) == 0 &&
	   read_full(out, back, SIZE) == SIZE && !memcmp(big, back, SIZE),
	   "... every byte arrives, in order");
	close(out);
	free(big);
	free(back);
}

static void
test_copy_fd(const char *dir)
{
	const char *text = "0123456789abcdefghij";
	int in = tmp_private(dir), out = tmp_private(dir), p[2];
	char buf[64] = "";

	if (in < 0 || out < 0 || write_all(in, text, 20) < 0 || lseek(in, 5, SEEK_SET) != 5)
		abort();
	ok(copy_fd(in, out, 10) == 0 && lseek(in, 0, SEEK_CUR) == 15,
	   "copy_fd: n bytes from where the input is");
	ok(copy_fd(in, out, -1) == 0, "n < 0: to the end");
	ok(lseek(out, 0, SEEK_SET) == 0 && read_full(out, buf, sizeof(buf)) == 15 &&
	   !memcmp(buf, text + 5, 15), "... the bytes, in order");
	lseek(in, 18, SEEK_SET);
	ok(copy_fd(in, out, 100) == 0, "an input that ends early is no error");

	lseek(in, 0, SEEK_SET);
	if (pipe(p) != 0)
		abort();
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	ok(copy_fd(in, p[1], -1) == -2 && errno == EPIPE, "a write error is -2, errno kept");
	close(p[1]);
	ok(copy_fd(-1, out, -1) == -1 && errno == EBADF, "a read error is -1, errno kept");
	close(in);
	close(out);
}

static void
test_read_full(void)
{
	int p[2];
	char buf[16] = "";
	pid_t pid;

	if (pipe(p) != 0)
		abort();
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		for (int i = 0; i < 10; i++) {
			if (write(p[1], "ab", 2) != 2)
				_exit(1);
			usleep(2000);
		}
		_exit(0);
	}
	close(p[1]);
	ok(read_full(p[0], buf, 12) == 12 && !memcmp(buf, "abababababab", 12),
	   "read_full: gathers short reads to n");
	ok(read_full(p[0], buf, 16) == 8, "... and returns fewer only at the end");
	close(p[0]);
	waitpid(pid, NULL, 0);
}

int
main(void)
{
	char dir[] = "/tmp/test-util.XXXXXX";

	if (!mkdtemp(dir))
		return 1;
	test_dynbuf();
	test_strings();
	test_paths(dir);
	test_write_all_nonblocking(dir);
	test_copy_fd(dir);
	test_read_full();
	{
		char *cmd = xasprintf("rm -rf '%s'", dir);
		if (system(cmd) != 0)
			ok(0, "clean up %s", dir);
		free(cmd);
	}
	return done_testing();
}
