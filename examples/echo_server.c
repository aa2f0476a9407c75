/* echo_server.c - a TCP echo server: one goroutine per connection, and a
 * graceful shutdown on Ctrl-C or SIGTERM.
 *
 *   echo_server [ADDR [DRAIN_SECONDS]]     (default 127.0.0.1:7777, 10 s)
 *
 * Shutdown works as Go's http.Server.Shutdown does: a signal stops the
 * accept loop and closes the listener (new connections are refused), while
 * the connections already open keep being served until their clients hang
 * up.  If some are still open after DRAIN_SECONDS, a second context cancels
 * their reads and writes and they close.  A waitgroup counts the handlers.
 *
 * Try it: run echo_server, then `nc 127.0.0.1 7777` in other terminals,
 * then Ctrl-C the server and close the nc sessions.  With port 0 the
 * system picks a free port; the first line printed names it.
 * Go: net.Listen, listener.Accept, go handle(conn), signal.NotifyContext,
 * sync.WaitGroup.
 */
#define _GNU_SOURCE
#include <goro.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static goro_ctx *drain_ctx;         /* canceled only when draining takes too long */
static goro_waitgroup handlers = GORO_WAITGROUP_INIT;
static _Atomic int open_conns;

/* Echoes until the client closes (or the drain deadline cancels it). */
static void handle(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[16384];

    for (;;) {
        ssize_t n = goro_read_ctx(drain_ctx, fd, buf, sizeof buf);
        if (n <= 0) /* 0: the client closed; < 0: -ECONNRESET, or the drain ran out */
            break;
        if (goro_write_ctx(drain_ctx, fd, buf, (size_t)n) < 0)
            break;
    }
    goro_close(fd);
    atomic_fetch_sub(&open_conns, 1);
    goro_waitgroup_done(&handlers);
}

/* Closes done once every handler has returned: a waitgroup made
 * selectable. */
static void wait_handlers(void *arg)
{
    goro_chan *done = arg;
    goro_waitgroup_wait(&handlers);
    goro_chan_close(done);
    goro_chan_release(done);
}

/* Prints the address the listener really got (port 0 picks one). */
static void print_addr(int lfd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (getsockname(lfd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
            port = ntohs(s6->sin6_port);
            printf("listening on [%s]:%d\n", host, port);
            return;
        }
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
        port = ntohs(s4->sin_port);
    }
    printf("listening on %s:%d\n", host, port);
}

int main(int argc, char **argv)
{
    const char *addr = argc > 1 ? argv[1] : "127.0.0.1:7777";
    int64_t drain = (argc > 2 ? atoll(argv[2]) : 10) * GORO_SECOND;

    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, also into a pipe */
    goro_ctx *sig = goro_ctx_with_signals(NULL, SIGINT, SIGTERM, 0);
    drain_ctx = goro_ctx_with_cancel(NULL);
    if (!sig || !drain_ctx) {
        perror("goro_ctx");
        return 1;
    }
    int lfd = goro_listen_tcp(addr);
    if (lfd < 0) { /* the error comes back negated: -EADDRINUSE, ... */
        fprintf(stderr, "echo_server: listen %s: %s\n", addr, strerror(-lfd));
        return 1;
    }
    print_addr(lfd);

    /* Accept until a signal cancels sig. */
    long served = 0;
    for (;;) {
        int fd = goro_accept_ctx(sig, lfd, NULL, NULL);
        if (fd < 0) {
            int e = -fd; /* not errno: see goro.h, I/O */
            if (e == ECANCELED)
                break;
            if (e == EMFILE || e == ENFILE) { /* out of fds: back off */
                goro_sleep(10 * GORO_MILLISECOND);
                continue;
            }
            if (e == EINTR || e == ECONNABORTED)
                continue;
            fprintf(stderr, "echo_server: accept: %s\n", strerror(e));
            break;
        }
        goro_waitgroup_add(&handlers, 1);
        atomic_fetch_add(&open_conns, 1);
        if (goro_go(handle, (void *)(intptr_t)fd) != 0) {
            goro_close(fd);
            atomic_fetch_sub(&open_conns, 1);
            goro_waitgroup_done(&handlers);
        }
        served++;
    }

    /* No new connections; the open ones finish on their own ... */
    goro_close(lfd);
    printf("shutting down: %d connection(s) open, %ld served\n", atomic_load(&open_conns),
           served);
    goro_chan *done = goro_chan_make(0, 0);
    if (!done || goro_go(wait_handlers, goro_chan_retain(done)) != 0) {
        perror("echo_server");
        return 1;
    }
    if (GORO_SELECT(goro_case_recv(done, NULL), goro_case_timeout(drain)) != 0) {
        /* ... unless they take too long: cancel their reads and writes. */
        printf("drain timeout: closing %d connection(s)\n", atomic_load(&open_conns));
        goro_ctx_cancel(drain_ctx);
        goro_chan_recv(done, NULL);
    }
    printf("all connections closed\n");
    goro_chan_release(done);
    goro_ctx_release(drain_ctx);
    goro_ctx_release(sig); /* restores the previous SIGINT/SIGTERM handling */
    return 0;
}
