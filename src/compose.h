/*
 * compose.h - what the command line says about the message, turned into
 * what the pipeline takes (struct submission, accept.h): the options that
 * concern every message, the recipient operands, and the message of
 * compose mode (-s, --cc, --bcc, --from, mail/mailx) and of -a on a piped
 * message, built from the command line and standard input before the
 * pipeline reads it.  The options stop here.
 */
#ifndef MAILOUT_COMPOSE_H
#define MAILOUT_COMPOSE_H

#include "accept.h"
#include "address.h"
#include "cli.h"
#include "result.h"

/* Fill s from the options that concern every message: -i, -t,
 * --read-envelope-from, -f, the full name (-F, else NAME from the
 * environment when it holds no line break), --account, --host and its
 * overrides, -N/-R/-V, --dry-run.  Strings point into o or the environment. */
void compose_submission(const struct options *o, struct submission *s);

/* --queue into s->queue.  Returns 0, or -1 with RES_USAGE. */
int compose_queue_mode(const struct options *o, struct submission *s, struct result *r);

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
