/*
 * cli.h - command-line parsing for every personality.
 *
 * One sorted table holds every option (long name, short letter, argument
 * kind, id); --help is generated from it, so the parser, --help and the
 * man page are checked against each other by a test.
 */
#ifndef MAILOUT_CLI_H
#define MAILOUT_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "result.h"

enum personality {
	PERS_SENDMAIL,    /* mailout, sendmail */
	PERS_MAILQ,       /* mailq: -bp */
	PERS_NEWALIASES,  /* newaliases: nothing to do */
	PERS_MAILX        /* mail, mailx */
};

enum mode {
	MODE_DELIVER,     /* -bm, the default */
	MODE_LIST_QUEUE,  /* -bp, --list-queue, mailq */
	MODE_RUN_QUEUE,   /* -q, --flush */
	MODE_SMTPD,       /* -bs */
	MODE_NOOP,        /* -bi, -I, newaliases */
	MODE_SHOW_CONFIG, /* --show-config */
	MODE_SERVERINFO,  /* --serverinfo */
	MODE_DELETE,      /* --delete ID... */
	MODE_REQUEUE,     /* --requeue ID... */
	MODE_SHOW,        /* --show ID... */
	MODE_AUTHORIZE,   /* --authorize ACCOUNT (OAuth2 device grant) */
	MODE_VERSION,
	MODE_HELP
};

struct strlist {
	char **v;         /* pointers into argv (not owned) */
	size_t n, cap;
};

struct options {
	enum personality personality;
	enum mode mode;
	int read_recipients;    /* -t */
	int ignore_dots;        /* -i, -oi */
	const char *sender;     /* -f/-r; "" for the null sender; NULL: not given */
	const char *fullname;   /* -F */
	const char *dsn_notify; /* -N */
	const char *dsn_ret;    /* -R */
	const char *dsn_envid;  /* -V */
	int queue_due_only;     /* --due: only messages whose retry time has come */
	int verbose;            /* -v (repeatable) */
	const char *config_file;/* -C */
	const char *logfile;    /* -X */
	const char *account;    /* --account */
	const char *host, *port, *tls, *user, *passwordeval; /* --host ... */
	const char *queue;      /* --queue MODE */
	int read_envelope_from; /* --read-envelope-from */
	int dry_run;            /* --dry-run */
	int compose;            /* -s, --cc, --bcc, --from given */
	const char *subject;    /* -s */
	const char *from;       /* --from, mailx -r */
	int skip_empty_body;    /* mailx -E: nothing sent for an empty body */
	struct strlist cc, bcc; /* --cc/--bcc, mailx -c/-b */
	struct strlist attach;  /* -a */
	struct strlist recipients; /* operands (queue ids for --delete, --requeue,
	                              --show) */
};

/*
 * Parse argv for the personality that argv[0] names.  Options may be
 * glued (-fme@x), separate (-f me@x) or grouped (-ti); long options take
 * "--opt VAL" or "--opt=VAL"; "--" ends options.  Options and operands
 * may be mixed.  Returns 0, or -1 with RES_USAGE and a one-line message
 * naming the offending option.  Strings point into argv.
 */
int cli_parse(int argc, char **argv, struct options *o, struct result *r);

/* The personality for a program name (basename of argv[0]). */
enum personality cli_personality(const char *argv0);

void cli_free(struct options *o);

/* Print --help (generated from the option table). */
void cli_help(FILE *out);

#endif
