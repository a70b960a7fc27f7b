/*
 * dkimverify — inbound DKIM verification at the end of DATA and the
 * Authentication-Results header (dkimverify.c), DMARC (RFC 7489) with it.
 */
#ifndef MW_SMTP_DKIMVERIFY_H
#define MW_SMTP_DKIMVERIFY_H
#include <stddef.h>

struct config;
struct session;
struct dkim_sig_result;

/* Engine set-up: dkim_verify, authserv_id. */
void dkimverify_setup(const struct config *cfg);
/* Verify the message being committed (mail from other clients): 0 done
 * (Authentication-Results written), 1 waiting for DNS (the session is
 * parked; data_commit runs again), -1 queue file error. */
int dkimverify_message(struct session *s);
/* dmarc_policy_enforce and a p=reject failure: the DATA is refused
 * (550 5.7.1, file dropped, transaction ended); 1 then, else 0. */
int dkimverify_dmarc_reject(struct session *s);
/* After the end record: a p=quarantine failure (enforced) into hold/. */
void dkimverify_after_finish(struct session *s);
/* The signatures' results of the transaction (for DMARC), or NULL. */
const struct dkim_sig_result *dkimverify_results(const struct session *s, size_t *n);
/* The transaction or session ended: cancel lookups, free. */
void dkimverify_free(struct session *s);
#endif
