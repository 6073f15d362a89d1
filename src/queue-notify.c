/*
 * queue-notify.c - the delivery status notification of a queued message
 * (SPEC 12), made a queued message of its own.
 *
 * The notification (dsn.c's text) goes from the null sender to the
 * envelope sender, and to bounce_notice_to when set, through the normal
 * delivery: it is kept in q/ like any message and the run delivers it at
 * once.  So a local sender gets it in their mailbox after aliases, a
 * remote one through the relay the original used (or, for a message that
 * had none, the account chosen for its sender); a notification the relay
 * refuses ends in failed/ as any message does, and never causes another,
 * since its sender is null (RFC 5321 6.1, RFC 3464 2.1).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr-local.h"
#include "aliases.h"
#include "deliver.h"
#include "dsn.h"
#include "log.h"
#include "queue-internal.h"
#include "queue.h"
#include "util.h"

void
queue_outcomes_note(struct queue_outcomes *o, const struct deliver_report *rep)
{
	for (size_t i = 0; i < rep->n; i++) {
		const struct deliver_outcome *x = &rep->v[i];

		o->remote |= x->remote && x->r.smtp_code > 0;
		if (x->state == DELIVER_DELIVERED)
			for (size_t k = 0; k < x->rcpts.n; k++)
				addr_list_add(&o->delivered, x->rcpts.v[k]);
		if (x->state != DELIVER_REFUSED)
			continue;
		o->refused = xrealloc(o->refused, (o->nrefused + x->rcpts.n) * sizeof(*o->refused));
		for (size_t k = 0; k < x->rcpts.n; k++)
			o->refused[o->nrefused++] = (struct queue_refusal){
				.rcpt = xstrdup(x->rcpts.v[k]), .code = x->r.smtp_code,
				.reply = x->r.reply[0] ? xstrdup(x->r.reply) : NULL,
				.reason = xstrdup(x->r.text),
			};
	}
}

void
queue_outcomes_free(struct queue_outcomes *o)
{
	for (size_t i = 0; i < o->nrefused; i++) {
		free(o->refused[i].rcpt);
		free(o->refused[i].reply);
		free(o->refused[i].reason);
	}
	free(o->refused);
	addr_list_free(&o->delivered);
	memset(o, 0, sizeof(*o));
}

static int
refused(const struct queue_outcomes *o, const char *rcpt)
{
	for (size_t i = 0; i < o->nrefused; i++)
		if (!strcmp(o->refused[i].rcpt, rcpt))
			return 1;
	return 0;
}

size_t
queue_notice_rcpts(const struct queue_outcomes *o, const struct queue_env *e,
		   enum dsn_kind kind, int refused_only, const struct result *why,
		   const char *last_error, int expired, struct dsn_rcpt *v)
{
	int reply = why && why->smtp_code >= 400 && why->reply[0] && !expired;
	size_t n = 0;

	for (size_t i = 0; kind == DSN_FAILED && i < o->nrefused; i++)
		v[n++] = (struct dsn_rcpt){
			.rcpt = o->refused[i].rcpt, .smtp_code = o->refused[i].code,
			.reply = o->refused[i].reply, .reason = o->refused[i].reason,
		};
	for (size_t i = 0; !refused_only && i < e->rcpts.n; i++) {
		const char *a = e->rcpts.v[i];

		if (refused(o, a) || addr_list_contains(&o->delivered, a))
			continue;
		v[n++] = (struct dsn_rcpt){
			.rcpt = a, .smtp_code = reply ? why->smtp_code : 0,
			.reply = reply ? why->reply : NULL,
			.reason = last_error && *last_error ? last_error : NULL,
			.expired = expired && kind == DSN_FAILED,
		};
	}
	return n;
}

/* addr as aliases(5) sees it: the local part alone when this host
 * delivers it ("root@this.host" is "root"). */
static void
add_target(struct addr_list *in, const char *addr)
{
	const char *at = strrchr(addr, '@');

	if (at && addr_is_local(addr)) {
		char *local = xstrndup(addr, (size_t)(at - addr));

		addr_list_add(in, local);
		free(local);
	} else {
		addr_list_add(in, addr);
	}
}

/* Who gets the notification: the sender and bounce_notice_to, after
 * aliases, each once, in canonical form.  Returns 0 or -1 with *r. */
static int
notice_rcpts(const struct config *c, const char *sender, struct addr_list *out,
	     struct result *r)
{
	struct addr_list in = { 0 }, exp = { 0 };
	char err[320];
	int rc = -1;

	add_target(&in, sender);
	if (c->bounce_notice_to)
		add_target(&in, c->bounce_notice_to);
	if (aliases_expand(c->aliases, &in, &exp, r) < 0)
		goto out;
	if (addr_list_canonical(&exp, err, sizeof(err)) < 0) {
		res_fail(r, RES_DATAERR, "notification recipient %s", err);
		goto out;
	}
	for (size_t i = 0; i < exp.n; i++)
		if (!addr_list_contains(out, exp.v[i]))
			addr_list_add(out, exp.v[i]);
	rc = 0;
out:
	addr_list_free(&in);
	addr_list_free(&exp);
	return rc;
}

/* The relay settings of the original (an account, or --host's), or the
 * account chosen for its sender when it had none; none when every
 * recipient is local (a relay that is down must not hold up a mailbox). */
static void
notice_route(const struct config *c, const struct queue_env *orig, struct queue_env *e)
{
	struct result ignored;
	const struct account *a;
	int remote = 0;

	for (size_t i = 0; i < e->rcpts.n; i++)
		remote |= !addr_is_local(e->rcpts.v[i]);
	if (!remote)
		return;
	e->account = orig->account;
	e->host = orig->host;
	e->port = orig->port;
	e->tls = orig->tls;
	e->user = orig->user;
	e->passwordeval = orig->passwordeval;
	if (e->account || e->host)
		return;
	res_clear(&ignored);
	if ((a = conf_choose(c, NULL, orig->sender, &ignored)))
		e->account = a->name;
}

/* The envelope block and the notification into a new spool file in
 * qdir/tmp.  Returns its path (fd in *fd, *off where the message starts),
 * or NULL with *r. */
static char *
notice_spool(const struct config *c, const struct queue_notice *n, const struct queue_env *e,
	     int *fd, off_t *off, struct result *r)
{
	char *path = xasprintf("%s/tmp/mo.XXXXXX", c->queue_dir);
	struct dynbuf d = { 0 };
	struct dsn dsn = {
		.kind = n->kind, .reporting_mta = host_fqdn(), .remote_mta = n->remote_mta,
		.to = n->e->sender, .queue_id = n->id, .arrival = n->arrival,
		.last_attempt = n->last_attempt, .rcpts = n->rcpts, .nrcpts = n->nrcpts,
	};

	free(queue_subdir(c->queue_dir, "tmp", NULL));
	if ((*fd = mkostemp(path, O_CLOEXEC)) < 0) {
		res_fail(r, RES_CANTCREAT, "cannot create %s: %s", path, strerror(errno));
		free(path);
		return NULL;
	}
	queue_env_format(&d, e);
	*off = (off_t)d.len;
	if (write_all(*fd, d.s, d.len) < 0) {
		res_fail(r, RES_IOERR, "cannot write %s: %s", path, strerror(errno));
	} else if (dsn_write(*fd, &dsn, n->fd, n->off, r) == 0) {
		db_free(&d);
		return path;
	}
	db_free(&d);
	close(*fd);
	*fd = -1;
	unlink(path);
	free(path);
	return NULL;
}

int
queue_notice_keep(const struct config *c, const struct queue_notice *n, char *nid,
		  size_t nidlen, struct result *r)
{
	struct queue_env e = { .sender = (char *)"" };
	char *path = NULL;
	off_t off = 0;
	int fd = -1, rc = -1;

	res_clear(r);
	if (!n->e->sender || !*n->e->sender || n->nrcpts == 0)
		return 0;               /* never for the null sender: no loops */
	if (notice_rcpts(c, n->e->sender, &e.rcpts, r) < 0)
		goto out;
	notice_route(c, n->e, &e);
	e.created = time(NULL);
	if (!(path = notice_spool(c, n, &e, &fd, &off, r)))
		goto out;
	if (queue_keep(c->queue_dir, path, fd, off, NULL, NULL, nid, nidlen, r) < 0) {
		unlink(path);
		goto out;
	}
	rc = 1;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	addr_list_free(&e.rcpts);
	return rc;
}
