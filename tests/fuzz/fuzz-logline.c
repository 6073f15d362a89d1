/* Fuzz the delivery log line (log.c, log_delivery_line()): the fields come
 * from relays and users (reply text, addresses), and msmtp's log parsers
 * read the line.  The input is split at NUL bytes into host, user, from,
 * recipients, smtpmsg, errormsg, queue id, uid and exit code; the first
 * byte gives tls, auth and whether a size and a status are present.
 * Checked: one line (no byte below 0x20 at all), and the line is the one
 * an independent writer of the format gives (each quoted field, smtpmsg
 * and errormsg, with ' as ?, so that it cannot end early). */
#include "fuzz-common.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The line as msmtp's parsers read it, written independently of log.c:
 * fields in msmtp's order, NULL ones left out, control bytes as spaces,
 * and in the quoted ones a ' as ?. */
static void
add(struct dynbuf *d, const char *key, const char *v, int quote)
{
	if (!v)
		return;
	if (d->len)
		db_addc(d, ' ');
	db_adds(d, key);
	db_addc(d, '=');
	if (quote)
		db_addc(d, '\'');
	for (; *v; v++)
		db_addc(d, (unsigned char)*v < 0x20 ? ' ' : quote && *v == '\'' ? '?' : *v);
	if (quote)
		db_addc(d, '\'');
}

static char *
reference(const struct log_entry *e)
{
	struct dynbuf d = { 0 };
	char num[32];

	add(&d, "host", e->host ? e->host : "local", 0);
	add(&d, "tls", e->tls ? "on" : "off", 0);
	add(&d, "auth", e->auth ? "on" : "off", 0);
	add(&d, "user", e->user, 0);
	add(&d, "from", e->from, 0);
	add(&d, "recipients", e->recipients, 0);
	if (e->mailsize >= 0) {
		snprintf(num, sizeof(num), "%lld", e->mailsize);
		add(&d, "mailsize", num, 0);
	}
	if (e->smtpstatus) {
		snprintf(num, sizeof(num), "%d", e->smtpstatus);
		add(&d, "smtpstatus", num, 0);
	}
	add(&d, "smtpmsg", e->smtpmsg && *e->smtpmsg ? e->smtpmsg : NULL, 1);
	add(&d, "errormsg", e->errormsg && *e->errormsg ? e->errormsg : NULL, 1);
	add(&d, "queue", e->queue_id, 0);
	add(&d, "uid", e->uid, 0);
	add(&d, "exitcode", e->exitcode, 0);
	return d.s ? d.s : xstrdup("");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *f[9] = { 0 };
	char *copy, *p, *line, *want;
	struct log_entry e;
	unsigned flags;
	size_t n = 0;

	if (size < 1)
		return 0;
	flags = data[0];
	copy = xmalloc(size);   /* the bytes after the first, NUL-terminated */
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	for (p = copy; n < 9 && p <= copy + size - 1; n++) {
		f[n] = p;
		p += strlen(p) + 1;
	}
	memset(&e, 0, sizeof(e));
	e.host = f[0];
	e.tls = flags & 1;
	e.auth = (flags >> 1) & 1;
	e.user = f[1];
	e.from = f[2];
	e.recipients = f[3];
	e.mailsize = flags & 4 ? (long long)size : -1;
	e.smtpstatus = flags & 8 ? 250 + (int)(flags >> 4) : 0;
	e.smtpmsg = f[4];
	e.errormsg = f[5];
	e.queue_id = f[6];
	e.uid = f[7];
	e.exitcode = f[8] ? f[8] : "EX_OK";
	line = log_delivery_line(&e);
	for (const char *q = line; *q; q++)
		assert((unsigned char)*q >= 0x20);
	want = reference(&e);
	assert(strcmp(line, want) == 0);
	free(want);
	free(line);
	free(copy);
	return 0;
}
