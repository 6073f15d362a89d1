/* test-queue-notify.c - which recipients a queue run's notification is
 * about (queue-notify.c): the refused ones with the relay's reply, the
 * others still to deliver with the last error, never those that got it,
 * and an expired message's without a reply (Status 4.4.7). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "deliver.h"
#include "dsn.h"
#include "queue-internal.h"
#include "tap.h"
#include "util.h"

static void
add_outcome(struct deliver_report *rep, const char *rcpt, enum deliver_state st, int code,
	    const char *reply)
{
	struct deliver_outcome *o;

	rep->v = xrealloc(rep->v, (rep->n + 1) * sizeof(*rep->v));
	o = &rep->v[rep->n++];
	memset(o, 0, sizeof(*o));
	addr_list_add(&o->rcpts, rcpt);
	o->remote = 1;
	o->state = st;
	res_clear(&o->r);
	o->r.smtp_code = code;
	if (reply)
		str_copy(o->r.reply, sizeof(o->r.reply), reply);
	if (st != DELIVER_DELIVERED)
		res_fail(&o->r, st == DELIVER_REFUSED ? RES_NOUSER : RES_TEMPFAIL, "said %d", code);
}

int
main(void)
{
	struct deliver_report rep = { 0 };
	struct queue_outcomes o = { 0 };
	struct queue_env e = { 0 };
	struct dsn_rcpt v[8];
	struct dsn d = { .kind = DSN_FAILED };
	struct result why;
	char buf[32], *status = buf;
	size_t n;

	addr_list_add(&e.rcpts, "got@example.com");
	addr_list_add(&e.rcpts, "gone@example.com");
	addr_list_add(&e.rcpts, "later@example.com");
	add_outcome(&rep, "got@example.com", DELIVER_DELIVERED, 250, NULL);
	add_outcome(&rep, "gone@example.com", DELIVER_REFUSED, 550, "550 5.1.1 no such user");
	add_outcome(&rep, "later@example.com", DELIVER_DEFERRED, 451, "451 4.2.0 busy");
	queue_outcomes_note(&o, &rep);
	ok(o.nrefused == 1 && o.delivered.n == 1 && o.remote, "outcomes noted");

	n = queue_notice_rcpts(&o, &e, DSN_FAILED, 1, NULL, "last", 0, v);
	ok(n == 1 && !strcmp(v[0].rcpt, "gone@example.com") && v[0].smtp_code == 550 &&
	   !strcmp(v[0].reply, "550 5.1.1 no such user"), "refused only: the refused one");
	dsn_status(&d, &v[0], buf, sizeof(buf));
	is_str(status, "5.1.1", "with the relay's enhanced code");

	res_clear(&why);
	why.smtp_code = 451;
	str_copy(why.reply, sizeof(why.reply), "451 4.2.0 busy");
	n = queue_notice_rcpts(&o, &e, DSN_FAILED, 0, &why, "last", 0, v);
	ok(n == 2 && !strcmp(v[1].rcpt, "later@example.com") && v[1].smtp_code == 451 &&
	   !strcmp(v[1].reason, "last"), "given up: the others too, never the one that got it");

	n = queue_notice_rcpts(&o, &e, DSN_FAILED, 0, &why, "last", 1, v);
	ok(n == 2 && v[1].expired && v[1].smtp_code == 0 && !v[1].reply, "expired: no reply");
	dsn_status(&d, &v[1], buf, sizeof(buf));
	is_str(status, "4.4.7", "expired: 4.4.7");

	n = queue_notice_rcpts(&o, &e, DSN_DELAYED, 0, &why, "last", 0, v);
	ok(n == 1 && !strcmp(v[0].rcpt, "later@example.com") && !v[0].expired,
	   "delayed: only the ones still waiting");

	queue_outcomes_free(&o);
	ok(o.refused == NULL && o.nrefused == 0 && o.delivered.n == 0, "freed and cleared");
	for (size_t i = 0; i < rep.n; i++)
		addr_list_free(&rep.v[i].rcpts);
	free(rep.v);
	addr_list_free(&e.rcpts);
	return done_testing();
}
