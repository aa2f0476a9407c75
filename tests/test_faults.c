/* test_faults.c - allocation failure injection: a workload touching most of
 * the API (goroutines, buffered and unbuffered channels, select with a
 * timeout, timers, contexts with cancel/timeout/value, a group, a mutex, a
 * waitgroup) runs once to count the runtime's allocations, then once per
 * allocation site with that allocation failing (goro__test_fail_alloc).
 * Every public call that fails must report ENOMEM (NULL + errno for
 * constructors, the return value otherwise), the workload must still end,
 * release what it made and leave no goroutine behind, and the runtime must
 * work afterwards.  Under ASan, LeakSanitizer then checks that nothing the
 * failed paths allocated was lost.
 *
 * Only GORO_TESTING builds have the fail points (src/os_linux.c, "Fault
 * injection"); elsewhere the suite is one skipped test.
 */
#define _GNU_SOURCE
#include "common.h"

#ifdef GORO_TESTING

#if GT_ASAN
#include <sanitizer/lsan_interface.h>
#endif

/* Exported by GORO_TESTING builds: the nth following runtime allocation or
 * stack mapping fails once (-1: off); the allocations seen so far. */
extern void goro__test_fail_alloc(long nth);
extern long goro__test_alloc_count(void);

static void start_runtime(void)
{
    goro_maxprocs(0);
}

TestSuite(faults, .init = start_runtime);

/* ---- the workload --------------------------------------------------------- */

#define PRODUCERS 3
#define PER_PRODUCER 4
#define GROUP_TASKS 3

struct workload {
    goro_chan *done;            /* closed by the workload goroutine at its end */
    _Atomic int failures;       /* calls that reported ENOMEM */
    goro_mutex mu;
    long group_sum;             /* under mu */
};

/* Records an injected failure: a constructor returned NULL; it must have
 * set errno ENOMEM. */
#define CTOR_FAILED(w, what)                                                   \
    do {                                                                       \
        int e_ = gt_errno();                                                   \
        gt_check(e_ == ENOMEM, "%s: NULL with errno %d, not ENOMEM", what, e_); \
        atomic_fetch_add(&(w)->failures, 1);                                   \
    } while (0)

/* Records a non-zero error return: it must be ENOMEM. */
#define CALL_FAILED(w, what, e)                                                \
    do {                                                                       \
        gt_check((e) == ENOMEM, "%s: returned %d, not ENOMEM", what, (e));    \
        atomic_fetch_add(&(w)->failures, 1);                                   \
    } while (0)

struct producer {
    goro_chan *c;
    goro_waitgroup *wg;
    int base;
};

static void producer(void *arg)
{
    struct producer *p = arg;
    for (int i = 0; i < PER_PRODUCER; i++) {
        int v = p->base + i;
        int e = goro_chan_send(p->c, &v);
        gt_check(e == 0, "send on an open channel: %d", e);
    }
    goro_waitgroup_done(p->wg);
}

static int key_value;

static int group_task(goro_ctx *ctx, void *arg)
{
    struct workload *w = arg;
    (void)ctx;
    goro_mutex_lock(&w->mu);
    w->group_sum += 1;
    goro_mutex_unlock(&w->mu);
    return 0;
}

static void workload(void *arg)
{
    struct workload *w = arg;
    int e;

    /* Contexts: cancel <- value <- timeout. */
    goro_ctx *cctx = goro_ctx_with_cancel(goro_ctx_background());
    if (!cctx)
        CTOR_FAILED(w, "goro_ctx_with_cancel");
    goro_ctx *parent = cctx ? cctx : goro_ctx_background();
    goro_ctx *vctx = goro_ctx_with_value(parent, &key_value, &key_value);
    if (!vctx)
        CTOR_FAILED(w, "goro_ctx_with_value");
    else
        gt_check(goro_ctx_value(vctx, &key_value) == &key_value, "ctx value lost");
    goro_ctx *tctx = goro_ctx_with_timeout(vctx ? vctx : parent, 2 * GORO_MILLISECOND);
    if (!tctx)
        CTOR_FAILED(w, "goro_ctx_with_timeout");

    /* Unbuffered channel fed by producers, joined with a waitgroup. */
    goro_chan *u = goro_chan_make(sizeof(int), 0);
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    struct producer prod[PRODUCERS];
    int started = 0;
    if (!u) {
        CTOR_FAILED(w, "goro_chan_make(unbuffered)");
    } else {
        for (int i = 0; i < PRODUCERS; i++) {
            prod[i] = (struct producer){u, &wg, 100 * i};
            goro_waitgroup_add(&wg, 1);
            e = goro_go(producer, &prod[i]);
            if (e) {
                CALL_FAILED(w, "goro_go(producer)", e);
                goro_waitgroup_done(&wg);
            } else {
                started++;
            }
        }
        long sum = 0, want = 0;
        for (int i = 0; i < started * PER_PRODUCER; i++) {
            int v;
            e = goro_chan_recv(u, &v);
            gt_check(e == 0, "recv: %d", e);
            sum += v;
        }
        for (int i = 0; i < PRODUCERS; i++)
            for (int k = 0; k < PER_PRODUCER; k++)
                want += 100 * i + k;
        goro_waitgroup_wait(&wg);
        gt_check(started < PRODUCERS || sum == want, "sum %ld, want %ld", sum, want);
    }

    /* Buffered channel and a select with a timeout. */
    goro_chan *b = goro_chan_make(sizeof(int), 4);
    if (!b) {
        CTOR_FAILED(w, "goro_chan_make(buffered)");
    } else {
        int v = 7, got = 0;
        gt_check(goro_chan_try_send(b, &v) == 0, "try_send on an empty buffer");
        int r = GORO_SELECT(goro_case_recv(b, &got), goro_case_timeout(GORO_SECOND));
        gt_check(r == 0 && got == 7, "select: %d, got %d", r, got);
        r = GORO_SELECT(goro_case_recv(b, &got), goro_case_timeout(GORO_MILLISECOND));
        gt_check(r == 1, "select on an empty channel: %d, not the timeout", r);
        goro_chan *b2 = goro_chan_retain(b);
        goro_chan_close(b2);
        goro_chan_release(b2);
        goro_chan_release(b);
    }

    /* A timer, reset once. */
    goro_timer *t = goro_timer_make(GORO_HOUR);
    if (!t) {
        CTOR_FAILED(w, "goro_timer_make");
    } else {
        goro_timer_reset(t, GORO_MILLISECOND); /* no memory: fires at once */
        int64_t when;
        int r = GORO_SELECT(goro_case_recv(goro_timer_chan(t), &when),
                            goro_case_timeout(10 * GORO_SECOND));
        gt_check(r == 0, "timer did not fire: %d", r);
        goro_timer_free(t);
    }

    /* A group under the value context, its tasks serialised by a mutex. */
    goro_group *g = goro_group_make(vctx ? vctx : parent);
    if (!g) {
        CTOR_FAILED(w, "goro_group_make");
    } else {
        int ok = 0;
        goro_group_set_limit(g, 2);
        for (int i = 0; i < GROUP_TASKS; i++) {
            e = goro_group_go(g, group_task, w);
            if (e)
                CALL_FAILED(w, "goro_group_go", e);
            else
                ok++;
        }
        e = goro_group_wait(g);
        gt_check(e == 0, "group_wait: %d", e);
        goro_mutex_lock(&w->mu);
        gt_check(w->group_sum == ok, "group ran %ld tasks, %d started", w->group_sum, ok);
        goro_mutex_unlock(&w->mu);
        goro_group_free(g);
    }

    goro_sleep(100 * GORO_MICROSECOND);

    /* The timeout context ends (by its timer, or at once without memory
     * for one); cancel ends the rest. */
    if (tctx) {
        int r = GORO_SELECT(goro_case_recv(goro_ctx_done(tctx), NULL),
                            goro_case_timeout(10 * GORO_SECOND));
        gt_check(r == 0, "timeout context did not end");
        gt_check(goro_ctx_err(tctx) == ETIMEDOUT, "ctx_err %d", goro_ctx_err(tctx));
        goro_ctx_release(tctx);
    }
    if (cctx) {
        goro_ctx_cancel(cctx);
        gt_check(goro_ctx_err(cctx) == ECANCELED, "cancel: ctx_err %d", goro_ctx_err(cctx));
        if (vctx)
            gt_check(goro_ctx_err(vctx) == ECANCELED, "value ctx not canceled");
    }
    goro_ctx_release(vctx);
    goro_ctx_release(cctx);
    goro_chan_release(u);

    goro_chan_close(w->done);
}

/* Runs the workload with the nth allocation failing (-1: none); returns
 * how many calls reported ENOMEM.  Fails the test on a hang. */
static int run_workload(long nth)
{
    struct workload w = {.mu = GORO_MUTEX_INIT};
    w.done = goro_chan_make(0, 0);
    cr_assert_not_null(w.done, "done channel");

    goro__test_fail_alloc(nth);
    int e = goro_go(workload, &w);
    if (e) {
        goro__test_fail_alloc(-1);
        gt_check(e == ENOMEM, "goro_go(workload): %d, not ENOMEM", e);
        goro_chan_release(w.done);
        return 1;
    }
    int r = GORO_SELECT(goro_case_recv(w.done, NULL), goro_case_timeout(gt_ms(20000)));
    goro__test_fail_alloc(-1);
    if (r != 0) {
        fprintf(stderr, "faults: workload with allocation %ld failing hangs\n", nth);
        goro_dump(stderr);
    }
    cr_assert_eq(r, 0, "workload with allocation %ld failing did not finish", nth);
    goro_chan_release(w.done);
    bool quiet = gt_wait_until(gt_no_goroutines, NULL, gt_ms(10000));
    cr_assert(quiet, "allocation %ld failing: %d goroutines left", nth, goro_num_goroutine());
    gt_assert_no_failures();
    return atomic_load(&w.failures);
}

/* Two goroutines, one channel round trip. */
static void echo(void *arg)
{
    goro_chan **cs = arg;
    int v;
    if (gt_check(goro_chan_recv(cs[0], &v) == 0, "echo recv")) {
        v++;
        gt_check(goro_chan_send(cs[1], &v) == 0, "echo send");
    }
}

static void round_trip(void)
{
    goro_chan *cs[2] = {goro_chan_make(sizeof(int), 0), goro_chan_make(sizeof(int), 0)};
    cr_assert(cs[0] && cs[1]);
    cr_assert_eq(goro_go(echo, cs), 0);
    int v = 41;
    cr_assert_eq(goro_chan_send(cs[0], &v), 0);
    cr_assert_eq(goro_chan_recv(cs[1], &v), 0);
    cr_assert_eq(v, 42);
    goro_chan_release(cs[0]);
    goro_chan_release(cs[1]);
}

Test(faults, every_allocation_site, .timeout = GT_TIMEOUT(120))
{
    /* Warm up (threads, stack cache, timer heap), then count. */
    cr_assert_eq(run_workload(-1), 0);
    int baseline = goro_num_goroutine();
    long before = goro__test_alloc_count();
    cr_assert_eq(run_workload(-1), 0, "failures without injection");
    long count = goro__test_alloc_count() - before;
    cr_assert_gt(count, 0, "the workload allocates nothing?");

    /* Walk every site of one run; the order of allocations varies with
     * scheduling, so walk again (up to 50 rounds) while the time budget
     * (3 s, scaled) lasts. */
    int64_t budget = gt_ms(3000);
    int64_t start = goro_now();
    long walked = 0, reported = 0, calls = 0, rounds = 0;
    for (; rounds < 50 && (rounds == 0 || goro_now() - start < budget); rounds++) {
        for (long n = 0; n < count && goro_now() - start < budget; n++) {
            int f = run_workload(n);
            walked++;
            calls += f;
            reported += f > 0;
        }
    }
    fprintf(stderr,
            "faults: %ld allocations per workload run; %ld rounds, %ld runs with one failing "
            "in %.2f s; %ld runs saw a call report ENOMEM (%ld calls)\n",
            count, rounds, walked, (double)(goro_now() - start) / GORO_SECOND, reported, calls);
    cr_assert_gt(reported, 0, "no injected failure reached a public call");

    /* The runtime still works, and nothing is left over. */
    round_trip();
    cr_assert_eq(run_workload(-1), 0, "failures after the walk");
    gt_quiesce();
    cr_assert_eq(goro_num_goroutine(), baseline);
#if GT_ASAN
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "LeakSanitizer found leaks");
#endif
}

/* Each constructor, made to fail on its first allocation, says ENOMEM. */
Test(faults, constructors_report_enomem, .timeout = GT_TIMEOUT(30))
{
    cr_assert_eq(run_workload(-1), 0); /* warm up */
#define CHECK_CTOR(expr)                                                       \
    do {                                                                       \
        goro__test_fail_alloc(0);                                              \
        gt_set_errno(0);                                                       \
        void *p_ = (void *)(expr);                                             \
        int e_ = gt_errno();                                                   \
        goro__test_fail_alloc(-1);                                             \
        cr_assert_null(p_, "%s succeeded with its first allocation failing", #expr); \
        cr_assert_eq(e_, ENOMEM, "%s: errno %d", #expr, e_);                  \
    } while (0)
    CHECK_CTOR(goro_chan_make(sizeof(int), 0));
    CHECK_CTOR(goro_chan_make(sizeof(int), 8));
    CHECK_CTOR(goro_ctx_with_cancel(goro_ctx_background()));
    CHECK_CTOR(goro_ctx_with_timeout(goro_ctx_background(), GORO_SECOND));
    CHECK_CTOR(goro_ctx_with_value(goro_ctx_background(), &key_value, NULL));
    CHECK_CTOR(goro_timer_make(GORO_SECOND));
    CHECK_CTOR(goro_ticker_make(GORO_SECOND));
    CHECK_CTOR(goro_group_make(NULL));
#undef CHECK_CTOR
    round_trip();
    gt_quiesce();
#if GT_ASAN
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "LeakSanitizer found leaks");
#endif
}

#else /* !GORO_TESTING */

Test(faults, needs_goro_testing)
{
    cr_skip_test("fault injection needs a GORO_TESTING build");
}

#endif
