/* B9 echo, the goro server: a TCP echo server on 127.0.0.1 with one
 * goroutine per connection, each reading into a 16 KiB buffer and writing
 * back what it read.  bench/run starts it, drives it with the Go client
 * (bench/go/echoclient: 100 connections x 10,000 round trips of 64 bytes)
 * and stops it with SIGTERM; the client prints the metric, round trips per
 * second (throughput: higher is better).  Go twin: bench/go/echo.
 *
 *   echo [ADDR]       (default 127.0.0.1:0; prints "listening on HOST:PORT")
 */
#define _GNU_SOURCE
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>

static goro_waitgroup conns = GORO_WAITGROUP_INIT;

static void serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[16384];

    for (;;) {
        ssize_t n = goro_read(fd, buf, sizeof buf);
        if (n <= 0 || goro_write(fd, buf, (size_t)n) != n)
            break;
    }
    goro_close(fd);
    goro_waitgroup_done(&conns);
}

int main(int argc, char **argv)
{
    const char *addr = argc > 1 ? argv[1] : "127.0.0.1:0";
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    char host[INET_ADDRSTRLEN];
    long accepted = 0;

    goro_ctx *stop = goro_ctx_with_signals(NULL, SIGTERM, SIGINT, 0);
    BENCH_CHECK(stop != NULL, "goro_ctx_with_signals: %s", strerror(errno));
    int lfd = goro_listen_tcp(addr);
    BENCH_CHECK(lfd >= 0, "listen %s: %s", addr, strerror(-lfd));
    BENCH_CHECK(getsockname(lfd, (struct sockaddr *)&sa, &len) == 0 && sa.sin_family == AF_INET,
                "getsockname");
    inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host);
    printf("listening on %s:%d\n", host, ntohs(sa.sin_port));
    fflush(stdout);

    for (;;) {
        int fd = goro_accept_ctx(stop, lfd, NULL, NULL);
        if (fd < 0) {
            int e = -fd; /* goro's I/O calls return -errno */
            if (e == ECANCELED)
                break; /* SIGTERM: the run is over */
            BENCH_CHECK(e == EINTR || e == ECONNABORTED, "accept: %s", strerror(e));
            continue;
        }
        goro_waitgroup_add(&conns, 1);
        BENCH_OK(goro_go(serve, (void *)(intptr_t)fd));
        accepted++;
    }
    goro_close(lfd);
    goro_waitgroup_wait(&conns); /* the client has closed them all by now */
    printf("echo server: %ld connections served, %d Ps\n", accepted, goro_maxprocs(0));
    goro_ctx_release(stop);
    return 0;
}
