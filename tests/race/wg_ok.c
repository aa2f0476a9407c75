/* wg_ok.c - no race: each goroutine writes its own slot, then calls done;
 * main reads every slot after goro_waitgroup_wait returns. */
#include <goro.h>
#include <stdio.h>

#define N 8

static long slots[N];
static long shared_last;
static goro_waitgroup wg = GORO_WAITGROUP_INIT;

static void worker(void *arg)
{
    long i = (long)(intptr_t)arg;
    goro_yield();
    slots[i] = i * i;
    goro_waitgroup_done(&wg);
}

static void body(void *arg)
{
    (void)arg;
    goro_waitgroup_add(&wg, N);
    for (long i = 0; i < N; i++)
        if (goro_go(worker, (void *)(intptr_t)i))
            goro_waitgroup_done(&wg);
    goro_waitgroup_wait(&wg);
    long sum = 0;
    for (int i = 0; i < N; i++)
        sum += slots[i];
    shared_last = sum;
    printf("sum %ld\n", shared_last);
}

int main(void)
{
    return goro_main(body, NULL);
}
