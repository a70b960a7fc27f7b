#!/bin/bash
# tls-bench.sh — TLS handshakes/s (implicit TLS and STARTTLS) of mailwarden
# against a private Postfix 3.7 instance, and legitimate AUTH latency under a
# wrong-password flood (mailwarden only).
#
# Run as root from anywhere:   bench/tls-bench.sh          (about 3 minutes)
# Quick run:                   BENCH_TLS_DURATION=3 BENCH_FLOOD_DURATION=10 bench/tls-bench.sh
# See bench/README.md ("TLS and AUTH") and the top of tls_bench.py for every knob.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if [ "$(id -u)" -ne 0 ]; then
	echo "tls-bench.sh: run as root (private Postfix instance, mailwarden privilege drop)" >&2
	exit 1
fi
for t in postfix postconf openssl doveadm script python3; do
	command -v "$t" >/dev/null || { echo "tls-bench.sh: $t not found (apt-get install postfix dovecot-core openssl python3)" >&2; exit 1; }
done
# up to ~1000 attacker sessions in one client process, and the server's side of them
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

exec python3 "$here/tls_bench.py" "$@"
