#!/bin/sh
# TAP: the systemd units of contrib/, as make generates them, pass
# `systemd-analyze verify`, and the queue run's service is hardened to an
# exposure of 2.5 or lower (`systemd-analyze security --offline=true`; SPEC
# 11).  Offline: the unit files are read, nothing is started.  The service
# names the build tree's program, as verify checks that ExecStart= exists.
# Skipped without systemd-analyze (Debian: the systemd package).
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "1..0 # SKIP systemd-analyze is missing (the systemd package)"
	exit 0
fi
MAKE=${MAKE:-make}
unset MAKEFLAGS MFLAGS
var() { $MAKE -s --no-print-directory print-var VAR="$1"; }
u=$(mktemp -d) || exit 99
trap 'rm -rf "$u"' EXIT
n=0
check() {
	n=$((n + 1))
	d=$1
	shift
	if "$@"; then echo "ok $n - $d"; else echo "not ok $n - $d"; fi
}
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
echo "1..$n"
