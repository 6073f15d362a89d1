/*
 * addr-local.c - which addresses are this host's, and whose they are.
 *
 * A user name is looked up as given, then folded to lower case, as
 * Postfix's local(8) does, then without a "+extension".  postmaster is
 * always deliverable (RFC 5321 4.5.1): with no user of that name it is
 * root's.
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr-local.h"
#include "util.h"

int
addr_is_local(const char *addr)
{
	const char *at = strrchr(addr, '@'), *d;
	const char *host = host_name();
	size_t hl = strlen(host);

	if (!at)
		return 1;
	d = at + 1;
	if (strcasecmp(d, "localhost") == 0 || strcasecmp(d, host) == 0)
		return 1;
	/* The fully qualified name starts with the host name: only then is
	 * the (possibly resolver-backed) lookup worth it. */
	return strncasecmp(d, host, hl) == 0 && d[hl] == '.' &&
	       strcasecmp(d, host_fqdn()) == 0;
}

int
addr_is_postmaster(const char *addr)
{
	return strncasecmp(addr, "postmaster", 10) == 0 &&
	       (addr[10] == '\0' || (addr[10] == '@' && addr_is_local(addr)));
}

/*
 * The password entry of a local user name.  Postfix's local(8) folds the
 * recipient to lower case before looking it up (the local part of an
 * address is case-insensitive in practice, and aliases.c matches names that
 * way too); the name as given is tried first, so that an account with
 * capitals in its name still gets its mail.  ASCII only: user names are.
 *
 * NULL with *err 0: no such user.  NULL with *err an errno value: the
 * password database failed (an unreachable LDAP or sssd server...), which
 * is temporary.  As Postfix's mypwnam_err(), a NULL with errno 0, ENOENT,
 * ESRCH, EBADF or EPERM means "no such user" (getpwnam(3)).
 */
static struct passwd *
getpwnam_err(const char *name, int *err)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(name);
	*err = 0;
	if (!pw && errno != 0 && errno != ENOENT && errno != ESRCH && errno != EBADF &&
	    errno != EPERM)
		*err = errno;
	return pw;
}

static struct passwd *
lookup_user(const char *name, int *err)
{
	struct passwd *pw = getpwnam_err(name, err);
	char *lower;
	int folded = 0;

	if (pw || *err)
		return pw;
	lower = xstrdup(name);
	for (char *p = lower; *p; p++)
		if (*p >= 'A' && *p <= 'Z') {
			*p = (char)(*p - 'A' + 'a');
			folded = 1;
		}
	if (folded)
		pw = getpwnam_err(lower, err);
	free(lower);
	return pw;
}

struct passwd *
addr_local_user(const char *rcpt, int *err)
{
	const char *at = strrchr(rcpt, '@');
	char *user = at ? xstrndup(rcpt, (size_t)(at - rcpt)) : xstrdup(rcpt);
	struct passwd *pw = lookup_user(user, err);

	if (!pw && !*err) {
		char *plus = strchr(user, '+');
		if (plus) {
			*plus = '\0';
			pw = lookup_user(user, err);
		}
	}
	if (!pw && !*err && addr_is_postmaster(rcpt))
		pw = getpwnam_err("root", err);
	free(user);
	return pw;
}

int
addr_check_local_users(const struct addr_list *rcpts, struct result *r)
{
	int err;

	for (size_t i = 0; i < rcpts->n; i++)
		if (addr_is_local(rcpts->v[i]) && !addr_local_user(rcpts->v[i], &err) && !err)
			return res_fail(r, RES_NOUSER, "unknown local user \"%s\"", rcpts->v[i]);
	return 0;
}

char *
addr_mailbox_key(const char *rcpt)
{
	struct passwd *pw;
	int err;

	if (!addr_is_local(rcpt) || !(pw = addr_local_user(rcpt, &err)))
		return NULL;
	return xstrdup(pw->pw_name);
}
