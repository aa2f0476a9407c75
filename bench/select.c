/* B5 select: 4 producers each send 1,000,000 ints on their own unbuffered
 * channel; one consumer selects over the 4 receives until it has all
 * 4,000,000.  All Ps, or argument "1": 1 P (goro_maxprocs(1)), reported
 * as select_p1.  Checks every channel's count and sum.
 * Metric: ns per message = wall / 4,000,000.
 * Go twin: bench/go/select. */
#include "bench.h"

#include <stdint.h>

#define NPROD 4
#define PER 1000000

static goro_chan *chans[NPROD];
static int64_t counts[NPROD], sums[NPROD];
static double ns;

static void producer(void *arg)
{
    goro_chan *c = arg;
    for (int64_t v = 0; v < PER; v++)
        BENCH_OK(goro_chan_send(c, &v));
}

static void body(void *unused)
{
    (void)unused;
    int64_t v;
    for (int i = 0; i < NPROD; i++)
        chans[i] = bench_chan(sizeof(int64_t), 0);
    goro_case cases[NPROD];
    for (int i = 0; i < NPROD; i++)
        cases[i] = goro_case_recv(chans[i], &v);
    int64_t t0 = goro_now();
    for (int i = 0; i < NPROD; i++)
        BENCH_OK(goro_go(producer, chans[i]));
    for (int64_t n = 0; n < (int64_t)NPROD * PER; n++) {
        int k = goro_select(cases, NPROD);
        BENCH_CHECK(k >= 0 && k < NPROD, "goro_select returned %d", k);
        counts[k]++;
        sums[k] += v;
    }
    ns = (double)(goro_now() - t0) / ((double)NPROD * PER);
    for (int i = 0; i < NPROD; i++)
        goro_chan_release(chans[i]);
}

int main(int argc, char **argv)
{
    int procs = bench_procs(argc, argv, 1);
    char name[64] = "select";
    if (argc > 1 && strcmp(argv[1], "all") != 0)
        snprintf(name, sizeof name, "select_p%s", argv[1]);
    BENCH_OK(goro_main(body, NULL));
    for (int i = 0; i < NPROD; i++) {
        BENCH_CHECK(counts[i] == PER, "channel %d: %lld messages, want %d", i,
                    (long long)counts[i], PER);
        BENCH_CHECK(sums[i] == (int64_t)PER * (PER - 1) / 2, "channel %d: sum %lld", i,
                    (long long)sums[i]);
    }
    printf("select: %d producers x %d messages, %d Ps\n", NPROD, PER, procs);
    bench_report(name, "ns_per_msg", ns, "ns");
    return 0;
}
