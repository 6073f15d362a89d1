/*
 * conf.c - the configuration as a whole: which files are read, how the
 * accounts are built from them, and the choice of account.
 *
 * Two files are read, the system file and then the user file; -C or
 * $MAILOUT_CONFIG names one file that replaces both.  Each file is parsed
 * on its own (conf-file.c).  An account is built from, in order: the
 * system `defaults`, the user `defaults` (or, with `inherit`, the parent
 * account instead of both), then the keys its own section sets.  An
 * account in the user file replaces a system account of the same name.
 * Account names are hashed and inherit is resolved without recursion, so
 * loading stays near-linear in the number of accounts and a long inherit
 * chain cannot exhaust the stack.
 */
#include "config.h"

#include <confuse.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "conf-internal.h"
#include "util.h"

const char CONF_COMMAND_LINE[] = "the command line";

/* ---- building accounts ---- */

/* The values of a KF_MULTI key joined by ',' (its values hold none). */
static char *
joined_values(cfg_opt_t *opt)
{
	struct dynbuf d = { 0 };

	for (unsigned j = 0; j < cfg_opt_size(opt); j++) {
		if (j)
			db_addc(&d, ',');
		db_adds(&d, cfg_opt_getnstr(opt, j));
	}
	return d.s ? d.s : xstrdup("");
}

/* Copy every key that sec sets onto a, and where each was set: file (a
 * string of the config), and the line from layout l of section number id. */
static void
overlay(struct account *a, cfg_t *sec, const char *file, const struct layout *l, int id)
{
	for (size_t i = 0; i < CONF_NKEYS; i++) {
		const struct conf_key *k = &conf_keys[i];
		cfg_opt_t *opt = cfg_getopt(sec, k->name);
		char *field = (char *)a + k->off;

		if (!opt || !(opt->flags & CFGF_MODIFIED))
			continue;
		a->where[i].file = file;
		a->where[i].line = conf_layout_line(l, id, k->name);
		switch (k->type) {
		case KT_STR: {
			const char *v = cfg_opt_getnstr(opt, 0);
			char **dst = (char **)field;

			if (k->flags & KF_SECRET)
				free_secret(*dst);
			else
				free(*dst);
			*dst = !v ? NULL : (k->flags & KF_PATH) ? path_expand(v)
			     : (k->flags & KF_MULTI) ? joined_values(opt) : xstrdup(v);
			break;
		}
		case KT_NUM:
		case KT_DURATION:
			*(long *)field = cfg_opt_getnint(opt, 0);
			break;
		case KT_ENUM:
			*(int *)field = (int)cfg_opt_getnint(opt, 0);
			break;
		case KT_BOOL:
			*(int *)field = cfg_opt_getnbool(opt, 0) ? 1 : 0;
			break;
		case KT_LIST: {
			char ***list = (char ***)field;
			size_t *count = (size_t *)((char *)a + k->count_off);

			for (size_t j = 0; j < *count; j++)
				free((*list)[j]);
			free(*list);
			*count = cfg_opt_size(opt);
			*list = xcalloc(*count ? *count : 1, sizeof(char *));
			for (size_t j = 0; j < *count; j++)
				(*list)[j] = xstrdup(cfg_opt_getnstr(opt, (unsigned)j));
			break;
		}
		}
	}
}

/* One account section and where it came from. */
struct asec {
	const char *name;
	const char *file;          /* a string of the config (c->files[]) */
	const struct layout *layout;
	int id;                    /* its number among the file's account sections */
	int line;                  /* of its header */
	cfg_t *sec;
	int state;       /* 0 unresolved, 1 on the inherit path being resolved, 2 done */
	int index;       /* in c->accounts: its place in b->secs (file order) */
	struct asec *below;        /* the account that inherits from it, on that path */
};

struct build {
	struct config *c;
	struct parsed *files;
	size_t nfiles;
	struct asec *secs;
	size_t nsecs;
	int *slots;                /* name index: open addressing, -1 empty */
	size_t nslots;             /* a power of two, over twice the sections */
};

static size_t
name_hash(const char *s)
{
	size_t h = 2166136261u;         /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The slot of name in the index: where it is, or the empty slot where it
 * goes. */
static int *
name_slot(struct build *b, const char *name)
{
	size_t i = name_hash(name) & (b->nslots - 1);

	for (;; i = (i + 1) & (b->nslots - 1)) {
		conf_lookup_steps++;
		if (b->slots[i] < 0 || strcmp(b->secs[b->slots[i]].name, name) == 0)
			return &b->slots[i];
	}
}

static struct asec *
find_sec(struct build *b, const char *name)
{
	int *slot = name_slot(b, name);

	return *slot < 0 ? NULL : &b->secs[*slot];
}

static void
apply_defaults(struct build *b, struct account *a)
{
	for (size_t i = 0; i < b->nfiles; i++) {
		cfg_t *d = cfg_getsec(b->files[i].cfg, "defaults");
		if (d)
			overlay(a, d, b->c->files[i], &b->files[i].layout, SEC_DEFAULTS);
	}
}

/* Build the account of section s on top of its parent p (resolved), or
 * of the defaults when p is NULL. */
static void
build_account(struct build *b, struct asec *s, const struct asec *p)
{
	struct account a;

	account_copy(&a, p ? &b->c->accounts[p->index] : &b->c->defaults);
	free(a.name);
	free(a.file);
	overlay(&a, s->sec, s->file, s->layout, s->id);
	a.name = xstrdup(s->name);
	a.file = xstrdup(s->file);
	a.line = s->line;
	/* Each account keeps the place of its section, whatever order
	 * inherit resolves them in: senders are tried in file order. */
	b->c->accounts[s->index] = a;
	s->state = 2;
}

/*
 * Resolve s and the accounts it inherits from, parents first.  No
 * recursion: an inherit chain may be as long as the file size allows.
 * The path is walked up to an account that is resolved or inherits from
 * none, then built back down along the below links.
 */
static int
resolve(struct build *b, struct asec *s, struct result *r)
{
	struct asec *cur = s, *p = NULL;

	if (s->state == 2)
		return 0;
	for (;;) {
		const char *parent = cfg_getstr(cur->sec, "inherit");
		int line;

		cur->state = 1;
		if (!parent)
			break;
		p = find_sec(b, parent);
		if (p && p->state == 2)
			break;
		line = conf_layout_line(cur->layout, cur->id, "inherit");
		if (!p)
			return res_fail(r, RES_CONFIG,
					"%s:%d: account \"%s\" inherits from unknown account \"%s\" "
					"(see mailout.conf(5), DEFAULTS AND ACCOUNTS)",
					cur->file, line, cur->name, parent);
		if (p->state == 1)
			return res_fail(r, RES_CONFIG, "%s:%d: account \"%s\": inherit = \"%s\" "
					"forms a cycle (accounts that inherit from each other; "
					"see mailout.conf(5), DEFAULTS AND ACCOUNTS)",
					cur->file, line, cur->name, parent);
		p->below = cur;
		cur = p;
	}
	for (;;) {
		build_account(b, cur, p);
		if (cur == s)
			return 0;
		p = cur;
		cur = cur->below;
	}
}

/* A global key's value from the last file that sets it; *where (when not
 * NULL) gets that file's index. */
static const char *
top_str(struct build *b, const char *key, size_t *where)
{
	const char *v = NULL;

	for (size_t i = 0; i < b->nfiles; i++) {
		cfg_opt_t *opt = cfg_getopt(b->files[i].cfg, key);
		if (opt->flags & CFGF_MODIFIED) {
			v = cfg_opt_getnstr(opt, 0);
			if (where)
				*where = i;
		}
	}
	return v;
}

static long
top_int(struct build *b, const char *key, long def)
{
	long v = def;

	for (size_t i = 0; i < b->nfiles; i++) {
		cfg_opt_t *opt = cfg_getopt(b->files[i].cfg, key);
		if (opt->flags & CFGF_MODIFIED)
			v = cfg_opt_getnint(opt, 0);
	}
	return v;
}

/* An XDG base directory from the environment counts only when it is the
 * real user's (SPEC 2: dir_is_users()).  NULL: the default under
 * user_home(). */
static const char *
xdg_dir(const char *var)
{
	const char *d = getenv(var);

	return dir_is_users(d) ? d : NULL;
}

static char *
default_queue_dir(void)
{
	const char *state = xdg_dir("XDG_STATE_HOME");

	if (geteuid() == 0)
		return xstrdup("/var/spool/mailout");   /* SPEC 2: root's default */
	if (state)
		return xasprintf("%s/mailout/queue", state);
	return path_expand("~/.local/state/mailout/queue");
}

/* Index the account sections of every file in b->secs, in file order; a
 * later file's account replaces an earlier one of the same name.  Returns
 * 0, or -1 with RES_CONFIG. */
static int
collect_sections(struct build *b, struct result *r)
{
	size_t total = 0;

	for (size_t i = 0; i < b->nfiles; i++)
		total += cfg_size(b->files[i].cfg, "account");
	b->secs = xcalloc(total ? total : 1, sizeof(*b->secs));
	for (b->nslots = 16; b->nslots < 2 * total; b->nslots *= 2)
		;
	b->slots = xmalloc(b->nslots * sizeof(*b->slots));
	memset(b->slots, 0xff, b->nslots * sizeof(*b->slots));
	for (size_t i = 0; i < b->nfiles; i++) {
		unsigned n = cfg_size(b->files[i].cfg, "account");
		const struct layout *l = &b->files[i].layout;

		if (l->nacct != n || (n && !l->acct_title))
			return res_fail(r, RES_CONFIG, "%s: the account sections cannot be read "
					"(see mailout.conf(5), Syntax)", b->c->files[i]);
		for (unsigned j = 0; j < n; j++) {
			cfg_t *sec = cfg_getnsec(b->files[i].cfg, "account", j);
			const char *title = l->acct_title[j];
			int *slot = name_slot(b, title);
			struct asec *s = *slot < 0 ? NULL : &b->secs[*slot];

			if (!*title)
				return res_fail(r, RES_CONFIG, "%s:%d: an account needs a name: "
						"account \"\" is not allowed (see mailout.conf(5), "
						"DEFAULTS AND ACCOUNTS)", b->c->files[i], l->acct_line[j]);
			if (!s) {
				s = &b->secs[b->nsecs];
				s->index = (int)b->nsecs;
				*slot = (int)b->nsecs++;
			}
			s->name = title;
			s->file = b->c->files[i];
			s->sec = sec;
			s->layout = l;
			s->id = (int)j;
			s->line = l->acct_line[j];
		}
	}
	return 0;
}

/* The top-level keys, from the last file that sets each.  Returns 0, or
 * -1 with RES_CONFIG. */
static int
read_globals(struct build *b, struct result *r)
{
	struct config *c = b->c;
	size_t dfile = 0;
	const char *v;

	v = top_str(b, "default_account", &dfile);
	c->default_account = v ? xstrdup(v) : NULL;
	v = top_str(b, "aliases", NULL);
	c->aliases = v ? path_expand(v) : NULL;
	v = top_str(b, "logfile", NULL);
	c->logfile = v && *v ? path_expand(v) : NULL;
	v = top_str(b, "syslog", NULL);
	c->syslog = v && strcasecmp(v, "off") != 0 ? xstrdup(v) : NULL;
	c->queue = (enum queue_mode)top_int(b, "queue", QUEUE_ONFAIL);
	v = top_str(b, "queue_dir", NULL);
	c->queue_dir = v ? path_expand(v) : default_queue_dir();
	c->queue_lifetime = top_int(b, "queue_lifetime", 5 * 86400);
	v = top_str(b, "bounce_notice_to", NULL);
	c->bounce_notice_to = v && *v ? xstrdup(v) : NULL;
	c->delay_warning = top_int(b, "delay_warning", 0);
	if (c->default_account && !conf_find(c, c->default_account))
		return res_fail(r, RES_CONFIG, "%s:%d: default_account \"%s\" is not defined "
				"(see mailout.conf(5), ACCOUNT SELECTION)", c->files[dfile],
				conf_layout_line(&b->files[dfile].layout, SEC_TOP,
						 "default_account"), c->default_account);
	return 0;
}

static int
build_config(struct config *c, struct parsed *files, size_t nfiles, struct result *r)
{
	struct build b = { c, files, nfiles, NULL, 0, NULL, 0 };
	int rc = -1;

	res_clear(r);
	if (collect_sections(&b, r) < 0)
		goto fail;
	account_init(&c->defaults);
	apply_defaults(&b, &c->defaults);
	c->defaults.name = xstrdup("(command line)");
	c->accounts = xcalloc(b.nsecs ? b.nsecs : 1, sizeof(struct account));
	c->naccounts = b.nsecs;        /* slots not filled yet are all zero */
	for (size_t i = 0; i < b.nsecs; i++)
		if (resolve(&b, &b.secs[i], r) < 0)
			goto fail;
	rc = read_globals(&b, r);
fail:
	free(b.secs);
	free(b.slots);
	return rc;
}

static int
load_parsed(struct config *c, struct parsed *p, size_t n, struct result *r)
{
	int rc;

	c->nfiles = n;
	for (size_t i = 0; i < n; i++)
		c->files[i] = xstrdup(p[i].name);
	if (n == 0) {
		c->embedded = 1;
		c->queue = QUEUE_ONFAIL;
		c->queue_dir = default_queue_dir();
		c->queue_lifetime = 5 * 86400;
		account_init(&c->defaults);
		c->defaults.name = xstrdup("(command line)");
		return 0;
	}
	rc = build_config(c, p, n, r);
	return rc;
}

static char *
user_config_path(void)
{
	const char *x = xdg_dir("XDG_CONFIG_HOME");

	if (x)
		return xasprintf("%s/mailout/config", x);
	return path_expand("~/.config/mailout/config");
}

int
conf_load(struct config *c, const char *explicit_file, struct result *r)
{
	struct parsed p[2];
	size_t n = 0;
	const char *env = getenv("MAILOUT_CONFIG");
	char *paths[2] = { NULL, NULL };
	int rc = -1;

	memset(c, 0, sizeof(*c));
	if (!explicit_file && env && *env)
		explicit_file = env;
	memset(p, 0, sizeof(p));
	if (explicit_file) {
		paths[0] = path_expand(explicit_file);
		if (conf_parse_file(paths[0], 0, &p[0], r) <= 0)
			goto done;
		p[0].name = paths[0];
		n = 1;
	} else {
		paths[0] = xstrdup(SYSCONFDIR "/mailout.conf");
		paths[1] = user_config_path();
		for (int i = 0; i < 2; i++) {
			int got = conf_parse_file(paths[i], i == 0 ? 2 : 1, &p[n], r);
			if (got < 0)
				goto done;
			if (got == 0) {
				/* There, but not for this user: the mail system's. */
				if (i == 0 && (access(paths[0], F_OK) == 0 || errno == EACCES))
					c->system_unreadable = 1;
				continue;
			}
			p[n].name = paths[i];
			n++;
		}
	}
	rc = load_parsed(c, p, n, r);
done:
	for (size_t i = 0; i < n; i++)
		conf_parsed_free(&p[i]);
	free(paths[0]);
	free(paths[1]);
	return rc;
}

int
conf_load_buf(struct config *c, const char *name, const char *text, struct result *r)
{
	struct parsed p;
	char *copy = xstrdup(text);
	int rc;

	memset(c, 0, sizeof(*c));
	memset(&p, 0, sizeof(p));
	p.name = (char *)name;
	rc = conf_parse_text(&p, name, copy, r);
	free(copy);
	if (rc < 0)
		return -1;
	rc = load_parsed(c, &p, 1, r);
	conf_parsed_free(&p);
	return rc;
}

void
conf_free(struct config *c)
{
	for (size_t i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	free(c->default_account);
	free(c->aliases);
	free(c->logfile);
	free(c->syslog);
	free(c->queue_dir);
	free(c->bounce_notice_to);
	for (size_t i = 0; i < c->naccounts; i++)
		account_free(&c->accounts[i]);
	free(c->accounts);
	account_free(&c->defaults);
	memset(c, 0, sizeof(*c));
}

const struct account *
conf_find(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->naccounts; i++)
		if (strcmp(c->accounts[i].name, name) == 0)
			return &c->accounts[i];
	return NULL;
}

const struct account *
conf_choose(const struct config *c, const char *name, const char *sender,
	   struct result *r)
{
	const struct account *a;

	res_clear(r);
	if (name) {
		if (!(a = conf_find(c, name))) {
			struct dynbuf names = { 0 };

			for (size_t i = 0; i < c->naccounts && i < 20; i++) {
				db_adds(&names, i ? ", " : "");
				db_adds(&names, c->accounts[i].name);
			}
			if (c->nfiles == 0)
				res_fail(r, RES_CONFIG, "no account named \"%s\": no configuration "
					 "file was found (see mailout.conf(5), ACCOUNT SELECTION)", name);
			else
				res_fail(r, RES_CONFIG, "no account named \"%s\" in %s%s%s%s%s (see "
					 "mailout.conf(5), ACCOUNT SELECTION)", name, c->files[0],
					 c->nfiles > 1 ? " or " : "", c->nfiles > 1 ? c->files[1] : "",
					 names.len ? "; accounts: " : "; it defines no account",
					 db_str(&names));
			db_free(&names);
		}
		return a;
	}
	if (sender && *sender) {
		for (size_t i = 0; i < c->naccounts; i++)
			for (size_t j = 0; j < c->accounts[i].nsenders; j++)
				if (fnmatch(c->accounts[i].senders[j], sender, FNM_CASEFOLD) == 0)
					return &c->accounts[i];
	}
	if (c->default_account)
		return conf_find(c, c->default_account);
	if (c->naccounts == 1)
		return &c->accounts[0];
	if (c->naccounts > 1)
		res_fail(r, RES_CONFIG,
			 "%zu accounts and no choice: set default_account, or use --account NAME "
			 "(see mailout.conf(5), ACCOUNT SELECTION)", c->naccounts);
	return NULL;
}

void
conf_account_from_defaults(const struct config *c, struct account *a)
{
	account_copy(a, &c->defaults);
}

static void
show_str(FILE *out, const char *key, const char *v)
{
	fprintf(out, "  %-16s = %s%s%s\n", key, v ? "\"" : "", v ? v : "(not set)", v ? "\"" : "");
}

void
conf_show(FILE *out, const struct config *c, const struct account *a)
{
	fprintf(out, "configuration files: ");
	if (c->nfiles == 0)
		fprintf(out, "none (embedded default: local delivery)\n");
	for (size_t i = 0; i < c->nfiles; i++)
		fprintf(out, "%s%s", c->files[i], i + 1 < c->nfiles ? ", " : "\n");
	show_str(out, "default_account", c->default_account);
	show_str(out, "aliases", c->aliases);
	show_str(out, "logfile", c->logfile);
	fprintf(out, "  %-16s = %s\n", "syslog", c->syslog ? c->syslog : "off");
	fprintf(out, "  %-16s = %s\n", "queue", conf_queue_name(c->queue));
	show_str(out, "queue_dir", c->queue_dir);
	fprintf(out, "  %-16s = %lds\n", "queue_lifetime", c->queue_lifetime);
	show_str(out, "bounce_notice_to", c->bounce_notice_to);
	if (c->delay_warning)
		fprintf(out, "  %-16s = %lds\n", "delay_warning", c->delay_warning);
	else
		fprintf(out, "  %-16s = off\n", "delay_warning");
	if (!a) {
		fprintf(out, "account: none (local delivery only)\n");
		return;
	}
	account_show(out, a);
	fprintf(out, "(see mailout.conf(5) for every key)\n");
}
