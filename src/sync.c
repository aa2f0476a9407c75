/* sync.c - mutex, rwmutex, waitgroup, once, cond and weighted semaphore
 * (Go: sync/mutex.go, rwmutex.go, waitgroup.go, once.go, cond.go,
 * x/sync/semaphore, and the runtime's sema.go underneath).
 *
 * Everything parks through one internal primitive, the hand-off semaphore
 * (sem_acquire/sem_release below) kept inside each object in a
 * goro__waitlist: a count and a FIFO (or LIFO) queue of waiters under a
 * small futex lock.  A release with a waiter queued hands the unit straight
 * to that waiter, which wakes owning it; only with nobody waiting does the
 * count go up.  So a wake can never be lost or stolen, and no waiter record
 * outlives its wait: each lives on the waiting G's stack.
 *
 * The mutex and rwmutex are Go's algorithms word for word in structure: the
 * state word is changed by CAS, and the semaphore only parks and wakes.
 * Mutex state bits: locked, woken (a woken waiter is competing, so unlock
 * need not wake another), starving (ownership is handed to the queue head;
 * newcomers queue instead of barging), and the waiter count above them.
 *
 * Happens-before edges for ThreadSanitizer: unlock -> lock (mutex, both
 * rwmutex directions), done -> wait (waitgroup), fn -> every once_do
 * return, signal/broadcast -> wait return, release -> acquire (sema).
 */
#include "runtime.h"
#include "sanitizer.h"

#include <sched.h>

/* ---- waiters and the hand-off semaphore --------------------------------- */

typedef struct waiter {
    goro__sudog sg;             /* g, next, prev */
    int64_t n;                  /* weighted semaphore: units wanted */
} waiter;

/* A wait list's lock: the word goro__waitlist keeps in the public types
 * (src/layout.c pins it to a goro__lock).  A cond's is taken before its
 * mutex's; lock order: docs/internals.md, "Lock order". */
static inline goro__lock *wl_lock(goro__waitlist *wl)
{
    return (goro__lock *)&wl->lock;
}

static void wl_push(goro__waitlist *wl, waiter *w, bool lifo)
{
    waiter *head = wl->head, *tail = wl->tail;

    w->sg.next = w->sg.prev = NULL;
    if (!head) {
        wl->head = wl->tail = w;
    } else if (lifo) {
        w->sg.next = &head->sg;
        head->sg.prev = &w->sg;
        wl->head = w;
    } else {
        w->sg.prev = &tail->sg;
        tail->sg.next = &w->sg;
        wl->tail = w;
    }
}

static waiter *wl_pop(goro__waitlist *wl)
{
    waiter *w = wl->head;
    if (w) {
        wl->head = (waiter *)w->sg.next;
        if (wl->head)
            ((waiter *)wl->head)->sg.prev = NULL;
        else
            wl->tail = NULL;
    }
    return w;
}

static void unlock_wl(void *wl)
{
    goro__lock_release(wl_lock(wl));
}

/* Whether some bubble is alive: then mutexes tell bubble.c who holds them,
 * so that a bubble's goroutine waiting for one held outside the bubble is
 * not taken as durably blocked.  One relaxed load otherwise. */
static inline bool bubbles(void)
{
    return unlikely(atomic_load_explicit(&goro__bubbles_live, memory_order_relaxed) != 0);
}

/* Waits for one unit of wl (Go: semacquire1).  lifo: a waiter that already
 * waited goes back to the head of the queue (mutex fairness).  mutex: the
 * goro_mutex whose queue wl is, else NULL. */
static void sem_acquire(goro__waitlist *wl, bool lifo, enum goro__wait_reason why,
                        const goro_mutex *mutex)
{
    waiter w = {.sg.g = goro__getg()};

    goro__lock_acquire(wl_lock(wl));
    if (wl->count > 0) {
        wl->count--;
        goro__lock_release(wl_lock(wl));
        return;
    }
    if (unlikely(!w.sg.g))
        goro__throw("out of memory for a plain thread's waiter");
    /* Whether this wait is durable in a bubble, decided under the queue's
     * lock, as mutex_owned re-decides it for every waiter queued. */
    if (mutex && bubbles())
        goro__bubble_mutex_wait(w.sg.g, mutex);
    wl_push(wl, &w, lifo);
    goro__park(unlock_wl, wl, why); /* the releaser handed us the unit */
}

/* Releases one unit: to the first waiter if any (Go: semrelease1). */
static void sem_release(goro__waitlist *wl)
{
    waiter *w;

    goro__lock_acquire(wl_lock(wl));
    w = wl_pop(wl);
    if (!w)
        wl->count++;
    goro__lock_release(wl_lock(wl));
    if (w)
        goro__ready(w->sg.g);
}

/* ---- mutex (Go: sync.Mutex) --------------------------------------------- */

#define MUTEX_LOCKED 1
#define MUTEX_WOKEN 2
#define MUTEX_STARVING 4
#define MUTEX_WAITER_SHIFT 3
#define STARVATION_NS (1 * GORO_MILLISECOND)

static inline int32_t load32(const int32_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline bool cas32(int32_t *p, int32_t old, int32_t new)
{
    return __atomic_compare_exchange_n(p, &old, new, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/* Go: sync_runtime_canSpin.  Spinning pays only on a multicore machine
 * with other Ps running (one of them may be about to unlock). */
static bool can_spin(int iter)
{
    return iter < 4 && atomic_load_explicit(&goro__s.nprocs, memory_order_relaxed) > 1 &&
           goro__s.ncpu > 1;
}

static void do_spin(void)
{
    for (int i = 0; i < 30; i++)
        goro__cpu_relax();
}

static void mutex_lock_slow(goro_mutex *m)
{
    int64_t wait_start = 0;
    bool starving = false, awoke = false;
    int iter = 0;
    int32_t old = load32(&m->state);

    for (;;) {
        /* Spin while it is locked (not starving: then it goes to the queue
         * head).  Set woken so unlock does not wake someone needlessly. */
        if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) == MUTEX_LOCKED && can_spin(iter)) {
            if (!awoke && !(old & MUTEX_WOKEN) && (old >> MUTEX_WAITER_SHIFT) != 0 &&
                cas32(&m->state, old, old | MUTEX_WOKEN))
                awoke = true;
            do_spin();
            iter++;
            old = load32(&m->state);
            continue;
        }
        int32_t new = old;
        if (!(old & MUTEX_STARVING))
            new |= MUTEX_LOCKED;       /* newcomers don't take a starving mutex */
        if (old & (MUTEX_LOCKED | MUTEX_STARVING))
            new += 1 << MUTEX_WAITER_SHIFT;
        if (starving && (old & MUTEX_LOCKED))
            new |= MUTEX_STARVING;     /* switch to hand-off mode */
        if (awoke) {
            GORO_CHECK(new & MUTEX_WOKEN, "sync: inconsistent mutex state");
            new &= ~MUTEX_WOKEN;
        }
        if (!cas32(&m->state, old, new)) {
            old = load32(&m->state);
            continue;
        }
        if (!(old & (MUTEX_LOCKED | MUTEX_STARVING)))
            return; /* locked it with the CAS */
        bool lifo = wait_start != 0;
        if (!wait_start)
            wait_start = goro__nanotime();
        sem_acquire(&m->sema, lifo, WR_MUTEX, m);
        starving = starving || goro__nanotime() - wait_start > STARVATION_NS;
        old = load32(&m->state);
        if (old & MUTEX_STARVING) {
            /* Handed off to us: the mutex is ours.  Take the lock bit and
             * leave the queue; leave starvation mode if we did not starve
             * or nobody else waits. */
            GORO_CHECK(!(old & (MUTEX_LOCKED | MUTEX_WOKEN)) && (old >> MUTEX_WAITER_SHIFT) != 0,
                       "sync: inconsistent mutex state");
            int32_t delta = MUTEX_LOCKED - (1 << MUTEX_WAITER_SHIFT);
            if (!starving || (old >> MUTEX_WAITER_SHIFT) == 1)
                delta -= MUTEX_STARVING;
            __atomic_fetch_add(&m->state, delta, __ATOMIC_ACQ_REL);
            return;
        }
        awoke = true;
        iter = 0;
    }
}

/* m was just locked by the caller, with some bubble alive: lists m under
 * the caller's bubble, if any, and counts each goroutine queued on m
 * durably blocked exactly when it is of that same bubble (bubble.c, "Mutex
 * holders").  A waiter decides alone only under m's queue lock, so this
 * re-decision covers every wait that looked before the listing: the lock
 * and the listing are two steps, as are the unlisting and the unlock, and
 * a waiter that looks in between finds m held outside its bubble.  Without
 * it such a waiter stays counted running while the holder sleeps, and the
 * bubble's clock never moves again. */
static void mutex_owned(goro_mutex *m)
{
    goro__waitlist *wl = &m->sema;
    goro__bubble *idle = NULL;

    goro__lock_acquire(wl_lock(wl));
    uint64_t holder = goro__bubble_mutex_locked(m);
    for (waiter *w = wl->head; w; w = (waiter *)w->sg.next) {
        goro__bubble *b = goro__bubble_mutex_rewait(w->sg.g, holder);
        if (b)
            idle = b;
    }
    goro__lock_release(wl_lock(wl));
    if (idle)
        goro__bubble_idle(idle); /* a holder outside its goroutines: a timer callback */
}

void goro_mutex_lock(goro_mutex *m)
{
    goro__note_thread();
    if (!cas32(&m->state, 0, MUTEX_LOCKED))
        mutex_lock_slow(m);
    goro__hb_acquire(m);
    if (bubbles())
        mutex_owned(m);
}

int goro_mutex_trylock(goro_mutex *m)
{
    goro__note_thread();
    int32_t old = load32(&m->state);
    if (old & (MUTEX_LOCKED | MUTEX_STARVING))
        return EBUSY;
    if (!cas32(&m->state, old, old | MUTEX_LOCKED))
        return EBUSY;
    goro__hb_acquire(m);
    if (bubbles())
        mutex_owned(m);
    return 0;
}

void goro_mutex_unlock(goro_mutex *m)
{
    goro__note_thread();
    if (bubbles())
        goro__bubble_mutex_unlocked(m);
    goro__hb_release(m);
    int32_t new = __atomic_add_fetch(&m->state, -MUTEX_LOCKED, __ATOMIC_ACQ_REL);
    if (new == 0)
        return;
    GORO_CHECK(((new + MUTEX_LOCKED) & MUTEX_LOCKED) != 0, "sync: unlock of unlocked mutex");
    if (!(new & MUTEX_STARVING)) {
        int32_t old = new;
        for (;;) {
            /* Nobody to wake, or someone already woken, or the lock was
             * taken again: done. */
            if ((old >> MUTEX_WAITER_SHIFT) == 0 ||
                (old & (MUTEX_LOCKED | MUTEX_WOKEN | MUTEX_STARVING)))
                return;
            new = (old - (1 << MUTEX_WAITER_SHIFT)) | MUTEX_WOKEN;
            if (cas32(&m->state, old, new)) {
                sem_release(&m->sema);
                return;
            }
            old = load32(&m->state);
        }
    }
    /* Starving: hand the mutex to the queue head. */
    sem_release(&m->sema);
}

/* ---- rwmutex (Go: sync.RWMutex) ----------------------------------------- */

#define MAX_READERS (1 << 30)

void goro_rwmutex_rlock(goro_rwmutex *rw)
{
    goro__note_thread();
    if (__atomic_add_fetch(&rw->readers, 1, __ATOMIC_ACQ_REL) < 0)
        sem_acquire(&rw->reader_sem, false, WR_RWMUTEX_R, NULL); /* a writer is pending */
    goro__hb_acquire(&rw->w);
}

void goro_rwmutex_runlock(goro_rwmutex *rw)
{
    goro__note_thread();
    goro__hb_release(&rw->readers);
    int32_t r = __atomic_add_fetch(&rw->readers, -1, __ATOMIC_ACQ_REL);
    if (r < 0) {
        GORO_CHECK(r + 1 != 0 && r + 1 != -MAX_READERS, "sync: runlock of unlocked rwmutex");
        /* The last reader out lets the waiting writer in. */
        if (__atomic_add_fetch(&rw->departing, -1, __ATOMIC_ACQ_REL) == 0)
            sem_release(&rw->writer_sem);
    }
}

void goro_rwmutex_lock(goro_rwmutex *rw)
{
    goro__note_thread();
    goro_mutex_lock(&rw->w); /* against other writers */
    /* Announce the writer: new readers now block.  r readers are inside. */
    int32_t r = __atomic_add_fetch(&rw->readers, -MAX_READERS, __ATOMIC_ACQ_REL) + MAX_READERS;
    if (r != 0 && __atomic_add_fetch(&rw->departing, r, __ATOMIC_ACQ_REL) != 0)
        sem_acquire(&rw->writer_sem, false, WR_RWMUTEX_W, NULL);
    goro__hb_acquire(&rw->readers);
}

void goro_rwmutex_unlock(goro_rwmutex *rw)
{
    goro__note_thread();
    goro__hb_release(&rw->w);
    int32_t r = __atomic_add_fetch(&rw->readers, MAX_READERS, __ATOMIC_ACQ_REL);
    GORO_CHECK(r < MAX_READERS, "sync: unlock of unlocked rwmutex");
    for (int32_t i = 0; i < r; i++)
        sem_release(&rw->reader_sem); /* the readers that queued meanwhile */
    goro_mutex_unlock(&rw->w);
}

/* ---- waitgroup (Go: sync.WaitGroup) ------------------------------------- */

int goro_waitgroup_add(goro_waitgroup *wg, int n)
{
    goro__note_thread();
    if (n < 0)
        goro__hb_release(wg);
    uint64_t state = __atomic_add_fetch(&wg->state, (uint64_t)(int64_t)n << 32, __ATOMIC_ACQ_REL);
    int32_t v = (int32_t)(state >> 32);
    uint32_t w = (uint32_t)state;

    if (v < 0) {
        /* Undo: Go panics here; we report it and leave the counter alone. */
        __atomic_fetch_sub(&wg->state, (uint64_t)(int64_t)n << 32, __ATOMIC_ACQ_REL);
        return EINVAL;
    }
    if (v > 0 || w == 0)
        return 0;
    /* Counter hit zero with waiters: nobody can add or wait concurrently
     * (that would be misuse, as in Go), so reset and wake them all. */
    __atomic_store_n(&wg->state, 0, __ATOMIC_RELEASE);
    for (; w != 0; w--)
        sem_release(&wg->sema);
    return 0;
}

int goro_waitgroup_done(goro_waitgroup *wg)
{
    return goro_waitgroup_add(wg, -1);
}

void goro_waitgroup_wait(goro_waitgroup *wg)
{
    goro__note_thread();
    for (;;) {
        uint64_t state = __atomic_load_n(&wg->state, __ATOMIC_ACQUIRE);
        if ((int32_t)(state >> 32) == 0)
            break;
        if (__atomic_compare_exchange_n(&wg->state, &state, state + 1, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            sem_acquire(&wg->sema, false, WR_WAITGROUP, NULL);
            break;
        }
    }
    goro__hb_acquire(wg);
}

/* ---- once (Go: sync.Once) ----------------------------------------------- */

void goro_once_do(goro_once *once, void (*fn)(void *), void *arg)
{
    goro__note_thread();
    if (__atomic_load_n(&once->done, __ATOMIC_ACQUIRE)) {
        goro__hb_acquire(once);
        return;
    }
    goro_mutex_lock(&once->m);
    if (!once->done) {
        fn(arg);
        goro__hb_release(once);
        __atomic_store_n(&once->done, 1, __ATOMIC_RELEASE);
    }
    goro_mutex_unlock(&once->m);
}

/* ---- cond (Go: sync.Cond) ----------------------------------------------- */

void goro_cond_wait(goro_cond *c, goro_mutex *m)
{
    waiter w = {.sg.g = goro__getg()};

    goro__note_thread();

    if (unlikely(!w.sg.g))
        goro__throw("out of memory for a plain thread's waiter");
    /* Queue first, then unlock m: a signal sent after our unlock finds us
     * queued, and cannot ready us before we are parked, since it needs the
     * queue lock that the park releases. */
    goro__lock_acquire(wl_lock(&c->waiters));
    wl_push(&c->waiters, &w, false);
    goro_mutex_unlock(m);
    goro__park(unlock_wl, &c->waiters, WR_COND);
    goro__hb_acquire(c);
    goro_mutex_lock(m);
}

void goro_cond_signal(goro_cond *c)
{
    waiter *w;

    goro__note_thread();

    goro__hb_release(c);
    goro__lock_acquire(wl_lock(&c->waiters));
    w = wl_pop(&c->waiters);
    goro__lock_release(wl_lock(&c->waiters));
    if (w)
        goro__ready(w->sg.g);
}

void goro_cond_broadcast(goro_cond *c)
{
    waiter *all;

    goro__note_thread();

    goro__hb_release(c);
    goro__lock_acquire(wl_lock(&c->waiters));
    all = c->waiters.head;
    c->waiters.head = c->waiters.tail = NULL;
    goro__lock_release(wl_lock(&c->waiters));
    while (all) {
        waiter *w = all;
        all = (waiter *)w->sg.next; /* read before the G runs and its stack moves on */
        goro__ready(w->sg.g);
    }
}

/* ---- weighted semaphore (Go: x/sync/semaphore.Weighted) ----------------- */

/* Grants units to queued waiters in FIFO order while the head fits.
 * wl lock held; returns the chain of waiters to ready. */
static waiter *sema_grant(goro_sema *s)
{
    waiter *ready = NULL, **tail = &ready;
    waiter *w;

    while ((w = s->waiters.head) && s->size - s->cur >= w->n) {
        wl_pop(&s->waiters);
        s->cur += w->n;
        w->sg.next = NULL;
        *tail = w;
        tail = (waiter **)&w->sg.next;
    }
    return ready;
}

int goro_sema_acquire(goro_sema *s, int64_t n)
{
    waiter w = {.n = n};

    goro__note_thread();

    if (n < 0 || n > s->size)
        return EINVAL;
    goro__lock_acquire(wl_lock(&s->waiters));
    if (s->size - s->cur >= n && !s->waiters.head) {
        s->cur += n;
        goro__lock_release(wl_lock(&s->waiters));
        goro__hb_acquire(s);
        return 0;
    }
    w.sg.g = goro__getg();
    if (unlikely(!w.sg.g)) {
        goro__lock_release(wl_lock(&s->waiters));
        return ENOMEM;
    }
    wl_push(&s->waiters, &w, false);
    goro__park(unlock_wl, &s->waiters, WR_SEMA); /* woken with the units granted */
    goro__hb_acquire(s);
    return 0;
}

int goro_sema_try_acquire(goro_sema *s, int64_t n)
{
    int e = 0;

    goro__note_thread();

    if (n < 0)
        return EINVAL;
    goro__lock_acquire(wl_lock(&s->waiters));
    if (s->size - s->cur >= n && !s->waiters.head)
        s->cur += n;
    else
        e = EAGAIN;
    goro__lock_release(wl_lock(&s->waiters));
    if (!e)
        goro__hb_acquire(s);
    return e;
}

int goro_sema_release(goro_sema *s, int64_t n)
{
    waiter *ready;

    goro__note_thread();

    if (n < 0)
        return EINVAL;
    goro__hb_release(s);
    goro__lock_acquire(wl_lock(&s->waiters));
    if (n > s->cur) {
        goro__lock_release(wl_lock(&s->waiters));
        return EINVAL; /* released more than held (Go panics) */
    }
    s->cur -= n;
    ready = sema_grant(s);
    goro__lock_release(wl_lock(&s->waiters));
    while (ready) {
        waiter *w = ready;
        ready = (waiter *)w->sg.next;
        goro__ready(w->sg.g);
    }
    return 0;
}
