/*
 * dkimverify — inbound DKIM verification at the end of DATA and the
 * Authentication-Results header (dkimverify.c).
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
/* The signatures' results of the transaction (for DMARC), or NULL. */
const struct dkim_sig_result *dkimverify_results(const struct session *s, size_t *n);
/* The transaction or session ended: cancel lookups, free. */
void dkimverify_free(struct session *s);
#endif
