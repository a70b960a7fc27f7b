/*
 * worker — the pool of threads that verify password hashes off the event
 * loop (STYLE.md's one allowed exception). The loop appends requests to a
 * bounded queue; a worker takes one, runs the backend's fn (crypt), and
 * puts it on the done list; an eventfd wakes the loop, which runs the
 * callbacks. Beyond max_pending a request is answered TEMPFAIL at once,
 * still through the done list, so the callback never runs inside
 * sasl_check. Threads start on first use, i.e. after fork and chroot.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "sasl/sasl_int.h"

struct sasl_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sasl_req *head, *tail;	/* waiting for a worker: clean clients */
	struct sasl_req *shead, *stail;	/* and suspect ones, served when head is empty */
	size_t npending, max_pending;
	struct sasl_req *done;		/* answered, waiting for the loop */
	int efd;
	int stop;
	int nthreads, started;
	pthread_t *th;
	sasl_work_fn *fn;
	void *ctx;
};

static void *pool_thread(void *arg)
{
	struct sasl_pool *p = arg;
	void *work = xmalloc(pwscheme_work_size());
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->head == NULL && p->shead == NULL)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		struct sasl_req *r;
		if (p->head) {
			r = p->head;
			p->head = r->next;
			if (p->head == NULL)
				p->tail = NULL;
		} else {
			r = p->shead;
			p->shead = r->next;
			if (p->shead == NULL)
				p->stail = NULL;
		}
		p->npending--;
		pthread_mutex_unlock(&p->mu);
		p->fn(r, p->ctx, work);
		pthread_mutex_lock(&p->mu);
		r->next = p->done;
		p->done = r;
		uint64_t one = 1;
		if (write(p->efd, &one, sizeof(one)) != (ssize_t)sizeof(one) && errno != EAGAIN)
			log_error("sasl worker: eventfd write: %s", strerror(errno));
	}
	pthread_mutex_unlock(&p->mu);
	free(work);
	return NULL;
}

/* The loop side: run the callbacks of everything answered so far. */
static void pool_wake(int fd, int events, void *arg)
{
	struct sasl_pool *p = arg;
	uint64_t v;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_error("sasl worker: eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&p->mu);
	struct sasl_req *list = p->done;
	p->done = NULL;
	pthread_mutex_unlock(&p->mu);
	/* the list is newest first: answer in arrival order */
	struct sasl_req *rev = NULL;
	while (list) {
		struct sasl_req *n = list->next;
		list->next = rev;
		rev = list;
		list = n;
	}
	while (rev) {
		struct sasl_req *n = rev->next;
		sasl_req_finish(rev);
		rev = n;
	}
}

struct sasl_pool *sasl_pool_new(int nthreads, size_t max_pending, sasl_work_fn *fn, void *ctx)
{
	struct sasl_pool *p = xcalloc(1, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->max_pending = max_pending;
	p->nthreads = nthreads;
	p->fn = fn;
	p->ctx = ctx;
	p->efd = -1;
	return p;
}

static void pool_start(struct sasl_pool *p)
{
	p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->efd < 0)
		fatal("sasl: eventfd: %s", strerror(errno));
	p->th = xcalloc((size_t)p->nthreads, sizeof(*p->th));
	for (int i = 0; i < p->nthreads; i++) {
		int e = pthread_create(&p->th[i], NULL, pool_thread, p);
		if (e != 0)
			fatal("sasl: cannot start a password worker: %s", strerror(e));
	}
	loop_watch(p->efd, LOOP_READ, pool_wake, p);
	p->started = 1;
}

void sasl_pool_submit(struct sasl_pool *p, struct sasl_req *r)
{
	if (!p->started)
		pool_start(p);
	pthread_mutex_lock(&p->mu);
	r->next = NULL;
	if (p->npending >= p->max_pending) {
		sasl_req_answer(r, SASL_TEMPFAIL, "too many authentications in progress");
		r->next = p->done;
		p->done = r;
		uint64_t one = 1;
		if (write(p->efd, &one, sizeof(one)) != (ssize_t)sizeof(one) && errno != EAGAIN)
			log_error("sasl: eventfd write: %s", strerror(errno));
	} else {
		struct sasl_req **head = r->suspect ? &p->shead : &p->head;
		struct sasl_req **tail = r->suspect ? &p->stail : &p->tail;
		if (*tail)
			(*tail)->next = r;
		else
			*head = r;
		*tail = r;
		p->npending++;
		pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
}

void sasl_pool_cancel(struct sasl_pool *p, struct sasl_req *r)
{
	/* still waiting for a worker: drop it now; otherwise the done list
	 * frees it without a callback (r->cancelled is set) */
	pthread_mutex_lock(&p->mu);
	struct sasl_req **head = r->suspect ? &p->shead : &p->head;
	struct sasl_req **tail = r->suspect ? &p->stail : &p->tail;
	for (struct sasl_req **pp = head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			if (*tail == r)
				*tail = prev;
			p->npending--;
			pthread_mutex_unlock(&p->mu);
			sasl_req_free(r);
			return;
		}
	pthread_mutex_unlock(&p->mu);
}

static void free_list(struct sasl_req *r)
{
	while (r) {
		struct sasl_req *n = r->next;
		sasl_req_free(r);
		r = n;
	}
}

void sasl_pool_free(struct sasl_pool *p)
{
	if (p == NULL)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->mu);
		p->stop = 1;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		for (int i = 0; i < p->nthreads; i++)
			pthread_join(p->th[i], NULL);
		loop_unwatch(p->efd);
		close(p->efd);
		free(p->th);
	}
	free_list(p->head);
	free_list(p->shead);
	free_list(p->done);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}
