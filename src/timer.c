/* timer.c - timers: a heap per P (Go: runtime/time.go).
 *
 * Each P keeps the timers armed on it in a 4-ary min-heap under its own
 * lock.  A 4-ary heap is shallower than a binary one and its four children
 * share a cache line, so sift-down touches fewer lines.  Timers are embedded
 * in their owners (a sleeping G, a goro_timer), so the heap holds pointers
 * and arming a timer allocates only when a heap's array must grow.
 *
 * A timer goes into the heap of the P its caller holds (a goroutine going to
 * sleep: the P it runs on), or of some P when the caller holds none (a plain
 * thread, a callback fired by the timer M).  So goroutines sleeping on
 * different Ps never share a lock, and a timer usually fires on the P whose
 * goroutine armed it: the woken G lands in that P's run queue, ahead of
 * anything waiting in the global queue.
 *
 * Who fires timers (sched.c):
 *   - each M, every time it schedules, fires the due timers of its own P;
 *   - an M out of work fires those of the Ps it tries to steal from;
 *   - the first M to go idle (the timer M, stopm) sleeps until the earliest
 *     deadline over all Ps (adding an earlier timer wakes it, or starts an
 *     M to become the timer M when none sleeps: see kick); when it wakes
 *     it takes an idle P and fires every due timer on it;
 *   - timers a millisecond overdue while every P is busy in long-running
 *     code, or while the M meant to fire them waits for a CPU, are fired
 *     without a P by the timer M or sysmon (which leaves its long idle
 *     sleep when a timer is armed).
 *
 * A timer's callback runs without any heap lock held, on whichever thread
 * fired it, and must not block: it readies a G or sends without blocking.
 *
 * Locking: t->home is the heap t was last added to (NULL only before its
 * first add), and that heap's lock protects t->index.  Changing home takes
 * both heaps' locks, in address order.  goro__timer_del finds t through
 * home, checks under the lock that home still names that heap, and returns
 * only when, under that lock, t is in no heap and no callback of it runs
 * (t->running, raised under the lock that pops t): a callback re-arming
 * its own timer (a ticker) does so before its run ends, so the delete sees
 * either the run or the new arming.  The owner may free t once the delete
 * returns.
 *
 * Bubbles (bubble.c) keep a heap of their own, in no P: a timer armed by
 * a bubble's goroutine, or by a callback the bubble fires, goes there and
 * fires only when the bubble's fake clock reaches it.  Such heaps are
 * never freed (a timer's home may outlive its bubble); an ending bubble
 * empties its heap with goro__timers_clear.
 */
#include "runtime.h"
#include "list.h"

#include <sched.h>
#include <stdlib.h>

/* A heap entry keeps its timer's deadline beside the pointer, so sifting
 * compares without touching the timers themselves: they live inside Gs,
 * one stack page apart, and a 4-ary sift-down would otherwise read four
 * cold pages per level.  Only the moved entry's index is written back. */
struct goro__timer_entry {
    int64_t when;
    goro__timer *t;
};

static _Atomic int nrunning; /* callbacks in progress, over all heaps */

/* The timer whose callback this thread is running, if any, and whether
 * that callback deleted its own timer (its owner may then free it, so
 * goro__timers_run must not touch it once the callback returns). */
static __thread goro__timer *in_callback;
static __thread bool callback_released;

static void place(goro__timers *ts, size_t i, struct goro__timer_entry e)
{
    ts->heap[i] = e;
    e.t->index = i + 1;
}

static void sift_up(goro__timers *ts, size_t i)
{
    struct goro__timer_entry e = ts->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 4;
        if (ts->heap[parent].when <= e.when)
            break;
        place(ts, i, ts->heap[parent]);
        i = parent;
    }
    place(ts, i, e);
}

static void sift_down(goro__timers *ts, size_t i)
{
    struct goro__timer_entry e = ts->heap[i];
    for (;;) {
        size_t c = 4 * i + 1, best = i;
        int64_t when = e.when;
        for (size_t k = c; k < c + 4 && k < ts->len; k++) {
            if (ts->heap[k].when < when) {
                when = ts->heap[k].when;
                best = k;
            }
        }
        if (best == i)
            break;
        place(ts, i, ts->heap[best]);
        i = best;
    }
    place(ts, i, e);
}

static void publish_next(goro__timers *ts)
{
    atomic_store_explicit(&ts->next, ts->len ? ts->heap[0].when : INT64_MAX,
                          memory_order_release);
}

/* Makes room for one more entry; ts->lock held. */
static int reserve(goro__timers *ts)
{
    if (ts->len < ts->cap)
        return 0;
    size_t cap = ts->cap ? 2 * ts->cap : 64;
    struct goro__timer_entry *h = goro__realloc(ts->heap, cap * sizeof *h);
    if (!h)
        return ENOMEM;
    ts->heap = h;
    ts->cap = cap;
    return 0;
}

/* Inserts t, due at when, into ts; ts->lock held, room reserved. */
static void insert(goro__timers *ts, goro__timer *t, int64_t when)
{
    atomic_store_explicit(&t->home, ts, memory_order_relaxed);
    ts->heap[ts->len++] = (struct goro__timer_entry){.when = when, .t = t};
    sift_up(ts, ts->len - 1);
}

/* Removes heap[i]; ts->lock held. */
static void remove_at(goro__timers *ts, size_t i)
{
    struct goro__timer_entry last = ts->heap[--ts->len];

    ts->heap[i].t->index = 0;
    if (i < ts->len) {
        place(ts, i, last);
        if (i > 0 && last.when < ts->heap[(i - 1) / 4].when)
            sift_up(ts, i);
        else
            sift_down(ts, i);
    }
}

bool goro__timers_running(void)
{
    return atomic_load(&nrunning) > 0;
}

int64_t goro__timers_next(void)
{
    int n = atomic_load_explicit(&goro__s.nallp, memory_order_acquire);
    int64_t next = INT64_MAX;

    for (int i = 0; i < n; i++) {
        int64_t w = goro__timers_next_of(&goro__s.allp[i]->timers);
        if (w < next)
            next = w;
    }
    return next;
}

/* Wakes the timer M if when is earlier than it sleeps, or an idle M to
 * become the timer M if there is none.  Not with goro__s.lock held.
 *
 * With no M asleep at all (a plain thread arming a timer before any
 * goroutine ran, or every M busy), start one through wakep: it finds no
 * work and becomes the timer M in stopm, sleeping until when (Go:
 * wakeNetPoller).  Without that, nothing waited for the timer but sysmon,
 * which it wakes first if it sleeps long (after 100 ms of idleness, for a
 * second): the M may be slow to get a CPU, sysmon then fires the timer a
 * millisecond late (goro__sysmon_timer_added).  No wake-up is lost
 * when wakep starts nobody: it declines only if every P is busy (each
 * fires its timers as it schedules, and sysmon, awake while a P is busy,
 * fires overdue ones) or if an M spins, which reaches stopm later and,
 * under goro__s.lock, reads the heaps after we published t there. */
static void kick(int64_t when)
{
    goro__sysmon_timer_added(); /* its backstop, if it sleeps long */
    if (when >= atomic_load(&goro__s.timer_m_until))
        return;
    goro__lock_acquire(&goro__s.lock);
    goro__m *m = goro__s.timer_m ? goro__s.timer_m : goro__s.midle;
    if (m)
        goro__m_wake(m);
    goro__lock_release(&goro__s.lock);
    if (!m)
        goro__wakep();
}

/* The heap a timer armed by this thread goes to: its P's, or some P's. */
static goro__timers *heap_here(void)
{
    goro__m *m = goro__getm();
    goro__p *p = m ? m->p : NULL; /* only m itself writes m->p */

    if (!p) {
        int n = atomic_load_explicit(&goro__s.nprocs, memory_order_acquire);
        p = goro__s.allp[goro__rand64() % (uint64_t)n];
    }
    return &p->timers;
}

/* Locks a and b (b may equal a, or be NULL) in address order. */
static void lock_pair(goro__timers *a, goro__timers *b)
{
    if (!b || b == a) {
        goro__lock_acquire(&a->lock);
    } else {
        goro__lock_acquire(a < b ? &a->lock : &b->lock);
        goro__lock_acquire(a < b ? &b->lock : &a->lock);
    }
}

static void unlock_pair(goro__timers *a, goro__timers *b)
{
    if (b && b != a)
        goro__lock_release(&b->lock);
    goro__lock_release(&a->lock);
}

int goro__timer_add(goro__timer *t)
{
    int64_t when = t->when; /* t may be freed once the lock is dropped */
    goro__timers *ts = NULL, *old;
    bool earliest;

    if (when > GORO__WHEN_MAX)
        when = GORO__WHEN_MAX; /* INT64_MAX would read as an empty heap */
    goro__init();
    /* A timer armed in a bubble goes to the bubble's heap, which only the
     * bubble's fake clock fires (bubble.c); no thread sleeps on it. */
    if (unlikely(atomic_load_explicit(&goro__bubbles_live, memory_order_relaxed)))
        ts = goro__bubble_timers();
    bool bubbled = ts != NULL;
    if (!bubbled)
        ts = heap_here();
    /* Only this thread re-homes t (it is in no heap), so old stays put;
     * holding its lock too keeps a goro__timer_del that found t there from
     * reading t->index while we write it under ts's. */
    old = atomic_load_explicit(&t->home, memory_order_acquire);
    lock_pair(ts, old);
    if (reserve(ts) != 0) {
        unlock_pair(ts, old);
        return ENOMEM;
    }
    insert(ts, t, when);
    earliest = ts->heap[0].t == t;
    if (earliest)
        publish_next(ts);
    unlock_pair(ts, old);
    if (earliest && !bubbled)
        kick(when);
    return 0;
}

/* The running callback of t is over as far as t's owner is concerned:
 * from here the owner may free or re-arm t, so nothing may touch t after
 * this (goro__timers_run checks callback_released). */
static void release_running(goro__timer *t)
{
    if (!callback_released)
        atomic_fetch_sub_explicit(&t->running, 1, memory_order_release);
    callback_released = true;
}

void goro__timer_release(goro__timer *t)
{
    if (in_callback == t)
        release_running(t);
}

bool goro__timer_del(goro__timer *t)
{
    bool removed = false;

    /* Also wait out t's callback if it is running: the owner of t may free
     * or re-arm it as soon as we return.  Callbacks never block, so the wait
     * is short; a callback that re-arms its own timer (a ticker) is caught
     * by the next turn of the loop.  A callback deleting its own timer (a
     * context freed from its deadline callback) must not wait for itself. */
    for (;;) {
        goro__timers *ts = atomic_load_explicit(&t->home, memory_order_acquire);
        bool idle;

        if (!ts)
            return false; /* never armed */
        goro__lock_acquire(&ts->lock);
        if (atomic_load_explicit(&t->home, memory_order_relaxed) != ts) {
            goro__lock_release(&ts->lock); /* moved meanwhile */
            continue;
        }
        if (t->index != 0) {
            remove_at(ts, t->index - 1);
            publish_next(ts);
            removed = true;
        }
        if (in_callback == t) {
            /* Deleted from inside its own callback: this run is over as
             * far as the owner is concerned. */
            release_running(t);
            goro__lock_release(&ts->lock);
            return removed;
        }
        idle = atomic_load_explicit(&t->running, memory_order_acquire) == 0;
        goro__lock_release(&ts->lock);
        if (idle)
            return removed;
        sched_yield();
    }
}

int goro__timers_run(goro__timers *ts, int64_t now)
{
    enum { BATCH = 32 };
    goro__timer *batch[BATCH];
    int n = 0;

    while (goro__timers_next_of(ts) <= now) {
        int k = 0;

        /* Pop up to a batch of due timers under one lock hold, marking
         * each running: goro__timer_del waits for exactly those.  Other
         * threads may fire other timers of ts meanwhile. */
        goro__lock_acquire(&ts->lock);
        while (k < BATCH && ts->len > 0 && ts->heap[0].when <= now) {
            goro__timer *t = ts->heap[0].t;
            remove_at(ts, 0);
            atomic_fetch_add_explicit(&t->running, 1, memory_order_relaxed);
            batch[k++] = t;
        }
        /* Counted running before the heap looks empty: the deadlock
         * detector reads next, then nrunning. */
        atomic_fetch_add(&nrunning, k);
        publish_next(ts);
        goro__lock_release(&ts->lock);
        for (int i = 0; i < k; i++) {
            goro__timer *t = batch[i];
            in_callback = t;
            callback_released = false;
            t->fn(t);
            in_callback = NULL;
            if (!callback_released) /* else released: t may be gone */
                atomic_fetch_sub_explicit(&t->running, 1, memory_order_release);
            atomic_fetch_sub(&nrunning, 1);
        }
        n += k;
    }
    return n;
}

int goro__timers_run_all(int64_t now)
{
    int n = atomic_load_explicit(&goro__s.nallp, memory_order_acquire), fired = 0;

    for (int i = 0; i < n; i++)
        fired += goro__timers_run(&goro__s.allp[i]->timers, now);
    return fired;
}

void goro__timers_move(goro__timers *from, goro__timers *to)
{
    if (from == to)
        return;
    lock_pair(to, from);
    /* Without memory for them in to, the rest stay in from: every P's
     * heap, a dead P's too, is part of goro__timers_next and _run_all. */
    while (from->len > 0 && reserve(to) == 0) {
        struct goro__timer_entry e = from->heap[--from->len];
        insert(to, e.t, e.when);
    }
    publish_next(from);
    publish_next(to);
    unlock_pair(to, from);
}

void goro__timers_clear(goro__timers *ts)
{
    goro__lock_acquire(&ts->lock);
    for (size_t i = 0; i < ts->len; i++)
        ts->heap[i].t->index = 0;
    ts->len = 0;
    publish_next(ts);
    goro__lock_release(&ts->lock);
}

void goro__timers_kick(void)
{
    kick(goro__timers_next());
}

/* ---- claimable waits' deadlines (runtime.h) ----------------------------- */

/* g->timer's callback while g waits in a claimable wait with a deadline. */
static void claim_timeout_fn(goro__timer *t)
{
    goro__g *g = goro__container_of(t, goro__g, timer);

    /* The wait's sequence number is g->sel_seq, which cannot change before
     * the wait returns: the G deletes this timer first, waiting out a
     * running callback (goro__timer_del). */
    if (goro__claim(g, g->sel_seq, GORO_WAKE_TIMEOUT)) {
        goro__timer_release(t); /* g may exit and free its stack once readied */
        goro__ready(g);
    }
}

void goro__claim_arm_timeout(goro__g *g, int64_t when)
{
    g->timer.when = when;
    g->timer.fn = claim_timeout_fn;
    if (goro__timer_add(&g->timer) != 0)
        claim_timeout_fn(&g->timer); /* no memory: time out at once */
}
