#!/bin/sh
# TAP: `make install` as root sets up the system queue (SPEC 11): a copy of
# the source tree is configured into a scratch --prefix with test names
# (--with-system-user=motest-sys --with-drop-group=motest-drop) and
# installed for real, three times:
#   1. with systemd-sysusers (when present): user, group, spool and
#      set-group-id helper as SECURITY.md says, and `nobody` drops a message
#      with the installed helper (and cannot write the drop directory
#      itself); make uninstall removes every file and leaves the user, group
#      and spool, which the test then removes;
#   2. the same with groupadd/useradd (no sysusers.d file);
#   3. configured --disable-system-queue: no helper, no user, no spool.
# Root only (it creates a user and a group, and removes them); slow (a
# build): skipped unless MAILOUT_BUILD_TESTS=1 (.ci/run sets it).
if [ "${MAILOUT_BUILD_TESTS:-0}" != 1 ]; then
	echo "1..0 # SKIP a build of its own: set MAILOUT_BUILD_TESTS=1"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP not root: a real install creates a user and a group"
	exit 0
fi
for p in useradd groupadd userdel groupdel setpriv getent; do
	if ! command -v $p >/dev/null 2>&1; then
		echo "1..0 # SKIP $p is missing"
		exit 0
	fi
done
MAKE=${MAKE:-make}
# A make of its own, not a part of the one running the tests (-j's jobserver).
. "$(dirname "$0")/lib.sh"
user=motest-sys group=motest-drop
top=$(cd "${srcdir:-.}" && pwd)
b=$(mktemp -d) || exit 99
chmod 0755 "$b"     # nobody must reach the helper and the spool under it
prefix=$b/inst
spool=$prefix/var/spool/mailout
helper=$prefix/libexec/mailout-drop
cleanup() {
	getent passwd $user >/dev/null && userdel $user
	getent group $group >/dev/null && groupdel $group
	getent group $user >/dev/null && groupdel $user
	rm -rf "$b"
}
if getent passwd $user >/dev/null || getent group $group >/dev/null; then
	echo "1..1"
	echo "not ok 1 - $user or $group exists already (left by an earlier run? userdel $user; groupdel $group)"
	rm -rf "$b"
	exit 0
fi
trap cleanup EXIT
mk() { (cd "$b/src" && $MAKE -s "$@" >"$b/make.log" 2>&1) || sed 's/^/# /' "$b/make.log"; }
owner() { stat -c '%a %U:%G' "$1" 2>/dev/null; }

cp -a "$top/." "$b/src/" && (cd "$b/src" && $MAKE -s distclean >/dev/null 2>&1)
if ! (cd "$b/src" && ./configure -q --prefix="$prefix" --with-system-user=$user \
	--with-drop-group=$group >/dev/null && $MAKE -s >/dev/null 2>&1); then
	echo "1..1"
	echo "not ok 1 - configure and build in $b/src"
	exit 0
fi
check "the names in mailout-paths.h" grep -q "^#define MO_SYSTEM_USER \"$user\"\$" \
	"$b/src/mailout-paths.h"

# installed [SYSUSERS=]: make install, then what must be there.
installed() {
	mk install "$@"
	how=${1:+ (useradd)}
	pw=$(getent passwd $user)
	check "system user $user made$how" test -n "$pw"
	check "its home the spool, no login shell" test "$(echo "$pw" | cut -d: -f6)" = "$spool" -a \
		"$(echo "$pw" | cut -d: -f7)" != /bin/sh -a "$(echo "$pw" | cut -d: -f7)" != /bin/bash
	check "its uid a system one" test "$(echo "$pw" | cut -d: -f3)" -lt 1000
	check "drop group $group made$how" test -n "$(getent group $group)"
	check "spool 0755 $user" test "$(owner "$spool" | cut -d: -f1)" = "755 $user"
	check "maildrop 1770 $user:$group" test "$(owner "$spool/maildrop")" = "1770 $user:$group"
	for d in q tmp failed; do
		check "$d/ 0700 $user" test "$(owner "$spool/$d" | cut -d: -f1)" = "700 $user"
	done
	check "helper 2755 root:$group" test "$(owner "$helper")" = "2755 root:$group"
}

# A message as nobody through the installed helper: a file of nobody's in
# the drop directory, complete (0700).
dropped() {
	printf 'mailout-envelope 1\nsender nobody@example.org\nrcpt root@example.org\n\nSubject: t\n\nhello\n' |
		setpriv --reuid=nobody --regid=nogroup --clear-groups "$helper" >"$b/name" 2>"$b/err"
	rc=$?
	f=$spool/maildrop/$(cat "$b/name")
	check "nobody drops a message with the installed helper (exit $rc: $(cat "$b/err"))" \
		test $rc = 0 -a -f "$f"
	check "the dropped file is nobody's, 0700" test "$(owner "$f")" = "700 nobody:$group"
	check "nobody cannot write the drop directory itself" cannot_write "$spool/maildrop/x"
}

# root's queue run picks nobody's message up into the system user's queue
# (the relay is down: it stays queued, as a file of the system user's).
picked_up() {
	printf 'queue_dir = "%s"\ndefault_account = "t"\naccount "t" {\n  host = "127.0.0.1"\n  port = 1\n  tls = "off"\n  from = "t@example.org"\n}\n' \
		"$spool" >"$b/root.conf"
	chmod 600 "$b/root.conf"
	MAILOUT_CONFIG=$b/root.conf "$prefix/bin/mailout" -q >"$b/q.log" 2>&1
	sed 's/^/# root -q: /' "$b/q.log"
	queued=$(find "$spool/q" -type f ! -name '*.state' -user $user 2>/dev/null | wc -l)
	left=$(find "$spool/maildrop" -type f | wc -l)
	ok=ok
	[ "$queued" = 1 ] && [ "$left" = 0 ] || ok="not ok"
	n=$((n + 1))
	echo "$ok $n - root's mailout -q moves the drop into q/, owned by $user"
}

cannot_write() {
	! setpriv --reuid=nobody --regid=nogroup --clear-groups touch "$1" 2>/dev/null
}

uninstalled() {
	mk uninstall
	check "make uninstall says what it leaves" grep -q "the user $user, the group $group" "$b/make.log"
	check "the helper is removed" test ! -e "$helper"
	check "the user and group are left" test -n "$(getent passwd $user)$(getent group $group)"
	userdel $user && { getent group $group >/dev/null && groupdel $group; }
	getent group $user >/dev/null && groupdel $user
	rm -rf "$spool"
	left=$(find "$prefix" ! -type d)
	check "nothing left once the test removed user, group and spool" test -z "$left" -a \
		-z "$(getent passwd $user)$(getent group $group)"
	for f in $left; do echo "# left: $f"; done
}

installed
dropped
picked_up
uninstalled
# The same without systemd-sysusers: no sysusers.d file given.
installed SYSUSERS_FILE=
uninstalled

(cd "$b/src" && ./configure -q --prefix="$prefix" --with-system-user=$user \
	--with-drop-group=$group --disable-system-queue >/dev/null)
mk install
check "--disable-system-queue: no helper, user, group or spool" \
	test ! -e "$helper" -a ! -e "$spool" -a -z "$(getent passwd $user)$(getent group $group)"
mk uninstall
echo "1..$n"
