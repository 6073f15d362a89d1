/*
 * drop.c - mailout-drop, the set-group-id helper of the system queue
 * (SPEC 11).  The only privileged code on the submission side.
 *
 * A caller that may not deliver or queue a message itself hands it to this
 * program on standard input.  It is installed set-group-id to the drop
 * group, and the drop directory (DROP_DIR, LOCALSTATEDIR/spool/mailout/
 * maildrop) is open to that group alone (mode 1770, owner the mail
 * system's user; sticky, so that no file can be removed or renamed but by
 * its owner), so this program is the only way into it.  What it does, and
 * nothing else:
 *
 *   1. reads no configuration and no environment (the environment is
 *      cleared first thing), takes no argument;
 *   2. reads the prepared message from standard input and checks its form:
 *
 *        mailout-envelope 1
 *        account NAME          (at most once; optional)
 *        sender ADDR           (exactly once; "sender " alone: null sender)
 *        rcpt ADDR             (one or more)
 *        <empty line>
 *        <message>
 *
 *      every envelope line printable ASCII (no control byte), at most
 *      DROP_LINE_MAX bytes, at most DROP_RCPT_MAX recipients, and the whole
 *      input at most DROP_SIZE_MAX bytes;
 *   3. writes it, behind a first line of its own, "mailout-drop 1", and
 *      "uid N" (the caller's real uid as the kernel reports it) and
 *      "created EPOCH", into a new file of the drop directory created with
 *      O_EXCL | O_NOFOLLOW and mode 0600 (embryonic);
 *   4. fsyncs the file, marks it complete by adding the owner's execute
 *      bit (0700; the idea is Postfix's postdrop), fsyncs it and the
 *      directory, prints the file's name and exits 0.
 *
 * Nobody but the submitter and root can read a dropped file: the drop
 * group (this program) can see names, not content; the queue runner picks
 * files up with root's right to read them, before it gives up root.
 *
 * The file belongs to the caller (the program is set-group-id only), so
 * its owner is the kernel's record of who submitted it; the uid line is a
 * cross-check for the queue runner, which trusts neither: it takes the
 * owner from fstat(), refuses a mismatch, and treats the whole file as
 * hostile (the caller could still change it).  A file without the execute
 * bit is embryonic: a crash or a kill left it, and the runner removes it
 * when it is old.  On SIGINT, SIGTERM, SIGHUP and SIGQUIT the embryonic
 * file is removed.
 *
 * Exit status (sysexits.h): 0 dropped (also when the name cannot be
 * printed); 64 an argument given; 65 the input
 * is not of that form or too large; 73 the file cannot be created; 74 an
 * I/O error; 75 no space left (temporary); 78 the drop directory is
 * missing or not as installed (not a directory, writable by others, not
 * of the helper's group).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "drop.h"

#ifndef DROP_DIR
#define DROP_DIR LOCALSTATEDIR "/spool/mailout/maildrop"
#endif

/* The embryonic file, for the signal handler (a name, and the directory's
 * descriptor: unlinkat() is async-signal-safe). */
static int drop_dirfd = -1;
static char drop_name[64];
static volatile sig_atomic_t drop_embryonic;

static void
on_signal(int sig)
{
	if (drop_embryonic)
		unlinkat(drop_dirfd, drop_name, 0);
	_exit(128 + sig);
}

static void
die(int status, const char *fmt, const char *arg)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "mailout-drop: ");

	n += snprintf(msg + n, sizeof(msg) - (size_t)n, fmt, arg ? arg : "");
	if (n > (int)sizeof(msg) - 2)
		n = (int)sizeof(msg) - 2;
	msg[n++] = '\n';
	if (write(2, msg, (size_t)n) < 0) {
		/* nothing left to tell */
	}
	if (drop_embryonic)
		unlinkat(drop_dirfd, drop_name, 0);
	_exit(status);
}

/* Standard descriptors that a caller closed are opened on /dev/null, so
 * that the message file can never become descriptor 1 or 2. */
static void
open_standard_fds(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
			_exit(DROP_EX_OSERR);
}

static void
catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigfillset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
}

/* The drop directory, opened without following a link and checked: a
 * sticky directory of our effective group, writable by no other. */
static int
open_drop_dir(void)
{
	struct stat st;
	int fd = open(DROP_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		die(DROP_EX_CONFIG, "cannot open the drop directory " DROP_DIR ": %s",
		    strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))
		die(DROP_EX_CONFIG, "%s", DROP_DIR " is not a directory");
	if ((st.st_mode & S_IWOTH) || !(st.st_mode & S_ISVTX))
		die(DROP_EX_CONFIG, "%s", DROP_DIR " is not as installed (mode 1770 expected)");
	if (getegid() != getgid() && st.st_gid != getegid())
		die(DROP_EX_CONFIG, "%s", DROP_DIR " does not belong to the drop group");
	return fd;
}

/* A new embryonic file: "D<seconds>.<microseconds>.<pid>.<random>". */
static int
create_file(int dirfd)
{
	struct timeval tv;
	unsigned char rnd[6];
	int fd;

	for (int tries = 0; tries < 10; tries++) {
		gettimeofday(&tv, NULL);
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			die(DROP_EX_OSERR, "no random bytes: %s", strerror(errno));
		snprintf(drop_name, sizeof(drop_name),
			 "D%lld.%06ld.%ld.%02x%02x%02x%02x%02x%02x", (long long)tv.tv_sec,
			 (long)tv.tv_usec, (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3],
			 rnd[4], rnd[5]);
		drop_embryonic = 1;
		fd = openat(dirfd, drop_name,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		drop_embryonic = 0;
		if (errno != EEXIST)
			die(errno == ENOSPC || errno == EDQUOT ? DROP_EX_TEMPFAIL : DROP_EX_CANTCREAT,
			    "cannot create a file in the drop directory: %s", strerror(errno));
	}
	die(DROP_EX_CANTCREAT, "%s", "cannot create a file in the drop directory: no free name");
	return -1;
}

static void
write_out(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die(errno == ENOSPC || errno == EDQUOT || errno == EFBIG ? DROP_EX_TEMPFAIL
										  : DROP_EX_IOERR,
			    "cannot write the drop file: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

/* Read standard input into the file, the envelope checked on the way. */
static void
copy_input(int out)
{
	struct drop_check chk;
	char buf[65536], head[128];
	unsigned long long total = 0;
	ssize_t n;
	int len;

	len = snprintf(head, sizeof(head), "mailout-drop 1\nuid %lu\ncreated %lld\n",
		       (unsigned long)getuid(), (long long)time(NULL));
	write_out(out, head, (size_t)len);
	drop_check_init(&chk);
	for (;;) {
		n = read(0, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die(DROP_EX_IOERR, "cannot read the message: %s", strerror(errno));
		if (n == 0)
			break;
		total += (unsigned long long)n;
		if (total > DROP_SIZE_MAX)
			die(DROP_EX_DATAERR, "%s", "the message is larger than the system queue takes");
		if (drop_check_feed(&chk, buf, (size_t)n) < 0)
			die(DROP_EX_DATAERR, "malformed input: %s", chk.error);
		write_out(out, buf, (size_t)n);
	}
	if (drop_check_finish(&chk) < 0)
		die(DROP_EX_DATAERR, "malformed input: %s", chk.error);
}

int
main(int argc, char **argv)
{
	int dirfd, fd;

	(void)argv;
	clearenv();
	umask(077);
	open_standard_fds();
	catch_signals();
	if (argc != 1)
		die(DROP_EX_USAGE, "%s", "takes no arguments (a prepared message on standard input)");
	dirfd = drop_dirfd = open_drop_dir();
	fd = create_file(dirfd);
	copy_input(fd);
	if (fsync(fd) < 0)
		die(DROP_EX_IOERR, "cannot fsync the drop file: %s", strerror(errno));
	/* Complete: the mail system may take it now. */
	if (fchmod(fd, 0700) < 0 || fsync(fd) < 0)
		die(DROP_EX_IOERR, "cannot complete the drop file: %s", strerror(errno));
	drop_embryonic = 0;
	if (close(fd) < 0)
		die(DROP_EX_IOERR, "cannot close the drop file: %s", strerror(errno));
	if (fsync(dirfd) < 0)
		die(DROP_EX_IOERR, "cannot fsync the drop directory: %s", strerror(errno));
	/* The message is in: a name that cannot be printed (standard output
	 * closed, which the C library reopens read-only for a set-group-id
	 * program) must not make the caller send it again. */
	printf("%s\n", drop_name);
	fflush(stdout);
	return 0;
}
