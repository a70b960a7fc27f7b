/*
 * builtin_filters — the filters compiled into mailwarden, so that
 * `mailwarden scan LOG postfix[mode=auth]` and the warden work on a host
 * without /etc/fail2ban. Looked up by filter_load() after the filter.d
 * directories. Written for mailwarden, not copied from fail2ban: every
 * failregex is anchored at the start of the message, right after the
 * syslog prefix, and takes the client from the field the daemon itself
 * writes, so that text a client controls (HELO, MAIL FROM, user names)
 * cannot name a different address. They give the same answers as
 * fail2ban's filters on fail2ban's test logs
 * (tests/compat/run_fail2ban_logs.py --builtin).
 *
 * One table row per file; a file may include another built-in file.
 */
#include <stddef.h>
#include <string.h>

#include "warden/filter/filter.h"
#include "warden/filter/filter_impl.h"

/* Shared: the syslog prefix once the date is cut out. */
static const char common_conf[] =
"[DEFAULT]\n"
"# after the date: optional host name, the daemon, optional [pid], ':'\n"
"__mw_host = (?:[\\w.-]+\\s+)?\n"
"__mw_pid = (?:\\[\\d+\\])?\n"
"__mw_prefix = ^\\s*<__mw_host><_daemon><__mw_pid>:\\s+\n"
"# a client as Postfix and mailwarden write it: name[address] or [address]:port\n"
"__mw_client = [^\\s\\[\\]]*\\[<HOST>\\](?::\\d+)?\n"
"[Definition]\n"
"datepattern = {^LN-BEG}\n";

/*
 * Postfix. Modes as fail2ban's postfix.conf: normal (= more), rbl, auth,
 * ddos, extra (auth + normal), aggressive (all), errors.
 */
static const char postfix_conf[] =
"[INCLUDES]\n"
"before = mailwarden-common.conf\n"
"[Definition]\n"
"_daemon = postfix(?:-[\\w-]+)?/(?:[\\w-]+/)*[\\w-]+\n"
"_queue = (?:NOQUEUE|[0-9A-Za-z]+)\n"
"_why = (?:Service unavailable|Client host rejected|Command rejected|Data command rejected|Relay access denied|(?:Host|Domain) not found|need fully-qualified hostname|match|[Uu]ser unknown|[Uu]ndeliverable address)\n"
"_reject = <__mw_prefix><_queue>: (?:milter-)?reject: [A-Z]{4} from <__mw_client>: [45][50][04] [45]\\.\\d\\.\\d+ (?:(?:<[^>]*>)?: )?(?:(?:Helo command|Sender address|Recipient address) rejected: )?<_why>\\b\n"
"_errors = <__mw_prefix>(?:improper command pipelining|too many errors) after [A-Z]+ from <__mw_client>(?::|$)\n"
"_rbl = <__mw_prefix><_queue>: reject: [A-Z]{4} from <__mw_client>: [45]54 [45]\\.7\\.1 Service unavailable; Client host \\[[^\\]\\s]+\\] blocked\\b\n"
"_sasl = <__mw_prefix>warning: <__mw_client>: SASL (?i:LOGIN|PLAIN|CRAM-MD5|DIGEST-MD5) authentication failed:\n"
"_auth = <_sasl>(?! Connection lost to authentication server| Invalid authentication mechanism)\n"
"_auth2 = <_sasl>(?! Connection lost to authentication server)\n"
"_ddos = <__mw_prefix>(?:lost connection after (?!DATA)[A-Z]+|(?:PREGREET \\d+|HANGUP) after \\S+|COMMAND (?:TIME|COUNT|LENGTH) LIMIT) from <__mw_client>(?::|\\s|$)\n"
"_ddos2 = <__mw_prefix>disconnect from <__mw_client>(?: [a-z]+=\\d+(?:/\\d+)?)*? auth=0/(?:[1-9]|\\d\\d+)\\b\n"
"re-normal = <_reject>\n"
"            <_errors>\n"
"re-more = <re-normal>\n"
"re-rbl = <_rbl>\n"
"re-auth = <_auth>\n"
"re-ddos = <_ddos>\n"
"          <_ddos2>\n"
"re-extra = <_auth>\n"
"           <re-normal>\n"
"re-aggressive = <_auth2>\n"
"                <re-normal>\n"
"                <re-ddos>\n"
"re-errors = <__mw_prefix>too many errors after [A-Z]+ from <__mw_client>$\n"
"failregex = <re-<mode>>\n"
"mode = more\n"
"ignoreregex =\n";

/*
 * mailwarden's own log lines (Postfix's wording, daemon mailwarden/...).
 * Modes for the engine's events: auth, relay, reject, pregreet,
 * protocol, rate (smtpd_client_*_limit hits); aggressive = all of them.
 * spf (SPF fail results of reject_spf_fail / defer_spf_temperror) is
 * optional: in no other mode, as an SPF fail is often a forwarder's;
 * so is dmarc (DMARC fail results at the end of DATA).
 */
static const char mailwarden_conf[] =
"[INCLUDES]\n"
"before = mailwarden-common.conf\n"
"[Definition]\n"
"_daemon = mailwarden(?:-[\\w-]+)?/[\\w-]+\n"
"_queue = (?:NOQUEUE|[0-9A-Za-z]+)\n"
"re-auth = <__mw_prefix>warning: <__mw_client>: SASL [\\w-]+ authentication failed:(?! Connection lost to authentication server)\n"
"re-relay = <__mw_prefix><_queue>: reject: [A-Z]{4} from <__mw_client>: [45]54 [45]\\.7\\.1 (?:<[^>]*>: )?Relay access denied\n"
"re-reject = <__mw_prefix><_queue>: (?:milter-)?reject: [A-Z]{4} from <__mw_client>: [45]\\d\\d \n"
"re-pregreet = <__mw_prefix>PREGREET \\d+ after \\S+ from <__mw_client>:\n"
"re-protocol = <__mw_prefix>(?:improper command pipelining|too many errors) after [A-Z]+ from <__mw_client>(?::|$)\n"
"              <__mw_prefix>(?:warning: )?AUTH command rate limit exceeded: \\d+ from <__mw_client> \n"
"re-rate = <__mw_prefix>warning: (?:Connection concurrency|(?:Connection|Message delivery request|Recipient address|New TLS session) rate) limit exceeded: \\d+ from <__mw_client> for service\n"
"          <__mw_prefix>warning: Refusing (?:STARTTLS|TLS service) request from <__mw_client> for service\n"
"re-spf = <__mw_prefix>warning: SPF fail from <__mw_client>: \n"
"re-dmarc = <__mw_prefix>warning: DMARC fail from <__mw_client>: \n"
"re-aggressive = <re-auth>\n"
"                <re-reject>\n"
"                <re-pregreet>\n"
"                <re-protocol>\n"
"                <re-rate>\n"
"failregex = <re-<mode>>\n"
"mode = aggressive\n"
"ignoreregex =\n";

/* Dovecot: login processes, auth workers and PAM. Modes normal, aggressive. */
static const char dovecot_conf[] =
"[INCLUDES]\n"
"before = mailwarden-common.conf\n"
"[Definition]\n"
"_daemon = (?:dovecot(?:-auth)?|auth)\n"
"# the process that logged, inside dovecot's own prefix\n"
"_proc = (?:dovecot: )?(?:auth(?:-worker)?(?:\\([^)]*\\))?: |pam_unix\\(dovecot:auth\\): |(?:pop3|imap|managesieve|submission)-login: )?(?:Info: )?(?:conn \\S+ \\([^)]*\\): auth(?:-worker)?<\\d+>: )?\n"
"prefregex = ^\\s*(?:<__mw_host><_daemon><__mw_pid>:\\s+)?<_proc><F-CONTENT>.+</F-CONTENT>$\n"
"_closed = ^(?:Aborted login|Disconnected|Remote closed connection|Client has quit the connection)(?:: .*?)? \\(\n"
"# user=<...> is the client's text and may hold '>, rip=': the last rip= wins\n"
"_tail = \\):(?: user=<<F-USER>.*</F-USER>>,)?(?: method=\\S+,)? rip=<HOST>(?:,|\\s*$)\n"
"_failed = auth failed, \\d+ attempts(?: in \\d+ secs)?|tried to use (?:disabled|disallowed) \\S+ auth|proxy dest auth failed\n"
"_noauth = no auth attempts|disconnected before auth was ready,|client didn't finish \\S+ auth,\n"
"why-normal = <_failed>\n"
"why-aggressive = <_failed>|(?:<_noauth>)(?: (?:in|waited) \\d+ secs)?\n"
"failregex = ^authentication failure; logname=\\S* uid=\\d* euid=\\d* tty=dovecot ruser=<F-USER>\\S*</F-USER> rhost=<HOST>(?:\\s+user=\\S*)?\\s*$\n"
"            <_closed>(?:<why-<mode>>)<_tail>\n"
"            ^pam\\(\\S+,<HOST>(?:,<[^>]*>)?\\): pam_authenticate\\(\\) failed: (?:User not known to the underlying authentication module: \\d+ Time\\(s\\)|Authentication failure \\([Pp]assword mismatch\\?\\)|Permission denied)\\s*$\n"
"            ^[a-z][a-z-]{2,14}\\(\\S*,<HOST>(?:,<[^>]*>|,)?\\): (?:[Uu]nknown user|[Ii]nvalid credentials|[Pp]assword mismatch)\n"
"mode = normal\n"
"ignoreregex =\n"
"datepattern = {^LN-BEG}TAI64N\n"
"              {^LN-BEG}\n";

/*
 * OpenSSH. Modes: normal (default), ddos, extra, aggressive (all); option
 * publickey = nofail (default: a failed key of a valid user does not
 * count unless the connection fails otherwise), invalid, any, ignore;
 * logtype = file, short, journal, rfc5424. The connection (host, daemon
 * and pid) is the <F-MLFID>: a NOFAIL line remembers the address, a
 * later failure of the same connection counts, a login forgets it.
 */
static const char sshd_conf[] =
"[INCLUDES]\n"
"before = mailwarden-common.conf\n"
"[DEFAULT]\n"
"_daemon = sshd(?:-session)?\n"
"# after the host: port/interface and [preauth], in any order\n"
"_opt = (?: (?:port \\d+|on \\S+)){0,2}\n"
"_end = (?: (?:port \\d+|on \\S+|\\[preauth\\])){0,3}\\s*\n"
"# a user name that may hold spaces but never ' from '\n"
"_nofrom = (?:(?! from ).)\n"
"[Definition]\n"
"# [sshd], sshd(pam), BSD <auth.info>, Solaris [ID n auth.info], vservers\n"
"pfx-file = \\s*(?:<[^.>\\s]+\\.[^.>\\s]+>\\s+)?<__mw_host>(?:@vserver_\\S+\\s+)?[\\[(]?<_daemon>(?:\\(\\S+\\))?[\\])]?<__mw_pid>:?\\s+(?:\\[ID \\d+ \\S+\\]\\s+)?\n"
"pfx-short = <pfx-file>\n"
"pfx-journal = \\s*(?:\\S+\\s+)?<_daemon><__mw_pid>:?\\s+(?:kernel:\\s?\\[\\s*\\d+\\.\\d+\\]:?\\s+)?\n"
"pfx-rfc5424 = \\s*\\S+ <_daemon> \\d+ \\S+ (?:[^\\[\\]\\s]+|(?:\\[(?:[^\\]\"]*|\"[^\"]*\")*\\])+)\\s+\n"
"date-file = {^LN-BEG}\n"
"date-short = {^LN-BEG}\n"
"date-journal = {^LN-BEG}\n"
"date-rfc5424 = ^<\\d+>\\d+\\s+{DATE}\n"
"logtype = file\n"
"datepattern = <date-<logtype>>\n"
"prefregex = ^<F-MLFID><pfx-<logtype>></F-MLFID>(?:(?:error|fatal): (?:PAM: )?)?<F-CONTENT>.+</F-CONTENT>$\n"
"# what a 'Failed <method>' line counts, by the publickey option\n"
"meth-any = \\S+\n"
"meth-ignore = (?!publickey\\b)\\S+\n"
"meth-invalid = <meth-ignore>\n"
"meth-nofail = (?:<F-NOFAIL>publickey</F-NOFAIL>|\\S+)\n"
"# the user: one word (then ': ' and sshd's auth info may follow), or for\n"
"# an invalid user anything up to the last ' from ' (nothing may follow)\n"
"pubinv-nofail = ^Failed publickey for invalid user <F-USER>(?P<_word>\\S+)|<_nofrom>*?</F-USER> from <HOST><_opt>(?: ssh\\d*)?(?(_word): |<_nofrom>*$)\n"
"pubinv-invalid = <pubinv-nofail>\n"
"pubinv-any =\n"
"pubinv-ignore =\n"
"publickey = nofail\n"
"_closed = (?:Connection (?:closed|reset)|Disconnected)\n"
"_who = (?: (?:invalid|authenticating) user <F-USER>\\S+|.*?</F-USER>)?\n"
"_alg = (?:(?:\\w+ (?!found\\b)){0,2}\\w+)\n"
"fail = ^[aA]uthentication (?:failure|error|failed) for <F-USER>.*</F-USER> from <HOST>(?: via \\S+)?<_end>$\n"
"       ^User not known to the underlying authentication module for <F-USER>.*</F-USER> from <HOST><_end>$\n"
"       <pubinv-<publickey>>\n"
"       ^Failed <meth-<publickey>> for (?P<_inv>invalid user )?<F-USER>(?P<_word>\\S+)|(?(_inv)<_nofrom>*?|[^:]+)</F-USER> from <HOST><_opt>(?: ssh\\d*)?(?(_word): |<_nofrom>*$)\n"
"       ^<F-USER>ROOT</F-USER> LOGIN REFUSED FROM <HOST>\n"
"       ^[iI](?:llegal|nvalid) user <F-USER>.*?</F-USER> from <HOST><_end>$\n"
"       ^User <F-USER>\\S+|.*?</F-USER> from <HOST> not allowed because (?:not listed in AllowUsers|listed in DenyUsers|not in any group|a group is listed in DenyGroups|none of user's groups are listed in AllowGroups)<_end>$\n"
"       ^refused connect from \\S+ \\(<HOST>\\)\n"
"       ^Received <F-MLFFORGET>disconnect</F-MLFFORGET> from <HOST><_opt>:\\s*3: .*: Auth fail<_end>$\n"
"       ^<F-NOFAIL>pam_[a-z]+\\(sshd:auth\\):\\s+authentication failure;</F-NOFAIL>(?:\\s+(?:(?:logname|e?uid|tty)=\\S*)){0,4}\\s+ruser=<F-ALT_USER>\\S*</F-ALT_USER>\\s+rhost=<HOST>(?:\\s+user=<F-USER>\\S*</F-USER>)?<_end>$\n"
"       ^maximum authentication attempts exceeded for <F-USER>.*</F-USER> from <HOST><_opt>(?: ssh\\d*)?<_end>$\n"
"       ^User <F-USER>\\S+|.*?</F-USER> not allowed because account is locked<_end>\n"
"       ^<F-MLFFORGET>Disconnecting</F-MLFFORGET>(?: from)? (?:invalid|authenticating) user <F-USER>\\S+</F-USER> <HOST><_opt>:\\s*Change of username or service not allowed:\\s*.*\\[preauth\\]\\s*$\n"
"       ^Disconnecting: Too many authentication failures(?: for <F-USER>\\S+|.*?</F-USER>)?<_end>$\n"
"       ^<F-NOFAIL>Received <F-MLFFORGET>disconnect</F-MLFFORGET></F-NOFAIL> from <HOST><_opt>:\\s*11:\n"
"       <other-<mode>>\n"
"       ^<F-MLFFORGET><F-MLFGAINED>Accepted \\w+</F-MLFGAINED></F-MLFFORGET> for <F-USER>\\S+</F-USER> from <HOST>(?:\\s|$)\n"
"# a connection closed before it logged in: remembered (normal) or counted\n"
"other-normal = ^<F-NOFAIL><F-MLFFORGET><_closed></F-MLFFORGET></F-NOFAIL> (?:by|from)<_who> <HOST>(?:<_end>|\\s*)$\n"
"other-ddos = ^<F-MLFFORGET><_closed></F-MLFFORGET> (?:by|from)<_who> <HOST><_opt>\\s+\\[preauth\\]\\s*$\n"
"             ^<F-NOFAIL><F-MLFFORGET><_closed></F-MLFFORGET></F-NOFAIL> (?:by|from)<_who> <HOST>(?:<_opt>|\\s*)$\n"
"other-extra = ^<F-MLFFORGET>Disconnected</F-MLFFORGET>(?: from)? (?:invalid|authenticating) user <F-USER>\\S+|.*?</F-USER> <HOST><_opt> \\[preauth\\]\\s*$\n"
"              <other-normal>\n"
"other-aggressive = <other-ddos>\n"
"                   ^<F-MLFFORGET>Disconnected</F-MLFFORGET>(?: from)? (?:invalid|authenticating) user <F-USER>\\S+|.*?</F-USER> <HOST><_opt> \\[preauth\\]\\s*$\n"
"mode-normal =\n"
"mode-ddos = ^Did not receive identification string from <HOST>\n"
"            ^kex_exchange_identification: (?:read: )?(?:[Cc]lient sent invalid protocol identifier|[Cc]onnection (?:closed by remote host|reset by peer))\n"
"            ^Bad protocol version identification '.*' from <HOST>\n"
"            ^<F-NOFAIL>SSH: Server;Ltype:</F-NOFAIL> (?:Authname|Version|Kex);Remote: <HOST>-\\d+;[A-Z]\\w+:\n"
"            ^Read from socket failed: Connection <F-MLFFORGET>reset</F-MLFFORGET> by peer\n"
"            ^banner exchange: Connection from <HOST><_opt>: invalid format\n"
"mode-extra = ^Received <F-MLFFORGET>disconnect</F-MLFFORGET> from <HOST><_opt>:\\s*14: No(?: supported)? authentication methods available\n"
"             ^Unable to negotiate with <HOST><_opt>: no matching <_alg> found.\n"
"             ^Unable to negotiate a <_alg>\n"
"             ^no matching <_alg> found:\n"
"mode-aggressive = <mode-ddos>\n"
"                  <mode-extra>\n"
"failregex = <fail>\n"
"            <mode-<mode>>\n"
"            ^<F-NOFAIL>Connection from</F-NOFAIL> <HOST>\n"
"mode = normal\n"
"ignoreregex =\n"
"maxlines = 1\n";

static const struct {
	const char *file;
	const char *text;
} builtins[] = {
	{ "mailwarden-common.conf",	common_conf },
	{ "postfix.conf",		postfix_conf },
	{ "mailwarden.conf",		mailwarden_conf },
	{ "dovecot.conf",		dovecot_conf },
	{ "sshd.conf",			sshd_conf },
};

const char *builtin_filter_text(const char *file)
{
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (strcmp(builtins[i].file, file) == 0)
			return builtins[i].text;
	return NULL;
}
