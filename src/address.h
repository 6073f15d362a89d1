/*
 * address.h - RFC 5322 address lists and envelope address checks.
 *
 * Parses header values and command-line arguments such as
 *   "Doe, John" <j@x>, (comment) k@y, Team: a@b, c@d;, undisclosed-recipients:;
 * into bare addr-specs ("j@x", "k@y", "a@b", "c@d") suitable for the
 * SMTP envelope.
 */
#ifndef MAILOUT_ADDRESS_H
#define MAILOUT_ADDRESS_H

#include <stddef.h>

/*
 * A list of distinct addresses.  Build it with addr_list_add*() and
 * addr_parse_list() from { 0 }; release it with addr_list_free().
 * Adding and addr_list_contains() take constant time on average (a hash
 * index once the list holds more than 8).  A read-only view of other
 * storage, { .v = &s[i], .n = 1, .cap = 1 }, is fine for every function
 * that does not add to it: it has no names and no index.
 */
struct addr_list {
	char **v;        /* bare addresses, each malloc'd */
	char **names;    /* names[i]: the display name of v[i] (malloc'd), or
			  * NULL; the array is NULL until a name is stored */
	size_t n, cap;
	size_t *index;   /* de-duplication hash index (address.c), or NULL */
};

void addr_list_free(struct addr_list *l);
/* Append a copy of a; does nothing when an equal address (local part
 * exact, domain case-insensitive) is already there. */
void addr_list_add(struct addr_list *l, const char *a);
/* The same, remembering a display name (UTF-8 text, unquoted; NULL or ""
 * for none) that addr_list_name() gives back. */
void addr_list_add_named(struct addr_list *l, const char *a, const char *name);
int addr_list_contains(const struct addr_list *l, const char *a);
/* The display name that came with l->v[i] ("Doe, John" for
 * "\"Doe, John\" <j@x>"), or NULL. */
const char *addr_list_name(const struct addr_list *l, size_t i);

/*
 * Parse the address list in s[0..len) (a header value, folded or not, or a
 * command-line argument) and append each addr-spec to out, with the
 * display name of a "name <addr>" mailbox (see addr_list_name()).  Display
 * names, comments, quoted strings, angle brackets, source routes and
 * groups are understood; empty elements are skipped.  As Postfix reads
 * them: ';' outside a group separates as ',' does; text after "<...>"
 * starts the next address; words separated by white space are one
 * address each when every one holds an '@' ("a@x b@y"), and refused
 * otherwise ("John Doe", "John a@x").
 * Returns the number of addresses added, or -1 with a reason in err when
 * the list is malformed or an address fails addr_check(); out is then as
 * it was before the call (nothing of a malformed list is kept).
 */
int addr_parse_list(const char *s, size_t len, struct addr_list *out,
		    char *err, size_t errlen);

/*
 * Check one bare address for use in the SMTP envelope: no CR, LF, NUL or
 * other control characters, no '<', '>' or whitespace outside a quoted
 * local part, at most one unquoted '@', not longer than 254 octets when
 * qualified.  "" is not an address (the null sender is handled by callers).
 * Returns 0, or -1 with a reason in err.
 */
int addr_check(const char *a, char *err, size_t errlen);

/*
 * The canonical SMTP form of envelope address a (RFC 5321 4.1.2), as
 * Postfix sends it: the local part a dot-atom when its text is one, else
 * one quoted string (a."b".c@d -> a.b.c@d, "a b".c@d -> "a b.c"@d), and a
 * domain written with a final dot (a fully qualified DNS name) without it.
 * Refused, as no relay can take them: an unquoted local part with a
 * leading, trailing or doubled dot; a domain that is empty, starts with a
 * dot, has an empty label, or a label that starts or ends with a hyphen;
 * and whatever addr_check() refuses.  An address without '@' (a local
 * name) is copied as it is.
 * Returns a malloc'd string, or NULL with "ADDRESS: the rule" in err.
 */
char *addr_canonical(const char *a, char *err, size_t errlen);

/* Every address of l in canonical form (display names kept, duplicates
 * that only differed in form merged).  Returns 0, or -1 with the reason
 * in err (l is then unchanged). */
int addr_list_canonical(struct addr_list *l, char *err, size_t errlen);

/*
 * 1 when a has only ASCII characters.  mailout does not do SMTPUTF8
 * (RFC 6531): an address with others can go neither into the envelope
 * nor, raw, into a header.
 */
int addr_is_ascii(const char *a);

/* The domain part of a (after the last '@' outside quotes), or NULL. */
const char *addr_domain(const char *a);

#endif
