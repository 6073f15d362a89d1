/* result.c - the result type and its single mapping to sysexits.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "result.h"

void
res_clear(struct result *r)
{
	memset(r, 0, sizeof(*r));
}

int
res_fail(struct result *r, enum res_class cls, const char *fmt, ...)
{
	va_list ap;

	r->cls = cls;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
	return -1;
}

int
res_is_temporary(const struct result *r)
{
	/* A relay that broke the protocol (garbage, a bogus reply code) is
	 * most often a passing fault, and nothing may be lost over it: it is
	 * retried like a 4xx, though it keeps its own exit status (76). */
	return r->cls == RES_TEMPFAIL || r->cls == RES_PROTOCOL;
}

int
res_is_message_refusal(const struct result *r)
{
	return r->cls == RES_NOUSER || r->cls == RES_DATAERR ||
	       (r->cls != RES_OK && !res_is_temporary(r) && r->about_message);
}

int
res_relay_down(const struct result *r)
{
	return r->cls == RES_PROTOCOL || (res_is_temporary(r) && !r->about_message);
}

void
res_merge(struct result *into, const struct result *from)
{
	if (from->cls == RES_OK)
		return;
	if (into->cls == RES_OK || (res_is_temporary(into) && !res_is_temporary(from)))
		*into = *from;
}

static const struct {
	int code;
	const char *name;
} exits[] = {
	[RES_OK]          = { EX_OK,          "EX_OK" },
	[RES_USAGE]       = { EX_USAGE,       "EX_USAGE" },
	[RES_DATAERR]     = { EX_DATAERR,     "EX_DATAERR" },
	[RES_NOINPUT]     = { EX_NOINPUT,     "EX_NOINPUT" },
	[RES_NOUSER]      = { EX_NOUSER,      "EX_NOUSER" },
	[RES_NOHOST]      = { EX_NOHOST,      "EX_NOHOST" },
	[RES_UNAVAILABLE] = { EX_UNAVAILABLE, "EX_UNAVAILABLE" },
	[RES_SOFTWARE]    = { EX_SOFTWARE,    "EX_SOFTWARE" },
	[RES_OSERR]       = { EX_OSERR,       "EX_OSERR" },
	[RES_CANTCREAT]   = { EX_CANTCREAT,   "EX_CANTCREAT" },
	[RES_IOERR]       = { EX_IOERR,       "EX_IOERR" },
	[RES_TEMPFAIL]    = { EX_TEMPFAIL,    "EX_TEMPFAIL" },
	[RES_PROTOCOL]    = { EX_PROTOCOL,    "EX_PROTOCOL" },
	[RES_NOPERM]      = { EX_NOPERM,      "EX_NOPERM" },
	[RES_CONFIG]      = { EX_CONFIG,      "EX_CONFIG" },
};

int
res_exit_code(enum res_class cls)
{
	if ((unsigned)cls >= sizeof(exits) / sizeof(exits[0]))
		return EX_SOFTWARE;
	return exits[cls].code;
}

const char *
res_exit_name(enum res_class cls)
{
	if ((unsigned)cls >= sizeof(exits) / sizeof(exits[0]))
		return "EX_SOFTWARE";
	return exits[cls].name;
}
