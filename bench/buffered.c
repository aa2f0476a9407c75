/* B3 buffered: producers -> consumers over one channel of cap 1024,
 * 10,000,000 ints in all.  Argument: "1" for 1 -> 1 (default), "4" for
 * 4 -> 4 (each producer sends 2,500,000).  All Ps.  Consumers receive until
 * the channel is closed and drained; every value 0..N-1 is sent once and the
 * sum received is checked.  Metric: ns per message (wall / 10,000,000).
 * GORO_BENCH_TYPED=1 sends and receives through a typed channel
 * (GORO_CHAN_TYPE) and reports buffered_*_typed.
 * Go twin: bench/go/buffered. */
#include "bench.h"

#include <stdint.h>

#define TOTAL 10000000
#define CAP 1024

GORO_CHAN_TYPE(i64_chan, int64_t);

static goro_chan *data, *done, *sums;
static int nworkers;
static bool typed;
static double ns;
static int64_t total, count;

struct sum {
    int64_t sum, count;
};

static void producer(void *arg)
{
    int64_t id = (int64_t)(intptr_t)arg, per = TOTAL / nworkers;
    for (int64_t v = id * per, end = v + per; v < end; v++)
        BENCH_OK(goro_chan_send(data, &v));
    BENCH_OK(goro_chan_send(done, NULL));
}

static void producer_typed(void *arg)
{
    int64_t id = (int64_t)(intptr_t)arg, per = TOTAL / nworkers;
    i64_chan *out = i64_chan_from(data);
    for (int64_t v = id * per, end = v + per; v < end; v++)
        BENCH_OK(i64_chan_send(out, v));
    BENCH_OK(goro_chan_send(done, NULL));
}

static void consumer_typed(void *unused)
{
    (void)unused;
    struct sum s = {0, 0};
    i64_chan *in = i64_chan_from(data);
    int64_t v;
    while (i64_chan_recv(in, &v) == 0) {
        s.sum += v;
        s.count++;
    }
    BENCH_OK(goro_chan_send(sums, &s));
}

static void consumer(void *unused)
{
    (void)unused;
    struct sum s = {0, 0};
    int64_t v;
    while (goro_chan_recv(data, &v) == 0) {
        s.sum += v;
        s.count++;
    }
    BENCH_OK(goro_chan_send(sums, &s));
}

static void body(void *unused)
{
    (void)unused;
    struct sum s;
    data = bench_chan(sizeof(int64_t), CAP);
    done = bench_chan(0, 0);
    sums = bench_chan(sizeof(struct sum), 0);
    int64_t t0 = goro_now();
    for (int i = 0; i < nworkers; i++)
        BENCH_OK(goro_go(typed ? consumer_typed : consumer, NULL));
    for (int i = 0; i < nworkers; i++)
        BENCH_OK(goro_go(typed ? producer_typed : producer, (void *)(intptr_t)i));
    for (int i = 0; i < nworkers; i++)
        BENCH_OK(goro_chan_recv(done, NULL));
    BENCH_OK(goro_chan_close(data));
    for (int i = 0; i < nworkers; i++) {
        BENCH_OK(goro_chan_recv(sums, &s));
        total += s.sum;
        count += s.count;
    }
    ns = (double)(goro_now() - t0) / TOTAL;
    goro_chan_release(data);
    goro_chan_release(done);
    goro_chan_release(sums);
}

int main(int argc, char **argv)
{
    nworkers = argc > 1 ? atoi(argv[1]) : 1;
    BENCH_CHECK(nworkers == 1 || nworkers == 4, "argument: 1 or 4 (producers = consumers)");
    int procs = goro_maxprocs(0);
    char name[64];
    const char *t = getenv("GORO_BENCH_TYPED");
    typed = t && strcmp(t, "1") == 0;
    BENCH_OK(goro_main(body, NULL));
    BENCH_CHECK(count == TOTAL, "received %lld messages, want %d", (long long)count, TOTAL);
    BENCH_CHECK(total == (int64_t)TOTAL * (TOTAL - 1) / 2, "sum %lld, want %lld",
                (long long)total, (long long)TOTAL * (TOTAL - 1) / 2);
    snprintf(name, sizeof name, "buffered_%dto%d%s", nworkers, nworkers, typed ? "_typed" : "");
    printf("buffered: %d -> %d, %d messages, cap %d, %d Ps\n", nworkers, nworkers, TOTAL, CAP,
           procs);
    bench_report(name, "ns_per_msg", ns, "ns");
    return 0;
}
