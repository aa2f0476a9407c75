/* B2 pingpong on neco: two coroutines bounce an int over two unbuffered
 * channels, 1,000,000 round trips, one thread.  As bench/pingpong.c. */
#include "../peer.h"

#include <neco.h>

#define ROUNDS 1000000

static double ns;
static int64_t last;

static void ponger(int argc, void *argv[])
{
    (void)argc;
    neco_chan *in = argv[0], *out = argv[1];
    int64_t v;
    while (neco_chan_recv(in, &v) == NECO_OK) {
        v++;
        PEER_CHECK(neco_chan_send(out, &v) == NECO_OK, "neco_chan_send");
    }
}

static void body(int argc, void *argv[])
{
    (void)argc, (void)argv;
    neco_chan *ping, *pong;
    PEER_CHECK(neco_chan_make(&ping, sizeof(int64_t), 0) == NECO_OK &&
                   neco_chan_make(&pong, sizeof(int64_t), 0) == NECO_OK,
               "neco_chan_make");
    PEER_CHECK(neco_start(ponger, 2, ping, pong) == NECO_OK, "neco_start");
    int64_t v = 0, t0 = peer_now();
    for (int64_t i = 0; i < ROUNDS; i++) {
        PEER_CHECK(neco_chan_send(ping, &v) == NECO_OK, "neco_chan_send");
        PEER_CHECK(neco_chan_recv(pong, &v) == NECO_OK, "neco_chan_recv");
    }
    ns = (double)(peer_now() - t0) / ROUNDS;
    last = v;
    neco_chan_close(ping);
    neco_chan_release(ping);
    neco_chan_release(pong);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "1";
    PEER_CHECK(neco_start(body, 0) == NECO_OK, "neco_start");
    PEER_CHECK(last == ROUNDS, "pingpong counted %lld, want %d", (long long)last, ROUNDS);
    char name[64];
    snprintf(name, sizeof name, "pingpong_p%s", mode);
    printf("pingpong (neco): %d round trips, 1 thread\n", ROUNDS);
    peer_report(name, "ns_per_roundtrip", ns, "ns");
    return 0;
}
