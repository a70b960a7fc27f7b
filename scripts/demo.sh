#!/bin/bash
# demo.sh — install dependencies (when root), build, and run mailwarden in
# the foreground on conf/demo.conf: example.com and example.net on
# 127.0.0.1:2525, mail landing in ./run/mail/<domain>/<user>/new/.
# Try it from another terminal:
#   swaks --server 127.0.0.1:2525 --from me@example.org --to alice@example.com
#   swaks --server 127.0.0.1:5870 --tls --auth LOGIN --auth-user alice@example.com \
#         --auth-password demo-password --from alice@example.com --to bob@example.net
#   ./mailwarden -c conf/demo.conf status postfix-sasl
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then
	./scripts/install-deps.sh
else
	echo "demo.sh: not root, skipping scripts/install-deps.sh" \
	     "(run it once as root if the build fails for missing packages)" >&2
fi

make
mkdir -p run run/spool run/mail run/tls
# A self-signed certificate for STARTTLS and a password file in Dovecot's
# format (the same file could serve Dovecot): alice@example.com / demo-password.
if [ ! -f run/tls/cert.pem ]; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=mx.example.com" \
		-keyout run/tls/key.pem -out run/tls/cert.pem 2>/dev/null
	chmod 0600 run/tls/key.pem
fi
if [ ! -f run/passwd ]; then
	printf 'demo-password\n' | ./mailwarden passwd alice@example.com > run/passwd
	chmod 0600 run/passwd
fi
# When started as root mailwarden drops to the user mailwarden, which must
# be able to write the spool and the mailboxes.
if [ "$(id -u)" -eq 0 ] && getent passwd mailwarden >/dev/null; then
	# queue_directory belongs to root (the engine's chroot; the master
	# makes its subdirectories with their owners); mailboxes to mail_owner
	chmod 0755 run run/spool
	chown root:root run run/spool
	chown -R mailwarden:mailwarden run/mail
fi
echo "demo.sh: starting mailwarden on 127.0.0.1:2525 (Ctrl-C to stop; log in ./run/maillog)"
exec ./mailwarden -c conf/demo.conf
