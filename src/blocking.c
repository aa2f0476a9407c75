/* blocking.c - goro_blocking: run a call that blocks its thread on a pool
 * of threads, while the calling goroutine parks (Go does this implicitly
 * for system calls; goro asks for it explicitly).
 *
 * A request lives on the caller's stack: fn, arg, the caller's G.  Requests
 * queue FIFO under pool.lock.  Idle pool threads sleep on a futex; a
 * submission wakes one if any is idle, or starts a new thread while there
 * are fewer than the limit (GORO_BLOCKING_THREADS, default 128).  Threads
 * never exit: a pool that grew stays that size (a possible refinement:
 * retire threads idle for a minute).  The worker readies the caller after
 * fn returns; the caller's park releases pool.lock only once it is switched
 * out, so the worker cannot ready it early.
 */
#include "runtime.h"
#include "sanitizer.h"

#include <stdlib.h>

#define DEFAULT_THREADS 128

struct request {
    void (*fn)(void *);
    void *arg;
    goro__g *g;
    struct request *next;
};

static struct {
    goro__lock lock;            /* protects everything below */
    struct request *head, *tail;
    int threads, idle, max;
    _Atomic uint32_t wake;      /* futex the idle threads sleep on */
    _Atomic int outstanding;    /* requests queued or running (diagnostics) */
} pool = {.lock = GORO_LOCK_INIT};

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        struct request *r;

        goro__lock_acquire(&pool.lock);
        while (!(r = pool.head)) {
            uint32_t seen = atomic_load(&pool.wake);
            pool.idle++;
            goro__lock_release(&pool.lock);
            goro__futex_wait(&pool.wake, seen, -1);
            goro__lock_acquire(&pool.lock);
            pool.idle--;
        }
        pool.head = r->next;
        if (!pool.head)
            pool.tail = NULL;
        goro__lock_release(&pool.lock);

        goro__hb_acquire(r);
        r->fn(r->arg);
        goro__hb_release(r);
        goro__ready(r->g); /* r is on the caller's stack: do not touch it after */
        /* Only now: the deadlock check must not see a gap between the two. */
        atomic_fetch_sub(&pool.outstanding, 1);
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
    if (!pool.max) {
        const char *env = getenv("GORO_BLOCKING_THREADS");
        pool.max = env && atoi(env) > 0 ? atoi(env) : DEFAULT_THREADS;
    }
    if (pool.idle == 0 && pool.threads < pool.max) {
        if (goro__thread_start(worker, NULL, 0) == 0)
            pool.threads++;
        else if (pool.threads == 0) {
            goro__lock_release(&pool.lock);
            return EAGAIN;
        }
    }
    if (pool.tail)
        pool.tail->next = &r;
    else
        pool.head = &r;
    pool.tail = &r;
    atomic_fetch_add(&pool.outstanding, 1);
    if (pool.idle > 0) {
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
