/*
 * loop — epoll + timer heap + signalfd. One per process.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/util.h"

struct watch {
	loop_io_fn *fn;
	void *arg;
	int events;
};

struct idle_cb {
	loop_idle_fn *fn;
	void *arg;
};

static int ep = -1;
static struct watch *watches;
static size_t nwatches;
static struct loop_timer **heap;
static size_t heap_len, heap_cap;
static int sigfd = -1;
static sigset_t sigmask;
static struct { loop_signal_fn *fn; void *arg; } sighandlers[65];
static struct idle_cb *idles;
static size_t nidles, idle_cap;
static int running;

static void signal_event(int fd, int events, void *arg);

void loop_init(void)
{
	if (ep >= 0)
		close(ep);
	if (sigfd >= 0)
		close(sigfd);
	sigfd = -1;
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		fatal("epoll_create1: %s", strerror(errno));
	free(watches);
	watches = NULL;
	nwatches = 0;
	heap_len = 0;
	nidles = 0;
	sigemptyset(&sigmask);
	memset(sighandlers, 0, sizeof(sighandlers));
}

static void watch_grow(int fd)
{
	if ((size_t)fd < nwatches)
		return;
	size_t n = nwatches ? nwatches : 64;
	while (n <= (size_t)fd)
		n *= 2;
	watches = xrealloc(watches, n * sizeof(*watches));
	memset(watches + nwatches, 0, (n - nwatches) * sizeof(*watches));
	nwatches = n;
}

void loop_watch(int fd, int events, loop_io_fn *fn, void *arg)
{
	struct epoll_event ev = { 0 };
	watch_grow(fd);
	int op = watches[fd].fn ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	ev.events = (events & LOOP_READ ? EPOLLIN : 0) |
	    (events & LOOP_WRITE ? EPOLLOUT : 0);
	ev.data.fd = fd;
	if (op == EPOLL_CTL_MOD && watches[fd].events == events) {
		watches[fd].fn = fn;
		watches[fd].arg = arg;
		return;
	}
	if (epoll_ctl(ep, op, fd, &ev) < 0)
		fatal("epoll_ctl(%d): %s", fd, strerror(errno));
	watches[fd].fn = fn;
	watches[fd].arg = arg;
	watches[fd].events = events;
}

void loop_unwatch(int fd)
{
	if (fd < 0 || (size_t)fd >= nwatches || watches[fd].fn == NULL)
		return;
	if (epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL) < 0 && errno != EBADF)
		log_warn("epoll_ctl del %d: %s", fd, strerror(errno));
	watches[fd].fn = NULL;
	watches[fd].arg = NULL;
	watches[fd].events = 0;
}

/* Timer heap: min-heap on when. */
static void heap_swap(size_t a, size_t b)
{
	struct loop_timer *t = heap[a];
	heap[a] = heap[b];
	heap[b] = t;
	heap[a]->slot = a;
	heap[b]->slot = b;
}

static void heap_up(size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (heap[p]->when <= heap[i]->when)
			break;
		heap_swap(p, i);
		i = p;
	}
}

static void heap_down(size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < heap_len && heap[l]->when < heap[m]->when)
			m = l;
		if (r < heap_len && heap[r]->when < heap[m]->when)
			m = r;
		if (m == i)
			break;
		heap_swap(i, m);
		i = m;
	}
}

static int timer_armed(const struct loop_timer *t)
{
	return t->fn != NULL && t->slot < heap_len && heap[t->slot] == t;
}

void loop_timer_clear(struct loop_timer *t)
{
	if (!timer_armed(t))
		return;
	size_t i = t->slot;
	heap_len--;
	if (i != heap_len) {
		heap[i] = heap[heap_len];
		heap[i]->slot = i;
		heap_down(i);
		heap_up(i);
	}
	t->slot = (size_t)-1;
}

void loop_timer_set(struct loop_timer *t, uint64_t ms, loop_timer_fn *fn, void *arg)
{
	loop_timer_clear(t);
	t->when = clock_mono_ms() + ms;
	t->fn = fn;
	t->arg = arg;
	if (heap_len == heap_cap) {
		heap_cap = heap_cap ? heap_cap * 2 : 64;
		heap = xrealloc(heap, heap_cap * sizeof(*heap));
	}
	heap[heap_len] = t;
	t->slot = heap_len++;
	heap_up(t->slot);
}

void loop_signal(int signo, loop_signal_fn *fn, void *arg)
{
	sigaddset(&sigmask, signo);
	if (sigprocmask(SIG_BLOCK, &sigmask, NULL) < 0)
		fatal("sigprocmask: %s", strerror(errno));
	sighandlers[signo].fn = fn;
	sighandlers[signo].arg = arg;
	int fd = signalfd(sigfd, &sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		fatal("signalfd: %s", strerror(errno));
	if (sigfd < 0) {
		sigfd = fd;
		loop_watch(sigfd, LOOP_READ, signal_event, NULL);
	}
}

static void signal_event(int fd, int events, void *arg)
{
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int s = (int)si.ssi_signo;
		if (s > 0 && s < 65 && sighandlers[s].fn)
			sighandlers[s].fn(s, sighandlers[s].arg);
	}
}

void loop_at_idle(loop_idle_fn *fn, void *arg)
{
	for (size_t i = 0; i < nidles; i++)
		if (idles[i].fn == fn && idles[i].arg == arg)
			return;
	if (nidles == idle_cap) {
		idle_cap = idle_cap ? idle_cap * 2 : 8;
		idles = xrealloc(idles, idle_cap * sizeof(*idles));
	}
	idles[nidles].fn = fn;
	idles[nidles].arg = arg;
	nidles++;
}

void loop_cancel_idle(loop_idle_fn *fn, void *arg)
{
	for (size_t i = 0; i < nidles; i++)
		if (idles[i].fn == fn && idles[i].arg == arg) {
			memmove(idles + i, idles + i + 1, (nidles - i - 1) * sizeof(*idles));
			nidles--;
			return;
		}
}

void loop_exit(void)
{
	running = 0;
}

void loop_run(void)
{
	struct epoll_event evs[256];

	running = 1;
	while (running) {
		int timeout = -1;
		if (nidles)
			timeout = 0;
		else if (heap_len) {
			uint64_t now = clock_mono_ms();
			timeout = heap[0]->when <= now ? 0 :
			    (int)(heap[0]->when - now > 60000 ? 60000 : heap[0]->when - now);
		}
		int n = epoll_wait(ep, evs, 256, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("epoll_wait: %s", strerror(errno));
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if ((size_t)fd >= nwatches || watches[fd].fn == NULL)
				continue;
			int e = 0;
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				e |= LOOP_READ;
			if (evs[i].events & (EPOLLOUT | EPOLLERR))
				e |= LOOP_WRITE;
			watches[fd].fn(fd, e, watches[fd].arg);
		}
		uint64_t now = clock_mono_ms();
		while (heap_len && heap[0]->when <= now) {
			struct loop_timer *t = heap[0];
			loop_timer_clear(t);
			t->fn(t->arg);
		}
		/* Idle callbacks run after a whole batch of events: this is where
		 * group commit happens. A callback may re-register itself. */
		/* One at a time, so a callback may cancel a later one. Callbacks
		 * added meanwhile wait for the next iteration. */
		for (size_t cnt = nidles; cnt > 0 && nidles > 0; cnt--) {
			struct idle_cb cb = idles[0];
			memmove(idles, idles + 1, (nidles - 1) * sizeof(*idles));
			nidles--;
			cb.fn(cb.arg);
		}
	}
}
