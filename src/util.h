/*
 * util.h - small helpers shared by every module: allocation that cannot
 * fail silently, a growable byte buffer, paths and host names.
 */
#ifndef MAILOUT_UTIL_H
#define MAILOUT_UTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Allocation: on failure these print "mailout: out of memory" and abort
 * (there is no sensible recovery, and the spool file keeps the message). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer, always NUL-terminated (d.s may be NULL while empty). */
struct dynbuf {
	char *s;
	size_t len, cap;
};
/* Make room for n more bytes (plus the NUL) without changing the length. */
void db_reserve(struct dynbuf *d, size_t n);
void db_add(struct dynbuf *d, const void *p, size_t n);
void db_adds(struct dynbuf *d, const char *s);
void db_addc(struct dynbuf *d, char c);
void db_printf(struct dynbuf *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void db_reset(struct dynbuf *d);           /* length 0, memory kept */
void db_free(struct dynbuf *d);            /* memory wiped and released */
const char *db_str(const struct dynbuf *d); /* "" when empty */

/* Copy src into dst[n], truncating; dst is always NUL-terminated. */
void str_copy(char *dst, size_t n, const char *src);

/* Overwrite memory that held a secret, in a way the compiler keeps. */
void wipe(void *p, size_t n);
/* wipe() and free() a NUL-terminated secret; NULL is fine. */
void free_secret(char *s);

/* 1 when path is absolute and it, or when it does not exist yet its
 * nearest existing ancestor, is a directory owned by the real user. */
int dir_is_users(const char *path);

/* The real user's home (SPEC 2): $HOME when it is a directory of theirs
 * (dir_is_users()), else the password database's home for getuid(), else
 * "/".  The string is the environment's or static: do not free it. */
const char *user_home(void);

/* "~/x" -> user_home() "/x"; other paths are copied.  Returns a new
 * string. */
char *path_expand(const char *path);

/* mkdir -p with the given mode for every directory created.
 * Returns 0, or -1 with errno set. */
int mkdir_p(const char *path, mode_t mode);

/* fsync() the directory holding path (or path itself when is_dir).
 * Returns 0, or -1 with errno set. */
int fsync_dir_of(const char *path, int is_dir);

/* A private (0600) anonymous temporary file in dir (or $TMPDIR, /tmp when
 * dir is NULL or unusable).  Returns the fd, or -1 with errno set. */
int tmp_private(const char *dir);

/* read(), retried when a signal interrupts it. */
ssize_t read_retry(int fd, void *buf, size_t n);

/* Read n bytes into buf unless the end of the input comes first,
 * retrying on EINTR and short reads.  Returns the count (< n only at the
 * end), or -1 with errno set. */
ssize_t read_full(int fd, void *buf, size_t n);

/* Write all of buf, retrying on EINTR and short writes, and waiting
 * (poll) when a non-blocking fd says EAGAIN.  0, or -1 with errno set. */
int write_all(int fd, const void *buf, size_t n);

/* Copy n bytes (all, up to the end of the input, when n < 0) from in, where
 * it is, to out with write_all().  0 (also when in ends early), -1 with
 * errno set when reading fails, -2 with errno set when writing fails. */
int copy_fd(int in, int out, off_t n);

/* 1 when a write failed with err because the disk or a quota or file
 * size limit is full (ENOSPC, EDQUOT, EFBIG): a temporary failure, which
 * may pass (SPEC 8). */
int disk_full_errno(int err);

/* This host's name as gethostname() gives it, and its fully qualified
 * name (canonical name from the resolver, falling back to the former).
 * Both computed once, on first use. */
const char *host_name(void);
const char *host_fqdn(void);

/* The host's mail domain (SPEC 2): the first line of /etc/mailname when
 * it exists and holds a name (Debian policy), else host_fqdn().  It
 * completes bare local names and the default sender user@domain.
 * Computed once, on first use; do not free it. */
const char *mail_domain(void);

/* The invoking user's login name (password database for getuid()),
 * falling back to $USER/$LOGNAME, then "uid<N>". */
const char *user_name(void);

/* 1 when s holds CR or LF (a C string cannot hold NUL: callers that
 * read raw bytes check for NUL themselves). */
int has_line_break(const char *s);

/* ASCII case-insensitive prefix test; returns 1 when s starts with p. */
int has_prefix_ci(const char *s, const char *p);

#endif
