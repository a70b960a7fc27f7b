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

#include "common/clock.h"
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
#include "smtp/cleanup.h"
#include "smtp/dkimverify.h"
#include "smtp/engine_int.h"
#include "smtp/milters.h"
#include "smtp/session.h"
#include "smtp/tls.h"
#include "common/map.h"
#include "sasl/sasl.h"
#include "mail/banfile.h"

static const char *const role_listen_keys[ROLE_NAMED] = {
	"smtpd_listen", "submission_listen", "smtps_listen"
};

const char *engine_role_name(const struct config *cfg, int role)
{
	return role == ROLE_SMTP ? "smtp" : config_role_name(cfg, role);
}

int engine_role_used(const struct config *cfg, int role)
{
	if (role >= 0 && role < ROLE_NAMED)
		return *config_get(cfg, role_listen_keys[role]) != '\0';
	return config_role_name(cfg, role) != NULL;
}

const char *engine_role_listen_key(int role)
{
	return role >= 0 && role < ROLE_NAMED ? role_listen_keys[role] : "smtpd_listen";
}

/* receive_override_options words -> role_cfg flags. */
static void role_overrides(struct role_cfg *rc, const char *v)
{
	static const struct { const char *word; size_t off; } words[] = {
		{ "no_unknown_recipient_checks", offsetof(struct role_cfg, no_unknown_rcpt) },
		{ "no_address_mappings", offsetof(struct role_cfg, no_address_mappings) },
		{ "no_header_body_checks", offsetof(struct role_cfg, no_header_body_checks) },
		{ "no_milters", offsetof(struct role_cfg, no_milters) },
	};
	char **items = config_list(v);
	for (char **it = items; *it; it++)
		for (size_t k = 0; k < sizeof(words) / sizeof(*words); k++)
			if (strcmp(*it, words[k].word) == 0)
				*(int *)((char *)rc + words[k].off) = 1;
	config_list_free(items);
}

/* /etc/hosts, read before chroot: address -> first name. */
static void hosts_load(struct engine *e)
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
		for (size_t i = 0; i < e->nhosts; i++)
			if (strcmp(e->hosts[i].addr, addr) == 0)
				goto next;
		e->hosts = xrealloc(e->hosts, (e->nhosts + 1) * sizeof(*e->hosts));
		e->hosts[e->nhosts].addr = xstrdup(addr);
		e->hosts[e->nhosts].name = str_lower(xstrdup(name));
		e->nhosts++;
next:		;
	}
	fclose(f);
}

/* 1 if the ban engine has banned addr (its list in warden/bans). */
int engine_banned(struct engine *e, const char *addr, char *jail, size_t jlen)
{
	if (e->bans == NULL)
		return 0;
	return banfile_check(e->bans, addr, (long)clock_wall(), jail, jlen) == 1;
}

const char *engine_hostname(const struct engine *e, const char *addr)
{
	/* Reverse DNS (async, c-ares) comes with the policy work; until then
	 * the hosts file answers without blocking the loop. */
	for (size_t i = 0; i < e->nhosts; i++)
		if (strcmp(e->hosts[i].addr, addr) == 0)
			return e->hosts[i].name;
	return "unknown";
}

/* A listener is readable: arg is its engine_listener. */
static void on_accept(int fd, int events, void *arg)
{
	const struct engine_port *p = arg;
	session_accept(p->eng, fd, p->role);
}

void engine_accept_pause(struct engine *e)
{
	if (e->accept_paused || e->draining)
		return;
	e->accept_paused = 1;
	for (size_t i = 0; i < e->nports; i++)
		if (e->ports[i].fd >= 0)
			loop_unwatch(e->ports[i].fd);
}

void engine_accept_resume(struct engine *e)
{
	if (!e->accept_paused || e->draining)
		return;
	e->accept_paused = 0;
	for (size_t i = 0; i < e->nports; i++)
		if (e->ports[i].fd >= 0)
			loop_watch(e->ports[i].fd, LOOP_READ, on_accept,
			    &e->ports[i]);
}

static void force_exit(void *arg)
{
	struct engine *e = arg;
	log_info("shutdown: %zu sessions still open, closing them", e->nsessions);
	exit(0);
}

static void stop_listening(struct engine *e)
{
	for (size_t i = 0; i < e->nports; i++) {
		if (e->ports[i].fd < 0)
			continue;
		if (!e->accept_paused)
			loop_unwatch(e->ports[i].fd);
		close(e->ports[i].fd);
	}
	e->nports = 0;
}

/* SIGTERM: shut down. Idle sessions get 421 now, messages in progress
 * are finished; after 10 s whatever is left is cut. */
static void on_term(int signo, void *arg)
{
	struct engine *e = arg;
	if (e->draining == 2)
		return;
	e->draining = 2;
	stop_listening(e);
	session_drain_all(e);
	loop_timer_set(&e->stop_timer, 10000, force_exit, e);
}

/* SIGUSR1 (reload): a new engine has the listeners; this one serves its
 * open sessions to their natural end, then exits. */
static void on_retire(int signo, void *arg)
{
	struct engine *e = arg;
	if (e->draining)
		return;
	e->draining = 1;
	stop_listening(e);
	log_info("reload: %zu sessions finishing in the old engine", e->nsessions);
	if (e->nsessions == 0)
		loop_exit();
}

static void drop_privileges(struct engine *e, const char *qdir)
{
	priv_name("smtpd");
	if (geteuid() != 0)
		return;
	struct passwd *pw = priv_user(e->cfg, "mail_owner");
	if (chroot(qdir) < 0 || chdir("/") < 0)
		fatal("chroot %s: %s", qdir, strerror(errno));
	priv_become("mail_owner", pw->pw_uid, pw->pw_gid, &pw->pw_gid, 1, NULL, 0);
}

/* The smtp listener's port, as Postfix's master names the service. */
static void listener_port(struct engine *e)
{
	str_copy(e->smtp_port, sizeof(e->smtp_port), "25");
	for (size_t i = 0; i < e->nports; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (e->ports[i].role != ROLE_SMTP || e->ports[i].fd < 0 ||
		    getsockname(e->ports[i].fd, (struct sockaddr *)&ss, &sl) < 0)
			continue;
		unsigned port = ss.ss_family == AF_INET6 ?
		    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
		    ntohs(((struct sockaddr_in *)&ss)->sin_port);
		snprintf(e->smtp_port, sizeof(e->smtp_port), "%u", port);
		return;
	}
}

static int action_code(const char *v)
{
	return strcmp(v, "enforce") == 0 ? ACTION_ENFORCE :
	    strcmp(v, "drop") == 0 ? ACTION_DROP : ACTION_IGNORE;
}

static void engine_config(struct engine *e, const struct config *cfg)
{
	char err[512];
	e->cfg = cfg;
	e->mail_name = config_get(cfg, "mail_name");
	e->commit.efd_req = e->commit.efd_done = -1;
	e->myhostname = config_get(cfg, "myhostname");
	e->banner = config_get(cfg, "smtpd_banner");
	e->size_limit = config_get_size(cfg, "message_size_limit");
	e->rcpt_limit = config_get_int(cfg, "smtpd_recipient_limit");
	e->timeout_ms = config_get_time(cfg, "smtpd_timeout") * 1000;
	e->session_limit = (size_t)config_get_int(cfg, "default_process_limit");
	e->mail_rate_limit = config_get_int(cfg, "smtpd_client_message_rate_limit");
	e->rcpt_rate_limit = config_get_int(cfg, "smtpd_client_recipient_rate_limit");
	e->tls_rate_limit = config_get_int(cfg, "smtpd_client_new_tls_session_rate_limit");
	e->anvil.v4_prefix = config_get_int(cfg, "smtpd_client_ipv4_prefix_length");
	e->anvil.v6_prefix = config_get_int(cfg, "smtpd_client_ipv6_prefix_length");
	e->per_request_deadline = config_get_bool(cfg, "smtpd_per_request_deadline");
	e->min_data_rate = config_get_int(cfg, "smtpd_min_data_rate");
	e->starttls_timeout_ms = config_get_time(cfg, "smtpd_starttls_timeout") * 1000;
	e->limit_exceptions = cidrlist_parse(config_get(cfg, "smtpd_client_event_limit_exceptions"),
	    err, sizeof(err));
	if (e->limit_exceptions == NULL)
		fatal("smtpd_client_event_limit_exceptions: %s", err);
	listener_port(e);
	e->junk_limit = config_get_int(cfg, "smtpd_junk_command_limit");
	e->line_limit = config_get_int(cfg, "line_length_limit");
	e->disable_vrfy = config_get_bool(cfg, "disable_vrfy_command");
	const char *bl = config_get(cfg, "smtpd_forbid_bare_newline");
	e->bare_lf = strcmp(bl, "yes") == 0 ? BARE_LF_REJECT :
	    strcmp(bl, "no") == 0 ? BARE_LF_ALLOW : BARE_LF_NORMALIZE;
	e->mynetworks = cidrlist_parse(config_get(cfg, "mynetworks"), err, sizeof(err));
	if (e->mynetworks == NULL)
		fatal("mynetworks: %s", err);
	e->bare_lf_exclusions = cidrlist_parse(config_get(cfg, "smtpd_forbid_bare_newline_exclusions"),
	    err, sizeof(err));
	if (e->bare_lf_exclusions == NULL)
		fatal("smtpd_forbid_bare_newline_exclusions: %s", err);
	e->peername_lookup = config_get_bool(cfg, "smtpd_peername_lookup");
	e->greet_action = action_code(config_get(cfg, "postscreen_greet_action"));
	/* Postfix runs the pregreet test only where postscreen is enabled; we
	 * run it when asked for: an action other than ignore, or an explicit
	 * postscreen_greet_wait. The defaults alone never delay a client. */
	e->greet_wait_ms = e->greet_action != ACTION_IGNORE ||
	    config_is_set(cfg, "postscreen_greet_wait") ?
	    config_get_time(cfg, "postscreen_greet_wait") * 1000 : 0;
	e->greet_banner = config_get(cfg, "postscreen_greet_banner");
	e->greet_ttl_ms = config_get_time(cfg, "postscreen_greet_ttl") * 1000;
	e->dnsbl_sites = config_list(config_get(cfg, "postscreen_dnsbl_sites"));
	if (e->dnsbl_sites[0] == NULL) {
		config_list_free(e->dnsbl_sites);
		e->dnsbl_sites = NULL;
	}
	e->dnsbl_threshold = config_get_int(cfg, "postscreen_dnsbl_threshold");
	e->dnsbl_allow_threshold = config_get_int(cfg, "postscreen_dnsbl_allowlist_threshold");
	e->dnsbl_action = action_code(config_get(cfg, "postscreen_dnsbl_action"));
	for (int r = 0; r < SMTP_NROLES; r++) {
		const char *rn = engine_role_name(cfg, r);
		if (rn == NULL)
			continue;	/* an unused named-listener slot */
		for (int k = 0; k < RL_COUNT; k++) {
			const char *key = restriction_lists[k].key;
			if (!config_listener_key(key))	/* common/config_named.c's table */
				fatal("%s: read per listener but not in config_listener_key()", key);
			e->roles[r].lists[k] = restrictions_parse(cfg, key,
			    config_get_role(cfg, rn, key), err, sizeof(err));
			if (e->roles[r].lists[k] == NULL)
				fatal("%s/inet/%s: %s", rn, key, err);
		}
		e->roles[r].delay_reject = config_get_role_bool(cfg, rn, "smtpd_delay_reject");
		/* Pregreet only where the client waits for us: port 25. */
		e->roles[r].pregreet = r == ROLE_SMTP;
		e->roles[r].name = rn;
		e->roles[r].require_helo = config_get_role_bool(cfg, rn, "smtpd_helo_required");
		const char *level = config_get_role(cfg, rn, "smtpd_tls_security_level");
		e->roles[r].tls_encrypt = strcmp(level, "encrypt") == 0;
		e->roles[r].wrappermode = config_get_role_bool(cfg, rn, "smtpd_tls_wrappermode");
		e->roles[r].tls_may = strcmp(level, "none") != 0 && !e->roles[r].wrappermode;
		e->roles[r].sasl_enable = config_get_role_bool(cfg, rn, "smtpd_sasl_auth_enable");
		e->roles[r].auth_required = (r == ROLE_SUBMISSION || r == ROLE_SMTPS) &&
		    e->roles[r].sasl_enable;
		e->roles[r].content_filter = config_get_role(cfg, rn, "content_filter");
		role_overrides(&e->roles[r], config_get_role(cfg, rn, "receive_override_options"));
		struct role_cfg *rc = &e->roles[r];
		rc->tls_auth_only = config_get_role_bool(cfg, rn, "smtpd_tls_auth_only");
		rc->reject_unlisted = config_get_role_bool(cfg, rn, "smtpd_reject_unlisted_recipient");
		rc->hard_error_limit = config_get_role_int(cfg, rn, "smtpd_hard_error_limit");
		rc->soft_error_limit = config_get_role_int(cfg, rn, "smtpd_soft_error_limit");
		rc->error_sleep_ms = config_get_role_time(cfg, rn, "smtpd_error_sleep_time") * 1000;
		rc->conn_count_limit = config_get_role_int(cfg, rn,
		    "smtpd_client_connection_count_limit");
		rc->conn_rate_limit = config_get_role_int(cfg, rn, "smtpd_client_connection_rate_limit");
		rc->milter_daemon_name = config_get_role(cfg, rn, "milter_macro_daemon_name");
		/* permit_mynetworks, and the relay and submission decisions
		 * that follow from it; $mynetworks in other keys stays global */
		const char *mn = config_get_role(cfg, rn, "mynetworks");
		rc->mynetworks = strcmp(mn, config_get(cfg, "mynetworks")) == 0 ? e->mynetworks :
		    cidrlist_parse(mn, err, sizeof(err));
		if (rc->mynetworks == NULL)
			fatal("%s/inet/mynetworks: %s", rn, err);
	}
	e->resolver = resolve_open(cfg, err, sizeof(err));
	if (e->resolver == NULL)
		fatal("%s", err);
	e->tls_received_header = config_get_bool(cfg, "smtpd_tls_received_header");
	e->tls_loglevel = (int)config_get_int(cfg, "smtpd_tls_loglevel");
	e->auth_rate_limit = config_get_int(cfg, "smtpd_client_auth_rate_limit");
	e->rate_unit_ms = config_get_time(cfg, "anvil_rate_time_unit") * 1000;
	e->anvil.unit_ms = e->rate_unit_ms;
	e->auth_delay_ms = config_get_time(cfg, "smtpd_sasl_failure_delay") * 1000;
	e->sender_login_maps = maplist_open(config_get(cfg, "smtpd_sender_login_maps"), 0, err, sizeof(err));
	if (e->sender_login_maps == NULL)
		fatal("smtpd_sender_login_maps: %s", err);
	/* Key files may be root-only: read them before the chroot. */
	e->tls = tls_init(cfg, err, sizeof(err));
	if (e->tls == NULL)
		fatal("%s", err);
	for (int r = 0; r < SMTP_NROLES; r++)
		if (!tls_available(e->tls))
			e->roles[r].tls_may = 0;
	int any_sasl = 0;
	for (size_t i = 0; i < e->nports; i++)
		any_sasl |= e->roles[e->ports[i].role].sasl_enable;
	if (any_sasl) {
		/* Dovecot's socket: a relative smtpd_sasl_path is under
		 * queue_directory (Postfix's private/auth), before and after the
		 * chroot. A password file is read now, relative to where
		 * mailwarden was started, as check-config reads it. */
		const char *stype = config_get(cfg, "smtpd_sasl_type");
		if (strcmp(stype, "dovecot") == 0 && chdir(config_get(cfg, "queue_directory")) < 0)
			fatal("chdir %s: %s", config_get(cfg, "queue_directory"), strerror(errno));
		e->sasl = sasl_open(stype,
		    config_get(cfg, "smtpd_sasl_path"), err, sizeof(err));
		if (e->sasl == NULL)
			fatal("smtpd_sasl_path: %s", err);
	}
}

void engine_setup(struct engine *e, const struct config *cfg,
    const struct engine_listener *l, size_t n, int master_fd, int warden_fd)
{
	e->ports = xcalloc(n ? n : 1, sizeof(*e->ports));
	for (size_t i = 0; i < n; i++) {
		e->ports[i].eng = e;
		e->ports[i].fd = l[i].fd;
		e->ports[i].role = (enum smtp_role)l[i].role;
	}
	e->nports = n;
	e->io = &sock_session_io;
	engine_config(e, cfg);
	milters_setup(e, cfg, geteuid() == 0);
	cleanup_setup(e, cfg);
	dkimverify_setup(cfg);
	hosts_load(e);

	const char *qdir = config_get(cfg, "queue_directory");
	char path[1024];
	snprintf(path, sizeof(path), "%s/incoming", qdir);
	e->incoming_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (e->incoming_fd < 0)
		fatal("open %s: %s", path, strerror(errno));
	e->master_fd = master_fd;
	e->spool_dirfd = open(qdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (e->spool_dirfd < 0)
		fatal("open %s: %s", qdir, strerror(errno));
	e->bans = banfile_open(e->spool_dirfd, "warden/bans");
	e->warden_fd = warden_fd;
}

void engine_main(const struct config *cfg, const struct engine_listener *l, size_t n,
    int master_fd, int warden_fd)
{
	/* The process's one engine; signal and accept callbacks get it
	 * through their argument. */
	struct engine *e = xcalloc(1, sizeof(*e));
	log_set_service("smtpd");
	loop_init();
	engine_setup(e, cfg, l, n, master_fd, warden_fd);
	char err[512];
	if (dns_init(cfg, err, sizeof(err)) < 0)
		fatal("dns: %s", err);
	drop_privileges(e, config_get(cfg, "queue_directory"));
	signal(SIGPIPE, SIG_IGN);
	loop_signal(SIGTERM, on_term, e);
	loop_signal(SIGINT, on_term, e);
	loop_signal(SIGUSR1, on_retire, e);
	for (size_t i = 0; i < e->nports; i++)
		loop_watch(e->ports[i].fd, LOOP_READ, on_accept, &e->ports[i]);
	/* after chroot and setuid; the allow-list is in src/common/sandbox.c */
	if (sandbox_enter(cfg, SANDBOX_ENGINE, master_fd, err, sizeof(err)) < 0)
		fatal("%s", err);
	loop_run();
	exit(0);
}
