/*
 * received.h - the Received header of a message that a local user hands
 * to mailout acting as a server (RFC 5321 4.4: a server that accepts a
 * message adds one).  The client is named by what the kernel says about
 * it (the real uid, and its login name from the password database), never
 * by what it claims.
 */
#ifndef MAILOUT_RECEIVED_H
#define MAILOUT_RECEIVED_H

#include <sys/types.h>

#include "util.h"

/*
 * Append to d:
 *   Received: from HELO (uid UID, user NAME)
 *   	by HOST (mailout) with WITH;
 *   	DATE
 * HELO is the name the client gave (EHLO/HELO), or "localhost" when it gave
 * none or one that is not a plain host name or address literal; user NAME
 * is left out when the uid has no name.  uid is the submitter as the kernel
 * knows it: getuid() for -bs, the drop file's owner for the system queue.
 * with is the protocol ("ESMTP", "SMTP", "local").  Lines end in eol
 * ("\r\n" or "\n").
 */
void received_header(struct dynbuf *d, const char *helo, uid_t uid, const char *with,
		     const char *eol);

#endif
