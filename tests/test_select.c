/* test_select.c - select: uniform choice among ready cases, waiting and
 * being woken, NULL channels, default, invalid cases, the same channel in
 * several cases, timeouts and deadlines, closed channels, plain threads,
 * more than 64 cases, and stress mixes.
 *
 * Derived from Go's runtime/chan_test.go (TestSelectFairness,
 * TestSelectDuplicateChannel, TestSelfSelect, TestSelectStress,
 * TestNonblockSelectRace) and test/chan/{select3,doubleselect,select5}.go.
 * The few timing assertions (timeouts) have bounds scaled by gt_scale().
 */
#define _GNU_SOURCE
#include "common.h"

/* ---- helpers: gt_spawn, gt_mkchan, ... in common.h ------------------------ */

/* ---- fairness ----------------------------------------------------------- */

#define FAIR_N 100000

/* Four buffered channels kept full: every select has four ready receive
 * cases.  Each must be chosen between 20% and 30% of the time (expected
 * 25%, sigma 0.14%: the bounds are 36 sigma away). */
Test(select, fairness_ready_recv, .timeout = GT_TIMEOUT(30))
{
    goro_chan *c[4];
    long count[4] = {0};
    for (int k = 0; k < 4; k++) {
        c[k] = gt_mkchan(sizeof(int), 2);
        for (int j = 0; j < 2; j++)
            cr_assert_eq(goro_chan_send(c[k], &k), 0);
    }
    for (int i = 0; i < FAIR_N; i++) {
        int v = -1;
        int r = GORO_SELECT(goro_case_recv(c[0], &v), goro_case_recv(c[1], &v),
                            goro_case_recv(c[2], &v), goro_case_recv(c[3], &v));
        cr_assert(r >= 0 && r < 4, "select returned %d", r);
        cr_assert_eq(v, r, "case %d received %d", r, v);
        count[r]++;
        cr_assert_eq(goro_chan_try_send(c[r], &r), 0);
    }
    for (int k = 0; k < 4; k++) {
        cr_assert(count[k] > FAIR_N / 5 && count[k] < FAIR_N * 3 / 10,
                  "case %d chosen %ld times of %d", k, count[k], FAIR_N);
        goro_chan_release(c[k]);
    }
    gt_quiesce();
}

/* The same with send cases on channels that always have room, plus a
 * case that is never ready (Go's TestSelectFairness has two). */
Test(select, fairness_ready_send, .timeout = GT_TIMEOUT(30))
{
    goro_chan *c[4], *never = gt_mkchan(sizeof(int), 0);
    long count[4] = {0};
    int dummy;
    for (int k = 0; k < 4; k++)
        c[k] = gt_mkchan(sizeof(int), 1);
    for (int i = 0; i < FAIR_N; i++) {
        int r = GORO_SELECT(goro_case_recv(never, &dummy), goro_case_send(c[0], &i),
                            goro_case_send(c[1], &i), goro_case_send(c[2], &i),
                            goro_case_send(c[3], &i));
        cr_assert(r >= 1 && r <= 4, "select returned %d", r);
        count[r - 1]++;
        int v;
        cr_assert_eq(goro_chan_try_recv(c[r - 1], &v), 0);
        cr_assert_eq(v, i);
        for (int k = 0; k < 4; k++)
            cr_assert_eq(goro_chan_len(c[k]), 0);
    }
    for (int k = 0; k < 4; k++) {
        cr_assert(count[k] > FAIR_N / 5 && count[k] < FAIR_N * 3 / 10,
                  "case %d chosen %ld times of %d", k, count[k], FAIR_N);
        goro_chan_release(c[k]);
    }
    goro_chan_release(never);
    gt_quiesce();
}

/* A select that finds nothing ready parks; four senders race to wake it
 * with try_send (which only succeeds when a receiver waits, so the select
 * never finds a sender queued).  Which one wins is up to the scheduler:
 * check only that every value arrives once and that no sender starves.
 * Each value needs the receiving thread to run between the senders' turns:
 * under Valgrind, which runs one thread at a time, 20,000 of them took 2.5
 * to over 10 minutes, so there it takes a tenth. */
#define WF_N 20000

static goro_chan *wf_c[4];
static _Atomic long wf_sent[4];
static _Atomic int wf_stop;

static void wf_sender(void *arg)
{
    long k = (long)(intptr_t)arg;
    long v = 0;
    while (!atomic_load_explicit(&wf_stop, memory_order_relaxed)) {
        if (goro_chan_try_send(wf_c[k], &v) == 0) {
            v++;
            atomic_store(&wf_sent[k], v);
        }
        goro_yield();
    }
}

Test(select, fairness_waiting, .timeout = GT_TIMEOUT(60))
{
    long count[4] = {0}, next[4] = {0};
    const int n = gt_valgrind() ? WF_N / 10 : WF_N;
    for (int k = 0; k < 4; k++) {
        wf_c[k] = gt_mkchan(sizeof(long), 0);
        gt_spawn(wf_sender, (void *)(intptr_t)k);
    }
    for (int i = 0; i < n; i++) {
        long v = -1;
        int r = GORO_SELECT(goro_case_recv(wf_c[0], &v), goro_case_recv(wf_c[1], &v),
                            goro_case_recv(wf_c[2], &v), goro_case_recv(wf_c[3], &v));
        cr_assert(r >= 0 && r < 4, "select returned %d", r);
        cr_assert_eq(v, next[r], "sender %d: got %ld, want %ld", r, v, next[r]);
        next[r]++;
        count[r]++;
    }
    atomic_store(&wf_stop, 1);
    gt_quiesce();
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(atomic_load(&wf_sent[k]), count[k], "sender %d: sent %ld, received %ld", k,
                     atomic_load(&wf_sent[k]), count[k]);
        /* Which racing waker wins depends on run-queue order, not on
         * select; only starvation would be a bug (0.1%: never 0). */
        cr_assert_geq(count[k], n / 1000, "sender %d won %ld of %d", k, count[k], n);
        goro_chan_release(wf_c[k]);
    }
}

/* ---- NULL channels and default ------------------------------------------ */

/* Starts the runtime, so that a timeout selected from the test's thread
 * does not hit the first-use hang that plain_thread_timeout_first_use
 * checks. */
static void start_runtime(void)
{
    (void)goro_num_goroutine();
}

Test(select, null_channels_never_ready, .timeout = GT_TIMEOUT(10))
{
    int v = 1;
    start_runtime();
    /* Only NULL channels plus default: default. */
    for (int i = 0; i < 100; i++) {
        int r = GORO_SELECT(goro_case_recv(NULL, &v), goro_case_send(NULL, &v),
                            goro_case_recv_ok(NULL, &v, NULL), goro_case_default());
        cr_assert_eq(r, 3);
    }
    /* NULL channels plus a timeout: the timeout. */
    int64_t t0 = goro_now();
    int r = GORO_SELECT(goro_case_recv(NULL, &v), goro_case_send(NULL, &v),
                        goro_case_timeout(20 * GORO_MILLISECOND));
    cr_assert_eq(r, 2);
    cr_assert_geq(goro_now() - t0, 20 * GORO_MILLISECOND);
    /* NULL channels next to a ready one: always the ready one. */
    goro_chan *c = gt_mkchan(sizeof(int), 1);
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(goro_chan_send(c, &i), 0);
        r = GORO_SELECT(goro_case_recv(NULL, &v), goro_case_recv(c, &v), goro_case_send(NULL, &v));
        cr_assert_eq(r, 1);
        cr_assert_eq(v, i);
    }
    goro_chan_release(c);
    gt_quiesce();
}

/* A case with a NULL channel stays off even when it is a send with a NULL
 * elem (Go's nil-channel idiom). */
Test(select, null_channel_send_null_elem, .timeout = GT_TIMEOUT(10))
{
    int r = GORO_SELECT(goro_case_send(NULL, NULL), goro_case_default());
    cr_assert_eq(r, 1);
    gt_quiesce();
}

Test(select, default_when_nothing_ready, .timeout = GT_TIMEOUT(10))
{
    goro_chan *u = gt_mkchan(sizeof(int), 0), *full = gt_mkchan(sizeof(int), 1),
              *empty = gt_mkchan(sizeof(int), 1);
    int v = 7;
    cr_assert_eq(goro_chan_send(full, &v), 0);
    for (int i = 0; i < 1000; i++) {
        int r = GORO_SELECT(goro_case_default(), goro_case_recv(u, &v), goro_case_send(u, &v),
                            goro_case_send(full, &v), goro_case_recv(empty, &v),
                            goro_case_timeout(GORO_SECOND));
        cr_assert_eq(r, 0);
    }
    cr_assert_eq(v, 7, "default clobbered a receive buffer");
    cr_assert_eq(goro_chan_len(full), 1);
    cr_assert_eq(goro_chan_len(empty), 0);
    /* default alone */
    cr_assert_eq(GORO_SELECT(goro_case_default()), 0);
    goro_chan_release(u);
    goro_chan_release(full);
    goro_chan_release(empty);
    gt_quiesce();
}

Test(select, default_never_when_ready, .timeout = GT_TIMEOUT(10))
{
    goro_chan *c = gt_mkchan(sizeof(int), 4), *closed = gt_mkchan(sizeof(int), 0);
    cr_assert_eq(goro_chan_close(closed), 0);
    for (int i = 0; i < 10000; i++) {
        int v = i, r;
        /* a buffered element */
        cr_assert_eq(goro_chan_send(c, &v), 0);
        r = GORO_SELECT(goro_case_recv(c, &v), goro_case_default());
        cr_assert_eq(r, 0);
        cr_assert_eq(v, i);
        /* room in the buffer */
        r = GORO_SELECT(goro_case_default(), goro_case_send(c, &v));
        cr_assert_eq(r, 1);
        cr_assert_eq(goro_chan_recv(c, NULL), 0);
        /* a closed channel is ready for receiving */
        r = GORO_SELECT(goro_case_default(), goro_case_recv(closed, &v));
        cr_assert_eq(r, 1);
        /* an expired timeout is ready */
        r = GORO_SELECT(goro_case_default(), goro_case_timeout(0));
        cr_assert_eq(r, 1);
    }
    goro_chan_release(c);
    goro_chan_release(closed);
    gt_quiesce();
}

/* A parked sender makes a select with default take the receive (Go's
 * TestNonblockSelectRace, with the sender parked instead of buffered). */
static void sender_forever_once(void *arg)
{
    int v = 11;
    gt_check(goro_chan_send(arg, &v) == 0, "send");
}

Test(select, default_with_parked_sender, .timeout = GT_TIMEOUT(10))
{
    goro_chan *u = gt_mkchan(sizeof(int), 0);
    gt_spawn(sender_forever_once, u);
    int64_t deadline = goro_now() + gt_ms(5000);
    int r, v = 0;
    while ((r = GORO_SELECT(goro_case_recv(u, &v), goro_case_default())) == 1 &&
           goro_now() < deadline)
        goro_yield();
    cr_assert_eq(r, 0);
    cr_assert_eq(v, 11);
    goro_chan_release(u);
    gt_quiesce();
}

/* Go's TestNonblockSelectRace (and ...Race2): one of two channels always
 * holds an element (or is closed) while the main thread moves things
 * around; a select with default over both must never take default. */
static void nbs_select(void *arg)
{
    goro_chan **cs = arg;
    int r = GORO_SELECT(goro_case_recv(cs[0], NULL), goro_case_recv(cs[1], NULL),
                        goro_case_default());
    gt_check(r != 2, "select took default with a ready channel");
    goro_chan_send(cs[2], NULL);
}

static void nonblock_select_race(bool close)
{
    goro_chan *cs[3];
    cs[2] = gt_mkchan(0, 0);
    for (int i = 0; i < 5000; i++) {
        int v = 1;
        cs[0] = gt_mkchan(sizeof(int), 1);
        cs[1] = gt_mkchan(sizeof(int), close ? 0 : 1);
        cr_assert_eq(goro_chan_send(cs[0], &v), 0);
        gt_spawn(nbs_select, cs);
        if (close) {
            cr_assert_eq(goro_chan_close(cs[1]), 0);
            GORO_SELECT(goro_case_recv(cs[0], NULL), goro_case_default());
        } else {
            cr_assert_eq(goro_chan_send(cs[1], &v), 0);
            int r = GORO_SELECT(goro_case_recv(cs[0], NULL), goro_case_recv(cs[1], NULL));
            cr_assert(r == 0 || r == 1);
        }
        gt_wait_signals(cs[2], 1);
        goro_chan_release(cs[0]);
        goro_chan_release(cs[1]);
    }
    goro_chan_release(cs[2]);
    gt_quiesce();
}

Test(select, nonblock_select_race, .timeout = GT_TIMEOUT(30))
{
    nonblock_select_race(false);
}

Test(select, nonblock_select_race_close, .timeout = GT_TIMEOUT(30))
{
    nonblock_select_race(true);
}

/* ---- invalid cases ------------------------------------------------------ */

Test(select, invalid_cases, .timeout = GT_TIMEOUT(10))
{
    goro_chan *c = gt_mkchan(sizeof(int), 1), *z = gt_mkchan(0, 1);
    int v = 1;
    cr_assert_eq(goro_select(NULL, 1), -EINVAL);
    cr_assert_eq(goro_select(NULL, 3), -EINVAL);
    cr_assert_eq(GORO_SELECT(goro_case_default(), goro_case_default()), -EINVAL);
    cr_assert_eq(GORO_SELECT(goro_case_recv(c, &v), goro_case_default(), goro_case_default()),
                 -EINVAL);
    /* A send of NULL on a channel with elements of nonzero size. */
    cr_assert_eq(GORO_SELECT(goro_case_send(c, NULL)), -EINVAL);
    cr_assert_eq(GORO_SELECT(goro_case_send(c, NULL), goro_case_default()), -EINVAL);
    cr_assert_eq(goro_chan_len(c), 0, "an invalid select sent something");
    /* ... is fine on a zero-size channel. */
    cr_assert_eq(GORO_SELECT(goro_case_send(z, NULL)), 0);
    cr_assert_eq(goro_chan_len(z), 1);
    /* A case not built by goro_case_*. */
    goro_case bad = {.kind = 12345};
    cr_assert_eq(goro_select(&bad, 1), -EINVAL);
    /* Nothing was left locked or enqueued: the channels still work. */
    cr_assert_eq(goro_chan_send(c, &v), 0);
    cr_assert_eq(goro_chan_recv(c, &v), 0);
    cr_assert_eq(goro_chan_recv(z, NULL), 0);
    goro_chan_release(c);
    goro_chan_release(z);
    gt_quiesce();
}

/* ---- the same channel in several cases ---------------------------------- */

/* Go's TestSelectDuplicateChannel: A queues on c twice and on d; B queues
 * on c; waking A through d must dequeue both of A's sudogs from c, so that
 * a later send on c wakes B, not A. */
static goro_chan *dup_c, *dup_d, *dup_e;

static void dup_a(void *arg)
{
    (void)arg;
    int v = -1;
    int r = GORO_SELECT(goro_case_recv(dup_c, &v), goro_case_recv(dup_c, &v),
                        goro_case_recv(dup_d, &v));
    gt_check(r == 2 && v == 7, "A: case %d, value %d", r, v);
    gt_check(goro_chan_send(dup_e, &(int){9}) == 0, "A: send e");
}

static void dup_b(void *arg)
{
    (void)arg;
    int v = -1;
    gt_check(goro_chan_recv(dup_c, &v) == 0 && v == 8, "B: got %d", v);
    goro_chan_send(dup_e, &(int){10});
}

Test(select, duplicate_channel, .timeout = GT_TIMEOUT(10))
{
    for (int round = 0; round < 50; round++) {
        int v;
        dup_c = gt_mkchan(sizeof(int), 0);
        dup_d = gt_mkchan(sizeof(int), 0);
        dup_e = gt_mkchan(sizeof(int), 0);
        gt_spawn(dup_a, NULL);
        gt_settle(); /* A queues first on c */
        gt_spawn(dup_b, NULL);
        gt_settle(); /* then B */
        cr_assert_eq(goro_chan_send(dup_d, &(int){7}), 0);
        cr_assert_eq(goro_chan_recv(dup_e, &v), 0);
        cr_assert_eq(v, 9);
        cr_assert_eq(goro_chan_send(dup_c, &(int){8}), 0);
        cr_assert_eq(goro_chan_recv(dup_e, &v), 0);
        cr_assert_eq(v, 10);
        gt_quiesce();
        goro_chan_release(dup_c);
        goro_chan_release(dup_d);
        goro_chan_release(dup_e);
    }
}

/* Receiving twice from one buffered channel in one select: both cases
 * get chosen, each value is received once. */
Test(select, duplicate_recv_ready, .timeout = GT_TIMEOUT(10))
{
    goro_chan *c = gt_mkchan(sizeof(int), 1);
    long count[2] = {0};
    for (int i = 0; i < 10000; i++) {
        int v = -1;
        cr_assert_eq(goro_chan_send(c, &i), 0);
        int r = GORO_SELECT(goro_case_recv(c, &v), goro_case_recv(c, &v));
        cr_assert(r == 0 || r == 1);
        cr_assert_eq(v, i);
        count[r]++;
        cr_assert_eq(goro_chan_len(c), 0);
    }
    cr_assert(count[0] > 4000 && count[1] > 4000, "%ld / %ld", count[0], count[1]);
    goro_chan_release(c);
    gt_quiesce();
}

/* Two send cases on one unbuffered channel, the select parked before the
 * receiver comes, every round: both cases must win about half the time
 * (Go: TestPseudoRandomSend).  A select that enqueued its cases in index
 * order delivered case 0 every time.  The receiver (this thread) waits for
 * the sender's park through the park counter before each receive, so the
 * poll path, which is random anyway, is never what decides.  1,000 rounds:
 * case 1's count must be within 5 sigma (79) of 500. */
#define PRS_N 1000
static goro_chan *prs_c;

static void prs_sender(void *unused)
{
    (void)unused;
    for (int i = 0; i < PRS_N; i++) {
        int zero = 0, one = 1;
        int r = GORO_SELECT(goro_case_send(prs_c, &zero), goro_case_send(prs_c, &one));
        gt_check(r == 0 || r == 1, "round %d: select returned %d", i, r);
    }
}

static uint64_t prs_parks(void)
{
    goro_stats st;
    goro_stats_get(&st);
    return st.parks;
}

Test(select, duplicate_send_parked_random, .timeout = GT_TIMEOUT(30))
{
    long ones = 0;
    prs_c = gt_mkchan(sizeof(int), 0);
    uint64_t parks = prs_parks();
    gt_spawn(prs_sender, NULL);
    for (int i = 0; i < PRS_N; i++) {
        int v = -1;
        while (prs_parks() == parks)
            sched_yield();
        parks = prs_parks();
        cr_assert_eq(goro_chan_recv(prs_c, &v), 0);
        cr_assert(v == 0 || v == 1, "received %d", v);
        ones += v;
    }
    cr_assert(ones >= 500 - 79 && ones <= 500 + 79, "case 1 won %ld of %d parked rounds", ones,
              PRS_N);
    goro_chan_release(prs_c);
    gt_quiesce();
}

/* Send and receive on the same buffered channel in one select: only the
 * send is ready when it is empty, only the receive when it is full, both
 * in between. */
Test(select, send_and_recv_same_buffered, .timeout = GT_TIMEOUT(10))
{
    goro_chan *c = gt_mkchan(sizeof(int), 2);
    int out = 5, in = -1;
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(GORO_SELECT(goro_case_recv(c, &in), goro_case_send(c, &out)), 1);
        cr_assert_eq(goro_chan_len(c), 1);
        cr_assert_eq(goro_chan_send(c, &out), 0);
        cr_assert_eq(GORO_SELECT(goro_case_send(c, &out), goro_case_recv(c, &in)), 1);
        cr_assert_eq(in, 5);
        cr_assert_eq(goro_chan_recv(c, NULL), 0);
    }
    long count[2] = {0};
    cr_assert_eq(goro_chan_send(c, &out), 0);
    for (int i = 0; i < 10000; i++) {
        int r = GORO_SELECT(goro_case_recv(c, &in), goro_case_send(c, &out));
        cr_assert(r == 0 || r == 1);
        count[r]++;
        /* Back to one element. */
        if (r == 0)
            cr_assert_eq(goro_chan_send(c, &out), 0);
        else
            cr_assert_eq(goro_chan_recv(c, NULL), 0);
        cr_assert_eq(goro_chan_len(c), 1);
    }
    cr_assert(count[0] > 4000 && count[1] > 4000, "%ld / %ld", count[0], count[1]);
    goro_chan_release(c);
    gt_quiesce();
}

/* Go's TestSelfSelect: two goroutines each select to send and receive on
 * the same channel.  On an unbuffered channel a goroutine must never
 * receive its own value. */
static goro_chan *ss_chan, *ss_done;

static void self_select(void *arg)
{
    int p = (int)(intptr_t)arg;
    for (int i = 0; i < 1000; i++) {
        int v = -1;
        int r = (p == 0 || i % 2 == 0)
                    ? GORO_SELECT(goro_case_send(ss_chan, &p), goro_case_recv(ss_chan, &v))
                    : GORO_SELECT(goro_case_recv(ss_chan, &v), goro_case_send(ss_chan, &p));
        bool recv = (p == 0 || i % 2 == 0) ? r == 1 : r == 0;
        if (!gt_check(r == 0 || r == 1, "select: %d", r))
            break;
        if (recv && goro_chan_cap(ss_chan) == 0)
            gt_check(v != p, "goroutine %d received its own value", p);
    }
    goro_chan_send(ss_done, NULL);
}

Test(select, self_select, .timeout = GT_TIMEOUT(20))
{
    ss_done = gt_mkchan(0, 2);
    for (size_t cap = 0; cap <= 1; cap++) {
        ss_chan = gt_mkchan(sizeof(int), cap);
        for (int i = 0; i < 100; i++) {
            gt_spawn(self_select, (void *)(intptr_t)0);
            gt_spawn(self_select, (void *)(intptr_t)1);
            gt_wait_signals(ss_done, 2);
            /* A buffered channel may end with an element or two. */
            while (goro_chan_try_recv(ss_chan, NULL) == 0)
                ;
        }
        goro_chan_release(ss_chan);
    }
    goro_chan_release(ss_done);
    gt_quiesce();
}

/* A select parked with a send and a receive on the same unbuffered
 * channel is matched by a plain receiver and a plain sender in turn. */
static void sr_same_waiter(void *arg)
{
    goro_chan **cs = arg;
    int out = 21, in = -1;
    int r1 = GORO_SELECT(goro_case_send(cs[0], &out), goro_case_recv(cs[0], &in));
    int r2 = GORO_SELECT(goro_case_send(cs[0], &out), goro_case_recv(cs[0], &in));
    gt_check((r1 == 0 && r2 == 1) || (r1 == 1 && r2 == 0), "cases %d, %d", r1, r2);
    gt_check(in == 22, "received %d", in);
    goro_chan_send(cs[1], NULL);
}

Test(select, send_and_recv_same_unbuffered_parked, .timeout = GT_TIMEOUT(10))
{
    for (int i = 0; i < 100; i++) {
        goro_chan *cs[2] = {gt_mkchan(sizeof(int), 0), gt_mkchan(0, 0)};
        int v = -1;
        gt_spawn(sr_same_waiter, cs);
        if (i % 2) {
            gt_settle();
            cr_assert_eq(goro_chan_recv(cs[0], &v), 0);
            cr_assert_eq(v, 21);
            cr_assert_eq(goro_chan_send(cs[0], &(int){22}), 0);
        } else {
            cr_assert_eq(goro_chan_send(cs[0], &(int){22}), 0);
            cr_assert_eq(goro_chan_recv(cs[0], &v), 0);
            cr_assert_eq(v, 21);
        }
        gt_wait_signals(cs[1], 1);
        goro_chan_release(cs[0]);
        goro_chan_release(cs[1]);
    }
    gt_quiesce();
}

/* ---- timeouts and deadlines --------------------------------------------- */

/* goro_case_timeout(50 ms) never returns before 50 ms; on an idle machine
 * it is not more than ~50 ms late.  The machine may be busy (other suites
 * run in parallel), so the lateness bound applies to the best of five
 * tries, and each try only gets a loose cap. */
static void check_timeout_50ms(void)
{
    goro_chan *c = goro_chan_make(sizeof(int), 0);
    int64_t best = INT64_MAX;
    int v;
    if (!gt_check(c != NULL, "make"))
        return;
    for (int i = 0; i < 5; i++) {
        int64_t t0 = goro_now();
        int r = GORO_SELECT(goro_case_recv(c, &v), goro_case_timeout(50 * GORO_MILLISECOND));
        int64_t dt = goro_now() - t0;
        gt_check(r == 1, "select returned %d", r);
        gt_check(dt >= 50 * GORO_MILLISECOND, "timed out after %lld ns, before 50 ms",
                 (long long)dt);
        gt_check(dt < 50 * GORO_MILLISECOND + gt_ms(2000), "timed out after %lld ns",
                 (long long)dt);
        if (dt < best)
            best = dt;
    }
    gt_check(best < 50 * GORO_MILLISECOND + gt_ms(50), "50 ms timeouts took at least %lld ns",
             (long long)best);
    goro_chan_release(c);
}

static void timeout_50ms_goroutine(void *arg)
{
    check_timeout_50ms();
    goro_chan_send(arg, NULL);
}

Test(select, timeout_50ms, .timeout = GT_TIMEOUT(20))
{
    goro_chan *done = gt_mkchan(0, 0);
    gt_spawn(timeout_50ms_goroutine, done);
    gt_wait_signals(done, 1);
    goro_chan_release(done);
    gt_quiesce();
}

Test(select, timeout_50ms_plain_thread, .timeout = GT_TIMEOUT(20))
{
    start_runtime();
    check_timeout_50ms();
    gt_quiesce();
}

/* Many goroutines waiting on timeouts at once: none returns early. */
static _Atomic long tm_done;

static void many_timeouts(void *arg)
{
    long i = (long)(intptr_t)arg;
    int64_t ns = (i % 20 + 1) * GORO_MILLISECOND;
    int64_t t0 = goro_now();
    int r = GORO_SELECT(goro_case_timeout(ns), goro_case_recv(NULL, NULL));
    int64_t dt = goro_now() - t0;
    gt_check(r == 0, "select: %d", r);
    gt_check(dt >= ns, "%lld ns timeout returned after %lld", (long long)ns, (long long)dt);
    atomic_fetch_add(&tm_done, 1);
}

Test(select, many_timeouts, .timeout = GT_TIMEOUT(20))
{
    for (long i = 0; i < 1000; i++)
        gt_spawn(many_timeouts, (void *)(intptr_t)i);
    cr_assert(gt_wait_count(&tm_done, 1000, gt_ms(10000)), "%ld of 1000", atomic_load(&tm_done));
    gt_quiesce();
}

Test(select, deadline_in_past, .timeout = GT_TIMEOUT(10))
{
    goro_chan *c = gt_mkchan(sizeof(int), 0);
    int v;
    int64_t t0 = goro_now();
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(GORO_SELECT(goro_case_recv(c, &v), goro_case_deadline(goro_now() - 1)), 1);
        cr_assert_eq(GORO_SELECT(goro_case_deadline(0), goro_case_recv(c, &v)), 0);
        cr_assert_eq(GORO_SELECT(goro_case_deadline(INT64_MIN)), 0);
        cr_assert_eq(GORO_SELECT(goro_case_timeout(0)), 0);
        cr_assert_eq(GORO_SELECT(goro_case_timeout(-GORO_SECOND)), 0);
    }
    /* 5000 selects that are ready at once take nowhere near a second each. */
    cr_assert_lt(goro_now() - t0, gt_ms(2000));
    /* An expired deadline is ready, so default never runs. */
    cr_assert_eq(GORO_SELECT(goro_case_default(), goro_case_deadline(goro_now())), 1);
    goro_chan_release(c);
    gt_quiesce();
}

/* With several timeouts, the earliest is reported. */
Test(select, earliest_timeout_wins, .timeout = GT_TIMEOUT(10))
{
    start_runtime();
    int64_t now = goro_now();
    int r = GORO_SELECT(goro_case_deadline(now + GORO_SECOND),
                        goro_case_deadline(now + 20 * GORO_MILLISECOND),
                        goro_case_timeout(10 * GORO_SECOND));
    cr_assert_eq(r, 1);
    cr_assert_geq(goro_now(), now + 20 * GORO_MILLISECOND);
    cr_assert_lt(goro_now(), now + GORO_SECOND);
    /* A huge timeout does not overflow into the past. */
    goro_chan *c = gt_mkchan(0, 1);
    cr_assert_eq(goro_chan_send(c, NULL), 0);
    r = GORO_SELECT(goro_case_timeout(INT64_MAX), goro_case_recv(c, NULL));
    cr_assert_eq(r, 1);
    r = GORO_SELECT(goro_case_timeout(INT64_MAX), goro_case_default());
    cr_assert_eq(r, 1);
    goro_chan_release(c);
    gt_quiesce();
}

/* Selects with no channel case (only timeouts and NULL channels) park on
 * the timer alone, which may fire at once on another thread; right after,
 * the same goroutine runs selects that lock channels.  The parked select's
 * bookkeeping must be finished before the goroutine can run again. */
#define TO_ROUNDS 5000

static goro_chan *to_a, *to_b;

static void timeout_only_loop(void *arg)
{
    goro_chan *done = arg;
    uint64_t rng = goro_id() * 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < TO_ROUNDS; i++) {
        int64_t ns = (int64_t)(gt_rand(&rng) % 200) * GORO_MICROSECOND;
        int r = GORO_SELECT(goro_case_recv(NULL, NULL), goro_case_timeout(ns),
                            goro_case_timeout(2 * ns));
        if (!gt_check(r == 1 || r == 2, "timeout-only select: %d", r))
            break;
        int v;
        r = GORO_SELECT(goro_case_recv(to_a, &v), goro_case_recv(to_b, &v),
                        goro_case_send(to_b, &i), goro_case_timeout(ns));
        if (!gt_check(r >= 0 && r <= 3, "channel select: %d", r))
            break;
    }
    goro_chan_send(done, NULL);
}

/* Keeps the other threads scheduling (each pass through the scheduler
 * fires due timers), so timers fire on another thread at once. */
static _Atomic int to_stop;

static void churn(void *arg)
{
    goro_chan *c = arg;
    while (!atomic_load_explicit(&to_stop, memory_order_relaxed)) {
        goro_chan_try_send(c, NULL);
        goro_chan_try_recv(c, NULL);
        goro_yield();
    }
}

Test(select, timeout_only_then_channels, .timeout = GT_TIMEOUT(30))
{
    goro_chan *done = gt_mkchan(0, 8), *ch = gt_mkchan(0, 1);
    to_a = gt_mkchan(sizeof(int), 4);
    to_b = gt_mkchan(sizeof(int), 0);
    for (int i = 0; i < 4; i++)
        gt_spawn(churn, ch);
    for (int i = 0; i < 8; i++)
        gt_spawn(timeout_only_loop, done);
    gt_wait_signals(done, 8);
    atomic_store(&to_stop, 1);
    /* The channels' locks are free: these would hang otherwise. */
    int v = 0;
    while (goro_chan_try_recv(to_a, NULL) == 0)
        ;
    cr_assert_eq(goro_chan_send(to_a, &v), 0);
    cr_assert_eq(goro_chan_try_send(to_b, &v), EAGAIN);
    goro_chan_release(to_a);
    goro_chan_release(to_b);
    goro_chan_release(done);
    gt_quiesce();
    goro_chan_release(ch);
}

/* A channel ready before the timeout wins; a timer left over from that
 * select must not wake a later one early. */
static void late_sender(void *arg)
{
    goro_sleep(5 * GORO_MILLISECOND);
    goro_chan_send(arg, &(int){3});
}

static void stale_timeouts(void *arg)
{
    goro_chan **cs = arg;
    for (int i = 0; i < 50; i++) {
        int v;
        int r = GORO_SELECT(goro_case_recv(cs[0], &v), goro_case_timeout(GORO_SECOND));
        gt_check(r == 0 && v == 3, "round %d: %d", i, r);
        /* The previous select's 1 s timer was disarmed: this one, with
         * nothing ready, must wait its own 2 ms. */
        int64_t t0 = goro_now();
        r = GORO_SELECT(goro_case_recv(cs[0], &v), goro_case_timeout(2 * GORO_MILLISECOND));
        gt_check(r == 1 && goro_now() - t0 >= 2 * GORO_MILLISECOND, "round %d: %d", i, r);
        goro_go(late_sender, cs[0]);
    }
    goro_chan_send(cs[1], NULL);
}

Test(select, channel_beats_timeout, .timeout = GT_TIMEOUT(20))
{
    goro_chan *cs[2] = {gt_mkchan(sizeof(int), 0), gt_mkchan(0, 0)};
    gt_spawn(late_sender, cs[0]);
    gt_spawn(stale_timeouts, cs);
    gt_wait_signals(cs[1], 1);
    int v;
    cr_assert_eq(goro_chan_recv(cs[0], &v), 0); /* the last late_sender */
    gt_quiesce();
    goro_chan_release(cs[0]);
    goro_chan_release(cs[1]);
}

/* ---- closed channels ---------------------------------------------------- */

Test(select, send_on_closed_epipe, .timeout = GT_TIMEOUT(10))
{
    for (size_t cap = 0; cap <= 1; cap++) {
        goro_chan *c = gt_mkchan(sizeof(int), cap), *u = gt_mkchan(sizeof(int), 0);
        int v = 1;
        cr_assert_eq(goro_chan_close(c), 0);
        cr_assert_eq(GORO_SELECT(goro_case_send(c, &v)), -EPIPE);
        cr_assert_eq(GORO_SELECT(goro_case_send(c, &v), goro_case_default()), -EPIPE);
        cr_assert_eq(GORO_SELECT(goro_case_recv(u, &v), goro_case_send(c, &v)), -EPIPE);
        cr_assert_eq(goro_chan_len(c), 0);
        goro_chan_release(c);
        goro_chan_release(u);
    }
    gt_quiesce();
}

static void close_later(void *arg)
{
    goro_sleep(2 * GORO_MILLISECOND);
    gt_check(goro_chan_close(arg) == 0, "close");
}

/* A select parked on a send is woken by close with -EPIPE. */
Test(select, send_closed_while_waiting, .timeout = GT_TIMEOUT(10))
{
    for (int i = 0; i < 20; i++) {
        goro_chan *c = gt_mkchan(sizeof(int), i % 2), *other = gt_mkchan(sizeof(int), 0);
        int v = 1;
        if (i % 2)
            cr_assert_eq(goro_chan_send(c, &v), 0); /* full */
        gt_spawn(close_later, c);
        int r = GORO_SELECT(goro_case_recv(other, &v), goro_case_send(c, &v),
                            goro_case_timeout(gt_ms(10000)));
        cr_assert_eq(r, -EPIPE);
        gt_quiesce();
        goro_chan_release(c);
        goro_chan_release(other);
    }
}

Test(select, recv_ok_closed, .timeout = GT_TIMEOUT(10))
{
    struct {
        uint64_t a, b;
    } e;
    bool ok = true;
    goro_chan *c = gt_mkchan(sizeof e, 2), *never = gt_mkchan(sizeof e, 0);
    e.a = 1;
    e.b = 2;
    cr_assert_eq(goro_chan_send(c, &e), 0);
    cr_assert_eq(goro_chan_close(c), 0);
    /* The buffered element first, ok true. */
    memset(&e, 0, sizeof e);
    ok = false;
    cr_assert_eq(GORO_SELECT(goro_case_recv(never, &e), goro_case_recv_ok(c, &e, &ok)), 1);
    cr_assert(ok);
    cr_assert(e.a == 1 && e.b == 2);
    /* Then closed: ok false and the element zeroed, each time. */
    for (int i = 0; i < 3; i++) {
        memset(&e, 0xa5, sizeof e);
        ok = true;
        cr_assert_eq(GORO_SELECT(goro_case_recv_ok(c, &e, &ok), goro_case_recv(never, &e)), 0);
        cr_assert(!ok);
        cr_assert(gt_all_zero(&e, sizeof e));
        memset(&e, 0xa5, sizeof e);
        cr_assert_eq(GORO_SELECT(goro_case_recv(c, &e), goro_case_default()), 0);
        cr_assert(gt_all_zero(&e, sizeof e));
    }
    /* recv_ok with NULL elem and a closed channel. */
    ok = true;
    cr_assert_eq(GORO_SELECT(goro_case_recv_ok(c, NULL, &ok)), 0);
    cr_assert(!ok);
    goro_chan_release(c);
    goro_chan_release(never);
    gt_quiesce();
}

/* A select parked on a receive: close reports ok false and a zeroed elem;
 * a value reports ok true. */
static void send_later(void *arg)
{
    goro_sleep(2 * GORO_MILLISECOND);
    uint64_t v[2] = {5, 6};
    gt_check(goro_chan_send(arg, v) == 0, "send");
}

Test(select, recv_ok_while_waiting, .timeout = GT_TIMEOUT(10))
{
    for (int i = 0; i < 20; i++) {
        goro_chan *c = gt_mkchan(2 * sizeof(uint64_t), (size_t)(i % 2)),
                  *never = gt_mkchan(2 * sizeof(uint64_t), 0);
        uint64_t v[2] = {0xdead, 0xbeef};
        bool ok = i % 4 < 2;
        bool closing = i % 4 < 2;
        gt_spawn(closing ? close_later : send_later, c);
        int r = GORO_SELECT(goro_case_recv(never, v), goro_case_recv_ok(c, v, &ok));
        cr_assert_eq(r, 1);
        if (closing) {
            cr_assert(!ok, "round %d: ok after close", i);
            cr_assert(v[0] == 0 && v[1] == 0, "round %d: not zeroed", i);
        } else {
            cr_assert(ok, "round %d: !ok for a value", i);
            cr_assert(v[0] == 5 && v[1] == 6);
        }
        gt_quiesce();
        goro_chan_release(c);
        goro_chan_release(never);
    }
}

/* The select's own reference keeps a channel alive: the creator releases
 * while the select is parked; another holder closes and drops the last
 * outside reference at once.  ASan reports any use after free. */
static _Atomic long rb_started, rb_ok;

static void rb_select_waiter(void *arg)
{
    goro_chan **cs = arg;
    uint64_t v[3] = {7, 7, 7};
    bool ok = true;
    atomic_fetch_add(&rb_started, 1);
    int r = GORO_SELECT(goro_case_recv_ok(cs[0], v, &ok), goro_case_timeout(gt_ms(20000)));
    if (gt_check(r == 0 && !ok, "waiter: %d, ok %d", r, ok) &&
        gt_check(v[0] == 0 && v[1] == 0 && v[2] == 0, "not zeroed"))
        atomic_fetch_add(&rb_ok, 1);
    goro_chan_send(cs[1], NULL);
}

static void rb_select_send_waiter(void *arg)
{
    goro_chan **cs = arg;
    uint64_t v[3] = {7, 7, 7};
    atomic_fetch_add(&rb_started, 1);
    int r = GORO_SELECT(goro_case_send(cs[0], v), goro_case_timeout(gt_ms(20000)));
    if (gt_check(r == -EPIPE, "waiter: %d", r))
        atomic_fetch_add(&rb_ok, 1);
    goro_chan_send(cs[1], NULL);
}

static void select_release_while_blocked(void (*waiter)(void *))
{
    enum { ROUNDS = 20, W = 4 };
    goro_chan *done = gt_mkchan(0, W);
    atomic_store(&rb_ok, 0);
    for (int r = 0; r < ROUNDS; r++) {
        goro_chan *cs[2] = {gt_mkchan(3 * sizeof(uint64_t), 0), done};
        goro_chan *other = goro_chan_retain(cs[0]);
        atomic_store(&rb_started, 0);
        for (int i = 0; i < W; i++)
            gt_spawn(waiter, cs);
        /* The waiters must be parked before the last outside reference
         * goes; they need microseconds. */
        cr_assert(gt_wait_count(&rb_started, W, gt_ms(5000)));
        goro_sleep(gt_ms(10));
        goro_chan_release(cs[0]);
        cr_assert_eq(goro_chan_close(other), 0);
        goro_chan_release(other);
        gt_wait_signals(done, W);
    }
    gt_assert_no_failures();
    cr_assert_eq(atomic_load(&rb_ok), ROUNDS * W);
    goro_chan_release(done);
    gt_quiesce();
}

Test(select, release_while_blocked_recv, .timeout = GT_TIMEOUT(20))
{
    select_release_while_blocked(rb_select_waiter);
}

Test(select, release_while_blocked_send, .timeout = GT_TIMEOUT(20))
{
    select_release_while_blocked(rb_select_send_waiter);
}

/* The last reference to a channel goes while a select waits on it and
 * nothing will ever wake that case: the select, woken by another case or
 * its timeout, is the channel's last holder and frees it (a leak or a use
 * after free shows under the asan preset). */
static void orphan_waiter(void *arg)
{
    goro_chan **cs = arg;     /* [0]: to be orphaned; [1]: wakes us, or not */
    int v = 0;
    int r = GORO_SELECT(goro_case_recv(cs[0], &v), goro_case_recv(cs[0], &v),
                        goro_case_recv(cs[1], &v), goro_case_timeout(gt_ms(300)));
    gt_check(r == 2 || r == 3, "select returned %d", r);
    atomic_fetch_add(&rb_ok, 1);
}

Test(select, orphaned_case_freed_by_the_select, .timeout = GT_TIMEOUT(20))
{
    enum { W = 4 };
    atomic_store(&rb_ok, 0);
    for (int wake = 0; wake < 2; wake++) {
        goro_chan *cs[2] = {gt_mkchan(sizeof(int), 0), gt_mkchan(sizeof(int), W)};
        atomic_store(&rb_ok, 0);
        for (int i = 0; i < W; i++)
            gt_spawn(orphan_waiter, cs);
        goro_sleep(gt_ms(50)); /* all parked */
        goro_chan_release(cs[0]); /* the last reference: only the waiters hold it */
        if (wake)
            for (int i = 0; i < W; i++)
                cr_assert_eq(goro_chan_send(cs[1], &i), 0);
        gt_join();
        cr_assert_eq(atomic_load(&rb_ok), W);
        goro_chan_release(cs[1]);
    }
    gt_assert_no_failures();
    gt_quiesce();
}

/* ---- plain threads ------------------------------------------------------ */

/* A select with a timeout from a plain thread as the process's first use
 * of goro: nothing else has started the runtime (the select must, or no
 * thread ever fires its timer). */
Test(select, plain_thread_timeout_first_use, .timeout = GT_TIMEOUT(10))
{
    int64_t t0 = goro_now();
    int r = GORO_SELECT(goro_case_recv(NULL, NULL), goro_case_timeout(20 * GORO_MILLISECOND));
    cr_assert_eq(r, 1);
    cr_assert_geq(goro_now() - t0, 20 * GORO_MILLISECOND);
    gt_quiesce();
}

Test(select, plain_thread_timeout, .timeout = GT_TIMEOUT(10))
{
    start_runtime();
    goro_chan *c = gt_mkchan(sizeof(int), 0);
    int v;
    int64_t t0 = goro_now();
    int r = GORO_SELECT(goro_case_recv(c, &v), goro_case_send(c, &v),
                        goro_case_timeout(20 * GORO_MILLISECOND));
    cr_assert_eq(r, 2);
    cr_assert_geq(goro_now() - t0, 20 * GORO_MILLISECOND);
    goro_chan_release(c);
    gt_quiesce();
}

static void pt_sender(void *arg)
{
    goro_chan **cs = arg;
    for (int i = 0; i < 10000; i++)
        if (!gt_check(goro_chan_send(cs[i % 2], &i) == 0, "send %d", i))
            break;
}

/* The test's thread selects over two channels fed by a goroutine, with a
 * timeout it never hits, then times out once the goroutine is done. */
Test(select, plain_thread_woken, .timeout = GT_TIMEOUT(20))
{
    goro_chan *cs[2] = {gt_mkchan(sizeof(int), 0), gt_mkchan(sizeof(int), 0)};
    gt_spawn(pt_sender, cs);
    for (int i = 0; i < 10000; i++) {
        int v = -1;
        int r = GORO_SELECT(goro_case_recv(cs[0], &v), goro_case_recv(cs[1], &v),
                            goro_case_timeout(gt_ms(10000)));
        cr_assert_eq(r, i % 2);
        cr_assert_eq(v, i);
    }
    int r = GORO_SELECT(goro_case_recv(cs[0], NULL), goro_case_recv(cs[1], NULL),
                        goro_case_timeout(5 * GORO_MILLISECOND));
    cr_assert_eq(r, 2);
    goro_chan_release(cs[0]);
    goro_chan_release(cs[1]);
    gt_quiesce();
}

/* Several plain threads select-send to one channel; goroutines select-
 * receive from it. */
#define PTS_N 5000

static goro_chan *pts_chan;
static _Atomic long pts_sum, pts_count;

static void *pts_thread(void *arg)
{
    (void)arg;
    for (long i = 1; i <= PTS_N; i++) {
        int r = GORO_SELECT(goro_case_send(pts_chan, &i), goro_case_timeout(gt_ms(20000)));
        if (!gt_check(r == 0, "thread select-send: %d", r))
            break;
    }
    return NULL;
}

static void pts_receiver(void *arg)
{
    goro_chan *done = arg;
    long v;
    bool ok = true;
    while (GORO_SELECT(goro_case_recv_ok(pts_chan, &v, &ok)) == 0 && ok) {
        atomic_fetch_add(&pts_sum, v);
        atomic_fetch_add(&pts_count, 1);
    }
    goro_chan_send(done, NULL);
}

Test(select, plain_threads_select_send, .timeout = GT_TIMEOUT(30))
{
    pthread_t th[3];
    goro_chan *done = gt_mkchan(0, 2);
    pts_chan = gt_mkchan(sizeof(long), 0);
    gt_spawn(pts_receiver, done);
    gt_spawn(pts_receiver, done);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, pts_thread, NULL), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pthread_join(th[i], NULL), 0);
    cr_assert_eq(goro_chan_close(pts_chan), 0);
    gt_wait_signals(done, 2);
    gt_assert_no_failures();
    cr_assert_eq(atomic_load(&pts_count), 3 * PTS_N);
    cr_assert_eq(atomic_load(&pts_sum), 3L * PTS_N * (PTS_N + 1) / 2);
    goro_chan_release(pts_chan);
    goro_chan_release(done);
    gt_quiesce();
}

/* ---- many cases --------------------------------------------------------- */

/* More than 64 cases take the allocating path. */
static void ready_one_of_many(void *arg)
{
    goro_chan **cs = arg;
    for (int i = 0; i < 100; i++) {
        int k = (i * 37) % 100;
        goro_sleep(GORO_MICROSECOND * (i % 3));
        gt_check(goro_chan_send(cs[k], &k) == 0, "send %d", k);
    }
}

Test(select, many_cases, .timeout = GT_TIMEOUT(20))
{
    enum { N = 100 };
    goro_chan *cs[N];
    goro_case cases[N + 1];
    int v;
    for (int i = 0; i < N; i++)
        cs[i] = gt_mkchan(sizeof(int), 0); /* one ready at a time */
    for (int i = 0; i < N; i++)
        cases[i] = goro_case_recv(cs[i], &v);
    cases[N] = goro_case_timeout(gt_ms(10000));
    gt_spawn(ready_one_of_many, cs);
    for (int i = 0; i < 100; i++) {
        int k = (i * 37) % 100;
        v = -1;
        /* Re-arm the timeout each time (its deadline was absolute). */
        cases[N] = goro_case_timeout(gt_ms(10000));
        int r = goro_select(cases, N + 1);
        cr_assert_eq(r, k, "select %d returned %d, want %d", i, r, k);
        cr_assert_eq(v, k);
    }
    /* Nothing ready, with default, on the allocating path too. */
    cases[N] = goro_case_default();
    cr_assert_eq(goro_select(cases, N + 1), N);
    gt_quiesce();
    for (int i = 0; i < N; i++)
        goro_chan_release(cs[i]);
}

/* ---- zero-size elements in select --------------------------------------- */

Test(select, zero_size, .timeout = GT_TIMEOUT(10))
{
    goro_chan *sig = gt_mkchan(0, 0), *buf = gt_mkchan(0, 2);
    bool ok = false;
    cr_assert_eq(GORO_SELECT(goro_case_send(buf, NULL), goro_case_recv(sig, NULL)), 0);
    cr_assert_eq(goro_chan_len(buf), 1);
    cr_assert_eq(GORO_SELECT(goro_case_recv(sig, NULL), goro_case_recv_ok(buf, NULL, &ok)), 1);
    cr_assert(ok);
    cr_assert_eq(goro_chan_len(buf), 0);
    gt_spawn(close_later, sig);
    cr_assert_eq(GORO_SELECT(goro_case_recv_ok(sig, NULL, &ok), goro_case_recv(buf, NULL)), 0);
    cr_assert(!ok);
    gt_quiesce();
    goro_chan_release(sig);
    goro_chan_release(buf);
}

/* ---- Go's doubleselect.go: a select must run exactly one case ----------- */

#define DS_N 100000

static goro_chan *ds_c[4], *ds_mux, *ds_done;

static void ds_sender(void *arg)
{
    (void)arg;
    for (int i = 0; i < DS_N; i++) {
        int r = GORO_SELECT(goro_case_send(ds_c[0], &i), goro_case_send(ds_c[1], &i),
                            goro_case_send(ds_c[2], &i), goro_case_send(ds_c[3], &i));
        if (!gt_check(r >= 0 && r < 4, "select-send: %d", r))
            break;
    }
    for (int k = 0; k < 4; k++)
        goro_chan_close(ds_c[k]);
}

static void ds_forward(void *arg)
{
    goro_chan *in = arg;
    int v;
    while (goro_chan_recv(in, &v) == 0)
        gt_check(goro_chan_send(ds_mux, &v) == 0, "mux send");
    goro_chan_send(ds_done, NULL);
}

static void ds_closer(void *arg)
{
    (void)arg;
    for (int k = 0; k < 4; k++)
        goro_chan_recv(ds_done, NULL);
    goro_chan_close(ds_mux);
}

Test(select, doubleselect, .timeout = GT_TIMEOUT(30))
{
    unsigned char *seen = calloc(DS_N, 1);
    cr_assert_not_null(seen);
    for (int k = 0; k < 4; k++)
        ds_c[k] = gt_mkchan(sizeof(int), 0);
    ds_mux = gt_mkchan(sizeof(int), 0);
    ds_done = gt_mkchan(0, 4);
    gt_spawn(ds_sender, NULL);
    for (int k = 0; k < 4; k++)
        gt_spawn(ds_forward, ds_c[k]);
    gt_spawn(ds_closer, NULL);
    int v;
    long n = 0;
    while (goro_chan_recv(ds_mux, &v) == 0) {
        cr_assert(v >= 0 && v < DS_N);
        cr_assert_eq(seen[v], 0, "duplicate value %d", v);
        seen[v] = 1;
        n++;
    }
    cr_assert_eq(n, DS_N);
    free(seen);
    gt_quiesce();
    for (int k = 0; k < 4; k++)
        goro_chan_release(ds_c[k]);
    goro_chan_release(ds_mux);
    goro_chan_release(ds_done);
}

/* ---- stress ------------------------------------------------------------- */

/* Go's TestSelectStress: on four channels (two unbuffered, capacities 2
 * and 3), four goroutines each send N values on one channel and four
 * receive N from one; one goroutine sends N on each through a single
 * select, and one receives N from each through a single select, switching
 * a channel's case off (NULL) once its N are done. */
#define SS_N 20000

static goro_chan *st_c[4], *st_done;

static void st_sender(void *arg)
{
    int k = (int)(intptr_t)arg;
    for (int i = 0; i < SS_N; i++)
        if (!gt_check(goro_chan_send(st_c[k], &i) == 0, "send"))
            break;
    goro_chan_send(st_done, NULL);
}

static void st_receiver(void *arg)
{
    int k = (int)(intptr_t)arg, v;
    for (int i = 0; i < SS_N; i++)
        if (!gt_check(goro_chan_recv(st_c[k], &v) == 0, "recv"))
            break;
    goro_chan_send(st_done, NULL);
}

static void st_select_sender(void *arg)
{
    (void)arg;
    goro_chan *c[4];
    int n[4] = {0};
    memcpy(c, st_c, sizeof c);
    for (int i = 0; i < 4 * SS_N; i++) {
        int r = GORO_SELECT(goro_case_send(c[3], &i), goro_case_send(c[2], &i),
                            goro_case_send(c[0], &i), goro_case_send(c[1], &i));
        if (!gt_check(r >= 0 && r < 4, "select-send: %d", r))
            break;
        int k = r == 0 ? 3 : r == 1 ? 2 : r == 2 ? 0 : 1;
        if (++n[k] == SS_N)
            c[k] = NULL;
    }
    goro_chan_send(st_done, NULL);
}

static void st_select_receiver(void *arg)
{
    (void)arg;
    goro_chan *c[4];
    int n[4] = {0}, v;
    memcpy(c, st_c, sizeof c);
    for (int i = 0; i < 4 * SS_N; i++) {
        int r = GORO_SELECT(goro_case_recv(c[3], &v), goro_case_recv(c[2], &v),
                            goro_case_recv(c[0], &v), goro_case_recv(c[1], &v));
        if (!gt_check(r >= 0 && r < 4, "select-recv: %d", r))
            break;
        int k = r == 0 ? 3 : r == 1 ? 2 : r == 2 ? 0 : 1;
        if (++n[k] == SS_N)
            c[k] = NULL;
    }
    goro_chan_send(st_done, NULL);
}

Test(select, stress_select_go, .timeout = GT_TIMEOUT(60))
{
    static const size_t caps[4] = {0, 0, 2, 3};
    st_done = gt_mkchan(0, 10);
    for (int k = 0; k < 4; k++)
        st_c[k] = gt_mkchan(sizeof(int), caps[k]);
    for (int k = 0; k < 4; k++) {
        gt_spawn(st_sender, (void *)(intptr_t)k);
        gt_spawn(st_receiver, (void *)(intptr_t)k);
    }
    gt_spawn(st_select_sender, NULL);
    gt_spawn(st_select_receiver, NULL);
    gt_wait_signals(st_done, 10);
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(goro_chan_len(st_c[k]), 0);
        goro_chan_release(st_c[k]);
    }
    goro_chan_release(st_done);
    gt_quiesce();
}

/* A random mix: workers each run selects with random sends, receives,
 * NULL cases, timeouts and defaults over a shared set of channels of
 * mixed capacities.  Every value is tagged and counted: at the end the
 * channels are closed and drained, and sent == received + drained. */
#define MIX_CHANS 6
#define MIX_WORKERS 8
#define MIX_OPS 20000

static goro_chan *mix_c[MIX_CHANS], *mix_done;
static _Atomic long mix_sent_n, mix_recv_n;
static _Atomic long long mix_sent_sum, mix_recv_sum;

static void mix_worker(void *arg)
{
    uint64_t rng = 0x9e3779b97f4a7c15ULL * ((uint64_t)(uintptr_t)arg + 1);
    long sent_n = 0, recv_n = 0;
    long long sent_sum = 0, recv_sum = 0;
    for (int op = 0; op < MIX_OPS; op++) {
        goro_case cases[6];
        long out[6], in[6];
        bool ok[6];
        size_t n = 1 + gt_rand(&rng) % 5;
        for (size_t i = 0; i < n; i++) {
            uint64_t x = gt_rand(&rng);
            goro_chan *c = mix_c[x % MIX_CHANS];
            switch ((x >> 8) % 8) {
            case 0:
            case 1:
            case 2:
                out[i] = (long)((x >> 16) % 1000) + 1;
                cases[i] = goro_case_send(c, &out[i]);
                break;
            case 3:
            case 4:
            case 5:
                cases[i] = goro_case_recv_ok(c, &in[i], &ok[i]);
                break;
            case 6:
                cases[i] = goro_case_recv(NULL, &in[i]);
                break;
            default:
                cases[i] = goro_case_timeout((int64_t)((x >> 16) % 200) * GORO_MICROSECOND);
                break;
            }
        }
        /* Always a way out: a short timeout, sometimes a default. */
        if (gt_rand(&rng) % 4 == 0)
            cases[n++] = goro_case_default();
        else
            cases[n++] = goro_case_timeout(500 * GORO_MICROSECOND);
        int r = goro_select(cases, n);
        if (!gt_check(r >= 0 && (size_t)r < n, "select: %d", r))
            break;
        /* Which kind ran?  Compare with what was built. */
        goro_case *cs = &cases[r];
        if (cs->c && cs->elem == (void *)&out[r]) {
            sent_n++;
            sent_sum += out[r];
        } else if (cs->c && cs->elem == (void *)&in[r]) {
            if (gt_check(ok[r], "receive from a closed channel") &&
                gt_check(in[r] >= 1 && in[r] <= 1000, "received %ld", in[r])) {
                recv_n++;
                recv_sum += in[r];
            }
        }
    }
    atomic_fetch_add(&mix_sent_n, sent_n);
    atomic_fetch_add(&mix_sent_sum, sent_sum);
    atomic_fetch_add(&mix_recv_n, recv_n);
    atomic_fetch_add(&mix_recv_sum, recv_sum);
    goro_chan_send(mix_done, NULL);
}

Test(select, stress_select_mix, .timeout = GT_TIMEOUT(60))
{
    static const size_t caps[MIX_CHANS] = {0, 0, 1, 2, 5, 64};
    mix_done = gt_mkchan(0, MIX_WORKERS);
    for (int k = 0; k < MIX_CHANS; k++)
        mix_c[k] = gt_mkchan(sizeof(long), caps[k]);
    for (long w = 0; w < MIX_WORKERS; w++)
        gt_spawn(mix_worker, (void *)(intptr_t)w);
    gt_wait_signals(mix_done, MIX_WORKERS);
    gt_assert_no_failures();
    /* Drain what is left in the buffers. */
    long n = atomic_load(&mix_recv_n);
    long long sum = atomic_load(&mix_recv_sum);
    for (int k = 0; k < MIX_CHANS; k++) {
        long v;
        cr_assert_eq(goro_chan_close(mix_c[k]), 0);
        while (goro_chan_recv(mix_c[k], &v) == 0) {
            n++;
            sum += v;
        }
        goro_chan_release(mix_c[k]);
    }
    cr_assert_eq(n, atomic_load(&mix_sent_n), "sent %ld, received %ld",
                 atomic_load(&mix_sent_n), n);
    cr_assert_eq(sum, atomic_load(&mix_sent_sum));
    cr_assert_gt(n, MIX_WORKERS * MIX_OPS / 20, "hardly anything was exchanged: %ld", n);
    goro_chan_release(mix_done);
    gt_quiesce();
}

/* Selects parked on channels that get closed under them, while other
 * selects use the same channels: every select returns a valid outcome and
 * values are conserved. */
#define SC_ROUNDS 300

static _Atomic long sc_sent, sc_recv, sc_closed_recv, sc_epipe;

static void sc_worker(void *arg)
{
    goro_chan **cs = arg; /* cs[0..2] data, cs[3] done */
    uint64_t rng = (uint64_t)(uintptr_t)cs ^ (uint64_t)goro_id() * 0x9e3779b97f4a7c15ULL;
    for (;;) {
        long out = 1, in = 0;
        bool ok = false;
        int k = (int)(gt_rand(&rng) % 3);
        int r = GORO_SELECT(goro_case_send(cs[k], &out), goro_case_recv_ok(cs[(k + 1) % 3], &in, &ok),
                            goro_case_timeout(gt_ms(20000)));
        if (r == -EPIPE) {
            atomic_fetch_add(&sc_epipe, 1);
            break;
        }
        if (!gt_check(r == 0 || r == 1, "select: %d", r))
            break;
        if (r == 0) {
            atomic_fetch_add(&sc_sent, 1);
        } else if (ok) {
            gt_check(in == 1, "received %ld", in);
            atomic_fetch_add(&sc_recv, 1);
        } else {
            atomic_fetch_add(&sc_closed_recv, 1);
            break;
        }
    }
    goro_chan_send(cs[3], NULL);
}

Test(select, stress_select_close, .timeout = GT_TIMEOUT(60))
{
    goro_chan *done = gt_mkchan(0, 8);
    for (int round = 0; round < SC_ROUNDS; round++) {
        goro_chan *cs[4] = {gt_mkchan(sizeof(long), 0), gt_mkchan(sizeof(long), (size_t)round % 3),
                            gt_mkchan(sizeof(long), 1), done};
        atomic_store(&sc_sent, 0);
        atomic_store(&sc_recv, 0);
        for (int i = 0; i < 6; i++)
            gt_spawn(sc_worker, cs);
        for (int i = 0; i < round % 5; i++)
            goro_yield();
        for (int k = 0; k < 3; k++)
            cr_assert_eq(goro_chan_close(cs[k]), 0);
        gt_wait_signals(done, 6);
        long left = 0;
        for (int k = 0; k < 3; k++) {
            while (goro_chan_recv(cs[k], NULL) == 0)
                left++;
            goro_chan_release(cs[k]);
        }
        cr_assert_eq(atomic_load(&sc_sent), atomic_load(&sc_recv) + left, "round %d", round);
    }
    gt_assert_no_failures();
    goro_chan_release(done);
    gt_quiesce();
}
