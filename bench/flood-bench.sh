#!/bin/bash
# flood-bench.sh — mailwarden under floods (issue 11): run 1 holds 7,000 idle
# sessions while 1,000 IPv6 addresses flood AUTH and legitimate mail and
# logins go on; run 2 puts more slow clients than default_process_limit
# against it (stress mode). Everything in two network namespaces it makes
# and removes; nothing on the host changes.
#
# Run as root:         bench/flood-bench.sh          (or: make bench-flood)
# Quick run:           BENCH_IDLE=1000 BENCH_FLOOD_DURATION=15 bench/flood-bench.sh
# Knobs: at the top of bench/flood_bench.py; results: bench/README.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if [ "$(id -u)" -ne 0 ]; then
	echo "flood-bench.sh: run as root (network namespaces, nft, privilege drop)" >&2
	exit 1
fi
for t in smtp-source ip python3; do
	command -v "$t" >/dev/null || { echo "flood-bench.sh: $t not found (apt-get install postfix iproute2 python3)" >&2; exit 1; }
done

# 7,000 idle sessions and 1,000 attackers: descriptors in the clients and in
# mailwarden. Take 65536 or the hard limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

exec python3 "$here/flood_bench.py" "$@"
