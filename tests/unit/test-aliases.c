/* Unit tests for aliases.c. */
#include "config.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aliases.h"
#include "tap.h"
#include "util.h"

static char path[] = "/tmp/mailout-aliases.XXXXXX";

static char *
expand(const char *names, struct result *r)
{
	struct addr_list in = { 0 }, out = { 0 };
	struct dynbuf d = { 0 };
	char err[128];

	addr_parse_list(names, strlen(names), &in, err, sizeof(err));
	res_clear(r);
	if (aliases_expand(path, &in, &out, r) == 0)
		for (size_t i = 0; i < out.n; i++) {
			if (i)
				db_addc(&d, ',');
			db_adds(&d, out.v[i]);
		}
	addr_list_free(&in);
	addr_list_free(&out);
	return d.s ? d.s : xstrdup("");
}

static void
set_file(const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

/*
 * postmaster (RFC 5321 4.5.1), bare or at this host, in any case: its own
 * alias first; else (no user of that name) root, whose alias applies.
 */
static void
test_postmaster(void)
{
	static const char *const names[] = { "postmaster", "PostMaster", "postmaster@localhost",
					     "POSTMASTER@LocalHost" };
	struct result r;
	char *s;

	if (getpwnam("postmaster")) {
		ok(1, "# SKIP this host has a user named postmaster");
		return;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		set_file("root: admin@x.org\n");
		s = expand(names[i], &r);
		is_str(s, "admin@x.org", "%s without an alias is root's", names[i]);
		free(s);
		set_file("root: admin@x.org\npostmaster: pm@x.org\n");
		s = expand(names[i], &r);
		is_str(s, "pm@x.org", "%s: its own alias first", names[i]);
		free(s);
		set_file("other: o@x.org\n");
		s = expand(names[i], &r);
		is_str(s, "root", "%s with no alias for root either: root", names[i]);
		free(s);
	}
	set_file("root: admin@x.org\n");
	s = expand("postmaster@example.org, postmasters", &r);
	is_str(s, "postmaster@example.org,postmasters", "another domain or name is not it");
	free(s);
}

int
main(void)
{
	struct result r;
	char *s;
	int fd = mkstemp(path);

	close(fd);
	set_file("# comment\nroot: admin\nadmin: a@x.org, b@y.org\n"
		 "team: c@z.org,\n  d@z.org   # continued\nloop1: loop2\nloop2: loop1\n"
		 "self: self, s@x.org\nRoot2: root\n");
	s = expand("root", &r);
	is_str(s, "a@x.org,b@y.org", "recursive expansion");
	free(s);
	s = expand("team", &r);
	is_str(s, "c@z.org,d@z.org", "continuation lines and comments");
	free(s);
	s = expand("loop1", &r);
	is_str(s, "loop1", "a loop is cut");
	free(s);
	s = expand("self", &r);
	is_str(s, "self,s@x.org", "an alias naming itself delivers to the name");
	free(s);
	s = expand("ROOT2, x@y.org, nobody", &r);
	is_str(s, "a@x.org,b@y.org,x@y.org,nobody", "case-insensitive names; addresses untouched");
	free(s);

	set_file("default: catchall@x.org\nroot: r@x.org\n");
	s = expand("someone, root", &r);
	is_str(s, "catchall@x.org,r@x.org", "default: catches unknown names");
	free(s);

	/* postalias skips "name:" with no value: the name stays itself. */
	set_file("root:\n#  admin@x.org\nempty2: ,\nempty3:\n   \nx: y@x.org\n");
	s = expand("root, empty2, empty3, x", &r);
	is_str(s, "root,empty2,empty3,y@x.org", "an entry with no value is ignored (%s)", r.text);
	free(s);

	/* aliases(5), ADDRESS EXTENSION: name+ext, then name, then default. */
	set_file("boss: b@x.org\nboss+exact: e@x.org\ndefault: d@x.org\n");
	s = expand("boss+cron, boss+exact, other+x", &r);
	is_str(s, "b@x.org,e@x.org,d@x.org", "name+ext falls back to name before default:");
	free(s);

	set_file("q: \"qq\"\n\"qname\": n@x.org\n\"two words\": t@x.org\n");
	s = expand("q, \"qname\", qname, \"two words\"", &r);
	is_str(s, "qq,n@x.org,t@x.org", "quoted names are looked up unquoted (%s)", r.text);
	free(s);

	set_file("root: |/usr/bin/cmd\n");
	s = expand("root", &r);
	ok(r.cls == RES_CONFIG, "pipes refused");
	free(s);
	set_file("root: /var/mail/file\n");
	s = expand("root", &r);
	ok(r.cls == RES_CONFIG, "files refused");
	free(s);
	set_file("root: :include:/etc/list\n");
	s = expand("root", &r);
	ok(r.cls == RES_CONFIG, ":include: refused");
	free(s);
	/* Quoted, the usual way to give a command arguments, or in <...>:
	 * refused as config errors too, not taken for a local user. */
	{
		static const char *const quoted[] = {
			"root: \"|/usr/bin/procmail\"\n",
			"root: a@x.org, \"|/usr/bin/procmail -f-\"\n",
			"root: \"/var/mail/file\"\n",
			"root: \":include:/etc/list\"\n",
			"root: \":INCLUDE:/etc/list\"\n",
			"root: Proc <\"|/usr/bin/procmail\">\n",
			"root: <|/usr/bin/procmail>\n",
			"root: admin\nadmin: \"|/bin/cat\"\n",
			"root: a@x.org;/tmp/f@y.org\n",     /* ';' separates too */
			"root: a@x.org;|/bin/cat\n",
		};
		for (size_t i = 0; i < sizeof(quoted) / sizeof(quoted[0]); i++) {
			set_file(quoted[i]);
			s = expand("root", &r);
			ok(r.cls == RES_CONFIG && strstr(r.text, "not supported"),
			   "quoted pipe/file/:include: refused, case %zu (%s)", i, r.text);
			free(s);
		}
	}
	set_file("root: \"a|b\", \"x/y\"@x.org\n");
	s = expand("root", &r);
	is_str(s, "a|b,x/y@x.org", "'|' and '/' inside a value are no pipe or file (%s)", r.text);
	free(s);

	/* White space alone separates complete addresses (Postfix adds the
	 * comma), also across continuation lines; ';' separates too. */
	set_file("root: a@x.com\n\tb@x.com\nsame: a@x.com b@x.com\n"
		 "noted: a@x.com\n  # note\n  b@x.com\nsemi: a@x.com; b@x.com;\n"
		 "mixed: admin@x.com,\n  c@x.com d@x.com\n");
	s = expand("root", &r);
	is_str(s, "a@x.com,b@x.com", "continuation line without a comma (%s)", r.text);
	free(s);
	s = expand("same", &r);
	is_str(s, "a@x.com,b@x.com", "two addresses separated by a space (%s)", r.text);
	free(s);
	s = expand("noted", &r);
	is_str(s, "a@x.com,b@x.com", "comment line between them (%s)", r.text);
	free(s);
	s = expand("semi", &r);
	is_str(s, "a@x.com,b@x.com", "';' between addresses (%s)", r.text);
	free(s);
	s = expand("mixed", &r);
	is_str(s, "admin@x.com,c@x.com,d@x.com", "commas and spaces mixed (%s)", r.text);
	free(s);
	/* Words without '@' are still not split: a name that lost its
	 * <address> must not become local recipients. */
	set_file("root: alice\n\tbob\nname: John Doe\nhalf: John j@x.com\n");
	s = expand("root", &r);
	ok(r.cls == RES_CONFIG && strstr(r.text, ":1:") && strstr(r.text, "not an address"),
	   "local names separated by white space only: refused (%s)", r.text);
	free(s);
	s = expand("name", &r);
	ok(r.cls == RES_CONFIG && strstr(r.text, ":3:"), "a name without <address> refused (%s)",
	   r.text);
	free(s);
	s = expand("half", &r);
	ok(r.cls == RES_CONFIG && strstr(r.text, ":4:"), "a word before an address refused (%s)",
	   r.text);
	free(s);

	set_file("ok: a@x.org\nthis line has no colon\n");
	s = expand("ok", &r);
	ok(r.cls == RES_CONFIG && strstr(r.text, ":2:"), "malformed line: file:line (%s)", r.text);
	free(s);

	/* 15 levels of four aliases, each naming the four of the next level:
	 * 4^15 paths, but each alias needs expanding only once. */
	{
		struct dynbuf d = { 0 };
		for (int l = 0; l < 15; l++)
			for (int i = 0; i < 4; i++) {
				db_printf(&d, "l%dx%d: ", l, i);
				for (int k = 0; k < 4; k++)
					if (l < 14)
						db_printf(&d, "%sl%dx%d", k ? ", " : "", l + 1, k);
					else
						db_printf(&d, "%sa%d@x.org", k ? ", " : "", k);
				db_addc(&d, '\n');
			}
		set_file(db_str(&d));
		db_free(&d);
		s = expand("l0x0", &r);
		is_str(s, "a0@x.org,a1@x.org,a2@x.org,a3@x.org",
		       "a fan-out of aliases is expanded once per alias, not per path");
		free(s);
	}
	unlink(path);
	s = expand("root", &r);
	is_str(s, "root", "a missing file means no expansion");
	free(s);
	/* Addresses of this host are their local part, as Postfix's local(8)
	 * sees them: the alias applies, and without one they stay. */
	set_file("root: admin@x.org\nops: root@localhost\n");
	s = expand("root@localhost", &r);
	is_str(s, "admin@x.org", "root@localhost follows root's alias");
	free(s);
	s = expand("ROOT@LocalHost, ops", &r);
	is_str(s, "admin@x.org", "in any case, and as an alias value");
	free(s);
	s = expand("nobody@localhost, root@example.org", &r);
	is_str(s, "nobody@localhost,root@example.org",
	       "no alias, or another host: unchanged");
	free(s);
	unlink(path);
	test_postmaster();
	return done_testing();
}
