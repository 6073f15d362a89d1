/*
 * log.c - stderr messages, the delivery log and the verbose transcript.
 *
 * The delivery line follows msmtp's format so that existing log parsers
 * keep working:
 *   host=H tls=on|off auth=on|off [user=U] from=F recipients=A,B
 *   [mailsize=N] [smtpstatus=NNN] [smtpmsg='...'] [errormsg='...']
 *   [queue=ID] [uid=N] exitcode=EX_...
 * uid= names who submitted a message of the system queue (SPEC 11), as
 * the kernel reported the drop file's owner.
 * In the log file each line starts with "Mon DD HH:MM:SS "; syslog adds
 * its own time stamp.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

int log_verbose_level;

static const char *log_file;
static int log_held = -1;      /* log_hold_file()'s descriptor */
static int log_facility = -1;

static void
vlog(const char *fmt, va_list ap)
{
	char buf[2048];
	int n = snprintf(buf, sizeof(buf), "mailout: ");

	vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	/* Relay replies and file contents end up here: no escape sequence
	 * reaches the terminal, and no line escapes the "mailout: " prefix. */
	for (char *p = buf + n; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	n = (int)strlen(buf);
	buf[n++] = '\n';
	(void)write_all(2, buf, (size_t)n);
}

void
log_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose_level)
		return;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

static const struct {
	const char *name;
	int facility;
} facilities[] = {
	{ "on", LOG_MAIL }, { "LOG_MAIL", LOG_MAIL }, { "LOG_USER", LOG_USER },
	{ "LOG_LOCAL0", LOG_LOCAL0 }, { "LOG_LOCAL1", LOG_LOCAL1 },
	{ "LOG_LOCAL2", LOG_LOCAL2 }, { "LOG_LOCAL3", LOG_LOCAL3 },
	{ "LOG_LOCAL4", LOG_LOCAL4 }, { "LOG_LOCAL5", LOG_LOCAL5 },
	{ "LOG_LOCAL6", LOG_LOCAL6 }, { "LOG_LOCAL7", LOG_LOCAL7 },
};

static int
facility_of(const char *name)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcasecmp(facilities[i].name, name) == 0)
			return facilities[i].facility;
	return -1;
}

int
log_facility_valid(const char *name)
{
	return strcasecmp(name, "off") == 0 || facility_of(name) >= 0;
}

int
log_setup(const char *logfile, const char *syslog_facility)
{
	log_file = logfile && *logfile ? logfile : NULL;
	log_facility = -1;
	if (syslog_facility && strcasecmp(syslog_facility, "off") != 0) {
		log_facility = facility_of(syslog_facility);
		if (log_facility < 0)
			return -1;
	}
	return 0;
}

/* Append key=value, the value in '...' when quote is set (as msmtp does
 * for smtpmsg and errormsg); control characters become spaces so that one
 * delivery stays one line, and a ' inside quotes becomes ?, as msmtp
 * writes it, so that parsers matching '[^']*' get the whole text (libcurl's
 * "Couldn't connect" is in every refused connection). */
static void
field(struct dynbuf *d, const char *key, const char *val, int quote)
{
	if (!val)
		return;
	if (d->len)
		db_addc(d, ' ');
	db_printf(d, "%s=", key);
	if (quote)
		db_addc(d, '\'');
	for (const char *p = val; *p; p++)
		db_addc(d, (unsigned char)*p < 0x20 ? ' ' : quote && *p == '\'' ? '?' : *p);
	if (quote)
		db_addc(d, '\'');
}

/*
 * The log's lock, waited for at most about two seconds.  Whoever holds it
 * must never hold up a delivery: a queue run logs a message before it
 * takes it out of the queue, and a run stuck here and then killed would
 * send it again.  Without the lock the line still goes out in one
 * O_APPEND write, which keeps it whole in practice.
 */
static int
lock_briefly(int fd)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };

	for (int i = 0; i < 200; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 1;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return 0;
		nanosleep(&pause, NULL);
	}
	return 0;
}

/* Write one line (the fields, without a time stamp) to the log file and
 * to syslog. */
static void
write_line(const char *fields, int failed)
{
	if (log_file) {
		char stamp[64];
		time_t now = time(NULL);
		struct tm tm;
		int fd;

		localtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%b %d %H:%M:%S ", &tm);
		fd = log_held >= 0 ? dup(log_held) :
		     open(log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			log_err("warning: cannot open log file %s: %s", log_file, strerror(errno));
		} else {
			struct dynbuf line = { 0 };

			db_adds(&line, stamp);
			db_adds(&line, fields);
			db_addc(&line, '\n');
			/* One write under an exclusive lock keeps concurrent lines whole. */
			int locked = lock_briefly(fd);

			if (write_all(fd, line.s, line.len) < 0)
				log_err("warning: cannot write log file %s: %s", log_file,
					strerror(errno));
			if (locked)
				(void)flock(fd, LOCK_UN);
			close(fd);
			db_free(&line);
		}
	}
	if (log_facility >= 0) {
		openlog("mailout", LOG_PID, log_facility);
		syslog(failed ? LOG_ERR : LOG_INFO, "%s", fields);
		closelog();
	}
}

void
log_hold_file(void)
{
	if (log_file && log_held < 0)
		log_held = open(log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

char *
log_delivery_line(const struct log_entry *e)
{
	struct dynbuf d = { 0 };
	char num[32];

	field(&d, "host", e->host ? e->host : "local", 0);
	field(&d, "tls", e->tls ? "on" : "off", 0);
	field(&d, "auth", e->auth ? "on" : "off", 0);
	field(&d, "user", e->user, 0);
	field(&d, "from", e->from, 0);
	field(&d, "recipients", e->recipients, 0);
	if (e->mailsize >= 0) {
		snprintf(num, sizeof(num), "%lld", e->mailsize);
		field(&d, "mailsize", num, 0);
	}
	if (e->smtpstatus) {
		snprintf(num, sizeof(num), "%d", e->smtpstatus);
		field(&d, "smtpstatus", num, 0);
	}
	if (e->smtpmsg && *e->smtpmsg)
		field(&d, "smtpmsg", e->smtpmsg, 1);
	if (e->errormsg && *e->errormsg)
		field(&d, "errormsg", e->errormsg, 1);
	field(&d, "queue", e->queue_id, 0);
	field(&d, "uid", e->uid, 0);
	field(&d, "exitcode", e->exitcode, 0);
	return d.s ? d.s : xstrdup("");
}

void
log_delivery(const struct log_entry *e)
{
	char *line;

	if (!log_file && log_facility < 0)
		return;
	line = log_delivery_line(e);
	write_line(line, strcmp(e->exitcode, "EX_OK") != 0);
	free(line);
}
