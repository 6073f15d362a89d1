/*
 * drop-check.c - the form of a prepared message handed to mailout-drop
 * (see drop.c for the format).  The envelope may name a system account,
 * the sender and the recipients, nothing else: relay settings (host, port,
 * tls, user, passwordeval) are the mail system's to choose, and a command
 * that the system would run on a user's word must never get in.
 */
#include "config.h"

#include <string.h>

#include "drop.h"

#define MAGIC "mailout-envelope 1"

enum { S_MAGIC, S_ENVELOPE, S_MESSAGE, S_FAILED };

void
drop_check_init(struct drop_check *c)
{
	memset(c, 0, sizeof(*c));
	c->state = S_MAGIC;
}

static int
fail(struct drop_check *c, const char *why)
{
	c->state = S_FAILED;
	c->error = why;
	return -1;
}

/* One complete envelope line (without its LF), after the first. */
static int
envelope_line(struct drop_check *c)
{
	const char *l = c->line, *v;
	size_t klen;

	if (c->len == 0) {
		if (c->senders != 1)
			return fail(c, "the envelope needs exactly one sender line");
		if (c->rcpts == 0)
			return fail(c, "the envelope names no recipient");
		c->state = S_MESSAGE;
		return 0;
	}
	v = memchr(l, ' ', c->len);
	if (!v)
		return fail(c, "an envelope line without a value");
	klen = (size_t)(v - l);
	v++;
	if (klen == 4 && memcmp(l, "rcpt", 4) == 0) {
		if (!*v)
			return fail(c, "an empty recipient");
		if (++c->rcpts > DROP_RCPT_MAX)
			return fail(c, "too many recipients");
	} else if (klen == 6 && memcmp(l, "sender", 6) == 0) {
		if (++c->senders > 1)
			return fail(c, "more than one sender line");
	} else if (klen == 7 && memcmp(l, "account", 7) == 0) {
		if (!*v || ++c->accounts > 1)
			return fail(c, "an empty or repeated account line");
	} else if (klen == 7 && memcmp(l, "created", 7) == 0) {
		if (!*v || strspn(v, "0123456789") != strlen(v) || ++c->created > 1)
			return fail(c, "a created line that is not one number");
	} else {
		return fail(c, "an envelope line the system queue does not take");
	}
	return 0;
}

static int
end_of_line(struct drop_check *c)
{
	c->line[c->len] = '\0';
	if (c->state == S_MAGIC) {
		if (strcmp(c->line, MAGIC) != 0)
			return fail(c, "not a prepared message (no envelope)");
		c->state = S_ENVELOPE;
	} else if (envelope_line(c) < 0) {
		return -1;
	}
	c->len = 0;
	return 0;
}

int
drop_check_feed(struct drop_check *c, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char b = (unsigned char)p[i];

		if (c->state == S_MESSAGE)
			return 0;       /* the message itself is the runner's to check */
		if (c->state == S_FAILED)
			return -1;
		if (b == '\n') {
			if (end_of_line(c) < 0)
				return -1;
			continue;
		}
		if (b < 0x20 || b > 0x7e)
			return fail(c, "a control or non-ASCII byte in the envelope");
		if (c->len >= DROP_LINE_MAX)
			return fail(c, "an envelope line too long");
		c->line[c->len++] = (char)b;
	}
	return c->state == S_FAILED ? -1 : 0;
}

int
drop_check_finish(struct drop_check *c)
{
	if (c->state == S_FAILED)
		return -1;
	if (c->state != S_MESSAGE)
		return fail(c, "the input ends inside the envelope");
	return 0;
}
