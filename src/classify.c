/*
 * classify.c - SMTP replies and transport failures to result classes
 * (SPEC 8), and results to -bs replies.  See classify.h.
 *
 * The reply rules are one row per SMTP stage: what a 4xx and a 5xx mean
 * there, and whether a refusal concerns the message (MAIL, RCPT, DATA,
 * the final dot) or the session (greeting, EHLO, STARTTLS, AUTH), which
 * tells a queue run whether the relay is down for the others
 * (res_relay_down()).  The transport rules (res_from_xfer()) come first
 * where libcurl knows more than the reply does (no AUTH offered, an
 * untrusted certificate, a proxy that did not answer); otherwise the reply
 * decides, and without a reply the failure is temporary.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "classify.h"

/* How a refusal at a stage is worded. */
enum wording {
	W_MESSAGE,   /* "RELAY deferred|refused the message at STAGE: TEXT" */
	W_RCPT,      /* "RELAY deferred|refused recipient RCPT: TEXT" */
	W_STARTTLS,  /* "... STARTTLS: TEXT; nothing sent in plain text" */
	W_AUTH       /* "authentication failed for now" | "refused the credentials" */
};

static const struct stage_rule {
	const char *name;
	int about_message;      /* a refusal here concerns this message */
	enum res_class perm;    /* the class of a 5xx (a 4xx is RES_TEMPFAIL) */
	enum wording wording;
} rules[] = {
	[SMTP_CONNECT]  = { "the greeting",           0, RES_UNAVAILABLE, W_MESSAGE },
	[SMTP_EHLO]     = { "EHLO",                   0, RES_UNAVAILABLE, W_MESSAGE },
	[SMTP_STARTTLS] = { "STARTTLS",               0, RES_UNAVAILABLE, W_STARTTLS },
	[SMTP_AUTH]     = { "AUTH",                   0, RES_NOPERM,      W_AUTH },
	[SMTP_MAIL]     = { "MAIL FROM",              1, RES_UNAVAILABLE, W_MESSAGE },
	[SMTP_RCPT]     = { "RCPT TO",                1, RES_NOUSER,      W_RCPT },
	[SMTP_DATA]     = { "DATA",                   1, RES_UNAVAILABLE, W_MESSAGE },
	[SMTP_BODY]     = { "the end of the message", 1, RES_UNAVAILABLE, W_MESSAGE },
	[SMTP_QUIT]     = { "QUIT",                   0, RES_UNAVAILABLE, W_MESSAGE },
	[SMTP_OTHER]    = { "a command",              0, RES_UNAVAILABLE, W_MESSAGE },
};

/* Exchange Online's refusal once basic authentication is off for SMTP
 * AUTH ("5.7.30 Basic authentication is not supported for Client
 * Submission"): only OAuth2 tokens are taken.  What to add to the
 * message, or "". */
static const char *
basic_auth_hint(const char *text)
{
	if (strstr(text, "5.7.30") || strcasestr(text, "basic authentication is not supported"))
		return " (the relay takes no passwords: use OAuth2, auth = xoauth2 with "
		       "oauth2_token_url, oauth2_client_id and mailout --authorize; see "
		       "mailout.conf(5), OAUTH2)";
	return "";
}

static const struct stage_rule *
rule(enum smtp_stage st)
{
	if ((unsigned)st >= sizeof(rules) / sizeof(rules[0]))
		st = SMTP_OTHER;
	return &rules[st];
}

const char *
res_stage_name(enum smtp_stage st)
{
	return rule(st)->name;
}

int
res_reply_fits(enum smtp_stage st, int code)
{
	if (code >= 400 && code < 600)
		return 1;
	switch (st) {
	case SMTP_DATA:
		return code == 354;
	case SMTP_AUTH:
		return code == 334 || (code >= 200 && code < 300);
	default:
		return code >= 200 && code < 300;
	}
}

/*
 * Does a refusal at RCPT refuse the sender rather than the recipient?  Its
 * enhanced status code (RFC 3463) says so: X.1.7 (bad sender's mailbox
 * syntax), X.1.8 (bad sender's system address); or X.7.1 (delivery not
 * authorized) with a text that names the sender, as Postfix's "Sender
 * address rejected" does.  text is the reply as captured, code first.
 */
static int
sender_refused(const char *text)
{
	unsigned cls, subject, detail;
	int n = 0;

	if (strlen(text) < 4 || (text[3] != ' ' && text[3] != '-'))
		return 0;
	if (sscanf(text + 4, "%1u.%3u.%3u%n", &cls, &subject, &detail, &n) != 3 || n < 5 ||
	    (text[4 + n] && text[4 + n] != ' '))
		return 0;
	if (subject == 1 && (detail == 7 || detail == 8))
		return 1;
	return subject == 7 && detail == 1 && strcasestr(text, "sender") != NULL;
}

int
res_from_reply(const char *relay, enum smtp_stage st, int code, const char *text,
	       const char *rcpt, struct result *r)
{
	const struct stage_rule *k = rule(st);
	int temp = code < 500;
	const char *verb = temp ? "deferred" : "refused";

	if (!text)
		text = "";
	if (res_reply_fits(st, code) && (code < 400 || code >= 600))
		return 0;
	snprintf(r->reply, sizeof(r->reply), "%s", text);
	r->smtp_code = code > 0 ? code : 0;
	/* 530 is "authenticate first": our settings, not the message. */
	r->about_message = k->about_message && code != 530;
	if (!res_reply_fits(st, code)) {
		char at[600];

		if (st == SMTP_RCPT && rcpt)
			snprintf(at, sizeof(at), "%s for recipient %s", k->name, rcpt);
		else
			snprintf(at, sizeof(at), "%s", k->name);
		if (code < 0)
			return res_fail(r, RES_PROTOCOL, "%s broke the SMTP protocol at %s: %s",
					relay, at, text);
		return res_fail(r, RES_PROTOCOL, "%s broke the SMTP protocol at %s: reply code "
				"%d is not valid there (it said: %s)", relay, at, code, text);
	}
	switch (k->wording) {
	case W_RCPT:
		/* The message's sender, refused: a refusal of the message. */
		if (sender_refused(text))
			return res_fail(r, temp ? RES_TEMPFAIL : RES_UNAVAILABLE,
					"%s %s the sender (at RCPT TO for %s): %s", relay, verb,
					rcpt ? rcpt : "?", text);
		return res_fail(r, temp ? RES_TEMPFAIL : k->perm, "%s %s recipient %s: %s",
				relay, verb, rcpt ? rcpt : "?", text);
	case W_STARTTLS:
		return res_fail(r, temp ? RES_TEMPFAIL : k->perm,
				"%s %s STARTTLS: %s; nothing sent in plain text", relay, verb, text);
	case W_AUTH:
		if (temp)
			return res_fail(r, RES_TEMPFAIL, "%s: authentication failed for now: %s",
					relay, text);
		return res_fail(r, k->perm, "%s refused the credentials: %s%s", relay, text,
				basic_auth_hint(text));
	case W_MESSAGE:
		break;
	}
	return res_fail(r, temp ? RES_TEMPFAIL : k->perm, "%s %s the message at %s: %s",
			relay, verb, k->name, text);
}

/* ---- transport failures ---- */

static int
proxy_fail(const struct xfer_outcome *x, struct result *r, const char *what)
{
	char proxy[512];

	conf_proxy_display(x->acct->proxy ? x->acct->proxy : "", proxy, sizeof(proxy));
	if (!strcmp(what, "reach"))
		return res_fail(r, RES_TEMPFAIL, "proxy %s could not connect to relay %s: %s",
				proxy, x->acct->host, x->errtext);
	return res_fail(r, RES_TEMPFAIL, "cannot %s proxy %s (for relay %s): %s", what, proxy,
			x->acct->host, x->errtext);
}

static int
source_ip_fail(const struct xfer_outcome *x, struct result *r)
{
	/* Not an address of this host: a setting to fix, not a retry. */
	const struct account *a = x->acct;
	int k = conf_key_index("source_ip");
	const struct conf_where *w = k >= 0 ? &a->where[k] : NULL;
	char at[600] = "";

	if (w && w->file && w->file != CONF_COMMAND_LINE && w->line)
		snprintf(at, sizeof(at), "%s:%d: ", w->file, w->line);
	return res_fail(r, RES_CONFIG, "%saccount \"%s\": source_ip %s: %s (see "
			"mailout.conf(5), DEFAULTS AND ACCOUNTS)", at, a->name,
			a->source_ip ? a->source_ip : "?", x->errtext);
}

/* AUTH went wrong: no mechanism in common, a temporary failure, refused
 * credentials.  Returns 0 when the reply is no verdict on the credentials
 * (235 with a failure, no AUTH offered, a code outside 2xx-5xx). */
static int
login_fail(const struct xfer_outcome *x, struct result *r)
{
	const char *where = x->acct->host;
	int code = x->code;

	if (x->auth_offered && x->stage != SMTP_AUTH)
		return res_fail(r, RES_UNAVAILABLE, "%s offers no AUTH mechanism that account "
				"\"%s\" may use; nothing sent (see auth in mailout.conf(5))",
				where, x->acct->name);
	if (code >= 400 && code < 500)
		return res_fail(r, RES_TEMPFAIL, "%s: authentication failed for now: %s",
				where, x->reply);
	if (code == 235 || !x->auth_offered || code < 200 || code >= 600)
		return 0;
	return res_fail(r, RES_NOPERM, "%s refused the credentials of account \"%s\"%s%s%s",
			where, x->acct->name, code > 0 ? ": " : "", code > 0 ? x->reply : "",
			code > 0 ? basic_auth_hint(x->reply) : "");
}

/* The failures where what libcurl knows decides.  Returns -1 when *r is
 * set, 0 to let the reply (or the default) decide. */
static int
transport_rule(const struct xfer_outcome *x, struct result *r)
{
	const struct account *a = x->acct;
	const char *where = a->host, *err = x->errtext;

	switch (x->err) {
	case XFER_ABORT_READ:
		return res_fail(r, RES_IOERR, "cannot read the spool file: %s",
				strerror(x->read_errno));
	case XFER_ABORT_NO_AUTH:
		return res_fail(r, RES_UNAVAILABLE, x->auth_offered
				? "%s offers no AUTH mechanism that account \"%s\" may use; "
				  "nothing sent"
				: "%s did not offer AUTH, and account \"%s\" has credentials; "
				  "nothing sent (relays often offer AUTH only after STARTTLS; "
				  "see tls and auth in mailout.conf(5))", where, a->name);
	case XFER_RESOLVE_HOST:
		/* A SOCKS proxy whose name does not resolve is reported this
		 * way too: then the relay was not even looked up. */
		if (a->proxy && *a->proxy && x->proxy_unresolved)
			return proxy_fail(x, r, "resolve");
		return res_fail(r, x->host_unknown ? RES_NOHOST : RES_TEMPFAIL,
				"cannot resolve relay host %s: %s", where, err);
	case XFER_RESOLVE_PROXY:
		return proxy_fail(x, r, "resolve");
	case XFER_CONNECT:
		/* With a proxy, only the proxy was tried. */
		return a->proxy && *a->proxy ? proxy_fail(x, r, "connect to") : 0;
	case XFER_PROXY:
		return proxy_fail(x, r, "reach");
	case XFER_NO_FDS:
		return res_fail(r, RES_TEMPFAIL, "cannot connect to %s: too many open files",
				where);
	case XFER_TLS_UNTRUSTED:
		return res_fail(r, RES_UNAVAILABLE, "TLS certificate of %s not trusted: %s "
				"(mailout --serverinfo shows it; see tls_trust_file and tls_pin in "
				"mailout.conf(5))", where, err);
	case XFER_TLS_PIN:
		return res_fail(r, RES_UNAVAILABLE,
				"public key of %s does not match tls_pin (see mailout --serverinfo)",
				where);
	case XFER_TLS_SETTINGS:
		return res_fail(r, RES_CONFIG, "TLS settings of account \"%s\": %s", a->name, err);
	case XFER_STARTTLS:
		/* Offered, then refused: the reply decides (4xx: temporary). */
		if (x->stage == SMTP_STARTTLS && x->code >= 400 && x->code < 600)
			return res_from_reply(where, SMTP_STARTTLS, x->code, x->reply, NULL, r);
		return res_fail(r, RES_UNAVAILABLE,
				"%s does not offer STARTTLS; nothing sent in plain text "
				"(tls = smtps, or tls = off if that is really wanted: see tls in "
				"mailout.conf(5))", where);
	case XFER_LOGIN:
		return login_fail(x, r);
	case XFER_READ:
		return res_fail(r, RES_IOERR, "cannot read the spool file");
	case XFER_INTERFACE:
		return source_ip_fail(x, r);
	case XFER_SETTINGS:
		return res_fail(r, RES_CONFIG, "account \"%s\": %s", a->name, err);
	case XFER_NOMEM:
		return res_fail(r, RES_OSERR, "out of memory in libcurl");
	default:
		return 0;
	}
}

/* The two ways to mix up the ports look like a relay that is down: say
 * what else they may be (still temporary: the relay may really be down).
 * Returns -1 with *r set, or 0. */
static int
port_hint(const struct xfer_outcome *x, struct result *r)
{
	const struct account *a = x->acct;

	if (x->stage != SMTP_CONNECT || x->code)
		return 0;
	if (x->err == XFER_TIMEOUT && a->tls != TLS_SMTPS && account_port(a) == 465)
		return res_fail(r, RES_TEMPFAIL, "%s: %s (at the greeting; port 465 usually "
				"speaks TLS from the first byte and sends no greeting before it: "
				"tls = smtps)", a->host, x->errtext);
	if (x->err == XFER_TLS_HANDSHAKE && a->tls == TLS_SMTPS &&
	    (strstr(x->errtext, "unexpected TLS packet") || strstr(x->errtext, "unexpected length")))
		return res_fail(r, RES_TEMPFAIL, "%s: TLS handshake failed: %s (tls = smtps "
				"expects TLS from the first byte, as on port 465; a relay that "
				"answers in plain text on port %ld wants tls = starttls)",
				a->host, x->errtext, account_port(a));
	return 0;
}

int
res_from_xfer(const struct xfer_outcome *x, struct result *r)
{
	const char *where = x->acct->host, *err = x->errtext ? x->errtext : "";
	const char *reply = x->reply ? x->reply : "";
	enum smtp_stage st = x->stage;
	int code = x->code;

	/* Only a refusal is worth reporting as the relay's status. */
	if (code >= 400 && code < 600) {
		r->smtp_code = code;
		snprintf(r->reply, sizeof(r->reply), "%s", reply);
		r->about_message = rule(st)->about_message && code != 530;
	}
	/* A reply the command cannot get, whatever libcurl made of it: the
	 * relay broke the protocol.  Its reply is the status, as for a
	 * refusal. */
	if (x->refused && !res_reply_fits(st, code)) {
		res_from_reply(where, st, code, reply, NULL, r);
		if (code < 0)
			r->smtp_code = 0;
		return -1;
	}
	if (transport_rule(x, r) < 0)
		return -1;
	/* What the relay answered decides, when it answered. */
	if (code >= 400 && code < 600 && (x->err == XFER_RESPONSE || x->err == XFER_WEIRD_REPLY ||
					  x->err == XFER_LOGIN))
		return res_from_reply(where, st, code, reply, x->rcpt, r);
	/* A code outside 2xx-5xx, or no code at all, is not SMTP. */
	if (code < 0 || code >= 600 || x->err == XFER_WEIRD_REPLY) {
		r->smtp_code = 0;
		if (code < 0 || !*reply)
			return res_fail(r, RES_PROTOCOL, "%s broke the SMTP protocol at %s: %s",
					where, res_stage_name(st), code < 0 ? reply : err);
		return res_fail(r, RES_PROTOCOL, "%s broke the SMTP protocol at %s: %s "
				"(it said: %s)", where, res_stage_name(st), err, reply);
	}
	if (x->err == XFER_TIMEOUT && st == SMTP_BODY && x->after_dot)
		return res_fail(r, RES_TEMPFAIL,
				"%s did not answer the end of the message in time; it may have "
				"been delivered: %s", where, err);
	if (port_hint(x, r) < 0)
		return -1;
	/* The relay ended the handshake: its doing, not ours (RFC 8446
	 * section 6: a fatal alert closes the connection).  Still temporary:
	 * a relay's TLS is fixed on its side. */
	if (x->err == XFER_TLS_HANDSHAKE && x->tls_alert)
		return res_fail(r, RES_TEMPFAIL, "%s sent a fatal TLS alert during the handshake: "
				"%s (at %s)", where, x->tls_alert, res_stage_name(st));
	/* Refused, reset or timed-out connections and anything else: retry later. */
	return res_fail(r, RES_TEMPFAIL, "%s: %s (at %s)", where, err, res_stage_name(st));
}

/* ---- results as -bs replies ---- */

int
res_smtp_reply(const struct result *r, const char **status)
{
	switch (r->cls) {
	case RES_TEMPFAIL:
	case RES_PROTOCOL:
	case RES_CONFIG:
	case RES_OSERR:
	case RES_IOERR:
	case RES_CANTCREAT:
	case RES_SOFTWARE:
		*status = "4.3.0";
		return 451;
	case RES_NOUSER:
		*status = "5.1.1";
		return 550;
	default:
		*status = "5.6.0";
		return 554;
	}
}

int
res_smtp_relay_code(int relay_code)
{
	return relay_code == 421 ? 451 : relay_code;
}

int
res_try_next_relay(enum smtp_stage st, const struct result *r)
{
	if (st >= SMTP_MAIL || r->about_message)
		return 0;
	return r->cls == RES_TEMPFAIL || r->cls == RES_NOHOST;
}
