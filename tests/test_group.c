/* test_group.c - groups (errgroup with SetLimit): the limit holds, the
 * first error wins, is what wait returns and cancels the siblings through
 * the group's context, the context ends after wait, a parent's cancel
 * reaches the group, and NULL arguments are refused.
 *
 * Derived from golang.org/x/sync/errgroup's errgroup_test.go (TestZeroGroup,
 * TestWithContext, TestGoLimit).  Order is asserted through counters and
 * channels; the one timing check (siblings return promptly) has a
 * generous bound scaled by gt_scale().
 */
#define _GNU_SOURCE
#include "common.h"

static void start_runtime(void)
{
    goro_maxprocs(0);
}

TestSuite(group, .init = start_runtime);

static goro_group *mkgroup(goro_ctx *parent)
{
    goro_group *g = goro_group_make(parent);
    cr_assert_not_null(g, "goro_group_make: errno %d", errno);
    return g;
}

static void go_ok(goro_group *g, int (*fn)(goro_ctx *, void *), void *arg)
{
    int e = goro_group_go(g, fn, arg);
    cr_assert_eq(e, 0, "goro_group_go: %d", e);
}

/* ---- limit --------------------------------------------------------------- */

static _Atomic long running, high_water, finished;

static int limited_task(goro_ctx *ctx, void *arg)
{
    (void)ctx;
    (void)arg;
    long now = atomic_fetch_add(&running, 1) + 1;
    long hw = atomic_load(&high_water);
    while (now > hw && !atomic_compare_exchange_weak(&high_water, &hw, now))
        ;
    gt_check(now <= 3, "%ld tasks running with a limit of 3", now);
    goro_sleep(GORO_MILLISECOND); /* overlap with the others */
    atomic_fetch_sub(&running, 1);
    atomic_fetch_add(&finished, 1);
    return 0;
}

/* errgroup's TestGoLimit: never more than the limit running. */
Test(group, limit_holds, .timeout = GT_TIMEOUT(30))
{
    enum { TASKS = 100, LIMIT = 3 };
    goro_group *g = mkgroup(NULL);

    atomic_store(&running, 0);
    atomic_store(&high_water, 0);
    atomic_store(&finished, 0);
    goro_group_set_limit(g, LIMIT);
    for (int i = 0; i < TASKS; i++)
        go_ok(g, limited_task, NULL); /* waits for a free slot */
    cr_assert_eq(goro_group_wait(g), 0);
    cr_assert_eq(atomic_load(&finished), TASKS);
    cr_assert_leq(atomic_load(&high_water), LIMIT);
    cr_assert_geq(atomic_load(&high_water), 1);
    goro_group_free(g);
    gt_quiesce();
}

/* Without a limit (the default, or a negative one), all run at once: a
 * task that waits for every other task to start cannot deadlock. */
static _Atomic long started;

static int wait_for_all(goro_ctx *ctx, void *arg)
{
    (void)ctx;
    long n = (long)(intptr_t)arg;
    atomic_fetch_add(&started, 1);
    return gt_wait_count(&started, n, gt_ms(5000)) ? 0 : ETIMEDOUT;
}

Test(group, no_limit_runs_all_at_once, .timeout = GT_TIMEOUT(30))
{
    enum { TASKS = 50 };
    goro_group *g = mkgroup(NULL);

    atomic_store(&started, 0);
    goro_group_set_limit(g, 5);
    goro_group_set_limit(g, -1); /* no limit again */
    for (int i = 0; i < TASKS; i++)
        go_ok(g, wait_for_all, (void *)(intptr_t)TASKS);
    cr_assert_eq(goro_group_wait(g), 0);
    goro_group_free(g);
    gt_quiesce();
}

/* ---- errors -------------------------------------------------------------- */

static int ok_task(goro_ctx *ctx, void *arg)
{
    (void)ctx;
    atomic_fetch_add((_Atomic long *)arg, 1);
    return 0;
}

Test(group, no_error_returns_zero, .timeout = GT_TIMEOUT(10))
{
    _Atomic long n = 0;
    goro_group *g = mkgroup(NULL);

    cr_assert_eq(goro_group_wait(g), 0, "empty group"); /* errgroup's TestZeroGroup */
    goro_group_free(g);

    g = mkgroup(NULL);
    for (int i = 0; i < 20; i++)
        go_ok(g, ok_task, &n);
    cr_assert_eq(goro_group_wait(g), 0);
    cr_assert_eq(atomic_load(&n), 20);
    goro_group_free(g);
    gt_quiesce();
}

struct sib {
    _Atomic long returned;
    _Atomic int64_t error_at;   /* when the failing task returned */
    _Atomic int64_t worst;      /* longest cancel -> sibling return */
    goro_chan *fail_now;        /* closed by the test: the first error */
};

/* Blocks on the group's context until canceled, then reports how long
 * after the first error it noticed. */
static int sibling(goro_ctx *ctx, void *arg)
{
    struct sib *s = arg;
    int r = GORO_SELECT(goro_case_recv(goro_ctx_done(ctx), NULL),
                        goro_case_timeout(10 * GORO_SECOND));
    gt_check(r == 0, "sibling not canceled within 10 s");
    int64_t dt = goro_now() - atomic_load(&s->error_at);
    int64_t w = atomic_load(&s->worst);
    while (dt > w && !atomic_compare_exchange_weak(&s->worst, &w, dt))
        ;
    gt_check(goro_ctx_err(ctx) == ECANCELED, "err %d", goro_ctx_err(ctx));
    atomic_fetch_add(&s->returned, 1);
    return goro_ctx_err(ctx); /* a later error: must not win */
}

static int first_failure(goro_ctx *ctx, void *arg)
{
    struct sib *s = arg;
    (void)ctx;
    goro_chan_recv(s->fail_now, NULL);
    atomic_store(&s->error_at, goro_now());
    return EIO;
}

static int second_failure(goro_ctx *ctx, void *arg)
{
    (void)arg;
    goro_chan_recv(goro_ctx_done(ctx), NULL);
    return EPROTO; /* after the first: must not win */
}

/* errgroup's TestWithContext: the first error is what wait returns, and it
 * cancels the group's context, so blocked siblings return promptly. */
Test(group, first_error_wins_and_cancels_siblings, .timeout = GT_TIMEOUT(30))
{
    enum { SIBLINGS = 20 };
    struct sib s = {.fail_now = goro_chan_make(0, 0)};
    goro_group *g = mkgroup(NULL);
    goro_ctx *gctx = goro_group_ctx(g);

    cr_assert_not_null(s.fail_now);
    cr_assert_not_null(gctx);
    for (int i = 0; i < SIBLINGS; i++)
        go_ok(g, sibling, &s);
    go_ok(g, second_failure, NULL);
    go_ok(g, first_failure, &s);
    goro_sleep(5 * GORO_MILLISECOND);
    cr_assert_eq(goro_ctx_err(gctx), 0, "group context canceled before any error");
    cr_assert_eq(atomic_load(&s.returned), 0);

    goro_chan_close(s.fail_now);
    cr_assert_eq(goro_group_wait(g), EIO, "wait did not return the first error");
    cr_assert_eq(atomic_load(&s.returned), SIBLINGS);
    cr_assert_lt(atomic_load(&s.worst), gt_ms(100), "a sibling returned %.1f ms after the error",
                 (double)atomic_load(&s.worst) / GORO_MILLISECOND);
    cr_assert_eq(goro_ctx_err(gctx), ECANCELED);
    goro_group_free(g);
    goro_chan_release(s.fail_now);
    gt_quiesce();
}

/* Errors from many tasks at once: exactly one of them is returned. */
static int fail_with(goro_ctx *ctx, void *arg)
{
    (void)ctx;
    goro_yield();
    return (int)(intptr_t)arg;
}

Test(group, concurrent_errors_one_wins, .timeout = GT_TIMEOUT(30))
{
    for (int round = 0; round < 50; round++) {
        goro_group *g = mkgroup(NULL);
        for (int i = 1; i <= 16; i++)
            go_ok(g, fail_with, (void *)(intptr_t)(1000 + i));
        int e = goro_group_wait(g);
        cr_assert(e > 1000 && e <= 1016, "wait returned %d", e);
        goro_group_free(g);
    }
    gt_quiesce();
}

/* ---- the group's context ------------------------------------------------- */

static int observe_live(goro_ctx *ctx, void *arg)
{
    (void)arg;
    goro_sleep(2 * GORO_MILLISECOND);
    gt_check(goro_ctx_err(ctx) == 0, "group context ended while a task runs");
    return 0;
}

Test(group, context_canceled_after_wait, .timeout = GT_TIMEOUT(10))
{
    static int key;
    goro_ctx *parent = goro_ctx_with_value(NULL, &key, &key);
    goro_group *g = mkgroup(parent);
    goro_ctx *gctx = goro_group_ctx(g);

    cr_assert_eq(goro_ctx_value(gctx, &key), &key, "group context derives from the parent");
    for (int i = 0; i < 8; i++)
        go_ok(g, observe_live, NULL);
    cr_assert_eq(goro_ctx_err(gctx), 0);
    cr_assert_eq(goro_group_wait(g), 0);
    cr_assert_eq(goro_ctx_err(gctx), ECANCELED, "group context live after wait");
    cr_assert_eq(goro_ctx_err(parent), 0, "wait canceled the parent");
    goro_group_free(g);
    goro_ctx_release(parent);
    gt_quiesce();
}

static int until_canceled(goro_ctx *ctx, void *arg)
{
    (void)arg;
    goro_chan_recv(goro_ctx_done(ctx), NULL);
    return 0;
}

Test(group, parent_cancel_cancels_group, .timeout = GT_TIMEOUT(10))
{
    goro_ctx *parent = goro_ctx_with_cancel(NULL);
    goro_group *g = mkgroup(parent);

    for (int i = 0; i < 8; i++)
        go_ok(g, until_canceled, NULL);
    goro_sleep(2 * GORO_MILLISECOND);
    cr_assert_eq(goro_ctx_err(goro_group_ctx(g)), 0);
    goro_ctx_cancel(parent);
    cr_assert_eq(goro_ctx_err(goro_group_ctx(g)), ECANCELED);
    cr_assert_eq(goro_group_wait(g), 0, "the tasks returned 0");
    goro_group_free(g);
    goro_ctx_release(parent);

    /* A group made under an already-canceled parent starts canceled. */
    parent = goro_ctx_with_timeout(NULL, 0);
    g = mkgroup(parent);
    cr_assert_eq(goro_ctx_err(goro_group_ctx(g)), ETIMEDOUT);
    go_ok(g, until_canceled, NULL);
    cr_assert_eq(goro_group_wait(g), 0);
    goro_group_free(g);
    goro_ctx_release(parent);
    gt_quiesce();
}

/* Tasks may start more tasks in the same group (before wait returns). */
static goro_group *nest_group;
static _Atomic long nested_ran;

static int nested_leaf(goro_ctx *ctx, void *arg)
{
    (void)ctx;
    (void)arg;
    atomic_fetch_add(&nested_ran, 1);
    return 0;
}

static int nested_parent(goro_ctx *ctx, void *arg)
{
    (void)ctx;
    (void)arg;
    for (int i = 0; i < 10; i++)
        gt_check(goro_group_go(nest_group, nested_leaf, NULL) == 0, "nested go");
    return 0;
}

Test(group, tasks_start_tasks, .timeout = GT_TIMEOUT(10))
{
    nest_group = mkgroup(NULL);
    atomic_store(&nested_ran, 0);
    for (int i = 0; i < 10; i++)
        go_ok(nest_group, nested_parent, NULL);
    cr_assert_eq(goro_group_wait(nest_group), 0);
    cr_assert_eq(atomic_load(&nested_ran), 100);
    goro_group_free(nest_group);
    gt_quiesce();
}

/* ---- arguments ----------------------------------------------------------- */

Test(group, null_arguments, .timeout = GT_TIMEOUT(10))
{
    goro_group *g = mkgroup(NULL);

    cr_assert_eq(goro_group_go(NULL, ok_task, NULL), EINVAL);
    cr_assert_eq(goro_group_go(g, (int (*)(goro_ctx *, void *))NULL, NULL), EINVAL);
    cr_assert_eq(goro_group_wait(NULL), EINVAL);
    cr_assert_null(goro_group_ctx(NULL));
    goro_group_set_limit(NULL, 3); /* ignored */
    goro_group_free(NULL);          /* ignored */
    cr_assert_eq(goro_group_wait(g), 0, "the refused calls started nothing");
    goro_group_free(g);
    gt_quiesce();
}
