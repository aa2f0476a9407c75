/* main.c - the smallest goro program, built against an installed goro by
 * tests/install_consumer/run.cmake (find_package and pkg-config).  It starts
 * a goroutine from a goroutine, waits for it and prints "ok". */
#include <goro.h>

#include <stdatomic.h>
#include <stdio.h>

static atomic_int done;

static void child(void *arg)
{
    (void)arg;
    atomic_store(&done, 1);
}

static void body(void *arg)
{
    int *err = arg;
    *err = goro_go(child, NULL);
    while (*err == 0 && atomic_load(&done) == 0)
        goro_yield();
}

int main(void)
{
    int err = 0;
    int rc = goro_main(body, &err);
    if (rc != 0 || err != 0) {
        fprintf(stderr, "goro_main: %d, goro_go: %d\n", rc, err);
        return 1;
    }
    puts("ok");
    return 0;
}
