/* udp_echo.c - a UDP echo server and client in one program: the server
 * goroutine answers each datagram until its context is canceled; the
 * client sends a few datagrams and waits for each reply with a deadline.
 * The same code serves "unixgram", with a socket path or an "@abstract"
 * name ("" picks a fresh one).
 *
 *   udp_echo [network [address]]
 *
 * Defaults: udp 127.0.0.1:0; unixgram "" (a fresh abstract name).
 *
 * Go: net.ListenPacket, PacketConn.ReadFrom/WriteTo, net.ResolveUDPAddr,
 * conn.SetReadDeadline.
 */
#define _GNU_SOURCE
#include <goro.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct server {
    goro_ctx *ctx;
    int fd;
    goro_waitgroup *wg;
};

static void serve(void *arg)
{
    struct server *s = arg;
    char buf[1500];

    for (;;) {
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        ssize_t n = goro_recvfrom_ctx(s->ctx, s->fd, buf, sizeof buf,
                                      (struct sockaddr *)&from, &fromlen);
        if (n < 0) {
            printf("server: stopped (%s)\n", -n == ECANCELED ? "context canceled" : strerror((int)-n));
            break;
        }
        ssize_t w = goro_sendto(s->fd, buf, (size_t)n, (struct sockaddr *)&from, fromlen);
        if (w < 0)
            fprintf(stderr, "server: sendto: %s\n", strerror((int)-w));
    }
    goro_waitgroup_done(s->wg);
}

int main(int argc, char **argv)
{
    const char *network = argc > 1 ? argv[1] : "udp";
    bool unixgram = strcmp(network, "unixgram") == 0;
    const char *addr = argc > 2 ? argv[2] : unixgram ? "" : "127.0.0.1:0";
    char name[128], peer[128];
    goro_waitgroup wg = GORO_WAITGROUP_INIT;

    int sfd = goro_listen(network, addr);
    if (sfd < 0) {
        fprintf(stderr, "udp_echo: listen %s %s: %s\n", network, addr, strerror(-sfd));
        return 1;
    }
    goro_sockname(sfd, name, sizeof name);
    printf("server: listening on %s %s\n", network, name);

    struct server s = {.ctx = goro_ctx_with_cancel(NULL), .fd = sfd, .wg = &wg};
    goro_waitgroup_add(&wg, 1);
    goro_go(serve, &s);

    /* The client: a socket bound to an address of its own (a fresh
     * abstract name for unixgram: a dialed unix socket has no name, so
     * nothing could answer it), sending to the server's resolved address. */
    int fd = goro_listen(network, unixgram ? "" : "127.0.0.1:0");
    struct sockaddr_storage to;
    socklen_t tolen;
    int e = fd < 0 ? fd : goro_addr_resolve(network, name, &to, &tolen);
    if (e < 0) {
        fprintf(stderr, "udp_echo: client: %s\n", strerror(-e));
        return 1;
    }
    const char *msgs[] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++) {
        char buf[64];
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        goro_sendto(fd, msgs[i], strlen(msgs[i]), (struct sockaddr *)&to, tolen);
        ssize_t n = goro_recvfrom_deadline(fd, buf, sizeof buf - 1, (struct sockaddr *)&from,
                                           &fromlen, goro_now() + 2 * GORO_SECOND);
        if (n < 0) {
            printf("client: no reply: %s\n", strerror((int)-n));
            continue;
        }
        buf[n] = 0;
        goro_addr_format((struct sockaddr *)&from, fromlen, peer, sizeof peer);
        printf("client: reply from %s: %s\n", peer, buf);
    }
    /* Nothing more is coming: the deadline ends the wait. */
    char buf[64];
    ssize_t n = goro_recvfrom_deadline(fd, buf, sizeof buf, NULL, NULL,
                                       goro_now() + 100 * GORO_MILLISECOND);
    printf("client: then %s\n", n == -ETIMEDOUT ? "nothing for 100 ms" : "something else");

    goro_ctx_cancel(s.ctx);
    goro_waitgroup_wait(&wg);
    goro_ctx_release(s.ctx);
    goro_close(fd);
    goro_close(sfd);
    return 0;
}
