/* test_libs_redis.c - hiredis's blocking API from many goroutines on two
 * threads, against a real redis-server (libs_common.h: the fixture, and
 * how each call runs).
 *
 *   set_get          64 goroutines, each with its own connection, SET then
 *                    GET 100 keys each and INCR one shared counter: every
 *                    value read back, the counter exact, goro's threads
 *                    bounded.
 *   blpop_wakes      16 goroutines block in BLPOP on their own lists while
 *                    16 others LPUSH: each blocker gets exactly its value.
 *   blpop_ctx_deadline  a context deadline ends a BLPOP on an empty list:
 *                    goro_ctx_after_func shuts the connection's socket
 *                    down, the call returns an error at about the deadline,
 *                    and no descriptor or goroutine is left.
 *   blpop_rcvtimeo   redisSetTimeout (SO_RCVTIMEO) ends a BLPOP on an
 *                    empty list with an I/O error after about its timeout.
 */
#define _GNU_SOURCE
#include "libs_common.h"

#include <hiredis/hiredis.h>
#include <sys/socket.h>

TestSuite(libs_redis, .init = gl_procs2, .timeout = GT_TIMEOUT(60));

static const char *redis_host(void)
{
    gl_need("REDIS_PORT", "redis-server");
    return gl_server("REDIS_HOST");
}

static int redis_port(void)
{
    return atoi(gl_need("REDIS_PORT", "redis-server"));
}

/* ---- calls through gl_call ---------------------------------------------- */

struct rconnect {
    const char *host;
    int port;
    redisContext *c;
};

static void do_connect(void *arg)
{
    struct rconnect *r = arg;
    r->c = redisConnect(r->host, r->port);
}

/* A connection, or NULL (recorded as a failure). */
static redisContext *rconnect(const char *host, int port)
{
    struct rconnect r = {host, port, NULL};
    gl_call(do_connect, &r);
    if (!gt_check(r.c && !r.c->err, "redisConnect %s:%d: %s", host, port,
                  r.c ? r.c->errstr : "out of memory")) {
        redisFree(r.c);
        return NULL;
    }
    return r.c;
}

struct rcmd {
    redisContext *c;
    int argc;
    const char **argv;
    redisReply *reply;
    int err;       /* c->err after the call */
    int sys_errno; /* errno on the thread that made the call */
};

static void do_command(void *arg)
{
    struct rcmd *r = arg;
    r->reply = redisCommandArgv(r->c, r->argc, r->argv, NULL);
    r->sys_errno = gt_errno();
    r->err = r->c->err;
}

/* Runs one command; returns its reply (the caller frees it) or NULL with
 * *err set to c->err. */
static redisReply *rcmd(redisContext *c, int *err, int argc, const char **argv)
{
    struct rcmd r = {c, argc, argv, NULL, 0, 0};
    gl_call(do_command, &r);
    if (err)
        *err = r.err;
    return r.reply;
}

#define RCMD(c, err, ...)                                                      \
    rcmd((c), (err), (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), \
         (const char *[]){__VA_ARGS__})

/* Deletes keys with a fresh connection from the test's thread. */
static void rdel(const char *host, int port, const char *key)
{
    redisContext *c = redisConnect(host, port);
    cr_assert(c && !c->err, "redisConnect: %s", c ? c->errstr : "out of memory");
    redisReply *r = redisCommand(c, "DEL %s", key);
    cr_assert_not_null(r, "DEL: %s", c->errstr);
    freeReplyObject(r);
    redisFree(c);
}

/* ---- set_get ------------------------------------------------------------- */

#define SG_GOROUTINES 64
#define SG_KEYS 100

struct sg {
    const char *host;
    int port;
    int id;
    uint64_t run; /* keys of this run only */
    goro_waitgroup *wg;
    _Atomic long *checked;
    _Atomic int *max_threads;
};

static void set_get_worker(void *arg)
{
    struct sg *w = arg;
    redisContext *c = rconnect(w->host, w->port);
    char key[64], val[64], ckey[64];

    snprintf(ckey, sizeof ckey, "goro:test:%llx:counter", (unsigned long long)w->run);
    for (int i = 0; c && i < SG_KEYS; i++) {
        int err = 0;
        snprintf(key, sizeof key, "goro:test:%llx:%d:%d", (unsigned long long)w->run, w->id, i);
        snprintf(val, sizeof val, "value %d of goroutine %d", i, w->id);
        redisReply *r = RCMD(c, &err, "SET", key, val);
        if (!gt_check(r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0,
                      "SET %s: reply %p type %d, err %d", key, (void *)r, r ? r->type : -1, err)) {
            freeReplyObject(r);
            break;
        }
        freeReplyObject(r);
        goro_yield(); /* let the others in between the two */
        r = RCMD(c, &err, "GET", key);
        if (!gt_check(r && r->type == REDIS_REPLY_STRING && strcmp(r->str, val) == 0,
                      "GET %s: got %s, want %s (err %d)", key,
                      r && r->type == REDIS_REPLY_STRING ? r->str : "(not a string)", val, err)) {
            freeReplyObject(r);
            break;
        }
        freeReplyObject(r);
        r = RCMD(c, &err, "INCR", ckey);
        gt_check(r && r->type == REDIS_REPLY_INTEGER, "INCR: err %d", err);
        freeReplyObject(r);
        r = RCMD(c, &err, "DEL", key);
        gt_check(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1, "DEL %s: err %d", key, err);
        freeReplyObject(r);
        atomic_fetch_add(w->checked, 1);
        gl_note_threads(w->max_threads);
    }
    redisFree(c);
    goro_waitgroup_done(w->wg);
}

Test(libs_redis, set_get)
{
    const char *host = redis_host();
    int port = redis_port();
    static struct sg ws[SG_GOROUTINES];
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    _Atomic long checked = 0;
    _Atomic int max_threads = 0;
    uint64_t run = (uint64_t)goro_now() ^ ((uint64_t)getpid() << 32);
    char ckey[64];

    snprintf(ckey, sizeof ckey, "goro:test:%llx:counter", (unsigned long long)run);
    goro_waitgroup_add(&wg, SG_GOROUTINES);
    for (int i = 0; i < SG_GOROUTINES; i++) {
        ws[i] = (struct sg){host, port, i, run, &wg, &checked, &max_threads};
        gt_spawn(set_get_worker, &ws[i]);
    }
    goro_waitgroup_wait(&wg);
    gt_assert_no_failures();
    cr_assert_eq(atomic_load(&checked), SG_GOROUTINES * SG_KEYS);

    /* The shared counter saw every INCR exactly once. */
    redisContext *c = redisConnect(host, port);
    cr_assert(c && !c->err);
    redisReply *r = redisCommand(c, "GET %s", ckey);
    cr_assert(r && r->type == REDIS_REPLY_STRING);
    cr_assert_eq(atol(r->str), SG_GOROUTINES * SG_KEYS, "counter %s", r->str);
    freeReplyObject(r);
    redisFree(c);
    rdel(host, port, ckey);

    int procs = goro_maxprocs(0);
    cr_assert_eq(procs, 2);
    cr_assert_leq(atomic_load(&max_threads), gl_thread_bound(procs),
                  "%d threads for %d procs", atomic_load(&max_threads), procs);
    cr_assert_leq(gl_threads(), gl_thread_bound(procs));
    gt_quiesce();
}

/* ---- blpop_wakes ------------------------------------------------------------ */

#define BW_PAIRS 16

struct bw {
    const char *host;
    int port;
    int id;
    uint64_t run;
    bool pusher;
    goro_waitgroup *wg;
    _Atomic long *got;
};

static void blpop_worker(void *arg)
{
    struct bw *w = arg;
    redisContext *c = rconnect(w->host, w->port);
    char list[64], val[32], tmo[] = "30";
    int err = 0;

    snprintf(list, sizeof list, "goro:test:%llx:list:%d", (unsigned long long)w->run, w->id);
    snprintf(val, sizeof val, "item %d", w->id);
    if (c && w->pusher) {
        goro_sleep(gt_ms(20)); /* most blockers are in BLPOP by now */
        redisReply *r = RCMD(c, &err, "LPUSH", list, val);
        gt_check(r && r->type == REDIS_REPLY_INTEGER, "LPUSH %s: err %d", list, err);
        freeReplyObject(r);
    } else if (c) {
        redisReply *r = RCMD(c, &err, "BLPOP", list, tmo);
        if (gt_check(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2,
                     "BLPOP %s: reply type %d, err %d", list, r ? r->type : -1, err) &&
            gt_check(strcmp(r->element[0]->str, list) == 0 && strcmp(r->element[1]->str, val) == 0,
                     "BLPOP %s: got %s from %s", list, r->element[1]->str, r->element[0]->str))
            atomic_fetch_add(w->got, 1);
        freeReplyObject(r);
    }
    redisFree(c);
    goro_waitgroup_done(w->wg);
}

Test(libs_redis, blpop_wakes)
{
    const char *host = redis_host();
    int port = redis_port();
    static struct bw ws[2 * BW_PAIRS];
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    _Atomic long got = 0;
    uint64_t run = (uint64_t)goro_now() ^ ((uint64_t)getpid() << 32);

    goro_waitgroup_add(&wg, 2 * BW_PAIRS);
    for (int i = 0; i < 2 * BW_PAIRS; i++) {
        ws[i] = (struct bw){host, port, i % BW_PAIRS, run, i >= BW_PAIRS, &wg, &got};
        gt_spawn(blpop_worker, &ws[i]);
    }
    goro_waitgroup_wait(&wg);
    gt_assert_no_failures();
    cr_assert_eq(atomic_load(&got), BW_PAIRS);
    cr_assert_leq(gl_threads(), gl_thread_bound(goro_maxprocs(0)));
    gt_quiesce();
}

/* ---- cancellation ---------------------------------------------------------------- */

struct shut {
    int fd;
    goro_waitgroup running; /* shut_down calls started and not done */
};

static void shut_down(void *arg)
{
    struct shut *s = arg;
    shutdown(s->fd, SHUT_RDWR);
    goro_waitgroup_done(&s->running);
}

struct blocked {
    const char *host;
    int port;
    int64_t deadline_ns; /* 0: use SO_RCVTIMEO instead */
    int64_t rcvtimeo_ns;
    redisReply *reply;
    int err;
    int ctx_err;
    int64_t took;
    goro_chan *done;
};

static void blocked_blpop(void *arg)
{
    struct blocked *b = arg;
    redisContext *c = rconnect(b->host, b->port);
    goro_ctx *ctx = NULL;
    goro_ctx_stop *stop = NULL;
    struct shut shut = {-1, GORO_WAITGROUP_INIT};
    char list[64];

    if (!c)
        goto out;
    snprintf(list, sizeof list, "goro:test:%llx:empty", (unsigned long long)goro_now());
    if (b->deadline_ns) {
        ctx = goro_ctx_with_timeout(NULL, b->deadline_ns);
        shut.fd = c->fd;
        goro_waitgroup_add(&shut.running, 1);
        stop = goro_ctx_after_func(ctx, shut_down, &shut);
        gt_check(ctx && stop, "context: errno %d", gt_errno());
    } else {
        struct timeval tv = {0, (suseconds_t)(b->rcvtimeo_ns / 1000)};
        gt_check(redisSetTimeout(c, tv) == REDIS_OK, "redisSetTimeout: %s", c->errstr);
    }
    int64_t t0 = goro_now();
    /* The server would answer nil after 20 s: far beyond either bound. */
    b->reply = RCMD(c, &b->err, "BLPOP", list, "20");
    b->took = goro_now() - t0;
    if (ctx) {
        if (!stop || goro_ctx_after_func_stop(stop))
            goro_waitgroup_done(&shut.running); /* shut_down will not run */
        goro_waitgroup_wait(&shut.running);     /* or has finished with the fd */
        goro_ctx_after_func_free(stop);
        b->ctx_err = goro_ctx_err(ctx);
        goro_ctx_release(ctx);
    }
    freeReplyObject(b->reply);
    redisFree(c);
out:
    goro_chan_close(b->done);
}

static void run_blocked(struct blocked *b)
{
    gl_prime_poller();
    int fds = gl_fd_count();

    b->host = redis_host();
    b->port = redis_port();
    b->done = gt_mkchan(0, 0);
    gt_spawn(blocked_blpop, b);
    cr_assert_eq(goro_chan_recv(b->done, NULL), EPIPE); /* closed when it ended */
    goro_chan_release(b->done);
    gt_assert_no_failures();
    cr_assert_eq(gl_fd_count(), fds, "descriptors before %d, after %d", fds, gl_fd_count());
}

Test(libs_redis, blpop_ctx_deadline)
{
    struct blocked b = {.deadline_ns = gt_ms(100)};

    run_blocked(&b);
    cr_assert_null(b.reply, "BLPOP on an empty list returned a reply");
    cr_assert_neq(b.err, 0, "no error after the shutdown");
    cr_assert_eq(b.ctx_err, ETIMEDOUT);
    cr_assert_geq(b.took, 90 * GORO_MILLISECOND, "ended after %lld ns, before the deadline",
                  (long long)b.took);
    cr_assert_lt(b.took, gt_ms(3000), "ended after %lld ns", (long long)b.took);
    gt_quiesce();
}

Test(libs_redis, blpop_rcvtimeo)
{
    struct blocked b = {.rcvtimeo_ns = 100 * GORO_MILLISECOND};

    run_blocked(&b);
    cr_assert_null(b.reply, "BLPOP on an empty list returned a reply");
    cr_assert_eq(b.err, REDIS_ERR_IO, "err %d", b.err);
    cr_assert_geq(b.took, 90 * GORO_MILLISECOND, "ended after %lld ns, before the timeout",
                  (long long)b.took);
    cr_assert_lt(b.took, gt_ms(3000), "ended after %lld ns", (long long)b.took);
    gt_quiesce();
}
