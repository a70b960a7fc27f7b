#!/bin/bash
# fuzz-run.sh BINDIR SECONDS [NAME...] — run each libFuzzer harness of
# BINDIR for SECONDS (nice 10, one at a time) over its committed seed
# corpus tests/fuzz/corpus/NAME/; new inputs go to build-fuzz/corpus/NAME/
# (not committed). Prints one line per harness: runs, cov, ft, corpus.
# Any crash, leak, timeout or OOM fails the run (exit 1); the reproducer is
# kept as build-fuzz/crash/NAME-*. Run from the top of the source tree.
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
for n in "${names[@]}"; do
	seed=tests/fuzz/corpus/$n
	work=build-fuzz/corpus/$n
	mkdir -p "$seed" "$work"
	log=build-fuzz/log/$n.log
	start=$(date +%s)
	nice -n 10 "$bindir/${n}_fuzz" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=1 -artifact_prefix="build-fuzz/crash/$n-" \
		"$work" "$seed" >"$log" 2>&1
	rc=$?
	end=$(date +%s)
	stats=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -E 's/^#([0-9]+)[[:space:]]+[A-Z]+[[:space:]]+/runs=\1 /; s/ exec\/s.*//')
	if [ "$rc" -ne 0 ]; then
		echo "FAIL $n (rc $rc, $((end - start)) s): $(grep -m1 -E 'ERROR|SUMMARY|runtime error' "$log")"
		echo "     log: $log"
		fail=1
	else
		echo "ok   $n $((end - start)) s $stats"
	fi
done
exit $fail
