/* pipeline.c - a pipeline with cancellation (Go blog: "Go Concurrency
 * Patterns: Pipelines and cancellation").
 *
 *   generator --(1, 2, 3, ...)--> square --(1, 4, 9, ...)--> sink (main)
 *
 * The generator would count forever.  The sink takes the first N squares
 * (default 10; pass another N), adds them up and cancels the context.
 * Every stage selects on the context's done channel alongside each send
 * and receive, so none is left blocked: each notices, closes its output
 * (Go's defer close(out)) and returns, and main waits for all of them.
 * Go: context.WithCancel, select, sync.WaitGroup.
 */
#include <goro.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

GORO_CHAN_TYPE(long_chan, long);

struct stage {
    const char *name;
    goro_ctx *ctx;              /* borrowed: main outlives the stages */
    long_chan *in;              /* NULL for the generator */
    long_chan *out;
    goro_waitgroup *wg;
    long handled;
};

/* Sends v on out unless ctx is canceled first.  Returns: false if canceled. */
static bool send_or_done(goro_ctx *ctx, long_chan *out, long v)
{
    return GORO_SELECT(long_chan_case_send(out, &v), goro_case_recv(goro_ctx_done(ctx), NULL)) == 0;
}

static void stage_exit(struct stage *s)
{
    long_chan_close(s->out); /* downstream's loop ends */
    printf("%s: stopped after %ld values (%s)\n", s->name, s->handled,
           goro_ctx_err(s->ctx) == ECANCELED ? "context canceled" : "input closed");
    goro_waitgroup_done(s->wg);
}

static void generator(struct stage *s)
{
    for (long n = 1;; n++) {
        if (!send_or_done(s->ctx, s->out, n))
            break;
        s->handled++;
    }
    stage_exit(s);
}

static void square(struct stage *s)
{
    for (;;) {
        long v;
        bool ok;
        int r = GORO_SELECT(long_chan_case_recv_ok(s->in, &v, &ok),
                            goro_case_recv(goro_ctx_done(s->ctx), NULL));
        if (r != 0 || !ok) /* canceled, or the input is closed */
            break;
        if (!send_or_done(s->ctx, s->out, v * v))
            break;
        s->handled++;
    }
    stage_exit(s);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10, sum = 0, v;
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    goro_ctx *ctx = goro_ctx_with_cancel(NULL);
    long_chan *numbers = goro_make(long_chan, 0);
    long_chan *squares = goro_make(long_chan, 0);

    if (!ctx || !numbers || !squares || n < 1) {
        fprintf(stderr, "usage: %s [N > 0]\n", argv[0]);
        return 1;
    }
    struct stage gen = {"generator", ctx, NULL, numbers, &wg, 0};
    struct stage sq = {"square", ctx, numbers, squares, &wg, 0};
    goro_waitgroup_add(&wg, 2);
    goro_go(generator, &gen);
    goro_go(square, &sq);

    /* The sink: take n squares, then cancel everything upstream. */
    for (long i = 0; i < n && long_chan_recv(squares, &v) == 0; i++)
        sum += v;
    goro_ctx_cancel(ctx);
    goro_waitgroup_wait(&wg); /* every stage has returned */
    printf("sum of the first %ld squares: %ld\n", n, sum);

    long_chan_release(numbers);
    long_chan_release(squares);
    goro_ctx_release(ctx);
    return sum == n * (n + 1) * (2 * n + 1) / 6 ? 0 : 1;
}
