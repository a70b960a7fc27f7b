#!/bin/bash
# fuzz-stats.sh [STATS.tsv] — sum build-fuzz/stats.tsv (written by
# fuzz-run.sh) per harness: bursts, CPU seconds, runs, crashes (non-zero
# exits), and the last cov/ft libFuzzer printed. Markdown table on stdout.
set -eu
f=${1:-build-fuzz/stats.tsv}
echo "| harness | bursts | CPU s | runs | failed bursts | cov | ft |"
echo "|---|---:|---:|---:|---:|---:|---:|"
awk -F'\t' '
{
	n = $2; bursts[n]++; cpu[n] += $3; if ($4 != 0) bad[n]++
	if (match($5, /runs=[0-9]+/)) runs[n] += substr($5, RSTART + 5, RLENGTH - 5)
	if (match($5, /cov: [0-9]+/)) { c = substr($5, RSTART + 5, RLENGTH - 5) + 0; if (c > cov[n]) cov[n] = c }
	if (match($5, /ft: [0-9]+/)) { t = substr($5, RSTART + 4, RLENGTH - 4) + 0; if (t > ft[n]) ft[n] = t }
}
END {
	for (n in bursts) {
		printf "| %s | %d | %.0f | %d | %d | %d | %d |\n", n, bursts[n], cpu[n], runs[n], bad[n], cov[n], ft[n]
		tc += cpu[n]
	}
	printf "| total | | %.0f | | | | |\n", tc
}' "$f" | sort
