#!/bin/sh
# TAP: every file under tests/fuzz/corpus/NAME/ replayed once through
# tests/fuzz/replay-NAME (tests/fuzz/fuzz-NAME.c linked with
# standalone-main.c instead of libFuzzer), one test point per file.  An input
# that crashed a fuzz target, committed to its corpus, fails `make check`.
# A corpus directory without its target fails; a target without a corpus
# directory is a skip.  Run from the build tree; $srcdir as automake sets it.
srcdir=${srcdir:-.}
n=0
log=$(mktemp) || exit 99
trap 'rm -f "$log"' EXIT
run=
command -v timeout >/dev/null 2>&1 && run="timeout 120"
for dir in "$srcdir"/tests/fuzz/corpus/*/; do
	[ -d "$dir" ] || continue
	name=$(basename "$dir")
	bin=tests/fuzz/replay-$name
	if [ ! -x "$bin" ]; then
		n=$((n + 1))
		echo "not ok $n - corpus/$name: no $bin (is there a tests/fuzz/fuzz-$name.c?)"
		continue
	fi
	for f in "$dir"*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		$run "$bin" "$f" >"$log" 2>&1
		rc=$?
		if [ "$rc" -eq 0 ]; then
			echo "ok $n - fuzz-$name corpus/$name/$(basename "$f")"
		else
			echo "not ok $n - fuzz-$name corpus/$name/$(basename "$f") (exit $rc)"
			tail -n 40 "$log" | sed 's/^/# /'
		fi
	done
done
for src in "$srcdir"/tests/fuzz/fuzz-*.c; do
	[ -f "$src" ] || continue
	name=${src##*/fuzz-}
	name=${name%.c}
	if [ ! -d "$srcdir/tests/fuzz/corpus/$name" ]; then
		n=$((n + 1))
		echo "ok $n - fuzz-$name # SKIP no tests/fuzz/corpus/$name/"
	fi
done
echo "1..$n"
