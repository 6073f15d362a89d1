#!/bin/bash
# TAP: the Debian packages (make deb, contrib/debian) on a fresh Debian 12.
# Builds mailout and mailout-mta, runs lintian on them, makes a fresh
# Debian 12 root with debootstrap (from the mirror this machine's apt uses),
# and in it: installs mailout-mta (dpkg -i, apt-get -f install) with the
# relay preseeded; checks the links, the system queue's user, group, spool
# and set-group-id helper, the units, the root-only password; installs
# bsd-mailx and mdadm (no other MTA may come); reconfigures (the admin's
# own lines stay); sends as www-data and as an ordinary user with the relay
# down, runs the system queue as the units do (mailout -q as root) and sees
# both messages reach an SMTP sink on 127.0.0.1 (outside the chroot: the
# network namespace is shared); purges (no mailout file is left).
#
# Slow (a debootstrap and a package build, a few minutes): skipped unless
# MAILOUT_DEB_TEST=1 (.ci/run sets it); skipped with the reason where it
# cannot run (not root, no debootstrap or chroot, no mirror).  Needs
# debhelper, po-debconf, lintian, debootstrap (.ci/run installs them).
# MAILOUT_DEB_CACHE=DIR keeps debootstrap's downloaded packages there.
# Run from the configured build tree (make deb is run there).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
if [ "${MAILOUT_DEB_TEST:-0}" != 1 ]; then
	echo "1..0 # SKIP debootstrap and a package build: set MAILOUT_DEB_TEST=1"
	exit 0
fi
skip() { echo "1..0 # SKIP $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, chroot)"
for t in debootstrap chroot dpkg-buildpackage lintian mount; do
	command -v "$t" >/dev/null || skip "no $t"
done
# The mirror: the first Debian archive this machine's apt reads (not the
# security one).
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	/etc/apt/sources.list.d/*.sources 2>/dev/null |
	sed -nE -e 's/^deb +(\[[^]]*\] +)?(https?:[^ ]+) +bookworm .*/\2/p' \
		-e 's/^URIs: *(https?:[^ ]+).*/\1/p' | grep -v security | head -n 1)
[ -n "$mirror" ] || skip "no Debian mirror in /etc/apt/sources.list*"

MAKE=${MAKE:-make}
CHECK_QUIET=1   # the commands' output would mix with TAP
. "$(dirname "$0")/lib.sh"
start=$(date +%s)
work=$(mktemp -d /var/tmp/mailout-deb.XXXXXX) || exit 99
root=$work/root
sink_pid=
cleanup() {
	[ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null
	for m in "$root/proc" "$root/dev/pts"; do
		mountpoint -q "$m" && umount -l "$m"
	done
	rm -rf "$work"
}
trap cleanup EXIT

skipped() { n=$((n + 1)); echo "ok $n # SKIP $*"; }
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
installed() {   # installed PACKAGE...: each fully installed
	for p in "$@"; do
		[ "$(in_root dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || return 1
	done
}
bail() { echo "Bail out! $*"; exit 1; }

# 1. The packages, and lintian on them.
$MAKE -s --no-print-directory deb >"$work/build.log" 2>&1
check "make deb builds mailout and mailout-mta" \
	test -f deb/mailout_*_*.deb -a -f deb/mailout-mta_*_*.deb
ls deb/mailout_*_*.deb deb/mailout-mta_*_*.deb >/dev/null 2>&1 || {
	sed 's/^/# /' "$work/build.log" | tail -n 30
	bail "no packages"
}
lintian --fail-on none deb/*.changes >"$work/lintian.log" 2>&1
check "lintian: no error and no warning" \
	sh -c "! grep -E '^(E|W): ' '$work/lintian.log'"
grep -E '^(E|W): ' "$work/lintian.log" | sed 's/^/# /'

# 2. A fresh Debian 12.
cache=()
[ -n "${MAILOUT_DEB_CACHE:-}" ] && mkdir -p "$MAILOUT_DEB_CACHE" &&
	cache=(--cache-dir="$MAILOUT_DEB_CACHE")
if ! debootstrap --variant=minbase "${cache[@]}" bookworm "$root" "$mirror" \
	>"$work/debootstrap.log" 2>&1; then
	tail -n 5 "$work/debootstrap.log" | sed 's/^/# /'
	skip "debootstrap from $mirror failed"
fi
mount -t proc proc "$root/proc" || skip "cannot mount /proc in the chroot"
in_root true || skip "cannot chroot"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
# Services are not started in a chroot (invoke-rc.d asks policy-rc.d).
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"

# The relay: a port where nothing listens yet (down), the sink comes later.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/preseed" <<EOF
mailout-mta mailout-mta/mailname string example.org
mailout-mta mailout-mta/relayhost string 127.0.0.1
mailout-mta mailout-mta/relayport string $port
mailout-mta mailout-mta/tls select off
mailout-mta mailout-mta/user string relayuser
mailout-mta mailout-mta/password password s3cret-pw
EOF
cp deb/mailout_*_*.deb deb/mailout-mta_*_*.deb "$work/preseed" "$root/tmp/"
in_root apt-get update -q >"$work/apt.log" 2>&1
in_root debconf-set-selections /tmp/preseed
in_root sh -c 'dpkg -i /tmp/mailout_*.deb /tmp/mailout-mta_*.deb || apt-get -f install -y -q' \
	>>"$work/apt.log" 2>&1
check "mailout-mta installs (dpkg -i, apt-get -f install)" installed mailout mailout-mta
installed mailout-mta ||
	{ tail -n 30 "$work/apt.log" | sed 's/^/# /'; bail "mailout-mta is not installed"; }

# 3. What mailout-mta installed.
links_ok() {
	[ "$(readlink "$root/usr/sbin/sendmail")" = ../bin/mailout ] &&
	[ "$(readlink "$root/usr/lib/sendmail")" = ../bin/mailout ] &&
	[ "$(readlink "$root/usr/bin/mailq")" = mailout ] &&
	[ "$(readlink "$root/usr/sbin/newaliases")" = ../bin/mailout ]
}
check "sendmail, /usr/lib/sendmail, mailq, newaliases: relative links to mailout" links_ok
check "sendmail(8), mailq(1), newaliases(8) lead to a man page" test -f "$root/usr/share/man/man8/sendmail.8.gz" \
	-a -f "$root/usr/share/man/man1/mailq.1.gz" -a -f "$root/usr/share/man/man8/newaliases.8.gz"
check "the system user mailout and the group mailout-drop" \
	in_root sh -c 'getent passwd mailout >/dev/null && getent group mailout-drop >/dev/null'
check "mailout-drop is 2755 root:mailout-drop" \
	test "$(in_root stat -c '%a %U:%G' /usr/libexec/mailout-drop)" = "2755 root:mailout-drop"
check "maildrop/ is 1770 mailout:mailout-drop" \
	test "$(in_root stat -c '%a %U:%G' /var/spool/mailout/maildrop)" = "1770 mailout:mailout-drop"
check "the spool and q/ are the system user's" \
	test "$(in_root stat -c '%a %U' /var/spool/mailout /var/spool/mailout/q | tr '\n' ' ')" = "755 mailout 700 mailout "
check "the queue's path unit and timer are enabled" \
	test -L "$root/etc/systemd/system/timers.target.wants/mailout-queue.timer" \
	-a -L "$root/etc/systemd/system/paths.target.wants/mailout-queue.path"
check "/usr/share/doc/mailout: README, NEWS, examples" test -f "$root/usr/share/doc/mailout/README.gz" \
	-a -f "$root/usr/share/doc/mailout/NEWS.gz" -a -d "$root/usr/share/doc/mailout/examples"
check "the cron line for hosts without systemd" test -f "$root/etc/cron.d/mailout-mta"
check "/etc/mailout.conf is 0600 root and names the relay" sh -c \
	"[ \"\$(stat -c '%a %U' '$root/etc/mailout.conf')\" = '600 root' ] && grep -q 'port = $port' '$root/etc/mailout.conf'"
check "the password is only in /etc/mailout.secret (0600 root)" sh -c \
	"[ \"\$(stat -c '%a %U' '$root/etc/mailout.secret')\" = '600 root' ] &&
	 grep -qx 's3cret-pw' '$root/etc/mailout.secret' &&
	 ! grep -rqs 's3cret-pw' '$root/etc/mailout.conf' '$root/var/cache/debconf'"
# The libraries mailout dlopen()s (its .note.dlopen names their sonames;
# dpkg-shlibdeps does not see them): the Depends must have brought them.
sonames=$(readelf -p .note.dlopen "$root/usr/bin/mailout" 2>/dev/null |
	grep -o '"soname":\[[^]]*\]' | grep -o 'lib[^"]*')
dlopen_ok() {
	[ -n "$sonames" ] || return 1
	for s in $sonames; do in_root ldconfig -p | grep -q "^[[:space:]]*$s " || return 1; done
}
check "the dlopen()ed libraries are installed ($(echo $sonames))" dlopen_ok
check "the configuration parses (mailout --show-config as root)" \
	in_root sh -c 'mailout --show-config >/dev/null'

# 4. Packages that want an MTA take mailout-mta's.
in_root apt-get install -y -q bsd-mailx mdadm >"$work/apt2.log" 2>&1
check "bsd-mailx and mdadm install" installed bsd-mailx mdadm
# Any state but absent or purged-but-configured counts (unpacked, half-installed...).
others=$(in_root dpkg-query -W -f='${Package} ${Status}\n' 2>/dev/null |
	grep -E '^(exim4|postfix|nullmailer|dma|msmtp-mta|ssmtp|sendmail-bin|opensmtpd|courier-mta|citadel-mta)[^ ]* ' |
	grep -Ev ' (not-installed|config-files)$')
check "no other MTA came with them" test -z "$others"
echo "$others" | sed '/^$/d; s/^/# /'
check "/usr/sbin/sendmail is still mailout's" links_ok

# 5. dpkg-reconfigure: the admin's lines outside the block stay; the
#    block's values (edited by hand here: no login) are the new defaults.
sed -i '1i # the admin was here\nqueue_lifetime = 3d' "$root/etc/mailout.conf"
sed -i -e '/^# BEGIN mailout-mta/,/^# END mailout-mta/s/^  user = .*/  user = ""/' \
	"$root/etc/mailout.conf"
in_root dpkg-reconfigure -f noninteractive mailout-mta >"$work/reconf.log" 2>&1
check "dpkg-reconfigure keeps the admin's own lines" \
	grep -qx 'queue_lifetime = 3d' "$root/etc/mailout.conf"
check "dpkg-reconfigure rewrites its block (no login now)" sh -c \
	"! grep -q 'passwordeval\\|user = ' '$root/etc/mailout.conf' && grep -q 'port = $port' '$root/etc/mailout.conf'"
check "the configuration still parses" in_root sh -c 'mailout --show-config >/dev/null'

# 6. Senders who cannot read the configuration, relay down, then the
#    system's queue run.
in_root adduser --quiet --disabled-password --gecos '' alice >/dev/null 2>&1
printf 'keep me\n' >"$root/var/mail/alice"
if ! grep -qa '/usr/libexec/mailout-drop' "$root/usr/bin/mailout"; then
	skipped "this mailout hands nothing to mailout-drop (the system queue's submission side is not in this build)"
else
	send() {   # send USER SUBJECT
		printf 'Subject: %s\n\nfrom %s\n' "$2" "$1" |
			in_root su -s /bin/sh "$1" -c '/usr/sbin/sendmail -i someone@example.net' \
			>>"$work/send.log" 2>&1
	}
	check "www-data's send with the relay down exits 0 (queued)" send www-data from-www-data
	check "alice's send with the relay down exits 0 (queued)" send alice from-alice
	sed 's/^/# /' "$work/send.log"
	mkdir -p "$work/sink"
	/usr/bin/python3 - "$port" "$work/sink" <<'PY' &
import socketserver, sys, os
port, out = int(sys.argv[1]), sys.argv[2]
class H(socketserver.StreamRequestHandler):
    def handle(self):
        w = lambda s: self.wfile.write(s.encode() + b"\r\n")
        w("220 sink")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.strip().upper()
            if cmd.startswith(b"EHLO") or cmd.startswith(b"HELO"):
                w("250 sink")
            elif cmd == b"DATA":
                w("354 go")
                data = b""
                for l in iter(self.rfile.readline, b""):
                    if l in (b".\r\n", b".\n"):
                        break
                    data += l
                name = os.path.join(out, "m%d" % len(os.listdir(out)))
                with open(name + ".tmp", "wb") as f:
                    f.write(data)
                os.rename(name + ".tmp", name)
                w("250 ok")
            elif cmd == b"QUIT":
                w("221 bye")
                return
            else:
                w("250 ok")
socketserver.ThreadingTCPServer.allow_reuse_address = True
srv = socketserver.ThreadingTCPServer(("127.0.0.1", port), H)
srv.timeout = 1
import time
end = time.time() + 300
while time.time() < end:
    srv.handle_request()
PY
	sink_pid=$!
	sleep 1
	in_root mailout -q >"$work/q.log" 2>&1
	sed 's/^/# /' "$work/q.log"
	arrived() { grep -lq "Subject: from-www-data" "$work"/sink/m* 2>/dev/null &&
		grep -lq "Subject: from-alice" "$work"/sink/m* 2>/dev/null; }
	check "mailout -q (root, as the units run it) delivers both messages" arrived
	kill "$sink_pid" 2>/dev/null
	wait "$sink_pid" 2>/dev/null
	sink_pid=
fi

# 7. Purge.
in_root apt-get purge -y -q mailout-mta mailout >"$work/purge.log" 2>&1
left=$(cd "$root" && find . -xdev \( -path ./proc -o -path ./tmp \) -prune -o \
	\( -name '*mailout*' -o -user mailout -o -group mailout-drop \) -print 2>/dev/null)
check "apt-get purge leaves no mailout file behind" test -z "$left"
echo "$left" | sed '/^$/d; s/^/# left: /'
check "purge leaves users' mail alone" grep -qx 'keep me' "$root/var/mail/alice"
check "debconf forgot mailout-mta" sh -c "! grep -qs 'mailout-mta/' '$root'/var/cache/debconf/*.dat"

echo "# took $(($(date +%s) - start)) s"
echo "1..$n"
