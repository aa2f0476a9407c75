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

static struct {
    goro__lock lock;
    goro__timer **heap;         /* heap[0] is the earliest */
    size_t len, cap;
    _Atomic int64_t next;       /* heap[0]->when, or INT64_MAX */
    goro__timer *running;       /* callback in progress (one at a time) */
} timers = {.lock = GORO_LOCK_INIT, .next = INT64_MAX};

/* The timer whose callback this thread is running, if any. */
static __thread goro__timer *in_callback;

static void place(size_t i, goro__timer *t)
{
    timers.heap[i] = t;
    t->index = i + 1;
}

static void sift_up(size_t i)
{
    goro__timer *t = timers.heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 4;
        if (timers.heap[parent]->when <= t->when)
            break;
        place(i, timers.heap[parent]);
        i = parent;
    }
    place(i, t);
}

static void sift_down(size_t i)
{
    goro__timer *t = timers.heap[i];
    for (;;) {
        size_t c = 4 * i + 1, best = i;
        int64_t when = t->when;
        for (size_t k = c; k < c + 4 && k < timers.len; k++) {
            if (timers.heap[k]->when < when) {
                when = timers.heap[k]->when;
                best = k;
            }
        }
        if (best == i)
            break;
        place(i, timers.heap[best]);
        i = best;
    }
    place(i, t);
}

static void publish_next(void)
{
    atomic_store_explicit(&timers.next, timers.len ? timers.heap[0]->when : INT64_MAX,
                          memory_order_release);
}

/* Removes heap[i]; timers.lock held. */
static void remove_at(size_t i)
{
    goro__timer *t = timers.heap[i];
    goro__timer *last = timers.heap[--timers.len];

    t->index = 0;
    if (i < timers.len) {
        place(i, last);
        if (i > 0 && last->when < timers.heap[(i - 1) / 4]->when)
            sift_up(i);
        else
            sift_down(i);
    }
}

bool goro__timers_running(void)
{
    goro__lock_acquire(&timers.lock);
    bool busy = timers.running != NULL;
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
        goro__timer **h = goro__realloc(timers.heap, cap * sizeof *h);
        if (!h) {
            goro__lock_release(&timers.lock);
            return ENOMEM;
        }
        timers.heap = h;
        timers.cap = cap;
    }
    timers.heap[timers.len++] = t;
    sift_up(timers.len - 1);
    earliest = timers.heap[0] == t;
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
        if (timers.running != t || in_callback == t) {
            goro__lock_release(&timers.lock);
            return removed;
        }
        goro__lock_release(&timers.lock);
        sched_yield();
    }
}

int goro__timers_run(int64_t now)
{
    int n = 0;

    for (;;) {
        goro__timer *t;
        goro__lock_acquire(&timers.lock);
        /* Callbacks run one at a time, so that goro__timer_del can tell
         * whether t's is in progress; wait for the previous one before
         * popping, so a popped timer is always the running one. */
        while (timers.running) {
            goro__lock_release(&timers.lock);
            sched_yield();
            goro__lock_acquire(&timers.lock);
        }
        if (timers.len == 0 || timers.heap[0]->when > now) {
            publish_next();
            goro__lock_release(&timers.lock);
            return n;
        }
        t = timers.heap[0];
        remove_at(0);
        publish_next();
        timers.running = t;
        goro__lock_release(&timers.lock);
        in_callback = t;
        t->fn(t);
        in_callback = NULL;
        goro__lock_acquire(&timers.lock);
        timers.running = NULL;
        goro__lock_release(&timers.lock);
        n++;
    }
}
