/* received.c - the Received header for a message from a local user. */
#include "config.h"

#include <pwd.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "message.h"
#include "received.h"

/* A name fit for the from clause: letters, digits, '.', '-', '_', and an
 * address literal's brackets and colons, at most 255 bytes. */
static int
plain_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n <= 255 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789.-_:[]") == n;
}

void
received_header(struct dynbuf *d, const char *helo, uid_t uid, const char *with,
		const char *eol)
{
	struct passwd *pw = getpwuid(uid);
	char date[64];

	msg_date(time(NULL), date, sizeof(date));
	db_printf(d, "Received: from %s (uid %lu", plain_name(helo) ? helo : "localhost",
		  (unsigned long)uid);
	if (pw && pw->pw_name && plain_name(pw->pw_name))
		db_printf(d, ", user %s", pw->pw_name);
	db_printf(d, ")%s\tby %s (mailout) with %s;%s\t%s%s", eol, host_fqdn(), with, eol,
		  date, eol);
}
