/*
 * local.h - local delivery (SPEC 7): Maildir or mbox.
 *
 * For the invoking user: $HOME/Maildir when it exists, else $MAIL, else
 * /var/mail/USER.  For another user: ~user/Maildir when it exists, else
 * /var/mail/USER (created owned by that user when running as root; root
 * works in another user's Maildir only as that user).
 * mbox: "From " line, ">From " quoting, fcntl and dotlock locks, fsync.
 * Maildir: written in tmp/, fsync'd, renamed into new/.
 * Mailbox lines end in LF (the spool's CRLF is converted).  The message's
 * own Return-Path and Content-Length header fields are left out (a
 * Return-Path with the envelope sender comes first instead).
 */
#ifndef MAILOUT_LOCAL_H
#define MAILOUT_LOCAL_H

#include <stddef.h>
#include <sys/types.h>

#include "addr-local.h"
#include "result.h"

/*
 * Deliver the message in fd (from offset start to EOF) to the local recipient
 * rcpt.  Its user name is looked up as given, then folded to lower case;
 * when neither exists, the same without a "+extension".  sender "" means
 * the null sender.  On success the mailbox path is copied to where.
 * Returns 0, or -1 with RES_NOUSER (unknown user), RES_CANTCREAT,
 * RES_IOERR or RES_TEMPFAIL (lock timeout, failed password database).
 * Root delivers to another user's Maildir as that user (a child process).
 */
int local_deliver(const char *rcpt, const char *sender, int fd, off_t start,
		  char *where, size_t wherelen, struct result *r);

#endif
