#!/bin/sh
# TAP: the paths configure was given are the ones compiled in.  A copy of
# the source tree (make distclean'ed, as a VPATH build of a configured
# tree is refused) is configured with one
# --sysconfdir, built, configured again with the same paths (nothing is
# rebuilt), then with another (the program is rebuilt and names the new one).
# Slow (two builds): skipped unless MAILOUT_BUILD_TESTS=1 (.ci/run sets it).
if [ "${MAILOUT_BUILD_TESTS:-0}" != 1 ]; then
	echo "1..0 # SKIP two builds: set MAILOUT_BUILD_TESTS=1"
	exit 0
fi
MAKE=${MAKE:-make}
# A make of its own, not a part of the one running the tests (-j's jobserver).
. "$(dirname "$0")/lib.sh"
top=$(cd "${srcdir:-.}" && pwd)
b=$(mktemp -d) || exit 99
trap 'rm -rf "$b"' EXIT
build() {   # build SYSCONFDIR: configure (quietly) and make the program
	(cd "$b" && ./configure -q --sysconfdir="$1" >/dev/null &&
		$MAKE -s src/mailout >/dev/null 2>&1)
}
cp -a "$top/." "$b/" && (cd "$b" && $MAKE -s distclean >/dev/null 2>&1)
# The path the program names where it says to add an account (SPEC 2): run
# with no configuration at all, in a private HOME; the directories named
# here do not exist, so no file of the host is read.
named() {
	h=$b/test-home
	mkdir -p "$h"
	env -i PATH="$PATH" HOME="$h" XDG_CONFIG_HOME="$h/.config" XDG_STATE_HOME="$h/state" \
		"$b/src/mailout" --queue never someone@example.com </dev/null 2>&1 |
		grep -o "/nonexistent-mailout-[a-z]*/mailout.conf" | head -n 1
}
if ! build /nonexistent-mailout-one; then
	echo "1..1"
	echo "not ok 1 - configure and build in $b"
	exit 0
fi
check "the program names the configured SYSCONFDIR" \
	test "$(named)" = /nonexistent-mailout-one/mailout.conf
stamp=$(stat -c %Y "$b/src/mailout")
sleep 1
build /nonexistent-mailout-one
check "configure again with the same paths: nothing rebuilt" \
	test "$(stat -c %Y "$b/src/mailout")" = "$stamp"
build /nonexistent-mailout-two
check "configure again with another --sysconfdir: the program names it" \
	test "$(named)" = /nonexistent-mailout-two/mailout.conf
echo "1..$n"
