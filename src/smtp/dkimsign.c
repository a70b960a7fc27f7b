/*
 * dkimsign — the engine's DKIM signing step (the one call at the end of
 * DATA, in data_commit): mail from AUTH or mynetworks clients, after the
 * header/body checks and the milters changed it and before its end
 * record and 250, is read back from its queue file, signed with the keys
 * the master loaded (src/dkim/dkim_conf.c) and the DKIM-Signature fields
 * are put first in the file's message.
 */
#include <stdio.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "dkim/dkim_conf.h"
#include "mail/spool.h"
#include "smtp/dkimsign.h"
#include "smtp/session.h"

int dkimsign_message(struct session *s)
{
	if (dkim_conf_nkeys() == 0 || !(s->sasl_username || s->in_mynetworks))
		return 0;
	struct buf body, sig;
	char err[256];
	buf_init(&body, (size_t)-1 / 2);
	buf_init(&sig, 1 << 16);
	int rc = spool_body_read(s->w, &body);
	int n = rc < 0 ? -1 : dkim_conf_sign(body.data ? body.data : "", body.len, clock_wall(),
	    &sig, err, sizeof(err));
	if (rc < 0)
		log_warn("%s: dkim: queue file read error: %m", s->w->id);
	else if (n < 0)
		log_warn("%s: dkim: cannot sign: %s", s->w->id, err);
	else if (n > 0 && (rc = spool_body_replace(s->w, sig.data, sig.len, body.data, body.len)) < 0)
		log_warn("%s: dkim: queue file write error: %m", s->w->id);
	else if (n > 0)
		log_info("%s: dkim: signed, %d signature%s", s->w->id, n, n == 1 ? "" : "s");
	buf_free(&body);
	buf_free(&sig);
	return rc < 0 ? -1 : 0;
}
