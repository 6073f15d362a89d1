/*
 * aliases.h - local-name expansion through an aliases(5)-style file.
 *
 * Format: "name: value, value, ..." with continuation lines that start
 * with white space and '#' comments; the value is an address list as
 * addr_parse_list() reads it (so "a@x b@y", or a@x and a continuation
 * line b@y, are two values).  Values are addresses or other local names
 * (expanded recursively, loops cut); "default:" catches local names that
 * have no entry.  postmaster (RFC 5321 4.5.1), bare or at this host, with
 * no entry and no user of its own is expanded as root.  Pipes ("|cmd"), files and ":include:", bare or quoted,
 * are not supported and are reported.
 */
#ifndef MAILOUT_ALIASES_H
#define MAILOUT_ALIASES_H

#include "address.h"
#include "result.h"

/*
 * Expand every local recipient (one without '@') of in through the file
 * at path and append the results to out (addresses with '@' are copied
 * as they are).  path NULL or "" copies in to out.  A missing file is
 * not an error (a note in verbose mode); an unreadable or malformed one is
 * RES_CONFIG.  Returns 0 or -1.
 */
int aliases_expand(const char *path, const struct addr_list *in,
		   struct addr_list *out, struct result *r);

#endif
