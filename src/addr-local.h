/*
 * addr-local.h - which envelope addresses this host delivers itself, and
 * the local user each one reaches (SPEC 7).
 *
 * The address layer's answer to "is this local?", used by aliases,
 * routing, -bs and the mailbox writer (local.c) alike.  Nothing here
 * writes a mailbox.
 */
#ifndef MAILOUT_ADDR_LOCAL_H
#define MAILOUT_ADDR_LOCAL_H

#include "address.h"
#include "result.h"

struct passwd;

/* 1 when addr is delivered locally: no '@', or "@localhost", or '@' this
 * host's name or fully qualified name (any case). */
int addr_is_local(const char *addr);

/* 1 for the postmaster of this host (RFC 5321 4.5.1): "postmaster" in
 * any case, bare or '@' a domain addr_is_local() takes.  Such a
 * recipient is always deliverable: through aliases first, else root. */
int addr_is_postmaster(const char *addr);

/*
 * The password entry of local recipient rcpt: its local part as given,
 * then folded to lower case, then the same without a "+extension".
 * postmaster with no user of its own is root.  The entry is getpwnam()'s
 * static storage.  NULL with *err 0: no such user; NULL with *err an
 * errno value: the password database failed (temporary).
 */
struct passwd *addr_local_user(const char *rcpt, int *err);

/* Refuse (RES_NOUSER, naming it) the first recipient of rcpts that is
 * local but no user of this host.  A failed lookup is not refused (the
 * delivery finds out again).  Returns 0 or -1. */
int addr_check_local_users(const struct addr_list *rcpts, struct result *r);

/* The user name whose mailbox local recipient rcpt reaches (malloc'd), or
 * NULL when rcpt is not local or no user has it (or the lookup failed):
 * two recipients with the same key get one copy. */
char *addr_mailbox_key(const char *rcpt);

#endif
