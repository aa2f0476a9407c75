/* test_chan.c - channels: FIFO order, close, invalid arguments, many
 * producers and consumers, try operations racing blocking ones, plain
 * threads, zero-size elements, len/cap, reference counting, and two
 * end-to-end programs (Go's test/chan/sieve1.go and powser1.go, smaller).
 *
 * Derived from Go's runtime/chan_test.go (TestChan, TestNonblockRecvRace,
 * TestMultiConsumer) and test/chan/{fifo,nonblock,zerosize,sieve1,
 * powser1}.go.  Outcomes are asserted through values and counters; the few
 * short sleeps only make it likely that a goroutine is parked when the test
 * acts, and no assertion depends on them.
 */
#define _GNU_SOURCE
#include "common.h"

/* ---- helpers: gt_spawn, gt_mkchan, ... in common.h ------------------------ */

/* ---- Go's TestChan, for capacities 0..20 -------------------------------- */

static goro_chan *tc_chan;
static _Atomic long tc_sum;

static void tc_recv_closed(void *arg)
{
    goro_chan *done = arg;
    long v = 7;
    int e = goro_chan_recv(tc_chan, &v);
    gt_check(e == EPIPE && v == 0, "recv after close: %d, %ld", e, v);
    goro_chan_send(done, NULL);
}

static void tc_send_1000(void *arg)
{
    goro_chan *done = arg;
    for (long i = 0; i < 1000; i++)
        gt_check(goro_chan_send(tc_chan, &i) == 0, "send");
    goro_chan_send(done, NULL);
}

static void tc_recv_1000(void *arg)
{
    goro_chan *done = arg;
    long s = 0, v;
    for (int i = 0; i < 1000; i++) {
        gt_check(goro_chan_recv(tc_chan, &v) == 0, "recv");
        s += v;
    }
    atomic_fetch_add(&tc_sum, s);
    goro_chan_send(done, NULL);
}

static void tc_send_100(void *arg)
{
    (void)arg;
    for (long i = 0; i < 100; i++)
        gt_check(goro_chan_send(tc_chan, &i) == 0, "send");
}

Test(chan, go_testchan_all_caps, .timeout = GT_TIMEOUT(30))
{
    goro_chan *done = gt_mkchan(0, 16);
    for (size_t cap = 0; cap <= 20; cap++) {
        long v;

        /* Receiving from an empty channel does not succeed; nor does a
         * send to a full one. */
        tc_chan = gt_mkchan(sizeof(long), cap);
        cr_assert_eq(goro_chan_try_recv(tc_chan, &v), EAGAIN);
        for (size_t i = 0; i < cap; i++) {
            v = (long)i;
            cr_assert_eq(goro_chan_try_send(tc_chan, &v), 0);
        }
        cr_assert_eq(goro_chan_try_send(tc_chan, &v), EAGAIN);
        cr_assert_eq(goro_chan_len(tc_chan), cap);
        cr_assert_eq(goro_chan_cap(tc_chan), cap);
        goro_chan_release(tc_chan);

        /* Zero from a closed channel; close unblocks receivers. */
        tc_chan = gt_mkchan(sizeof(long), cap);
        for (int i = 0; i < 4; i++)
            gt_spawn(tc_recv_closed, done);
        gt_settle();
        cr_assert_eq(goro_chan_close(tc_chan), 0);
        gt_wait_signals(done, 4);
        v = 5;
        cr_assert_eq(goro_chan_recv(tc_chan, &v), EPIPE);
        cr_assert_eq(v, 0);
        goro_chan_release(tc_chan);

        /* 100 integers in FIFO order, not corrupted. */
        tc_chan = gt_mkchan(sizeof(long), cap);
        gt_spawn(tc_send_100, NULL);
        for (long i = 0; i < 100; i++) {
            cr_assert_eq(goro_chan_recv(tc_chan, &v), 0);
            cr_assert_eq(v, i, "cap %zu: got %ld, want %ld", cap, v, i);
        }
        goro_chan_release(tc_chan);

        /* 1000 integers from 4 goroutines to 4 goroutines: what is sent is
         * what is received. */
        tc_chan = gt_mkchan(sizeof(long), cap);
        atomic_store(&tc_sum, 0);
        for (int i = 0; i < 4; i++) {
            gt_spawn(tc_send_1000, done);
            gt_spawn(tc_recv_1000, done);
        }
        gt_wait_signals(done, 8);
        cr_assert_eq(atomic_load(&tc_sum), 4 * (999 * 1000 / 2));
        cr_assert_eq(goro_chan_len(tc_chan), 0);
        goro_chan_release(tc_chan);
    }
    goro_chan_release(done);
    gt_quiesce();
}

/* ---- FIFO --------------------------------------------------------------- */

/* Go's fifo.go, AsynchFifo: one goroutine, a buffer as big as the run. */
Test(chan, fifo_async, .timeout = GT_TIMEOUT(10))
{
    enum { N = 1000 };
    goro_chan *c = gt_mkchan(sizeof(int), N);
    for (int i = 0; i < N; i++)
        cr_assert_eq(goro_chan_send(c, &i), 0);
    cr_assert_eq(goro_chan_len(c), N);
    for (int i = 0; i < N; i++) {
        int v;
        cr_assert_eq(goro_chan_recv(c, &v), 0);
        cr_assert_eq(v, i);
    }
    goro_chan_release(c);
    gt_quiesce();
}

/* Go's fifo.go, SynchFifo: a daisy chain of goroutines takes turns
 * receiving from one unbuffered channel; each must get its own index. */
struct link {
    goro_chan *ch, *in, *out;
    int val;
};

static void chain(void *arg)
{
    struct link *l = arg;
    int v;
    gt_check(goro_chan_recv(l->in, NULL) == 0, "in");
    gt_check(goro_chan_recv(l->ch, &v) == 0 && v == l->val, "link %d got %d", l->val, v);
    gt_check(goro_chan_send(l->out, NULL) == 0, "out");
}

Test(chan, fifo_daisy_chain, .timeout = GT_TIMEOUT(10))
{
    enum { N = 1000 };
    static struct link links[N];
    goro_chan *ch = gt_mkchan(sizeof(int), 0);
    goro_chan *start = gt_mkchan(0, 0), *in = start;
    goro_chan *outs[N];

    for (int i = 0; i < N; i++) {
        outs[i] = gt_mkchan(0, 0);
        links[i] = (struct link){ch, in, outs[i], i};
        gt_spawn(chain, &links[i]);
        in = outs[i];
    }
    cr_assert_eq(goro_chan_send(start, NULL), 0);
    for (int i = 0; i < N; i++)
        cr_assert_eq(goro_chan_send(ch, &i), 0);
    cr_assert_eq(goro_chan_recv(in, NULL), 0);
    gt_quiesce();
    gt_assert_no_failures();
    for (int i = 0; i < N; i++)
        goro_chan_release(outs[i]);
    goro_chan_release(start);
    goro_chan_release(ch);
}

/* A blocked sender's element goes to the tail of a full buffer. */
static void send_three(void *arg)
{
    int v = 3;
    gt_check(goro_chan_send(arg, &v) == 0, "send 3");
}

Test(chan, fifo_blocked_sender_after_buffer, .timeout = GT_TIMEOUT(10))
{
    goro_chan *c = gt_mkchan(sizeof(int), 2);
    int v = 1;
    cr_assert_eq(goro_chan_send(c, &v), 0);
    v = 2;
    cr_assert_eq(goro_chan_send(c, &v), 0);
    gt_spawn(send_three, c);
    gt_settle();
    for (int want = 1; want <= 3; want++) {
        cr_assert_eq(goro_chan_recv(c, &v), 0);
        cr_assert_eq(v, want);
    }
    cr_assert_eq(goro_chan_try_recv(c, &v), EAGAIN);
    gt_quiesce();
    goro_chan_release(c);
}

/* Per-sender FIFO, many senders and receivers: the shared engine of the
 * FIFO and MPMC tests.  Producer p sends p * per + i for i = 0..per-1;
 * every consumer checks that, per producer, the values it gets increase,
 * and marks each value in a seen table (duplicates show as counts > 1). */
struct mpmc {
    goro_chan *c;
    goro_chan *pdone;           /* producers: one signal each */
    goro_chan *cdone;           /* consumers: one signal each */
    int nprod, ncons;
    long per;
    bool close;                 /* consumers range until EPIPE */
    long quota;                 /* !close: values per consumer */
    _Atomic unsigned char *seen;
    _Atomic long count;
    _Atomic long long sum;
};

static struct mpmc mp;

static void mp_producer(void *arg)
{
    long p = (long)(intptr_t)arg;
    for (long i = 0; i < mp.per; i++) {
        long v = p * mp.per + i;
        int e = goro_chan_send(mp.c, &v);
        if (!gt_check(e == 0, "producer %ld: send %d", p, e))
            break;
    }
    goro_chan_send(mp.pdone, NULL);
}

static void mp_consumer(void *arg)
{
    (void)arg;
    long last[64];
    long n = 0;
    long long sum = 0;
    long v;

    for (int p = 0; p < mp.nprod; p++)
        last[p] = -1;
    for (;;) {
        if (!mp.close && n == mp.quota)
            break;
        int e = goro_chan_recv(mp.c, &v);
        if (e == EPIPE && mp.close) {
            gt_check(v == 0, "EPIPE without zero elem: %ld", v);
            break;
        }
        if (!gt_check(e == 0, "recv: %d", e))
            break;
        if (!gt_check(v >= 0 && v < mp.nprod * mp.per, "value %ld out of range", v))
            break;
        long p = v / mp.per, i = v % mp.per;
        gt_check(i > last[p], "producer %ld: %ld after %ld", p, i, last[p]);
        last[p] = i;
        atomic_fetch_add_explicit(&mp.seen[v], 1, memory_order_relaxed);
        n++;
        sum += v;
    }
    atomic_fetch_add(&mp.count, n);
    atomic_fetch_add(&mp.sum, sum);
    goro_chan_send(mp.cdone, NULL);
}

static void mp_closer(void *arg)
{
    (void)arg;
    for (int i = 0; i < mp.nprod; i++)
        goro_chan_recv(mp.pdone, NULL);
    gt_check(goro_chan_close(mp.c) == 0, "close");
}

static void run_mpmc(size_t cap, int nprod, int ncons, long per, bool close)
{
    long total = nprod * per;

    cr_assert(nprod <= 64);
    cr_assert(close || total % ncons == 0);
    memset(&mp, 0, sizeof mp);
    mp.c = gt_mkchan(sizeof(long), cap);
    mp.pdone = gt_mkchan(0, (size_t)nprod);
    mp.cdone = gt_mkchan(0, 0);
    mp.nprod = nprod;
    mp.ncons = ncons;
    mp.per = per;
    mp.close = close;
    mp.quota = total / ncons;
    mp.seen = calloc((size_t)total, 1);
    cr_assert_not_null(mp.seen);

    for (int i = 0; i < ncons; i++)
        gt_spawn(mp_consumer, NULL);
    for (int p = 0; p < nprod; p++)
        gt_spawn(mp_producer, (void *)(intptr_t)p);
    if (close)
        gt_spawn(mp_closer, NULL);
    else
        gt_wait_signals(mp.pdone, nprod);
    gt_wait_signals(mp.cdone, ncons);

    gt_assert_no_failures();
    cr_assert_eq(atomic_load(&mp.count), total, "cap %zu: received %ld of %ld", cap,
                 atomic_load(&mp.count), total);
    cr_assert_eq(atomic_load(&mp.sum), (long long)total * (total - 1) / 2);
    for (long v = 0; v < total; v++)
        cr_assert_eq(atomic_load(&mp.seen[v]), 1, "value %ld received %d times", v,
                     atomic_load(&mp.seen[v]));
    cr_assert_eq(goro_chan_len(mp.c), 0);
    if (close) {
        long v = 1;
        cr_assert_eq(goro_chan_recv(mp.c, &v), EPIPE);
        cr_assert_eq(v, 0);
    } else {
        long v;
        cr_assert_eq(goro_chan_try_recv(mp.c, &v), EAGAIN);
    }
    free((void *)mp.seen);
    gt_quiesce();
    goro_chan_release(mp.c);
    goro_chan_release(mp.pdone);
    goro_chan_release(mp.cdone);
}

Test(chan, fifo_per_sender_buffered, .timeout = GT_TIMEOUT(20))
{
    run_mpmc(7, 6, 3, 20000, false);
}

Test(chan, fifo_per_sender_unbuffered, .timeout = GT_TIMEOUT(20))
{
    run_mpmc(0, 6, 3, 20000, false);
}

/* 8 producers x 8 consumers x 100,000 values each, nothing lost or
 * duplicated; each consumer takes a fixed quota, or ranges until the
 * closer (which waits for every producer) closes the channel. */
#define MP_PER 100000

Test(chan, mpmc_buffered, .timeout = GT_TIMEOUT(30))
{
    run_mpmc(64, 8, 8, MP_PER, false);
}

Test(chan, mpmc_unbuffered, .timeout = GT_TIMEOUT(30))
{
    run_mpmc(0, 8, 8, MP_PER, false);
}

Test(chan, mpmc_close_buffered, .timeout = GT_TIMEOUT(30))
{
    run_mpmc(64, 8, 8, MP_PER, true);
}

Test(chan, mpmc_close_unbuffered, .timeout = GT_TIMEOUT(30))
{
    run_mpmc(0, 8, 8, MP_PER, true);
}

/* Capacities around the edges, uneven producer/consumer counts, repeated. */
Test(chan, stress_mpmc_close, .timeout = GT_TIMEOUT(60))
{
    static const size_t caps[] = {0, 1, 2, 3, 8, 100};
    static const int shapes[][2] = {{1, 8}, {8, 1}, {3, 5}, {16, 16}};
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < sizeof caps / sizeof *caps; i++)
            for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
                run_mpmc(caps[i], shapes[s][0], shapes[s][1], 24000 / shapes[s][0], true);
}

/* ---- close -------------------------------------------------------------- */

struct big {
    uint64_t a, b, c;
};

Test(chan, close_drains_buffer_then_epipe, .timeout = GT_TIMEOUT(10))
{
    goro_chan *c = gt_mkchan(sizeof(struct big), 4);
    for (uint64_t i = 1; i <= 3; i++) {
        struct big b = {i, i * 10, i * 100};
        cr_assert_eq(goro_chan_send(c, &b), 0);
    }
    cr_assert_eq(goro_chan_close(c), 0);
    cr_assert_eq(goro_chan_len(c), 3);
    cr_assert_eq(goro_chan_cap(c), 4);
    for (uint64_t i = 1; i <= 3; i++) {
        struct big b;
        /* Alternate blocking and non-blocking receives. */
        cr_assert_eq(i % 2 ? goro_chan_recv(c, &b) : goro_chan_try_recv(c, &b), 0);
        cr_assert(b.a == i && b.b == i * 10 && b.c == i * 100, "element %lu", (unsigned long)i);
    }
    for (int k = 0; k < 3; k++) {
        struct big b;
        memset(&b, 0xab, sizeof b);
        cr_assert_eq(goro_chan_recv(c, &b), EPIPE);
        cr_assert(gt_all_zero(&b, sizeof b), "recv on closed channel did not zero the element");
        memset(&b, 0xab, sizeof b);
        cr_assert_eq(goro_chan_try_recv(c, &b), EPIPE);
        cr_assert(gt_all_zero(&b, sizeof b), "try_recv on closed channel did not zero the element");
    }
    cr_assert_eq(goro_chan_recv(c, NULL), EPIPE);
    cr_assert_eq(goro_chan_len(c), 0);
    goro_chan_release(c);
    gt_quiesce();
}

Test(chan, close_unbuffered_recv_zero, .timeout = GT_TIMEOUT(10))
{
    goro_chan *c = gt_mkchan(sizeof(struct big), 0);
    struct big b;
    cr_assert_eq(goro_chan_close(c), 0);
    memset(&b, 0xcd, sizeof b);
    cr_assert_eq(goro_chan_recv(c, &b), EPIPE);
    cr_assert(gt_all_zero(&b, sizeof b));
    memset(&b, 0xcd, sizeof b);
    cr_assert_eq(goro_chan_try_recv(c, &b), EPIPE);
    cr_assert(gt_all_zero(&b, sizeof b));
    goro_chan_release(c);
    gt_quiesce();
}

Test(chan, send_on_closed, .timeout = GT_TIMEOUT(10))
{
    for (size_t cap = 0; cap <= 2; cap++) {
        goro_chan *c = gt_mkchan(sizeof(int), cap);
        int v = 1;
        cr_assert_eq(goro_chan_close(c), 0);
        cr_assert_eq(goro_chan_send(c, &v), EPIPE);
        cr_assert_eq(goro_chan_try_send(c, &v), EPIPE);
        cr_assert_eq(goro_chan_len(c), 0, "a send on a closed channel was buffered");
        goro_chan_release(c);
    }
    gt_quiesce();
}

Test(chan, double_close, .timeout = GT_TIMEOUT(10))
{
    goro_chan *c = gt_mkchan(sizeof(int), 1);
    cr_assert_eq(goro_chan_close(c), 0);
    cr_assert_eq(goro_chan_close(c), EPIPE);
    cr_assert_eq(goro_chan_close(c), EPIPE);
    goro_chan_release(c);
    gt_quiesce();
}

/* Exactly one of many concurrent closers succeeds. */
static goro_chan *cl_chan;
static _Atomic long cl_ok, cl_epipe;

static void closer(void *arg)
{
    goro_chan *done = arg;
    int e = goro_chan_close(cl_chan);
    if (e == 0)
        atomic_fetch_add(&cl_ok, 1);
    else if (e == EPIPE)
        atomic_fetch_add(&cl_epipe, 1);
    goro_chan_send(done, NULL);
}

Test(chan, concurrent_close_one_wins, .timeout = GT_TIMEOUT(20))
{
    goro_chan *done = gt_mkchan(0, 0);
    for (int round = 0; round < 200; round++) {
        cl_chan = gt_mkchan(sizeof(int), round % 3);
        atomic_store(&cl_ok, 0);
        atomic_store(&cl_epipe, 0);
        for (int i = 0; i < 8; i++)
            gt_spawn(closer, done);
        gt_wait_signals(done, 8);
        cr_assert_eq(atomic_load(&cl_ok), 1);
        cr_assert_eq(atomic_load(&cl_epipe), 7);
        goro_chan_release(cl_chan);
    }
    goro_chan_release(done);
    gt_quiesce();
}

/* Close wakes every blocked receiver and every blocked sender. */
static goro_chan *cw_chan;
static _Atomic long cw_started, cw_epipe;

static void cw_receiver(void *arg)
{
    goro_chan *done = arg;
    struct big b;
    memset(&b, 0xee, sizeof b);
    atomic_fetch_add(&cw_started, 1);
    int e = goro_chan_recv(cw_chan, &b);
    if (gt_check(e == EPIPE, "blocked receiver: %d", e) &&
        gt_check(gt_all_zero(&b, sizeof b), "closed receive did not zero the element"))
        atomic_fetch_add(&cw_epipe, 1);
    goro_chan_send(done, NULL);
}

static void cw_sender(void *arg)
{
    goro_chan *done = arg;
    struct big b = {1, 2, 3};
    atomic_fetch_add(&cw_started, 1);
    int e = goro_chan_send(cw_chan, &b);
    if (gt_check(e == EPIPE, "blocked sender: %d", e))
        atomic_fetch_add(&cw_epipe, 1);
    goro_chan_send(done, NULL);
}

static void close_wakes(size_t cap, bool senders)
{
    enum { N = 50 };
    goro_chan *done = gt_mkchan(0, N);
    cw_chan = gt_mkchan(sizeof(struct big), cap);
    atomic_store(&cw_started, 0);
    atomic_store(&cw_epipe, 0);
    for (size_t i = 0; senders && i < cap; i++) {
        struct big b = {i + 100, 0, 0};
        cr_assert_eq(goro_chan_send(cw_chan, &b), 0);
    }
    for (int i = 0; i < N; i++)
        gt_spawn(senders ? cw_sender : cw_receiver, done);
    cr_assert(gt_wait_count(&cw_started, N, gt_ms(5000)));
    gt_settle();
    cr_assert_eq(goro_chan_len(cw_chan), senders ? cap : 0);
    cr_assert_eq(goro_chan_close(cw_chan), 0);
    gt_wait_signals(done, N);
    gt_assert_no_failures();
    cr_assert_eq(atomic_load(&cw_epipe), N);
    /* The buffer survives the close: its elements, then EPIPE. */
    for (size_t i = 0; senders && i < cap; i++) {
        struct big b;
        cr_assert_eq(goro_chan_recv(cw_chan, &b), 0);
        cr_assert_eq(b.a, i + 100);
    }
    cr_assert_eq(goro_chan_recv(cw_chan, NULL), EPIPE);
    goro_chan_release(cw_chan);
    goro_chan_release(done);
    gt_quiesce();
}

Test(chan, close_wakes_receivers_unbuffered, .timeout = GT_TIMEOUT(10))
{
    close_wakes(0, false);
}

Test(chan, close_wakes_receivers_buffered, .timeout = GT_TIMEOUT(10))
{
    close_wakes(4, false);
}

Test(chan, close_wakes_senders_unbuffered, .timeout = GT_TIMEOUT(10))
{
    close_wakes(0, true);
}

Test(chan, close_wakes_senders_buffered, .timeout = GT_TIMEOUT(10))
{
    close_wakes(3, true);
}

Test(chan, recv_null_discards, .timeout = GT_TIMEOUT(10))
{
    goro_chan *c = gt_mkchan(sizeof(int), 2);
    int v = 42;
    cr_assert_eq(goro_chan_send(c, &v), 0);
    v = 43;
    cr_assert_eq(goro_chan_send(c, &v), 0);
    cr_assert_eq(goro_chan_recv(c, NULL), 0);
    cr_assert_eq(goro_chan_len(c), 1);
    cr_assert_eq(goro_chan_try_recv(c, NULL), 0);
    cr_assert_eq(goro_chan_len(c), 0);
    cr_assert_eq(goro_chan_try_recv(c, NULL), EAGAIN);
    /* Unbuffered, from a blocked sender. */
    goro_chan *u = gt_mkchan(sizeof(int), 0);
    gt_spawn(send_three, u);
    cr_assert_eq(goro_chan_recv(u, NULL), 0);
    goro_chan_release(u);
    goro_chan_release(c);
    gt_quiesce();
}

/* ---- invalid arguments -------------------------------------------------- */

Test(chan, null_channel, .timeout = GT_TIMEOUT(10))
{
    int v = 1;
    cr_assert_eq(goro_chan_send(NULL, &v), EINVAL);
    cr_assert_eq(goro_chan_recv(NULL, &v), EINVAL);
    cr_assert_eq(goro_chan_try_send(NULL, &v), EINVAL);
    cr_assert_eq(goro_chan_try_recv(NULL, &v), EINVAL);
    cr_assert_eq(goro_chan_send(NULL, NULL), EINVAL);
    cr_assert_eq(goro_chan_recv(NULL, NULL), EINVAL);
    cr_assert_eq(goro_chan_close(NULL), EINVAL);
    cr_assert_eq(goro_chan_len(NULL), 0);
    cr_assert_eq(goro_chan_cap(NULL), 0);
    cr_assert_null(goro_chan_retain(NULL));
    goro_chan_release(NULL);
    gt_quiesce();
}

Test(chan, send_null_elem, .timeout = GT_TIMEOUT(10))
{
    goro_chan *c = gt_mkchan(sizeof(int), 1);
    cr_assert_eq(goro_chan_send(c, NULL), EINVAL);
    cr_assert_eq(goro_chan_try_send(c, NULL), EINVAL);
    cr_assert_eq(goro_chan_len(c), 0);
    goro_chan_release(c);
    c = gt_mkchan(sizeof(int), 0);
    cr_assert_eq(goro_chan_send(c, NULL), EINVAL);
    cr_assert_eq(goro_chan_try_send(c, NULL), EINVAL);
    goro_chan_release(c);
    gt_quiesce();
}

Test(chan, make_overflow, .timeout = GT_TIMEOUT(10))
{
    static const size_t bad[][2] = {
        {SIZE_MAX, 1},
        {SIZE_MAX / 2 + 1, 2},
        {2, SIZE_MAX / 2 + 1},
        {1, SIZE_MAX},
        {(size_t)1 << 32, (size_t)1 << 32},
        {8, SIZE_MAX / 8},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        gt_set_errno(0);
        goro_chan *c = goro_chan_make(bad[i][0], bad[i][1]);
        int e = gt_errno();
        cr_assert_null(c, "make(%zu, %zu) succeeded", bad[i][0], bad[i][1]);
        cr_assert_eq(e, EINVAL, "make(%zu, %zu): errno %d", bad[i][0], bad[i][1], e);
    }
    /* A signal channel's buffer takes no memory, whatever its capacity. */
    goro_chan *c = goro_chan_make(0, SIZE_MAX);
    cr_assert_not_null(c);
    cr_assert_eq(goro_chan_cap(c), SIZE_MAX);
    cr_assert_eq(goro_chan_send(c, NULL), 0);
    cr_assert_eq(goro_chan_len(c), 1);
    goro_chan_release(c);
    gt_quiesce();
}

/* ---- try operations ----------------------------------------------------- */

Test(chan, try_ops_basic, .timeout = GT_TIMEOUT(10))
{
    goro_chan *u = gt_mkchan(sizeof(int), 0);
    int v = 9;
    /* Unbuffered with nobody on the other side: never ready. */
    cr_assert_eq(goro_chan_try_send(u, &v), EAGAIN);
    cr_assert_eq(goro_chan_try_recv(u, &v), EAGAIN);
    cr_assert_eq(v, 9, "a failed try_recv wrote the element");
    /* A parked sender makes try_recv succeed. */
    gt_spawn(send_three, u);
    int e;
    int64_t deadline = goro_now() + gt_ms(5000);
    while ((e = goro_chan_try_recv(u, &v)) == EAGAIN && goro_now() < deadline)
        goro_yield();
    cr_assert_eq(e, 0);
    cr_assert_eq(v, 3);
    goro_chan_release(u);
    gt_quiesce();
}

/* Goroutines doing try_send/try_recv in loops against others doing
 * blocking operations on the same channel: every value sent is received
 * once. */
#define TR_SENDERS 4 /* 2 blocking, 2 trying */
#define TR_RECEIVERS 4
#define TR_PER 20000

static goro_chan *tr_chan, *tr_pdone, *tr_cdone;
static _Atomic unsigned char tr_seen[TR_SENDERS * TR_PER];
static _Atomic long tr_count, tr_eagain;

static void tr_sender(void *arg)
{
    long id = (long)(intptr_t)arg;
    bool trying = id % 2;
    long eagain = 0;
    for (long i = 0; i < TR_PER; i++) {
        long v = id * TR_PER + i;
        int e;
        if (trying) {
            while ((e = goro_chan_try_send(tr_chan, &v)) == EAGAIN) {
                eagain++;
                goro_yield();
            }
        } else {
            e = goro_chan_send(tr_chan, &v);
        }
        if (!gt_check(e == 0, "sender %ld: %d", id, e))
            break;
    }
    atomic_fetch_add(&tr_eagain, eagain);
    goro_chan_send(tr_pdone, NULL);
}

static void tr_receiver(void *arg)
{
    long id = (long)(intptr_t)arg;
    bool trying = id % 2;
    long n = 0, v;
    for (;;) {
        int e = trying ? goro_chan_try_recv(tr_chan, &v) : goro_chan_recv(tr_chan, &v);
        if (e == EAGAIN) {
            goro_yield();
            continue;
        }
        if (e == EPIPE)
            break;
        if (!gt_check(e == 0 && v >= 0 && v < TR_SENDERS * TR_PER, "recv %d, %ld", e, v))
            break;
        atomic_fetch_add_explicit(&tr_seen[v], 1, memory_order_relaxed);
        n++;
    }
    atomic_fetch_add(&tr_count, n);
    goro_chan_send(tr_cdone, NULL);
}

static void try_race(size_t cap)
{
    tr_chan = gt_mkchan(sizeof(long), cap);
    tr_pdone = gt_mkchan(0, TR_SENDERS);
    tr_cdone = gt_mkchan(0, TR_RECEIVERS);
    for (int i = 0; i < TR_RECEIVERS; i++)
        gt_spawn(tr_receiver, (void *)(intptr_t)i);
    for (int i = 0; i < TR_SENDERS; i++)
        gt_spawn(tr_sender, (void *)(intptr_t)i);
    gt_wait_signals(tr_pdone, TR_SENDERS);
    cr_assert_eq(goro_chan_close(tr_chan), 0);
    gt_wait_signals(tr_cdone, TR_RECEIVERS);
    gt_assert_no_failures();
    cr_assert_eq(atomic_load(&tr_count), TR_SENDERS * TR_PER);
    for (long v = 0; v < TR_SENDERS * TR_PER; v++)
        cr_assert_eq(atomic_load(&tr_seen[v]), 1, "value %ld seen %d times", v,
                     atomic_load(&tr_seen[v]));
    goro_chan_release(tr_chan);
    goro_chan_release(tr_pdone);
    goro_chan_release(tr_cdone);
    gt_quiesce();
}

Test(chan, try_ops_race_buffered, .timeout = GT_TIMEOUT(30))
{
    try_race(4);
}

Test(chan, try_ops_race_unbuffered, .timeout = GT_TIMEOUT(30))
{
    try_race(0);
}

/* Go's TestNonblockRecvRace: a try_recv racing with close on a channel
 * that holds an element must not report EAGAIN (the element, or EPIPE once
 * another receiver took it, are the only answers). */
static void nb_try(void *arg)
{
    goro_chan **cs = arg;
    int e = goro_chan_try_recv(cs[0], NULL);
    gt_check(e == 0 || e == EPIPE, "try_recv on a ready channel: %d", e);
    goro_chan_send(cs[1], NULL);
}

Test(chan, nonblock_recv_race, .timeout = GT_TIMEOUT(30))
{
    goro_chan *cs[2];
    cs[1] = gt_mkchan(0, 0);
    for (int i = 0; i < 2000; i++) {
        int v = 1;
        cs[0] = gt_mkchan(sizeof(int), 1);
        cr_assert_eq(goro_chan_send(cs[0], &v), 0);
        gt_spawn(nb_try, cs);
        cr_assert_eq(goro_chan_close(cs[0]), 0);
        int e = goro_chan_recv(cs[0], NULL);
        cr_assert(e == 0 || e == EPIPE);
        gt_wait_signals(cs[1], 1);
        goro_chan_release(cs[0]);
    }
    goro_chan_release(cs[1]);
    gt_quiesce();
}

/* ---- plain threads ------------------------------------------------------ */

static void pingpong(void *arg)
{
    goro_chan **cs = arg;
    long v;
    while (goro_chan_recv(cs[0], &v) == 0)
        if (!gt_check(goro_chan_send(cs[1], &(long){v + 1}) == 0, "pong"))
            break;
    goro_chan_close(cs[1]);
}

Test(chan, plain_thread_pingpong, .timeout = GT_TIMEOUT(20))
{
    goro_chan *cs[2] = {gt_mkchan(sizeof(long), 0), gt_mkchan(sizeof(long), 0)};
    gt_spawn(pingpong, cs);
    for (long i = 0; i < 10000; i++) {
        long v;
        cr_assert_eq(goro_chan_send(cs[0], &i), 0);
        cr_assert_eq(goro_chan_recv(cs[1], &v), 0);
        cr_assert_eq(v, i + 1);
    }
    cr_assert_eq(goro_chan_close(cs[0]), 0);
    cr_assert_eq(goro_chan_recv(cs[1], NULL), EPIPE);
    goro_chan_release(cs[0]);
    goro_chan_release(cs[1]);
    gt_quiesce();
}

/* Two pthreads and two goroutines send to one channel; two goroutines and
 * the test's own thread receive.  Per-sender FIFO and conservation. */
#define PT_SENDERS 4
#define PT_PER 20000

static goro_chan *pt_chan, *pt_pdone, *pt_cdone;
static _Atomic unsigned char pt_seen[PT_SENDERS * PT_PER];
static _Atomic long pt_count;

static void pt_send(long id)
{
    for (long i = 0; i < PT_PER; i++) {
        long v = id * PT_PER + i;
        if (!gt_check(goro_chan_send(pt_chan, &v) == 0, "sender %ld", id))
            break;
    }
    goro_chan_send(pt_pdone, NULL);
}

static void *pt_thread(void *arg)
{
    pt_send((long)(intptr_t)arg);
    return NULL;
}

static void pt_goroutine(void *arg)
{
    pt_send((long)(intptr_t)arg);
}

static long pt_receive(void)
{
    long last[PT_SENDERS], n = 0, v;
    for (int i = 0; i < PT_SENDERS; i++)
        last[i] = -1;
    while (goro_chan_recv(pt_chan, &v) == 0) {
        long s = v / PT_PER, i = v % PT_PER;
        if (!gt_check(s >= 0 && s < PT_SENDERS, "value %ld", v))
            break;
        gt_check(i > last[s], "sender %ld: %ld after %ld", s, i, last[s]);
        last[s] = i;
        atomic_fetch_add_explicit(&pt_seen[v], 1, memory_order_relaxed);
        n++;
    }
    atomic_fetch_add(&pt_count, n);
    return n;
}

static void pt_receiver(void *arg)
{
    (void)arg;
    pt_receive();
    goro_chan_send(pt_cdone, NULL);
}

static void pt_closer(void *arg)
{
    (void)arg;
    for (int i = 0; i < PT_SENDERS; i++)
        goro_chan_recv(pt_pdone, NULL);
    gt_check(goro_chan_close(pt_chan) == 0, "close");
}

static void plain_thread_mixed(size_t cap)
{
    pthread_t th[2];
    pt_chan = gt_mkchan(sizeof(long), cap);
    pt_pdone = gt_mkchan(0, PT_SENDERS);
    pt_cdone = gt_mkchan(0, 2);
    atomic_store(&pt_count, 0);
    memset((void *)pt_seen, 0, sizeof pt_seen);
    gt_spawn(pt_receiver, NULL);
    gt_spawn(pt_receiver, NULL);
    gt_spawn(pt_closer, NULL);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, pt_thread, (void *)(intptr_t)i), 0);
    gt_spawn(pt_goroutine, (void *)(intptr_t)2);
    gt_spawn(pt_goroutine, (void *)(intptr_t)3);
    pt_receive(); /* the test's thread is the third receiver */
    gt_wait_signals(pt_cdone, 2);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_join(th[i], NULL), 0);
    gt_assert_no_failures();
    cr_assert_eq(atomic_load(&pt_count), PT_SENDERS * PT_PER);
    for (long v = 0; v < PT_SENDERS * PT_PER; v++)
        cr_assert_eq(atomic_load(&pt_seen[v]), 1, "value %ld", v);
    goro_chan_release(pt_chan);
    goro_chan_release(pt_pdone);
    goro_chan_release(pt_cdone);
    gt_quiesce();
}

Test(chan, plain_threads_mixed_unbuffered, .timeout = GT_TIMEOUT(30))
{
    plain_thread_mixed(0);
}

Test(chan, plain_threads_mixed_buffered, .timeout = GT_TIMEOUT(30))
{
    plain_thread_mixed(16);
}

/* ---- zero-size elements ------------------------------------------------- */

Test(chan, zero_size_buffered, .timeout = GT_TIMEOUT(10))
{
    goro_chan *c = gt_mkchan(0, 3);
    cr_assert_eq(goro_chan_cap(c), 3);
    cr_assert_eq(goro_chan_len(c), 0);
    for (size_t i = 1; i <= 3; i++) {
        cr_assert_eq(goro_chan_send(c, NULL), 0);
        cr_assert_eq(goro_chan_len(c), i);
    }
    cr_assert_eq(goro_chan_try_send(c, NULL), EAGAIN);
    cr_assert_eq(goro_chan_recv(c, NULL), 0);
    cr_assert_eq(goro_chan_len(c), 2);
    /* A non-NULL elem on a zero-size channel is neither read nor written. */
    int sentinel = 0x5a5a5a5a;
    cr_assert_eq(goro_chan_send(c, &sentinel), 0);
    cr_assert_eq(goro_chan_try_recv(c, &sentinel), 0);
    cr_assert_eq(sentinel, 0x5a5a5a5a);
    cr_assert_eq(goro_chan_close(c), 0);
    cr_assert_eq(goro_chan_recv(c, NULL), 0);
    cr_assert_eq(goro_chan_recv(c, &sentinel), 0);
    cr_assert_eq(goro_chan_recv(c, &sentinel), EPIPE);
    cr_assert_eq(sentinel, 0x5a5a5a5a);
    cr_assert_eq(goro_chan_len(c), 0);
    goro_chan_release(c);
    gt_quiesce();
}

static void signal_n(void *arg)
{
    goro_chan *c = arg;
    for (int i = 0; i < 1000; i++)
        gt_check(goro_chan_send(c, NULL) == 0, "signal");
}

Test(chan, zero_size_unbuffered_signals, .timeout = GT_TIMEOUT(20))
{
    goro_chan *c = gt_mkchan(0, 0);
    cr_assert_eq(goro_chan_cap(c), 0);
    cr_assert_eq(goro_chan_try_send(c, NULL), EAGAIN);
    cr_assert_eq(goro_chan_try_recv(c, NULL), EAGAIN);
    for (int i = 0; i < 10; i++)
        gt_spawn(signal_n, c);
    for (int i = 0; i < 10 * 1000; i++) {
        cr_assert_eq(goro_chan_recv(c, NULL), 0);
        cr_assert_eq(goro_chan_len(c), 0);
    }
    cr_assert_eq(goro_chan_try_recv(c, NULL), EAGAIN);
    cr_assert_eq(goro_chan_close(c), 0);
    cr_assert_eq(goro_chan_recv(c, NULL), EPIPE);
    goro_chan_release(c);
    gt_quiesce();
}

/* Go's zerosize.go also checks zero-size elements of a nonzero count. */
Test(chan, zero_size_mpmc, .timeout = GT_TIMEOUT(20))
{
    goro_chan *c = gt_mkchan(0, 5);
    for (int i = 0; i < 10; i++)
        gt_spawn(signal_n, c);
    for (int i = 0; i < 10 * 1000; i++)
        cr_assert_eq(goro_chan_recv(c, NULL), 0);
    cr_assert_eq(goro_chan_len(c), 0);
    goro_chan_release(c);
    gt_quiesce();
}

/* ---- len and cap -------------------------------------------------------- */

static void fill_ten(void *arg)
{
    for (int i = 0; i < 10; i++)
        gt_check(goro_chan_send(arg, &i) == 0, "send");
}

static bool len_is_10(void *c)
{
    return goro_chan_len(c) == 10;
}

Test(chan, len_cap_during_use, .timeout = GT_TIMEOUT(10))
{
    goro_chan *c = gt_mkchan(sizeof(int), 10);
    cr_assert_eq(goro_chan_cap(c), 10);
    gt_spawn(fill_ten, c);
    cr_assert(gt_wait_until(len_is_10, c, gt_ms(5000)), "len %zu", goro_chan_len(c));
    int v = 0;
    cr_assert_eq(goro_chan_try_send(c, &v), EAGAIN);
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(goro_chan_len(c), (size_t)(10 - i));
        cr_assert_eq(goro_chan_recv(c, &v), 0);
        cr_assert_eq(v, i);
        cr_assert_eq(goro_chan_cap(c), 10);
    }
    cr_assert_eq(goro_chan_len(c), 0);
    /* Wrap the ring several times, checking len at each step. */
    for (int i = 0; i < 25; i++) {
        cr_assert_eq(goro_chan_send(c, &i), 0);
        if (i % 3 == 2) {
            cr_assert_eq(goro_chan_recv(c, &v), 0);
            cr_assert_eq(goro_chan_recv(c, &v), 0);
        }
        cr_assert_leq(goro_chan_len(c), 10);
    }
    size_t len = goro_chan_len(c);
    cr_assert_eq(len, 25 - 2 * 8);
    cr_assert_eq(goro_chan_close(c), 0);
    cr_assert_eq(goro_chan_len(c), len);
    gt_quiesce();
    goro_chan_release(c);

    /* Unbuffered: len 0 even with senders parked on it. */
    goro_chan *u = gt_mkchan(sizeof(int), 0);
    gt_spawn(send_three, u);
    gt_spawn(send_three, u);
    gt_settle();
    cr_assert_eq(goro_chan_len(u), 0);
    cr_assert_eq(goro_chan_cap(u), 0);
    cr_assert_eq(goro_chan_recv(u, &v), 0);
    cr_assert_eq(goro_chan_recv(u, &v), 0);
    goro_chan_release(u);
    gt_quiesce();
}

/* ---- references --------------------------------------------------------- */

static void retain_release(void *arg)
{
    goro_chan **cs = arg;
    for (int i = 0; i < 1000; i++) {
        goro_chan *r = goro_chan_retain(cs[0]);
        gt_check(r == cs[0], "retain returned another pointer");
        goro_chan_release(r);
    }
    goro_chan_release(cs[0]); /* the reference the test took for us */
    goro_chan_send(cs[1], NULL);
}

Test(chan, refcount_retain_release, .timeout = GT_TIMEOUT(10))
{
    /* Under ASan, a missing free shows as a leak and one too many as a
     * double free. */
    goro_chan *c = gt_mkchan(sizeof(int), 1);
    cr_assert_eq(goro_chan_retain(c), c);
    cr_assert_eq(goro_chan_retain(c), c);
    goro_chan_release(c);
    goro_chan_release(c);
    int v = 5;
    cr_assert_eq(goro_chan_send(c, &v), 0, "channel unusable after balanced retain/release");
    goro_chan_release(c);

    goro_chan *cs[2] = {gt_mkchan(sizeof(int), 0), gt_mkchan(0, 0)};
    for (int i = 0; i < 16; i++) {
        goro_chan_retain(cs[0]);
        gt_spawn(retain_release, cs);
    }
    gt_wait_signals(cs[1], 16);
    cr_assert_eq(goro_chan_cap(cs[0]), 0);
    cr_assert_eq(goro_chan_try_send(cs[0], &v), EAGAIN);
    goro_chan_release(cs[0]);
    goro_chan_release(cs[1]);
    goro_chan_release(NULL);
    gt_quiesce();
}

/* The creator drops its reference while a goroutine is blocked; another
 * holder closes and drops the last reference of its own at once.  The
 * waiter's own reference must keep the channel alive until it has fully
 * returned (EPIPE, element zeroed); ASan reports any use after free. */
static _Atomic long rb_started, rb_ok;

static void rb_recv_waiter(void *arg)
{
    goro_chan **cs = arg;
    struct big b;
    memset(&b, 0x77, sizeof b);
    atomic_fetch_add(&rb_started, 1);
    int e = goro_chan_recv(cs[0], &b);
    if (gt_check(e == EPIPE, "waiter: %d", e) && gt_check(gt_all_zero(&b, sizeof b), "not zeroed"))
        atomic_fetch_add(&rb_ok, 1);
    goro_chan_send(cs[1], NULL);
}

static void rb_send_waiter(void *arg)
{
    goro_chan **cs = arg;
    struct big b = {1, 2, 3};
    atomic_fetch_add(&rb_started, 1);
    int e = goro_chan_send(cs[0], &b);
    if (gt_check(e == EPIPE, "waiter: %d", e))
        atomic_fetch_add(&rb_ok, 1);
    goro_chan_send(cs[1], NULL);
}

static void release_while_blocked(void (*waiter)(void *), int rounds)
{
    goro_chan *done = gt_mkchan(0, 4);
    atomic_store(&rb_ok, 0);
    for (int r = 0; r < rounds; r++) {
        goro_chan *cs[2] = {gt_mkchan(sizeof(struct big), 0), done};
        goro_chan *other = goro_chan_retain(cs[0]); /* the other holder's */
        atomic_store(&rb_started, 0);
        for (int i = 0; i < 4; i++)
            gt_spawn(waiter, cs);
        /* The waiters must be parked (holding their own references) before
         * the last outside reference goes; they need microseconds. */
        cr_assert(gt_wait_count(&rb_started, 4, gt_ms(5000)));
        goro_sleep(gt_ms(10));
        goro_chan_release(cs[0]);    /* the creator's */
        cr_assert_eq(goro_chan_close(other), 0);
        goro_chan_release(other);    /* now only the waiters hold it */
        gt_wait_signals(done, 4);
    }
    gt_assert_no_failures();
    cr_assert_eq(atomic_load(&rb_ok), 4 * rounds);
    goro_chan_release(done);
    gt_quiesce();
}

Test(chan, release_while_blocked_recv, .timeout = GT_TIMEOUT(20))
{
    release_while_blocked(rb_recv_waiter, 20);
}

Test(chan, release_while_blocked_send, .timeout = GT_TIMEOUT(20))
{
    release_while_blocked(rb_send_waiter, 20);
}

/* A parked plain sender or receiver does not hold a reference of its own
 * while it waits: the channel counts it apart, and the peer that completes
 * the transfer uncounts it, since it will not touch the channel again.  So
 * the peer may drop the last reference at once, before the waiter has even
 * run: the channel is freed under it, which must do no harm (ASan).  The
 * waiter uses the channel without a reference: the test's holds it until
 * the waiter has parked (try_send and try_recv on an unbuffered channel
 * succeed only with a peer parked). */
static _Atomic long lr_ok;

struct lr_arg {
    goro_chan *c, *done;
    long want;
    bool send;
};

static void lr_waiter(void *arg)
{
    struct lr_arg *a = arg;
    long v = a->want;
    int e = a->send ? goro_chan_send(a->c, &v) : goro_chan_recv(a->c, &v);
    if (gt_check(e == 0, "waiter: %d", e) && gt_check(v == a->want, "got %ld", v))
        atomic_fetch_add(&lr_ok, 1);
    goro_chan_send(a->done, NULL);
}

Test(chan, last_release_right_after_a_transfer, .timeout = GT_TIMEOUT(20))
{
    enum { ROUNDS = 400 };
    goro_chan *done = gt_mkchan(0, 1);
    atomic_store(&lr_ok, 0);
    for (long r = 0; r < ROUNDS; r++) {
        struct lr_arg a = {gt_mkchan(sizeof(long), 0), done, r, r % 2 == 0};
        long v = r;
        gt_spawn(lr_waiter, &a);
        if (a.send) {
            while (goro_chan_try_recv(a.c, &v) == EAGAIN)
                goro_yield();
            cr_assert_eq(v, r);
        } else {
            while (goro_chan_try_send(a.c, &v) == EAGAIN)
                goro_yield();
        }
        goro_chan_release(a.c); /* the last reference, the waiter maybe not yet resumed */
        gt_wait_signals(done, 1);
    }
    gt_assert_no_failures();
    cr_assert_eq(atomic_load(&lr_ok), ROUNDS);
    goro_chan_release(done);
    gt_quiesce();
}

/* ---- end to end: Go's sieve1.go ----------------------------------------- */

#define SIEVE_PRIMES 1000
#define SIEVE_LIMIT 7919 /* the 1000th prime */

/* Sends 2, 3, ..., SIEVE_LIMIT, then closes. */
static void sieve_generate(void *arg)
{
    goro_chan *ch = arg;
    for (int i = 2; i <= SIEVE_LIMIT; i++)
        if (!gt_check(goro_chan_send(ch, &i) == 0, "generate %d", i))
            break;
    goro_chan_close(ch);
    goro_chan_release(ch);
}

struct filter {
    goro_chan *in, *out;
    int prime;
};

/* Copies in to out, dropping multiples of prime; closes out when in is
 * closed. */
static void sieve_filter(void *arg)
{
    struct filter *f = arg;
    int v;
    while (goro_chan_recv(f->in, &v) == 0)
        if (v % f->prime != 0 && !gt_check(goro_chan_send(f->out, &v) == 0, "filter send"))
            break;
    goro_chan_close(f->out);
    goro_chan_release(f->in);
    goro_chan_release(f->out);
}

static void run_sieve(size_t cap)
{
    static struct filter filters[SIEVE_PRIMES + 1];
    static int primes[SIEVE_PRIMES + 1];
    static bool composite[SIEVE_LIMIT + 1];
    int n = 0, p;

    goro_chan *ch = gt_mkchan(sizeof(int), cap);
    gt_spawn(sieve_generate, goro_chan_retain(ch));
    while (goro_chan_recv(ch, &p) == 0) {
        cr_assert_lt(n, SIEVE_PRIMES, "too many primes (%d)", p);
        primes[n] = p;
        goro_chan *next = gt_mkchan(sizeof(int), cap);
        filters[n] = (struct filter){ch, goro_chan_retain(next), p};
        gt_spawn(sieve_filter, &filters[n]);
        ch = next;
        n++;
    }
    goro_chan_release(ch);
    gt_quiesce();

    /* A plain sieve of Eratosthenes for reference. */
    memset(composite, 0, sizeof composite);
    int k = 0;
    for (int i = 2; i <= SIEVE_LIMIT; i++) {
        if (composite[i])
            continue;
        cr_assert_lt(k, n, "the channel sieve missed %d", i);
        cr_assert_eq(primes[k], i, "prime #%d: %d, want %d", k, primes[k], i);
        k++;
        for (int j = 2 * i; j <= SIEVE_LIMIT; j += i)
            composite[j] = true;
    }
    cr_assert_eq(k, SIEVE_PRIMES);
    cr_assert_eq(n, SIEVE_PRIMES);
}

Test(chan, sieve_unbuffered, .timeout = GT_TIMEOUT(30))
{
    run_sieve(0);
}

Test(chan, sieve_buffered, .timeout = GT_TIMEOUT(30))
{
    run_sieve(16);
}

/* ---- end to end: power series (Go's powser1.go, smaller) ----------------
 *
 * A power series is a stream of rational coefficients on an unbuffered
 * channel, produced on demand.  Every stage is a goroutine that sends with
 * a select against a quit channel, so closing quit ends them all. */

typedef struct {
    int64_t num, den; /* den > 0, reduced */
} rat;

static int64_t gcd64(int64_t a, int64_t b)
{
    if (a < 0)
        a = -a;
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a ? a : 1;
}

static _Atomic int ps_overflow;

static rat rat_make(__int128 num, __int128 den)
{
    if (den < 0) {
        num = -num;
        den = -den;
    }
    __int128 a = num < 0 ? -num : num, b = den;
    while (b) {
        __int128 t = a % b;
        a = b;
        b = t;
    }
    if (a == 0)
        a = 1;
    num /= a;
    den /= a;
    if (num > INT64_MAX || num < -INT64_MAX || den > INT64_MAX)
        atomic_store(&ps_overflow, 1);
    return (rat){(int64_t)num, (int64_t)den};
}

static rat rat_add(rat a, rat b)
{
    return rat_make((__int128)a.num * b.den + (__int128)b.num * a.den, (__int128)a.den * b.den);
}

static rat rat_mul(rat a, rat b)
{
    return rat_make((__int128)a.num * b.num, (__int128)a.den * b.den);
}

static goro_chan *ps_quit;

/* Sends r on c unless quit is closed; false when it is. */
static bool ps_put(goro_chan *c, rat r)
{
    int i = GORO_SELECT(goro_case_send(c, &r), goro_case_recv(ps_quit, NULL));
    return i == 0;
}

/* Receives from c unless quit is closed. */
static bool ps_get(goro_chan *c, rat *r)
{
    int i = GORO_SELECT(goro_case_recv(c, r), goro_case_recv(ps_quit, NULL));
    return i == 0;
}

#define PS_TERMS 16

struct ps_stage {
    goro_chan *in[2], *out[2];
};

static struct ps_stage *stage_new(void)
{
    struct ps_stage *s = calloc(1, sizeof *s);
    gt_check(s != NULL, "calloc");
    return s;
}

static void stage_free(struct ps_stage *s)
{
    for (int i = 0; i < 2; i++) {
        goro_chan_release(s->in[i]);
        goro_chan_release(s->out[i]);
    }
    free(s);
}

/* 1, 1, 1, ...: 1/(1-x). */
static void ps_ones(void *arg)
{
    struct ps_stage *s = arg;
    while (ps_put(s->out[0], (rat){1, 1}))
        ;
    stage_free(s);
}

/* c0 + the integral of in[0]: c0, in_0/1, in_1/2, ... on out[0]. */
struct ps_integ {
    struct ps_stage s;
    rat c0;
};

static void ps_integrate(void *arg)
{
    struct ps_integ *st = arg;
    struct ps_stage *s = &st->s;
    rat r;
    if (ps_put(s->out[0], st->c0))
        for (int64_t n = 1; ps_get(s->in[0], &r); n++)
            if (!ps_put(s->out[0], rat_mul(r, (rat){1, n})))
                break;
    for (int i = 0; i < 2; i++) {
        goro_chan_release(s->in[i]);
        goro_chan_release(s->out[i]);
    }
    free(st);
}

/* Copies in to out[0] and out[1] (Go's powser Split, without demand
 * tracking: out[0] is served first, so a consumer feeding back into the
 * producer must be on out[1]). */
static void ps_split(void *arg)
{
    struct ps_stage *s = arg;
    rat r;
    while (ps_get(s->in[0], &r) && ps_put(s->out[0], r) && ps_put(s->out[1], r))
        ;
    stage_free(s);
}

/* Product of in[0] and in[1]: w_n = sum u_i v_(n-i). */
static void ps_mul(void *arg)
{
    struct ps_stage *s = arg;
    rat u[PS_TERMS + 1], v[PS_TERMS + 1];
    for (int n = 0; n <= PS_TERMS; n++) {
        if (!ps_get(s->in[0], &u[n]) || !ps_get(s->in[1], &v[n]))
            break;
        rat w = {0, 1};
        for (int i = 0; i <= n; i++)
            w = rat_add(w, rat_mul(u[i], v[n - i]));
        if (!ps_put(s->out[0], w))
            break;
    }
    /* Past PS_TERMS terms, wait for quit. */
    goro_chan_recv(ps_quit, NULL);
    stage_free(s);
}

static goro_chan *ps_chan(void)
{
    return gt_mkchan(sizeof(rat), 0);
}

/* Starts fn on a stage with the given channels (each retained for it). */
static void ps_start(void (*fn)(void *), struct ps_stage *s, goro_chan *in0, goro_chan *in1,
                     goro_chan *out0, goro_chan *out1)
{
    s->in[0] = goro_chan_retain(in0);
    s->in[1] = goro_chan_retain(in1);
    s->out[0] = goro_chan_retain(out0);
    s->out[1] = goro_chan_retain(out1);
    gt_spawn(fn, s);
}

/* exp(x) = 1 + integral of exp(x): integrate -> split -> (out, back). */
static goro_chan *ps_exp(void)
{
    goro_chan *fwd = ps_chan(), *back = ps_chan(), *out = ps_chan();
    struct ps_integ *in = calloc(1, sizeof *in);
    cr_assert_not_null(in);
    in->c0 = (rat){1, 1};
    ps_start(ps_integrate, &in->s, back, NULL, fwd, NULL);
    ps_start(ps_split, stage_new(), fwd, NULL, out, back);
    goro_chan_release(fwd);
    goro_chan_release(back);
    return out;
}

static void expect_series(goro_chan *c, const char *name, rat (*want)(int))
{
    for (int n = 0; n < PS_TERMS; n++) {
        rat r, w = want(n);
        cr_assert_eq(goro_chan_recv(c, &r), 0, "%s: term %d", name, n);
        cr_assert(r.num == w.num && r.den == w.den, "%s: term %d is %lld/%lld, want %lld/%lld",
                  name, n, (long long)r.num, (long long)r.den, (long long)w.num,
                  (long long)w.den);
    }
}

static int64_t fact(int n)
{
    int64_t f = 1;
    for (int i = 2; i <= n; i++)
        f *= i;
    return f;
}

static rat want_n_plus_1(int n)
{
    return (rat){n + 1, 1};
}

static rat want_log(int n) /* -log(1-x) + 1: 1, 1, 1/2, 1/3, ... */
{
    return n == 0 ? (rat){1, 1} : (rat){1, n};
}

static rat want_exp(int n)
{
    return (rat){1, fact(n)};
}

static rat want_exp2(int n)
{
    int64_t d = fact(n), num = (int64_t)1 << n, g = gcd64(num, d);
    return (rat){num / g, d / g};
}

static rat want_exp_over_1mx(int n) /* e^x/(1-x): sum_{i<=n} 1/i! */
{
    rat r = {0, 1};
    for (int i = 0; i <= n; i++)
        r = rat_add(r, (rat){1, fact(i)});
    return r;
}

Test(chan, powser, .timeout = GT_TIMEOUT(30))
{
    ps_quit = gt_mkchan(0, 0);

    /* ones * ones = 1/(1-x)^2: n+1. */
    goro_chan *a = ps_chan(), *b = ps_chan(), *prod = ps_chan();
    ps_start(ps_ones, stage_new(), NULL, NULL, a, NULL);
    ps_start(ps_ones, stage_new(), NULL, NULL, b, NULL);
    ps_start(ps_mul, stage_new(), a, b, prod, NULL);
    expect_series(prod, "ones*ones", want_n_plus_1);

    /* 1 + integral of ones. */
    goro_chan *o = ps_chan(), *lg = ps_chan();
    struct ps_integ *in = calloc(1, sizeof *in);
    cr_assert_not_null(in);
    in->c0 = (rat){1, 1};
    ps_start(ps_ones, stage_new(), NULL, NULL, o, NULL);
    ps_start(ps_integrate, &in->s, o, NULL, lg, NULL);
    expect_series(lg, "1+integral(ones)", want_log);

    /* exp through a feedback loop, and exp * exp = exp(2x). */
    goro_chan *e = ps_exp();
    expect_series(e, "exp", want_exp);
    goro_chan *e1 = ps_exp(), *e2 = ps_exp(), *e1e2 = ps_chan();
    ps_start(ps_mul, stage_new(), e1, e2, e1e2, NULL);
    expect_series(e1e2, "exp*exp", want_exp2);

    /* exp * ones. */
    goro_chan *e3 = ps_exp(), *o3 = ps_chan(), *eo = ps_chan();
    ps_start(ps_ones, stage_new(), NULL, NULL, o3, NULL);
    ps_start(ps_mul, stage_new(), e3, o3, eo, NULL);
    expect_series(eo, "exp*ones", want_exp_over_1mx);

    cr_assert_eq(atomic_load(&ps_overflow), 0, "rational overflow");
    cr_assert_eq(goro_chan_close(ps_quit), 0);
    gt_quiesce();
    goro_chan *all[] = {a, b, prod, o, lg, e, e1, e2, e1e2, e3, o3, eo, ps_quit};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        goro_chan_release(all[i]);
}
