/*
 * smtpd.h - SMTP on standard input and output (-bs), for PHP frameworks
 * and MUAs that submit that way.  Every message goes through the same
 * pipeline as a piped one (accept.c); the reply to the final dot says what
 * really happened.
 */
#ifndef MAILOUT_SMTPD_H
#define MAILOUT_SMTPD_H

#include "accept.h"
#include "result.h"

/*
 * Serve one session on fds in/out until QUIT or end of input.  Each
 * message is submitted as tmpl says (its configuration, account, queue
 * mode, -F...), with MAIL FROM as its sender and RCPT TO as its
 * recipients.  Returns 0, or -1 with *r for a failure of the session
 * itself (I/O).
 */
int smtpd_serve(const struct submission *tmpl, int in, int out, struct result *r);

#endif
