/*
 * pickup_dkim — DKIM signing of mail from the sendmail command: pickup
 * (in the queue process, chrooted as mail_owner) signs each message after
 * header/body checks and non_smtpd_milters, just before its end record,
 * with the keys the master loaded and this process inherited
 * (src/dkim/dkim_conf.c). Every local submission is signed when a key
 * matches its From: the set-gid sendmail is the only way in.
 */
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "dkim/dkim_conf.h"
#include "mail/spool.h"
#include "queue/pickup_int.h"

int pickup_dkim_sign(struct spool_writer *w)
{
	if (dkim_conf_nkeys() == 0)
		return 0;
	struct buf body, sig;
	char err[256];
	buf_init(&body, (size_t)-1 / 2);
	buf_init(&sig, 1 << 16);
	int rc = spool_body_read(w, &body);
	int n = rc < 0 ? -1 : dkim_conf_sign(body.data ? body.data : "", body.len, clock_wall(),
	    &sig, err, sizeof(err));
	if (rc < 0)
		log_warn("%s: dkim: queue file read error", w->id);
	else if (n < 0)
		log_warn("%s: dkim: cannot sign: %s", w->id, err);
	else if (n > 0 && (rc = spool_body_replace(w, sig.data, sig.len, body.data, body.len)) < 0)
		log_warn("%s: dkim: queue file write error", w->id);
	else if (n > 0)
		log_info("%s: dkim: signed, %d signature%s", w->id, n, n == 1 ? "" : "s");
	buf_free(&body);
	buf_free(&sig);
	return rc < 0 ? -1 : 0;
}
