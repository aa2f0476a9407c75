/* bubble.c - bubbles: isolated goroutines on a fake clock (Go:
 * testing/synctest, and the bubble bookkeeping of runtime/synctest.go).
 *
 * goro_bubble_run starts a goroutine in a new bubble; every goroutine it
 * starts, transitively, joins it (goro__bubble_spawn).  The bubble owns:
 *   - a fake clock, now, which goro_now() returns inside it.  It starts at
 *     the epoch (GORO_BUBBLE_EPOCH, default 2000-01-01T00:00:00Z, as
 *     nanoseconds since the Unix epoch) and moves only here, in advance();
 *   - a timer heap in no P (timer.c): every timer armed inside the bubble
 *     (sleeps, timed waits, goro_timer, tickers, context deadlines, I/O
 *     deadlines) goes there, and nothing but advance() fires it;
 *   - two counts: total (its goroutines) and running (those not durably
 *     blocked).
 *
 * Durable blocking.  A goroutine of the bubble is durably blocked when only
 * another goroutine of the bubble, or the bubble's clock, can wake it:
 * parked on a channel of the bubble (send, receive, select whose every
 * channel is the bubble's), in goro_sleep or a timed wait, on a cond,
 * waitgroup or semaphore, on a mutex held by a goroutine of the bubble, or
 * in goro_bubble_wait.  I/O (the poller), goro_blocking, rwmutexes (as in
 * Go), a mutex held outside, a channel made outside and a locked thread are
 * not durable: something outside may wake the goroutine, so the clock must
 * wait for it.  The wait reason says which kind of wait it is; a wait on
 * an object of another bubble (or none) sets g->bubble_foreign first
 * (goro__bubble_wait_on, goro__bubble_mutex_wait).
 *
 * The counting protocol, under b->lock:
 *   park (finish, on g0 or the next G): a durable park sets
 *     g->bubble_blocked and decrements running BEFORE the park's unlockf
 *     releases the wait queue's lock.  No waker can find g before that
 *     unlock, so goro__bubble_ready always sees bubble_blocked set:
 *       broken:  unlockf; [waker: ready(g), running++ not done: not
 *                blocked yet]; running-- => running one too low
 *       fixed:   running--, blocked; unlockf; [waker: blocked, running++]
 *     The unlockf may arm the wait's timer (goro_sleep, a select timeout,
 *     an fd deadline), so the park also counts itself in parking until
 *     its unlockf has run, and the clock moves only with parking at 0:
 *       broken:  running-- (0); [advance() on another thread, which has
 *                just readied the goro_bubble_wait caller, looks again:
 *                no timer => "deadlock", or it fires a later timer
 *                first]; unlockf arms the sleep's timer
 *       fixed:   running--, parking++; unlockf arms it; parking--, and
 *                only then may the clock move
 *   ready: clears bubble_blocked and increments running, before the G is
 *     queued, so a G that may run is always counted running.
 *   spawn: total++ and running++ before the new G is queued.
 *   exit: total-- and running--.
 * Whoever brings running and parking to 0 with total > 0 calls advance()
 * after dropping its own locks (the park's unlockf has run by then).
 *
 * advance() is the bubble's only clock: with every goroutine durably
 * blocked it (1) wakes the goro_bubble_wait caller if there is one, else
 * (2) sets now to the earliest timer and fires every timer due then, with
 * this thread marked as the bubble's (tls_bubble) so that the callbacks
 * read the fake clock, re-arm into the bubble's heap and start goroutines
 * in it, else (3) with no timer left, reports a deadlock.  It runs until
 * some goroutine is running again; b->advancing keeps a second caller
 * (a goroutine woken by a callback that blocks again at once) out, and
 * the first one looks again under the lock before it stops, so no idle
 * moment is lost.
 *
 * Lifetimes.  goro_bubble_run waits until total is 0 and no advance or
 * park runs (done, ended()), then empties the timer heap and puts the bubble back in a pool:
 * bubbles and their heaps are never freed, because a late advance() call,
 * a timer's home or a G's pointer may still name one (a pooled or reused
 * bubble makes such a call a harmless no-op, as every decision is taken
 * again under the lock).  Channels and mutexes record the bubble's id,
 * unique per run, never its address.  After a deadlock goro_bubble_run
 * returns EDEADLK at once; the bubble is orphaned, its goroutines stay
 * blocked (leaked), and the last of them to exit, if any ever does,
 * returns the bubble to the pool.
 *
 * Mutex holders.  goro_mutex has no room for its holder's bubble, so while
 * any bubble is alive, mutexes locked by a bubble's goroutine are listed
 * here (mutex address, bubble id): a waiter is durably blocked only if the
 * mutex is listed under its own bubble.  A linear list under one lock:
 * fine for the few mutexes a test holds at once; a hash table if it ever
 * shows in a profile.  With no bubble alive, mutexes pay one relaxed load.
 * A waiter looks when it queues, under the mutex's queue lock; and since
 * the holder changes after that (and a lock and its listing are two steps,
 * as are the unlisting and the unlock), every new holder, of a bubble or
 * not, looks at the queue again under that lock and counts each waiter
 * anew (goro__bubble_mutex_rewait, from sync.c's mutex_owned):
 *   broken:  A locks m; [B queues on m: unlisted, not durable]; A lists
 *            m, sleeps holding it => B counted running, the clock stops
 *   fixed:   ... A lists m and, under m's queue lock, counts B durably
 *            blocked; A sleeps => the clock moves
 *
 * Happens-before edges for ThreadSanitizer, as Go's race detector sees
 * synctest: each goroutine of the bubble releases on the bubble when it
 * parks (goro__park) and when its function returns (gmain);
 * goro_bubble_wait and goro_bubble_run acquire after they wake.  The
 * clock's jumps add no edge: two goroutines that race stay reported.
 *
 * Lock order (docs/internals.md, "Lock order", 14-16): wait queue locks
 * (channel, waitlist, poller) -> b->lock; held_lock and pool_lock are
 * leaves.  b->lock is never held while a timer fires or a G is readied.
 */
#include "runtime.h"
#include "sanitizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* 2000-01-01T00:00:00Z in seconds since the Unix epoch (Go's synctest). */
#define DEFAULT_EPOCH 946684800LL
/* The latest epoch whose nanoseconds leave a century of fake time before
 * int64_t overflows (year 2162). */
#define MAX_EPOCH 6000000000LL
/* Timer rounds in a row that wake nobody before the bubble counts as
 * deadlocked: a ticker whose channel nobody reads would otherwise move the
 * clock forever. */
#define MAX_IDLE_ROUNDS 100000

struct goro__bubble {
    goro__lock lock;            /* rank 14 in docs/internals.md, "Lock order" */
    /* protected by lock */
    uint64_t id;                /* unique per goro_bubble_run */
    int total;                  /* goroutines in the bubble */
    int running;                /* of which not durably blocked */
    int parking;                /* durable parks whose unlockf has not run */
    bool advancing;             /* advance() runs */
    bool done;                  /* total reached 0, no advance or park runs */
    bool deadlocked;            /* reported; goro_bubble_run told */
    bool run_gone;              /* goro_bubble_run returned EDEADLK */
    goro__g *waiter;            /* in goro_bubble_wait */
    goro__g *run_waiter;        /* in goro_bubble_run */
    /* written under lock, read anywhere (goro_now) */
    _Atomic int64_t now;
    /* fixed at allocation */
    goro__timers *timers;       /* never freed (see Lifetimes) */
    goro__bubble *pool_next;    /* pool (pool_lock) */
};

_Atomic int goro__bubbles_live;
static _Atomic int nadvancing;
static _Atomic uint64_t idgen;

static goro__lock pool_lock = GORO_LOCK_INIT;
static goro__bubble *pool;

/* The bubble this thread acts for while it fires a bubble's timers, runs
 * a bubble goroutine's park unlockf, or spawns a bubble's first goroutine;
 * takes precedence over the running G's bubble. */
static __thread goro__bubble *tls_bubble;

/* Mutexes held by bubble goroutines (see Mutex holders). */
struct held {
    const void *m;
    uint64_t id;
};
static goro__lock held_lock = GORO_LOCK_INIT;
static struct held *held;
static size_t nheld, capheld;

/* ---- clock -------------------------------------------------------------- */

/* GORO_BUBBLE_EPOCH: seconds since the Unix epoch, or a UTC time written
 * YYYY-MM-DDTHH:MM:SSZ.  Anything else (or out of range): the default. */
static int64_t epoch_ns(void)
{
    static _Atomic int64_t cached = -1;
    int64_t ns = atomic_load_explicit(&cached, memory_order_relaxed);
    if (ns >= 0)
        return ns;

    long long secs = DEFAULT_EPOCH;
    const char *v = getenv("GORO_BUBBLE_EPOCH");
    int Y, M, D, h, mi, s, n = 0;
    if (v && sscanf(v, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &Y, &M, &D, &h, &mi, &s, &n) == 6 &&
        v[n] == '\0') {
        struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D,
                        .tm_hour = h, .tm_min = mi, .tm_sec = s};
        if (M >= 1 && M <= 12 && D >= 1 && D <= 31 && h < 24 && mi < 60 && s < 61) {
            time_t t = timegm(&tm);
            if (t >= 0 && t <= MAX_EPOCH)
                secs = t;
        }
    } else {
        secs = goro__env_int("GORO_BUBBLE_EPOCH", DEFAULT_EPOCH, 0, MAX_EPOCH);
    }
    ns = (int64_t)secs * GORO_SECOND;
    atomic_store_explicit(&cached, ns, memory_order_relaxed);
    return ns;
}

int64_t goro_now(void)
{
    goro__bubble *b = goro__bubble_cur();
    if (unlikely(b))
        return atomic_load_explicit(&b->now, memory_order_relaxed);
    return goro__nanotime();
}

goro__bubble *goro__bubble_cur_slow(void)
{
    if (tls_bubble)
        return tls_bubble;
    goro__m *m = goro__getm();
    return m && m->curg ? m->curg->bubble : NULL;
}

uint64_t goro__bubble_id(const goro__bubble *b)
{
    return b ? b->id : 0;
}

goro__timers *goro__bubble_timers(void)
{
    goro__bubble *b = goro__bubble_cur();
    return b ? b->timers : NULL;
}

bool goro__bubbles_advancing(void)
{
    return atomic_load(&nadvancing) > 0;
}

/* ---- pool --------------------------------------------------------------- */

static goro__bubble *bubble_get(void)
{
    goro__bubble *b;

    goro__lock_acquire(&pool_lock);
    b = pool;
    if (b)
        pool = b->pool_next;
    goro__lock_release(&pool_lock);
    if (!b) {
        b = goro__calloc(1, sizeof *b);
        if (!b)
            return NULL;
        b->timers = goro__calloc(1, sizeof *b->timers);
        if (!b->timers) {
            goro__free(b);
            return NULL;
        }
        atomic_init(&b->timers->next, INT64_MAX);
    }
    goro__lock_acquire(&b->lock);
    b->id = atomic_fetch_add(&idgen, 1) + 1;
    b->total = b->running = b->parking = 0;
    b->advancing = b->done = b->deadlocked = b->run_gone = false;
    b->waiter = b->run_waiter = NULL;
    atomic_store_explicit(&b->now, epoch_ns(), memory_order_relaxed);
    goro__lock_release(&b->lock);
    return b;
}

/* b has no goroutine left and no advance running: nothing can reach it
 * but stale callers, for whom it is idle. */
static void bubble_put(goro__bubble *b)
{
    goro__timers_clear(b->timers);
    atomic_fetch_sub(&goro__bubbles_live, 1);
    goro__lock_acquire(&pool_lock);
    b->pool_next = pool;
    pool = b;
    goro__lock_release(&pool_lock);
}

/* ---- ending -------------------------------------------------------------- */

/* Whether b has ended: no goroutine left, and no advance() or park still
 * at work on it (a park's last step may come after its goroutine exited);
 * b->lock held.  Each of those steps looks once it is done, so exactly one
 * sees it become true. */
static bool ended(const goro__bubble *b)
{
    return b->total == 0 && !b->advancing && b->parking == 0;
}

/* Whether the clock may move: every goroutine durably blocked, and each
 * park's unlockf done (it may arm the timer the clock is to move to);
 * b->lock held. */
static bool idle_locked(const goro__bubble *b)
{
    return b->running == 0 && b->parking == 0 && b->total > 0;
}

/* ended(b); b->lock held, released here.  Wakes goro_bubble_run, or, for
 * an orphaned bubble, returns it to the pool. */
static void ended_unlock(goro__bubble *b)
{
    goro__g *w = b->run_waiter;
    bool orphan = b->run_gone;

    b->run_waiter = NULL;
    b->done = true;
    goro__lock_release(&b->lock);
    if (orphan)
        bubble_put(b);
    else if (w)
        goro__ready(w); /* goro_bubble_run puts b back */
}

static void dump_member(goro__g *g, void *arg)
{
    if (g->bubble == arg && atomic_load_explicit(&g->status, memory_order_relaxed) != G_DEAD)
        goro__dump_g(g, 2);
}

/* Every goroutine of b is durably blocked, and no timer or waiter can
 * change that; b->lock held.  Reports it once, and lets goro_bubble_run
 * return EDEADLK. */
static goro__g *deadlock_locked(goro__bubble *b, const char *why)
{
    goro__g *w;
    char line[256];
    int n;

    if (b->deadlocked)
        return NULL;
    b->deadlocked = true;
    n = snprintf(line, sizeof line,
                 "goro: deadlock in bubble %llu: %s; its %d goroutines are left blocked:\n\n",
                 (unsigned long long)b->id, why, b->total);
    if (n > 0 && write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0)
        n = 0; /* nothing better to do about stderr */
    goro__stack_each_g(dump_member, b);
    w = b->run_waiter;
    b->run_waiter = NULL;
    return w;
}

/* ---- the clock moves ---------------------------------------------------- */

static void advance(goro__bubble *b)
{
    goro__g *wake = NULL;
    int idle_rounds = 0;

    goro__lock_acquire(&b->lock);
    if (b->advancing || b->total == 0) {
        goro__lock_release(&b->lock); /* that advance looks again; or ended */
        return;
    }
    b->advancing = true;
    atomic_fetch_add(&nadvancing, 1);
    while (idle_locked(b)) {
        if (b->waiter) {
            goro__g *g = b->waiter;
            b->waiter = NULL;
            goro__lock_release(&b->lock);
            goro__ready(g); /* goro__bubble_ready: running 1 */
            goro__lock_acquire(&b->lock);
            continue;
        }
        int64_t next = goro__timers_next_of(b->timers);
        if (next == INT64_MAX) {
            wake = deadlock_locked(b, "all goroutines are durably blocked and no timer is set");
            break;
        }
        if (++idle_rounds > MAX_IDLE_ROUNDS) {
            wake = deadlock_locked(b, "timers keep firing but wake no goroutine");
            break;
        }
        int64_t now = atomic_load_explicit(&b->now, memory_order_relaxed);
        if (next > now) {
            now = next;
            atomic_store_explicit(&b->now, now, memory_order_relaxed);
        }
        goro__lock_release(&b->lock);
        goro__bubble *prev = tls_bubble;
        tls_bubble = b;
        goro__timers_run(b->timers, now);
        tls_bubble = prev;
        goro__lock_acquire(&b->lock);
        if (b->running > 0)
            idle_rounds = 0;
    }
    b->advancing = false;
    atomic_fetch_sub(&nadvancing, 1);
    if (ended(b)) {
        ended_unlock(b);
        return;
    }
    goro__lock_release(&b->lock);
    if (wake)
        goro__ready(wake);
}

/* A count of b fell (b->lock held, released here): ends b when nothing is
 * left of it, else moves the clock if every goroutine left is durably
 * blocked. */
static void settle_unlock(goro__bubble *b)
{
    if (ended(b)) {
        ended_unlock(b);
        return;
    }
    bool idle = idle_locked(b);
    goro__lock_release(&b->lock);
    if (idle)
        advance(b);
}

/* ---- scheduler hooks ---------------------------------------------------- */

static bool durable_reason(int why)
{
    switch (why) {
    case WR_SLEEP:
    case WR_CHAN_RECV:
    case WR_CHAN_SEND:
    case WR_SELECT:
    case WR_SELECT_NO_CASES:
    case WR_MUTEX:
    case WR_WAITGROUP:
    case WR_COND:
    case WR_SEMA:
    case WR_BUBBLE_WAIT:
        return true;
    default:
        return false;
    }
}

static void unlock_bubble(void *b)
{
    goro__lock_release(&((goro__bubble *)b)->lock);
}

void goro__bubble_park(goro__g *g)
{
    goro__bubble *b = g->bubble, *prev;
    bool durable = durable_reason(g->wait_reason) && !g->bubble_foreign;

    g->bubble_foreign = false;
    if (durable) {
        /* goro_bubble_wait parks holding b->lock, released by its unlockf. */
        bool held_already = g->unlockf == unlock_bubble;
        if (!held_already)
            goro__lock_acquire(&b->lock);
        g->bubble_blocked = true;
        b->running--;
        b->parking++;
        if (!held_already)
            goro__lock_release(&b->lock);
    }
    prev = tls_bubble;
    tls_bubble = b; /* timers the unlockf arms are the bubble's */
    if (g->unlockf)
        g->unlockf(g->unlockarg);
    tls_bubble = prev;
    if (!durable)
        return;
    /* g may be running elsewhere by now, or have exited; b cannot end (nor
     * be reused) before parking is back to 0. */
    goro__lock_acquire(&b->lock);
    b->parking--;
    settle_unlock(b);
}

void goro__bubble_ready(goro__g *g)
{
    goro__bubble *b = g->bubble;

    goro__lock_acquire(&b->lock);
    if (g->bubble_blocked) {
        g->bubble_blocked = false;
        b->running++;
    }
    goro__lock_release(&b->lock);
}

void goro__bubble_spawn(goro__g *g)
{
    goro__bubble *b = goro__bubble_cur();

    g->bubble_blocked = false;
    g->bubble_foreign = false;
    g->bubble = b;
    if (!b)
        return;
    goro__lock_acquire(&b->lock);
    b->total++;
    b->running++;
    goro__lock_release(&b->lock);
}

void goro__bubble_exit(goro__g *g)
{
    goro__bubble *b = g->bubble;

    g->bubble = NULL;
    goro__lock_acquire(&b->lock);
    b->total--;
    b->running--;
    settle_unlock(b);
}

/* ---- mutex holders -------------------------------------------------------- */

uint64_t goro__bubble_mutex_locked(const void *m)
{
    goro__bubble *b = goro__bubble_cur();
    if (!b)
        return 0;
    goro__lock_acquire(&held_lock);
    if (nheld == capheld) {
        size_t cap = capheld ? 2 * capheld : 16;
        struct held *h = goro__realloc(held, cap * sizeof *h);
        if (!h) {
            /* Unlisted: its waiters count as not durably blocked, so the
             * clock waits for them rather than jump past them. */
            goro__lock_release(&held_lock);
            return 0;
        }
        held = h;
        capheld = cap;
    }
    held[nheld++] = (struct held){m, b->id};
    goro__lock_release(&held_lock);
    return b->id;
}

goro__bubble *goro__bubble_mutex_rewait(goro__g *g, uint64_t holder)
{
    goro__bubble *b = g->bubble;
    bool idle = false;

    if (!b)
        return NULL;
    goro__lock_acquire(&b->lock);
    bool durable = holder != 0 && holder == b->id;
    if (durable && !g->bubble_blocked) {
        g->bubble_blocked = true;
        b->running--;
        idle = idle_locked(b);
    } else if (!durable && g->bubble_blocked) {
        g->bubble_blocked = false;
        b->running++;
    }
    goro__lock_release(&b->lock);
    return idle ? b : NULL;
}

void goro__bubble_idle(goro__bubble *b)
{
    advance(b);
}

void goro__bubble_mutex_unlocked(const void *m)
{
    goro__lock_acquire(&held_lock);
    for (size_t i = nheld; i-- > 0;) {
        if (held[i].m == m) {
            held[i] = held[--nheld];
            break;
        }
    }
    goro__lock_release(&held_lock);
}

void goro__bubble_mutex_wait(goro__g *g, const void *m)
{
    uint64_t id = 0;

    if (!g->bubble)
        return;
    goro__lock_acquire(&held_lock);
    for (size_t i = 0; i < nheld; i++) {
        if (held[i].m == m) {
            id = held[i].id;
            break;
        }
    }
    goro__lock_release(&held_lock);
    goro__bubble_wait_on(g, id);
}

/* ---- public API ----------------------------------------------------------- */

int goro_bubble_run(void (*fn)(void *), void *arg)
{
    goro__bubble *b, *prev;
    goro__g *self;
    int e;

    if (!fn)
        return EINVAL;
    goro__init();
    goro__note_thread();
    if (goro__bubble_cur())
        return EPERM; /* nested */
    self = goro__getg();
    if (!self)
        return ENOMEM;
    b = bubble_get();
    if (!b)
        return ENOMEM;
    atomic_fetch_add(&goro__bubbles_live, 1);
    prev = tls_bubble;
    tls_bubble = b; /* the new goroutine joins b (goro__bubble_spawn) */
    e = goro_go_at(NULL, fn, arg, "goro_bubble_run", NULL, 0, NULL);
    tls_bubble = prev;
    if (e) {
        goro__lock_acquire(&b->lock);
        b->done = true;
        goro__lock_release(&b->lock);
        bubble_put(b);
        return e;
    }
    goro__lock_acquire(&b->lock);
    if (!b->done && !b->deadlocked) {
        b->run_waiter = self;
        goro__park(unlock_bubble, b, WR_BUBBLE_RUN);
        goro__lock_acquire(&b->lock);
    }
    if (b->deadlocked && !b->done) {
        /* Orphaned: the last of its goroutines to exit, if any does,
         * returns it to the pool (ended_unlock). */
        b->run_gone = true;
        goro__lock_release(&b->lock);
        goro__hb_acquire(b);
        return EDEADLK;
    }
    e = b->deadlocked ? EDEADLK : 0;
    goro__lock_release(&b->lock);
    goro__hb_acquire(b); /* pairs with the release of each exiting goroutine (gmain) */
    bubble_put(b);
    return e;
}

int goro_bubble_wait(void)
{
    goro__bubble *b = goro__bubble_cur();
    goro__g *g;

    if (!b)
        return EPERM;
    g = goro__getg();
    if (!g || g->bubble != b)
        return EPERM;
    goro__lock_acquire(&b->lock);
    if (b->waiter) {
        goro__lock_release(&b->lock);
        return EBUSY; /* Go panics: one synctest.Wait at a time */
    }
    b->waiter = g;
    goro__park(unlock_bubble, b, WR_BUBBLE_WAIT);
    goro__hb_acquire(b); /* pairs with the release of each parking goroutine (goro__park) */
    return 0;
}
