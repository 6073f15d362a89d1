/*
 * dsn.h - delivery status notifications (RFC 3464), SPEC 12.
 *
 * dsn_write() composes the notification for a queued message that failed
 * for good (or, with DSN_DELAYED, that has waited long): a
 * multipart/report with a readable explanation, a message/delivery-status
 * part (per message: Reporting-MTA, Arrival-Date; per recipient:
 * Final-Recipient, Action, Status, Remote-MTA, Diagnostic-Code,
 * Last-Attempt-Date), and the original header section as
 * text/rfc822-headers.  It only writes the message: who receives it, that
 * it goes from the null sender, and that a message from the null sender
 * never causes one, are the caller's rules (the queue's).
 */
#ifndef MAILOUT_DSN_H
#define MAILOUT_DSN_H

#include <sys/types.h>
#include <time.h>

#include "result.h"

enum dsn_kind {
	DSN_FAILED,      /* refused for good, or past queue_lifetime */
	DSN_DELAYED      /* delay_warning: still being retried */
};

struct dsn_rcpt {
	const char *rcpt;        /* the recipient as queued */
	int smtp_code;           /* the relay's reply code, 0 when none */
	const char *reply;       /* the relay's reply text ("550 5.1.1 <x>: ..."), or NULL */
	const char *reason;      /* mailout's own words when there is no reply, or NULL */
	int expired;             /* given up because of queue_lifetime */
};

struct dsn {
	enum dsn_kind kind;
	const char *reporting_mta;   /* this host's name */
	const char *remote_mta;      /* the relay's host name, or NULL (local delivery) */
	const char *to;              /* the envelope sender it goes to */
	const char *queue_id;
	time_t arrival, last_attempt;
	const struct dsn_rcpt *rcpts;
	size_t nrcpts;
};

/*
 * The status code (RFC 3463) of one recipient into buf[n]: the enhanced
 * code of the relay's reply when it has one whose class agrees with the
 * reply code, else X.0.0 from the reply code's class, 4.4.7 (delivery
 * time expired) for an expired message without a reply, and 5.0.0 or
 * 4.0.0 by the kind of notification otherwise.
 */
void dsn_status(const struct dsn *d, const struct dsn_rcpt *r, char *buf, size_t n);

/*
 * Write the notification to out: its header section (From the mail
 * system of reporting_mta, To, Subject, Date, Message-ID, Auto-Submitted,
 * MIME headers) and the three parts; the original message's header
 * section is read from orig_fd at orig_offset (up to its empty line).
 * Everything is CRLF; foreign text (replies, headers) is made safe for a
 * header line (no control characters; folded).  Returns 0, or -1 with
 * RES_IOERR.
 */
int dsn_write(int out, const struct dsn *d, int orig_fd, off_t orig_offset,
	      struct result *r);

#endif
