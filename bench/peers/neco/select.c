/* B5 select on neco: 4 producers each send 1,000,000 ints on their own
 * unbuffered channel; one consumer selects over the 4 receives
 * (neco_chan_selectv, then neco_chan_case) until it has all 4,000,000;
 * checks every channel's count and sum.  As bench/select.c, on one thread. */
#include "../peer.h"

#include <neco.h>

#define NPROD 4
#define PER 1000000

static int64_t counts[NPROD], sums[NPROD];
static double ns;

static void producer(int argc, void *argv[])
{
    (void)argc;
    neco_chan *c = argv[0];
    for (int64_t v = 0; v < PER; v++)
        PEER_CHECK(neco_chan_send(c, &v) == NECO_OK, "neco_chan_send");
}

static void body(int argc, void *argv[])
{
    (void)argc, (void)argv;
    neco_chan *chans[NPROD];
    for (int i = 0; i < NPROD; i++)
        PEER_CHECK(neco_chan_make(&chans[i], sizeof(int64_t), 0) == NECO_OK, "neco_chan_make");
    int64_t t0 = peer_now();
    for (int i = 0; i < NPROD; i++)
        PEER_CHECK(neco_start(producer, 1, chans[i]) == NECO_OK, "neco_start");
    for (int64_t n = 0; n < (int64_t)NPROD * PER; n++) {
        int64_t v;
        int k = neco_chan_selectv(NPROD, chans);
        PEER_CHECK(k >= 0 && k < NPROD, "neco_chan_selectv returned %d", k);
        PEER_CHECK(neco_chan_case(chans[k], &v) == NECO_OK, "neco_chan_case");
        counts[k]++;
        sums[k] += v;
    }
    ns = (double)(peer_now() - t0) / ((double)NPROD * PER);
    for (int i = 0; i < NPROD; i++)
        neco_chan_release(chans[i]);
}

int main(int argc, char **argv)
{
    char name[64] = "select";
    if (argc > 1 && strcmp(argv[1], "all") != 0)
        snprintf(name, sizeof name, "select_p%s", argv[1]); /* goro's row names */
    PEER_CHECK(neco_start(body, 0) == NECO_OK, "neco_start");
    for (int i = 0; i < NPROD; i++) {
        PEER_CHECK(counts[i] == PER, "channel %d: %lld messages, want %d", i,
                   (long long)counts[i], PER);
        PEER_CHECK(sums[i] == (int64_t)PER * (PER - 1) / 2, "channel %d: sum %lld", i,
                   (long long)sums[i]);
    }
    printf("select (neco): %d producers x %d messages, 1 thread\n", NPROD, PER);
    peer_report(name, "ns_per_msg", ns, "ns");
    return 0;
}
