// test_cxx.cpp - goro.h from C++11: GORO_SELECT (a function template in
// C++, where C's compound literal arrays do not exist), typed channels,
// typed goro_go and group tasks, the size-checked macros.
//
// tests/common.h is C11 (_Atomic, C-only helpers), so this suite keeps its
// own two helpers: no cr_assert in a goroutine (it would longjmp across
// stacks; results go through atomics and channels), and every test ends
// when no goroutine is left.
#include <goro.h>

#include <criterion/criterion.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>

GORO_CHAN_TYPE(int_chan, int);

struct job {
    int n;
    int_chan *out;
};
GORO_CHAN_TYPE(job_chan, job);

static double scale()
{
    const char *v = getenv("GORO_TEST_TIMEOUT_SCALE");
    double s = v && *v ? atof(v) : 1.0;
    return s >= 1.0 ? s : 1.0;
}

static void quiesce()
{
    int64_t deadline = goro_now() + (int64_t)(10 * scale()) * GORO_SECOND;
    while (goro_num_goroutine() != 0 && goro_now() < deadline)
        goro_sleep(GORO_MILLISECOND);
    cr_assert_eq(goro_num_goroutine(), 0, "goroutines left: %d", goro_num_goroutine());
}

// A worker started with its own pointer type, no casts.
static void doubler(job *j)
{
    int_chan_send(j->out, j->n * 2);
}

Test(cxx, typed_go_and_channel, .timeout = 20)
{
    int_chan *out = goro_make(int_chan, 0);
    job jobs[8];
    for (int i = 0; i < 8; i++) {
        jobs[i].n = i;
        jobs[i].out = out;
        cr_assert_eq(goro_go(doubler, &jobs[i]), 0);
    }
    int sum = 0, v;
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(int_chan_recv(out, &v), 0);
        sum += v;
    }
    cr_assert_eq(sum, 2 * (0 + 1 + 2 + 3 + 4 + 5 + 6 + 7));
    quiesce();
    int_chan_release(out);
}

Test(cxx, select_typed_and_untyped_cases, .timeout = 20)
{
    int_chan *a = goro_make(int_chan, 1);
    job_chan *b = goro_make(job_chan, 1);
    goro_chan *sig = goro_chan_make(0, 0);
    int v = -1;
    bool ok = false;
    job j = {7, nullptr}, k = {0, nullptr};

    int r = GORO_SELECT(int_chan_case_recv(a, &v), goro_case_recv(sig, nullptr),
                        goro_case_default());
    cr_assert_eq(r, 2);
    cr_assert_eq(int_chan_send(a, 5), 0);
    r = GORO_SELECT(int_chan_case_recv(a, &v), job_chan_case_recv_ok(b, &k, &ok));
    cr_assert_eq(r, 0);
    cr_assert_eq(v, 5);
    r = GORO_SELECT(int_chan_case_recv(a, &v), job_chan_case_send(b, &j));
    cr_assert_eq(r, 1);
    r = GORO_SELECT(int_chan_case_recv(a, &v), job_chan_case_recv_ok(b, &k, &ok));
    cr_assert_eq(r, 1);
    cr_assert(ok);
    cr_assert_eq(k.n, 7);
    r = GORO_SELECT(goro_case_recv(sig, nullptr), goro_case_timeout(GORO_MILLISECOND));
    cr_assert_eq(r, 1);
    r = GORO_SELECT(goro_case_timeout(0));
    cr_assert_eq(r, 0);
    int_chan_release(a);
    job_chan_release(b);
    goro_chan_release(sig);
    quiesce();
}

Test(cxx, sized_macros, .timeout = 20)
{
    goro_chan *c = goro_chan_make(sizeof(int64_t), 1);
    int small = 3;
    int64_t big = 4;
    cr_assert_eq(GORO_SEND(c, &small), EINVAL);
    cr_assert_eq(GORO_SEND(c, &big), 0);
    cr_assert_eq(GORO_SELECT(GORO_CASE_RECV(c, &small)), -EINVAL);
    big = 0;
    cr_assert_eq(GORO_RECV(c, &big), 0);
    cr_assert_eq(big, 4);
    cr_assert_eq(int_chan_from(c), nullptr);
    goro_chan_release(c);
}

static std::atomic<int> task_sum(0);

static int add_task(goro_ctx *ctx, job *j)
{
    (void)ctx;
    task_sum += j->n;
    return j->n == 3 ? EIO : 0;
}

Test(cxx, typed_group_tasks, .timeout = 20)
{
    goro_group *g = goro_group_make(nullptr);
    cr_assert_not_null(g);
    job jobs[5];
    for (int i = 0; i < 5; i++) {
        jobs[i].n = i;
        cr_assert_eq(goro_group_go(g, add_task, &jobs[i]), 0);
    }
    cr_assert_eq(goro_group_wait(g), EIO);
    cr_assert_eq(task_sum.load(), 0 + 1 + 2 + 3 + 4);
    goro_group_free(g);
    quiesce();
}
