/* racy.c - a data race the race tests must see: two goroutines increment a
 * plain global with no synchronization between them.  Run under a tsan
 * build, ThreadSanitizer must report "WARNING: ThreadSanitizer: data race".
 * (The waitgroup only orders both increments before main's read.) */
#include <goro.h>
#include <stdio.h>

static long counter;
static goro_waitgroup wg = GORO_WAITGROUP_INIT;

static void bump(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        counter++;
        if (i % 100 == 0)
            goro_yield();
    }
    goro_waitgroup_done(&wg);
}

static void body(void *arg)
{
    (void)arg;
    goro_waitgroup_add(&wg, 2);
    if (goro_go(bump, NULL) || goro_go(bump, NULL))
        return;
    goro_waitgroup_wait(&wg);
    printf("counter %ld\n", counter);
}

int main(void)
{
    return goro_main(body, NULL);
}
