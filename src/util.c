/* util.c - allocation, buffers, paths and host names. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#ifndef MO_MAILNAME
#define MO_MAILNAME "/etc/mailname"
#endif

static void
oom(void)
{
	static const char m[] = "mailout: out of memory\n";

	(void)!write(2, m, sizeof(m) - 1);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	va_end(ap);
	return s;
}

void
db_reserve(struct dynbuf *d, size_t extra)
{
	size_t need = d->len + extra + 1;

	if (need <= d->cap)
		return;
	size_t cap = d->cap ? d->cap : 64;
	while (cap < need)
		cap *= 2;
	d->s = xrealloc(d->s, cap);
	d->cap = cap;
}

void
db_add(struct dynbuf *d, const void *p, size_t n)
{
	db_reserve(d, n);
	memcpy(d->s + d->len, p, n);
	d->len += n;
	d->s[d->len] = '\0';
}

void
db_adds(struct dynbuf *d, const char *s)
{
	db_add(d, s, strlen(s));
}

void
db_addc(struct dynbuf *d, char c)
{
	db_add(d, &c, 1);
}

void
db_printf(struct dynbuf *d, const char *fmt, ...)
{
	va_list ap;
	int n;

	char probe[1];

	va_start(ap, fmt);
	n = vsnprintf(probe, sizeof(probe), fmt, ap);   /* the length it needs */
	va_end(ap);
	if (n < 0)
		return;
	db_reserve(d, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(d->s + d->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	d->len += (size_t)n;
}

void
db_reset(struct dynbuf *d)
{
	d->len = 0;
	if (d->s)
		d->s[0] = '\0';
}

void
db_free(struct dynbuf *d)
{
	if (d->s)
		wipe(d->s, d->cap);
	free(d->s);
	d->s = NULL;
	d->len = d->cap = 0;
}

const char *
db_str(const struct dynbuf *d)
{
	return d->s ? d->s : "";
}

void
str_copy(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);

	if (n == 0)
		return;
	if (len >= n)
		len = n - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

void
wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

void
free_secret(char *s)
{
	if (s) {
		wipe(s, strlen(s));
		free(s);
	}
}

int
dir_is_users(const char *path)
{
	struct stat st;
	char *p;
	int rc;

	if (!path || path[0] != '/')
		return 0;
	p = xstrdup(path);
	/* Not made yet: its nearest existing ancestor decides. */
	while (stat(p, &st) != 0 && errno == ENOENT && strrchr(p, '/') != p)
		*strrchr(p, '/') = '\0';
	rc = stat(p, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid();
	free(p);
	return rc;
}

const char *
user_home(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	/* SPEC 2: $HOME counts only when it is the real user's (cron and atd
	 * started from a root shell pass HOME=/root to every job). */
	if (dir_is_users(h))
		return h;
	pw = getpwuid(getuid());
	return pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : "/";
}

char *
path_expand(const char *path)
{
	if (path[0] == '~' && (path[1] == '/' || path[1] == '\0'))
		return xasprintf("%s%s", user_home(), path + 1);
	return xstrdup(path);
}

int
mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	struct stat st;

	for (char *s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) == 0) {
			/* A new directory lasts only once its parent is synced
			 * (the queue's first message depends on it). */
			(void)fsync_dir_of(p, 0);
		} else if (errno != EEXIST) {
			int e = errno;
			free(p);
			errno = e;
			return -1;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	if (stat(path, &st) != 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

int
fsync_dir_of(const char *path, int is_dir)
{
	char *dir;
	int fd, rc;

	if (is_dir) {
		dir = xstrdup(path);
	} else {
		const char *slash = strrchr(path, '/');
		dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path))
			    : xstrdup(".");
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
tmp_private(const char *dir)
{
	const char *t = getenv("TMPDIR");
	const char *dirs[3] = { dir, t && *t ? t : NULL, "/tmp" };

	for (int i = 0; i < 3; i++) {
		char *path;
		int fd;

		if (!dirs[i])
			continue;
		path = xasprintf("%s/mo-tmp.XXXXXX", dirs[i]);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd >= 0)
			unlink(path);
		free(path);
		if (fd >= 0)
			return fd;
	}
	return -1;
}

ssize_t
read_retry(int fd, void *buf, size_t n)
{
	ssize_t r;

	do
		r = read(fd, buf, n);
	while (r < 0 && errno == EINTR);
	return r;
}

/* Wait until fd can take more output (a non-blocking fd said EAGAIN).
 * 0, or -1 with errno set. */
static int
wait_writable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	for (;;) {
		if (poll(&p, 1, -1) >= 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

int
write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_writable(fd) == 0)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t
read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = read_retry(fd, (char *)buf + got, n - got);
		if (k < 0)
			return -1;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

int
copy_fd(int in, int out, off_t n)
{
	char buf[65536];

	while (n != 0) {
		size_t want = n < 0 || n > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)n;
		ssize_t k = read_retry(in, buf, want);

		if (k < 0)
			return -1;
		if (k == 0)
			break;
		if (write_all(out, buf, (size_t)k) < 0)
			return -2;
		if (n > 0)
			n -= k;
	}
	return 0;
}

int
disk_full_errno(int err)
{
	return err == ENOSPC || err == EDQUOT || err == EFBIG;
}

const char *
host_name(void)
{
	static char name[256];

	if (!name[0]) {
		if (gethostname(name, sizeof(name) - 1) != 0 || !name[0])
			strcpy(name, "localhost");
		name[sizeof(name) - 1] = '\0';
	}
	return name;
}

const char *
host_fqdn(void)
{
	static char *fqdn;

	if (!fqdn) {
		struct addrinfo hints, *ai = NULL;
		const char *h = host_name();

		memset(&hints, 0, sizeof(hints));
		hints.ai_flags = AI_CANONNAME;
		hints.ai_family = AF_UNSPEC;
		if (!strchr(h, '.') && getaddrinfo(h, NULL, &hints, &ai) == 0 &&
		    ai && ai->ai_canonname && strchr(ai->ai_canonname, '.'))
			fqdn = xstrdup(ai->ai_canonname);
		else
			fqdn = xstrdup(h);
		if (ai)
			freeaddrinfo(ai);
	}
	return fqdn;
}

const char *
mail_domain(void)
{
	static char *domain;

	if (!domain) {
		char line[256];
		FILE *f = fopen(MO_MAILNAME, "re");

		/* Debian policy: the first line of /etc/mailname, when it holds
		 * a name (no blanks, no '@'), is the mail domain. */
		if (f && fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\r\n")] = '\0';
			if (line[0] && !strpbrk(line, " \t@") && line[0] != '.')
				domain = xstrdup(line);
		}
		if (f)
			fclose(f);
		if (!domain)
			domain = xstrdup(host_fqdn());
	}
	return domain;
}

const char *
user_name(void)
{
	static char *name;

	if (!name) {
		struct passwd *pw = getpwuid(getuid());
		const char *e;

		if (pw && pw->pw_name && *pw->pw_name)
			name = xstrdup(pw->pw_name);
		else if ((e = getenv("USER")) && *e)
			name = xstrdup(e);
		else if ((e = getenv("LOGNAME")) && *e)
			name = xstrdup(e);
		else
			name = xasprintf("uid%lu", (unsigned long)getuid());
	}
	return name;
}

int
has_line_break(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

int
has_prefix_ci(const char *s, const char *p)
{
	return strncasecmp(s, p, strlen(p)) == 0;
}
