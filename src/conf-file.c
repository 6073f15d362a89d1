/*
 * conf-file.c - reading one configuration file and parsing it with
 * libconfuse.
 *
 * The file must be a regular file of at most 1 MiB without NUL bytes,
 * owned by the user or root and writable by no one else (whoever can
 * change it chooses the commands passwordeval runs), and private to its
 * owner when it holds a password.  Before libconfuse reads the text, its
 * comments are blanked (conf-layout.c), so the lines libconfuse reports
 * are true; its error callback adds the file name and keeps the value of
 * a password or passwordeval out of the message.  The account sections
 * reach libconfuse untitled: their titles are read apart (take_titles()).
 */
#include "config.h"

#include <confuse.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "conf-internal.h"
#include "log.h"
#include "util.h"

#define CONFIG_MAX_BYTES (1024 * 1024)


/* Error text from libconfuse's error callback, with our file name; the
 * text being parsed, to tell whether the failing line sets a secret. */
static char parse_error[512];
static int parse_error_line;
static const char *parse_name;
static const char *parse_text_now;

static void
on_cfg_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	char msg[400];
	int line = cfg ? cfg->line : 0;
	const char *secret = parse_text_now ? conf_secret_on_line(parse_text_now, line) : NULL;

	/* libconfuse quotes the token it choked on, which on such a line
	 * is likely part of the secret (an unquoted password with a space:
	 * "no such option 'rest-of-it'"). */
	if (secret) {
		/* The advice follows the cause, read from the hidden message
		 * and from the line's tokens, never from the value. */
		char hidden[400];
		const char *hint = "put it in double quotes";

		vsnprintf(hidden, sizeof(hidden), fmt, ap);
		if (strstr(hidden, "control character"))
			hint = "it contains a control character (a tab or a line break "
			       "inside the quotes?)";
		else if (conf_stray_semicolon(parse_text_now, line))
			hint = "a ';' follows it on the line: remove the ';' (nothing "
			       "separates settings in mailout.conf)";
		else if (conf_quoted_value_on_line(parse_text_now, line))
			hint = "the value is quoted, so something else on the line does not "
			       "parse: look at what follows the closing quote";
		wipe(hidden, sizeof(hidden));
		snprintf(msg, sizeof(msg), "cannot read the value of '%s' (not shown): %s",
			 secret, hint);
	} else {
		vsnprintf(msg, sizeof(msg), fmt, ap);
	}
	snprintf(parse_error, sizeof(parse_error), "%s:%d: %s", parse_name, line, msg);
	parse_error_line = line;
}

/* ---- account titles ---- */

/*
 * libconfuse looks for an earlier section of the same title each time it
 * reads a titled section, which makes a file of many accounts quadratic to
 * load.  So the account sections reach it untitled: their titles are read
 * here, all at once, by libconfuse itself (as the items of one list, so
 * quoting, escapes and ${VAR} mean what they mean in a title), then
 * blanked out of the text; duplicates are found by sorting.
 */

static void
quiet_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	(void)cfg, (void)fmt, (void)ap;
}

struct titled {
	const char *title;
	size_t index;
};

static int
titled_cmp(const void *x, const void *y)
{
	const struct titled *a = x, *b = y;
	int d = strcmp(a->title, b->title);

	conf_lookup_steps++;
	return d ? d : (a->index > b->index) - (a->index < b->index);
}

/* The index of the first account (in file order) whose title an earlier
 * one has, or nacct. */
static size_t
first_duplicate(char **titles, size_t nacct)
{
	struct titled *t = xcalloc(nacct ? nacct : 1, sizeof(*t));
	size_t first = nacct;

	for (size_t i = 0; i < nacct; i++) {
		t[i].title = titles[i];
		t[i].index = i;
	}
	qsort(t, nacct, sizeof(*t), titled_cmp);
	for (size_t i = 1; i < nacct; i++)
		if (!strcmp(t[i].title, t[i - 1].title) && t[i].index < first &&
		    (i < 2 || strcmp(t[i - 1].title, t[i - 2].title)))
			first = t[i].index;
	free(t);
	return first;
}

/*
 * Read the titles of x's account headers from text into
 * x->layout.acct_title and blank them in text.  Returns the line of the
 * first problem libconfuse would have reported (a duplicate or a missing
 * title), with its message in err, or 0.
 */
static int
take_titles(char *text, struct lexscan *x, char *err, size_t n)
{
	static cfg_opt_t opts[] = { CFG_STR_LIST("t", NULL, CFGF_NODEFAULT), CFG_END() };
	struct layout *l = &x->layout;
	struct dynbuf b = { 0 };
	size_t dup;
	cfg_t *cfg;
	int line = 0;

	if (!l->nacct)
		goto untitled;
	db_adds(&b, "t = {");
	for (size_t i = 0; i < l->nacct; i++) {
		db_adds(&b, i ? ",\n" : "");
		db_add(&b, text + x->titles[i].off, x->titles[i].n);
	}
	db_adds(&b, "}\n");
	cfg = cfg_init(opts, CFGF_NONE);
	cfg_set_error_function(cfg, quiet_error);
	l->acct_title = xcalloc(l->nacct, sizeof(char *));
	if (cfg_parse_buf(cfg, db_str(&b)) != CFG_SUCCESS || cfg_size(cfg, "t") != l->nacct) {
		snprintf(err, n, "cannot read the title of this account");
		line = x->titles[0].line;
	} else {
		for (size_t i = 0; i < l->nacct; i++)
			l->acct_title[i] = xstrdup(cfg_getnstr(cfg, "t", (unsigned)i));
	}
	cfg_free(cfg);
	db_free(&b);
	for (size_t i = 0; i < l->nacct; i++)
		for (size_t j = 0; j < x->titles[i].n; j++)
			if (text[x->titles[i].off + j] != '\n')
				text[x->titles[i].off + j] = ' ';
	if (line)
		return line;
	dup = first_duplicate(l->acct_title, l->nacct);
	if (dup < l->nacct) {
		snprintf(err, n, "found duplicate title '%s'", l->acct_title[dup]);
		line = x->titles[dup].line;
	}
untitled:
	if (x->untitled_line && (!line || x->untitled_line < line)) {
		snprintf(err, n, "missing title for section 'account'");
		line = x->untitled_line;
	}
	return line;
}

int
conf_parse_text(struct parsed *p, const char *name, char *text, struct result *r)
{
	struct lexscan x;
	cfg_t *cfg;
	char title_error[300];
	int rc, lexline, title_line;

	/* A UTF-8 byte order mark (Windows editors write one) is not text:
	 * blanked, it would be part of the first key's name. */
	if (!strncmp(text, "\xef\xbb\xbf", 3))
		memset(text, ' ', 3);
	conf_blank_comments(text);
	/* libconfuse notices a missing closing quote only at the end of the
	 * file, and says so there, or not at all: a quote where a key is
	 * expected, never closed, takes the rest of the file as one token. */
	conf_lex(name, text, &x);
	title_line = take_titles(text, &x, title_error, sizeof(title_error));
	free(x.titles);
	lexline = x.lexical_line;
	if (x.open && lexline >= x.open)
		lexline = 0;    /* inside the unclosed string */

	cfg = cfg_init(conf_schema(), CFGF_NONE);
	cfg_set_error_function(cfg, on_cfg_error);
	conf_set_validators(cfg);
	parse_error[0] = '\0';
	parse_name = name;
	parse_text_now = text;
	conf_saw_password = 0;
	rc = cfg_parse_buf(cfg, text);
	parse_text_now = NULL;
	/* A problem with a title is libconfuse's when it comes first. */
	if (title_line && (rc == CFG_SUCCESS || !parse_error[0] || title_line <= parse_error_line)) {
		snprintf(parse_error, sizeof(parse_error), "%s:%d: %s", name, title_line,
			 title_error);
		parse_error_line = title_line;
		rc = CFG_PARSE_ERROR;
	}
	/* The first problem in the file is reported; libconfuse may report
	 * one of ours later than its line (a string that spans lines). */
	if (rc != CFG_SUCCESS && parse_error[0] &&
	    (!x.open || parse_error_line < x.open) && (!lexline || parse_error_line < lexline))
		res_fail(r, RES_CONFIG, "%s (see mailout.conf(5))", parse_error);
	else if (x.open && (!lexline || x.open <= lexline))
		res_fail(r, RES_CONFIG, "%s:%d: a quoted value starts here and is never "
			 "closed: its closing quote is missing (see mailout.conf(5), Syntax)",
			 name, x.open);
	else if (lexline)
		*r = x.lexical_error;
	else if (rc != CFG_SUCCESS)
		res_fail(r, RES_CONFIG, "%s (see mailout.conf(5))",
			 parse_error[0] ? parse_error : name);
	else if (x.layout_failed)
		*r = x.layout_error;
	else {
		p->cfg = cfg;
		p->layout = x.layout;
		return 0;
	}
	conf_layout_free(&x.layout);
	cfg_free(cfg);
	return -1;
}

/*
 * 1 when gid is the owner's own group (a user private group, as Debian
 * and Ubuntu give each user: the owner's primary group, of the owner's
 * name, with no other member).  With umask 002, which such systems use,
 * files come out group-writable, and that group write is no one else's.
 */
static int
private_group(uid_t uid, gid_t gid)
{
	struct passwd *pw = getpwuid(uid);
	struct group *gr;

	if (!pw || pw->pw_gid != gid || !(gr = getgrgid(gid)) || strcmp(gr->gr_name, pw->pw_name))
		return 0;
	for (char **m = gr->gr_mem; *m; m++)
		if (strcmp(*m, pw->pw_name) != 0)
			return 0;
	return 1;
}

/* Whoever can change the file chooses passwordeval's command, which runs
 * as the caller (root, for cron mail): the file must be owned by the user
 * or root and writable by no one else.  Returns 0, or -1 with RES_CONFIG. */
static int
owner_policy(const char *path, const struct stat *st, struct result *r)
{
	const char *why;

	if (!(st->st_mode & 002) && (st->st_uid == geteuid() || st->st_uid == 0) &&
	    (!(st->st_mode & 020) || private_group(st->st_uid, st->st_gid)))
		return 0;
	why = (st->st_mode & 002) ? ((st->st_mode & 020) ?
	      "writable by group and others" : "writable by others")
	      : st->st_uid != geteuid() && st->st_uid != 0 ? "owned by another user"
	      : "writable by a group that others may belong to";
	return res_fail(r, RES_CONFIG, "%s is %s, so others could change it and make "
			"mailout run commands (passwordeval) as you: it must be owned by "
			"you or root and writable by no one else (chmod go-w %s; see "
			"mailout.conf(5), SECRETS)", path, why, path);
}

/* A file that holds a password must be the user's and private (mode 600).
 * optional 2: the system file.  Returns 0, or -1 with RES_CONFIG. */
static int
password_policy(const char *path, const struct stat *st, int optional, struct result *r)
{
	if (st->st_uid == geteuid() && (st->st_mode & 077) == 0)
		return 0;
	if (optional == 2 && st->st_uid != geteuid())
		/* The system file, read by someone who cannot change it. */
		return res_fail(r, RES_CONFIG,
				"%s holds a password, so it must be private to its owner "
				"(mode 600), and you could read it: its owner must make it "
				"private, or move the password to passwordeval (see "
				"mailout.conf(5), SECRETS)", path);
	return res_fail(r, RES_CONFIG,
			"%s holds a password, so it must be owned by you and not "
			"accessible by group or others (chmod 600 %s), or use "
			"passwordeval (see mailout.conf(5), SECRETS)", path, path);
}

int
conf_parse_file(const char *path, int optional, struct parsed *out, struct result *r)
{
	struct stat st;
	char *text = NULL;
	ssize_t n;
	int fd, rc = -1;

	/* O_NONBLOCK: a FIFO would block open() until a writer comes; it is
	 * refused below, as any file that is not a regular one. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		/* SPEC 2: a search-path file this user cannot read is skipped;
		 * the system file quietly (it is the mail system's), the user
		 * file with a warning. */
		if (optional && (errno == ENOENT || errno == EACCES)) {
			if (errno == EACCES && optional == 2)
				log_info("skipping %s: not readable by this user", path);
			else if (errno == EACCES)
				log_err("warning: skipping %s: %s", path, strerror(errno));
			res_clear(r);
			return 0;
		}
		res_fail(r, RES_CONFIG, "cannot open configuration file %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		res_fail(r, RES_CONFIG, "%s: not a regular file", path);
		goto done;
	}
	if (owner_policy(path, &st, r) < 0)
		goto done;
	if (st.st_size > CONFIG_MAX_BYTES) {
		res_fail(r, RES_CONFIG, "%s: larger than 1 MiB", path);
		goto done;
	}
	text = xmalloc((size_t)st.st_size + 1);
	n = read(fd, text, (size_t)st.st_size);
	if (n < 0) {
		res_fail(r, RES_CONFIG, "cannot read %s: %s", path, strerror(errno));
		goto done;
	}
	text[n] = '\0';
	if (memchr(text, '\0', (size_t)n)) {
		res_fail(r, RES_CONFIG, "%s: contains a NUL byte", path);
		goto done;
	}
	if (conf_parse_text(out, path, text, r) < 0)
		goto done;
	if (conf_saw_password && password_policy(path, &st, optional, r) < 0) {
		conf_parsed_free(out);
		goto done;
	}
	rc = 1;
done:
	if (text) {
		wipe(text, (size_t)st.st_size);
		free(text);
	}
	close(fd);
	return rc;
}

void
conf_parsed_free(struct parsed *p)
{
	cfg_free(p->cfg);
	p->cfg = NULL;
	conf_layout_free(&p->layout);
}
