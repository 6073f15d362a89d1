/* testutil.h - what the unit tests share besides TAP (header only): files
 * to read from and back.  Every function aborts on an error it cannot
 * report, and returns strings to free(). */
#ifndef MAILOUT_TESTUTIL_H
#define MAILOUT_TESTUTIL_H

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* An fd that reads n bytes of s from its start (a private temporary file). */
static inline int
t_fd_of(const char *s, size_t n)
{
	int fd = tmp_private(NULL);

	if (fd < 0 || write_all(fd, s, n) < 0 || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

/* The same for a string. */
static inline int
t_fd_of_str(const char *s)
{
	return t_fd_of(s, strlen(s));
}

/* Everything in fd from offset from on, as a string. */
static inline char *
t_read_fd(int fd, off_t from)
{
	struct dynbuf d = { 0 };
	char buf[4096];
	ssize_t n;

	if (lseek(fd, from, SEEK_SET) != from)
		abort();
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		db_add(&d, buf, (size_t)n);
	return d.s ? d.s : xstrdup("");
}

/* The contents of the file at path, or NULL when it cannot be opened
 * (t_read_file_or_empty: "" then). */
static inline char *
t_read_file(const char *path)
{
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	char *s;

	if (fd < 0)
		return NULL;
	s = t_read_fd(fd, 0);
	close(fd);
	return s;
}

static inline char *
t_read_file_or_empty(const char *path)
{
	char *s = t_read_file(path);

	return s ? s : xstrdup("");
}

/* The longest line of s (lines end in LF; CR is not counted), the first
 * line starting at column col. */
static inline size_t
t_longest_line(const char *s, size_t col)
{
	size_t max = 0, len = col;

	for (; *s; s++) {
		if (*s == '\n') {
			len = 0;
			continue;
		}
		if (*s != '\r' && ++len > max)
			max = len;
	}
	return max;
}

#endif
