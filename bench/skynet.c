/* B1 skynet: the root spawns 10 children, recursively, down to 1,000,000
 * leaves (1,111,111 goroutines).  Leaf i sends i to its parent's channel
 * (unbuffered, as in the original Go skynet); each node sums its 10
 * children and sends the sum up; the root checks 499999500000.
 * Metric: wall ms from the first spawn to the root's sum.  All Ps.
 * Go twin: bench/go/skynet. */
#include "bench.h"

#include <stdint.h>

#define LEAVES 1000000
#define DIV 10

struct node {
    goro_chan *parent; /* int64_t, unbuffered */
    int64_t num;
    int64_t size;
};

static void skynet(void *arg)
{
    /* The args live in the parent's frame, which outlives this read: the
     * parent waits for all ten sends. */
    struct node self = *(struct node *)arg;

    if (self.size == 1) {
        BENCH_OK(goro_chan_send(self.parent, &self.num));
        return;
    }
    goro_chan *rc = bench_chan(sizeof(int64_t), 0);
    struct node kids[DIV];
    int64_t sub = self.size / DIV, sum = 0, v;
    for (int i = 0; i < DIV; i++) {
        kids[i] = (struct node){rc, self.num + i * sub, sub};
        BENCH_OK(goro_go(skynet, &kids[i]));
    }
    for (int i = 0; i < DIV; i++) {
        BENCH_OK(goro_chan_recv(rc, &v));
        sum += v;
    }
    goro_chan_release(rc);
    BENCH_OK(goro_chan_send(self.parent, &sum));
}

static double ms;
static int64_t result;

static void body(void *unused)
{
    (void)unused;
    goro_chan *c = bench_chan(sizeof(int64_t), 0);
    struct node root = {c, 0, LEAVES};
    int64_t t0 = goro_now();
    BENCH_OK(goro_go(skynet, &root));
    BENCH_OK(goro_chan_recv(c, &result));
    ms = (double)(goro_now() - t0) / 1e6;
    goro_chan_release(c);
}

int main(int argc, char **argv)
{
    int procs = bench_procs(argc, argv, 1);
    BENCH_OK(goro_main(body, NULL));
    BENCH_CHECK(result == 499999500000LL, "skynet sum %lld, want 499999500000",
                (long long)result);
    printf("skynet: sum %lld, %d Ps\n", (long long)result, procs);
    bench_report("skynet", "wall_ms", ms, "ms");
    return 0;
}
