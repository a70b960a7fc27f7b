#!/bin/bash
# layers.sh — the allowed include directions between src/ folders (run by
# `make lint`; docs/architecture.md draws the same table). A folder may
# include its own headers and those of the folders listed after it;
# anything else is a layering error, printed as FILE:LINE and failing.
#
#   common   the foundation: buffers, config, log, loop, maps, net, codec
#   mail     formats shared by the daemons: queue files, headers, address
#            resolution, the bans file
#   dns      the asynchronous resolver and its cache
#   spf      SPF (RFC 7208) check_host() over the resolver (used by policy)
#   sasl     password checking (file, Dovecot)
#   policy   restrictions (Postfix's smtpd_*_restrictions)
#   milter   the milter protocol client (used by the smtp engine)
#   smtp     the smtp engine: sessions, TLS, AUTH; no queue manager, no ban engine
#   queue    the queue manager: pickup (with non_smtpd_milters), relay, bounces; no smtp engine
#   local    local delivery (Maildir)
#   warden   the ban engine and its firewall; knows no SMTP session
#   master   starts every process: may include every daemon's entry point
#   cli      command-line tools: clients of the daemons' sockets and formats
set -u
cd "$(dirname "$0")/.."

declare -A allow=(
	[common]=""
	[mail]="common"
	[dns]="common"
	[sasl]="common"
	[spf]="common dns"
	[dmarc]="common"
	[policy]="common mail dns spf"
	[milter]="common mail"
	[smtp]="common mail dns sasl policy milter spf dkim dmarc"
	[queue]="common mail dns milter dkim"
	[dkim]="common"
	[local]="common mail"
	[warden]="common mail dns"
	[master]="common mail dns spf sasl policy milter dkim dmarc smtp queue local warden"
	[cli]="common mail dns spf sasl policy dkim queue local warden"
)

bad=0
while IFS= read -r f; do
	dir=${f#src/}
	top=${dir%%/*}
	[ "$top" = "$dir" ] && continue		# src/main.c: the program's entry, may use all
	if [ -z "${allow[$top]+x}" ]; then
		echo "$f: folder src/$top/ is not in scripts/layers.sh's table" >&2
		bad=1
		continue
	fi
	while IFS=: read -r line inc; do
		to=${inc%%/*}
		[ "$to" = "$top" ] && continue
		case " ${allow[$top]} " in
		*" $to "*) ;;
		*)	echo "$f:$line: src/$top/ may not include $inc (allowed: ${allow[$top]:-nothing})" >&2
			bad=1 ;;
		esac
	done < <(grep -nE '^#include "[a-z_]+/' "$f" | sed -E 's/^([0-9]+):#include "([^"]+)".*/\1:\2/')
done < <(find src -name '*.[ch]' | sort)
exit $bad
