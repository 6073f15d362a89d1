#!/bin/sh
# TAP: `make install DESTDIR=...` puts every file where it belongs (the
# program, the man pages, the completion where bash-completion and zsh read
# it), and `make uninstall` removes all it added: no file and no link is left.
# The system queue into DESTDIR: the drop helper and the systemd files are
# installed, nothing privileged is done (no user, no group, no set-group-id
# bit), and the commands that would do it are printed for root.
# Run by make check from the build tree ($MAKE as make passes it).
MAKE=${MAKE:-make}
# A make of its own, not a part of the one running the tests (-j's jobserver).
. "$(dirname "$0")/lib.sh"
dest=$(mktemp -d) || exit 99
trap 'rm -rf "$dest"' EXIT
var() { $MAKE -s --no-print-directory print-var VAR="$1"; }
user=$(var SYSTEM_USER)
user_before=$(getent passwd "$user")
if ! $MAKE -s --no-print-directory install DESTDIR="$dest" >"$dest.log" 2>&1; then
	echo "1..1"
	echo "not ok 1 - make install"
	sed 's/^/# /' "$dest.log"
	rm -f "$dest.log"
	exit 0
fi
check "the program in bindir" test -x "$dest$(var bindir)/mailout"
check "mailout(1) and mailout.conf(5)" test -f "$dest$(var man1dir)/mailout.1" -a \
	-f "$dest$(var man5dir)/mailout.conf.5"
check "bash completion as completions/mailout" test -f "$dest$(var bashcompletiondir)/mailout"
check "zsh completion as _mailout" test -f "$dest$(var zshcompletiondir)/_mailout"
case $(var prefix) in
/usr) check "zsh completion in Debian's vendor-completions" \
	test "$(var zshcompletiondir)" = /usr/share/zsh/vendor-completions ;;
esac
units=$(var systemdsystemunitdir)
if [ -n "$units" ]; then
	check "systemd service and timer" test -f "$dest$units/mailout-queue.service" -a \
		-f "$dest$units/mailout-queue.timer"
fi
helper=$dest$(var libexecdir)/mailout-drop
if [ -n "$(var libexec_PROGRAMS)" ]; then
	check "the drop helper in libexecdir, not set-group-id in DESTDIR" \
		test -x "$helper" -a ! -g "$helper"
	check "the privileged commands printed, none run" \
		grep -q "^    chmod 2755 $(var libexecdir)/mailout-drop\$" "$dest.log"
	check "no system user made" test "$(getent passwd "$user")" = "$user_before"
	check "no spool made" test ! -e "$dest$(var localstatedir)/spool/mailout"
	sysusers=$(var sysusersdir)
	if [ -n "$sysusers" ]; then
		check "sysusers.d and tmpfiles.d files" \
			test -f "$dest$sysusers/mailout.conf" -a -f "$dest$(var tmpfilesdir)/mailout.conf"
	fi
	if [ -n "$units" ]; then
		check "the path unit" test -f "$dest$units/mailout-queue.path"
	fi
else
	check "--disable-system-queue: no drop helper" test ! -e "$helper"
fi
rm -f "$dest.log"
$MAKE -s --no-print-directory uninstall DESTDIR="$dest" >/dev/null 2>&1
left=$(find "$dest" ! -type d)
check "make uninstall leaves no file or link behind" test -z "$left"
for f in $left; do echo "# left: $f"; done
echo "1..$n"
