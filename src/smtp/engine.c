/*
 * engine — set-up of the smtp engine process: read config once, open the
 * maps and the queue directory, chroot and drop privileges, then serve.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/cidr.h"
#include "common/config.h"
#include "common/log.h"
#include "common/priv.h"
#include "common/sandbox.h"
#include "common/util.h"
#include "dns/dns.h"
#include "policy/restrict.h"
#include "mail/resolve.h"
#include "smtp/engine.h"
#include "smtp/smtpd.h"
#include "smtp/tls.h"
#include "common/map.h"
#include "sasl/sasl.h"
#include "mail/banfile.h"

struct engine eng;

static const char *const role_names[] = { "smtp", "submission", "smtps" };
static const struct engine_listener *listeners;
static size_t nlisteners;

/* /etc/hosts, read before chroot: address -> first name. */
static struct { char *addr, *name; } *hosts;
static size_t nhosts;

const char *engine_role_name(int role)
{
	return role >= 0 && role < 3 ? role_names[role] : "smtp";
}

const char *config_get_mail_name(void)
{
	return config_get(eng.cfg, "mail_name");
}

static void hosts_load(void)
{
	FILE *f = fopen("/etc/hosts", "r");
	char line[1024];
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *save;
		char *addr = strtok_r(line, " \t\r\n", &save);
		char *name = addr ? strtok_r(NULL, " \t\r\n", &save) : NULL;
		if (name == NULL)
			continue;
		for (size_t i = 0; i < nhosts; i++)
			if (strcmp(hosts[i].addr, addr) == 0)
				goto next;
		hosts = xrealloc(hosts, (nhosts + 1) * sizeof(*hosts));
		hosts[nhosts].addr = xstrdup(addr);
		hosts[nhosts].name = str_lower(xstrdup(name));
		nhosts++;
next:		;
	}
	fclose(f);
}

/* 1 if the ban engine has banned addr (its list in warden/bans). */
int engine_banned(const char *addr, char *jail, size_t jlen)
{
	if (eng.bans == NULL)
		return 0;
	return banfile_check(eng.bans, addr, (long)time(NULL), jail, jlen) == 1;
}

const char *engine_hostname(const char *addr)
{
	/* Reverse DNS (async, c-ares) comes with the policy work; until then
	 * the hosts file answers without blocking the loop. */
	for (size_t i = 0; i < nhosts; i++)
		if (strcmp(hosts[i].addr, addr) == 0)
			return hosts[i].name;
	return "unknown";
}

static void on_accept(int fd, int events, void *arg)
{
	session_accept(fd, (enum smtp_role)(long)arg);
}

void engine_accept_pause(void)
{
	if (eng.accept_paused || eng.draining)
		return;
	eng.accept_paused = 1;
	for (size_t i = 0; i < nlisteners; i++)
		if (listeners[i].fd >= 0)
			loop_unwatch(listeners[i].fd);
}

void engine_accept_resume(void)
{
	if (!eng.accept_paused || eng.draining)
		return;
	eng.accept_paused = 0;
	for (size_t i = 0; i < nlisteners; i++)
		if (listeners[i].fd >= 0)
			loop_watch(listeners[i].fd, LOOP_READ, on_accept,
			    (void *)(long)listeners[i].role);
}

static void force_exit(void *arg)
{
	log_info("shutdown: %zu sessions still open, closing them", eng.nsessions);
	exit(0);
}

static void stop_listening(void)
{
	for (size_t i = 0; i < nlisteners; i++) {
		if (listeners[i].fd < 0)
			continue;
		if (!eng.accept_paused)
			loop_unwatch(listeners[i].fd);
		close(listeners[i].fd);
	}
	nlisteners = 0;
}

/* SIGTERM: shut down. Idle sessions get 421 now, messages in progress
 * are finished; after 10 s whatever is left is cut. */
static void on_term(int signo, void *arg)
{
	static struct loop_timer deadline;
	if (eng.draining == 2)
		return;
	eng.draining = 2;
	stop_listening();
	session_drain_all();
	loop_timer_set(&deadline, 10000, force_exit, NULL);
}

/* SIGUSR1 (reload): a new engine has the listeners; this one serves its
 * open sessions to their natural end, then exits. */
static void on_retire(int signo, void *arg)
{
	if (eng.draining)
		return;
	eng.draining = 1;
	stop_listening();
	log_info("reload: %zu sessions finishing in the old engine", eng.nsessions);
	if (eng.nsessions == 0)
		loop_exit();
}

static void drop_privileges(const char *qdir)
{
	priv_name("smtpd");
	if (geteuid() != 0)
		return;
	struct passwd *pw = priv_user(eng.cfg, "mail_owner");
	if (chroot(qdir) < 0 || chdir("/") < 0)
		fatal("chroot %s: %s", qdir, strerror(errno));
	priv_become("mail_owner", pw->pw_uid, pw->pw_gid, &pw->pw_gid, 1, NULL, 0);
}

/* The smtp listener's port, as Postfix's master names the service. */
static void listener_port(void)
{
	str_copy(eng.smtp_port, sizeof(eng.smtp_port), "25");
	for (size_t i = 0; i < nlisteners; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (listeners[i].role != ROLE_SMTP || listeners[i].fd < 0 ||
		    getsockname(listeners[i].fd, (struct sockaddr *)&ss, &sl) < 0)
			continue;
		unsigned port = ss.ss_family == AF_INET6 ?
		    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
		    ntohs(((struct sockaddr_in *)&ss)->sin_port);
		snprintf(eng.smtp_port, sizeof(eng.smtp_port), "%u", port);
		return;
	}
}

static int action_code(const char *v)
{
	return strcmp(v, "enforce") == 0 ? ACTION_ENFORCE :
	    strcmp(v, "drop") == 0 ? ACTION_DROP : ACTION_IGNORE;
}

static void engine_config(const struct config *cfg)
{
	char err[512];
	eng.cfg = cfg;
	eng.myhostname = config_get(cfg, "myhostname");
	eng.banner = config_get(cfg, "smtpd_banner");
	eng.size_limit = config_get_size(cfg, "message_size_limit");
	eng.rcpt_limit = config_get_int(cfg, "smtpd_recipient_limit");
	eng.timeout_ms = config_get_time(cfg, "smtpd_timeout") * 1000;
	eng.session_limit = (size_t)config_get_int(cfg, "default_process_limit");
	eng.conn_count_limit = config_get_int(cfg, "smtpd_client_connection_count_limit");
	eng.conn_rate_limit = config_get_int(cfg, "smtpd_client_connection_rate_limit");
	eng.mail_rate_limit = config_get_int(cfg, "smtpd_client_message_rate_limit");
	eng.rcpt_rate_limit = config_get_int(cfg, "smtpd_client_recipient_rate_limit");
	eng.tls_rate_limit = config_get_int(cfg, "smtpd_client_new_tls_session_rate_limit");
	eng.v4_prefix = config_get_int(cfg, "smtpd_client_ipv4_prefix_length");
	eng.v6_prefix = config_get_int(cfg, "smtpd_client_ipv6_prefix_length");
	eng.per_request_deadline = config_get_bool(cfg, "smtpd_per_request_deadline");
	eng.min_data_rate = config_get_int(cfg, "smtpd_min_data_rate");
	eng.starttls_timeout_ms = config_get_time(cfg, "smtpd_starttls_timeout") * 1000;
	eng.limit_exceptions = cidrlist_parse(config_get(cfg, "smtpd_client_event_limit_exceptions"),
	    err, sizeof(err));
	if (eng.limit_exceptions == NULL)
		fatal("smtpd_client_event_limit_exceptions: %s", err);
	listener_port();
	eng.hard_error_limit = config_get_int(cfg, "smtpd_hard_error_limit");
	eng.soft_error_limit = config_get_int(cfg, "smtpd_soft_error_limit");
	eng.error_sleep_ms = config_get_time(cfg, "smtpd_error_sleep_time") * 1000;
	eng.junk_limit = config_get_int(cfg, "smtpd_junk_command_limit");
	eng.line_limit = config_get_int(cfg, "line_length_limit");
	eng.disable_vrfy = config_get_bool(cfg, "disable_vrfy_command");
	const char *bl = config_get(cfg, "smtpd_forbid_bare_newline");
	eng.bare_lf = strcmp(bl, "yes") == 0 ? BARE_LF_REJECT :
	    strcmp(bl, "no") == 0 ? BARE_LF_ALLOW : BARE_LF_NORMALIZE;
	eng.mynetworks = cidrlist_parse(config_get(cfg, "mynetworks"), err, sizeof(err));
	if (eng.mynetworks == NULL)
		fatal("mynetworks: %s", err);
	eng.bare_lf_exclusions = cidrlist_parse(config_get(cfg, "smtpd_forbid_bare_newline_exclusions"),
	    err, sizeof(err));
	if (eng.bare_lf_exclusions == NULL)
		fatal("smtpd_forbid_bare_newline_exclusions: %s", err);
	eng.peername_lookup = config_get_bool(cfg, "smtpd_peername_lookup");
	eng.greet_action = action_code(config_get(cfg, "postscreen_greet_action"));
	/* Postfix runs the pregreet test only where postscreen is enabled; we
	 * run it when asked for: an action other than ignore, or an explicit
	 * postscreen_greet_wait. The defaults alone never delay a client. */
	eng.greet_wait_ms = eng.greet_action != ACTION_IGNORE ||
	    config_is_set(cfg, "postscreen_greet_wait") ?
	    config_get_time(cfg, "postscreen_greet_wait") * 1000 : 0;
	eng.greet_banner = config_get(cfg, "postscreen_greet_banner");
	eng.greet_ttl_ms = config_get_time(cfg, "postscreen_greet_ttl") * 1000;
	eng.dnsbl_sites = config_list(config_get(cfg, "postscreen_dnsbl_sites"));
	if (eng.dnsbl_sites[0] == NULL) {
		config_list_free(eng.dnsbl_sites);
		eng.dnsbl_sites = NULL;
	}
	eng.dnsbl_threshold = config_get_int(cfg, "postscreen_dnsbl_threshold");
	eng.dnsbl_allow_threshold = config_get_int(cfg, "postscreen_dnsbl_allowlist_threshold");
	eng.dnsbl_action = action_code(config_get(cfg, "postscreen_dnsbl_action"));
	for (int r = 0; r < 3; r++) {
		static const char *const lists[] = {
			"smtpd_client_restrictions", "smtpd_helo_restrictions",
			"smtpd_sender_restrictions", "smtpd_recipient_restrictions",
			"smtpd_data_restrictions",
		};
		struct restrictions **slot[] = {
			&eng.roles[r].client, &eng.roles[r].helo, &eng.roles[r].sender,
			&eng.roles[r].recipient, &eng.roles[r].data,
		};
		for (int k = 0; k < 5; k++) {
			*slot[k] = restrictions_parse(cfg, lists[k],
			    config_get_role(cfg, role_names[r], lists[k]), err, sizeof(err));
			if (*slot[k] == NULL)
				fatal("%s/inet/%s: %s", role_names[r], lists[k], err);
		}
		eng.roles[r].delay_reject = config_get_role_bool(cfg, role_names[r], "smtpd_delay_reject");
		/* Pregreet only where the client waits for us: port 25. */
		eng.roles[r].pregreet = r == ROLE_SMTP;
		eng.roles[r].name = role_names[r];
		eng.roles[r].relay = restrictions_parse(cfg, "smtpd_relay_restrictions",
		    config_get_role(cfg, role_names[r], "smtpd_relay_restrictions"), err, sizeof(err));
		eng.roles[r].require_helo = config_get_role_bool(cfg, role_names[r], "smtpd_helo_required");
		const char *level = config_get_role(cfg, role_names[r], "smtpd_tls_security_level");
		eng.roles[r].tls_encrypt = strcmp(level, "encrypt") == 0;
		eng.roles[r].wrappermode = config_get_role_bool(cfg, role_names[r], "smtpd_tls_wrappermode");
		eng.roles[r].tls_may = strcmp(level, "none") != 0 && !eng.roles[r].wrappermode;
		eng.roles[r].sasl_enable = config_get_role_bool(cfg, role_names[r], "smtpd_sasl_auth_enable");
		eng.roles[r].auth_required = r != ROLE_SMTP && eng.roles[r].sasl_enable;
		if (eng.roles[r].relay == NULL)
			fatal("%s/inet/smtpd_relay_restrictions: %s", role_names[r], err);
	}
	eng.resolver = resolve_open(cfg, err, sizeof(err));
	if (eng.resolver == NULL)
		fatal("%s", err);
	eng.tls_auth_only = config_get_bool(cfg, "smtpd_tls_auth_only");
	eng.tls_received_header = config_get_bool(cfg, "smtpd_tls_received_header");
	eng.tls_loglevel = (int)config_get_int(cfg, "smtpd_tls_loglevel");
	eng.auth_rate_limit = config_get_int(cfg, "smtpd_client_auth_rate_limit");
	eng.rate_unit_ms = config_get_time(cfg, "anvil_rate_time_unit") * 1000;
	eng.auth_delay_ms = config_get_time(cfg, "smtpd_sasl_failure_delay") * 1000;
	eng.sender_login_maps = maplist_open(config_get(cfg, "smtpd_sender_login_maps"), 0, err, sizeof(err));
	if (eng.sender_login_maps == NULL)
		fatal("smtpd_sender_login_maps: %s", err);
	/* Key files may be root-only: read them before the chroot. */
	if (tls_init(cfg, err, sizeof(err)) < 0)
		fatal("%s", err);
	for (int r = 0; r < 3; r++)
		if (!tls_available())
			eng.roles[r].tls_may = 0;
	int any_sasl = 0;
	for (size_t i = 0; i < nlisteners; i++)
		any_sasl |= eng.roles[listeners[i].role].sasl_enable;
	if (any_sasl) {
		/* Dovecot's socket: a relative smtpd_sasl_path is under
		 * queue_directory (Postfix's private/auth), before and after the
		 * chroot. A password file is read now, relative to where
		 * mailwarden was started, as check-config reads it. */
		const char *stype = config_get(cfg, "smtpd_sasl_type");
		if (strcmp(stype, "dovecot") == 0 && chdir(config_get(cfg, "queue_directory")) < 0)
			fatal("chdir %s: %s", config_get(cfg, "queue_directory"), strerror(errno));
		eng.sasl = sasl_open(stype,
		    config_get(cfg, "smtpd_sasl_path"), err, sizeof(err));
		if (eng.sasl == NULL)
			fatal("smtpd_sasl_path: %s", err);
	}
}

void engine_main(const struct config *cfg, const struct engine_listener *l, size_t n,
    int master_fd, int warden_fd)
{
	log_set_service("smtpd");
	loop_init();
	listeners = l;
	nlisteners = n;
	engine_config(cfg);
	hosts_load();
	char err[512];
	if (dns_init(cfg, err, sizeof(err)) < 0)
		fatal("dns: %s", err);

	const char *qdir = config_get(cfg, "queue_directory");
	char path[1024];
	snprintf(path, sizeof(path), "%s/incoming", qdir);
	eng.incoming_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (eng.incoming_fd < 0)
		fatal("open %s: %s", path, strerror(errno));
	eng.master_fd = master_fd;
	eng.spool_dirfd = open(qdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (eng.spool_dirfd < 0)
		fatal("open %s: %s", qdir, strerror(errno));
	eng.bans = banfile_open(eng.spool_dirfd, "warden/bans");
	eng.warden_fd = warden_fd;
	drop_privileges(qdir);
	signal(SIGPIPE, SIG_IGN);
	loop_signal(SIGTERM, on_term, NULL);
	loop_signal(SIGINT, on_term, NULL);
	loop_signal(SIGUSR1, on_retire, NULL);
	for (size_t i = 0; i < n; i++)
		loop_watch(l[i].fd, LOOP_READ, on_accept, (void *)(long)l[i].role);
	/* after chroot and setuid; the allow-list is in src/common/sandbox.c */
	if (sandbox_enter(cfg, SANDBOX_ENGINE, master_fd, err, sizeof(err)) < 0)
		fatal("%s", err);
	loop_run();
	exit(0);
}
