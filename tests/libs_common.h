/* libs_common.h - what the C-library suites (test_libs_redis.c,
 * test_libs_pg.c, test_libs_curl.c) share, beside common.h.
 *
 * The servers.  ctest's fixture libs_servers (tests/CMakeLists.txt) runs
 * scripts/servers.sh, which starts redis-server, PostgreSQL and nginx on
 * 127.0.0.1 in a temporary directory and writes their addresses to a file
 * of KEY=VALUE lines; the suites find that file through GORO_LIBS_SERVERS.
 * gl_server("REDIS_PORT") reads one value; a test whose server is missing
 * skips (cr_skip_test), so a machine without the server packages still
 * passes.
 *
 * How a library call runs.  With the system-call interposition of
 * src/hook.c in the library (GL_HOOKED, set by CMake when the build has
 * it: GORO_HOOK), a goroutine calls the blocking C library straight: its read,
 * write, connect and poll park the goroutine on goro's poller and the
 * thread runs other goroutines.  Without it, gl_call runs the call on
 * goro's blocking-call pool (goro_blocking), which gives the same results
 * with one pool thread per call in flight.  The suites make every library
 * call through gl_call, so they check the same outcomes either way, and
 * the bound on goro's threads (gl_thread_bound) holds in both.
 */
#ifndef GORO_TESTS_LIBS_COMMON_H
#define GORO_TESTS_LIBS_COMMON_H

#include "common.h"

#include <dirent.h>

#ifndef GL_HOOKED
#define GL_HOOKED 0
#endif

/* A suite's .init: the suites run goro on two procs (GORO_MAXPROCS=2),
 * which their thread-bound checks assert. */
static inline void gl_procs2(void)
{
    setenv("GORO_MAXPROCS", "2", 1);
}

/* ---- servers ------------------------------------------------------------- */

/* The value of key in the servers file, or NULL when there is no file or
 * no such key.  A value in single quotes loses them.  Values are kept for
 * the process (in gl_values, so no leak checker sees them lost). */
static struct {
    char *key, *value;
} gl_values[32];

static inline const char *gl_server(const char *key)
{
    const char *path = getenv("GORO_LIBS_SERVERS");
    FILE *f;
    char line[1024];
    size_t klen = strlen(key), i;
    char *found = NULL;

    for (i = 0; i < sizeof gl_values / sizeof gl_values[0] && gl_values[i].key; i++)
        if (strcmp(gl_values[i].key, key) == 0)
            return gl_values[i].value;
    if (!path || !*path || !(f = fopen(path, "r")))
        return NULL;
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (strncmp(line, key, klen) != 0 || line[klen] != '=')
            continue;
        char *v = line + klen + 1;
        size_t vlen = strlen(v);
        if (vlen >= 2 && v[0] == '\'' && v[vlen - 1] == '\'') {
            v[vlen - 1] = 0;
            v++;
        }
        found = strdup(v);
        break;
    }
    fclose(f);
    if (found && i < sizeof gl_values / sizeof gl_values[0]) {
        gl_values[i].key = strdup(key);
        gl_values[i].value = found;
    }
    return found;
}

/* gl_server(key), or skips the test naming what is missing. */
static inline const char *gl_need(const char *key, const char *what)
{
    const char *v = gl_server(key);
    if (!v)
        cr_skip_test("no %s: %s not in the servers file (GORO_LIBS_SERVERS=%s); "
                     "scripts/servers.sh starts it",
                     what, key, getenv("GORO_LIBS_SERVERS") ? getenv("GORO_LIBS_SERVERS") : "unset");
    return v;
}

/* ---- calls ------------------------------------------------------------------ */

/* Runs fn(arg) the way a library call runs in these suites (see the top). */
static inline void gl_call(void (*fn)(void *), void *arg)
{
#if GL_HOOKED
    fn(arg);
#else
    int e = goro_blocking(fn, arg);
    if (e != 0) {
        gt_fail_at(__FILE__, __LINE__, "goro_blocking: %d", e);
        fn(arg); /* still run it: the caller expects its results */
    }
#endif
}

/* ---- resources ---------------------------------------------------------------- */

/* Threads running goroutines that goro has started. */
static inline int gl_threads(void)
{
    goro_stats st;
    return goro_stats_get(&st) == 0 ? st.threads : -1;
}

/* Raises *max to gl_threads() when that is more: the most threads seen, for
 * a goroutine to note after each library call. */
static inline void gl_note_threads(_Atomic int *max)
{
    int t = gl_threads(), m = atomic_load(max);
    while (t > m && !atomic_compare_exchange_weak(max, &m, t))
        ;
}

/* The most threads a suite allows goro for n procs: a few beyond the procs
 * for the monitor's hand-offs, more under the sanitizers (slower threads
 * look blocked for longer). */
static inline int gl_thread_bound(int procs)
{
    return procs + (GT_ASAN || GT_TSAN ? 16 : 8);
}

/* Open file descriptors of this process. */
static inline int gl_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own */
}

/* Makes goro open what it keeps open for the rest of the process (the
 * poller's descriptors), so that gl_fd_count taken after this and at the
 * end of a test compare like with like. */
static inline void gl_prime_poller(void)
{
    int fd = goro_listen("tcp", "127.0.0.1:0");
    cr_assert_geq(fd, 0, "goro_listen: %d", fd);
    int c = goro_accept_deadline(fd, NULL, NULL, goro_now() + GORO_MILLISECOND);
    cr_assert_eq(c, -ETIMEDOUT, "goro_accept_deadline: %d", c);
    goro_close(fd);
}

#endif /* GORO_TESTS_LIBS_COMMON_H */
