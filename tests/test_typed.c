/* test_typed.c - the typed layer: typed channels (GORO_CHAN_TYPE) and their
 * select cases, size-checked untyped calls, typed goro_go and group tasks,
 * and the lifetime checks on released channels, contexts, timers, tickers
 * and groups.
 *
 * The channel behaviour tests repeat a representative subset of test_chan
 * and test_select through the typed functions (Go's TestChan,
 * TestSelfSelect, TestNonblockRecvRace shapes).  Compile-time rejection of
 * wrong types is tested by ctest entries that compile the snippets in tests/compile/
 * (see tests/CMakeLists.txt), not here.
 *
 * Death tests run their body in a fresh child (gt_run_child) and check
 * both the SIGABRT and the one-line message.  The lifetime checks read the
 * state word that goro keeps readable after a release (see src/chan.h), so
 * ASan reports nothing of its own and the tests read the same in default,
 * asan and tsan builds.
 */
#define _GNU_SOURCE
#include "common.h"

#include <signal.h>

GORO_CHAN_TYPE(int_chan, int);

struct point {
    int x, y;
    char tag[24];
};
GORO_CHAN_TYPE(point_chan, struct point);

typedef char big_elem[1000];
GORO_CHAN_TYPE(big_chan, big_elem);

/* ---- typed channels ------------------------------------------------------ */

Test(typed, buffered_by_value, .timeout = GT_TIMEOUT(10))
{
    int_chan *c = goro_make(int_chan, 4);
    cr_assert_not_null(c);
    for (int j = 0; j < 4; j++)
        cr_assert_eq(int_chan_send(c, j * 2), 0);
    cr_assert_eq(int_chan_len(c), 4);
    cr_assert_eq(int_chan_cap(c), 4);
    cr_assert_eq(int_chan_try_send(c, 99), EAGAIN);
    cr_assert_eq(int_chan_close(c), 0);
    int v = -1, n = 0;
    while (int_chan_recv_ok(c, &v)) {
        cr_assert_eq(v, n * 2);
        n++;
    }
    cr_assert_eq(n, 4);
    cr_assert_eq(v, 0, "closed and drained: zero-filled");
    cr_assert_eq(int_chan_recv(c, &v), EPIPE);
    cr_assert_eq(int_chan_try_recv(c, &v), EPIPE);
    cr_assert_eq(int_chan_send(c, 1), EPIPE);
    int_chan_release(c);
    gt_quiesce();
}

Test(typed, struct_elements, .timeout = GT_TIMEOUT(10))
{
    point_chan *c = goro_make(point_chan, 1);
    struct point p = {3, 4, "three-four"}, q;
    cr_assert_eq(goro_chan_elem_size(point_chan_chan(c)), sizeof(struct point));
    cr_assert_eq(point_chan_send(c, p), 0);
    memset(&q, 0, sizeof q);
    cr_assert_eq(point_chan_try_recv(c, &q), 0);
    cr_assert_eq(q.x, 3);
    cr_assert_eq(q.y, 4);
    cr_assert_str_eq(q.tag, "three-four");
    cr_assert_eq(point_chan_try_recv(c, &q), EAGAIN);
    point_chan_release(c);
    gt_quiesce();
}

/* An element type that is an array (through a typedef), with a buffer
 * larger than the inline one. */
Test(typed, array_elements_large_buffer, .timeout = GT_TIMEOUT(10))
{
    big_chan *c = goro_make(big_chan, 8);
    static big_elem in, out;
    for (int i = 0; i < 8; i++) {
        memset(in, 'a' + i, sizeof in);
        cr_assert_eq(goro_chan_send(big_chan_chan(c), in), 0);
    }
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(big_chan_recv(c, &out), 0);
        cr_assert_eq(out[0], 'a' + i);
        cr_assert_eq(out[sizeof out - 1], 'a' + i);
    }
    big_chan_release(c);
    gt_quiesce();
}

/* Go: TestChan's unbuffered ping-pong between two goroutines. */
static int_chan *pp_ping, *pp_pong;

static void pp_ponger(void *unused)
{
    (void)unused;
    int v;
    while (int_chan_recv(pp_ping, &v) == 0)
        gt_check(int_chan_send(pp_pong, v + 1) == 0, "pong send");
}

Test(typed, unbuffered_pingpong, .timeout = GT_TIMEOUT(20))
{
    pp_ping = goro_make(int_chan, 0);
    pp_pong = goro_make(int_chan, 0);
    gt_spawn(pp_ponger, NULL);
    int v = 0;
    for (int i = 0; i < 10000; i++) {
        cr_assert_eq(int_chan_send(pp_ping, v), 0);
        cr_assert_eq(int_chan_recv(pp_pong, &v), 0);
    }
    cr_assert_eq(v, 10000);
    int_chan_close(pp_ping);
    gt_quiesce();
    int_chan_release(pp_ping);
    int_chan_release(pp_pong);
}

Test(typed, retain_release_from, .timeout = GT_TIMEOUT(10))
{
    int_chan *c = goro_make(int_chan, 1);
    cr_assert_eq(int_chan_retain(c), c);
    int_chan_release(c); /* the retained reference */
    goro_chan *u = int_chan_chan(c);
    cr_assert_eq(int_chan_from(u), c);
    errno = 0;
    cr_assert_null(point_chan_from(u));
    cr_assert_eq(errno, EINVAL);
    cr_assert_null(int_chan_from(NULL));
    goro_chan *sig = goro_chan_make(0, 0);
    cr_assert_null(int_chan_from(sig));
    goro_chan_release(sig);
    int_chan_release(c);
    gt_quiesce();
}

static int group_task_void(goro_ctx *ctx, void *arg)
{
    (void)ctx;
    atomic_fetch_add((_Atomic long *)arg, 1);
    return 0;
}

/* The constructors are macros recording the call site; the functions of
 * the same names stay exported for callers that cannot use the macros
 * (bindings, function pointers), and work without a site. */
Test(typed, constructor_functions_exported, .timeout = GT_TIMEOUT(10))
{
    goro_chan *(*mk)(size_t, size_t) = goro_chan_make;
    goro_chan *c = mk(sizeof(int), 1);
    cr_assert_not_null(c);
    cr_assert_eq(goro_chan_elem_size(c), sizeof(int));
    goro_chan_release(c);
    c = (goro_chan_make)(0, 0);
    cr_assert_not_null(c);
    goro_chan_release(c);

    goro_ctx *ctx = (goro_ctx_with_cancel)(NULL);
    goro_ctx *tmo = (goro_ctx_with_timeout)(ctx, GORO_HOUR);
    goro_ctx *dl = (goro_ctx_with_deadline)(tmo, goro_now() + GORO_HOUR);
    goro_ctx *val = (goro_ctx_with_value)(dl, &c, &c);
    cr_assert(val && dl && tmo && ctx);
    cr_assert_eq(goro_ctx_value(val, &c), &c);
    goro_ctx_release(val);
    goro_ctx_release(dl);
    goro_ctx_release(tmo);
    goro_ctx_release(ctx);

    goro_timer *t = (goro_timer_make)(GORO_HOUR);
    goro_ticker *tk = (goro_ticker_make)(GORO_HOUR);
    cr_assert(t && tk);
    goro_timer_free(t);
    goro_ticker_free(tk);

    static _Atomic long ran;
    goro_group *g = (goro_group_make)(NULL);
    cr_assert_not_null(g);
    cr_assert_eq((goro_group_go)(g, group_task_void, (void *)&ran), 0);
    cr_assert_eq(goro_group_wait(g), 0);
    cr_assert_eq(atomic_load(&ran), 1);
    goro_group_free(g);
    gt_quiesce();
}

/* ---- typed select cases --------------------------------------------------- */

Test(typed, select_mixed_cases, .timeout = GT_TIMEOUT(10))
{
    int_chan *a = goro_make(int_chan, 1);
    point_chan *b = goro_make(point_chan, 1);
    goro_chan *sig = goro_chan_make(0, 1);
    int v = -1;
    struct point p = {1, 2, "p"}, q;
    bool ok = false;

    /* Only b has room: the send runs. */
    cr_assert_eq(int_chan_send(a, 5), 0);
    int r = GORO_SELECT(int_chan_case_send(a, &v), point_chan_case_send(b, &p),
                        goro_case_recv(sig, NULL));
    cr_assert_eq(r, 1);
    /* a and b both hold a value: both receive cases become ready. */
    bool got[2] = {false, false};
    for (int i = 0; i < 2; i++) {
        r = GORO_SELECT(int_chan_case_recv(a, &v), point_chan_case_recv_ok(b, &q, &ok),
                        goro_case_timeout(gt_ms(5000)));
        cr_assert(r == 0 || r == 1, "select returned %d", r);
        got[r] = true;
    }
    cr_assert(got[0] && got[1]);
    cr_assert_eq(v, 5);
    cr_assert(ok);
    cr_assert_eq(q.x, 1);
    /* Closed and drained: recv_ok reports it. */
    point_chan_close(b);
    r = GORO_SELECT(point_chan_case_recv_ok(b, &q, &ok), int_chan_case_recv(a, &v));
    cr_assert_eq(r, 0);
    cr_assert_not(ok);
    cr_assert_eq(q.x, 0);
    /* A NULL typed channel is never ready. */
    int_chan *nil = NULL;
    r = GORO_SELECT(int_chan_case_recv(nil, &v), goro_case_default());
    cr_assert_eq(r, 1);
    int_chan_release(a);
    point_chan_release(b);
    goro_chan_release(sig);
    gt_quiesce();
}

/* Go: TestSelfSelect through the typed cases: one goroutine pair selects
 * send and receive on the same unbuffered channel; every value sent is
 * received by the other. */
static int_chan *self_c;
static _Atomic long self_recv;

static void self_selector(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (int i = 0; i < 1000; i++) {
        int out = me, in = -1;
        int r = GORO_SELECT(int_chan_case_send(self_c, &out), int_chan_case_recv(self_c, &in));
        if (r == 1) {
            gt_check(in != me, "selector %d received its own value", me);
            atomic_fetch_add(&self_recv, 1);
        } else {
            gt_check(r == 0, "select returned %d", r);
        }
    }
}

Test(typed, self_select, .timeout = GT_TIMEOUT(20))
{
    self_c = goro_make(int_chan, 0);
    gt_spawn(self_selector, (void *)(intptr_t)0);
    gt_spawn(self_selector, (void *)(intptr_t)1);
    gt_quiesce();
    cr_assert_eq(atomic_load(&self_recv), 1000);
    int_chan_release(self_c);
}

/* ---- size-checked untyped calls ------------------------------------------ */

struct canaried {
    uint64_t before;
    int v;
    uint64_t after;
};
#define CANARY 0xa5a5a5a5a5a5a5a5ull

Test(typed, sized_mismatch_einval_copies_nothing, .timeout = GT_TIMEOUT(10))
{
    goro_chan *c = goro_chan_make(sizeof(int64_t), 2);
    int64_t big = 0x1122334455667788;
    struct canaried d = {CANARY, 7, CANARY};

    cr_assert_eq(goro_chan_elem_size(c), sizeof(int64_t));
    cr_assert_eq(goro_chan_elem_size(NULL), 0);
    cr_assert_eq(GORO_SEND(c, &big), 0);
    cr_assert_eq(GORO_SEND(c, &big), 0);
    /* An int is not an int64_t: EINVAL, d untouched, the buffer too. */
    cr_assert_eq(GORO_RECV(c, &d.v), EINVAL);
    cr_assert_eq(GORO_TRY_RECV(c, &d.v), EINVAL);
    cr_assert_eq(GORO_TRY_SEND(c, &d.v), EINVAL);
    cr_assert_eq(GORO_SEND(c, &d.v), EINVAL, "full channel: must not block either");
    cr_assert_eq(d.before, CANARY);
    cr_assert_eq(d.v, 7);
    cr_assert_eq(d.after, CANARY);
    cr_assert_eq(goro_chan_len(c), 2);
    /* The cases: goro_select returns -EINVAL and nothing moves. */
    int r = GORO_SELECT(GORO_CASE_RECV(c, &d.v), goro_case_default());
    cr_assert_eq(r, -EINVAL);
    bool ok = true;
    r = GORO_SELECT(GORO_CASE_RECV_OK(c, &d.v, &ok), goro_case_default());
    cr_assert_eq(r, -EINVAL);
    r = GORO_SELECT(GORO_CASE_SEND(c, &d.v), goro_case_default());
    cr_assert_eq(r, -EINVAL);
    cr_assert(ok);
    cr_assert_eq(d.before, CANARY);
    cr_assert_eq(d.v, 7);
    cr_assert_eq(d.after, CANARY);
    cr_assert_eq(goro_chan_len(c), 2);
    /* The right size works. */
    int64_t out = 0;
    r = GORO_SELECT(GORO_CASE_RECV(c, &out));
    cr_assert_eq(r, 0);
    cr_assert_eq(out, big);
    out = 0;
    cr_assert_eq(GORO_RECV(c, &out), 0);
    cr_assert_eq(out, big);
    /* NULL channels pass the check and behave as before. */
    cr_assert_eq(GORO_TRY_SEND((goro_chan *)NULL, &d.v), EINVAL);
    r = GORO_SELECT(GORO_CASE_RECV((goro_chan *)NULL, &d.v), goro_case_default());
    cr_assert_eq(r, 1);
    goro_chan_release(c);
    gt_quiesce();
}

/* ---- typed goroutines and group tasks ------------------------------------- */

struct job {
    int n;
    int_chan *out;
};

/* Started as goro_go(square, &job): no cast, no void * in sight. */
static void square(struct job *j)
{
    gt_check(int_chan_send(j->out, j->n * j->n) == 0, "send");
}

Test(typed, go_typed_argument, .timeout = GT_TIMEOUT(10))
{
    int_chan *out = goro_make(int_chan, 0);
    struct job jobs[10];
    for (int i = 0; i < 10; i++) {
        jobs[i] = (struct job){i, out};
        cr_assert_eq(goro_go(square, &jobs[i]), 0);
    }
    goro_attr a = {.name = "square"};
    struct job last = {10, out};
    cr_assert_eq(goro_go_attr(&a, square, &last), 0);
    int sum = 0, v;
    for (int i = 0; i < 11; i++) {
        cr_assert_eq(int_chan_recv(out, &v), 0);
        sum += v;
    }
    cr_assert_eq(sum, 385);
    gt_quiesce();
    int_chan_release(out);
}

/* A goroutine or group task parked on gate, so that a dump shows it. */
static goro_chan *gate;

static void parked_worker(struct job *j)
{
    (void)j;
    goro_chan_recv(gate, NULL);
}

static int parked_task(goro_ctx *ctx, struct job *j)
{
    (void)ctx;
    parked_worker(j);
    return j->n;
}

struct dump_goal {
    const char *needle;
};

static bool dump_has(void *arg)
{
    struct dump_goal *d = arg;
    static char buf[65536];
    FILE *f = tmpfile(); /* goro_dump writes to the stream's fd */
    if (!f)
        return false;
    goro_dump(f);
    rewind(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return strstr(buf, d->needle) != NULL;
}

/* Dumps name a group task by its own function and the caller's file and
 * line, not by the library's task_run in group.c. */
Test(typed, group_task_named_in_dump, .timeout = GT_TIMEOUT(10))
{
    char want[512];
    struct job j = {5, NULL};
    gate = gt_mkchan(0, 0);
    goro_group *g = goro_group_make(NULL);
    cr_assert_not_null(g);
    int line = __LINE__ + 1;
    cr_assert_eq(goro_group_go(g, parked_task, &j), 0);
    snprintf(want, sizeof want, "\tparked_task(0x");
    cr_assert(gt_wait_until(dump_has, &(struct dump_goal){want}, gt_ms(5000)),
              "no parked_task entry in the dump");
    snprintf(want, sizeof want, "created by %s at %s:%d\n", __func__, __FILE__, line);
    cr_assert(gt_wait_until(dump_has, &(struct dump_goal){want}, gt_ms(5000)),
              "the dump does not show \"%s\"", want);
    cr_assert(!dump_has(&(struct dump_goal){"task_run"}), "the dump shows task_run");
    goro_chan_close(gate);
    cr_assert_eq(goro_group_wait(g), 5);
    goro_group_free(g);
    goro_chan_release(gate);
    gt_quiesce();
}

/* ---- lifetime checks (death tests) ------------------------------------------ */

#define CHILD_ENV "GT_TYPED_CHILD"

/* Each object is made on a line of its own, whose number the test (in the
 * parent process) knows from the enum after it. */
static goro_chan *mk_chan(void) { return goro_chan_make(sizeof(int), 0); }
enum { MK_CHAN_LINE = __LINE__ - 1 };
static int_chan *mk_int_chan(void) { return goro_make(int_chan, 1); }
enum { MK_INT_CHAN_LINE = __LINE__ - 1 };
static goro_ctx *mk_ctx(void) { return goro_ctx_with_cancel(NULL); }
enum { MK_CTX_LINE = __LINE__ - 1 };
static goro_ctx *mk_ctx_timeout(void) { return goro_ctx_with_timeout(NULL, GORO_HOUR); }
enum { MK_CTX_TIMEOUT_LINE = __LINE__ - 1 };
static goro_timer *mk_timer(void) { return goro_timer_make(GORO_HOUR); }
enum { MK_TIMER_LINE = __LINE__ - 1 };
static goro_ticker *mk_ticker(void) { return goro_ticker_make(GORO_HOUR); }
enum { MK_TICKER_LINE = __LINE__ - 1 };
static goro_group *mk_group(void) { return goro_group_make(NULL); }
enum { MK_GROUP_LINE = __LINE__ - 1 };

/* A send on a released unbuffered channel: without the check it would
 * wait forever on freed memory. */
static void child_chan_send(void)
{
    goro_chan *c = mk_chan();
    goro_chan_release(c);
    goro_chan_send(c, &(int){1});
}

static void child_chan_double_release(void)
{
    goro_chan *c = mk_chan();
    goro_chan_release(c);
    goro_chan_release(c);
}

static void child_chan_select(void)
{
    goro_chan *c = mk_chan();
    int v;
    goro_chan_release(c);
    GORO_SELECT(goro_case_recv(c, &v), goro_case_default());
}

static void recv_released(void *arg)
{
    int v;
    int_chan_recv(arg, &v);
}

/* The typed layer, from a goroutine. */
static void child_typed_recv(void)
{
    int_chan *c = mk_int_chan();
    int_chan_release(c);
    goro_go(recv_released, c);
    goro_sleep(GORO_HOUR);
}

static void child_ctx_use(void)
{
    goro_ctx *c = mk_ctx();
    goro_ctx_release(c);
    goro_ctx_err(c);
}

static void child_ctx_double_release(void)
{
    goro_ctx *c = mk_ctx_timeout();
    goro_ctx_release(c);
    goro_ctx_release(c);
}

static void child_timer_use(void)
{
    goro_timer *t = mk_timer();
    goro_timer_free(t);
    goro_timer_reset(t, GORO_SECOND);
}

static void child_timer_double_free(void)
{
    goro_timer *t = mk_timer();
    goro_timer_free(t);
    goro_timer_free(t);
}

static void child_ticker_use(void)
{
    goro_ticker *t = mk_ticker();
    goro_ticker_free(t);
    goro_ticker_chan(t);
}

static void child_ticker_double_free(void)
{
    goro_ticker *t = mk_ticker();
    goro_ticker_free(t);
    goro_ticker_free(t);
}

static int nothing(goro_ctx *ctx, void *arg)
{
    (void)ctx;
    (void)arg;
    return 0;
}

static void child_group_use(void)
{
    goro_group *g = mk_group();
    goro_group_wait(g);
    goro_group_free(g);
    goro_group_go(g, nothing, NULL);
}

static void child_group_double_free(void)
{
    goro_group *g = mk_group();
    goro_group_wait(g);
    goro_group_free(g);
    goro_group_free(g);
}

static const gt_child_body child_bodies[] = {
    {"chan_send", child_chan_send},
    {"chan_double_release", child_chan_double_release},
    {"chan_select", child_chan_select},
    {"typed_recv", child_typed_recv},
    {"ctx_use", child_ctx_use},
    {"ctx_double_release", child_ctx_double_release},
    {"timer_use", child_timer_use},
    {"timer_double_free", child_timer_double_free},
    {"ticker_use", child_ticker_use},
    {"ticker_double_free", child_ticker_double_free},
    {"group_use", child_group_use},
    {"group_double_free", child_group_double_free},
    {NULL, NULL},
};

__attribute__((constructor)) static void child_entry(void)
{
    gt_child_dispatch(CHILD_ENV, child_bodies);
}

/* Runs body in a child; asserts that it died of SIGABRT after printing
 * "fatal error: <what> <kind> (made at <this file>:<line>)" as its first
 * line. */
static void expect_death(const char *body, const char *what, const char *kind, int line)
{
    static char out[16384];
    char want[512];
    int status;

    gt_run_child(CHILD_ENV, body, out, sizeof out, &status);
    snprintf(want, sizeof want, "fatal error: %s %s (made at %s:%d)\n", what, kind, __FILE__,
             line);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
              "%s: status %#x, not SIGABRT; stderr:\n%s", body, status, out);
    cr_assert(strncmp(out, want, strlen(want)) == 0, "%s: stderr does not start with\n%s\nbut:\n%s",
              body, want, out);
}

Test(typed, released_chan_send_dies, .timeout = GT_TIMEOUT(30))
{
    expect_death("chan_send", "use of released", "channel", MK_CHAN_LINE);
}

Test(typed, released_chan_double_release_dies, .timeout = GT_TIMEOUT(30))
{
    expect_death("chan_double_release", "double release of", "channel", MK_CHAN_LINE);
}

Test(typed, released_chan_select_dies, .timeout = GT_TIMEOUT(30))
{
    expect_death("chan_select", "use of released", "channel", MK_CHAN_LINE);
}

Test(typed, released_typed_chan_recv_dies, .timeout = GT_TIMEOUT(30))
{
    expect_death("typed_recv", "use of released", "channel", MK_INT_CHAN_LINE);
}

Test(typed, released_ctx_use_dies, .timeout = GT_TIMEOUT(30))
{
    expect_death("ctx_use", "use of released", "context", MK_CTX_LINE);
}

Test(typed, released_ctx_double_release_dies, .timeout = GT_TIMEOUT(30))
{
    expect_death("ctx_double_release", "double release of", "context", MK_CTX_TIMEOUT_LINE);
}

Test(typed, released_timer_use_dies, .timeout = GT_TIMEOUT(30))
{
    expect_death("timer_use", "use of released", "timer", MK_TIMER_LINE);
}

Test(typed, released_timer_double_free_dies, .timeout = GT_TIMEOUT(30))
{
    expect_death("timer_double_free", "double release of", "timer", MK_TIMER_LINE);
}

Test(typed, released_ticker_use_dies, .timeout = GT_TIMEOUT(30))
{
    expect_death("ticker_use", "use of released", "ticker", MK_TICKER_LINE);
}

Test(typed, released_ticker_double_free_dies, .timeout = GT_TIMEOUT(30))
{
    expect_death("ticker_double_free", "double release of", "ticker", MK_TICKER_LINE);
}

Test(typed, released_group_use_dies, .timeout = GT_TIMEOUT(30))
{
    expect_death("group_use", "use of released", "group", MK_GROUP_LINE);
}

Test(typed, released_group_double_free_dies, .timeout = GT_TIMEOUT(30))
{
    expect_death("group_double_free", "double release of", "group", MK_GROUP_LINE);
}

/* The same as a plain Criterion death test: the abort is the test's end. */
Test(typed, released_chan_send_aborts, .signal = SIGABRT, .timeout = GT_TIMEOUT(10))
{
    child_chan_send();
}
