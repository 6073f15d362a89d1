/*
 * log.h - messages on stderr, the delivery log (file and syslog), and the
 * verbose SMTP transcript with credentials redacted.
 */
#ifndef MAILOUT_LOG_H
#define MAILOUT_LOG_H

#include <stddef.h>

/* Verbosity from -v (0: quiet). */
extern int log_verbose_level;

/* "mailout: <text>\n" on stderr. */
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, only when verbose. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Where delivery lines go: a file (NULL: none) and syslog (NULL: off, or a
 * facility name "on", "LOG_MAIL", "LOG_USER", "LOG_LOCAL0".."LOG_LOCAL7").
 * Returns 0, or -1 when the facility name is unknown. */
int log_setup(const char *logfile, const char *syslog_facility);

/* Open the log file now and keep it open for every later line (root's
 * system queue run, before it gives up the rights to open it).  Nothing
 * when there is no log file or it cannot be opened (each line then tries
 * again, as without this call). */
void log_hold_file(void);
/* 1 when a facility name is valid ("off" included). */
int log_facility_valid(const char *name);

/* One delivery, msmtp-compatible fields (NULL/0 fields are left out). */
struct log_entry {
	const char *host;        /* NULL: "local" */
	int tls, auth;
	const char *user;
	const char *from;
	const char *recipients;  /* comma-separated */
	long long mailsize;      /* -1: unknown */
	int smtpstatus;          /* 0: none */
	const char *smtpmsg;
	const char *errormsg;
	const char *queue_id;
	const char *uid;         /* the submitter's uid (system queue), or NULL */
	const char *exitcode;    /* "EX_OK"... */
};
/* Append the line to the log file (under a lock) and/or syslog.  A log
 * that cannot be written prints a warning and never fails the delivery. */
void log_delivery(const struct log_entry *e);
/*
 * The line log_delivery() writes, without the time stamp the log file
 * adds (malloc'd: free it):
 *   host=H tls=on|off auth=on|off [user=U] from=F recipients=A,B
 *   [mailsize=N] [smtpstatus=NNN] [smtpmsg='...'] [errormsg='...']
 *   [queue=ID] [uid=N] exitcode=EX_...
 * Control characters in a value become spaces, and a ' inside the quoted
 * values becomes ?, as msmtp writes them.
 */
char *log_delivery_line(const struct log_entry *e);

#endif
