/* deliver.c - one spooled message to local mailboxes and/or a relay. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "classify.h"
#include "deliver.h"
#include "local.h"
#include "log.h"
#include "submit.h"
#include "util.h"

static char *
join(const struct addr_list *l)
{
	struct dynbuf d = { 0 };

	for (size_t i = 0; i < l->n; i++) {
		if (i)
			db_addc(&d, ',');
		db_adds(&d, l->v[i]);
	}
	return d.s ? d.s : xstrdup("");
}

/* One log line for the recipients in to: through the relay of d->acct
 * when remote, else local delivery.  tls=, auth= and user= are the
 * account's settings (as msmtp logs them), whether or not the session got
 * as far as STARTTLS or AUTH. */
static void
log_line(const struct delivery *d, const struct addr_list *to, int remote,
	 const struct result *r, const char *queue_id, const char *relay)
{
	const struct account *a = remote ? d->acct : NULL;
	int auth = a && account_auth_enabled(a);
	char *rcpts = join(to);
	struct log_entry e = {
		.host = !remote ? NULL : relay ? relay : a && a->host ? a->host : "unknown",
		.tls = a && a->tls != TLS_OFF,
		.auth = auth,
		.user = auth ? a->user : NULL,
		.from = !d->sender ? NULL : *d->sender ? d->sender : "<>",
		.recipients = rcpts,
		.mailsize = (long long)d->size,
		.smtpstatus = r->smtp_code,
		.smtpmsg = r->smtp_code ? r->reply : NULL,
		.errormsg = r->cls != RES_OK ? r->text : NULL,
		.queue_id = queue_id,
		.uid = d->uid,
		.exitcode = res_exit_name(r->cls),
	};
	log_delivery(&e);
	free(rcpts);
}

void
deliver_log_failure(const struct account *acct, const char *sender,
		    const struct addr_list *rcpts, off_t size, const struct result *r)
{
	struct delivery d = { .acct = acct, .sender = sender, .size = size };
	int remote = rcpts->n == 0;

	for (size_t i = 0; i < rcpts->n; i++)
		if (!addr_is_local(rcpts->v[i]))
			remote = 1;
	log_line(&d, rcpts, remote, r, NULL, NULL);
}

void
deliver_log(const struct delivery *d, const struct deliver_report *rep, const char *kept_as)
{
	for (size_t i = 0; i < rep->n; i++) {
		const struct deliver_outcome *o = &rep->v[i];

		log_line(d, &o->rcpts, o->remote, &o->r, d->queue_id ? d->queue_id :
			 o->state == DELIVER_DEFERRED ? kept_as : NULL, rep->relay);
	}
}

/* Record that the recipients of to got r (which also goes into *total). */
static void
outcome(struct deliver_report *rep, const struct addr_list *to, int remote,
	const struct result *r, struct result *total)
{
	struct deliver_outcome *o;

	rep->v = xrealloc(rep->v, (rep->n + 1) * sizeof(*rep->v));
	o = &rep->v[rep->n++];
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < to->n; i++)
		addr_list_add(&o->rcpts, to->v[i]);
	o->remote = remote;
	o->r = *r;
	o->state = r->cls == RES_OK ? DELIVER_DELIVERED : res_is_temporary(r) ?
		   DELIVER_DEFERRED : DELIVER_REFUSED;
	res_merge(total, r);
}

void
deliver_recipients(const struct deliver_report *rep, enum deliver_state state,
		   struct addr_list *out)
{
	for (size_t i = 0; i < rep->n; i++)
		if (rep->v[i].state == state)
			for (size_t k = 0; k < rep->v[i].rcpts.n; k++)
				addr_list_add(out, rep->v[i].rcpts.v[k]);
}

void
deliver_report_free(struct deliver_report *rep)
{
	for (size_t i = 0; i < rep->n; i++)
		addr_list_free(&rep->v[i].rcpts);
	free(rep->v);
	free(rep->relay);
	rep->relay = NULL;
	rep->v = NULL;
	rep->n = 0;
}

static void
deliver_local(const struct delivery *d, const struct addr_list *local,
	      struct deliver_report *rep, struct result *total)
{
	for (size_t i = 0; i < local->n; i++) {
		struct addr_list one = { .v = &local->v[i], .n = 1, .cap = 1 };
		struct result r;
		char where[4096];

		res_clear(&r);
		if (local_deliver(local->v[i], d->sender, d->fd, d->start, where,
				  sizeof(where), &r) == 0)
			log_info("delivered to %s for %s", where, local->v[i]);
		outcome(rep, &one, 0, &r, total);
	}
}

/*
 * partial_delivery: the relay refused some recipients at RCPT (ref) and
 * libcurl went on with the others.  fail is NULL when the others got the
 * message, else what became of the transaction for them (a 4xx or 5xx to
 * DATA or the final dot, a dropped connection...); when every recipient was
 * refused there are no others.  The others share one log line, each
 * refused recipient gets its own outcome; the temporarily refused (4xx,
 * and a reply RCPT cannot get, which is a protocol error) are deferred, and
 * so are the others when the transaction failed temporarily.
 */
static void
report_refusals(const struct addr_list *remote,
		const struct submit_refusal *ref, size_t nref, const struct result *fail,
		struct deliver_report *rep, struct result *total)
{
	struct addr_list ok = { 0 };
	struct result r, worst;
	char why[sizeof(worst.text)];

	for (size_t i = 0; i < remote->n; i++) {
		int refused = 0;
		for (size_t k = 0; k < nref; k++)
			if (!strcmp(ref[k].rcpt, remote->v[i]))
				refused = 1;
		if (!refused)
			addr_list_add(&ok, remote->v[i]);
	}
	res_clear(&worst);
	if (ok.n && !fail) {
		res_clear(&r);
		r.smtp_code = 250;
		outcome(rep, &ok, 1, &r, &worst);
		log_info("delivered via %s to %zu of %zu recipients", rep->relay, ok.n,
			 remote->n);
	}
	for (size_t k = 0; k < nref; k++) {
		struct addr_list one = { .v = (char **)&ref[k].rcpt, .n = 1, .cap = 1 };
		int code = ref[k].code;

		res_clear(&r);
		if (ref[k].result)
			r = *ref[k].result;
		else
			res_from_reply(rep->relay, SMTP_RCPT, code, ref[k].reply, ref[k].rcpt, &r);
		log_err("%s", r.text);
		outcome(rep, &one, 1, &r, &worst);
	}
	if (ok.n && fail) {
		/* After the refusals, as in the dialogue (its class goes into
		 * the total below). */
		struct result ignored;

		log_err("%s", fail->text);
		res_clear(&ignored);
		outcome(rep, &ok, 1, fail, &ignored);
	}
	/* The total names each refusal with the relay's reply: it is also
	 * what -bp shows as the last error of the recipients left queued. */
	if (nref > 1) {
		struct dynbuf each = { 0 };

		for (size_t k = 0; k < nref; k++)
			db_printf(&each, "%s%s: %s", k ? "; " : "", ref[k].rcpt, ref[k].reply);
		res_fail(&worst, worst.cls, "%zu of %zu recipients not accepted by %s (%s)",
			 nref, remote->n, rep->relay, db_str(&each));
		db_free(&each);
	}
	str_copy(why, sizeof(why), worst.text);
	if (ok.n && !fail) {
		res_fail(&worst, worst.cls, "%s; the message went to the %s", why,
			 nref == 1 ? "other recipients" : "others");
	} else if (ok.n) {
		/* Permanent beats temporary; between two permanent ones the
		 * refusal at RCPT, which came first, is the status. */
		res_merge(&worst, fail);
		res_fail(&worst, worst.cls, "%s; for the other recipients, %s", why, fail->text);
	}
	res_merge(total, &worst);
	addr_list_free(&ok);
}

static void
deliver_remote(const struct delivery *d, const struct addr_list *remote,
	       struct submit **session, struct deliver_report *rep, struct result *total)
{
	struct submit_envelope env = {
		.sender = d->sender, .rcpts = remote,
		.dsn_notify = d->dsn_notify, .dsn_ret = d->dsn_ret, .dsn_envid = d->dsn_envid,
	};
	struct result r;

	res_clear(&r);
	if (deliver_check_relay(d->acct, remote, &r) < 0) {
		res_merge(total, &r);
		return;
	}
	if (!*session) {
		if (submit_global_init(&r) == 0)
			*session = submit_new(d->acct, &r);
	}
	if (*session && lseek(d->fd, d->start, SEEK_SET) == d->start) {
		int rc = submit_message(*session, &env, d->fd, &r);
		size_t nref;
		const struct submit_refusal *ref = submit_refusals(*session, &nref);

		free(rep->relay);
		rep->relay = xstrdup(submit_relay(*session));
		if (nref) {
			/* partial_delivery: each refused recipient on its own,
			 * the transaction's outcome for the others. */
			report_refusals(remote, ref, nref, rc == 0 ? NULL : &r, rep, total);
			return;
		}
		if (rc == 0)
			log_info("delivered to %s via %s (%d)", remote->n == 1 ? remote->v[0]
				 : "the recipients", rep->relay, r.smtp_code);
	} else if (*session) {
		res_fail(&r, RES_IOERR, "cannot read the message back: %s", strerror(errno));
	}
	outcome(rep, remote, 1, &r, total);
}

int
deliver_check_relay(const struct account *acct, const struct addr_list *rcpts,
		    struct result *r)
{
	if (acct && acct->host)
		return 0;
	for (size_t i = 0; i < rcpts->n; i++)
		if (!addr_is_local(rcpts->v[i]))
			return res_fail(r, RES_CONFIG,
					"no relay is configured for %s: add an account with a host "
					"to ~/.config/mailout/config or " SYSCONFDIR "/mailout.conf "
					"(see mailout.conf(5), EXAMPLES), or pass --host", rcpts->v[i]);
	return 0;
}

int
deliver_run(const struct delivery *d, const struct addr_list *rcpts,
	    struct submit **session, struct deliver_report *rep, struct result *r)
{
	struct addr_list local = { 0 }, remote = { 0 };
	struct submit *own = NULL;

	res_clear(r);
	memset(rep, 0, sizeof(*rep));
	for (size_t i = 0; i < rcpts->n; i++) {
		int is_local = addr_is_local(rcpts->v[i]);

		if (d->only == (is_local ? DELIVER_RELAY_ONLY : DELIVER_LOCAL_ONLY))
			continue;
		addr_list_add(is_local ? &local : &remote, rcpts->v[i]);
	}
	if (local.n)
		deliver_local(d, &local, rep, r);
	if (remote.n)
		deliver_remote(d, &remote, session ? session : &own, rep, r);
	submit_free(own);
	addr_list_free(&local);
	addr_list_free(&remote);
	return r->cls == RES_OK ? 0 : -1;
}

int
deliver_relay_down(const struct result *r)
{
	return res_relay_down(r);
}
