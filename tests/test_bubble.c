/* test_bubble.c - bubbles (goro_bubble_run, goro_bubble_wait): the fake
 * clock moves only when every goroutine of the bubble is durably blocked,
 * straight to the next timer, and every timed API reads it; waits that
 * something outside can end (I/O, a mutex held outside) hold it still;
 * deadlocks are reported without ending the process; misuse is refused.
 *
 * Times inside a bubble are compared exactly (the clock is fake); real
 * time is read with clock_gettime, since goro_now() inside a bubble is the
 * fake clock.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* setenv, pipe2, timegm (tests build as -std=c11) */
#endif
#include "common.h"

#include <fcntl.h>
#include <time.h>

#define EPOCH (946684800LL * GORO_SECOND) /* 2000-01-01T00:00:00Z */

static int64_t real_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * GORO_SECOND + ts.tv_nsec;
}

/* Elapsed fake time since the epoch, in whole checks. */
static int64_t fake(void)
{
    return goro_now() - EPOCH;
}

/* ---- a 1-hour ticker loop ------------------------------------------------ */

static _Atomic long ticks_seen;

static void hour_of_ticks(void *arg)
{
    (void)arg;
    gt_check(fake() == 0, "the clock starts at the epoch: %lld", (long long)fake());
    goro_ticker *t = goro_ticker_make(GORO_SECOND);
    gt_check(t != NULL, "ticker");
    for (int k = 1; k <= 3600; k++) {
        int64_t when = 0;
        if (!gt_check(goro_chan_recv(goro_ticker_chan(t), &when) == 0, "recv"))
            break;
        if (!gt_check(when == EPOCH + k * GORO_SECOND && goro_now() == when,
                      "tick %d at %lld, now %lld", k, (long long)(when - EPOCH),
                      (long long)fake()))
            break;
        atomic_fetch_add(&ticks_seen, 1);
    }
    goro_ticker_free(t);
    gt_check(fake() == GORO_HOUR, "an hour passed: %lld", (long long)fake());
}

Test(bubble, hour_of_ticks_in_under_a_second, .timeout = GT_TIMEOUT(30))
{
    int64_t t0 = real_now();
    cr_assert_eq(goro_bubble_run(hour_of_ticks, NULL), 0);
    int64_t real = real_now() - t0;
    gt_assert_no_failures();
    cr_assert_eq(atomic_load(&ticks_seen), 3600);
    cr_assert_lt(real, (int64_t)(GORO_SECOND * gt_scale()), "took %lld ms of real time",
                 (long long)(real / GORO_MILLISECOND));
    cr_assert_lt(goro_now(), EPOCH, "outside the bubble goro_now() is the real clock");
    gt_quiesce();
}

/* ---- nested timeouts fire in fake-time order ----------------------------- */

static goro_chan *order_c; /* int64_t: fake times, in the order seen */

static void watch_ctx(void *arg)
{
    goro_ctx *c = arg;
    goro_chan_recv(goro_ctx_done(c), NULL);
    int64_t at = fake();
    gt_check(goro_ctx_err(c) == ETIMEDOUT, "err %d", goro_ctx_err(c));
    goro_chan_send(order_c, &at);
}

static void sleep_then_log(void *arg)
{
    goro_sleep((int64_t)(intptr_t)arg * GORO_SECOND);
    int64_t at = fake();
    goro_chan_send(order_c, &at);
}

static void nested_timeouts(void *arg)
{
    (void)arg;
    order_c = goro_chan_make(sizeof(int64_t), 8);
    goro_ctx *outer = goro_ctx_with_timeout(NULL, 3 * GORO_SECOND);
    goro_ctx *inner = goro_ctx_with_timeout(outer, 1 * GORO_SECOND);
    goro_ctx *longer = goro_ctx_with_timeout(outer, 10 * GORO_SECOND); /* capped at 3 s */
    int64_t dl = 0;
    gt_check(goro_ctx_deadline(inner, &dl) && dl == EPOCH + GORO_SECOND, "inner deadline");
    gt_check(goro_ctx_deadline(longer, &dl) && dl == EPOCH + 3 * GORO_SECOND, "capped deadline");
    goro_go(watch_ctx, longer);
    goro_go(sleep_then_log, (void *)(intptr_t)2);
    goro_go(watch_ctx, inner);
    int64_t got[3];
    for (int i = 0; i < 3; i++)
        goro_chan_recv(order_c, &got[i]);
    gt_check(got[0] == GORO_SECOND && got[1] == 2 * GORO_SECOND && got[2] == 3 * GORO_SECOND,
             "order %lld %lld %lld", (long long)got[0], (long long)got[1], (long long)got[2]);
    goro_ctx_cancel(outer);
    goro_ctx_release(longer);
    goro_ctx_release(inner);
    goro_ctx_release(outer);
    goro_chan_release(order_c);
}

Test(bubble, nested_timeouts_fire_in_fake_time_order, .timeout = GT_TIMEOUT(30))
{
    int64_t t0 = real_now();
    cr_assert_eq(goro_bubble_run(nested_timeouts, NULL), 0);
    cr_assert_lt(real_now() - t0, (int64_t)(GORO_SECOND * gt_scale()));
    gt_quiesce();
}

/* ---- every timed API reads the fake clock -------------------------------- */

static goro_chan *fired_c;

static void after_fn(void *arg)
{
    (void)arg;
    int64_t at = fake();
    gt_check(goro_chan_send(fired_c, &at) == 0, "a bubble channel from an after_func");
}

static void timed_apis(void *arg)
{
    (void)arg;
    goro_sleep(5 * GORO_SECOND);
    gt_check(fake() == 5 * GORO_SECOND, "sleep: %lld", (long long)fake());

    goro_timer *t = goro_timer_make(2 * GORO_SECOND);
    int64_t when = 0;
    goro_chan_recv(goro_timer_chan(t), &when);
    gt_check(when == EPOCH + 7 * GORO_SECOND && fake() == 7 * GORO_SECOND, "timer: %lld",
             (long long)(when - EPOCH));
    gt_check(!goro_timer_reset(t, GORO_MINUTE), "fired timer: reset says not pending");
    gt_check(goro_timer_stop(t), "stopped before its minute");
    goro_timer_free(t);

    fired_c = goro_chan_make(sizeof(int64_t), 1);
    goro_timer *af = goro_after_func(GORO_SECOND, after_fn, NULL);
    int64_t at = 0;
    goro_chan_recv(fired_c, &at);
    gt_check(at == 8 * GORO_SECOND, "after_func ran at %lld", (long long)at);
    goro_timer_free(af);
    goro_chan_release(fired_c);

    goro_ctx *c = goro_ctx_with_timeout(NULL, 4 * GORO_SECOND);
    goro_chan_recv(goro_ctx_done(c), NULL);
    gt_check(goro_ctx_err(c) == ETIMEDOUT && fake() == 12 * GORO_SECOND, "ctx: %lld",
             (long long)fake());
    goro_ctx_release(c);

    goro_case cs[] = {goro_case_recv(NULL, NULL), goro_case_timeout(GORO_SECOND)};
    gt_check(goro_select(cs, 2) == 1 && fake() == 13 * GORO_SECOND, "select timeout: %lld",
             (long long)fake());

    /* A deadline in the past on the fake clock: at once, no wait. */
    goro_case late[] = {goro_case_deadline(goro_now() - 1)};
    gt_check(goro_select(late, 1) == 0 && fake() == 13 * GORO_SECOND, "past deadline");
}

Test(bubble, sleep_timer_after_func_ctx_select_use_fake_time, .timeout = GT_TIMEOUT(30))
{
    int64_t t0 = real_now();
    cr_assert_eq(goro_bubble_run(timed_apis, NULL), 0);
    cr_assert_lt(real_now() - t0, (int64_t)(GORO_SECOND * gt_scale()));
    gt_quiesce();
}

/* ---- goro_bubble_wait ------------------------------------------------------ */

#define NWAITERS 8

static _Atomic long arrived;
static _Atomic long slept;
static goro_chan *gate;

static void arrive_then_block(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++)
        goro_yield(); /* busy for a while: wait must not return early */
    atomic_fetch_add(&arrived, 1);
    goro_chan_recv(gate, NULL); /* durably blocked */
}

static void sleeper(void *arg)
{
    (void)arg;
    goro_sleep(GORO_SECOND);
    atomic_fetch_add(&slept, 1);
}

static void wait_main(void *arg)
{
    (void)arg;
    gate = goro_chan_make(0, 0);
    for (int i = 0; i < NWAITERS; i++)
        goro_go(arrive_then_block, NULL);
    goro_go(sleeper, NULL);
    gt_check(goro_bubble_wait() == 0, "wait");
    gt_check(atomic_load(&arrived) == NWAITERS, "wait returned with %ld of %d blocked",
             atomic_load(&arrived), NWAITERS);
    gt_check(atomic_load(&slept) == 0 && fake() == 0, "wait moved the clock");
    goro_sleep(2 * GORO_SECOND);
    gt_check(atomic_load(&slept) == 1 && fake() == 2 * GORO_SECOND, "sleeper woke at 1 s");
    goro_chan_close(gate);
    goro_bubble_wait(); /* all exited: returns at once */
    gt_check(fake() == 2 * GORO_SECOND, "clock after the last wait");
    goro_chan_release(gate);
}

Test(bubble, wait_returns_only_when_the_others_are_blocked, .timeout = GT_TIMEOUT(30))
{
    cr_assert_eq(goro_bubble_run(wait_main, NULL), 0);
    gt_quiesce();
}

/* goro_bubble_wait woken while the goroutine it waited for exits, then a
 * sleep at once: the clock must wait until the sleep's timer is armed (it
 * is armed as the goroutine parks, after it counts as blocked), or it
 * finds no timer and reports a deadlock. */
static void exit_at_once(void *arg)
{
    (void)arg;
}

static void wait_then_sleep(void *arg)
{
    int *rounds = arg;
    for (int i = 0; i < 2000; i++) {
        goro_go(exit_at_once, NULL);
        if (!gt_check(goro_bubble_wait() == 0, "wait"))
            return;
        goro_sleep(GORO_SECOND);
        if (!gt_check(fake() == (i + 1) * GORO_SECOND, "round %d woke at %lld", i,
                      (long long)fake()))
            return;
        ++*rounds;
    }
}

Test(bubble, sleep_right_after_wait_is_seen_by_the_clock, .timeout = GT_TIMEOUT(30))
{
    int rounds = 0;
    cr_assert_eq(goro_bubble_run(wait_then_sleep, &rounds), 0);
    gt_assert_no_failures();
    cr_assert_eq(rounds, 2000);
    gt_quiesce();
}

/* ---- I/O is not durable blocking ------------------------------------------ */

static int io_pipe[2];
static _Atomic int64_t io_read_at = -1;
/* Set by the bubble when the writer may start its 100 ms: the byte must
 * not arrive before the read that is to wait for it (the start of a
 * process can take longer than 100 ms under emulation). */
static _Atomic int io_go;

static void io_reader(void *arg)
{
    (void)arg;
    char b = 0;
    atomic_store(&io_go, 1);
    ssize_t n = goro_read(io_pipe[0], &b, 1);
    gt_check(n == 1 && b == 'x', "read %zd", n);
    atomic_store(&io_read_at, fake());
}

static void io_main(void *arg)
{
    (void)arg;
    goro_go(io_reader, NULL);
    goro_sleep(GORO_HOUR); /* must not fire while the reader waits on the pipe */
    gt_check(atomic_load(&io_read_at) == 0, "the read finished at fake %lld, not at 0",
             (long long)atomic_load(&io_read_at));
    gt_check(fake() == GORO_HOUR, "sleep ended at %lld", (long long)fake());
}

static void *io_writer(void *arg)
{
    (void)arg;
    struct timespec poll = {0, 1000 * 1000}, ts = {0, 100 * 1000 * 1000};
    while (!atomic_load(&io_go))
        nanosleep(&poll, NULL);
    nanosleep(&ts, NULL);
    if (write(io_pipe[1], "x", 1) != 1)
        abort();
    return NULL;
}

Test(bubble, io_wait_holds_the_clock, .timeout = GT_TIMEOUT(30))
{
    pthread_t th;
    cr_assert_eq(pipe2(io_pipe, O_NONBLOCK | O_CLOEXEC), 0);
    atomic_store(&io_go, 0);
    int64_t t0 = real_now();
    cr_assert_eq(pthread_create(&th, NULL, io_writer, NULL), 0);
    cr_assert_eq(goro_bubble_run(io_main, NULL), 0);
    int64_t real = real_now() - t0;
    pthread_join(th, NULL);
    gt_assert_no_failures();
    cr_assert_geq(real, 90 * GORO_MILLISECOND, "the bubble did not wait for the I/O: %lld ms",
                  (long long)(real / GORO_MILLISECOND));
    close(io_pipe[0]);
    close(io_pipe[1]);
    gt_quiesce();
}

/* An I/O deadline is on the fake clock: one already past there (but far in
 * the future on the real clock) times out at once; a future one does not
 * expire while the read waits, since the clock waits for the read.  The
 * pipe is empty for the first read (a _deadline call that can complete at
 * once does, even past its deadline): the writer starts only after it. */
static void io_deadline_main(void *arg)
{
    (void)arg;
    char b = 0;
    ssize_t n = goro_read_deadline(io_pipe[0], &b, 1, goro_now() - 1);
    atomic_store(&io_go, 1);
    if (!gt_check(n == -ETIMEDOUT, "past fake deadline: %zd", n))
        return; /* the byte is used up: a second read would wait forever */
    n = goro_read_deadline(io_pipe[0], &b, 1, goro_now() + GORO_SECOND);
    gt_check(n == 1 && b == 'x' && fake() == 0, "read %zd at fake %lld", n, (long long)fake());
}

Test(bubble, io_deadline_uses_the_fake_clock, .timeout = GT_TIMEOUT(30))
{
    pthread_t th;
    cr_assert_eq(pipe2(io_pipe, O_NONBLOCK | O_CLOEXEC), 0);
    atomic_store(&io_go, 0);
    cr_assert_eq(pthread_create(&th, NULL, io_writer, NULL), 0);
    cr_assert_eq(goro_bubble_run(io_deadline_main, NULL), 0);
    pthread_join(th, NULL);
    gt_assert_no_failures();
    close(io_pipe[0]);
    close(io_pipe[1]);
    gt_quiesce();
}

/* ---- deadlock -------------------------------------------------------------- */

/* The leaked goroutines' channels stay reachable from here, so that
 * LeakSanitizer does not report what the test leaks on purpose. */
static goro_chan *stuck_c[2];
static _Atomic int nstuck;

static void stuck(void *arg)
{
    (void)arg;
    goro_chan *c = goro_chan_make(0, 0);
    stuck_c[atomic_fetch_add(&nstuck, 1) % 2] = c;
    goro_chan_recv(c, NULL); /* nobody ever sends */
}

static void stuck_pair(void *arg)
{
    (void)arg;
    goro_go(stuck, NULL);
    goro_sleep(GORO_MINUTE);
    stuck(NULL);
}

static void fine(void *arg)
{
    goro_sleep(GORO_SECOND);
    *(int64_t *)arg = fake();
}

Test(bubble, deadlock_is_reported_and_the_process_goes_on, .timeout = GT_TIMEOUT(30))
{
    char path[] = "/tmp/goro_bubble_errXXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    int e = goro_bubble_run(stuck_pair, NULL);
    dup2(saved, 2);
    close(saved);
    cr_assert_eq(e, EDEADLK, "goro_bubble_run: %d", e);

    char buf[4096] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    cr_assert_gt(n, 0, "nothing on stderr");
    cr_assert(strstr(buf, "deadlock in bubble") != NULL, "stderr: %s", buf);
    cr_assert(strstr(buf, "chan receive") != NULL, "no dump of the blocked goroutines: %s", buf);
    cr_assert_eq(goro_num_goroutine(), 2, "the two blocked goroutines are left (leaked)");

    /* The process, and the runtime, go on: another bubble runs fine. */
    int64_t at = -1;
    cr_assert_eq(goro_bubble_run(fine, &at), 0);
    cr_assert_eq(at, GORO_SECOND);
    gt_assert_no_failures();
    /* No gt_quiesce: the deadlocked goroutines are leaked by design. */
}

/* ---- refused calls ---------------------------------------------------------- */

static goro_chan *inner_c;
static int nested_err = -1, wait_err = -1;

static void keep_channel(void *arg)
{
    (void)arg;
    inner_c = goro_chan_make(sizeof(int), 1);
    nested_err = goro_bubble_run(fine, NULL);
}

static void outside_wait(void *arg)
{
    (void)arg;
    wait_err = goro_bubble_wait();
}

static void other_wait(void *arg)
{
    atomic_store((_Atomic int *)arg, goro_bubble_wait());
}

/* Two goroutines in goro_bubble_wait at once: one of them gets EBUSY. */
static void double_wait(void *arg)
{
    static _Atomic int other = -1;
    (void)arg;
    goro_go(other_wait, &other);
    int mine = goro_bubble_wait();
    goro_sleep(GORO_SECOND); /* lets the other's wait return, if it was first */
    int theirs = atomic_load(&other);
    gt_check((mine == 0 && theirs == EBUSY) || (mine == EBUSY && theirs == 0),
             "waits returned %d and %d", mine, theirs);
}

Test(bubble, refused_calls, .timeout = GT_TIMEOUT(30))
{
    int x = 1;
    cr_assert_eq(goro_bubble_run(NULL, NULL), EINVAL);
    cr_assert_eq(goro_bubble_wait(), EPERM, "wait on a plain thread outside a bubble");
    cr_assert_eq(goro_main(outside_wait, NULL), 0);
    cr_assert_eq(wait_err, EPERM, "wait in a goroutine outside a bubble");

    cr_assert_eq(goro_bubble_run(keep_channel, NULL), 0);
    cr_assert_eq(nested_err, EPERM, "nested goro_bubble_run");
    cr_assert_not_null(inner_c);
    cr_assert_eq(goro_chan_send(inner_c, &x), EPERM);
    cr_assert_eq(goro_chan_try_send(inner_c, &x), EPERM);
    cr_assert_eq(goro_chan_recv(inner_c, &x), EPERM);
    cr_assert_eq(goro_chan_try_recv(inner_c, &x), EPERM);
    goro_case cs[] = {goro_case_recv(inner_c, &x)};
    cr_assert_eq(goro_select(cs, 1), -EPERM);
    cr_assert_eq(goro_chan_close(inner_c), EPERM);
    cr_assert_eq(goro_chan_len(inner_c), 0);
    goro_chan_release(inner_c); /* releasing is allowed anywhere */

    cr_assert_eq(goro_bubble_run(double_wait, NULL), 0);
    gt_assert_no_failures();
    gt_quiesce();
}

/* A channel of one bubble is refused in another, while both run. */
static goro_chan *shared_c;
static _Atomic int shared_ready;
static _Atomic int other_done;

static void owner_bubble(void *arg)
{
    (void)arg;
    shared_c = goro_chan_make(sizeof(int), 1);
    atomic_store(&shared_ready, 1);
    while (!atomic_load(&other_done))
        goro_yield(); /* busy, so the clock does not matter */
    goro_chan_release(shared_c);
}

static void intruder_bubble(void *arg)
{
    int v = 7;
    while (!atomic_load(&shared_ready))
        goro_yield();
    *(int *)arg = goro_chan_send(shared_c, &v);
    atomic_store(&other_done, 1);
}

static void *run_intruder(void *arg)
{
    if (goro_bubble_run(intruder_bubble, arg) != 0)
        abort();
    return NULL;
}

Test(bubble, channel_of_another_bubble_is_refused, .timeout = GT_TIMEOUT(30))
{
    pthread_t th;
    int e = -1;
    cr_assert_eq(pthread_create(&th, NULL, run_intruder, &e), 0);
    cr_assert_eq(goro_bubble_run(owner_bubble, NULL), 0);
    pthread_join(th, NULL);
    cr_assert_eq(e, EPERM);
    gt_quiesce();
}

/* ---- sync primitives inside a bubble ---------------------------------------- */

static goro_mutex mu = GORO_MUTEX_INIT;
static goro_cond cv = GORO_COND_INIT;
static bool cv_flag;
static int64_t mu_got_at = -1, cv_woke_at = -1;

static void mu_holder(void *arg)
{
    goro_waitgroup *wg = arg;
    goro_mutex_lock(&mu);
    goro_sleep(GORO_SECOND); /* holds mu across a sleep */
    goro_mutex_unlock(&mu);
    goro_waitgroup_done(wg);
}

static void mu_waiter(void *arg)
{
    goro_waitgroup *wg = arg;
    goro_sleep(GORO_MILLISECOND); /* the holder has it by now */
    goro_mutex_lock(&mu);         /* durably blocked: a bubble goroutine holds it */
    mu_got_at = fake();
    goro_mutex_unlock(&mu);
    goro_waitgroup_done(wg);
}

static void cv_waiter(void *arg)
{
    goro_waitgroup *wg = arg;
    goro_mutex_lock(&mu);
    while (!cv_flag)
        goro_cond_wait(&cv, &mu);
    cv_woke_at = fake();
    goro_mutex_unlock(&mu);
    goro_waitgroup_done(wg);
}

static void cv_signaler(void *arg)
{
    goro_waitgroup *wg = arg;
    goro_sleep(5 * GORO_SECOND);
    goro_mutex_lock(&mu);
    cv_flag = true;
    goro_cond_signal(&cv);
    goro_mutex_unlock(&mu);
    goro_waitgroup_done(wg);
}

static void sync_main(void *arg)
{
    (void)arg;
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    goro_waitgroup_add(&wg, 4);
    goro_go(mu_holder, &wg);
    goro_go(mu_waiter, &wg);
    goro_go(cv_waiter, &wg);
    goro_go(cv_signaler, &wg);
    goro_waitgroup_wait(&wg); /* durably blocked too */
    gt_check(mu_got_at == GORO_SECOND, "mutex taken at %lld", (long long)mu_got_at);
    gt_check(cv_woke_at == 5 * GORO_SECOND, "cond woke at %lld", (long long)cv_woke_at);
    gt_check(fake() == 5 * GORO_SECOND, "waitgroup wait ended at %lld", (long long)fake());
}

Test(bubble, mutex_cond_waitgroup_inside, .timeout = GT_TIMEOUT(30))
{
    int64_t t0 = real_now();
    cr_assert_eq(goro_bubble_run(sync_main, NULL), 0);
    cr_assert_lt(real_now() - t0, (int64_t)(GORO_SECOND * gt_scale()));
    gt_quiesce();
}

/* A mutex held outside the bubble: its waiter is not durably blocked. */
static goro_mutex outside_mu = GORO_MUTEX_INIT;
static _Atomic int locker_waiting;
static _Atomic int64_t outside_got_at = -1; /* written by a goroutine that exits */

static void outside_locker(void *arg)
{
    (void)arg;
    atomic_store(&locker_waiting, 1);
    goro_mutex_lock(&outside_mu);
    outside_got_at = fake();
    goro_mutex_unlock(&outside_mu);
}

static void outside_main(void *arg)
{
    (void)arg;
    goro_go(outside_locker, NULL);
    goro_sleep(GORO_HOUR);
    gt_check(atomic_load(&outside_got_at) == 0, "lock taken at fake %lld",
             (long long)atomic_load(&outside_got_at));
}

static void *outside_unlocker(void *arg)
{
    (void)arg;
    while (!atomic_load(&locker_waiting))
        sched_yield();
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    goro_mutex_unlock(&outside_mu);
    return NULL;
}

Test(bubble, mutex_held_outside_holds_the_clock, .timeout = GT_TIMEOUT(30))
{
    pthread_t th;
    goro_mutex_lock(&outside_mu);
    int64_t t0 = real_now();
    cr_assert_eq(pthread_create(&th, NULL, outside_unlocker, NULL), 0);
    cr_assert_eq(goro_bubble_run(outside_main, NULL), 0);
    int64_t real = real_now() - t0;
    pthread_join(th, NULL);
    gt_assert_no_failures();
    cr_assert_geq(real, 90 * GORO_MILLISECOND, "the clock did not wait for the unlock");
    gt_quiesce();
}

/* Two goroutines queue on a mutex held outside (not durably blocked); the
 * first to get it holds it across a sleep, and the other, still queued,
 * is now durably blocked: a goroutine of its bubble holds the mutex.  Had
 * it stayed counted as running, the clock would never reach the sleep's
 * end. */
static goro_mutex relay_mu = GORO_MUTEX_INIT;
static _Atomic long relay_queued;
static int64_t relay_got_at[2];
static _Atomic int relay_n;

static void relay_locker(void *arg)
{
    goro_waitgroup *wg = arg;
    atomic_fetch_add(&relay_queued, 1);
    goro_mutex_lock(&relay_mu);
    relay_got_at[atomic_fetch_add(&relay_n, 1)] = fake();
    goro_sleep(GORO_SECOND); /* holds it across a sleep */
    goro_mutex_unlock(&relay_mu);
    goro_waitgroup_done(wg);
}

static void relay_main(void *arg)
{
    (void)arg;
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    goro_waitgroup_add(&wg, 2);
    goro_go(relay_locker, &wg);
    goro_go(relay_locker, &wg);
    goro_waitgroup_wait(&wg);
    gt_check(relay_got_at[0] == 0 && relay_got_at[1] == GORO_SECOND,
             "taken at %lld and %lld", (long long)relay_got_at[0], (long long)relay_got_at[1]);
    gt_check(fake() == 2 * GORO_SECOND, "both done at %lld", (long long)fake());
}

static void *relay_unlocker(void *arg)
{
    (void)arg;
    struct timespec poll = {0, 1000 * 1000}, ts = {0, 100 * 1000 * 1000};
    while (atomic_load(&relay_queued) < 2)
        nanosleep(&poll, NULL);
    nanosleep(&ts, NULL); /* both are queued by now */
    goro_mutex_unlock(&relay_mu);
    return NULL;
}

Test(bubble, mutex_passed_from_outside_to_the_bubble, .timeout = GT_TIMEOUT(30))
{
    pthread_t th;
    goro_mutex_lock(&relay_mu);
    cr_assert_eq(pthread_create(&th, NULL, relay_unlocker, NULL), 0);
    cr_assert_eq(goro_bubble_run(relay_main, NULL), 0);
    pthread_join(th, NULL);
    gt_assert_no_failures();
    gt_quiesce();
}

/* ---- concurrent bubbles --------------------------------------------------------- */

struct iso {
    int64_t step;
    int n;
    int bad;
};

static void iso_run(void *arg)
{
    struct iso *s = arg;
    for (int i = 1; i <= s->n; i++) {
        goro_sleep(s->step);
        if (fake() != i * s->step)
            s->bad++;
        goro_yield();
    }
}

static void *iso_thread(void *arg)
{
    if (goro_bubble_run(iso_run, arg) != 0)
        abort();
    return NULL;
}

Test(bubble, concurrent_bubbles_stay_isolated, .timeout = GT_TIMEOUT(30))
{
    struct iso a = {GORO_SECOND, 500, 0}, b = {7 * GORO_SECOND, 300, 0};
    pthread_t ta, tb;
    cr_assert_eq(pthread_create(&ta, NULL, iso_thread, &a), 0);
    cr_assert_eq(pthread_create(&tb, NULL, iso_thread, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    cr_assert_eq(a.bad, 0, "bubble a saw %d wrong times", a.bad);
    cr_assert_eq(b.bad, 0, "bubble b saw %d wrong times", b.bad);
    gt_quiesce();
}

/* From a goroutine, not only from a plain thread. */
static int64_t from_g_at = -1;

static void from_goroutine(void *arg)
{
    (void)arg;
    gt_check(goro_bubble_run(fine, &from_g_at) == 0, "goro_bubble_run from a goroutine");
}

Test(bubble, run_from_a_goroutine, .timeout = GT_TIMEOUT(30))
{
    cr_assert_eq(goro_main(from_goroutine, NULL), 0);
    cr_assert_eq(from_g_at, GORO_SECOND);
    gt_quiesce();
}

/* ---- GORO_BUBBLE_EPOCH ------------------------------------------------------------ */

static void read_now(void *arg)
{
    *(int64_t *)arg = goro_now();
}

Test(bubble, epoch_from_the_environment_as_a_date, .timeout = GT_TIMEOUT(30))
{
    setenv("GORO_BUBBLE_EPOCH", "2024-02-29T12:34:56Z", 1);
    struct tm tm = {.tm_year = 124, .tm_mon = 1, .tm_mday = 29, .tm_hour = 12, .tm_min = 34,
                    .tm_sec = 56};
    int64_t want = (int64_t)timegm(&tm) * GORO_SECOND, got = 0;
    cr_assert_eq(goro_bubble_run(read_now, &got), 0);
    cr_assert_eq(got, want, "now %lld, want %lld", (long long)got, (long long)want);
    gt_quiesce();
}

Test(bubble, epoch_from_the_environment_in_seconds, .timeout = GT_TIMEOUT(30))
{
    setenv("GORO_BUBBLE_EPOCH", "1700000000", 1);
    int64_t got = 0;
    cr_assert_eq(goro_bubble_run(read_now, &got), 0);
    cr_assert_eq(got, 1700000000LL * GORO_SECOND);
    gt_quiesce();
}
