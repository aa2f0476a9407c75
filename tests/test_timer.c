/* test_timer.c - the runtime's timer heap as goro_sleep sees it: sleepers
 * wake in deadline order (up to near ties) and never early, with many
 * sleepers at once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* setenv, sched_getaffinity, ... (tests build as -std=c11) */
#endif
#include "common.h"

/* ---- order --------------------------------------------------------------- */

#define NORDER 100

static int order_log[NORDER];
static _Atomic long order_len;  /* slots claimed in order_log */
static _Atomic long order_done; /* entries written (release) */
static _Atomic long order_late; /* sleepers that started after their deadline */
static int64_t order_base;

/* Sleeps until order_base + i ms (one deadline grid for all, so that the
 * order of the spawns does not matter), then logs i. */
static void order_sleeper(void *arg)
{
    int i = (int)(intptr_t)arg;
    int64_t deadline = order_base + i * GORO_MILLISECOND;
    if (goro_now() >= deadline)
        atomic_fetch_add(&order_late, 1); /* the run cannot judge order */
    goro_sleep(deadline - goro_now());
    order_log[atomic_fetch_add(&order_len, 1)] = i;
    atomic_fetch_add_explicit(&order_done, 1, memory_order_release);
}

static void order_main(void *arg)
{
    int *perm = arg;
    for (int k = 0; k < NORDER; k++)
        gt_check(goro_go(order_sleeper, (void *)(intptr_t)perm[k]) == 0, "goro_go");
    gt_check(gt_wait_count(&order_done, NORDER, gt_ms(10000)), "sleepers stuck");
}

/* One run: spawns the sleepers in the order perm.  Returns -1 if some
 * sleeper started too late to judge, else the first inversion beyond tol
 * ms as "returned value before *later" (0 if none). */
static int order_run(const int *perm, int tol, int *later)
{
    atomic_store(&order_len, 0);
    atomic_store(&order_done, 0);
    atomic_store(&order_late, 0);
    order_base = goro_now() + gt_ms(50); /* time for all 100 to start */
    cr_assert_eq(goro_main(order_main, (void *)perm), 0);
    gt_assert_no_failures();
    cr_assert_eq(atomic_load(&order_done), NORDER);
    if (atomic_load(&order_late))
        return -1;
    for (int a = 0; a < NORDER; a++)
        for (int b = a + 1; b < NORDER; b++)
            if (order_log[a] - order_log[b] > tol) {
                *later = order_log[b];
                return order_log[a];
            }
    return 0;
}

/* Sleepers wake in deadline order, except that values within tol ms of each
 * other may swap: those woken in the same pass over the heap, or by threads
 * racing.  A late wake-up of the thread that fires timers (a loaded
 * machine) widens such a pass, so a run may be retried twice; a heap that
 * misorders does so every time. */
Test(timer, sleep_order, .timeout = GT_TIMEOUT(20))
{
    int perm[NORDER];
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (int k = 0; k < NORDER; k++)
        perm[k] = k + 1;
    for (int k = NORDER - 1; k > 0; k--) { /* random spawn order */
        int j = (int)(gt_rand(&seed) % (uint64_t)(k + 1));
        int t = perm[k];
        perm[k] = perm[j];
        perm[j] = t;
    }
    int tol = (int)(2 * gt_scale()), first = -1, second = 0;
    for (int attempt = 0; attempt < 3 && first != 0; attempt++)
        first = order_run(perm, tol, &second);
    cr_assert_neq(first, -1, "sleepers started after their deadlines in 3 runs of 3");
    cr_assert_eq(first, 0, "the %d ms sleeper woke before the %d ms one, in 3 runs of 3",
                 first, second);
    gt_quiesce();
}

/* ---- many sleepers, never early ------------------------------------------ */

#define NMANY 10000
#define MANY_ROUNDS 10

static _Atomic long many_done;

static void many_sleeper(void *arg)
{
    uint64_t seed = 0x2545F4914F6CDD1DULL ^ ((uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ULL);
    for (int r = 0; r < MANY_ROUNDS; r++) {
        int64_t d = (int64_t)(1 + gt_rand(&seed) % 50) * GORO_MILLISECOND;
        int64_t t0 = goro_now();
        goro_sleep(d);
        int64_t slept = goro_now() - t0;
        if (!gt_check(slept >= d, "goro_sleep(%lld ms) woke after %lld ns",
                      (long long)(d / GORO_MILLISECOND), (long long)slept))
            break;
    }
    atomic_fetch_add_explicit(&many_done, 1, memory_order_release);
}

Test(timer, many_sleepers, .timeout = GT_TIMEOUT(30))
{
    for (long i = 0; i < NMANY; i++)
        cr_assert_eq(goro_go(many_sleeper, (void *)(intptr_t)i), 0);
    cr_assert(gt_wait_count(&many_done, NMANY, gt_ms(20000)), "%ld of %d sleepers finished",
              atomic_load(&many_done), NMANY);
    gt_quiesce();
}

/* ---- timers and Ps --------------------------------------------------------
 * Timers live in the heap of the P that armed them (of some P for a plain
 * thread).  These tests move goroutines and Ps under the timers. */

#define NRETIRE 400

static _Atomic long retire_armed, retire_done;
static int64_t retire_base;

/* Sleeps until retire_base + 30..80 ms, then checks it woke neither early
 * nor very late. */
static void retire_sleeper(void *arg)
{
    int64_t deadline = retire_base + (30 + (intptr_t)arg % 51) * GORO_MILLISECOND;
    atomic_fetch_add(&retire_armed, 1);
    goro_sleep(deadline - goro_now());
    int64_t late = goro_now() - deadline;
    gt_check(late >= 0, "woke %lld ns early", (long long)-late);
    gt_check(late < gt_ms(1000), "woke %lld ms late", (long long)(late / GORO_MILLISECOND));
    atomic_fetch_add_explicit(&retire_done, 1, memory_order_release);
}

/* Sleepers armed on four Ps; three of the Ps retire while they sleep.  The
 * retired Ps' timers fire on the one left, none lost. */
Test(timer, timers_survive_ps_retiring, .timeout = GT_TIMEOUT(30))
{
    int prev = goro_maxprocs(4);
    retire_base = goro_now();
    for (long i = 0; i < NRETIRE; i++)
        gt_spawn(retire_sleeper, (void *)(intptr_t)i);
    cr_assert(gt_wait_count(&retire_armed, NRETIRE, gt_ms(10000)));
    goro_maxprocs(1);
    cr_assert(gt_wait_count(&retire_done, NRETIRE, gt_ms(10000)), "%ld of %d sleepers woke",
              atomic_load(&retire_done), NRETIRE);
    gt_assert_no_failures();
    goro_maxprocs(prev);
    gt_quiesce();
}

#define NTHREADS_T 4
#define TIMERS_PER_THREAD 50

/* A plain thread arms timers one after another (each lands in some P's
 * heap) and checks each fires, not early. */
static void *thread_timers(void *arg)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL * (1 + (uintptr_t)arg);
    for (int i = 0; i < TIMERS_PER_THREAD; i++) {
        int64_t d = (int64_t)(1 + gt_rand(&seed) % 5) * GORO_MILLISECOND, fired = 0;
        int64_t t0 = goro_now();
        goro_timer *t = goro_timer_make(d);
        if (!gt_check(t != NULL, "goro_timer_make: errno %d", errno))
            break;
        gt_check(goro_chan_recv(goro_timer_chan(t), &fired) == 0, "timer channel closed");
        gt_check(fired >= t0 + d, "timer fired %lld ns early", (long long)(t0 + d - fired));
        goro_timer_free(t);
    }
    return NULL;
}

Test(timer, plain_threads_arm_timers, .timeout = GT_TIMEOUT(30))
{
    pthread_t th[NTHREADS_T];
    int prev = goro_maxprocs(4);
    for (uintptr_t i = 0; i < NTHREADS_T; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, thread_timers, (void *)i), 0);
    for (int i = 0; i < NTHREADS_T; i++)
        pthread_join(th[i], NULL);
    gt_assert_no_failures();
    goro_maxprocs(prev);
    gt_quiesce();
}

/* Stress: goroutines wait on a channel with a timeout in a loop (a timer
 * armed, then mostly deleted by the receive) and sleep briefly, while the
 * number of Ps swings between 1 and 4: timers are re-homed as their
 * goroutines migrate and moved as Ps retire.  Every value sent is received
 * exactly once, and no sleep ends early. */
#define NWAITERS 16
#define NVALUES 20000

static goro_chan *swing_c;
static _Atomic long swing_sum, swing_count, swing_timeouts, swing_exited;
static _Atomic int swing_stop;

static void swing_waiter(void *arg)
{
    uint64_t seed = 0x2545F4914F6CDD1DULL ^ (uint64_t)(uintptr_t)arg;
    for (;;) {
        long v;
        bool ok;
        int r = GORO_SELECT(goro_case_recv_ok(swing_c, &v, &ok),
                            goro_case_timeout(200 * GORO_MICROSECOND));
        if (r == 0 && !ok)
            break;
        if (r == 0) {
            atomic_fetch_add(&swing_sum, v);
            atomic_fetch_add(&swing_count, 1);
        } else {
            atomic_fetch_add(&swing_timeouts, 1);
        }
        if (gt_rand(&seed) % 8 == 0) {
            int64_t d = (int64_t)(gt_rand(&seed) % 100) * GORO_MICROSECOND, t0 = goro_now();
            goro_sleep(d);
            gt_check(goro_now() - t0 >= d, "goro_sleep woke early");
        }
    }
    atomic_fetch_add_explicit(&swing_exited, 1, memory_order_release);
}

static void swing_procs(void *arg)
{
    (void)arg;
    for (int i = 0; !atomic_load(&swing_stop); i++) {
        goro_maxprocs(i % 2 ? 1 : 4);
        goro_sleep(2 * GORO_MILLISECOND);
    }
    atomic_fetch_add_explicit(&swing_exited, 1, memory_order_release);
}

Test(timer, stress_timers_while_ps_swing, .timeout = GT_TIMEOUT(60))
{
    int prev = goro_maxprocs(4);
    long want = 0;
    swing_c = gt_mkchan(sizeof(long), 4);
    for (uintptr_t i = 0; i < NWAITERS; i++)
        gt_spawn(swing_waiter, (void *)i);
    gt_spawn(swing_procs, NULL);
    for (long v = 1; v <= NVALUES; v++) {
        cr_assert_eq(goro_chan_send(swing_c, &v), 0);
        want += v;
        if (v % 64 == 0)
            goro_sleep(100 * GORO_MICROSECOND); /* let the waiters time out */
    }
    cr_assert_eq(goro_chan_close(swing_c), 0);
    atomic_store(&swing_stop, 1);
    cr_assert(gt_wait_count(&swing_exited, NWAITERS + 1, gt_ms(20000)));
    cr_assert_eq(atomic_load(&swing_count), NVALUES);
    cr_assert_eq(atomic_load(&swing_sum), want);
    cr_assert_gt(atomic_load(&swing_timeouts), 0, "no select timed out: the timers were not tested");
    gt_assert_no_failures();
    goro_chan_release(swing_c);
    goro_maxprocs(prev);
    gt_quiesce();
}

/* Stress: plain threads stop and reset 1 us tickers in a loop while
 * goroutines keep the Ps busy with short sleeps.  A ticker is always
 * armed or firing (its callback re-arms it, possibly into another P's
 * heap), so every stop must report it stopped, and nothing may arrive
 * after a stop.  A delete that checked "in no heap" and "no callback
 * running" at two different moments missed a re-arm between them once in
 * some 50,000 stops. */
#define NSTOPPERS 6

static _Atomic int stop_done;
static _Atomic long stop_count, stop_false, stop_late;

static void *ticker_stopper(void *arg)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL * (1 + (uintptr_t)arg);
    goro_ticker *tk = goro_ticker_make(GORO_MICROSECOND);
    if (!gt_check(tk != NULL, "goro_ticker_make: errno %d", errno))
        return NULL;
    while (!atomic_load(&stop_done)) {
        gt_spin((int64_t)(gt_rand(&seed) % 20000));
        if (!goro_ticker_stop(tk)) {
            atomic_fetch_add(&stop_false, 1);
            goro_sleep(2 * GORO_MILLISECOND);
            if (goro_chan_try_recv(goro_ticker_chan(tk), NULL) == 0)
                atomic_fetch_add(&stop_late, 1);
        }
        goro_ticker_reset(tk, GORO_MICROSECOND);
        atomic_fetch_add(&stop_count, 1);
    }
    goro_ticker_free(tk);
    return NULL;
}

static void short_sleeper(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_done))
        goro_sleep(2 * GORO_MICROSECOND);
    atomic_fetch_add_explicit(&many_done, 1, memory_order_release);
}

Test(timer, stress_ticker_stop_while_rearming, .timeout = GT_TIMEOUT(30))
{
    pthread_t th[NSTOPPERS];
    int prev = goro_maxprocs(2);
    atomic_store(&many_done, 0);
    for (int i = 0; i < 4; i++)
        gt_spawn(short_sleeper, NULL);
    for (uintptr_t i = 0; i < NSTOPPERS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, ticker_stopper, (void *)i), 0);
    goro_sleep(2 * GORO_SECOND);
    atomic_store(&stop_done, 1);
    for (int i = 0; i < NSTOPPERS; i++)
        pthread_join(th[i], NULL);
    cr_assert(gt_wait_count(&many_done, 4, gt_ms(5000)));
    gt_assert_no_failures();
    cr_assert_eq(atomic_load(&stop_false), 0,
                 "%ld of %ld stops found a ticker neither armed nor holding a tick "
                 "(%ld ticked after the stop)",
                 atomic_load(&stop_false), atomic_load(&stop_count), atomic_load(&stop_late));
    goro_maxprocs(prev);
    gt_quiesce();
}

/* A 100 us timer from a plain thread fires in well under a millisecond
 * on a quiet runtime: the idle thread woken to watch it must not round
 * its sleep up to the next millisecond (it did, for every such timer).
 * The median of 31 counts, so one slow wake-up does not decide; another
 * suite loading the machine can slow a whole round, so the best of three
 * rounds counts (the rounding slowed every round alike). */
#define NSHORT 31

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t short_timer_median(void)
{
    int64_t lat[NSHORT];
    for (int i = 0; i < NSHORT; i++) {
        int64_t t0 = goro_now(), fired;
        goro_timer *t = goro_timer_make(100 * GORO_MICROSECOND);
        cr_assert_not_null(t);
        cr_assert_eq(goro_chan_recv(goro_timer_chan(t), &fired), 0);
        lat[i] = goro_now() - t0;
        goro_timer_free(t);
        goro_sleep(GORO_MILLISECOND); /* plain thread: a nanosleep */
    }
    qsort(lat, NSHORT, sizeof lat[0], cmp_i64);
    return lat[NSHORT / 2];
}

Test(timer, short_timer_from_thread_not_rounded_up, .timeout = GT_TIMEOUT(30))
{
    int64_t best = INT64_MAX;
    for (int round = 0; round < 3 && best >= gt_ms(0.7); round++) {
        int64_t m = short_timer_median();
        if (m < best)
            best = m;
    }
    cr_assert_lt(best, gt_ms(0.7), "median wait for a 100 us timer: %.0f us (best of 3 rounds)",
                 best / 1e3);
    gt_quiesce();
}

/* ---- far timers are not a deadlock ---------------------------------------- */

/* Every goroutine waits on a timer that is very far away (INT64_MAX ns of
 * sleep, a select timeout, a goro_timer, a context deadline), and the main
 * thread waits on a channel that a thread unknown to goro sends on after a
 * while.  A timer, however far, is a way to wake up: the deadlock detector
 * must not abort (Go does not report it either).  Run in a child process:
 * the goroutines never end, and the old failure is an abort. */
#define CHILD_ENV "GT_TIMER_CHILD"

static goro_chan *far_done;

static void far_sleep(void *arg)
{
    (void)arg;
    goro_sleep(INT64_MAX);
}

static void far_select(void *arg)
{
    goro_chan *never = goro_chan_make(0, 0);
    (void)arg;
    goro_case cs[] = {goro_case_recv(never, NULL), goro_case_timeout(INT64_MAX)};
    goro_select(cs, 2);
}

static void far_select_deadline(void *arg)
{
    goro_chan *never = goro_chan_make(0, 0);
    (void)arg;
    goro_case cs[] = {goro_case_recv(never, NULL), goro_case_deadline(INT64_MAX)};
    goro_select(cs, 2);
}

static void far_timer(void *arg)
{
    goro_timer *t = goro_timer_make(INT64_MAX);
    (void)arg;
    goro_chan_recv(goro_timer_chan(t), NULL);
}

static void far_ctx(void *arg)
{
    goro_ctx *c = goro_ctx_with_deadline(NULL, INT64_MAX);
    (void)arg;
    goro_chan_recv(goro_ctx_done(c), NULL);
}

/* The detector needs its picture to hold for 250 ms after 100 ms of
 * idleness, and looks once a second after that: 3 s is past it. */
static void *far_waker(void *arg)
{
    (void)arg;
    usleep(3000 * 1000);
    goro_chan_close(far_done);
    return NULL;
}

static void child_far(void (*fn)(void *))
{
    pthread_t t;
    far_done = goro_chan_make(0, 0);
    if (!far_done || goro_go(fn, NULL) != 0 || pthread_create(&t, NULL, far_waker, NULL) != 0)
        _exit(2);
    goro_chan_recv(far_done, NULL);
    pthread_join(t, NULL);
    _exit(0);
}

static void child_far_sleep(void) { child_far(far_sleep); }
static void child_far_select(void) { child_far(far_select); }
static void child_far_select_deadline(void) { child_far(far_select_deadline); }
static void child_far_timer(void) { child_far(far_timer); }
static void child_far_ctx(void) { child_far(far_ctx); }

static const gt_child_body child_bodies[] = {
    {"far_sleep", child_far_sleep},
    {"far_select", child_far_select},
    {"far_select_deadline", child_far_select_deadline},
    {"far_timer", child_far_timer},
    {"far_ctx", child_far_ctx},
    {NULL, NULL},
};

__attribute__((constructor)) static void child_entry(void)
{
    gt_child_dispatch(CHILD_ENV, child_bodies);
}

static void assert_no_deadlock(const char *body)
{
    char out[4096];
    int status;
    gt_run_child(CHILD_ENV, body, out, sizeof out, &status);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: child status %#x, stderr:\n%s",
              body, status, out);
}

Test(timer, far_sleep_is_not_deadlock, .timeout = GT_TIMEOUT(30))
{
    assert_no_deadlock("far_sleep");
}

Test(timer, far_select_timeout_is_not_deadlock, .timeout = GT_TIMEOUT(30))
{
    assert_no_deadlock("far_select");
    assert_no_deadlock("far_select_deadline");
}

Test(timer, far_timer_is_not_deadlock, .timeout = GT_TIMEOUT(30))
{
    assert_no_deadlock("far_timer");
}

Test(timer, far_ctx_deadline_is_not_deadlock, .timeout = GT_TIMEOUT(30))
{
    assert_no_deadlock("far_ctx");
}
