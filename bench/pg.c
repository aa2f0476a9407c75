/* B12 postgres: N goroutines, each with a libpq connection of its own, run
 * pgbench's select-only transaction with blocking PQexec calls for SECONDS
 * seconds: "SELECT abalance FROM pgbench_accounts WHERE aid = X" with X
 * uniform over the accounts, sent as a simple query, as `pgbench -S -c N
 * -T SECONDS` does (its default query mode).  Connections are made before
 * the clock starts; every result is checked to be one row.
 *
 *   pg N [SECONDS]            (default 50 clients, 10 s)
 *
 * The server comes from GORO_BENCH_PG (a conninfo; bench/run starts one
 * with scripts/servers.sh and runs pgbench -i -s 1 there).  Metric:
 * transactions per second (throughput: higher is better).  Reference:
 * pgbench -S (bench/ref.sh pgbench). */
#define _GNU_SOURCE
#include "bench.h"

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdint.h>

static const char *conninfo;
static int64_t end_at;
static long accounts;
static _Atomic long txns;
static goro_waitgroup connected = GORO_WAITGROUP_INIT, finished = GORO_WAITGROUP_INIT;
static goro_chan *start;

static void client(void *arg)
{
    uint64_t rnd = 0x9E3779B97F4A7C15ull * ((uint64_t)(intptr_t)arg + 1);
    PGconn *conn = PQconnectdb(conninfo);
    char sql[128];
    long n = 0;

    BENCH_CHECK(PQstatus(conn) == CONNECTION_OK, "PQconnectdb: %s", PQerrorMessage(conn));
    goro_waitgroup_done(&connected);
    goro_chan_recv(start, NULL);
    while (goro_now() < end_at) {
        rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
        snprintf(sql, sizeof sql, "SELECT abalance FROM pgbench_accounts WHERE aid = %ld;",
                 (long)(rnd % (uint64_t)accounts) + 1);
        PGresult *res = PQexec(conn, sql);
        BENCH_CHECK(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1, "SELECT: %s",
                    PQresultErrorMessage(res));
        PQclear(res);
        n++;
    }
    atomic_fetch_add(&txns, n);
    PQfinish(conn);
    goro_waitgroup_done(&finished);
}

int main(int argc, char **argv)
{
    int nclients = argc > 1 ? atoi(argv[1]) : 50;
    int seconds = argc > 2 ? atoi(argv[2]) : 10;

    conninfo = getenv("GORO_BENCH_PG");
    BENCH_CHECK(conninfo && *conninfo, "set GORO_BENCH_PG to a conninfo (bench/run does)");
    BENCH_CHECK(nclients > 0 && seconds > 0, "usage: pg N [SECONDS]");

    /* The number of accounts, as pgbench reads its scale. */
    PGconn *conn = PQconnectdb(conninfo);
    BENCH_CHECK(PQstatus(conn) == CONNECTION_OK, "PQconnectdb: %s", PQerrorMessage(conn));
    PGresult *res = PQexec(conn, "SELECT count(*) FROM pgbench_accounts");
    BENCH_CHECK(PQresultStatus(res) == PGRES_TUPLES_OK, "no pgbench tables (pgbench -i): %s",
                PQresultErrorMessage(res));
    accounts = atol(PQgetvalue(res, 0, 0));
    BENCH_CHECK(accounts > 0, "pgbench_accounts is empty");
    PQclear(res);
    PQfinish(conn);

    start = bench_chan(0, 0);
    goro_waitgroup_add(&connected, nclients);
    goro_waitgroup_add(&finished, nclients);
    for (int i = 0; i < nclients; i++)
        BENCH_OK(goro_go(client, (void *)(intptr_t)i));
    goro_waitgroup_wait(&connected);
    int64_t t0 = goro_now();
    end_at = t0 + (int64_t)seconds * GORO_SECOND;
    goro_chan_close(start);
    goro_waitgroup_wait(&finished);
    double secs = (double)(goro_now() - t0) / GORO_SECOND;
    goro_stats st;
    goro_stats_get(&st);
    printf("pg_%d: %ld transactions on %d connections in %.3f s; %d threads for %d procs\n",
           nclients, atomic_load(&txns), nclients, secs, st.threads, st.procs);
    char name[32];
    snprintf(name, sizeof name, "pg_%d", nclients);
    bench_report(name, "tps", (double)atomic_load(&txns) / secs, "tps");
    goro_chan_release(start);
    return 0;
}
