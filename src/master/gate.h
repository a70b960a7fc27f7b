/*
 * gate — with a Redis cluster (warden_cluster), the first smtp engine
 * starts only once the ban engine answers on its control socket: the
 * warden serves it after its first pull of the fleet's bans in force (or
 * after its own 2 s wait without Redis), so a node that starts later
 * refuses a client banned elsewhere from its first session. The
 * listeners are bound before: clients wait in the backlog, nobody is
 * refused. Never blocks the master's loop (it relays the children's log
 * lines, the warden's too); opens anyway after GATE_MAX_MS.
 */
#ifndef MW_GATE_H
#define MW_GATE_H

/* 1 when the engine may start: no cluster, no ban engine wanted, or the
 * warden answered (or the wait ran out). Else 0, a probe is under way
 * and wake() is called when it ends. ctl_path is warden_socket. */
int gate_open(const char *cluster, const char *ctl_path, void (*wake)(void *));
#endif
