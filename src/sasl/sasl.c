/*
 * sasl — the public entry points: pick the backend by type from a table,
 * copy the question into a request record, and finish requests (callback
 * unless cancelled, wipe the password, free).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "sasl/sasl_int.h"

static const struct sasl_backend *backends[] = {
	&sasl_pwfile_backend,
	&sasl_dovecot_backend,
};

/* Open the backend named type on path; NULL and err on error. */
struct sasl *sasl_open(const char *type, const char *path, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (type && strcmp(type, backends[i]->type) == 0) {
			if (path == NULL || *path == '\0') {
				snprintf(err, errlen, "sasl %s: no path given", type);
				return NULL;
			}
			return backends[i]->open(path, err, errlen);
		}
	snprintf(err, errlen, "unknown sasl type '%s' (passwd-file or dovecot)",
	    type ? type : "");
	return NULL;
}

/* Close s; requests in flight are dropped without callbacks. */
void sasl_close(struct sasl *s)
{
	if (s)
		s->be->close(s);
}

/* Start one verification; the answer comes through done on the loop. */
struct sasl_req *sasl_check(struct sasl *s, const char *mech, const char *user,
    const char *pass, const char *client_addr, sasl_done_fn *done, void *arg)
{
	return sasl_check_flags(s, mech, user, pass, client_addr, 0, done, arg);
}

struct sasl_req *sasl_check_flags(struct sasl *s, const char *mech, const char *user,
    const char *pass, const char *client_addr, int flags, sasl_done_fn *done, void *arg)
{
	struct sasl_req *r = xcalloc(1, sizeof(*r));
	r->suspect = (flags & SASL_SUSPECT) != 0;
	r->secured = (flags & SASL_SECURED) != 0;
	r->s = s;
	r->done = done;
	r->arg = arg;
	r->mech = mech && strcmp(mech, "LOGIN") == 0 ? "LOGIN" : "PLAIN";
	r->user = xstrdup(user ? user : "");
	r->pass = xstrdup(pass ? pass : "");
	r->timer.slot = (size_t)-1;
	/* only an address-looking text goes into a protocol field */
	if (client_addr && strspn(client_addr, "0123456789abcdefABCDEF.:") == strlen(client_addr))
		str_copy(r->rip, sizeof(r->rip), client_addr);
	s->be->check(s, r);
	return r;
}

/* Cancel r: its callback never runs. */
void sasl_cancel(struct sasl_req *r)
{
	if (r == NULL)
		return;
	r->cancelled = 1;
	r->s->be->cancel(r->s, r);
}

void sasl_req_answer(struct sasl_req *r, enum sasl_result res, const char *why)
{
	r->result = res;
	str_copy(r->why, sizeof(r->why), why ? why : "");
}

void sasl_req_free(struct sasl_req *r)
{
	if (r->pass) {
		explicit_bzero(r->pass, strlen(r->pass));
		free(r->pass);
	}
	free(r->user);
	free(r->authuser);
	free(r);
}

void sasl_req_finish(struct sasl_req *r)
{
	if (!r->cancelled && r->done)
		r->done(r->arg, r->result, r->why, r->result == SASL_OK ? r->authuser : NULL);
	sasl_req_free(r);
}
