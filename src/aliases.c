/* aliases.c - local-name expansion (aliases(5) format). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
		name = xstrndup(line, (size_t)(end - line));
		if (t->n == t->cap) {
			t->cap = t->cap ? t->cap * 2 : 16;
			t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
		}
		t->v[t->n++] = (struct alias){ .name = name, .values = xstrdup(colon + 1),
					       .line = lineno };
	}
	free(line);
	fclose(f);
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

/* Expand each comma-separated value of an alias. */
static int
expand_values(struct expander *e, const struct alias *a)
{
	struct addr_list vals = { 0 };
	char err[256];
	const char *p = a->values;
	int rc = 0;

	/* Pipes, files and :include: are refused before address parsing. */
	for (const char *s = p; *s; s++) {
		if ((s == p || s[-1] == ',' || s[-1] == ' ' || s[-1] == '\t') &&
		    (*s == '|' || *s == '/' || strncasecmp(s, ":include:", 9) == 0)) {
			return res_fail(e->r, RES_CONFIG,
					"%s:%d: alias \"%s\": pipes, files and :include: are not "
					"supported", e->path, a->line, a->name);
		}
	}
	if (addr_parse_list(p, strlen(p), &vals, err, sizeof(err)) < 0)
		return res_fail(e->r, RES_CONFIG, "%s:%d: alias \"%s\": %s", e->path, a->line,
				a->name, err);
	for (size_t i = 0; i < vals.n && rc == 0; i++)
		rc = expand_name(e, vals.v[i], 0);
	addr_list_free(&vals);
	return rc;
}

static int
expand_name(struct expander *e, const char *name, int use_default)
{
	struct alias *a;
	int rc;

	if (strchr(name, '@')) {
		addr_list_add(e->out, name);
		return 0;
	}
	/* An alias naming itself, or a loop: deliver to the name as it is. */
	for (int i = 0; i < e->depth; i++)
		if (strcasecmp(e->stack[i], name) == 0) {
			addr_list_add(e->out, name);
			return 0;
		}
	a = find(e->t, name);
	if (!a && use_default)
		a = find(e->t, "default");
	if (!a || e->depth >= MAX_DEPTH) {
		addr_list_add(e->out, name);
		return 0;
	}
	/* Each alias is expanded once: what it gives is in the output
	 * already (a -> b,c; b -> d; c -> d ... grows exponentially
	 * otherwise). */
	if (a->expanded)
		return 0;
	e->stack[e->depth++] = name;
	rc = expand_values(e, a);
	e->depth--;
	a->expanded = 1;
	return rc;
}

int
aliases_expand(const char *path, const struct addr_list *in, struct addr_list *out,
	       struct result *r)
{
	struct table t = { 0 };
	struct expander e = { path, &t, out, { 0 }, 0, r };
	int rc = 0, loaded = 0;

	if (!path || !*path) {
		for (size_t i = 0; i < in->n; i++)
			addr_list_add(out, in->v[i]);
		return 0;
	}
	for (size_t i = 0; i < in->n && rc == 0; i++) {
		if (strchr(in->v[i], '@')) {
			addr_list_add(out, in->v[i]);
			continue;
		}
		if (!loaded && load(path, &t, r) < 0) {
			rc = -1;
			break;
		}
		loaded = 1;
		rc = expand_name(&e, in->v[i], 1);
	}
	table_free(&t);
	return rc;
}
