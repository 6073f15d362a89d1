/* test-classify.c - the one table of "what happened": SMTP replies per
 * stage and transport failures to result classes (classify.c, SPEC 8),
 * results to -bs replies, and which failures mean the relay is down. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "classify.h"
#include "tap.h"

#define NO 0
#define YES 1

/* stage x reply code -> class (RES_OK: the reply fits and refuses nothing). */
static const struct {
	enum smtp_stage st;
	int code;
	enum res_class cls;
	int about_message;
	const char *says;
} replies[] = {
	{ SMTP_CONNECT,  220, RES_OK,          NO,  NULL },
	{ SMTP_CONNECT,  421, RES_TEMPFAIL,    NO,  "deferred the message at the greeting" },
	{ SMTP_CONNECT,  554, RES_UNAVAILABLE, NO,  "refused the message at the greeting" },
	{ SMTP_CONNECT,  -1,  RES_PROTOCOL,    NO,  "broke the SMTP protocol at the greeting" },
	{ SMTP_CONNECT,  120, RES_PROTOCOL,    NO,  "reply code 120 is not valid there" },
	{ SMTP_EHLO,     250, RES_OK,          NO,  NULL },
	{ SMTP_EHLO,     451, RES_TEMPFAIL,    NO,  "at EHLO" },
	{ SMTP_EHLO,     550, RES_UNAVAILABLE, NO,  "at EHLO" },
	{ SMTP_EHLO,     354, RES_PROTOCOL,    NO,  "at EHLO" },
	{ SMTP_STARTTLS, 220, RES_OK,          NO,  NULL },
	{ SMTP_STARTTLS, 454, RES_TEMPFAIL,    NO,  "deferred STARTTLS" },
	{ SMTP_STARTTLS, 554, RES_UNAVAILABLE, NO,  "refused STARTTLS" },
	{ SMTP_AUTH,     334, RES_OK,          NO,  NULL },
	{ SMTP_AUTH,     235, RES_OK,          NO,  NULL },
	{ SMTP_AUTH,     454, RES_TEMPFAIL,    NO,  "authentication failed for now" },
	{ SMTP_AUTH,     535, RES_NOPERM,      NO,  "refused the credentials" },
	{ SMTP_AUTH,     354, RES_PROTOCOL,    NO,  "at AUTH" },
	{ SMTP_MAIL,     250, RES_OK,          NO,  NULL },
	{ SMTP_MAIL,     451, RES_TEMPFAIL,    YES, "deferred the message at MAIL FROM" },
	{ SMTP_MAIL,     550, RES_UNAVAILABLE, YES, "refused the message at MAIL FROM" },
	{ SMTP_MAIL,     530, RES_UNAVAILABLE, NO,  "at MAIL FROM" },
	{ SMTP_MAIL,     334, RES_PROTOCOL,    YES, "reply code 334 is not valid there" },
	{ SMTP_RCPT,     250, RES_OK,          NO,  NULL },
	{ SMTP_RCPT,     251, RES_OK,          NO,  NULL },
	{ SMTP_RCPT,     450, RES_TEMPFAIL,    YES, "deferred recipient rcpt@example.test" },
	{ SMTP_RCPT,     550, RES_NOUSER,      YES, "refused recipient rcpt@example.test" },
	{ SMTP_RCPT,     199, RES_PROTOCOL,    YES, "RCPT TO for recipient rcpt@example.test" },
	{ SMTP_DATA,     354, RES_OK,          NO,  NULL },
	{ SMTP_DATA,     250, RES_PROTOCOL,    YES, "at DATA" },
	{ SMTP_DATA,     451, RES_TEMPFAIL,    YES, "deferred the message at DATA" },
	{ SMTP_DATA,     554, RES_UNAVAILABLE, YES, "refused the message at DATA" },
	{ SMTP_BODY,     250, RES_OK,          NO,  NULL },
	{ SMTP_BODY,     452, RES_TEMPFAIL,    YES, "at the end of the message" },
	{ SMTP_BODY,     552, RES_UNAVAILABLE, YES, "at the end of the message" },
	{ SMTP_BODY,     600, RES_PROTOCOL,    YES, "reply code 600" },
	{ SMTP_QUIT,     221, RES_OK,          NO,  NULL },
	{ SMTP_OTHER,    250, RES_OK,          NO,  NULL },
	{ SMTP_OTHER,    502, RES_UNAVAILABLE, NO,  "at a command" },
};

static void
test_replies(void)
{
	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		struct result r;
		int rc;

		res_clear(&r);
		rc = res_from_reply("relay.test", replies[i].st, replies[i].code, "the text",
				    replies[i].st == SMTP_RCPT ? "rcpt@example.test" : NULL, &r);
		if (!ok(r.cls == replies[i].cls && rc == (replies[i].cls == RES_OK ? 0 : -1) &&
			(r.cls == RES_OK || r.about_message == replies[i].about_message) &&
			(!replies[i].says || (strstr(r.text, replies[i].says) &&
					      strstr(r.text, "relay.test") &&
					      strstr(r.text, "the text"))),
			"%s %d -> %s", res_stage_name(replies[i].st), replies[i].code,
			res_exit_name(replies[i].cls)))
			printf("#   got %s (about %d): %s\n", res_exit_name(r.cls), r.about_message,
			       r.text);
		if (replies[i].code >= 400 && replies[i].code < 600)
			ok(r.smtp_code == replies[i].code && !strcmp(r.reply, "the text"),
			   "... the relay's code and text are the status");
	}
}

static struct account acct;

static struct xfer_outcome
outcome(enum xfer_error err, enum smtp_stage st, int code)
{
	struct xfer_outcome x = {
		.err = err, .errtext = "libcurl's words", .acct = &acct, .stage = st,
		.code = code, .reply = code ? "the relay's words" : "",
	};
	return x;
}

/* transport failure (+ what the dialogue showed) -> class */
static void
xfer(struct xfer_outcome x, enum res_class want, const char *says, const char *name)
{
	struct result r;

	res_clear(&r);
	if (!ok(res_from_xfer(&x, &r) == -1 && r.cls == want && (!says || strstr(r.text, says)),
		"%s -> %s", name, res_exit_name(want)))
		printf("#   got %s: %s\n", res_exit_name(r.cls), r.text);
}

static void
test_transport(void)
{
	struct xfer_outcome x;

	acct.name = "a";
	acct.host = "relay.test";
	acct.tls = TLS_STARTTLS;
	acct.timeout = 30;

	x = outcome(XFER_ABORT_READ, SMTP_BODY, 354);
	x.read_errno = EIO;
	xfer(x, RES_IOERR, strerror(EIO), "spool file unreadable");
	xfer(outcome(XFER_ABORT_NO_AUTH, SMTP_EHLO, 250), RES_UNAVAILABLE, "did not offer AUTH",
	     "credentials, no AUTH offered");
	x = outcome(XFER_ABORT_NO_AUTH, SMTP_EHLO, 250);
	x.auth_offered = 1;
	xfer(x, RES_UNAVAILABLE, "offers no AUTH mechanism", "credentials, no usable mechanism");
	x = outcome(XFER_RESOLVE_HOST, SMTP_CONNECT, 0);
	x.host_unknown = 1;
	xfer(x, RES_NOHOST, "cannot resolve relay host relay.test", "name does not exist");
	xfer(outcome(XFER_RESOLVE_HOST, SMTP_CONNECT, 0), RES_TEMPFAIL, "cannot resolve relay host",
	     "name lookup failed for now");
	xfer(outcome(XFER_CONNECT, SMTP_CONNECT, 0), RES_TEMPFAIL, "at the greeting",
	     "connection refused");
	xfer(outcome(XFER_NO_FDS, SMTP_CONNECT, 0), RES_TEMPFAIL, "too many open files",
	     "no descriptor left (EMFILE)");
	xfer(outcome(XFER_TLS_UNTRUSTED, SMTP_CONNECT, 0), RES_UNAVAILABLE, "not trusted",
	     "untrusted certificate");
	xfer(outcome(XFER_TLS_PIN, SMTP_CONNECT, 0), RES_UNAVAILABLE, "tls_pin", "pin mismatch");
	xfer(outcome(XFER_TLS_SETTINGS, SMTP_CONNECT, 0), RES_CONFIG, "TLS settings",
	     "unusable client certificate");
	xfer(outcome(XFER_STARTTLS, SMTP_EHLO, 250), RES_UNAVAILABLE, "does not offer STARTTLS",
	     "STARTTLS not offered");
	xfer(outcome(XFER_STARTTLS, SMTP_STARTTLS, 454), RES_TEMPFAIL, "deferred STARTTLS",
	     "STARTTLS 454");
	xfer(outcome(XFER_STARTTLS, SMTP_STARTTLS, 554), RES_UNAVAILABLE, "refused STARTTLS",
	     "STARTTLS 554");
	x = outcome(XFER_LOGIN, SMTP_EHLO, 250);
	x.auth_offered = 1;
	xfer(x, RES_UNAVAILABLE, "offers no AUTH mechanism", "no mechanism in common");
	x = outcome(XFER_LOGIN, SMTP_AUTH, 535);
	x.auth_offered = 1;
	xfer(x, RES_NOPERM, "refused the credentials of account \"a\"", "AUTH 535");
	x.code = 454;
	xfer(x, RES_TEMPFAIL, "authentication failed for now", "AUTH 454");
	xfer(outcome(XFER_READ, SMTP_BODY, 354), RES_IOERR, "spool file", "read error");
	xfer(outcome(XFER_INTERFACE, SMTP_CONNECT, 0), RES_CONFIG, "source_ip", "bad source_ip");
	xfer(outcome(XFER_SETTINGS, SMTP_CONNECT, 0), RES_CONFIG, "account \"a\"", "bad URL");
	xfer(outcome(XFER_NOMEM, SMTP_CONNECT, 0), RES_OSERR, "memory", "out of memory");
	xfer(outcome(XFER_TIMEOUT, SMTP_CONNECT, 0), RES_TEMPFAIL, "at the greeting",
	     "silent server");
	x = outcome(XFER_TIMEOUT, SMTP_BODY, 354);
	x.after_dot = 1;
	xfer(x, RES_TEMPFAIL, "may have been delivered", "no reply to the final dot");
	xfer(outcome(XFER_TIMEOUT, SMTP_MAIL, 250), RES_TEMPFAIL, "at MAIL FROM",
	     "no reply to MAIL FROM");
	x = outcome(XFER_RESPONSE, SMTP_RCPT, 550);
	x.rcpt = "bad@example.test";
	x.refused = 1;
	xfer(x, RES_NOUSER, "refused recipient bad@example.test", "RCPT 550");
	x = outcome(XFER_RESPONSE, SMTP_MAIL, 550);
	x.refused = 1;
	xfer(x, RES_UNAVAILABLE, "refused the message at MAIL FROM", "MAIL 550");
	x = outcome(XFER_RESPONSE, SMTP_DATA, 451);
	x.refused = 1;
	xfer(x, RES_TEMPFAIL, "deferred the message at DATA", "DATA 451");
	x = outcome(XFER_WEIRD_REPLY, SMTP_BODY, 554);
	x.refused = 1;
	xfer(x, RES_UNAVAILABLE, "at the end of the message", "554 to the final dot");
	x = outcome(XFER_WEIRD_REPLY, SMTP_CONNECT, -1);
	x.refused = 1;
	x.reply = "garbage";
	xfer(x, RES_PROTOCOL, "garbage", "no reply code at all");
	x = outcome(XFER_RESPONSE, SMTP_MAIL, 354);
	x.refused = 1;
	xfer(x, RES_PROTOCOL, "reply code 354 is not valid there", "354 to MAIL");
	xfer(outcome(XFER_OTHER, SMTP_DATA, 354), RES_TEMPFAIL, "at DATA", "connection reset");

	/* The hints for mixed-up ports stay temporary. */
	acct.port = 465;
	xfer(outcome(XFER_TIMEOUT, SMTP_CONNECT, 0), RES_TEMPFAIL, "tls = smtps",
	     "starttls on port 465");
	acct.port = 0;
	acct.tls = TLS_SMTPS;
	x = outcome(XFER_TLS_HANDSHAKE, SMTP_CONNECT, 0);
	x.errtext = "An unexpected TLS packet was received.";
	xfer(x, RES_TEMPFAIL, "wants tls = starttls", "smtps against a plain port");
	acct.tls = TLS_STARTTLS;
	x = outcome(XFER_TLS_HANDSHAKE, SMTP_STARTTLS, 220);
	x.errtext = "gnutls_handshake() failed: Internal error";
	x.tls_alert = "Internal error";
	xfer(x, RES_TEMPFAIL, "relay.test sent a fatal TLS alert during the handshake: Internal "
	     "error", "the relay's fatal TLS alert is named as the relay's");
	x.tls_alert = NULL;
	xfer(x, RES_TEMPFAIL, "gnutls_handshake() failed", "a handshake failure of our own");

	/* Through a proxy. */
	acct.proxy = "socks5h://proxy.test:1080";
	xfer(outcome(XFER_CONNECT, SMTP_CONNECT, 0), RES_TEMPFAIL,
	     "cannot connect to proxy socks5h://proxy.test:1080", "proxy refuses");
	x = outcome(XFER_RESOLVE_HOST, SMTP_CONNECT, 0);
	x.proxy_unresolved = 1;
	xfer(x, RES_TEMPFAIL, "cannot resolve proxy", "SOCKS proxy name does not resolve");
	xfer(outcome(XFER_PROXY, SMTP_CONNECT, 0), RES_TEMPFAIL, "could not connect to relay",
	     "proxy cannot reach the relay");
	acct.proxy = NULL;
}

/* A refusal at RCPT that names the sender (RFC 3463 X.1.7, X.1.8, X.7.1
 * with "sender") refuses the message: 69, not 67. */
static void
test_sender_refused_at_rcpt(void)
{
	static const struct {
		int code;
		const char *text;
		enum res_class cls;
		const char *says;
	} rows[] = {
		{ 553, "553 5.7.1 <s@x.test>: Sender address rejected: Access denied",
		  RES_UNAVAILABLE, "refused the sender" },
		{ 550, "550 5.1.7 bad sender mailbox", RES_UNAVAILABLE, "refused the sender" },
		{ 550, "550-5.1.8 sender domain 550 5.1.8 unknown", RES_UNAVAILABLE,
		  "refused the sender" },
		{ 450, "450 4.1.8 <s@x.test>: Sender address rejected: Domain not found",
		  RES_TEMPFAIL, "deferred the sender" },
		{ 554, "554 5.7.1 <r@y.test>: Relay access denied", RES_NOUSER, "refused recipient" },
		{ 550, "550 5.1.1 <r@y.test>: Recipient address rejected: sender is fine",
		  RES_NOUSER, "refused recipient" },
		{ 550, "550 sender rejected (no enhanced code)", RES_NOUSER, "refused recipient" },
		{ 550, "550 5.1.71 not a code", RES_NOUSER, "refused recipient" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct result r;

		res_clear(&r);
		res_from_reply("relay.test", SMTP_RCPT, rows[i].code, rows[i].text, "r@y.test", &r);
		if (!ok(r.cls == rows[i].cls && strstr(r.text, rows[i].says) && r.about_message,
			"RCPT %s -> %s", rows[i].text, res_exit_name(rows[i].cls)))
			printf("#   got %s: %s\n", res_exit_name(r.cls), r.text);
	}
}

static void
test_bs_replies(void)
{
	static const struct {
		enum res_class cls;
		int code;
		const char *status;
	} rows[] = {
		{ RES_TEMPFAIL, 451, "4.3.0" }, { RES_PROTOCOL, 451, "4.3.0" },
		{ RES_CONFIG, 451, "4.3.0" }, { RES_IOERR, 451, "4.3.0" },
		{ RES_NOUSER, 550, "5.1.1" }, { RES_UNAVAILABLE, 554, "5.6.0" },
		{ RES_DATAERR, 554, "5.6.0" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct result r;
		const char *status = NULL;

		res_clear(&r);
		r.cls = rows[i].cls;
		ok(res_smtp_reply(&r, &status) == rows[i].code && status &&
		   !strcmp(status, rows[i].status), "-bs: %s -> %d %s", res_exit_name(rows[i].cls),
		   rows[i].code, rows[i].status);
	}
	is_int(res_smtp_relay_code(421), 451, "-bs: a relay's 421 is passed on as 451");
	is_int(res_smtp_relay_code(450), 450, "-bs: other relay codes stay");
	is_int(res_smtp_relay_code(554), 554, "-bs: ... 5xx too");
}

static void
test_relay_down(void)
{
	struct result r;

	res_clear(&r);
	res_from_reply("relay.test", SMTP_CONNECT, 421, "busy", NULL, &r);
	ok(res_relay_down(&r), "a 421 greeting: the relay is down for this run");
	res_clear(&r);
	res_from_reply("relay.test", SMTP_MAIL, 451, "later", NULL, &r);
	ok(!res_relay_down(&r), "a 4xx to MAIL is about one message");
	res_clear(&r);
	res_from_reply("relay.test", SMTP_DATA, 354 - 100, "??", NULL, &r);
	ok(res_relay_down(&r), "a protocol error: down");
	res_clear(&r);
	res_from_reply("relay.test", SMTP_RCPT, 550, "no", "x@y", &r);
	ok(!res_relay_down(&r), "a permanent refusal is not a relay that is down");
}

/* Exchange Online with basic authentication off: the message says what to use. */
static void
test_basic_auth_off(void)
{
	struct result r;

	res_clear(&r);
	res_from_reply("relay.test", SMTP_AUTH, 535, "5.7.139 Authentication unsuccessful, "
		       "basic authentication is disabled", NULL, &r);
	ok(r.cls == RES_NOPERM && !strstr(r.text, "oauth2_token_url"),
	   "another refusal of the password: no OAuth2 hint");
	res_clear(&r);
	res_from_reply("relay.test", SMTP_AUTH, 550, "5.7.30 Basic authentication is not "
		       "supported for Client Submission", NULL, &r);
	ok(r.cls == RES_NOPERM && strstr(r.text, "oauth2_token_url") &&
	   strstr(r.text, "5.7.30 Basic authentication"), "5.7.30 points at the OAuth2 settings");
}

/* SPEC 13: which failures move a message to the account's next relay. */
static void
test_next_relay(void)
{
	static const struct {
		enum smtp_stage st;
		int code;
		int next;
		const char *what;
	} rows[] = {
		{ SMTP_CONNECT, 421, 1, "a 421 greeting" },
		{ SMTP_CONNECT, 554, 0, "a 554 greeting" },
		{ SMTP_EHLO, 451, 1, "a 4xx to EHLO" },
		{ SMTP_STARTTLS, 454, 1, "a 4xx to STARTTLS" },
		{ SMTP_AUTH, 454, 1, "a 4xx to AUTH" },
		{ SMTP_AUTH, 535, 0, "refused credentials" },
		{ SMTP_MAIL, 451, 0, "a 4xx to MAIL FROM" },
		{ SMTP_RCPT, 450, 0, "a 4xx to RCPT TO" },
		{ SMTP_DATA, 451, 0, "a 4xx to DATA" },
		{ SMTP_BODY, 451, 0, "a 4xx to the final dot" },
		{ SMTP_BODY, 554, 0, "a 5xx to the final dot" },
	};
	struct result r;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		res_clear(&r);
		res_from_reply("relay.test", rows[i].st, rows[i].code, "text",
			       rows[i].st == SMTP_RCPT ? "x@y" : NULL, &r);
		ok(res_try_next_relay(rows[i].st, &r) == rows[i].next, "%s: %s", rows[i].what,
		   rows[i].next ? "next relay" : "final");
	}
	static const struct {
		enum xfer_error err;
		enum smtp_stage st;
		int next;
		const char *what;
	} xf[] = {
		{ XFER_CONNECT, SMTP_CONNECT, 1, "connection refused" },
		{ XFER_TIMEOUT, SMTP_EHLO, 1, "a timeout in the session" },
		{ XFER_TIMEOUT, SMTP_MAIL, 0, "a timeout after MAIL FROM" },
		{ XFER_TLS_UNTRUSTED, SMTP_STARTTLS, 0, "an untrusted certificate" },
	};
	for (size_t i = 0; i < sizeof(xf) / sizeof(xf[0]); i++) {
		struct xfer_outcome x = outcome(xf[i].err, xf[i].st, 0);

		res_clear(&r);
		res_from_xfer(&x, &r);
		ok(res_try_next_relay(xf[i].st, &r) == xf[i].next, "%s: %s", xf[i].what,
		   xf[i].next ? "next relay" : "final");
	}
}

int
main(void)
{
	test_replies();
	test_transport();
	test_sender_refused_at_rcpt();
	test_bs_replies();
	test_relay_down();
	test_next_relay();
	test_basic_auth_off();
	return done_testing();
}
