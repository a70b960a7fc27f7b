#!/bin/bash
# smtp-bench.sh — throughput, CPU and idle-session memory of mailwarden,
# compared in the same run with a private Postfix 3.7 instance configured
# the same way (two virtual domains, Maildir) and with smtp-sink (ceiling).
#
# Run as root from anywhere:   bench/smtp-bench.sh
# Quick run:                   BENCH_MESSAGES=2000 BENCH_IDLE=1000 bench/smtp-bench.sh
# See bench/README.md for what it measures and every knob.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if [ "$(id -u)" -ne 0 ]; then
	echo "smtp-bench.sh: run as root (private Postfix instance, mailwarden privilege drop)" >&2
	exit 1
fi
for t in smtp-source smtp-sink postfix postconf python3; do
	command -v "$t" >/dev/null || { echo "smtp-bench.sh: $t not found (apt-get install postfix python3)" >&2; exit 1; }
done

# Many idle sessions need many descriptors, in this shell, in the Python
# client and in the servers it starts. Take 65536 or the hard limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

exec python3 "$here/smtp_bench.py" "$@"
