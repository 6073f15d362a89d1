/*
 * cli.c - one option table for every personality, one parser.
 *
 * Short options follow sendmail/Postfix getopt rules: flags may be
 * grouped ("-ti"), an option that takes an argument takes the rest of its
 * word ("-fme@x", "-oi", "-B8BITMIME") or the next word ("-f me@x",
 * "-f ''").  "-q" takes only a glued argument ("-q30m").  Long options take
 * "--name VALUE" or "--name=VALUE".  Options and operands may be mixed;
 * "--" ends the options.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"

enum arg { A_NONE, A_REQ, A_GLUED };   /* A_GLUED: optional, glued only */

/* Which personalities an entry serves. */
#define P_SM  1u   /* sendmail, mailout, mailq, newaliases */
#define P_MX  2u   /* mail, mailx */

enum opt_id {
	O_ACCOUNT = 1, O_ATTACH, O_AUTHORIZE, O_BCC, O_CC, O_DELETE, O_DRY_RUN, O_DUE, O_FLUSH,
	O_FROM, O_HELP,
	O_HOST, O_LIST_QUEUE, O_PASSWORDEVAL, O_PORT, O_QUEUE, O_READ_ENV_FROM,
	O_REQUEUE, O_SERVERINFO, O_SHOW, O_SHOW_CONFIG, O_SUBJECT, O_TLS, O_USER, O_VERSION,
	/* sendmail short options */
	O_t, O_i, O_f, O_F, O_N, O_R, O_V, O_v, O_C, O_X, O_b, O_I, O_q, O_o,
	O_IGNORED,
	/* mailx */
	O_MX_FROM, O_MX_CC, O_MX_BCC, O_MX_E
};

struct optdef {
	const char *lng;     /* long name or NULL */
	char shrt;           /* short letter or 0 */
	enum arg arg;
	enum opt_id id;
	unsigned pers;
	const char *argname; /* for --help */
	const char *help;    /* NULL: accepted and ignored, not listed singly */
};

/* Long options sorted by name; then short-only options by letter. */
static const struct optdef opts[] = {
	{ "account",            0,  A_REQ,  O_ACCOUNT,       P_SM | P_MX, "NAME", "use this account" },
	{ "attach",            'a', A_REQ,  O_ATTACH,        P_SM | P_MX, "FILE", "attach a file (repeatable)" },
	{ "authorize",          0,  A_REQ,  O_AUTHORIZE,     P_SM,        "NAME", "OAuth2: authorize account NAME at its provider" },
	{ "bcc",                0,  A_REQ,  O_BCC,           P_SM,        "ADDR", "compose: blind copy (repeatable)" },
	{ "cc",                 0,  A_REQ,  O_CC,            P_SM,        "ADDR", "compose: copy (repeatable)" },
	{ "delete",             0,  A_NONE, O_DELETE,        P_SM,        NULL,   "remove the queued or failed messages whose ids are given" },
	{ "dry-run",            0,  A_NONE, O_DRY_RUN,       P_SM | P_MX, NULL,   "print envelope and message; send nothing" },
	{ "due",                0,  A_NONE, O_DUE,           P_SM,        NULL,   "with -q: only messages whose retry time has come" },
	{ "flush",              0,  A_NONE, O_FLUSH,         P_SM,        NULL,   "run the queue now (same as -q)" },
	{ "from",               0,  A_REQ,  O_FROM,          P_SM,        "ADDR", "compose: From header and envelope sender" },
	{ "help",               0,  A_NONE, O_HELP,          P_SM | P_MX, NULL,   "print this help" },
	{ "host",               0,  A_REQ,  O_HOST,          P_SM | P_MX, "HOST", "relay host, without any config file" },
	{ "list-queue",         0,  A_NONE, O_LIST_QUEUE,    P_SM,        NULL,   "list the queue (same as -bp)" },
	{ "passwordeval",       0,  A_REQ,  O_PASSWORDEVAL,  P_SM | P_MX, "CMD",  "command printing the password" },
	{ "port",               0,  A_REQ,  O_PORT,          P_SM | P_MX, "N",    "relay port" },
	{ "queue",              0,  A_REQ,  O_QUEUE,         P_SM | P_MX, "MODE", "never | onfail | always, for this run" },
	{ "read-envelope-from", 0,  A_NONE, O_READ_ENV_FROM, P_SM,        NULL,   "envelope sender from the From header" },
	{ "requeue",            0,  A_NONE, O_REQUEUE,       P_SM,        NULL,   "move the failed messages whose ids are given back to the queue" },
	{ "serverinfo",         0,  A_NONE, O_SERVERINFO,    P_SM,        NULL,   "print the relay's capabilities and certificate" },
	{ "show",               0,  A_NONE, O_SHOW,          P_SM,        NULL,   "print the queued messages whose ids are given, with their envelope" },
	{ "show-config",        0,  A_NONE, O_SHOW_CONFIG,   P_SM | P_MX, NULL,   "print the chosen account's settings" },
	{ "subject",           's', A_REQ,  O_SUBJECT,       P_SM | P_MX, "TEXT", "compose mode: subject; stdin is the body" },
	{ "tls",                0,  A_REQ,  O_TLS,           P_SM | P_MX, "MODE", "starttls | smtps | off" },
	{ "user",               0,  A_REQ,  O_USER,          P_SM | P_MX, "USER", "user name for AUTH" },
	{ "version",            0,  A_NONE, O_VERSION,       P_SM | P_MX, NULL,   "print the version" },

	{ NULL, 'A', A_REQ,   O_IGNORED, P_SM, "c|m",   NULL },
	{ NULL, 'B', A_REQ,   O_IGNORED, P_SM, "TYPE",  NULL },
	{ NULL, 'C', A_REQ,   O_C,       P_SM, "FILE",  "configuration file" },
	{ NULL, 'F', A_REQ,   O_F,       P_SM, "NAME",  "full name for an added From header" },
	{ NULL, 'G', A_NONE,  O_IGNORED, P_SM, NULL,    NULL },
	{ NULL, 'I', A_NONE,  O_I,       P_SM, NULL,    "rebuild aliases: nothing to do" },
	{ NULL, 'L', A_REQ,   O_IGNORED, P_SM, "TAG",   NULL },
	{ NULL, 'N', A_REQ,   O_N,       P_SM, "DSN",   "DSN notify (dropped when the transport cannot)" },
	{ NULL, 'O', A_REQ,   O_IGNORED, P_SM, "OPT=VAL", NULL },
	{ NULL, 'R', A_REQ,   O_R,       P_SM, "RET",   "DSN return (dropped when the transport cannot)" },
	{ NULL, 'U', A_NONE,  O_IGNORED, P_SM, NULL,    NULL },
	{ NULL, 'V', A_REQ,   O_V,       P_SM, "ENVID", "DSN envelope id (dropped when the transport cannot)" },
	{ NULL, 'X', A_REQ,   O_X,       P_SM, "FILE",  "log file" },
	{ NULL, 'b', A_REQ,   O_b,       P_SM, "m|p|s|i", "mode: deliver, list queue, SMTP on stdin, aliases" },
	{ NULL, 'b', A_REQ,   O_MX_BCC,  P_MX, "ADDR",  "blind copy" },
	{ NULL, 'c', A_REQ,   O_MX_CC,   P_MX, "ADDR",  "copy" },
	{ NULL, 'e', A_REQ,   O_IGNORED, P_SM, "X",     NULL },
	{ NULL, 'f', A_REQ,   O_f,       P_SM, "ADDR",  "envelope sender ('' or '<>': null sender)" },
	{ NULL, 'h', A_REQ,   O_IGNORED, P_SM, "N",     NULL },
	{ NULL, 'i', A_NONE,  O_i,       P_SM, NULL,    "a line with a single '.' does not end the input" },
	{ NULL, 'i', A_NONE,  O_IGNORED, P_MX, NULL,    NULL },
	{ NULL, 'm', A_NONE,  O_IGNORED, P_SM, NULL,    NULL },
	{ NULL, 'n', A_NONE,  O_IGNORED, P_SM | P_MX, NULL, NULL },
	{ NULL, 'o', A_REQ,   O_o,       P_SM, "X",     "sendmail option (-oi: as -i; others ignored)" },
	{ NULL, 'q', A_GLUED, O_q,       P_SM, NULL,    "run the queue once now (-qINTERVAL: the same)" },
	{ NULL, 'r', A_REQ,   O_f,       P_SM, "ADDR",  "same as -f" },
	{ NULL, 'r', A_REQ,   O_MX_FROM, P_MX, "ADDR",  "From and envelope sender" },
	{ NULL, 't', A_NONE,  O_t,       P_SM, NULL,    "also take recipients from To/Cc/Bcc" },
	{ NULL, 'v', A_NONE,  O_v,       P_SM | P_MX, NULL, "verbose: SMTP transcript on stderr" },
	{ NULL, 'N', A_NONE,  O_IGNORED, P_MX, NULL,    NULL },
	{ NULL, 'E', A_NONE,  O_MX_E,    P_MX, NULL,    "send nothing when the body is empty" },
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static unsigned
pers_bit(enum personality p)
{
	return p == PERS_MAILX ? P_MX : P_SM;
}

static const struct optdef *
find_short(char c, unsigned bit)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (opts[i].shrt == c && (opts[i].pers & bit))
			return &opts[i];
	return NULL;
}

static const struct optdef *
find_long(const char *name, size_t len, unsigned bit)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (opts[i].lng && strlen(opts[i].lng) == len &&
		    strncmp(opts[i].lng, name, len) == 0 && (opts[i].pers & bit))
			return &opts[i];
	return NULL;
}

static void
sl_add(struct strlist *l, char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = s;
}

enum personality
cli_personality(const char *argv0)
{
	const char *base = strrchr(argv0, '/');

	base = base ? base + 1 : argv0;
	if (strcmp(base, "mailq") == 0)
		return PERS_MAILQ;
	if (strcmp(base, "newaliases") == 0)
		return PERS_NEWALIASES;
	if (strcmp(base, "mail") == 0 || strcmp(base, "mailx") == 0)
		return PERS_MAILX;
	return PERS_SENDMAIL;
}

/* Apply one option.  name is how the user spelled it (for messages). */
static int
apply(struct options *o, const struct optdef *d, char *val, const char *name,
      struct result *r)
{
	switch (d->id) {
	case O_ACCOUNT:       o->account = val; break;
	case O_ATTACH:        sl_add(&o->attach, val); break;
	case O_AUTHORIZE:     o->mode = MODE_AUTHORIZE; o->account = val; break;
	case O_BCC:           sl_add(&o->bcc, val); o->compose = 1; break;
	case O_CC:            sl_add(&o->cc, val); o->compose = 1; break;
	case O_DELETE:        o->mode = MODE_DELETE; break;
	case O_DRY_RUN:       o->dry_run = 1; break;
	case O_DUE:           o->queue_due_only = 1; break;
	case O_FLUSH:         o->mode = MODE_RUN_QUEUE; break;
	case O_FROM:          o->from = val; o->compose = 1; break;
	case O_HELP:          o->mode = MODE_HELP; break;
	case O_HOST:          o->host = val; break;
	case O_LIST_QUEUE:    o->mode = MODE_LIST_QUEUE; break;
	case O_PASSWORDEVAL:  o->passwordeval = val; break;
	case O_PORT:          o->port = val; break;
	case O_QUEUE:         o->queue = val; break;
	case O_READ_ENV_FROM: o->read_envelope_from = 1; break;
	case O_REQUEUE:       o->mode = MODE_REQUEUE; break;
	case O_SERVERINFO:    o->mode = MODE_SERVERINFO; break;
	case O_SHOW:          o->mode = MODE_SHOW; break;
	case O_SHOW_CONFIG:   o->mode = MODE_SHOW_CONFIG; break;
	case O_SUBJECT:       o->subject = val; o->compose = 1; break;
	case O_TLS:           o->tls = val; break;
	case O_USER:          o->user = val; break;
	case O_VERSION:       o->mode = MODE_VERSION; break;
	case O_t:             o->read_recipients = 1; break;
	case O_i:             o->ignore_dots = 1; break;
	case O_f:
		/* "-f ''" and "-f '<>'" ask for the null sender. */
		o->sender = strcmp(val, "<>") == 0 ? "" : val;
		break;
	case O_F:             o->fullname = val; break;
	case O_N:             o->dsn_notify = val; break;
	case O_R:             o->dsn_ret = val; break;
	case O_V:             o->dsn_envid = val; break;
	case O_v:             o->verbose++; break;
	case O_C:             o->config_file = val; break;
	case O_X:             o->logfile = val; break;
	case O_I:             o->mode = MODE_NOOP; break;
	case O_q:
		/* SPEC 1.1: the interval of "-q30m" is ignored (no daemon);
		 * periodic runners add --due to honour the back-off. */
		o->mode = MODE_RUN_QUEUE;
		break;
	case O_o:
		if (strcmp(val, "i") == 0)
			o->ignore_dots = 1;
		break;
	case O_b:
		if (strcmp(val, "m") == 0)
			o->mode = MODE_DELIVER;
		else if (strcmp(val, "p") == 0)
			o->mode = MODE_LIST_QUEUE;
		else if (strcmp(val, "s") == 0)
			o->mode = MODE_SMTPD;
		else if (strcmp(val, "i") == 0)
			o->mode = MODE_NOOP;
		else
			return res_fail(r, RES_USAGE, "unsupported mode -b%s", val);
		break;
	case O_MX_FROM:       o->from = val; o->compose = 1; break;
	case O_MX_CC:         sl_add(&o->cc, val); o->compose = 1; break;
	case O_MX_BCC:        sl_add(&o->bcc, val); o->compose = 1; break;
	case O_MX_E:          o->skip_empty_body = 1; break;
	case O_IGNORED:       break;
	}
	(void)name;
	return 0;
}

int
cli_parse(int argc, char **argv, struct options *o, struct result *r)
{
	unsigned bit;
	int i, only_operands = 0;

	memset(o, 0, sizeof(*o));
	o->personality = cli_personality(argc > 0 ? argv[0] : "mailout");
	bit = pers_bit(o->personality);
	if (o->personality == PERS_MAILQ)
		o->mode = MODE_LIST_QUEUE;
	else if (o->personality == PERS_NEWALIASES)
		o->mode = MODE_NOOP;
	else if (o->personality == PERS_MAILX)
		o->compose = 1;

	for (i = 1; i < argc; i++) {
		char *a = argv[i];

		if (only_operands || a[0] != '-' || a[1] == '\0') {
			sl_add(&o->recipients, a);
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_operands = 1;
			continue;
		}
		if (a[1] == '-') {
			char *name = a + 2, *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			const struct optdef *d = find_long(name, len, bit);
			char *val = NULL;

			if (!d)
				return res_fail(r, RES_USAGE, "unknown option --%.*s (see --help)",
						(int)len, name);
			if (d->arg == A_NONE) {
				if (eq)
					return res_fail(r, RES_USAGE, "option --%s takes no value",
							d->lng);
			} else if (eq) {
				val = eq + 1;
			} else if (i + 1 < argc) {
				val = argv[++i];
			} else {
				return res_fail(r, RES_USAGE, "option --%s needs a value", d->lng);
			}
			if (apply(o, d, val, a, r) < 0)
				return -1;
			continue;
		}
		/* A group of short options. */
		for (char *p = a + 1; *p; p++) {
			const struct optdef *d = find_short(*p, bit);
			char *val = NULL;

			if (!d)
				return res_fail(r, RES_USAGE, "unknown option -%c (see --help)", *p);
			if (d->arg == A_REQ) {
				if (p[1])
					val = p + 1;
				else if (i + 1 < argc)
					val = argv[++i];
				else
					return res_fail(r, RES_USAGE, "option -%c needs a value", *p);
			} else if (d->arg == A_GLUED) {
				val = p + 1;
			}
			if (apply(o, d, val, a, r) < 0)
				return -1;
			if (d->arg != A_NONE)
				break;
		}
	}
	/* In -bs mode standard output is the SMTP channel: the dry-run text
	 * would be read as replies, and no reply can say "not sent". */
	if (o->mode == MODE_SMTPD && o->dry_run)
		return res_fail(r, RES_USAGE, "--dry-run cannot be used with -bs");
	/* A queue run has nothing to print: it would deliver for real. */
	if (o->mode == MODE_RUN_QUEUE && o->dry_run)
		return res_fail(r, RES_USAGE, "--dry-run cannot be used with -q or --flush "
				"(mailout -bp lists what a queue run would try)");
	/* --host builds an account of its own: which one did the caller mean? */
	if (o->host && o->account)
		return res_fail(r, RES_USAGE, "--host and --account cannot be used together");
	return 0;
}

void
cli_free(struct options *o)
{
	free(o->cc.v);
	free(o->bcc.v);
	free(o->attach.v);
	free(o->recipients.v);
	memset(o, 0, sizeof(*o));
}

static void
help_entry(FILE *out, const struct optdef *d)
{
	char left[64];

	if (d->lng && d->shrt)
		snprintf(left, sizeof(left), "-%c, --%s%s%s", d->shrt, d->lng,
			 d->argname ? " " : "", d->argname ? d->argname : "");
	else if (d->lng)
		snprintf(left, sizeof(left), "    --%s%s%s", d->lng,
			 d->argname ? " " : "", d->argname ? d->argname : "");
	else
		snprintf(left, sizeof(left), "-%c%s%s", d->shrt,
			 d->argname ? " " : "", d->argname ? d->argname : "");
	fprintf(out, "  %-30s %s\n", left, d->help);
}

void
cli_help(FILE *out)
{
	fputs("Usage: mailout [OPTION]... [--] [RECIPIENT]...   (message on standard input)\n"
	      "       mail [-s SUBJECT] [-a FILE]... [-c CC] [-b BCC] [-r FROM] RECIPIENT...\n\n"
	      "mailout's options:\n", out);
	for (size_t i = 0; i < NOPTS; i++)
		if (opts[i].lng && opts[i].help)
			help_entry(out, &opts[i]);
	fputs("\nsendmail options:\n", out);
	for (size_t i = 0; i < NOPTS; i++)
		if (!opts[i].lng && opts[i].help && (opts[i].pers & P_SM))
			help_entry(out, &opts[i]);
	fputs("\nAccepted and ignored: -A X, -B TYPE, -G, -L TAG, -O OPT=VAL, -U, -e X, -h N,\n"
	      "  -m, -n, and every -o option except -oi.\n"
	      "\nmail/mailx options: -s SUBJECT, -a FILE, -c CC, -b BCC, -r FROM, -E, -v;\n"
	      "  accepted and ignored: -i, -n, -N\n"
	      "\nSee mailout(1) and mailout.conf(5).\n", out);
}
