/* B2 pingpong: two goroutines bounce an int over two unbuffered channels,
 * 1,000,000 round trips.  Argument: "1" for 1 P (goro_maxprocs(1)), "all"
 * (default) for every P.  Metric: ns per round trip.
 * GORO_BENCH_TYPED=1 runs the same loops through a typed channel
 * (GORO_CHAN_TYPE) and reports pingpong_p*_typed: the typed layer must cost
 * nothing (docs/benchmarks.md).
 * Go twin: bench/go/pingpong. */
#include "bench.h"

#include <stdint.h>

#define ROUNDS 1000000

GORO_CHAN_TYPE(i64_chan, int64_t);

static goro_chan *ping, *pong;
static double ns;
static int64_t last;
static bool typed;
static goro_waitgroup wg = GORO_WAITGROUP_INIT; /* the ponger has returned */

static void ponger(void *unused)
{
    (void)unused;
    int64_t v;
    while (goro_chan_recv(ping, &v) == 0) {
        v++;
        BENCH_OK(goro_chan_send(pong, &v));
    }
    goro_waitgroup_done(&wg);
}

/* The typed twins of ponger and of body's loop. */
static void ponger_typed(void *unused)
{
    (void)unused;
    i64_chan *in = i64_chan_from(ping), *out = i64_chan_from(pong);
    int64_t v;
    while (i64_chan_recv(in, &v) == 0)
        BENCH_OK(i64_chan_send(out, v + 1));
    goro_waitgroup_done(&wg);
}

static int64_t loop_typed(void)
{
    i64_chan *out = i64_chan_from(ping), *in = i64_chan_from(pong);
    int64_t v = 0;
    for (int64_t i = 0; i < ROUNDS; i++) {
        BENCH_OK(i64_chan_send(out, v));
        BENCH_OK(i64_chan_recv(in, &v));
    }
    return v;
}

static void body(void *unused)
{
    (void)unused;
    int64_t v = 0;
    ping = bench_chan(sizeof(int64_t), 0);
    pong = bench_chan(sizeof(int64_t), 0);
    goro_waitgroup_add(&wg, 1);
    BENCH_OK(goro_go(typed ? ponger_typed : ponger, NULL));
    int64_t t0 = goro_now();
    if (typed) {
        v = loop_typed();
    } else {
        for (int64_t i = 0; i < ROUNDS; i++) {
            BENCH_OK(goro_chan_send(ping, &v));
            BENCH_OK(goro_chan_recv(pong, &v));
        }
    }
    ns = (double)(goro_now() - t0) / ROUNDS;
    last = v;
    goro_chan_close(ping); /* the ponger returns */
    goro_waitgroup_wait(&wg); /* it borrowed ping and pong: wait before releasing */
    goro_chan_release(ping);
    goro_chan_release(pong);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "all";
    int procs = bench_procs(argc, argv, 1);
    char name[64];
    const char *t = getenv("GORO_BENCH_TYPED");
    typed = t && strcmp(t, "1") == 0;
    BENCH_OK(goro_main(body, NULL));
    BENCH_CHECK(last == ROUNDS, "pingpong counted %lld, want %d", (long long)last, ROUNDS);
    snprintf(name, sizeof name, "pingpong_p%s%s", mode, typed ? "_typed" : "");
    printf("pingpong: %d round trips, %d Ps\n", ROUNDS, procs);
    bench_report(name, "ns_per_roundtrip", ns, "ns");
    return 0;
}
