/* test_sync.c - mutex, rwmutex, waitgroup, once, cond and the weighted
 * semaphore: exclusion under contention (goroutines and plain threads
 * mixed), Go's starvation-mode fairness, reader overlap and writer
 * preference, error returns, and the fatal misuse paths (death tests).
 *
 * Derived from Go's sync/mutex_test.go (TestMutex, TestMutexFairness),
 * rwmutex_test.go (TestParallelReaders, TestRWMutex), waitgroup_test.go,
 * once_test.go, cond_test.go (TestCondSignal, TestCondBroadcast) and
 * x/sync/semaphore/semaphore_test.go (TestLargeAcquireDoesntStarve).
 * Critical sections also touch plain (non-atomic) variables, so the tsan
 * preset checks the happens-before edges each primitive promises.  Time
 * bounds are fairness bounds, generous and scaled by gt_scale().
 */
#define _GNU_SOURCE
#include "common.h"

#include <signal.h>
#include <time.h>

/* Every test of the suite starts with the runtime running; the sync_cold
 * suite at the end makes its calls before anything started it.
 *
 * Plain threads and the deadlock detector: a plain thread counts for the
 * detector only once it has blocked in goro (goro.h promises more: see
 * waitgroup_fed_by_plain_thread below).  So the test's thread blocks once
 * at the start, and while plain helper threads park in goro it is counted
 * as running; and a test never parks its main thread in goro waiting for a
 * helper thread that may not have blocked yet: it joins the helpers first
 * (pthread_join is outside goro), then waits for the goroutines. */
static void start_runtime(void)
{
    goro_maxprocs(0);
    GORO_SELECT(goro_case_timeout(GORO_MILLISECOND)); /* blocks once */
}

TestSuite(sync, .init = start_runtime);

/* ---- helpers ------------------------------------------------------------ */

static pthread_t start_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    int e = pthread_create(&t, NULL, fn, arg);
    cr_assert_eq(e, 0, "pthread_create: %d", e);
    return t;
}

/* Raises *hw to v if v is larger (an atomic high-water mark). */
static void hw_update(_Atomic long *hw, long v)
{
    long old = atomic_load(hw);
    while (v > old && !atomic_compare_exchange_weak(hw, &old, v))
        ;
}

/* A start gate: goroutines and threads wait on it, the test opens it. */
static goro_chan *gate_make(void)
{
    goro_chan *g = goro_chan_make(0, 0);
    cr_assert_not_null(g);
    return g;
}

static void gate_wait(goro_chan *g)
{
    gt_check(goro_chan_recv(g, NULL) == EPIPE, "gate");
}

/* ---- mutex: exclusion ---------------------------------------------------- */

static goro_mutex mx = GORO_MUTEX_INIT;
static long mx_counter;                 /* plain: protected by mx */

struct incr {
    goro_chan *gate;
    goro_waitgroup *wg;
    long n;
};

static void mx_incr(void *arg)
{
    struct incr *a = arg;
    if (a->gate)
        gate_wait(a->gate);
    for (long i = 0; i < a->n; i++) {
        goro_mutex_lock(&mx);
        mx_counter++;
        goro_mutex_unlock(&mx);
    }
    goro_waitgroup_done(a->wg);
}

static void *mx_incr_thread(void *arg)
{
    mx_incr(arg);
    return NULL;
}

/* Go's TestMutex, scaled up: 16 goroutines x 100,000 increments. */
Test(sync, mutex_16_goroutines_exact, .timeout = GT_TIMEOUT(60))
{
    enum { G = 16, N = 100000 };
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    goro_chan *gate = gate_make();
    struct incr a = {gate, &wg, N};

    mx_counter = 0;
    cr_assert_eq(goro_waitgroup_add(&wg, G), 0);
    for (int i = 0; i < G; i++)
        gt_spawn(mx_incr, &a);
    goro_chan_close(gate); /* all start together: maximal contention */
    goro_waitgroup_wait(&wg);
    goro_mutex_lock(&mx);
    cr_assert_eq(mx_counter, (long)G * N, "counter %ld, want %ld", mx_counter, (long)G * N);
    goro_mutex_unlock(&mx);
    goro_chan_release(gate);
    gt_quiesce();
}

/* Goroutines and plain OS threads contend for one mutex. */
Test(sync, mutex_threads_and_goroutines, .timeout = GT_TIMEOUT(60))
{
    enum { G = 4, T = 4, N = 50000 };
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    goro_chan *gate = gate_make();
    struct incr a = {gate, &wg, N};
    pthread_t th[T];

    mx_counter = 0;
    cr_assert_eq(goro_waitgroup_add(&wg, G + T), 0);
    for (int i = 0; i < G; i++)
        gt_spawn(mx_incr, &a);
    for (int i = 0; i < T; i++)
        th[i] = start_thread(mx_incr_thread, &a);
    goro_chan_close(gate);
    for (int i = 0; i < T; i++)
        pthread_join(th[i], NULL);
    goro_waitgroup_wait(&wg);
    goro_mutex_lock(&mx);
    cr_assert_eq(mx_counter, (long)(G + T) * N);
    goro_mutex_unlock(&mx);
    goro_chan_release(gate);
    gt_quiesce();
}

/* A mutex locked by one goroutine may be unlocked by another (or by a
 * thread): goro mutexes are not owned, as in Go. */
static void unlock_other(void *arg)
{
    goro_mutex_unlock(arg);
}

Test(sync, mutex_trylock, .timeout = GT_TIMEOUT(10))
{
    goro_mutex m = GORO_MUTEX_INIT;

    cr_assert_eq(goro_mutex_trylock(&m), 0, "free mutex");
    cr_assert_eq(goro_mutex_trylock(&m), EBUSY, "locked mutex (not recursive)");
    goro_mutex_unlock(&m);
    cr_assert_eq(goro_mutex_trylock(&m), 0, "free again");
    goro_mutex_unlock(&m);

    goro_mutex_lock(&m);
    cr_assert_eq(goro_mutex_trylock(&m), EBUSY);
    gt_spawn(unlock_other, &m); /* unlocked elsewhere */
    gt_quiesce();
    cr_assert_eq(goro_mutex_trylock(&m), 0);
    goro_mutex_unlock(&m);
}

Test(sync, mutex_unlock_of_unlocked_aborts, .signal = SIGABRT, .timeout = GT_TIMEOUT(10))
{
    goro_mutex m = GORO_MUTEX_INIT;
    goro_mutex_unlock(&m); /* "fatal error: sync: unlock of unlocked mutex" */
}

Test(sync, mutex_double_unlock_aborts, .signal = SIGABRT, .timeout = GT_TIMEOUT(10))
{
    goro_mutex m = GORO_MUTEX_INIT;
    goro_mutex_lock(&m);
    goro_mutex_unlock(&m);
    goro_mutex_unlock(&m);
}

/* ---- mutex: no starvation (Go's TestMutexFairness, measured) ------------- */

static goro_mutex fair_mx = GORO_MUTEX_INIT;
static _Atomic bool fair_stop;
static _Atomic long fair_rounds;
static long fair_shared;                /* plain: protected by fair_mx */

static void hammer(void *arg)
{
    goro_waitgroup *wg = arg;
    while (!atomic_load_explicit(&fair_stop, memory_order_relaxed)) {
        goro_mutex_lock(&fair_mx);
        fair_shared++;
        goro_mutex_unlock(&fair_mx);
    }
    goro_waitgroup_done(wg);
}

/* Takes the lock repeatedly for the duration; returns the longest wait. */
static int64_t measure_waits(int64_t duration)
{
    int64_t end = goro_now() + duration, worst = 0;
    while (goro_now() < end) {
        int64_t t0 = goro_now();
        goro_mutex_lock(&fair_mx);
        int64_t dt = goro_now() - t0;
        fair_shared++;
        goro_mutex_unlock(&fair_mx);
        if (dt > worst)
            worst = dt;
        atomic_fetch_add(&fair_rounds, 1);
        goro_sleep(GORO_MILLISECOND);
    }
    return worst;
}

struct fair_waiter {
    goro_waitgroup *wg;
    int64_t worst;
};

static void fair_waiter_g(void *arg)
{
    struct fair_waiter *w = arg;
    w->worst = measure_waits(GORO_SECOND);
    goro_waitgroup_done(w->wg);
}

static void *fair_waiter_t(void *arg)
{
    struct fair_waiter *w = arg;
    w->worst = measure_waits(GORO_SECOND);
    return NULL;
}

Test(sync, mutex_no_starvation, .timeout = GT_TIMEOUT(60))
{
    enum { HAMMERS = 8 };
    goro_waitgroup hwg = GORO_WAITGROUP_INIT, wwg = GORO_WAITGROUP_INIT;
    struct fair_waiter wg_waiter = {&wwg, 0}, th_waiter = {NULL, 0};
    /* The bound is for starvation (a waiter locked out for the whole run),
     * not for latency: goro does not preempt, so a waiter readied onto a P
     * whose hammer never blocks waits for that hammer to park or for
     * sysmon's hand-off, and the OS shares the CPUs among more threads
     * than there are CPUs.  Waits of 20-110 ms were seen on 2 loaded CPUs. */
    int64_t bound = gt_ms(500);

    atomic_store(&fair_stop, false);
    goro_waitgroup_add(&hwg, HAMMERS);
    for (int i = 0; i < HAMMERS; i++)
        gt_spawn(hammer, &hwg);
    /* One waiter is a goroutine, one a plain thread: both must get the
     * lock within the bound every time while the hammers run. */
    goro_waitgroup_add(&wwg, 1);
    gt_spawn(fair_waiter_g, &wg_waiter);
    pthread_t th = start_thread(fair_waiter_t, &th_waiter);
    pthread_join(th, NULL);
    goro_waitgroup_wait(&wwg);
    atomic_store(&fair_stop, true);
    goro_waitgroup_wait(&hwg);

    cr_assert_gt(atomic_load(&fair_rounds), 10, "waiters got the lock only %ld times",
                 atomic_load(&fair_rounds));
    cr_assert_lt(wg_waiter.worst, bound, "goroutine waited %.1f ms for the lock",
                 (double)wg_waiter.worst / GORO_MILLISECOND);
    cr_assert_lt(th_waiter.worst, bound, "thread waited %.1f ms for the lock",
                 (double)th_waiter.worst / GORO_MILLISECOND);
    gt_quiesce();
}

/* ---- rwmutex ------------------------------------------------------------- */

static goro_rwmutex rw = GORO_RWMUTEX_INIT;
static _Atomic long rw_readers_in, rw_writers_in, rw_max_readers;
static long rw_value;                   /* plain: written under lock, read under rlock */

struct overlap {
    goro_waitgroup *wg;
    long n;
};

static void overlap_reader(void *arg)
{
    struct overlap *o = arg;
    goro_rwmutex_rlock(&rw);
    long in = atomic_fetch_add(&rw_readers_in, 1) + 1;
    hw_update(&rw_max_readers, in);
    /* Stay inside until every reader is inside at once (bounded). */
    gt_check(gt_wait_count(&rw_readers_in, o->n, gt_ms(5000)), "readers did not overlap: %ld of %ld",
             atomic_load(&rw_readers_in), o->n);
    gt_check(rw_value == 42, "value %ld", rw_value);
    goro_rwmutex_runlock(&rw);
    goro_waitgroup_done(o->wg);
}

static void *overlap_reader_t(void *arg)
{
    overlap_reader(arg);
    return NULL;
}

/* Go's TestParallelReaders: N readers hold the read lock at once. */
Test(sync, rwmutex_readers_overlap, .timeout = GT_TIMEOUT(30))
{
    enum { G = 8, T = 2 };
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    struct overlap o = {&wg, G + T};
    pthread_t th[T];

    goro_rwmutex_lock(&rw);
    rw_value = 42;
    goro_rwmutex_unlock(&rw);
    atomic_store(&rw_readers_in, 0);
    atomic_store(&rw_max_readers, 0);
    goro_waitgroup_add(&wg, G + T);
    for (int i = 0; i < G; i++)
        gt_spawn(overlap_reader, &o);
    for (int i = 0; i < T; i++)
        th[i] = start_thread(overlap_reader_t, &o);
    for (int i = 0; i < T; i++)
        pthread_join(th[i], NULL);
    goro_waitgroup_wait(&wg);
    cr_assert_eq(atomic_load(&rw_max_readers), G + T);
    gt_quiesce();
}

struct rw_worker {
    goro_waitgroup *wg;
    int iters;
    bool writer;
};

static void rw_work(void *arg)
{
    struct rw_worker *w = arg;
    for (int i = 0; i < w->iters; i++) {
        if (w->writer) {
            goro_rwmutex_lock(&rw);
            long wn = atomic_fetch_add(&rw_writers_in, 1) + 1;
            gt_check(wn == 1, "%ld writers inside", wn);
            gt_check(atomic_load(&rw_readers_in) == 0, "reader inside with a writer");
            rw_value++;
            if (i % 16 == 0)
                goro_yield(); /* hold it across a switch now and then */
            gt_check(atomic_load(&rw_readers_in) == 0, "reader entered under a writer");
            atomic_fetch_sub(&rw_writers_in, 1);
            goro_rwmutex_unlock(&rw);
        } else {
            goro_rwmutex_rlock(&rw);
            atomic_fetch_add(&rw_readers_in, 1);
            gt_check(atomic_load(&rw_writers_in) == 0, "writer inside with a reader");
            long v = rw_value;
            if (i % 16 == 0)
                goro_yield();
            gt_check(rw_value == v, "value changed under the read lock");
            gt_check(atomic_load(&rw_writers_in) == 0, "writer entered under a reader");
            atomic_fetch_sub(&rw_readers_in, 1);
            goro_rwmutex_runlock(&rw);
        }
    }
    goro_waitgroup_done(w->wg);
}

static void *rw_work_t(void *arg)
{
    rw_work(arg);
    return NULL;
}

/* Go's TestRWMutex: writers exclude readers and each other. */
Test(sync, rwmutex_writers_exclude, .timeout = GT_TIMEOUT(60))
{
    enum { READERS = 8, WRITERS = 3, ITERS = 20000 };
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    struct rw_worker r = {&wg, ITERS, false}, w = {&wg, ITERS, true};
    pthread_t tr, tw;

    rw_value = 0;
    atomic_store(&rw_readers_in, 0);
    atomic_store(&rw_writers_in, 0);
    goro_waitgroup_add(&wg, READERS + WRITERS + 2);
    for (int i = 0; i < READERS; i++)
        gt_spawn(rw_work, &r);
    for (int i = 0; i < WRITERS; i++)
        gt_spawn(rw_work, &w);
    tr = start_thread(rw_work_t, &r);
    tw = start_thread(rw_work_t, &w);
    pthread_join(tr, NULL);
    pthread_join(tw, NULL);
    goro_waitgroup_wait(&wg);
    goro_rwmutex_rlock(&rw);
    cr_assert_eq(rw_value, (long)(WRITERS + 1) * ITERS);
    goro_rwmutex_runlock(&rw);
    gt_quiesce();
}

static _Atomic bool rs_stop;

/* Readers overlapping each other so that the lock is never free of them. */
static void stream_reader(void *arg)
{
    goro_waitgroup *wg = arg;
    while (!atomic_load(&rs_stop)) {
        goro_rwmutex_rlock(&rw);
        goro_sleep(200 * GORO_MICROSECOND);
        goro_rwmutex_runlock(&rw);
    }
    goro_waitgroup_done(wg);
}

static void *stream_reader_t(void *arg)
{
    stream_reader(arg);
    return NULL;
}

/* A writer is not starved by a continuous stream of readers: once it
 * waits, new readers queue behind it. */
Test(sync, rwmutex_writer_not_starved, .timeout = GT_TIMEOUT(60))
{
    enum { READERS = 6, ROUNDS = 20 };
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    int64_t worst = 0;
    pthread_t th;

    atomic_store(&rs_stop, false);
    goro_waitgroup_add(&wg, READERS + 1);
    for (int i = 0; i < READERS; i++)
        gt_spawn(stream_reader, &wg);
    th = start_thread(stream_reader_t, &wg);
    goro_sleep(20 * GORO_MILLISECOND); /* let the stream get going */
    for (int i = 0; i < ROUNDS; i++) {
        int64_t t0 = goro_now();
        goro_rwmutex_lock(&rw);
        int64_t dt = goro_now() - t0;
        goro_rwmutex_unlock(&rw);
        if (dt > worst)
            worst = dt;
        goro_sleep(5 * GORO_MILLISECOND);
    }
    atomic_store(&rs_stop, true);
    pthread_join(th, NULL);
    goro_waitgroup_wait(&wg);
    cr_assert_lt(worst, gt_ms(500), "writer waited %.1f ms", (double)worst / GORO_MILLISECOND);
    gt_quiesce();
}

Test(sync, rwmutex_runlock_of_unlocked_aborts, .signal = SIGABRT, .timeout = GT_TIMEOUT(10))
{
    goro_rwmutex m = GORO_RWMUTEX_INIT;
    goro_rwmutex_runlock(&m);
}

Test(sync, rwmutex_unlock_of_unlocked_aborts, .signal = SIGABRT, .timeout = GT_TIMEOUT(10))
{
    goro_rwmutex m = GORO_RWMUTEX_INIT;
    goro_rwmutex_unlock(&m);
}

/* ---- waitgroup ----------------------------------------------------------- */

static _Atomic long wg_ran;

static void wg_task(void *arg)
{
    atomic_fetch_add_explicit(&wg_ran, 1, memory_order_relaxed);
    gt_check(goro_waitgroup_done(arg) == 0, "done");
}

Test(sync, waitgroup_100k_goroutines, .timeout = GT_TIMEOUT(120))
{
    enum { N = 100000 };
    goro_waitgroup wg = GORO_WAITGROUP_INIT;

    /* TSan tracks each live goroutine as a thread, at most 8128 at once:
     * there the spawner lets at most 4000 run ahead of the finished ones. */
    const long ahead = GT_TSAN ? 4000 : N;

    atomic_store(&wg_ran, 0);
    cr_assert_eq(goro_waitgroup_add(&wg, N), 0);
    for (long i = 0; i < N; i++) {
        if (i >= ahead)
            cr_assert(gt_wait_count(&wg_ran, i - ahead + 1, gt_ms(10000)), "no progress");
        gt_spawn(wg_task, &wg);
    }
    goro_waitgroup_wait(&wg);
    cr_assert_eq(atomic_load(&wg_ran), N);
    goro_waitgroup_wait(&wg); /* at zero: returns at once */
    gt_quiesce();
}

/* Many waiters, goroutines and threads, all released by the last done;
 * what happened before each done is visible after each wait (plain). */
static long wg_plain[8];
static goro_waitgroup wg_many = GORO_WAITGROUP_INIT;

struct wg_waiter {
    goro_waitgroup *wg;
    goro_waitgroup *out;
    _Atomic long *woke;
};

static void wg_wait_g(void *arg)
{
    struct wg_waiter *w = arg;
    goro_waitgroup_wait(w->wg);
    long s = 0;
    for (int i = 0; i < 8; i++)
        s += wg_plain[i];
    gt_check(s == 8, "writes before done not visible after wait: %ld", s);
    atomic_fetch_add(w->woke, 1);
    goro_waitgroup_done(w->out);
}

static void *wg_wait_t(void *arg)
{
    wg_wait_g(arg);
    return NULL;
}

static void wg_writer(void *arg)
{
    long i = (long)(intptr_t)arg;
    wg_plain[i] = 1;
    goro_waitgroup_done(&wg_many);
}

Test(sync, waitgroup_many_waiters, .timeout = GT_TIMEOUT(30))
{
    enum { W = 16, T = 2 };
    goro_waitgroup out = GORO_WAITGROUP_INIT;
    _Atomic long woke = 0;
    struct wg_waiter w = {&wg_many, &out, &woke};
    pthread_t th[T];

    memset(wg_plain, 0, sizeof wg_plain);
    cr_assert_eq(goro_waitgroup_add(&wg_many, 8), 0);
    goro_waitgroup_add(&out, W + T);
    for (int i = 0; i < W; i++)
        gt_spawn(wg_wait_g, &w);
    for (int i = 0; i < T; i++)
        th[i] = start_thread(wg_wait_t, &w);
    goro_sleep(5 * GORO_MILLISECOND); /* coverage: most waiters are parked */
    cr_assert_eq(atomic_load(&woke), 0, "a waiter returned before the count hit zero");
    for (long i = 0; i < 8; i++)
        gt_spawn(wg_writer, (void *)(intptr_t)i);
    for (int i = 0; i < T; i++)
        pthread_join(th[i], NULL);
    goro_waitgroup_wait(&out);
    cr_assert_eq(atomic_load(&woke), W + T);
    gt_quiesce();
}

static _Atomic bool neg_waiter_done;

static void neg_waiter(void *arg)
{
    goro_waitgroup_wait(arg);
    atomic_store(&neg_waiter_done, true);
}

/* A negative counter is refused with EINVAL and leaves it as it was. */
Test(sync, waitgroup_negative_is_einval, .timeout = GT_TIMEOUT(10))
{
    goro_waitgroup wg = GORO_WAITGROUP_INIT;

    cr_assert_eq(goro_waitgroup_done(&wg), EINVAL, "done on zero");
    cr_assert_eq(goro_waitgroup_add(&wg, -1), EINVAL);
    goro_waitgroup_wait(&wg); /* still zero: returns at once */

    cr_assert_eq(goro_waitgroup_add(&wg, 2), 0);
    atomic_store(&neg_waiter_done, false);
    gt_spawn(neg_waiter, &wg);
    cr_assert_eq(goro_waitgroup_add(&wg, -3), EINVAL);
    /* Unchanged: still 2, so one done does not release the waiter and two
     * more are accepted. */
    cr_assert_eq(goro_waitgroup_done(&wg), 0);
    goro_sleep(5 * GORO_MILLISECOND);
    cr_assert(!atomic_load(&neg_waiter_done), "waiter released with the counter at 1");
    cr_assert_eq(goro_waitgroup_add(&wg, -2), EINVAL);
    cr_assert_eq(goro_waitgroup_done(&wg), 0);
    gt_quiesce(); /* the waiter returns */
    cr_assert(atomic_load(&neg_waiter_done));
    cr_assert_eq(goro_waitgroup_done(&wg), EINVAL, "done on zero again");
}

/* goro.h (Diagnostics): a deadlock is declared only when "every thread
 * known to goro (one that called into it) waits in goro".  Here a plain
 * thread has called into goro (a mutex lock and unlock) and is busy outside
 * it (a 300 ms nanosleep) before its done releases main: no deadlock. */
static goro_waitgroup fed_wg = GORO_WAITGROUP_INIT;
static goro_mutex fed_mx = GORO_MUTEX_INIT;

static _Atomic bool fed_known;

static void *fed_feeder(void *arg)
{
    (void)arg;
    goro_mutex_lock(&fed_mx);
    goro_mutex_unlock(&fed_mx);
    atomic_store(&fed_known, true); /* goro knows this thread from here on */
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    goro_waitgroup_done(&fed_wg);
    return NULL;
}

Test(sync, waitgroup_fed_by_plain_thread, .timeout = GT_TIMEOUT(10))
{
    pthread_t th;
    goro_waitgroup_add(&fed_wg, 1);
    th = start_thread(fed_feeder, NULL);
    /* The promise covers threads that have called into goro: wait until
     * the feeder has (under load it may start late). */
    while (!atomic_load(&fed_known))
        sched_yield();
    goro_waitgroup_wait(&fed_wg); /* would abort here if the feeder were ignored */
    pthread_join(th, NULL);
    gt_quiesce();
}

/* ---- once ---------------------------------------------------------------- */

static goro_once once = GORO_ONCE_INIT;
static _Atomic int once_calls;
static _Atomic bool once_flag;
static int once_plain;                  /* plain: written by fn, read by callers */

static void once_fn(void *arg)
{
    atomic_fetch_add(&once_calls, 1);
    goro_sleep(10 * GORO_MILLISECOND);
    once_plain = (int)(intptr_t)arg;
    atomic_store(&once_flag, true);
}

struct once_caller {
    goro_chan *gate;
    goro_waitgroup *wg;
};

static void once_caller(void *arg)
{
    struct once_caller *c = arg;
    gate_wait(c->gate);
    goro_once_do(&once, once_fn, (void *)(intptr_t)7);
    gt_check(atomic_load(&once_flag), "once_do returned before fn completed");
    gt_check(once_plain == 7, "fn's write not visible: %d", once_plain);
    goro_waitgroup_done(c->wg);
}

static void *once_caller_t(void *arg)
{
    once_caller(arg);
    return NULL;
}

/* 64-way contention (60 goroutines, 4 threads): fn runs exactly once, and
 * every caller returns only after it completed. */
Test(sync, once_64_way, .timeout = GT_TIMEOUT(30))
{
    enum { G = 60, T = 4 };
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    goro_chan *gate = gate_make();
    struct once_caller c = {gate, &wg};
    pthread_t th[T];

    goro_waitgroup_add(&wg, G + T);
    for (int i = 0; i < G; i++)
        gt_spawn(once_caller, &c);
    for (int i = 0; i < T; i++)
        th[i] = start_thread(once_caller_t, &c);
    goro_chan_close(gate);
    for (int i = 0; i < T; i++)
        pthread_join(th[i], NULL);
    goro_waitgroup_wait(&wg);
    cr_assert_eq(atomic_load(&once_calls), 1);
    goro_once_do(&once, once_fn, NULL); /* later calls do nothing */
    cr_assert_eq(atomic_load(&once_calls), 1);
    cr_assert_eq(once_plain, 7);
    goro_chan_release(gate);
    gt_quiesce();
}

/* ---- cond ---------------------------------------------------------------- */

static goro_mutex cv_mx = GORO_MUTEX_INIT;
static goro_cond cv = GORO_COND_INIT;
static int cv_waiting;                  /* plain: protected by cv_mx */
static bool cv_go;                      /* plain: protected by cv_mx */
static _Atomic long cv_woke;

/* Waits once, with no predicate (goro's cond has no spurious wakeups,
 * like Go's), and checks that the mutex is held again on return. */
static void cv_wait_once(void *arg)
{
    goro_waitgroup *wg = arg;
    goro_mutex_lock(&cv_mx);
    cv_waiting++;
    goro_cond_wait(&cv, &cv_mx);
    gt_check(goro_mutex_trylock(&cv_mx) == EBUSY, "cond_wait returned without the mutex");
    cv_waiting--;
    atomic_fetch_add(&cv_woke, 1);
    goro_mutex_unlock(&cv_mx);
    goro_waitgroup_done(wg);
}

/* The classic loop on a predicate. */
static void cv_wait_go(void *arg)
{
    goro_waitgroup *wg = arg;
    goro_mutex_lock(&cv_mx);
    cv_waiting++;
    while (!cv_go)
        goro_cond_wait(&cv, &cv_mx);
    cv_waiting--;
    atomic_fetch_add(&cv_woke, 1);
    goro_mutex_unlock(&cv_mx);
    goro_waitgroup_done(wg);
}

static void *cv_wait_go_t(void *arg)
{
    cv_wait_go(arg);
    return NULL;
}

static bool cv_all_waiting(void *arg)
{
    goro_mutex_lock(&cv_mx);
    bool all = cv_waiting == (int)(intptr_t)arg;
    goro_mutex_unlock(&cv_mx);
    return all;
}

/* Waits until n waiters have incremented cv_waiting under the mutex: each
 * queues on cv before it unlocks, so all n are then in the queue. */
static void cv_wait_for(int n)
{
    cr_assert(gt_wait_until(cv_all_waiting, (void *)(intptr_t)n, gt_ms(5000)),
              "waiters did not arrive: %d of %d", cv_waiting, n);
}

Test(sync, cond_broadcast_wakes_all, .timeout = GT_TIMEOUT(30))
{
    enum { G = 32, T = 2 };
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    pthread_t th[T];

    cv_waiting = 0;
    cv_go = false;
    atomic_store(&cv_woke, 0);
    goro_waitgroup_add(&wg, G + T);
    for (int i = 0; i < G; i++)
        gt_spawn(cv_wait_go, &wg);
    for (int i = 0; i < T; i++)
        th[i] = start_thread(cv_wait_go_t, &wg);
    cv_wait_for(G + T);
    goro_mutex_lock(&cv_mx);
    cv_go = true;
    goro_cond_broadcast(&cv);
    goro_mutex_unlock(&cv_mx);
    for (int i = 0; i < T; i++)
        pthread_join(th[i], NULL);
    goro_waitgroup_wait(&wg);
    cr_assert_eq(atomic_load(&cv_woke), G + T);
    cr_assert_eq(cv_waiting, 0);
    gt_quiesce();
}

/* Go's TestCondSignal: each signal wakes exactly one waiter. */
Test(sync, cond_signal_wakes_one, .timeout = GT_TIMEOUT(30))
{
    enum { N = 8 };
    goro_waitgroup wg = GORO_WAITGROUP_INIT;

    cv_waiting = 0;
    atomic_store(&cv_woke, 0);
    goro_waitgroup_add(&wg, N);
    for (int i = 0; i < N; i++)
        gt_spawn(cv_wait_once, &wg);
    for (int k = 1; k <= N; k++) {
        cv_wait_for(N - k + 1);
        goro_mutex_lock(&cv_mx);
        goro_cond_signal(&cv);
        goro_mutex_unlock(&cv_mx);
        cr_assert(gt_wait_count(&cv_woke, k, gt_ms(5000)), "signal %d woke nobody", k);
        goro_sleep(5 * GORO_MILLISECOND); /* give a second wakeup time to show */
        cr_assert_eq(atomic_load(&cv_woke), k, "signal %d woke %ld in all", k,
                     atomic_load(&cv_woke));
    }
    goro_cond_signal(&cv);    /* nobody waits: a no-op */
    goro_cond_broadcast(&cv); /* likewise */
    goro_waitgroup_wait(&wg);
    gt_quiesce();
}

/* wait re-locks the mutex before it returns: the signaler's write under
 * the mutex, after the signal, is seen only after it unlocks. */
static int cv_plain;

static void cv_relock(void *arg)
{
    goro_waitgroup *wg = arg;
    goro_mutex_lock(&cv_mx);
    cv_waiting++;
    while (cv_plain == 0)
        goro_cond_wait(&cv, &cv_mx);
    gt_check(goro_mutex_trylock(&cv_mx) == EBUSY, "not re-locked");
    gt_check(cv_plain == 2, "woke inside the signaler's critical section: %d", cv_plain);
    cv_waiting--;
    goro_mutex_unlock(&cv_mx);
    goro_waitgroup_done(wg);
}

Test(sync, cond_wait_relocks, .timeout = GT_TIMEOUT(30))
{
    goro_waitgroup wg = GORO_WAITGROUP_INIT;

    cv_waiting = 0;
    cv_plain = 0;
    goro_waitgroup_add(&wg, 1);
    gt_spawn(cv_relock, &wg);
    cv_wait_for(1);
    goro_mutex_lock(&cv_mx);
    cv_plain = 1;
    goro_cond_signal(&cv);
    goro_sleep(10 * GORO_MILLISECOND); /* the waiter is awake, blocked on the mutex */
    cv_plain = 2;
    goro_mutex_unlock(&cv_mx);
    goro_waitgroup_wait(&wg);
    gt_quiesce();
}

/* ---- weighted semaphore -------------------------------------------------- */

static goro_sema sem = GORO_SEMA_INIT(5);
static _Atomic long sem_held, sem_hw;

static void sem_worker(void *arg)
{
    goro_waitgroup *wg = arg;
    uint64_t rnd = goro_id() * 0x9E3779B97F4A7C15ULL | 1;
    for (int i = 0; i < 2000; i++) {
        int64_t n = 1 + (int64_t)(gt_rand(&rnd) % 5);
        if (!gt_check(goro_sema_acquire(&sem, n) == 0, "acquire %lld", (long long)n))
            break;
        long h = atomic_fetch_add(&sem_held, n) + n;
        hw_update(&sem_hw, h);
        gt_check(h <= 5, "%ld units held of 5", h);
        if (i % 8 == 0)
            goro_yield();
        atomic_fetch_sub(&sem_held, n);
        gt_check(goro_sema_release(&sem, n) == 0, "release %lld", (long long)n);
    }
    goro_waitgroup_done(wg);
}

Test(sync, sema_never_over_size, .timeout = GT_TIMEOUT(60))
{
    enum { G = 32 };
    goro_waitgroup wg = GORO_WAITGROUP_INIT;

    atomic_store(&sem_held, 0);
    atomic_store(&sem_hw, 0);
    goro_waitgroup_add(&wg, G);
    for (int i = 0; i < G; i++)
        gt_spawn(sem_worker, &wg);
    goro_waitgroup_wait(&wg);
    cr_assert_leq(atomic_load(&sem_hw), 5);
    cr_assert_geq(atomic_load(&sem_hw), 1);
    /* Everything was given back: the full size is free. */
    cr_assert_eq(goro_sema_try_acquire(&sem, 5), 0);
    cr_assert_eq(goro_sema_release(&sem, 5), 0);
    gt_quiesce();
}

Test(sync, sema_errors, .timeout = GT_TIMEOUT(10))
{
    goro_sema s = GORO_SEMA_INIT(3);

    cr_assert_eq(goro_sema_acquire(&s, 4), EINVAL, "n > size could never succeed");
    cr_assert_eq(goro_sema_acquire(&s, -1), EINVAL);
    cr_assert_eq(goro_sema_try_acquire(&s, -1), EINVAL);
    cr_assert_eq(goro_sema_release(&s, -1), EINVAL);
    cr_assert_eq(goro_sema_release(&s, 1), EINVAL, "release with nothing held");

    cr_assert_eq(goro_sema_acquire(&s, 0), 0);
    cr_assert_eq(goro_sema_acquire(&s, 2), 0);
    cr_assert_eq(goro_sema_try_acquire(&s, 2), EAGAIN, "1 unit free");
    cr_assert_eq(goro_sema_try_acquire(&s, 1), 0);
    cr_assert_eq(goro_sema_try_acquire(&s, 1), EAGAIN, "full");
    cr_assert_eq(goro_sema_try_acquire(&s, 0), 0);
    cr_assert_eq(goro_sema_release(&s, 4), EINVAL, "3 held");
    cr_assert_eq(goro_sema_release(&s, 3), 0);
    cr_assert_eq(goro_sema_release(&s, 1), EINVAL, "nothing held");
    cr_assert_eq(goro_sema_try_acquire(&s, 3), 0, "unchanged by the failed calls");
    cr_assert_eq(goro_sema_release(&s, 3), 0);
}

/* FIFO, deterministically: a queued big request keeps later small ones
 * out even while enough units for them are free. */
static goro_sema fifo_sem = GORO_SEMA_INIT(10);
static _Atomic int fifo_seq;
static _Atomic int fifo_big_at, fifo_small_at;

static void fifo_big(void *arg)
{
    goro_waitgroup *wg = arg;
    gt_check(goro_sema_acquire(&fifo_sem, 10) == 0, "big acquire");
    atomic_store(&fifo_big_at, atomic_fetch_add(&fifo_seq, 1) + 1);
    goro_sleep(2 * GORO_MILLISECOND);
    goro_sema_release(&fifo_sem, 10);
    goro_waitgroup_done(wg);
}

static void fifo_small(void *arg)
{
    goro_waitgroup *wg = arg;
    gt_check(goro_sema_acquire(&fifo_sem, 1) == 0, "small acquire");
    atomic_store(&fifo_small_at, atomic_fetch_add(&fifo_seq, 1) + 1);
    goro_sema_release(&fifo_sem, 1);
    goro_waitgroup_done(wg);
}

static bool big_queued(void *arg)
{
    (void)arg;
    /* 5 units are free; a try of 1 fails only behind a queued waiter. */
    if (goro_sema_try_acquire(&fifo_sem, 1) == EAGAIN)
        return true;
    goro_sema_release(&fifo_sem, 1);
    return false;
}

Test(sync, sema_fifo_big_before_small, .timeout = GT_TIMEOUT(30))
{
    goro_waitgroup wg = GORO_WAITGROUP_INIT;

    atomic_store(&fifo_seq, 0);
    cr_assert_eq(goro_sema_acquire(&fifo_sem, 5), 0);
    goro_waitgroup_add(&wg, 2);
    gt_spawn(fifo_big, &wg);
    cr_assert(gt_wait_until(big_queued, NULL, gt_ms(5000)), "big request never queued");
    gt_spawn(fifo_small, &wg);
    goro_sleep(10 * GORO_MILLISECOND);
    cr_assert_eq(atomic_load(&fifo_seq), 0, "small request overtook the queued big one");
    cr_assert_eq(goro_sema_release(&fifo_sem, 5), 0);
    goro_waitgroup_wait(&wg);
    cr_assert_eq(atomic_load(&fifo_big_at), 1);
    cr_assert_eq(atomic_load(&fifo_small_at), 2);
    gt_quiesce();
}

/* x/sync's TestLargeAcquireDoesntStarve: a stream of small acquirers keeps
 * the semaphore partly held all the time; a big request still gets in. */
static _Atomic bool small_stop;

static void small_stream(void *arg)
{
    goro_waitgroup *wg = arg;
    while (!atomic_load(&small_stop)) {
        gt_check(goro_sema_acquire(&fifo_sem, 1) == 0, "small");
        goro_sleep(100 * GORO_MICROSECOND);
        goro_sema_release(&fifo_sem, 1);
    }
    goro_waitgroup_done(wg);
}

Test(sync, sema_big_not_starved, .timeout = GT_TIMEOUT(60))
{
    enum { SMALL = 16, ROUNDS = 20 };
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    int64_t worst = 0;

    atomic_store(&small_stop, false);
    goro_waitgroup_add(&wg, SMALL);
    for (int i = 0; i < SMALL; i++)
        gt_spawn(small_stream, &wg);
    goro_sleep(10 * GORO_MILLISECOND);
    for (int i = 0; i < ROUNDS; i++) {
        int64_t t0 = goro_now();
        cr_assert_eq(goro_sema_acquire(&fifo_sem, 10), 0);
        int64_t dt = goro_now() - t0;
        cr_assert_eq(goro_sema_try_acquire(&fifo_sem, 1), EAGAIN, "big holds all 10");
        goro_sema_release(&fifo_sem, 10);
        if (dt > worst)
            worst = dt;
        goro_sleep(2 * GORO_MILLISECOND);
    }
    atomic_store(&small_stop, true);
    goro_waitgroup_wait(&wg);
    cr_assert_lt(worst, gt_ms(500), "big request waited %.1f ms", (double)worst / GORO_MILLISECOND);
    gt_quiesce();
}

/* ---- before the runtime starts --------------------------------------------- */

static goro_waitgroup cold_wg = GORO_WAITGROUP_INIT;

static void *cold_done(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
    goro_waitgroup_done(&cold_wg);
    return NULL;
}

/* The first goro call of the process parks a plain thread (main waits for
 * a waitgroup that another plain thread releases): the thread's waiter
 * record must not be stored under a TLS key goro has not created yet.
 * Key 0 belongs to whoever created it first (here Criterion's libgit2,
 * which frees what it finds there at exit). */
Test(sync_cold, plain_thread_wait_before_start, .timeout = GT_TIMEOUT(10))
{
    void *key0 = pthread_getspecific(0);
    pthread_t th;

    /* cold_done's thread first calls goro when it releases main: see
     * waitgroup_fed_by_plain_thread. */
    setenv("GORO_DEADLOCK", "0", 1);

    goro_waitgroup_add(&cold_wg, 1);
    cr_assert_eq(pthread_create(&th, NULL, cold_done, NULL), 0);
    goro_waitgroup_wait(&cold_wg); /* parks this plain thread */
    pthread_join(th, NULL);
    void *now = pthread_getspecific(0);
    pthread_setspecific(0, key0); /* undo, so that the worker exits cleanly */
    cr_assert_eq(now, key0, "goro overwrote pthread key 0 (%p -> %p)", key0, now);
    gt_quiesce();
}
