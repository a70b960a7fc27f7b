/*
 * dkimsign — DKIM signing of submitted mail at the end of DATA
 * (dkimsign.c).
 */
#ifndef MW_SMTP_DKIMSIGN_H
#define MW_SMTP_DKIMSIGN_H

struct session;

/* Sign the message being committed when its client submits mail (AUTH,
 * mynetworks) and a key signs for its From; 0, or -1 on a queue file
 * error (then the message gets 451). A signing failure is logged and the
 * message goes unsigned. */
int dkimsign_message(struct session *s);
#endif
