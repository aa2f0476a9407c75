/* B2 pingpong: two goroutines bounce an int over two unbuffered channels,
 * 1,000,000 round trips.  Argument: "1" for 1 P (goro_maxprocs(1)), "all"
 * (default) for every P.  Metric: ns per round trip.
 * Go twin: bench/go/pingpong. */
#include "bench.h"

#include <stdint.h>

#define ROUNDS 1000000

static goro_chan *ping, *pong;
static double ns;
static int64_t last;

static void ponger(void *unused)
{
    (void)unused;
    int64_t v;
    while (goro_chan_recv(ping, &v) == 0) {
        v++;
        BENCH_OK(goro_chan_send(pong, &v));
    }
}

static void body(void *unused)
{
    (void)unused;
    int64_t v = 0;
    ping = bench_chan(sizeof(int64_t), 0);
    pong = bench_chan(sizeof(int64_t), 0);
    BENCH_OK(goro_go(ponger, NULL));
    int64_t t0 = goro_now();
    for (int64_t i = 0; i < ROUNDS; i++) {
        BENCH_OK(goro_chan_send(ping, &v));
        BENCH_OK(goro_chan_recv(pong, &v));
    }
    ns = (double)(goro_now() - t0) / ROUNDS;
    last = v;
    goro_chan_close(ping); /* the ponger returns */
    goro_chan_release(ping);
    goro_chan_release(pong);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "all";
    int procs = bench_procs(argc, argv, 1);
    char name[64];
    BENCH_OK(goro_main(body, NULL));
    BENCH_CHECK(last == ROUNDS, "pingpong counted %lld, want %d", (long long)last, ROUNDS);
    snprintf(name, sizeof name, "pingpong_p%s", mode);
    printf("pingpong: %d round trips, %d Ps\n", ROUNDS, procs);
    bench_report(name, "ns_per_roundtrip", ns, "ns");
    return 0;
}
