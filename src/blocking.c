/* blocking.c - goro_blocking: run a call that blocks its thread on a pool
 * of threads, while the calling goroutine parks (Go does this implicitly
 * for system calls; goro asks for it explicitly).
 *
 * A request lives on the caller's stack: fn, arg, the caller's G.  Requests
 * queue FIFO under pool.lock.  Idle pool threads sleep on a futex.  Threads
 * never exit: a pool that grew stays that size (a possible refinement:
 * retire threads idle for a minute).  The worker readies the caller after
 * fn returns; the caller's park releases pool.lock only once it is switched
 * out, so the worker cannot ready it early.
 *
 * The pool's rule: a request never waits for a thread that is running
 * another request while the pool is below its limit (GORO_BLOCKING_THREADS,
 * default 128), because the calls may wait for each other (a rendezvous
 * of eight calls must see all eight run).  So each thread is counted as
 * free from its start until it takes a request, and again once it is back
 * under the lock after one; a submission that would leave more requests
 * queued than free threads starts a thread.  Counting idle threads instead
 * is not enough: a thread woken for one request still counts as idle until
 * it runs, so the next submission, seeing it, starts no thread and queues
 * behind a call that may never return.  At the limit, requests queue and
 * run as threads finish theirs; calls that wait for more calls than the
 * limit wait forever.  Invariant, under pool.lock, below the limit:
 * queued <= nfree.  Each free thread takes a queued request before it
 * sleeps; a submission wakes a sleeper whenever one is counted.
 */
#include "list.h"
#include "runtime.h"
#include "sanitizer.h"

#include <limits.h>
#include <stdlib.h>

#define DEFAULT_THREADS 128

struct request {
    void (*fn)(void *);
    void *arg;
    goro__g *g;
    goro__list node;            /* on pool.queue */
};

static struct {
    goro__lock lock;            /* protects everything down to max; a leaf:
                                 * lock order: docs/internals.md, "Lock order" */
    goro__list queue;           /* of struct request, FIFO */
    int queued;                 /* requests in the queue */
    int threads;                /* threads started */
    int nfree;                  /* threads not running a request */
    int sleeping;               /* threads on the futex (or about to be) */
    int max;                    /* GORO_BLOCKING_THREADS */
    _Atomic uint32_t wake;      /* futex the idle threads sleep on */
    _Atomic int outstanding;    /* requests queued or running (diagnostics) */
} pool = {.lock = GORO_LOCK_INIT, .queue = GORO_LIST_INIT(pool.queue)};

static void *worker(void *arg)
{
    (void)arg;
    goro__lock_acquire(&pool.lock);
    for (;;) {
        goro__list *n;

        /* The wake count is read under the lock: a submission after the
         * release bumps it, so futex_wait then returns at once. */
        while (!(n = goro__list_pop_front(&pool.queue))) {
            uint32_t seen = atomic_load(&pool.wake);
            pool.sleeping++;
            goro__lock_release(&pool.lock);
            goro__futex_wait(&pool.wake, seen, -1);
            goro__lock_acquire(&pool.lock);
            pool.sleeping--;
        }
        struct request *r = goro__container_of(n, struct request, node);
        pool.queued--;
        pool.nfree--;
        goro__lock_release(&pool.lock);

        goro__hb_acquire(r);
        r->fn(r->arg);
        goro__hb_release(r);
        goro__ready(r->g); /* r is on the caller's stack: do not touch it after */
        /* Only now: the deadlock check must not see a gap between the two. */
        atomic_fetch_sub(&pool.outstanding, 1);

        goro__lock_acquire(&pool.lock);
        pool.nfree++;
    }
    return NULL;
}

static void unlock_pool(void *arg)
{
    (void)arg;
    goro__lock_release(&pool.lock);
}

int goro_blocking(void (*fn)(void *), void *arg)
{
    struct request r = {.fn = fn, .arg = arg};
    goro__m *m;

    if (!fn)
        return EINVAL;
    m = goro__getm();
    if (!m || !m->curg) {
        fn(arg); /* a plain thread may block itself */
        return 0;
    }
    r.g = m->curg;

    goro__lock_acquire(&pool.lock);
    if (!pool.max)
        pool.max = (int)goro__env_int("GORO_BLOCKING_THREADS", DEFAULT_THREADS, 1, INT_MAX);
    /* Keep queued <= nfree below the limit (see the top of the file). */
    if (pool.queued + 1 > pool.nfree && pool.threads < pool.max) {
        if (goro__thread_start(worker, NULL, 0) == 0) {
            pool.threads++;
            pool.nfree++;
        } else {
            goro__lock_release(&pool.lock);
            return EAGAIN; /* no thread is free and none can start */
        }
    }
    goro__list_push_back(&pool.queue, &r.node);
    pool.queued++;
    atomic_fetch_add(&pool.outstanding, 1);
    if (pool.sleeping > 0) {
        atomic_fetch_add(&pool.wake, 1);
        goro__futex_wake(&pool.wake, 1);
    }
    goro__hb_release(&r);
    goro__park(unlock_pool, NULL, WR_BLOCKING);
    goro__hb_acquire(&r);
    return 0;
}

int goro__blocking_outstanding(void)
{
    return atomic_load(&pool.outstanding);
}
