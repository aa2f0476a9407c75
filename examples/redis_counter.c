/* redis_counter.c - a counter service backed by redis, written with
 * hiredis's ordinary blocking API.
 *
 *   redis_counter [REDIS_HOST [REDIS_PORT [CLIENTS [INCRS]]]]
 *                                       (default 127.0.0.1 6379 100 20)
 *
 * The service listens on 127.0.0.1 (a port the system picks) and speaks
 * one line per request: "INCR name" answers the counter's new value, "GET
 * name" its value.  Every connection is served by a goroutine of its own,
 * which borrows a redis connection from a pool for each request.  The pool
 * is Go's idiom: a buffered channel holding the idle redisContext
 * pointers; receiving one borrows it, sending it back returns it, and a
 * goroutine that finds the pool empty parks until one comes back.
 *
 * Then CLIENTS goroutines connect to the service, each sends INCRS
 * increments of one counter, and the program checks the total against
 * redis (exit status 0 when it is exact).
 *
 * The goroutines call redisCommand directly.  A blocking call inside a C
 * library parks the goroutine that made it rather than the thread running
 * it (docs/guide.md, "Using existing C libraries"), so 100 clients and 8
 * redis connections run on a couple of threads.
 * Go: a connection pool as a buffered channel, go handle(conn).
 */
#define _GNU_SOURCE
#include <goro.h>

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POOL_SIZE 8

GORO_CHAN_TYPE(redis_pool, redisContext *);

static redis_pool *pool;
static char key_prefix[64];       /* goro:example:<pid>: keeps runs apart */
static goro_waitgroup handlers = GORO_WAITGROUP_INIT;

/* Runs one redis command on a pooled connection; returns the reply as a
 * number in *out.  Returns 0, or -1 on a redis error. */
static int redis_number(const char *cmd, const char *name, long long *out)
{
    redisContext *c;
    int rc = -1;

    if (redis_pool_recv(pool, &c) != 0) /* borrow (parks while all are busy) */
        return -1;
    redisReply *r = redisCommand(c, "%s %s%s", cmd, key_prefix, name);
    if (r && r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer;
        rc = 0;
    } else if (r && r->type == REDIS_REPLY_STRING) {
        *out = atoll(r->str);
        rc = 0;
    } else if (r && r->type == REDIS_REPLY_NIL) {
        *out = 0;
        rc = 0;
    } else {
        fprintf(stderr, "redis %s: %s\n", cmd, r ? "unexpected reply" : c->errstr);
    }
    freeReplyObject(r);
    redis_pool_send(pool, c); /* give it back */
    return rc;
}

/* Serves one client: reads request lines, answers each. */
static void handle(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096], reply[64];
    size_t len = 0;

    for (;;) {
        char *nl = memchr(buf, '\n', len);
        if (!nl) {
            if (len == sizeof buf)
                break; /* a line too long: drop the client */
            ssize_t n = goro_read(fd, buf + len, sizeof buf - len);
            if (n <= 0)
                break;
            len += (size_t)n;
            continue;
        }
        *nl = 0;
        char cmd[8], name[32];
        long long v;
        if (sscanf(buf, "%7s %31s", cmd, name) == 2 &&
            (strcmp(cmd, "INCR") == 0 || strcmp(cmd, "GET") == 0) &&
            redis_number(cmd, name, &v) == 0)
            snprintf(reply, sizeof reply, "%lld\n", v);
        else
            snprintf(reply, sizeof reply, "ERR\n");
        if (goro_write(fd, reply, strlen(reply)) < 0)
            break;
        len -= (size_t)(nl + 1 - buf);
        memmove(buf, nl + 1, len);
    }
    goro_close(fd);
    goro_waitgroup_done(&handlers);
}

/* Accepts until the listener is closed. */
static void serve(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = goro_accept(lfd, NULL, NULL);
        if (fd < 0)
            break; /* -EBADF: main closed the listener */
        goro_waitgroup_add(&handlers, 1);
        if (goro_go(handle, (void *)(intptr_t)fd) != 0) {
            goro_close(fd);
            goro_waitgroup_done(&handlers);
        }
    }
}

struct client {
    const char *addr;
    int incrs;
    int ok;                     /* answers that were numbers */
    goro_waitgroup *wg;
};

/* One client of the service: INCRS increments of "hits". */
static void client(void *arg)
{
    struct client *cl = arg;
    int fd = goro_dial_tcp(NULL, cl->addr);
    char buf[64];

    for (int i = 0; fd >= 0 && i < cl->incrs; i++) {
        if (goro_write(fd, "INCR hits\n", 10) < 0)
            break;
        ssize_t n = goro_read(fd, buf, sizeof buf - 1); /* one short answer per request */
        if (n <= 0)
            break;
        buf[n] = 0;
        if (buf[0] >= '0' && buf[0] <= '9')
            cl->ok++;
    }
    if (fd >= 0)
        goro_close(fd);
    goro_waitgroup_done(cl->wg);
}

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 6379;
    int nclients = argc > 3 ? atoi(argv[3]) : 100;
    int incrs = argc > 4 ? atoi(argv[4]) : 20;
    char addr[64];
    int status = 1;

    if (nclients < 1 || incrs < 1) {
        fprintf(stderr, "usage: redis_counter [HOST [PORT [CLIENTS [INCRS]]]]\n");
        return 2;
    }
    snprintf(key_prefix, sizeof key_prefix, "goro:example:%d:", (int)getpid());

    /* The pool: POOL_SIZE connections in a channel of that capacity. */
    pool = goro_make(redis_pool, POOL_SIZE);
    for (int i = 0; pool && i < POOL_SIZE; i++) {
        redisContext *c = redisConnect(host, port);
        if (!c || c->err) {
            fprintf(stderr, "redis %s:%d: %s\n", host, port, c ? c->errstr : "out of memory");
            return 1;
        }
        redis_pool_send(pool, c);
    }
    if (!pool)
        return 1;

    int lfd = goro_listen_tcp("127.0.0.1:0");
    if (lfd < 0 || goro_sockname(lfd, addr, sizeof addr) < 0) {
        fprintf(stderr, "listen: %s\n", strerror(-lfd));
        return 1;
    }
    printf("service: listening on %s, %d redis connections to %s:%d\n", addr, POOL_SIZE, host,
           port);
    goro_go(serve, (void *)(intptr_t)lfd);

    /* The clients, all at once. */
    struct client *cls = calloc((size_t)nclients, sizeof *cls);
    goro_waitgroup clients = GORO_WAITGROUP_INIT;
    int64_t t0 = goro_now();
    goro_waitgroup_add(&clients, nclients);
    for (int i = 0; i < nclients; i++) {
        cls[i] = (struct client){addr, incrs, 0, &clients};
        goro_go(client, &cls[i]);
    }
    goro_waitgroup_wait(&clients);
    int64_t took = goro_now() - t0;
    long ok = 0;
    for (int i = 0; i < nclients; i++)
        ok += cls[i].ok;
    free(cls);

    /* Stop the service: close the listener, wait for the handlers. */
    goro_close(lfd);
    goro_waitgroup_wait(&handlers);

    long long hits = -1, zero = -1;
    redis_number("GET", "hits", &hits);
    redis_number("DEL", "hits", &zero);
    long want = (long)nclients * incrs;
    goro_stats st;
    goro_stats_get(&st);
    printf("clients: %d clients sent %ld increments, %ld answered, in %lld ms\n", nclients, want,
           ok, (long long)(took / GORO_MILLISECOND));
    printf("counter hits = %lld (want %ld)\n", hits, want);
    printf("threads: %d running goroutines (GORO_MAXPROCS %d)\n", st.threads, st.procs);
    if (hits == want && ok == want)
        status = 0;

    redisContext *c;
    while (redis_pool_try_recv(pool, &c) == 0)
        redisFree(c);
    redis_pool_release(pool);
    return status;
}
