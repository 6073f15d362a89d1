#!/bin/sh
# bench/smtp-only-libcurl.sh [WORKDIR]
#
# Builds what closes the small-message gap, for the benchmark to measure
# side by side with the normal build (bench/run.py --also):
#  1. libcurl from Debian's own source package (apt-get source curl, with
#     Debian's patches), with only what mailout uses: SMTP, SMTPS, HTTP for
#     proxies, GnuTLS.  Debian's libcurl-gnutls also brings LDAP, Kerberos,
#     SSH (with OpenSSL), RTMP, HTTP/2, PSL, IDN, brotli and zstd: 31
#     libraries to map and relocate at every start; this one needs 11.
#  2. mailout from this tree, configured against it (PKG_CONFIG_PATH, and
#     an rpath so that the dlopen() of lazylib.c finds it).
# Prints the path of the mailout binary it built.  Nothing is installed.
#
# Needs deb-src entries in the APT sources, dpkg-dev, and the build tools
# mailout needs anyway.  Takes a few minutes.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-${TMPDIR:-/tmp}/mailout-smtp-only}
mkdir -p "$work"
work=$(cd "$work" && pwd)
prefix="$work/curl"

if [ ! -e "$prefix/lib/libcurl.so" ]; then
	cd "$work"
	if ! ls -d curl-*/ >/dev/null 2>&1; then
		if ! apt-get source curl >apt-source.log 2>&1; then
			cat apt-source.log >&2
			echo "smtp-only-libcurl: apt-get source curl failed; add a deb-src line" \
			     "(Types: deb-src in /etc/apt/sources.list.d/debian.sources)," \
			     "apt-get update, and install dpkg-dev" >&2
			exit 1
		fi
	fi
	cd "$(ls -d curl-*/ | head -n 1)"
	./configure --prefix="$prefix" --disable-static --with-gnutls --without-openssl \
		--disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet \
		--disable-tftp --disable-pop3 --disable-imap --disable-gopher --disable-mqtt \
		--disable-ftp --disable-file --disable-smb --disable-manual --disable-docs \
		--without-libssh2 --without-libssh --without-librtmp --without-nghttp2 \
		--without-libpsl --without-libidn2 --without-brotli --without-zstd \
		--without-zlib --without-gssapi >"$work/curl-configure.log" 2>&1
	make -j"$(nproc)" >"$work/curl-make.log" 2>&1
	make install >>"$work/curl-make.log" 2>&1
fi

# A copy of this tree (it may be configured in place, which rules out a
# VPATH build), rebuilt every time so that it is the code being measured.
build="$work/mailout"
rm -rf "$build"
mkdir -p "$build"
(cd "$src" && tar --exclude=.git -cf - .) | (cd "$build" && tar -xf -)
cd "$build"
[ ! -e config.status ] || make distclean >/dev/null 2>&1 || true
autoreconf -fi >"$work/mailout-configure.log" 2>&1
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" ./configure -q \
	LDFLAGS="-Wl,-rpath,$prefix/lib" >>"$work/mailout-configure.log" 2>&1
make -j"$(nproc)" src/mailout >"$work/mailout-make.log" 2>&1
echo "$build/src/mailout"
