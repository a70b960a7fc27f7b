#!/bin/bash
# fuzz-run.sh BINDIR SECONDS [NAME...] — run each libFuzzer harness of
# BINDIR (all *_fuzz, or the NAMEs given) for SECONDS, one at a time under
# nice -n 10, over its committed seed corpus tests/fuzz/corpus/NAME/; new
# inputs go to build-fuzz/corpus/NAME/ (not committed). Prints one line per
# harness (CPU seconds, runs, libFuzzer's cov/ft/corp) and appends it to
# build-fuzz/stats.tsv. Any crash, leak, timeout or out-of-memory fails the
# run (exit 1); the reproducer is kept as build-fuzz/crash/NAME-*.
# Run from the top of the source tree.
set -u
bindir=$1
secs=$2
shift 2
names=("$@")
if [ "${#names[@]}" -eq 0 ]; then
	for b in "$bindir"/*_fuzz; do
		names+=("$(basename "$b" _fuzz)")
	done
fi
mkdir -p build-fuzz/corpus build-fuzz/crash build-fuzz/log
fail=0
TIMEFORMAT='%3U %3S'
for n in "${names[@]}"; do
	seed=tests/fuzz/corpus/$n
	work=build-fuzz/corpus/$n
	mkdir -p "$seed" "$work"
	log=build-fuzz/log/$n.log
	cpu=$( { time nice -n 10 "$bindir/${n}_fuzz" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
		-artifact_prefix="build-fuzz/crash/$n-" "$work" "$seed" >"$log" 2>&1; \
		echo "rc=$?" >"$log.rc"; } 2>&1 )
	rc=$(sed 's/rc=//' "$log.rc")
	cpus=$(echo "$cpu" | awk '{ printf "%.1f", $1 + $2 }')
	stats=$(grep -E '^#[0-9]+' "$log" | tail -1 |
		sed -E 's/^#([0-9]+)[[:space:]]+[A-Z]+[[:space:]]+/runs=\1 /; s/ (lim|exec\/s):.*//')
	for d in /dev/shm/mwfuzz.*; do	# scratch dirs of harnesses that died
		[ -d "$d" ] && ! kill -0 "${d##*.}" 2>/dev/null && rm -rf -- "$d"
	done
	printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$n" "$cpus" "$rc" "$stats" >>build-fuzz/stats.tsv
	if [ "$rc" -ne 0 ]; then
		echo "FAIL $n (exit $rc, cpu ${cpus}s): $(grep -m1 -E 'ERROR|SUMMARY|runtime error' "$log")"
		echo "     log: $log; reproducer: build-fuzz/crash/$n-*"
		fail=1
	else
		echo "ok   $n cpu ${cpus}s $stats"
	fi
done
exit $fail
