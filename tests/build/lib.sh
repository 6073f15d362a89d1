# tests/build/lib.sh - what the build tests share (sourced, not run).
# TAP: check DESCRIPTION COMMAND... runs the command and prints "ok N" or
# "not ok N" (with CHECK_QUIET set, the command's standard output is
# dropped); the caller prints the plan ("1..$n") at the end.  Make's
# variables of the outer `make check` must not reach the builds a test runs.
unset MAKEFLAGS MFLAGS
n=0
check() {
	n=$((n + 1))
	d=$1
	shift
	if if [ -n "${CHECK_QUIET-}" ]; then "$@" >/dev/null; else "$@"; fi; then
		echo "ok $n - $d"
	else
		echo "not ok $n - $d"
	fi
}
