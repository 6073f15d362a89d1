/*
 * test-local.c - local.c: which password entry a user name finds, and the
 * copy a Maildir gets.
 *
 * The password database is this program's own: its getpwnam() takes the
 * C library's place for local.c, so that a name with capitals can exist
 * next to its lower-case form, as on a system that has such an account.
 * The users are not the invoking one, so each gets HOME/Maildir from its
 * entry (created here), whatever the test runs as.  Run as root, they are
 * uid and gid 65534 (nobody), own their homes, and get their mail from a
 * process that has their ids (local.c's maildir_as_user).
 */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "address.h"
#include "local.h"
#include "tap.h"
#include "util.h"

static char base[] = "/tmp/test-local.XXXXXX";

static struct passwd users[] = {
	{ .pw_name = "MixedCase", .pw_dir = "exact" },
	{ .pw_name = "mixedcase", .pw_dir = "folded" },
	{ .pw_name = "lower", .pw_dir = "lower" },
	{ .pw_name = "nocur", .pw_dir = "nocur" },      /* Maildir/ without cur/ */
	{ .pw_name = "linked", .pw_dir = "linked" },    /* Maildir/ is a symlink */
	{ .pw_name = "newlink", .pw_dir = "newlink" },  /* Maildir/new is a symlink */
};
#define NUSERS (sizeof(users) / sizeof(users[0]))

/* Replaces the C library's for local.c in this program (exact match, as
 * getpwnam() is).  "ldapdown" is a password database that cannot answer
 * (NULL with errno EAGAIN, as an unreachable LDAP or sssd server). */
struct passwd *
getpwnam(const char *name)
{
	if (strcmp(name, "ldapdown") == 0) {
		errno = EAGAIN;
		return NULL;
	}
	for (size_t i = 0; i < NUSERS; i++)
		if (strcmp(name, users[i].pw_name) == 0)
			return &users[i];
	return NULL;
}

static void
setup_users(void)
{
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		exit(1);
	}
	for (size_t i = 0; i < NUSERS; i++) {
		char *home = xasprintf("%s/%s", base, users[i].pw_dir);
		const char *sub[] = { "", "/Maildir", "/Maildir/new", "/Maildir/tmp",
				      "/Maildir/cur" };
		const char *which = users[i].pw_dir;
		size_t nsub = strcmp(which, "nocur") == 0 ? 2 :
			      strcmp(which, "linked") == 0 ? 1 :
			      strcmp(which, "newlink") == 0 ? 5 : sizeof(sub) / sizeof(sub[0]);

		users[i].pw_uid = getuid() == 0 ? 65534 : getuid() + 1;  /* not the invoking user */
		users[i].pw_gid = getuid() == 0 ? 65534 : getgid();
		for (size_t k = 0; k < nsub; k++) {
			char *d = xasprintf("%s%s", home, sub[k]);
			if (strcmp(which, "newlink") != 0 || strcmp(sub[k], "/Maildir/new") != 0)
				mkdir(d, 0700);
			if (getuid() == 0)
				(void)!chown(d, users[i].pw_uid, users[i].pw_gid);
			free(d);
		}
		users[i].pw_dir = home;
	}
	/* Directories of root's that the users can see but not write: where
	 * their symbolic links point. */
	if (getuid() == 0) {
		char *t = xasprintf("%s/target", base), *l = xasprintf("%s/linked/Maildir", base);
		char *t2 = xasprintf("%s/target2", base);
		char *l2 = xasprintf("%s/newlink/Maildir/new", base);

		chmod(base, 0711);
		mkdir(t, 0755);
		mkdir(t2, 0755);
		(void)!symlink(t, l);
		(void)!symlink(t2, l2);
		free(t);
		free(l);
		free(t2);
		free(l2);
	}
}

/* A spool file holding msg (CRLF, as msg_spool() writes it). */
static int
spool(const char *msg)
{
	char path[] = "/tmp/test-local-spool.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0 || write_all(fd, msg, strlen(msg)) < 0) {
		perror("spool");
		exit(1);
	}
	unlink(path);
	return fd;
}

/* Deliver msg to rcpt; returns the file written (malloc'd) or NULL, with
 * the result in *r. */
static char *
deliver(const char *rcpt, const char *msg, struct result *r)
{
	char where[4096];
	int fd = spool(msg);
	int rc;

	res_clear(r);
	rc = local_deliver(rcpt, "s@example.com", fd, 0, where, sizeof(where), r);
	close(fd);
	return rc == 0 ? xstrdup(where) : NULL;
}

/* 1 when path is a file in the Maildir of home dir "which". */
static int
in_maildir_of(const char *path, const char *which)
{
	char *want = xasprintf("%s/%s/Maildir/new/", base, which);
	int yes = path && strncmp(path, want, strlen(want)) == 0;

	free(want);
	return yes;
}

static char *
slurp(const char *path)
{
	struct dynbuf d = { 0 };
	char buf[4096];
	FILE *f = path ? fopen(path, "r") : NULL;
	size_t n;

	if (!f)
		return xstrdup("(unreadable)");
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		db_add(&d, buf, n);
	fclose(f);
	return d.s ? d.s : xstrdup("");
}

static void
test_user_names(void)
{
	static const struct {
		const char *rcpt, *home;
	} cases[] = {
		{ "MixedCase", "exact" },       /* the name as given comes first */
		{ "mixedcase", "folded" },
		{ "MIXEDCASE", "folded" },      /* then folded to lower case */
		{ "mixedCase", "folded" },
		{ "MixedCase+Ext", "exact" },   /* the same after "+extension" */
		{ "MIXEDCASE+Ext", "folded" },
		{ "LOWER", "lower" },
		{ "Lower+x@localhost", "lower" },
	};
	struct result r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *where = deliver(cases[i].rcpt, "Subject: x\r\n\r\nbody\r\n", &r);

		ok(in_maildir_of(where, cases[i].home), "%s goes to ~%s", cases[i].rcpt,
		   cases[i].home);
		if (!where)
			printf("#   %s\n", r.text);
		free(where);
	}
	ok(!deliver("NOBODY", "Subject: x\r\n\r\n", &r) && r.cls == RES_NOUSER,
	   "a name no user has in any case is unknown");
	ok(!deliver("Nobody+Ext", "Subject: x\r\n\r\n", &r) && r.cls == RES_NOUSER,
	   "also with an extension");
}

static void
test_copy(const char *name, const char *msg, const char *want)
{
	struct result r;
	char *where = deliver("lower", msg, &r), *got = slurp(where);

	is_str(got, want, "%s", name);
	free(got);
	free(where);
}

static void
test_dropped_fields(void)
{
	test_copy("Return-Path and Content-Length dropped, folded lines too",
		  "Return-Path: <old@x>\r\n\t(more)\r\nA: 1\r\ncontent-length: 3\r\n"
		  " 4\r\nB: 2\r\n\r\nReturn-Path: <body@x>\r\n",
		  "Return-Path: <s@example.com>\nA: 1\nB: 2\n\nReturn-Path: <body@x>\n");
	test_copy("space before the colon",
		  "A: 1\r\nRETURN-PATH \t: <old@x>\r\nB: 2\r\n\r\nx\r\n",
		  "Return-Path: <s@example.com>\nA: 1\nB: 2\n\nx\n");
	test_copy("names that only look alike are kept",
		  "Return-Paths: 1\r\nXContent-Length: 2\r\nReturn-Pat: 3\r\n\r\n",
		  "Return-Path: <s@example.com>\nReturn-Paths: 1\nXContent-Length: 2\n"
		  "Return-Pat: 3\n\n");
	test_copy("a message that ends in its header section",
		  "A: 1\r\nContent-Length: 3\r\nB: 2\r\nContent-Length",
		  "Return-Path: <s@example.com>\nA: 1\nB: 2\nContent-Length");
	test_copy("a line without a colon in the header section is kept",
		  "A: 1\r\nno colon here\r\n\r\n",
		  "Return-Path: <s@example.com>\nA: 1\nno colon here\n\n");
}

/* The number of entries in directory base/name (-1: cannot read it). */
static int
entries(const char *name)
{
	char *cmd = xasprintf("ls -A '%s/%s' | wc -l", base, name);
	FILE *p = popen(cmd, "r");
	int n = -1;

	if (p && fscanf(p, "%d", &n) != 1)
		n = -1;
	if (p)
		pclose(p);
	free(cmd);
	return n;
}

static void
test_maildir_dirs(void)
{
	struct result r;
	char *where = deliver("nocur", "Subject: x\r\n\r\nbody\r\n", &r), *cur;
	struct stat st;

	ok(in_maildir_of(where, "nocur"), "a Maildir without cur/ is delivered to (%s)",
	   where ? where : r.text);
	cur = xasprintf("%s/nocur/Maildir/cur", base);
	ok(stat(cur, &st) == 0 && S_ISDIR(st.st_mode), "and gets cur/ too");
	ok(getuid() != 0 || (stat(cur, &st) == 0 && st.st_uid == 65534),
	   "owned by the user");
	free(cur);
	free(where);
}

/* Root delivering to another user's Maildir does it with that user's
 * rights: symbolic links the user made do not reach further than the
 * user could write (CWE-59). */
static void
test_maildir_symlinks(void)
{
	struct result r;
	char *where;

	if (getuid() != 0) {
		ok(1, "# SKIP not root");
		ok(1, "# SKIP not root");
		return;
	}
	where = deliver("linked", "Subject: x\r\n\r\nbody\r\n", &r);
	ok(!where && r.cls == RES_CANTCREAT && entries("target") == 0,
	   "Maildir -> a directory of root's: nothing created there (%s, %d entries)",
	   where ? where : r.text, entries("target"));
	free(where);
	where = deliver("newlink", "Subject: x\r\n\r\nbody\r\n", &r);
	ok(!where && r.cls == RES_CANTCREAT && entries("target2") == 0 &&
	   entries("newlink/Maildir/tmp") == 0,
	   "Maildir/new -> a directory of root's: nothing moved there, tmp/ cleaned (%s)",
	   where ? where : r.text);
	free(where);
}

static void
test_password_database_failure(void)
{
	struct result r;
	struct addr_list l = { 0 };
	char *where = deliver("ldapdown", "Subject: x\r\n\r\n", &r);

	ok(!where && r.cls == RES_TEMPFAIL, "a failing password database is temporary (%s)",
	   r.text);
	free(where);
	addr_list_add(&l, "ldapdown");
	res_clear(&r);
	ok(addr_check_local_users(&l, &r) == 0, "and is no unknown user before delivery");
	addr_list_free(&l);
}

static void
test_mailbox_keys(void)
{
	static const struct {
		const char *rcpt, *key;
	} cases[] = {
		{ "lower", "lower" }, { "LOWER", "lower" }, { "Lower+x", "lower" },
		{ "lower@localhost", "lower" }, { "MixedCase", "MixedCase" },
		{ "MIXEDCASE", "mixedcase" }, { "nobody-here", NULL },
		{ "lower@example.com", NULL }, { "ldapdown", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *k = addr_mailbox_key(cases[i].rcpt);
		ok(cases[i].key ? k && strcmp(k, cases[i].key) == 0 : !k, "mailbox key of %s: %s",
		   cases[i].rcpt, k ? k : "(none)");
		free(k);
	}
}

static void
test_postmaster(void)
{
	static const struct {
		const char *addr;
		int is;
	} cases[] = {
		{ "postmaster", 1 }, { "PostMaster", 1 }, { "postmaster@localhost", 1 },
		{ "POSTMASTER@LOCALHOST", 1 }, { "postmasters", 0 }, { "xpostmaster", 0 },
		{ "postmaster@example.com", 0 }, { "postmaster.x@localhost", 0 },
		{ "post", 0 }, { "", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(addr_is_postmaster(cases[i].addr) == cases[i].is, "\"%s\" is %sthe postmaster",
		   cases[i].addr, cases[i].is ? "" : "not ");
}

static int
remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

int
main(void)
{
	setup_users();
	test_user_names();
	test_dropped_fields();
	test_maildir_dirs();
	test_maildir_symlinks();
	test_password_database_failure();
	test_mailbox_keys();
	test_postmaster();
	nftw(base, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	return done_testing();
}
