/* fanin.c - fan-in with select and a timeout (Go: "Go Concurrency
 * Patterns", Rob Pike's fan-in and "timeout for the whole conversation").
 *
 * Three producers each send 5 values on their own channel, at different
 * rates, and then go quiet (a slow producer, or a stalled server).  Main
 * selects over all three channels and a timeout: it prints every value as
 * it arrives, and when nothing has come for 250 ms it prints "timeout",
 * cancels the producers and waits for them.
 * Go: select with time.After, context.WithCancel, sync.WaitGroup.
 */
#include <goro.h>
#include <stdio.h>

#define PRODUCERS 3
#define VALUES 5
#define QUIET (250 * GORO_MILLISECOND)

GORO_CHAN_TYPE(int_chan, int);

struct producer {
    int id;
    int64_t every;              /* time between values */
    int_chan *out;
    goro_ctx *ctx;              /* borrowed: main outlives the producers */
    goro_waitgroup *wg;
};

static void producer(struct producer *p)
{
    goro_chan *done = goro_ctx_done(p->ctx);

    for (int i = 1; i <= VALUES; i++) {
        int v = p->id * 100 + i;
        /* Sleep, then send, unless canceled meanwhile. */
        if (GORO_SELECT(goro_case_recv(done, NULL), goro_case_timeout(p->every)) == 0)
            goto out;
        if (GORO_SELECT(goro_case_recv(done, NULL), int_chan_case_send(p->out, &v)) == 0)
            goto out;
    }
    /* Now slow: nothing more for a long time, or until canceled. */
    GORO_SELECT(goro_case_recv(done, NULL), goro_case_timeout(60 * GORO_SECOND));
out:
    goro_waitgroup_done(p->wg);
}

int main(void)
{
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    goro_ctx *ctx = goro_ctx_with_cancel(NULL);
    struct producer ps[PRODUCERS];
    int received = 0;

    if (!ctx) {
        perror("goro_ctx_with_cancel");
        return 1;
    }
    for (int i = 0; i < PRODUCERS; i++) {
        ps[i] = (struct producer){.id = i + 1,
                                  .every = (i + 1) * 10 * GORO_MILLISECOND,
                                  .out = goro_make(int_chan, 0),
                                  .ctx = ctx,
                                  .wg = &wg};
        if (!ps[i].out) {
            perror("goro_make");
            return 1;
        }
        goro_waitgroup_add(&wg, 1);
        goro_go(producer, &ps[i]);
    }

    for (;;) {
        int v;
        int r = GORO_SELECT(int_chan_case_recv(ps[0].out, &v), int_chan_case_recv(ps[1].out, &v),
                            int_chan_case_recv(ps[2].out, &v), goro_case_timeout(QUIET));
        if (r == PRODUCERS) {
            printf("timeout: nothing for %lld ms\n", (long long)(QUIET / GORO_MILLISECOND));
            break;
        }
        printf("received %d from producer %d\n", v, r + 1);
        received++;
    }
    goro_ctx_cancel(ctx); /* stop the producers */
    goro_waitgroup_wait(&wg);
    printf("received %d values from %d producers\n", received, PRODUCERS);

    for (int i = 0; i < PRODUCERS; i++)
        int_chan_release(ps[i].out);
    goro_ctx_release(ctx);
    return received == PRODUCERS * VALUES ? 0 : 1;
}
