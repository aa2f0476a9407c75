/* http_hello.c - an HTTP/1.1 "hello world" server for load generators
 * such as wrk: one goroutine per connection, keep-alive and pipelining,
 * requests parsed by Node's http_parser (Debian: libhttp-parser-dev).
 *
 *   http_hello [ADDR]          (default 127.0.0.1:8080; port 0: any free)
 *   wrk -t2 -c100 -d10s http://127.0.0.1:8080/
 *
 * Every request gets "hello world\n".  A connection stays open while its
 * requests allow keep-alive (HTTP/1.1 without "Connection: close");
 * responses to pipelined requests go out in one write.  Ctrl-C or SIGTERM
 * stops accepting, ends idle keep-alive connections and exits.
 * Go: net/http with a HandlerFunc (bench/go/httphello is the twin).
 */
#define _GNU_SOURCE
#include <goro.h>

#include <http_parser.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const char RESPONSE[] = "HTTP/1.1 200 OK\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 12\r\n"
                               "\r\n"
                               "hello world\n";
static const char RESPONSE_CLOSE[] = "HTTP/1.1 200 OK\r\n"
                                     "Content-Type: text/plain\r\n"
                                     "Content-Length: 12\r\n"
                                     "Connection: close\r\n"
                                     "\r\n"
                                     "hello world\n";
static const char BAD_REQUEST[] = "HTTP/1.1 400 Bad Request\r\n"
                                  "Content-Length: 0\r\n"
                                  "Connection: close\r\n"
                                  "\r\n";

static goro_ctx *stop_ctx;          /* canceled by SIGINT/SIGTERM */
static goro_waitgroup handlers = GORO_WAITGROUP_INIT;
static http_parser_settings settings;

struct conn {
    char out[16384];            /* responses to the requests of one read */
    size_t outlen;
    bool close;                 /* the last request asked to close */
};

/* Queues one response per complete request (pipelining: several per read). */
static int on_message_complete(http_parser *p)
{
    struct conn *c = p->data;
    bool keep = http_should_keep_alive(p);
    const char *r = keep ? RESPONSE : RESPONSE_CLOSE;
    size_t n = keep ? sizeof RESPONSE - 1 : sizeof RESPONSE_CLOSE - 1;

    if (c->outlen + n > sizeof c->out)
        return 1; /* absurdly deep pipeline: stop parsing, fail the connection */
    memcpy(c->out + c->outlen, r, n);
    c->outlen += n;
    if (!keep) {
        c->close = true;
        http_parser_pause(p, 1); /* ignore whatever follows */
    }
    return 0;
}

static void serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[8192];
    struct conn c = {.outlen = 0};
    http_parser parser;

    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = &c;
    while (!c.close) {
        ssize_t n = goro_read_ctx(stop_ctx, fd, buf, sizeof buf);
        if (n <= 0) /* the client closed, reset, or we are shutting down */
            break;
        size_t used = http_parser_execute(&parser, &settings, buf, (size_t)n);
        enum http_errno e = HTTP_PARSER_ERRNO(&parser);
        if (e != HPE_OK && e != HPE_PAUSED) {
            (void)used;
            goro_write(fd, BAD_REQUEST, sizeof BAD_REQUEST - 1);
            break;
        }
        if (c.outlen > 0 && goro_write_ctx(stop_ctx, fd, c.out, c.outlen) < 0)
            break;
        c.outlen = 0;
    }
    goro_close(fd);
    goro_waitgroup_done(&handlers);
}

static void print_addr(int lfd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    char host[INET_ADDRSTRLEN] = "?";

    if (getsockname(lfd, (struct sockaddr *)&sa, &len) == 0 && sa.sin_family == AF_INET) {
        inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host);
        printf("listening on %s:%d\n", host, ntohs(sa.sin_port));
    } else {
        printf("listening\n");
    }
}

int main(int argc, char **argv)
{
    const char *addr = argc > 1 ? argv[1] : "127.0.0.1:8080";

    setvbuf(stdout, NULL, _IOLBF, 0);
    http_parser_settings_init(&settings);
    settings.on_message_complete = on_message_complete;
    stop_ctx = goro_ctx_with_signals(NULL, SIGINT, SIGTERM, 0);
    if (!stop_ctx) {
        perror("goro_ctx_with_signals");
        return 1;
    }
    int lfd = goro_listen_tcp(addr);
    if (lfd < 0) { /* the error comes back negated: -EADDRINUSE, ... */
        fprintf(stderr, "http_hello: listen %s: %s\n", addr, strerror(-lfd));
        return 1;
    }
    print_addr(lfd);

    for (;;) {
        int fd = goro_accept_ctx(stop_ctx, lfd, NULL, NULL);
        if (fd < 0) {
            int e = -fd; /* not errno: see goro.h, I/O */
            if (e == ECANCELED)
                break;
            if (e == EMFILE || e == ENFILE) {
                goro_sleep(10 * GORO_MILLISECOND);
                continue;
            }
            if (e == EINTR || e == ECONNABORTED)
                continue;
            fprintf(stderr, "http_hello: accept: %s\n", strerror(e));
            break;
        }
        goro_waitgroup_add(&handlers, 1);
        if (goro_go(serve, (void *)(intptr_t)fd) != 0) {
            goro_close(fd);
            goro_waitgroup_done(&handlers);
        }
    }
    goro_close(lfd);
    printf("shutting down\n");
    goro_waitgroup_wait(&handlers); /* stop_ctx ended their reads */
    printf("all connections closed\n");
    goro_ctx_release(stop_ctx);
    return 0;
}
