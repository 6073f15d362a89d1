/*
 * compose.h - the message of compose mode (-s, --cc, --bcc, --from,
 * mail/mailx) and of -a on a piped message, built from the command line
 * and standard input before the pipeline (accept.c) reads it.
 */
#ifndef MAILOUT_COMPOSE_H
#define MAILOUT_COMPOSE_H

#include "accept.h"
#include "address.h"
#include "cli.h"
#include "result.h"

/* Parse every recipient operand ("a@x,b@y", "Name <a@x>") into out.
 * Returns 0, or -1 with RES_USAGE. */
int compose_operands(const struct options *o, struct addr_list *out, struct result *r);

/*
 * Build the message in a private temporary file (the queue's tmp/ when
 * usable), which the pipeline then reads like a piped message: s->in_fd
 * becomes that file (the caller closes it), s->ignore_dots is set, and in
 * compose mode --cc and --bcc join s->rcpts, -t is off, and --from becomes
 * s->sender unless -f was given (*from holds it: free it after the
 * pipeline).  Attachments are opened first, so a missing one stops
 * everything before anything is read.  Returns 0; -1 with *r; 1 when
 * there is nothing to send (mailx -E, empty body).
 */
int compose_build(const struct options *o, struct submission *s, struct addr_list *from,
		  struct result *r);

#endif
