/* mutex_ok.c - no race: goroutines (and a plain thread's main) update a
 * shared counter only under a goro_mutex, and a goro_rwmutex guards a second
 * one; the final read follows a waitgroup wait. */
#include <goro.h>
#include <stdio.h>

#define N 4

static long counter, guarded;
static goro_mutex mu = GORO_MUTEX_INIT;
static goro_rwmutex rw = GORO_RWMUTEX_INIT;
static goro_waitgroup wg = GORO_WAITGROUP_INIT;

static void worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 500; i++) {
        goro_mutex_lock(&mu);
        counter++;
        goro_mutex_unlock(&mu);
        if (i % 50 == 0) {
            goro_rwmutex_lock(&rw);
            guarded++;
            goro_rwmutex_unlock(&rw);
            goro_rwmutex_rlock(&rw);
            long g = guarded;
            goro_rwmutex_runlock(&rw);
            (void)g;
            goro_yield();
        }
    }
    goro_waitgroup_done(&wg);
}

static void body(void *arg)
{
    (void)arg;
    goro_waitgroup_add(&wg, N);
    for (int i = 0; i < N; i++)
        if (goro_go(worker, NULL))
            goro_waitgroup_done(&wg);
    for (int i = 0; i < 100; i++) {
        goro_mutex_lock(&mu);
        counter++;
        goro_mutex_unlock(&mu);
    }
    goro_waitgroup_wait(&wg);
    printf("counter %ld guarded %ld\n", counter, guarded);
}

int main(void)
{
    return goro_main(body, NULL);
}
