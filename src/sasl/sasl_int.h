/*
 * sasl_int — what the sasl backends share inside src/sasl: the request
 * record, the backend table entry, the password schemes and the worker
 * pool. Not for use outside src/sasl (the public API is sasl.h).
 */
#ifndef MW_SASL_INT_H
#define MW_SASL_INT_H
#include <stddef.h>
#include <stdint.h>

#include "common/loop.h"
#include "sasl/sasl.h"

#define SASL_MAX_USER 512
#define SASL_MAX_PASS 1024

struct sasl_req {
	struct sasl *s;
	sasl_done_fn *done;
	void *arg;
	int cancelled;			/* done must not run */
	int suspect;			/* SASL_SUSPECT: waits behind clean clients */
	int secured;			/* SASL_SECURED: the client is on TLS */
	struct sasl_req *next;		/* on exactly one list of its backend */
	/* the question */
	char *user;			/* lowercased for passwd-file */
	char *pass;			/* wiped before free */
	const char *mech;
	char rip[64];
	/* the answer */
	enum sasl_result result;
	char why[96];
	char *authuser;			/* OK: the backend's name for the user, or NULL */
	/* dovecot */
	unsigned id;
	int sent;
	struct loop_timer timer;
};

struct sasl_backend {
	const char *type;
	struct sasl *(*open)(const char *path, char *err, size_t errlen);
	void (*check)(struct sasl *s, struct sasl_req *r);
	void (*cancel)(struct sasl *s, struct sasl_req *r);
	void (*close)(struct sasl *s);
};

struct sasl {
	const struct sasl_backend *be;
	void *impl;			/* the backend's own state */
};

extern const struct sasl_backend sasl_pwfile_backend;
/* Worker threads and queue bound of passwd-file backends opened from now
 * on (defaults 2 and 1024; tests make the queue small). */
extern int sasl_pwfile_threads;
extern size_t sasl_pwfile_max_pending;
extern const struct sasl_backend sasl_dovecot_backend;

/* Free a request, wiping the password. */
void sasl_req_free(struct sasl_req *r);
/* Record the answer of r (the why text is truncated to fit). */
void sasl_req_answer(struct sasl_req *r, enum sasl_result res, const char *why);
/* Run r's callback unless cancelled, then free r. Loop thread only. */
void sasl_req_finish(struct sasl_req *r);

/* A password scheme of the passwd-file (pwscheme.c). */
struct pwscheme {
	const char *name;		/* "SHA512-CRYPT" */
	int is_crypt;			/* verified by crypt(3); else plain text */
	const char *prefixes;		/* accepted hash prefixes, '|'-separated; "" any */
	const char *gensalt;		/* crypt_gensalt prefix, NULL: cannot make */
	unsigned long rounds;		/* crypt_gensalt count, 0 its default */
};

/* The scheme called name (case-insensitive), or NULL. */
const struct pwscheme *pwscheme_find(const char *name);
/*
 * Split a password field into scheme and hash; a field without {SCHEME}
 * is CRYPT. 0 ok, -1 with a message (hash prefix wrong for the scheme,
 * unknown scheme, empty hash, crypt(3) cannot read it).
 */
int pwscheme_parse(const char *field, const struct pwscheme **sc, const char **hash,
    char *err, size_t errlen);
/* 1 when pass matches, else 0; constant-time comparison. work is a
 * struct crypt_data sized scratch area (pwscheme_work_size bytes). */
int pwscheme_verify(const struct pwscheme *sc, const char *hash, const char *pass, void *work);
size_t pwscheme_work_size(void);

/* The worker pool (worker.c): threads that run fn(arg) off the loop. */
struct sasl_pool;
typedef void sasl_work_fn(struct sasl_req *r, void *ctx, void *work);
/* A pool of nthreads (started on first use) bounded to max_pending. */
struct sasl_pool *sasl_pool_new(int nthreads, size_t max_pending, sasl_work_fn *fn, void *ctx);
/* Queue r; when full r is answered TEMPFAIL. done comes via the loop either way. */
void sasl_pool_submit(struct sasl_pool *p, struct sasl_req *r);
/* Mark r cancelled (it is freed when the pool is done with it). */
void sasl_pool_cancel(struct sasl_pool *p, struct sasl_req *r);
/* Stop the threads and free every request without callbacks. */
void sasl_pool_free(struct sasl_pool *p);
#endif
