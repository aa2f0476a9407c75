/* sem_ok.c - no race: a buffered channel of capacity 1 used as a semaphore
 * (send to acquire, receive to release) guards a shared counter.  Go's
 * memory model: the kth receive on a channel of capacity C happens before
 * the (k+C)th send completes. */
#include <goro.h>
#include <stdio.h>

#define N 4

static long counter;
static goro_chan *sem;
static goro_waitgroup wg = GORO_WAITGROUP_INIT;

static void worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++) {
        goro_chan_send(sem, NULL);      /* acquire */
        counter++;
        goro_chan_recv(sem, NULL);      /* release */
        if (i % 20 == 0)
            goro_yield();
    }
    goro_waitgroup_done(&wg);
}

static void body(void *arg)
{
    (void)arg;
    sem = goro_chan_make(0, 1);
    if (!sem)
        return;
    goro_waitgroup_add(&wg, N);
    for (int i = 0; i < N; i++)
        if (goro_go(worker, NULL))
            goro_waitgroup_done(&wg);
    goro_waitgroup_wait(&wg);
    printf("counter %ld\n", counter);
    goro_chan_release(sem);
}

int main(void)
{
    return goro_main(body, NULL);
}
