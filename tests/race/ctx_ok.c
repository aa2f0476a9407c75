/* ctx_ok.c - no race: a goroutine writes, then cancels a context; main reads
 * after it sees the done channel closed (and, for a second value, after
 * goro_ctx_err reports the cancel). */
#include <goro.h>
#include <stdio.h>

static long data, data2;
static goro_ctx *ctx, *child;

static void canceler(void *arg)
{
    (void)arg;
    goro_yield();
    data = 42;
    data2 = 43;
    goro_ctx_cancel(ctx);
}

static void body(void *arg)
{
    (void)arg;
    ctx = goro_ctx_with_cancel(NULL);
    if (!ctx)
        return;
    child = goro_ctx_with_value(ctx, &data, &data2);
    if (!child || goro_go(canceler, NULL))
        return;
    goro_chan_recv(goro_ctx_done(child), NULL);
    long a = data;
    while (goro_ctx_err(ctx) == 0)
        goro_yield();
    long b = data2;
    printf("%ld %ld\n", a, b);
    goro_ctx_release(child);
    goro_ctx_release(ctx);
}

int main(void)
{
    return goro_main(body, NULL);
}
