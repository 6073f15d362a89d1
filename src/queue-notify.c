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
#include "dsn.h"
#include "log.h"
#include "queue-internal.h"
#include "queue.h"
#include "util.h"

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
 * account chosen for its sender when it had none. */
static void
notice_route(const struct config *c, const struct queue_env *orig, struct queue_env *e)
{
	struct result ignored;
	const struct account *a;

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
