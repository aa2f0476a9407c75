/* timer.c - the runtime's timer heap (Go: runtime/time.go).
 *
 * One 4-ary min-heap of goro__timer records ordered by deadline, under one
 * lock.  A 4-ary heap is shallower than a binary one and its four children
 * share a cache line of indices, so sift-down touches fewer lines.
 * Timers are embedded in their owners (a sleeping G, a goro_timer), so the
 * heap holds pointers and arming a timer allocates only when the heap's
 * array must grow.
 *
 * Who fires timers: every M checks the earliest deadline (heap_next, read
 * without the lock) each time it schedules; the first M to go idle sleeps on
 * its futex until that deadline (sched.c: stopm, "timer M"), and adding an
 * earlier timer wakes it; sysmon fires timers that are more than a
 * millisecond overdue, when every M is busy in long-running code.
 *
 * A timer's callback runs without the heap lock held, on whichever thread
 * fired it, and must not block: it readies a G or sends without blocking.
 *
 * Shortcut in place: one global heap and lock.  Per-P heaps (Go 1.14+) scale
 * better when thousands of goroutines sleep on many cores at once.
 */
#include "runtime.h"

#include <sched.h>
#include <stdlib.h>

/* A heap entry keeps its timer's deadline beside the pointer, so sifting
 * compares without touching the timers themselves: they live inside Gs,
 * one stack page apart, and a 4-ary sift-down would otherwise read four
 * cold pages per level.  Only the moved entry's index is written back. */
struct entry {
    int64_t when;
    goro__timer *t;
};

static struct {
    goro__lock lock;
    struct entry *heap;         /* heap[0] is the earliest */
    size_t len, cap;
    _Atomic int64_t next;       /* heap[0].when, or INT64_MAX */
    int nrunning;               /* callbacks in progress */
} timers = {.lock = GORO_LOCK_INIT, .next = INT64_MAX};

/* The timer whose callback this thread is running, if any, and whether
 * that callback deleted its own timer (its owner may then free it, so
 * goro__timers_run must not touch it once the callback returns). */
static __thread goro__timer *in_callback;
static __thread bool callback_released;

static void place(size_t i, struct entry e)
{
    timers.heap[i] = e;
    e.t->index = i + 1;
}

static void sift_up(size_t i)
{
    struct entry e = timers.heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 4;
        if (timers.heap[parent].when <= e.when)
            break;
        place(i, timers.heap[parent]);
        i = parent;
    }
    place(i, e);
}

static void sift_down(size_t i)
{
    struct entry e = timers.heap[i];
    for (;;) {
        size_t c = 4 * i + 1, best = i;
        int64_t when = e.when;
        for (size_t k = c; k < c + 4 && k < timers.len; k++) {
            if (timers.heap[k].when < when) {
                when = timers.heap[k].when;
                best = k;
            }
        }
        if (best == i)
            break;
        place(i, timers.heap[best]);
        i = best;
    }
    place(i, e);
}

static void publish_next(void)
{
    atomic_store_explicit(&timers.next, timers.len ? timers.heap[0].when : INT64_MAX,
                          memory_order_release);
}

/* Removes heap[i]; timers.lock held. */
static void remove_at(size_t i)
{
    struct entry last = timers.heap[--timers.len];

    timers.heap[i].t->index = 0;
    if (i < timers.len) {
        place(i, last);
        if (i > 0 && last.when < timers.heap[(i - 1) / 4].when)
            sift_up(i);
        else
            sift_down(i);
    }
}

bool goro__timers_running(void)
{
    goro__lock_acquire(&timers.lock);
    bool busy = timers.nrunning > 0;
    goro__lock_release(&timers.lock);
    return busy;
}

int64_t goro__timers_next(void)
{
    return atomic_load_explicit(&timers.next, memory_order_acquire);
}

/* Wakes the timer M if t is now the earliest deadline and it sleeps past
 * it, or an idle M to become the timer M if there is none. */
static void kick(int64_t when)
{
    if (when >= atomic_load(&goro__s.timer_m_until))
        return;
    goro__lock_acquire(&goro__s.lock);
    goro__m *m = goro__s.timer_m ? goro__s.timer_m : goro__s.midle;
    if (m)
        goro__m_wake(m);
    goro__lock_release(&goro__s.lock);
}

int goro__timer_add(goro__timer *t)
{
    int64_t when = t->when; /* t may be freed once the lock is dropped */
    bool earliest;

    goro__lock_acquire(&timers.lock);
    if (timers.len == timers.cap) {
        size_t cap = timers.cap ? 2 * timers.cap : 64;
        struct entry *h = goro__realloc(timers.heap, cap * sizeof *h);
        if (!h) {
            goro__lock_release(&timers.lock);
            return ENOMEM;
        }
        timers.heap = h;
        timers.cap = cap;
    }
    timers.heap[timers.len++] = (struct entry){.when = when, .t = t};
    sift_up(timers.len - 1);
    earliest = timers.heap[0].t == t;
    if (earliest)
        publish_next();
    goro__lock_release(&timers.lock);
    if (earliest)
        kick(when);
    return 0;
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
        goro__lock_acquire(&timers.lock);
        if (t->index != 0) {
            remove_at(t->index - 1);
            publish_next();
            removed = true;
        }
        if (in_callback == t && !callback_released) {
            /* Deleted from inside its own callback: this run is over as
             * far as the owner is concerned. */
            t->running--;
            timers.nrunning--;
            callback_released = true;
        }
        if (t->running == 0 || in_callback == t) {
            goro__lock_release(&timers.lock);
            return removed;
        }
        goro__lock_release(&timers.lock);
        sched_yield();
    }
}

int goro__timers_run(int64_t now)
{
    enum { BATCH = 32 };
    goro__timer *batch[BATCH];
    int n = 0;

    for (;;) {
        int k = 0;

        /* Pop up to a batch of due timers under one lock hold, marking
         * each running: goro__timer_del waits for exactly those.  Other
         * threads may fire other timers meanwhile. */
        goro__lock_acquire(&timers.lock);
        while (k < BATCH && timers.len > 0 && timers.heap[0].when <= now) {
            goro__timer *t = timers.heap[0].t;
            remove_at(0);
            t->running++;
            batch[k++] = t;
        }
        timers.nrunning += k;
        publish_next();
        goro__lock_release(&timers.lock);
        if (k == 0)
            return n;
        for (int i = 0; i < k; i++) {
            in_callback = batch[i];
            callback_released = false;
            batch[i]->fn(batch[i]);
            in_callback = NULL;
            if (callback_released)
                continue; /* it deleted itself, and may be gone */
            /* From here the owner may free or re-arm the timer: it is
             * told by running dropping, under the lock. */
            goro__lock_acquire(&timers.lock);
            batch[i]->running--;
            timers.nrunning--;
            goro__lock_release(&timers.lock);
        }
        n += k;
    }
}
