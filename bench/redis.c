/* B11 redis: N goroutines, each with a hiredis connection of its own,
 * make blocking SET then GET calls (redisCommand) against a local
 * redis-server until TOTAL commands are done, TOTAL/2 of each, as
 * `redis-benchmark -c N -n TOTAL/2 -t set,get` does with N clients.
 * Connections are made before the clock starts; every GET is checked.
 *
 *   redis N [TOTAL [ops|threads]]     (default TOTAL 200000, ops)
 *
 * The server comes from GORO_BENCH_REDIS (host:port; bench/run starts one
 * with scripts/servers.sh).  Metric: commands per second (throughput:
 * higher is better), or with "threads" the threads goro started for
 * goroutines (goro_stats), the figure the bar's "threads <= procs + 4"
 * reads.  Reference: redis-benchmark (bench/ref.sh redis). */
#define _GNU_SOURCE
#include "bench.h"

#include <hiredis/hiredis.h>
#include <stdatomic.h>

static const char *host;
static int port, nclients;
static long per_client;                  /* SET+GET pairs */
static goro_waitgroup connected = GORO_WAITGROUP_INIT, finished = GORO_WAITGROUP_INIT;
static goro_chan *start;                 /* closed when the clock starts */

static void client(void *arg)
{
    int id = (int)(intptr_t)arg;
    redisContext *c = redisConnect(host, port);
    char key[32], val[32];

    BENCH_CHECK(c && !c->err, "redisConnect %s:%d: %s", host, port, c ? c->errstr : "no memory");
    goro_waitgroup_done(&connected);
    goro_chan_recv(start, NULL);
    for (long i = 0; i < per_client; i++) {
        snprintf(key, sizeof key, "goro:bench:%d", id);
        snprintf(val, sizeof val, "%ld", i);
        redisReply *r = redisCommand(c, "SET %s %s", key, val);
        BENCH_CHECK(r && r->type == REDIS_REPLY_STATUS, "SET: %s", r ? "bad reply" : c->errstr);
        freeReplyObject(r);
        r = redisCommand(c, "GET %s", key);
        BENCH_CHECK(r && r->type == REDIS_REPLY_STRING && strcmp(r->str, val) == 0, "GET: %s",
                    r ? "wrong value" : c->errstr);
        freeReplyObject(r);
    }
    redisFree(c);
    goro_waitgroup_done(&finished);
}

int main(int argc, char **argv)
{
    const char *addr = getenv("GORO_BENCH_REDIS");
    nclients = argc > 1 ? atoi(argv[1]) : 200;
    long total = argc > 2 ? atol(argv[2]) : 200000;
    const char *what = argc > 3 ? argv[3] : "ops";
    static char hostbuf[256];

    BENCH_CHECK(addr && strchr(addr, ':'), "set GORO_BENCH_REDIS=host:port (bench/run does)");
    snprintf(hostbuf, sizeof hostbuf, "%.*s", (int)(strrchr(addr, ':') - addr), addr);
    host = hostbuf;
    port = atoi(strrchr(addr, ':') + 1);
    BENCH_CHECK(nclients > 0 && total >= 2L * nclients, "usage: redis N [TOTAL [ops|threads]]");
    per_client = total / 2 / nclients;
    start = bench_chan(0, 0);

    goro_waitgroup_add(&connected, nclients);
    goro_waitgroup_add(&finished, nclients);
    for (int i = 0; i < nclients; i++)
        BENCH_OK(goro_go(client, (void *)(intptr_t)i));
    goro_waitgroup_wait(&connected);
    int64_t t0 = goro_now();
    goro_chan_close(start);
    goro_waitgroup_wait(&finished);
    double secs = (double)(goro_now() - t0) / GORO_SECOND;
    goro_stats st;
    goro_stats_get(&st);
    long done = 2 * per_client * nclients;
    printf("redis_%d: %ld commands on %d connections in %.3f s; %d threads for %d procs\n",
           nclients, done, nclients, secs, st.threads, st.procs);
    char name[32];
    snprintf(name, sizeof name, "redis_%d", nclients);
    if (strcmp(what, "threads") == 0)
        bench_report(name, "threads", st.threads, "threads");
    else
        bench_report(name, "ops_per_s", (double)done / secs, "ops/s");
    goro_chan_release(start);
    return 0;
}
