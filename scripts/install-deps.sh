#!/bin/bash
# install-deps.sh — install the Debian 12 packages mailwarden's build and
# tests need, and create the unprivileged `mailwarden` system user the
# program drops to when started as root. Idempotent; run as root.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: must run as root (try: sudo $0)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive

PKGS=(
	build-essential pkg-config
	libcmocka-dev libcap-dev libssl-dev libc-ares-dev libpcre2-dev
	libsqlite3-dev libcrypt-dev libnftables-dev libnftnl-dev libmnl-dev
	libsystemd-dev libseccomp-dev openssl
	python3 python3-pytest swaks
	postfix pflogsumm
	iproute2 procps
	dnsmasq-base postgrey fail2ban nftables iptables
	dovecot-core dovecot-lmtpd
	opendkim opendkim-tools python3-dkim python3-authres publicsuffix
	opendmarc spamass-milter spamd spamassassin
	python3-spf
	redis-server redis-tools
	clang-14 libclang-rt-14-dev
	debhelper devscripts lintian debootstrap logrotate
	prometheus chromium
)

# Postfix is installed only for its tools (smtp-source, smtp-sink, postconf)
# and as the benchmark's reference: no system mail configuration.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "install-deps.sh: installing ${missing[*]}"
	apt-get update
	apt-get install -y --no-install-recommends "${PKGS[@]}"
else
	echo "install-deps.sh: all packages already installed"
fi

# Make sure no system Postfix holds port 25 or competes with the tests:
# said before it is done (README: "Two commands").
if pgrep -x master >/dev/null 2>&1 || { command -v systemctl >/dev/null 2>&1 &&
	[ -d /run/systemd/system ] && systemctl -q is-enabled postfix 2>/dev/null; }; then
	echo "install-deps.sh: stopping and disabling the system's Postfix (it would hold port 25" \
		"during the tests); 'systemctl enable --now postfix' brings it back"
fi
postfix stop >/dev/null 2>&1 || true
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	systemctl disable --now postfix >/dev/null 2>&1 || true
fi

if ! getent group mailwarden >/dev/null; then
	groupadd --system mailwarden
fi
if ! getent passwd mailwarden >/dev/null; then
	useradd --system --no-create-home --shell /usr/sbin/nologin \
		--gid mailwarden --home-dir /nonexistent mailwarden
fi
# warden_owner: the ban engine's own user; it reads the followed logs
# (Debian: group adm) and the journal (group systemd-journal)
getent group mwwarden >/dev/null || groupadd --system mwwarden
if ! getent passwd mwwarden >/dev/null; then
	useradd --system --no-create-home --shell /usr/sbin/nologin \
		--gid mwwarden --home-dir /nonexistent mwwarden
fi
for g in adm systemd-journal; do
	if getent group "$g" >/dev/null; then
		usermod -a -G "$g" mwwarden
	fi
done
# setgid_group of the sendmail command: may write queue_directory/maildrop
getent group mwdrop >/dev/null || groupadd --system mwdrop
echo "install-deps.sh: done"
