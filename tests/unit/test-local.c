/*
 * test-local.c - local.c: which password entry a user name finds, and the
 * copy a Maildir gets.
 *
 * The password database is this program's own: its getpwnam() takes the
 * C library's place for local.c, so that a name with capitals can exist
 * next to its lower-case form, as on a system that has such an account.
 * The users are not the invoking one, so each gets HOME/Maildir from its
 * entry (created here), whatever the test runs as.
 */
#include "config.h"

#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local.h"
#include "tap.h"
#include "util.h"

static char base[] = "/tmp/test-local.XXXXXX";

static struct passwd users[] = {
	{ .pw_name = "MixedCase", .pw_dir = "exact" },
	{ .pw_name = "mixedcase", .pw_dir = "folded" },
	{ .pw_name = "lower", .pw_dir = "lower" },
};
#define NUSERS (sizeof(users) / sizeof(users[0]))

/* Replaces the C library's for local.c in this program (exact match, as
 * getpwnam() is). */
struct passwd *
getpwnam(const char *name)
{
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

		for (size_t k = 0; k < sizeof(sub) / sizeof(sub[0]); k++) {
			char *d = xasprintf("%s%s", home, sub[k]);
			mkdir(d, 0700);
			free(d);
		}
		users[i].pw_dir = home;
		users[i].pw_uid = getuid() + 1;   /* not the invoking user */
		users[i].pw_gid = getgid();
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
	nftw(base, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	return done_testing();
}
