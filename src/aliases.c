/* aliases.c - local-name expansion (aliases(5) format). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr-local.h"
#include "aliases.h"
#include "log.h"
#include "util.h"

#define MAX_DEPTH 20

struct alias {
	char *name;
	char *values;   /* the right-hand side, continuation lines joined */
	int line;
	int expanded;   /* its addresses are in the output already (one run) */
};

struct table {
	struct alias *v;
	size_t n, cap;
};

static void
table_free(struct table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].name);
		free(t->v[i].values);
	}
	free(t->v);
}

/*
 * A local name as given ("name", or "\"name\"" quoted as RFC 5322 allows)
 * in the form it is looked up under: the quotes and backslashes taken
 * away, as postalias(1) internalizes keys and local(8) unquotes the names
 * it looks up.  Malloc'd.
 */
static char *
unquote(const char *name, size_t len)
{
	char *u = xmalloc(len + 1), *o = u;

	if (len < 2 || name[0] != '"' || name[len - 1] != '"') {
		memcpy(u, name, len);
		u[len] = '\0';
		return u;
	}
	for (size_t i = 1; i + 1 < len; i++) {
		if (name[i] == '\\' && i + 2 < len)
			i++;
		*o++ = name[i];
	}
	*o = '\0';
	return u;
}

/* 1 when a local name needs no quoting (letters, digits and the atom
 * specials of RFC 5322, dots between atoms). */
static int
is_plain_name(const char *s)
{
	if (!*s || *s == '.')
		return 0;
	for (const char *p = s; *p; p++) {
		if (*p == '.' && (p[1] == '.' || p[1] == '\0'))
			return 0;
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("!#$%&'*+-/=?^_`{|}~.", *p)))
			return 0;
	}
	return 1;
}

/* Entries "name:" with nothing after the colon (or only comments on their
 * continuation lines) are left out, as postalias(1) skips them ("need
 * name:value pair"): the name stays what it is, a local user, instead of
 * expanding to nobody and the message vanishing. */
static void
drop_empty(const char *path, struct table *t)
{
	size_t k = 0;

	for (size_t i = 0; i < t->n; i++) {
		if (strspn(t->v[i].values, " \t") == strlen(t->v[i].values)) {
			log_info("%s:%d: alias \"%s\" has no value: ignored", path, t->v[i].line,
				 t->v[i].name);
			free(t->v[i].name);
			free(t->v[i].values);
			continue;
		}
		t->v[k++] = t->v[i];
	}
	t->n = k;
}

static int
load(const char *path, struct table *t, struct result *r)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0;

	if (!f) {
		if (errno == ENOENT) {
			log_info("aliases file %s does not exist", path);
			return 0;
		}
		return res_fail(r, RES_CONFIG, "cannot read aliases file %s: %s", path,
				strerror(errno));
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *hash, *colon, *name, *end;

		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if ((hash = strchr(line, '#')) && (hash == line || hash[-1] == ' ' ||
						   hash[-1] == '\t'))
			*hash = '\0';
		if (line[0] == ' ' || line[0] == '\t') {
			if (strspn(line, " \t") == strlen(line))
				continue;
			if (t->n == 0) {
				fclose(f);
				free(line);
				return res_fail(r, RES_CONFIG, "%s:%d: continuation line without an alias",
						path, lineno);
			}
			char *v = t->v[t->n - 1].values;
			t->v[t->n - 1].values = xasprintf("%s %s", v, line);
			free(v);
			continue;
		}
		if (!line[0])
			continue;
		colon = strchr(line, ':');
		if (!colon || colon == line) {
			fclose(f);
			free(line);
			return res_fail(r, RES_CONFIG, "%s:%d: expected \"name: address, ...\"",
					path, lineno);
		}
		end = colon;
		while (end > line && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		name = unquote(line, (size_t)(end - line));
		if (t->n == t->cap) {
			t->cap = t->cap ? t->cap * 2 : 16;
			t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
		}
		t->v[t->n++] = (struct alias){ .name = name, .values = xstrdup(colon + 1),
					       .line = lineno };
	}
	free(line);
	fclose(f);
	drop_empty(path, t);
	return 0;
}

static struct alias *
find(const struct table *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcasecmp(t->v[i].name, name) == 0)
			return &t->v[i];
	return NULL;
}

struct expander {
	const char *path;
	const struct table *t;
	struct addr_list *out;
	const char *stack[MAX_DEPTH];
	int depth;
	struct result *r;
};

static int expand_name(struct expander *e, const char *name, int use_default);

/* 1 when text (a value, unquoted) is a pipe, a file or an :include:,
 * which local(8) would run, write or read. */
static int
is_unsupported(const char *text)
{
	return *text == '|' || *text == '/' || strncasecmp(text, ":include:", 9) == 0;
}

static int
unsupported(struct expander *e, const struct alias *a)
{
	return res_fail(e->r, RES_CONFIG,
			"%s:%d: alias \"%s\": pipes, files and :include: are not supported",
			e->path, a->line, a->name);
}

/*
 * Expand each value of an alias: the joined lines are an address list as
 * address.c reads it (',' or ';' between values; white space alone only
 * between complete addresses with '@', so "a@x.com" and a continuation
 * line "b@x.com" without a comma between them are two values, while
 * "alice" and "bob" are refused as "John Doe" is).
 */
static int
expand_values(struct expander *e, const struct alias *a)
{
	struct addr_list vals = { 0 };
	char err[256];
	const char *p = a->values;
	int rc = 0;

	/* Pipes, files and :include: written bare ("|cmd arg" is no address)
	 * are refused before address parsing. */
	for (const char *s = p; *s; s++) {
		if ((s == p || strchr(",; \t<", s[-1])) && is_unsupported(s))
			return unsupported(e, a);
	}
	if (addr_parse_list(p, strlen(p), &vals, err, sizeof(err)) < 0)
		return res_fail(e->r, RES_CONFIG, "%s:%d: alias \"%s\": %s", e->path, a->line,
				a->name, err);
	/* ... and quoted ("\"|/usr/bin/procmail -f-\"", the usual way to give
	 * a command its arguments) or inside <...>, once parsed. */
	for (size_t i = 0; i < vals.n; i++) {
		if (addr_domain(vals.v[i]))
			continue;
		char *u = unquote(vals.v[i], strlen(vals.v[i]));
		int bad = is_unsupported(u);

		free(u);
		if (bad) {
			addr_list_free(&vals);
			return unsupported(e, a);
		}
	}
	if (vals.n == 0) {
		/* Only comments or commas: no value, as drop_empty() sees it. */
		log_info("%s:%d: alias \"%s\" has no address: ignored", e->path, a->line,
			 a->name);
		addr_list_add(e->out, e->stack[e->depth - 1]);
	}
	for (size_t i = 0; i < vals.n && rc == 0; i++)
		rc = expand_name(e, vals.v[i], 0);
	addr_list_free(&vals);
	return rc;
}

/* The alias of local name key: key itself, else (aliases(5), ADDRESS
 * EXTENSION) the same without a "+extension", else "default:" when
 * use_default is set.  NULL when none. */
static struct alias *
find_alias(const struct table *t, const char *key, int use_default)
{
	struct alias *a = find(t, key);
	const char *plus = strchr(key, '+');

	if (!a && plus && plus > key) {
		char *base = xstrndup(key, (size_t)(plus - key));
		a = find(t, base);
		free(base);
	}
	if (!a && use_default)
		a = find(t, "default");
	return a;
}

/* 1 for a postmaster with no alias and no user of its own: root's
 * (RFC 5321 4.5.1), so that root's alias applies to it too. */
static int
postmaster_is_root(const char *name)
{
	char *key;
	int root;

	if (!addr_is_postmaster(name))
		return 0;
	key = addr_mailbox_key(name);
	root = key && strcmp(key, "root") == 0;
	free(key);
	return root;
}

static int
expand_name(struct expander *e, const char *given, int use_default)
{
	struct alias *a;
	char *name;
	int rc = 0;

	if (strchr(given, '@') && addr_domain(given)) {
		/* An address of this host (root@localhost, root@<its name>) is
		 * its local part, as Postfix's local(8) sees it: the alias of
		 * that applies.  Without one it stays as it was. */
		const char *at = addr_domain(given) - 1;
		char *local = xstrndup(given, (size_t)(at - given));
		char *key = unquote(local, strlen(local));
		int aliased = addr_is_local(given) &&
			      (find_alias(e->t, key, use_default) || addr_is_postmaster(given));

		free(key);
		if (aliased)
			rc = expand_name(e, local, use_default);
		else
			addr_list_add(e->out, given);
		free(local);
		return rc;
	}
	/* "name" quoted: looked up unquoted, and delivered to unquoted when
	 * it needs no quotes (user names do not). */
	name = unquote(given, strlen(given));
	if (!is_plain_name(name)) {
		free(name);
		name = xstrdup(given);
	}
	/* An alias naming itself, or a loop: deliver to the name as it is. */
	for (int i = 0; i < e->depth; i++)
		if (strcasecmp(e->stack[i], name) == 0) {
			addr_list_add(e->out, name);
			goto out;
		}
	{
		char *key = unquote(given, strlen(given));
		a = find_alias(e->t, key, use_default);
		free(key);
	}
	if (!a && postmaster_is_root(name)) {
		rc = expand_name(e, "root", use_default);
		goto out;
	}
	if (!a || e->depth >= MAX_DEPTH) {
		addr_list_add(e->out, name);
		goto out;
	}
	/* Each alias is expanded once: what it gives is in the output
	 * already (a -> b,c; b -> d; c -> d ... grows exponentially
	 * otherwise). */
	if (a->expanded)
		goto out;
	e->stack[e->depth++] = name;
	rc = expand_values(e, a);
	e->depth--;
	a->expanded = 1;
out:
	free(name);
	return rc;
}

/*
 * Append the recipients of from to out, each local mailbox once: local
 * recipients that reach the same user (auda, AUDA, auda+x, auda@localhost)
 * get one copy, the first spelling kept, as Postfix's cleanup(8) and
 * local(8) de-duplicate.  Others are de-duplicated as addr_list_add() does.
 */
static void
add_unique(struct addr_list *out, const struct addr_list *from)
{
	struct addr_list keys = { 0 };

	for (size_t i = 0; i < out->n; i++) {
		char *k = addr_mailbox_key(out->v[i]);
		if (k)
			addr_list_add(&keys, k);
		free(k);
	}
	for (size_t i = 0; i < from->n; i++) {
		char *k = addr_mailbox_key(from->v[i]);
		if (!k || !addr_list_contains(&keys, k)) {
			addr_list_add(out, from->v[i]);
			if (k)
				addr_list_add(&keys, k);
		}
		free(k);
	}
	addr_list_free(&keys);
}

int
aliases_expand(const char *path, const struct addr_list *in, struct addr_list *out,
	       struct result *r)
{
	struct table t = { 0 };
	struct addr_list all = { 0 };
	struct expander e = { path, &t, &all, { 0 }, 0, r };
	int rc = 0, loaded = 0;

	for (size_t i = 0; i < in->n && rc == 0; i++) {
		/* Local names, and addresses of this host (root@localhost). */
		if (!path || !*path || (strchr(in->v[i], '@') && !addr_is_local(in->v[i]))) {
			addr_list_add(&all, in->v[i]);
			continue;
		}
		if (!loaded && load(path, &t, r) < 0) {
			rc = -1;
			break;
		}
		loaded = 1;
		rc = expand_name(&e, in->v[i], 1);
	}
	if (rc == 0)
		add_unique(out, &all);
	/* Never "delivered" to nobody (SPEC 3: no recipients is 64). */
	if (rc == 0 && in->n > 0 && out->n == 0)
		rc = res_fail(r, RES_USAGE, "no recipients left after the aliases in %s", path);
	addr_list_free(&all);
	table_free(&t);
	return rc;
}
