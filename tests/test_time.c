/* test_time.c - goro_timer and goro_ticker (Go's time.Timer and
 * time.Ticker with Go 1.23 semantics): firing once with a sane time, stop
 * and reset before, during and after the fire (no stale value after either
 * returns), tickers' period, dropped ticks for slow receivers, stop, reset
 * and invalid arguments; func timers (goro_after_func); timers armed from
 * a plain thread while the runtime idles, on time even when the M started
 * to fire them is slow to get a CPU.
 *
 * Derived from Go's time/sleep_test.go and time/tick_test.go.  Lower time
 * bounds are exact (a timer never fires early); upper bounds are generous
 * and scaled by gt_scale().
 */
#define _GNU_SOURCE
#include "common.h"

#include <dirent.h>
#include <semaphore.h>
#include <sys/socket.h>
#include <time.h>

/* ---- helpers ------------------------------------------------------------ */

static goro_timer *mktimer(int64_t ns)
{
    goro_timer *t = goro_timer_make(ns);
    cr_assert_not_null(t, "goro_timer_make(%lld): errno %d", (long long)ns, errno);
    cr_assert_not_null(goro_timer_chan(t));
    return t;
}

static goro_ticker *mkticker(int64_t ns)
{
    goro_ticker *t = goro_ticker_make(ns);
    cr_assert_not_null(t, "goro_ticker_make(%lld): errno %d", (long long)ns, errno);
    cr_assert_not_null(goro_ticker_chan(t));
    return t;
}

/* Receives from c with a (scaled) limit; returns 0 and the value, or
 * ETIMEDOUT. */
static int recv_within(goro_chan *c, int64_t *v, int64_t limit_ns)
{
    int r = GORO_SELECT(goro_case_recv(c, v), goro_case_timeout(limit_ns));
    return r == 0 ? 0 : ETIMEDOUT;
}

/* Nothing arrives on c for ns. */
static bool quiet_for(goro_chan *c, int64_t ns)
{
    int64_t v;
    return GORO_SELECT(goro_case_recv(c, &v), goro_case_timeout(ns)) == 1;
}

/* Starts the runtime (see test_select's plain_thread_timeout_first_use). */
static void start_runtime(void)
{
    (void)goro_num_goroutine();
}

/* ---- timers ------------------------------------------------------------- */

static void check_fires_once(void)
{
    int64_t t0 = goro_now(), v = 0;
    goro_timer *t = goro_timer_make(20 * GORO_MILLISECOND);
    if (!gt_check(t != NULL, "goro_timer_make"))
        return;
    gt_check(goro_chan_cap(goro_timer_chan(t)) >= 1, "timer channel unbuffered");
    int e = goro_chan_recv(goro_timer_chan(t), &v);
    int64_t t1 = goro_now();
    gt_check(e == 0, "recv: %d", e);
    gt_check(v >= t0 + 20 * GORO_MILLISECOND, "fired %lld ns after creation, before 20 ms",
             (long long)(v - t0));
    gt_check(v <= t1, "fire time %lld is after the receive (%lld)", (long long)v, (long long)t1);
    gt_check(t1 - t0 < 20 * GORO_MILLISECOND + gt_ms(500), "fired after %lld ns",
             (long long)(t1 - t0));
    /* Once only. */
    gt_check(quiet_for(goro_timer_chan(t), 60 * GORO_MILLISECOND), "fired twice");
    gt_check(!goro_timer_stop(t), "stop after the value was received returned true");
    goro_timer_free(t);
}

static void fires_once_goroutine(void *arg)
{
    check_fires_once();
    goro_chan_send(arg, NULL);
}

Test(time, timer_fires_once_thread, .timeout = GT_TIMEOUT(10))
{
    check_fires_once();
    gt_quiesce();
}

Test(time, timer_fires_once_goroutine, .timeout = GT_TIMEOUT(10))
{
    goro_chan *done = goro_chan_make(0, 0);
    cr_assert_not_null(done);
    gt_spawn(fires_once_goroutine, done);
    cr_assert_eq(goro_chan_recv(done, NULL), 0);
    goro_chan_release(done);
    gt_quiesce();
}

Test(time, timer_nonpositive_fires_at_once, .timeout = GT_TIMEOUT(10))
{
    static const int64_t ns[] = {0, -1, -GORO_SECOND, INT64_MIN};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
        int64_t t0 = goro_now(), v;
        goro_timer *t = mktimer(ns[i]);
        cr_assert_eq(recv_within(goro_timer_chan(t), &v, gt_ms(2000)), 0, "ns %lld",
                     (long long)ns[i]);
        cr_assert_geq(v, t0);
        cr_assert_leq(v, goro_now());
        goro_timer_free(t);
    }
    /* A huge duration does not wrap into the past. */
    goro_timer *t = mktimer(INT64_MAX);
    cr_assert(quiet_for(goro_timer_chan(t), 20 * GORO_MILLISECOND));
    cr_assert(goro_timer_stop(t));
    goro_timer_free(t);
    gt_quiesce();
}

Test(time, timer_stop_before_fire, .timeout = GT_TIMEOUT(10))
{
    start_runtime();
    goro_timer *t = mktimer(50 * GORO_MILLISECOND);
    cr_assert(goro_timer_stop(t), "stop of a pending timer returned false");
    /* Well after the fire time: nothing. */
    cr_assert(quiet_for(goro_timer_chan(t), 150 * GORO_MILLISECOND), "a stopped timer fired");
    cr_assert_eq(goro_chan_len(goro_timer_chan(t)), 0);
    cr_assert(!goro_timer_stop(t), "second stop returned true");
    goro_timer_free(t);
    gt_quiesce();
}

static bool chan_has_one(void *c)
{
    return goro_chan_len(c) == 1;
}

Test(time, timer_stop_after_fire_unreceived, .timeout = GT_TIMEOUT(10))
{
    goro_timer *t = mktimer(GORO_MILLISECOND);
    cr_assert(gt_wait_until(chan_has_one, goro_timer_chan(t), gt_ms(2000)), "never fired");
    /* Go 1.23: the value was not received, so stop takes it back. */
    cr_assert(goro_timer_stop(t), "stop of a fired, unreceived timer returned false");
    int64_t v;
    cr_assert_eq(goro_chan_try_recv(goro_timer_chan(t), &v), EAGAIN, "stale value after stop");
    cr_assert(!goro_timer_stop(t));
    goro_timer_free(t);
    gt_quiesce();
}

Test(time, timer_stop_after_receive, .timeout = GT_TIMEOUT(10))
{
    goro_timer *t = mktimer(GORO_MILLISECOND);
    int64_t v;
    cr_assert_eq(recv_within(goro_timer_chan(t), &v, gt_ms(2000)), 0);
    cr_assert(!goro_timer_stop(t), "stop after receive returned true");
    cr_assert(!goro_timer_stop(t));
    goro_timer_free(t);
    gt_quiesce();
}

Test(time, timer_reset_fired, .timeout = GT_TIMEOUT(10))
{
    goro_timer *t = mktimer(GORO_MILLISECOND);
    int64_t v1, v2;
    cr_assert_eq(recv_within(goro_timer_chan(t), &v1, gt_ms(2000)), 0);
    for (int i = 0; i < 5; i++) {
        int64_t t0 = goro_now();
        cr_assert(!goro_timer_reset(t, 10 * GORO_MILLISECOND), "reset after receive: true");
        cr_assert_eq(recv_within(goro_timer_chan(t), &v2, gt_ms(2000)), 0, "no fire after reset");
        cr_assert_geq(v2, t0 + 10 * GORO_MILLISECOND, "reset timer fired early");
        cr_assert_gt(v2, v1);
        v1 = v2;
    }
    cr_assert(quiet_for(goro_timer_chan(t), 30 * GORO_MILLISECOND));
    goro_timer_free(t);
    gt_quiesce();
}

Test(time, timer_reset_pending_moves_deadline, .timeout = GT_TIMEOUT(20))
{
    start_runtime();
    int64_t v;
    /* Earlier. */
    goro_timer *t = mktimer(10 * GORO_SECOND);
    int64_t t0 = goro_now();
    cr_assert(goro_timer_reset(t, 20 * GORO_MILLISECOND), "reset of a pending timer: false");
    cr_assert_eq(recv_within(goro_timer_chan(t), &v, gt_ms(3000)), 0, "moved deadline missed");
    cr_assert_geq(v, t0 + 20 * GORO_MILLISECOND);
    goro_timer_free(t);

    /* Later: the old deadline passes without a value. */
    t = mktimer(20 * GORO_MILLISECOND);
    t0 = goro_now();
    cr_assert(goro_timer_reset(t, 300 * GORO_MILLISECOND));
    cr_assert(quiet_for(goro_timer_chan(t), 150 * GORO_MILLISECOND), "old deadline fired");
    cr_assert_eq(recv_within(goro_timer_chan(t), &v, gt_ms(3000)), 0);
    cr_assert_geq(v, t0 + 300 * GORO_MILLISECOND);
    cr_assert(quiet_for(goro_timer_chan(t), 30 * GORO_MILLISECOND), "fired twice");
    goro_timer_free(t);
    gt_quiesce();
}

/* A fired, unreceived value is dropped by reset: the next value is the new
 * deadline's. */
Test(time, timer_reset_unreceived, .timeout = GT_TIMEOUT(10))
{
    goro_timer *t = mktimer(GORO_MILLISECOND);
    cr_assert(gt_wait_until(chan_has_one, goro_timer_chan(t), gt_ms(2000)), "never fired");
    int64_t t0 = goro_now(), v;
    cr_assert(goro_timer_reset(t, 30 * GORO_MILLISECOND), "reset of an unreceived timer: false");
    cr_assert_eq(goro_chan_try_recv(goro_timer_chan(t), &v), EAGAIN, "stale value after reset");
    cr_assert_eq(recv_within(goro_timer_chan(t), &v, gt_ms(2000)), 0);
    cr_assert_geq(v, t0 + 30 * GORO_MILLISECOND, "received the stale value");
    goro_timer_free(t);
    gt_quiesce();
}

Test(time, timer_null, .timeout = GT_TIMEOUT(10))
{
    cr_assert(!goro_timer_stop(NULL));
    cr_assert(!goro_timer_reset(NULL, GORO_MILLISECOND));
    cr_assert_null(goro_timer_chan(NULL));
    goro_timer_free(NULL);
    gt_quiesce();
}

/* Many timers at once, each received once, none early. */
#define MANY 1000

static _Atomic long many_ok;

static void many_timer(void *arg)
{
    long i = (long)(intptr_t)arg;
    int64_t ns = (i % 50) * GORO_MILLISECOND / 2;
    int64_t t0 = goro_now(), v;
    goro_timer *t = goro_timer_make(ns);
    if (!gt_check(t != NULL, "make"))
        return;
    if (gt_check(goro_chan_recv(goro_timer_chan(t), &v) == 0, "recv") &&
        gt_check(v >= t0 + ns, "timer %ld fired %lld ns early", i, (long long)(t0 + ns - v)) &&
        gt_check(quiet_for(goro_timer_chan(t), GORO_MILLISECOND), "timer %ld fired twice", i))
        atomic_fetch_add(&many_ok, 1);
    goro_timer_free(t);
}

Test(time, many_timers, .timeout = GT_TIMEOUT(20))
{
    for (long i = 0; i < MANY; i++)
        gt_spawn(many_timer, (void *)(intptr_t)i);
    cr_assert(gt_wait_count(&many_ok, MANY, gt_ms(10000)), "%ld of %d", atomic_load(&many_ok),
              MANY);
    gt_quiesce();
}

/* Stop and reset racing with the fire: timers of 0-100 us, stopped or
 * reset after 0-100 us of spinning.  The value is never received before
 * stop/reset, so both must return true every time (pending, or fired and
 * taken back); afterwards no stale value can be received. */
#define RACE_WORKERS 4
#define RACE_ROUNDS 2000

static _Atomic long race_done;

static void stop_racer(void *arg)
{
    uint64_t rng = 0x51ed27a5ULL * ((uint64_t)(uintptr_t)arg + 1);
    for (int i = 0; i < RACE_ROUNDS; i++) {
        int64_t ns = (int64_t)(gt_rand(&rng) % 100) * GORO_MICROSECOND;
        goro_timer *t = goro_timer_make(ns);
        if (!gt_check(t != NULL, "make"))
            break;
        gt_spin((int64_t)(gt_rand(&rng) % 100) * GORO_MICROSECOND);
        bool stopped = goro_timer_stop(t);
        int64_t v;
        int e = goro_chan_try_recv(goro_timer_chan(t), &v);
        gt_check(stopped, "round %d: stop of an unreceived timer returned false", i);
        gt_check(e == EAGAIN, "round %d: stale value after stop (%d)", i, e);
        if (i % 50 == 0)
            gt_check(quiet_for(goro_timer_chan(t), 300 * GORO_MICROSECOND),
                     "round %d: a stopped timer fired", i);
        goro_timer_free(t);
    }
    atomic_fetch_add(&race_done, 1);
}

static void reset_racer(void *arg)
{
    uint64_t rng = 0x2545f491ULL * ((uint64_t)(uintptr_t)arg + 1);
    goro_timer *t = goro_timer_make(0);
    if (!gt_check(t != NULL, "make"))
        return;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        gt_spin((int64_t)(gt_rand(&rng) % 100) * GORO_MICROSECOND);
        int64_t ns = (int64_t)(gt_rand(&rng) % 100) * GORO_MICROSECOND;
        int64_t t0 = goro_now(), v;
        bool was = goro_timer_reset(t, ns);
        gt_check(was, "round %d: reset of an unreceived timer returned false", i);
        /* Sometimes receive the new value (it must be the new one), and
         * sometimes leave it for the next reset to take back. */
        if (i % 3 == 0) {
            int e = goro_chan_recv(goro_timer_chan(t), &v);
            if (gt_check(e == 0, "recv %d", e))
                gt_check(v >= t0 + ns, "round %d: stale value %lld ns before the deadline", i,
                         (long long)(t0 + ns - v));
            goro_timer_reset(t, 0); /* unreceived again for the next round */
        }
    }
    goro_timer_free(t);
    atomic_fetch_add(&race_done, 1);
}

Test(time, stress_timer_stop_reset_race, .timeout = GT_TIMEOUT(60))
{
    for (long i = 0; i < RACE_WORKERS; i++) {
        gt_spawn(stop_racer, (void *)(intptr_t)i);
        gt_spawn(reset_racer, (void *)(intptr_t)i);
    }
    cr_assert(gt_wait_count(&race_done, 2 * RACE_WORKERS, gt_ms(50000)));
    gt_quiesce();
}

/* Timers freed while pending or firing (ASan catches a callback touching
 * freed memory). */
static void free_racer(void *arg)
{
    uint64_t rng = 0x9e3779b9ULL * ((uint64_t)(uintptr_t)arg + 1);
    for (int i = 0; i < RACE_ROUNDS; i++) {
        goro_timer *t = goro_timer_make((int64_t)(gt_rand(&rng) % 50) * GORO_MICROSECOND);
        if (!gt_check(t != NULL, "make"))
            break;
        gt_spin((int64_t)(gt_rand(&rng) % 50) * GORO_MICROSECOND);
        goro_timer_free(t);
        if (i % 4 == 0) {
            goro_ticker *k = goro_ticker_make(1 + (int64_t)(gt_rand(&rng) % 20) * GORO_MICROSECOND);
            if (!gt_check(k != NULL, "ticker make"))
                break;
            gt_spin((int64_t)(gt_rand(&rng) % 100) * GORO_MICROSECOND);
            goro_ticker_free(k);
        }
    }
    atomic_fetch_add(&race_done, 1);
}

Test(time, stress_timer_free_race, .timeout = GT_TIMEOUT(60))
{
    for (long i = 0; i < RACE_WORKERS; i++)
        gt_spawn(free_racer, (void *)(intptr_t)i);
    cr_assert(gt_wait_count(&race_done, RACE_WORKERS, gt_ms(50000)));
    gt_quiesce();
}

/* A timer's channel in a select, against a channel that is never ready. */
Test(time, timer_in_select, .timeout = GT_TIMEOUT(10))
{
    goro_chan *never = goro_chan_make(sizeof(int64_t), 0);
    cr_assert_not_null(never);
    goro_timer *t = mktimer(10 * GORO_MILLISECOND);
    int64_t v = 0;
    int r = GORO_SELECT(goro_case_recv(never, &v), goro_case_recv(goro_timer_chan(t), &v),
                        goro_case_timeout(gt_ms(5000)));
    cr_assert_eq(r, 1);
    cr_assert_gt(v, 0);
    goro_timer_free(t);
    goro_chan_release(never);
    gt_quiesce();
}

/* ---- tickers ------------------------------------------------------------ */

static void check_ticks(int64_t period, int n)
{
    int64_t t0 = goro_now(), prev = t0, v;
    goro_ticker *t = goro_ticker_make(period);
    if (!gt_check(t != NULL, "ticker make"))
        return;
    for (int k = 1; k <= n; k++) {
        if (!gt_check(goro_chan_recv(goro_ticker_chan(t), &v) == 0, "recv"))
            break;
        /* Tick k is due at creation + k periods (or later, when ticks were
         * skipped), never before. */
        gt_check(v >= t0 + k * period, "tick %d at %lld ns, due at %lld", k,
                 (long long)(v - t0), (long long)(k * period));
        gt_check(v > prev, "tick %d not after the previous one", k);
        prev = v;
    }
    int64_t elapsed = goro_now() - t0;
    /* Generous: a loaded machine delays every tick a little. */
    gt_check(elapsed < 2 * n * period + gt_ms(1000), "%d ticks of %lld ns took %lld ns", n,
             (long long)period, (long long)elapsed);
    gt_check(goro_ticker_stop(t), "stop of a running ticker returned false");
    goro_ticker_free(t);
}

Test(time, ticker_period_thread, .timeout = GT_TIMEOUT(10))
{
    check_ticks(10 * GORO_MILLISECOND, 10);
    gt_quiesce();
}

static void ticks_goroutine(void *arg)
{
    check_ticks(5 * GORO_MILLISECOND, 20);
    goro_chan_send(arg, NULL);
}

Test(time, ticker_period_goroutines, .timeout = GT_TIMEOUT(10))
{
    goro_chan *done = goro_chan_make(0, 8);
    cr_assert_not_null(done);
    for (int i = 0; i < 8; i++)
        gt_spawn(ticks_goroutine, done);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(goro_chan_recv(done, NULL), 0);
    goro_chan_release(done);
    gt_quiesce();
}

/* A receiver that sleeps 5 periods finds one tick waiting, not five: the
 * ticker drops ticks instead of queueing them. */
Test(time, ticker_slow_receiver_drops, .timeout = GT_TIMEOUT(10))
{
    const int64_t period = 10 * GORO_MILLISECOND;
    goro_ticker *t = mkticker(period);
    goro_chan *c = goro_ticker_chan(t);
    for (int round = 0; round < 5; round++) {
        /* Sleep on the timer heap too (goro_sleep on a plain thread is a
         * nanosleep), so the due ticks are sent before the sleep ends even
         * when timers run late on a busy machine. */
        GORO_SELECT(goro_case_timeout(5 * period));
        cr_assert_leq(goro_chan_len(c), 1, "%zu ticks queued", goro_chan_len(c));
        int64_t before = goro_now(), v1, v2;
        cr_assert_eq(goro_chan_try_recv(c, &v1), 0, "round %d: no tick after 5 periods", round);
        cr_assert_lt(v1, before);
        /* A second one, if any, is a new tick, not a queued old one. */
        int e = goro_chan_try_recv(c, &v2);
        if (e == 0)
            cr_assert_geq(v2, before, "round %d: a second, old tick was queued", round);
        else
            cr_assert_eq(e, EAGAIN);
    }
    goro_ticker_free(t);
    gt_quiesce();
}

Test(time, ticker_stop, .timeout = GT_TIMEOUT(10))
{
    const int64_t period = 5 * GORO_MILLISECOND;
    goro_ticker *t = mkticker(period);
    int64_t v;
    cr_assert_eq(recv_within(goro_ticker_chan(t), &v, gt_ms(2000)), 0);
    /* Let one more tick be buffered, then stop: it is dropped too. */
    goro_sleep(2 * period);
    cr_assert(goro_ticker_stop(t), "stop of a running ticker returned false");
    cr_assert_eq(goro_chan_try_recv(goro_ticker_chan(t), &v), EAGAIN, "tick left after stop");
    cr_assert(quiet_for(goro_ticker_chan(t), 10 * period), "ticked after stop");
    cr_assert(!goro_ticker_stop(t), "second stop returned true");
    /* reset restarts a stopped ticker. */
    int64_t t0 = goro_now();
    cr_assert(!goro_ticker_reset(t, period), "reset of a stopped ticker returned true");
    cr_assert_eq(recv_within(goro_ticker_chan(t), &v, gt_ms(2000)), 0, "no tick after reset");
    cr_assert_geq(v, t0 + period);
    goro_ticker_free(t);
    gt_quiesce();
}

Test(time, ticker_invalid, .timeout = GT_TIMEOUT(10))
{
    static const int64_t bad[] = {0, -1, INT64_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        gt_set_errno(0);
        goro_ticker *t = goro_ticker_make(bad[i]);
        int e = gt_errno();
        cr_assert_null(t, "ticker_make(%lld) succeeded", (long long)bad[i]);
        cr_assert_eq(e, EINVAL, "ticker_make(%lld): errno %d", (long long)bad[i], e);
    }
    cr_assert(!goro_ticker_stop(NULL));
    cr_assert(!goro_ticker_reset(NULL, GORO_MILLISECOND));
    cr_assert_null(goro_ticker_chan(NULL));
    goro_ticker_free(NULL);

    /* reset with ns <= 0 changes nothing: the ticker keeps ticking at its
     * period. */
    const int64_t period = 5 * GORO_MILLISECOND;
    int64_t t0 = goro_now();
    goro_ticker *t = mkticker(period);
    cr_assert(!goro_ticker_reset(t, 0));
    cr_assert(!goro_ticker_reset(t, -GORO_SECOND));
    int64_t v1, v2;
    cr_assert_eq(recv_within(goro_ticker_chan(t), &v1, gt_ms(2000)), 0, "stopped by reset(0)");
    cr_assert_eq(recv_within(goro_ticker_chan(t), &v2, gt_ms(2000)), 0);
    /* Ticks are due at multiples of the period after creation. */
    cr_assert_geq(v1, t0 + period);
    cr_assert_geq(v2, t0 + 2 * period);
    cr_assert_gt(v2, v1);
    goro_ticker_free(t);
    gt_quiesce();
}

Test(time, ticker_reset_changes_period, .timeout = GT_TIMEOUT(20))
{
    start_runtime();
    /* From 10 s to 10 ms: five ticks come long before the first 10 s tick
     * could have. */
    goro_ticker *t = mkticker(10 * GORO_SECOND);
    int64_t t0 = goro_now(), v, prev = 0;
    cr_assert(goro_ticker_reset(t, 10 * GORO_MILLISECOND), "reset of a running ticker: false");
    for (int k = 1; k <= 5; k++) {
        cr_assert_eq(recv_within(goro_ticker_chan(t), &v, gt_ms(2000)), 0, "tick %d", k);
        cr_assert_geq(v, t0 + k * 10 * GORO_MILLISECOND);
        cr_assert_gt(v, prev);
        prev = v;
    }
    cr_assert_lt(goro_now() - t0, 5 * GORO_SECOND);

    /* From 10 ms to 300 ms: nothing for 150 ms after the reset (a tick
     * buffered before it is dropped), then a tick. */
    t0 = goro_now();
    cr_assert(goro_ticker_reset(t, 300 * GORO_MILLISECOND));
    cr_assert(quiet_for(goro_ticker_chan(t), 150 * GORO_MILLISECOND), "old period still ticks");
    cr_assert_eq(recv_within(goro_ticker_chan(t), &v, gt_ms(3000)), 0);
    cr_assert_geq(v, t0 + 300 * GORO_MILLISECOND);
    goro_ticker_free(t);
    gt_quiesce();
}

/* ---- timers armed from a plain thread while the runtime idles ------------ */

/* A plain thread that has spawned no goroutine arms a timer after the
 * runtime has idled long enough for sysmon to go into its long sleep: the
 * timer must wake it on time, not when sysmon next looks (up to a second
 * later).  Each test starts a fresh process with no M yet.
 *
 * The bound is on lateness beyond the machine's own.  On two cores shared
 * with other suites the kernel has left a thread of this process waiting
 * for a CPU for 100-400 ms (measured through schedstat, while the timer's
 * own clock said it fired just as late): a fire that late is the machine,
 * not goro.  So a control thread, asleep like the threads that fire
 * timers, sleeps until the same deadline, and how late it woke is allowed
 * on top of the bound.  A lost wake-up still shows: it costs sysmon's
 * second-long sleep, or hangs.  A failure reports the longest wait for a
 * CPU of any thread of the process meanwhile. */
#define IDLE_WAIT 20 /* ms */

static pthread_t ctl_thread;
static sem_t ctl_go;
static int64_t ctl_deadline;   /* written before ctl_go is posted */
static _Atomic int64_t ctl_late;

static void *ctl_run(void *arg)
{
    (void)arg;
    while (sem_wait(&ctl_go) != 0)
        ;
    struct timespec ts = {.tv_sec = ctl_deadline / GORO_SECOND,
                          .tv_nsec = ctl_deadline % GORO_SECOND};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
    atomic_store(&ctl_late, goro_now() - ctl_deadline); /* goro_now: CLOCK_MONOTONIC */
    return NULL;
}

/* Nanoseconds each thread of this process has waited for a CPU
 * (/proc/self/task/N/schedstat), by thread id; returns how many. */
#define MAX_TASKS 64
struct task_wait {
    long tid;
    int64_t wait;
};

static int task_waits(struct task_wait *tw)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    while (d && (e = readdir(d)) && n < MAX_TASKS) {
        char path[64];
        unsigned long long run, wait;
        long tid = strtol(e->d_name, NULL, 10);
        if (tid <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%ld/schedstat", tid);
        FILE *f = fopen(path, "r");
        if (f && fscanf(f, "%llu %llu", &run, &wait) == 2)
            tw[n++] = (struct task_wait){.tid = tid, .wait = (int64_t)wait};
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return n;
}

static struct task_wait waits0[MAX_TASKS];
static int nwaits0;

/* The longest a thread of this process waited for a CPU since idle_start
 * (a thread started since: since it started). */
static int64_t max_task_wait(void)
{
    struct task_wait now[MAX_TASKS];
    int n = task_waits(now);
    int64_t max = 0;

    for (int i = 0; i < n; i++) {
        int64_t w = now[i].wait;
        for (int k = 0; k < nwaits0; k++)
            if (waits0[k].tid == now[i].tid)
                w -= waits0[k].wait;
        if (w > max)
            max = w;
    }
    return max;
}

static void idle_runtime(void)
{
    cr_assert_eq(sem_init(&ctl_go, 0, 0), 0);
    cr_assert_eq(pthread_create(&ctl_thread, NULL, ctl_run, NULL), 0);
    goro_maxprocs(0); /* starts the runtime: sysmon, no M */
    usleep(300 * 1000);
}

/* Now, which the test measures from: the control thread's deadline is
 * IDLE_WAIT from here. */
static int64_t idle_start(void)
{
    nwaits0 = task_waits(waits0);
    int64_t t0 = goro_now();
    ctl_deadline = t0 + IDLE_WAIT * GORO_MILLISECOND;
    sem_post(&ctl_go);
    return t0;
}

static void assert_prompt(const char *what, int64_t t0)
{
    int64_t d = goro_now() - t0;
    int64_t cpu_wait = max_task_wait();

    cr_assert_eq(pthread_join(ctl_thread, NULL), 0);
    int64_t late = atomic_load(&ctl_late);
    cr_assert_geq(d, IDLE_WAIT * GORO_MILLISECOND, "%s returned early: %.1f ms", what, d / 1e6);
    cr_assert_lt(d, gt_ms(200) + late,
                 "%s of %d ms from an idle plain thread took %.1f ms (the control thread woke "
                 "%.1f ms late; a thread waited up to %.1f ms for a CPU)",
                 what, IDLE_WAIT, d / 1e6, late / 1e6, cpu_wait / 1e6);
}

Test(time, idle_thread_select_timeout, .timeout = GT_TIMEOUT(10))
{
    goro_chan *c = gt_mkchan(0, 0);
    idle_runtime();
    int64_t t0 = idle_start();
    goro_case cs[] = {goro_case_recv(c, NULL), goro_case_timeout(IDLE_WAIT * GORO_MILLISECOND)};
    cr_assert_eq(goro_select(cs, 2), 1);
    assert_prompt("select timeout", t0);
    goro_chan_release(c);
    gt_quiesce();
}

Test(time, idle_thread_timer, .timeout = GT_TIMEOUT(10))
{
    idle_runtime();
    int64_t t0 = idle_start(), v;
    goro_timer *t = mktimer(IDLE_WAIT * GORO_MILLISECOND);
    cr_assert_eq(goro_chan_recv(goro_timer_chan(t), &v), 0);
    cr_assert_geq(v, t0 + IDLE_WAIT * GORO_MILLISECOND, "fired at %+.1f ms", (v - t0) / 1e6);
    assert_prompt("goro_timer", t0);
    goro_timer_free(t);
    gt_quiesce();
}

Test(time, idle_thread_ctx_timeout, .timeout = GT_TIMEOUT(10))
{
    idle_runtime();
    int64_t t0 = idle_start();
    goro_ctx *ctx = goro_ctx_with_timeout(NULL, IDLE_WAIT * GORO_MILLISECOND);
    cr_assert_not_null(ctx);
    cr_assert_eq(goro_chan_recv(goro_ctx_done(ctx), NULL), EPIPE);
    assert_prompt("context timeout", t0);
    cr_assert_eq(goro_ctx_err(ctx), ETIMEDOUT);
    goro_ctx_release(ctx);
    gt_quiesce();
}

Test(time, idle_thread_read_deadline, .timeout = GT_TIMEOUT(10))
{
    int sv[2];
    char b;
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    idle_runtime();
    int64_t t0 = idle_start();
    ssize_t n = goro_read_deadline(sv[0], &b, 1, t0 + IDLE_WAIT * GORO_MILLISECOND);
    cr_assert_eq(n, -ETIMEDOUT);
    assert_prompt("goro_read_deadline", t0);
    goro_close(sv[0]);
    close(sv[1]);
    gt_quiesce();
}

/* Voluntary context switches (sleeps) of every thread of this process. */
static long process_sleeps(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    long sum = 0;

    while (d && (e = readdir(d))) {
        char path[64], line[128];
        long tid = strtol(e->d_name, NULL, 10), v;
        if (tid <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%ld/status", tid);
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1)
                sum += v;
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return sum;
}

/* While every P idles and a timer is pending, sysmon looks every 10 ms
 * (or a millisecond after the timer is due), not every 2 ms: about 100
 * sleeps of all threads over a second's timer, where it was about 470. */
Test(time, idle_timer_pending_sysmon_quiet, .timeout = GT_TIMEOUT(10))
{
    if (GT_TSAN)
        cr_skip_test("under TSan every wait wakes every 20 to 50 ms (os_linux.c)");
    if (getenv("GORO_TEST_EMULATED") || gt_valgrind())
        cr_skip_test("the emulator's or Valgrind's own threads sleep and wake too");
    idle_runtime();
    int64_t t0 = idle_start();
    long s0 = process_sleeps();
    goro_timer *t = mktimer(GORO_SECOND);
    cr_assert_eq(goro_chan_recv(goro_timer_chan(t), NULL), 0);
    long n = process_sleeps() - s0;
    cr_assert_geq(goro_now() - t0, GORO_SECOND);
    cr_assert_lt(n, 250, "%ld sleeps over a 1 s timer with every P idle", n);
    cr_assert_eq(pthread_join(ctl_thread, NULL), 0);
    goro_timer_free(t);
    gt_quiesce();
}

#ifdef GORO_TESTING
/* Exported by GORO_TESTING builds: every thread started from now on sleeps
 * ns before it runs (src/os_linux.c, "Fault injection"). */
extern void goro__test_delay_threads(int64_t ns);

/* The M started to fire the timer is slow to get a CPU, as a new thread is
 * on a loaded machine: sysmon, woken from its long sleep by the arming,
 * fires the timer instead, a millisecond or two late.  Before, nothing
 * fired it until the M ran or sysmon's second-long sleep ended (800 ms
 * late here). */
Test(time, idle_thread_timer_slow_new_m, .timeout = GT_TIMEOUT(10))
{
    idle_runtime();
    goro__test_delay_threads(1000 * GORO_MILLISECOND);
    int64_t t0 = idle_start();
    goro_timer *t = mktimer(IDLE_WAIT * GORO_MILLISECOND);
    int r = goro_chan_recv(goro_timer_chan(t), NULL);
    goro__test_delay_threads(0);
    cr_assert_eq(r, 0);
    assert_prompt("goro_timer with the new M slow to start", t0);
    goro_timer_free(t);
    gt_quiesce();
}
#endif

/* ---- func timers (goro_after_func) ---------------------------------------- */

/* Derived from Go's TestAfterFunc, TestAfterStop, TestTimerStopStress and
 * BenchmarkSimultaneousAfterFunc: fn runs in a goroutine of its own, stop
 * returns true exactly when it prevented the call, reset re-arms. */

static goro_timer *mkfunc(int64_t ns, void (*fn)(void *), void *arg)
{
    goro_timer *t = goro_after_func(ns, fn, arg);
    cr_assert_not_null(t, "goro_after_func(%lld): errno %d", (long long)ns, errno);
    return t;
}

/* Sends the goroutine id it runs on (never 0: a goroutine) to arg. */
static void send_id(void *arg)
{
    uint64_t id = goro_id();
    goro_chan_send(arg, &id);
}

Test(time, after_func_runs_in_goroutine, .timeout = GT_TIMEOUT(10))
{
    goro_chan *c = goro_chan_make(sizeof(uint64_t), 0);
    cr_assert_not_null(c);
    int64_t t0 = goro_now();
    goro_timer *t = mkfunc(20 * GORO_MILLISECOND, send_id, c);
    cr_assert_null(goro_timer_chan(t), "a func timer has a channel");
    uint64_t id = 0;
    /* An unbuffered send: fn blocks until this receive, which it could not
     * do on the thread that fires timers. */
    cr_assert_eq(goro_chan_recv(c, &id), 0);
    cr_assert_geq(goro_now() - t0, 20 * GORO_MILLISECOND, "fn started early");
    cr_assert_neq(id, 0, "fn did not run in a goroutine");
    cr_assert(!goro_timer_stop(t), "stop after fn started returned true");
    goro_timer_free(t);
    goro_chan_release(c);
    gt_quiesce();
}

/* Go's TestAfterFunc: each call arms the next with delay 0 and then
 * blocks; the chain only completes if every fn has a goroutine of its own. */
#define CHAIN 10
static goro_timer *chain_timers[CHAIN + 1];
static _Atomic int chain_left = CHAIN;
static goro_chan *chain_done, *chain_release;

static void chain_step(void *arg)
{
    (void)arg;
    int i = atomic_fetch_sub(&chain_left, 1) - 1;
    if (i >= 0) {
        chain_timers[i] = goro_after_func(0, chain_step, NULL);
        gt_check(chain_timers[i] != NULL, "goro_after_func: %d", gt_errno());
        goro_chan_recv(chain_release, NULL); /* blocks until the end */
    } else {
        goro_chan_send(chain_done, NULL);
    }
}

Test(time, after_func_chain, .timeout = GT_TIMEOUT(10))
{
    chain_done = goro_chan_make(0, 0);
    chain_release = goro_chan_make(0, 0);
    cr_assert(chain_done && chain_release);
    chain_timers[CHAIN] = mkfunc(0, chain_step, NULL);
    int r = GORO_SELECT(goro_case_recv(chain_done, NULL), goro_case_timeout(gt_ms(5000)));
    cr_assert_eq(r, 0, "the chain of after-funcs stalled at %d", atomic_load(&chain_left));
    goro_chan_close(chain_release);
    for (int i = 0; i <= CHAIN; i++)
        goro_timer_free(chain_timers[i]);
    gt_quiesce();
    goro_chan_release(chain_done);
    goro_chan_release(chain_release);
}

static void count_call(void *arg)
{
    atomic_fetch_add((_Atomic long *)arg, 1);
}

/* Go's TestAfterStop.  As there, a stop that comes only after the timer's
 * 50 ms (this thread descheduled that long: qemu on a loaded machine)
 * proves nothing, so that case is tried again, up to five times in a row;
 * a stop that returns false before the 50 ms have passed fails at once. */
Test(time, after_func_stop_before_fire, .timeout = GT_TIMEOUT(10))
{
    static _Atomic long calls;
    int64_t d = 50 * GORO_MILLISECOND;
    goro_timer *t;

    for (int attempt = 1;; attempt++) {
        atomic_store(&calls, 0);
        int64_t t0 = goro_now();
        t = mkfunc(d, count_call, &calls);
        bool stopped = goro_timer_stop(t);
        int64_t took = goro_now() - t0;
        if (stopped)
            break;
        cr_assert_geq(took, d, "stop of a pending func timer returned false %.1f ms after it "
                      "was made (50 ms timer)", took / 1e6);
        cr_assert_lt(attempt, 5, "stop came after the 50 ms in 5 attempts in a row");
        cr_assert(gt_wait_count(&calls, 1, gt_ms(5000)), "a timer not stopped never ran fn");
        goro_timer_free(t);
    }
    goro_sleep(100 * GORO_MILLISECOND);
    cr_assert_eq(atomic_load(&calls), 0, "fn ran after stop");
    cr_assert(!goro_timer_stop(t), "stop returned true twice");
    goro_timer_free(t);
    gt_quiesce();
}

Test(time, after_func_reset, .timeout = GT_TIMEOUT(20))
{
    _Atomic long calls = 0;
    goro_timer *t = mkfunc(GORO_HOUR, count_call, &calls);

    /* Pending: reset moves the call and says it was pending. */
    int64_t t0 = goro_now();
    cr_assert(goro_timer_reset(t, 30 * GORO_MILLISECOND), "reset of a pending func timer");
    cr_assert(gt_wait_count(&calls, 1, gt_ms(5000)), "fn never ran after reset");
    cr_assert_geq(goro_now() - t0, 30 * GORO_MILLISECOND, "fn ran before the reset deadline");

    /* Started: reset says so, and arms it to run fn again. */
    cr_assert(!goro_timer_reset(t, 0), "reset after fn started returned true");
    cr_assert(gt_wait_count(&calls, 2, gt_ms(5000)), "reset after the call did not re-arm");
    cr_assert(!goro_timer_stop(t));
    goro_sleep(20 * GORO_MILLISECOND);
    cr_assert_eq(atomic_load(&calls), 2, "fn ran more than once per arming");
    goro_timer_free(t);
    gt_quiesce();
}

Test(time, after_func_bad_input, .timeout = GT_TIMEOUT(10))
{
    gt_set_errno(0);
    cr_assert_null(goro_after_func(GORO_MILLISECOND, NULL, NULL));
    cr_assert_eq(gt_errno(), EINVAL);
    gt_quiesce();
}

/* The timer may be freed while fn runs: fn gets arg, not the timer. */
static void wait_then_count(void *arg)
{
    void **a = arg;
    goro_chan_recv(a[0], NULL);
    goro_chan_recv(a[0], NULL);
    atomic_fetch_add((_Atomic long *)a[1], 1);
}

Test(time, after_func_free_while_running, .timeout = GT_TIMEOUT(10))
{
    _Atomic long calls = 0;
    goro_chan *go = goro_chan_make(0, 0);
    cr_assert_not_null(go);
    void *args[2] = {go, (void *)&calls};
    goro_timer *t = mkfunc(0, wait_then_count, args);
    goro_chan_send(go, NULL); /* fn is running: it took this value */
    goro_timer_free(t);
    goro_chan_send(go, NULL);
    cr_assert(gt_wait_count(&calls, 1, gt_ms(5000)));
    goro_chan_release(go);
    gt_quiesce();
}

/* Go's BenchmarkSimultaneousAfterFunc as a test: many calls due at once. */
#define SIMULTANEOUS 1000
Test(time, after_func_simultaneous, .timeout = GT_TIMEOUT(30))
{
    static goro_timer *ts[SIMULTANEOUS];
    _Atomic long calls = 0;
    for (int i = 0; i < SIMULTANEOUS; i++)
        ts[i] = mkfunc(0, count_call, &calls);
    cr_assert(gt_wait_count(&calls, SIMULTANEOUS, gt_ms(20000)), "%ld of %d calls",
              atomic_load(&calls), SIMULTANEOUS);
    for (int i = 0; i < SIMULTANEOUS; i++)
        goro_timer_free(ts[i]);
    gt_quiesce();
}

/* Stop racing with the fire (Go's TestTimerStopStress, tightened): a stop
 * that returns true must have prevented the call, one that returns false
 * must not have, so calls + successful stops == timers, and no call comes
 * after everything settled. */
static _Atomic long stress_calls, stress_stopped;

static void stop_func_racer(void *arg)
{
    uint64_t rng = 0x7f4a7c15ULL * ((uint64_t)(uintptr_t)arg + 1);
    for (int i = 0; i < RACE_ROUNDS; i++) {
        goro_timer *t =
            goro_after_func((int64_t)(gt_rand(&rng) % 100) * GORO_MICROSECOND, count_call, &stress_calls);
        if (!gt_check(t != NULL, "goro_after_func: %d", gt_errno()))
            break;
        gt_spin((int64_t)(gt_rand(&rng) % 100) * GORO_MICROSECOND);
        if (goro_timer_stop(t))
            atomic_fetch_add(&stress_stopped, 1);
        if (i % 2 == 0)
            goro_yield();
        goro_timer_free(t);
    }
    atomic_fetch_add(&race_done, 1);
}

Test(time, stress_after_func_stop_race, .timeout = GT_TIMEOUT(60))
{
    for (long i = 0; i < RACE_WORKERS; i++)
        gt_spawn(stop_func_racer, (void *)(intptr_t)i);
    cr_assert(gt_wait_count(&race_done, RACE_WORKERS, gt_ms(50000)));
    long want = RACE_WORKERS * RACE_ROUNDS - atomic_load(&stress_stopped);
    cr_assert(gt_wait_count(&stress_calls, want, gt_ms(10000)), "%ld calls, want %ld",
              atomic_load(&stress_calls), want);
    gt_quiesce();
    cr_assert_eq(atomic_load(&stress_calls), want, "a stopped fn ran (%ld calls, want %ld)",
                 atomic_load(&stress_calls), want);
}
