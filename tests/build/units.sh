#!/bin/sh
# TAP: the systemd units of contrib/, as make generates them, pass
# `systemd-analyze verify`, and the queue run's service is hardened to an
# exposure of 2.5 or lower (`systemd-analyze security --offline=true`; SPEC
# 11).  Offline: the unit files are read, nothing is started.  The service
# names the build tree's program, as verify checks that ExecStart= exists.
# The sysusers.d and tmpfiles.d files, applied to an empty --root, make the
# user, the group and the spool with the owners and modes install makes.
# Skipped without systemd-analyze (Debian: the systemd package).
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "1..0 # SKIP systemd-analyze is missing (the systemd package)"
	exit 0
fi
MAKE=${MAKE:-make}
. "$(dirname "$0")/lib.sh"
var() { $MAKE -s --no-print-directory print-var VAR="$1"; }
u=$(mktemp -d) || exit 99
trap 'rm -rf "$u"' EXIT
bindir=$(var bindir)
build=$(pwd)
$MAKE -s --no-print-directory contrib/mailout-queue.service contrib/mailout-queue.path \
	>/dev/null 2>&1
for f in mailout-queue.service mailout-queue.path; do
	sed "s|$bindir/mailout|$build/src/mailout|g" "contrib/$f" >"$u/$f"
done
cp "${srcdir:-.}/contrib/mailout-queue.timer" "$u/"
(cd "$u" && systemd-analyze verify ./mailout-queue.service ./mailout-queue.path \
	./mailout-queue.timer) >"$u/verify.log" 2>&1
rc=$?
check "systemd-analyze verify: service, path and timer" test $rc = 0 -a ! -s "$u/verify.log"
sed 's/^/# /' "$u/verify.log"
level=$(cd "$u" && systemd-analyze security --offline=true ./mailout-queue.service 2>&1 |
	sed -n 's/.*Overall exposure level for mailout-queue.service: \([0-9.]*\).*/\1/p')
check "service exposure ${level:-unknown}, 2.5 or lower" \
	awk -v l="${level:-99}" 'BEGIN { exit !(l <= 2.5) }'
check "the path unit watches the drop directory" \
	grep -q "^PathChanged=$(var localstatedir)/spool/mailout/maildrop\$" contrib/mailout-queue.path

# sysusers.d and tmpfiles.d in an alternate root (names resolved there).
$MAKE -s --no-print-directory contrib/mailout.sysusers contrib/mailout.tmpfiles >/dev/null 2>&1
r=$u/root
mkdir -p "$r/etc"
user=$(var SYSTEM_USER) group=$(var DROP_GROUP)
spool=$(var localstatedir)/spool/mailout
# (root only: the files are made with their owners)
if [ "$(id -u)" = 0 ] && command -v systemd-sysusers >/dev/null 2>&1 &&
	command -v systemd-tmpfiles >/dev/null 2>&1; then
	systemd-sysusers --root="$r" "$build/contrib/mailout.sysusers" >/dev/null 2>&1
	uid=$(awk -F: -v u="$user" '$1 == u { print $3 }' "$r/etc/passwd")
	gid=$(awk -F: -v g="$group" '$1 == g { print $3 }' "$r/etc/group")
	check "sysusers.d: user $user (home $spool) and group $group" \
		test -n "$uid" -a -n "$gid" -a \
		"$(awk -F: -v u="$user" '$1 == u { print $6 }' "$r/etc/passwd")" = "$spool"
	systemd-tmpfiles --root="$r" --create "$build/contrib/mailout.tmpfiles" >/dev/null 2>&1
	mode() { stat -c '%a %u:%g' "$r$spool$1" 2>/dev/null; }
	check "tmpfiles.d: spool 0755 $user" test "$(mode "")" = "755 $uid:0"
	check "tmpfiles.d: maildrop 1770 $user:$group" test "$(mode /maildrop)" = "1770 $uid:$gid"
	for d in q tmp failed; do
		check "tmpfiles.d: $d/ 0700 $user" test "$(mode /$d)" = "700 $uid:0"
	done
fi
echo "1..$n"
