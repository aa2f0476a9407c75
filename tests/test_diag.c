/* test_diag.c - diagnostics: the deadlock detector (message, dump, no false
 * positive while a timer, an fd wait or a blocking call is pending,
 * GORO_DEADLOCK=0), goro_dump's format, goro_stats_get, and the SIGQUIT
 * dump of GORO_TRACEBACK=1.
 *
 * Fatal paths run in a child: a fresh copy of this executable (fork, then
 * execve of /proc/self/exe), picked by GT_DIAG_CHILD, whose body runs from
 * a constructor before Criterion's main and sets its own GORO_* first. */
#define _GNU_SOURCE
#include "common.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define CHILD_ENV "GT_DIAG_CHILD"

struct outcome {
    int status;
    char out[32768];
};

static void run_child(const char *name, struct outcome *o)
{
    gt_run_child(CHILD_ENV, name, o->out, sizeof o->out, &o->status);
}

static bool killed_by(const struct outcome *o, int sig)
{
    return WIFSIGNALED(o->status) && WTERMSIG(o->status) == sig;
}

/* ---- child bodies -------------------------------------------------------- */

static goro_chan *never; /* nobody ever sends on it */

__attribute__((noinline)) static void stuck_receiver(void *arg)
{
    (void)arg;
    goro_chan_recv(never, NULL);
}

/* A goroutine and main both wait on a channel nobody will send to. */
__attribute__((noinline)) static void child_deadlock(void)
{
    never = goro_chan_make(0, 0);
    goro_attr a = {.name = "stuck-one"};
    goro_go_attr(&a, stuck_receiver, NULL);
    goro_chan_recv(never, NULL); /* main: the detector must abort here */
    __asm__ volatile("" ::: "memory"); /* not a tail call: the dump names us */
}

static void child_deadlock_off(void)
{
    setenv("GORO_DEADLOCK", "0", 1);
    alarm(1); /* the deadlock stays: SIGALRM ends it */
    child_deadlock();
}

static goro_chan *late;

static void late_sender(void *arg)
{
    (void)arg;
    goro_sleep(400 * GORO_MILLISECOND); /* a pending timer: not a deadlock */
    goro_chan_send(late, NULL);
}

static void nap(void *arg)
{
    (void)arg;
    usleep(400 * 1000);
}

static void blocking_sender(void *arg)
{
    (void)arg;
    goro_blocking(nap, NULL); /* a pending blocking call: not a deadlock */
    goro_chan_send(late, NULL);
}

static int pipe_rd;

static void pipe_reader(void *arg)
{
    char b;
    (void)arg;
    goro_read(pipe_rd, &b, 1); /* a pending fd wait: not a deadlock */
    goro_chan_send(late, NULL);
}

static void *write_later(void *arg)
{
    usleep(400 * 1000);
    if (write((int)(intptr_t)arg, "x", 1) != 1)
        _exit(3);
    return NULL;
}

/* Main waits while only a timer, a blocking call, then an fd can wake
 * anyone; each wait lasts far longer than the detector's two checks. */
static void child_no_false_positive(void)
{
    int p[2];
    pthread_t t;

    late = goro_chan_make(0, 0);
    goro_go(late_sender, NULL);
    goro_chan_recv(late, NULL);
    goro_go(blocking_sender, NULL);
    goro_chan_recv(late, NULL);
    if (pipe(p) != 0)
        _exit(4);
    pipe_rd = p[0];
    goro_go(pipe_reader, NULL);
    pthread_create(&t, NULL, write_later, (void *)(intptr_t)p[1]);
    goro_chan_recv(late, NULL);
    pthread_join(t, NULL);
    fprintf(stderr, "no deadlock reported\n");
    _exit(0);
}

/* Two goroutines deadlock on two mutexes after the only thread that knew
 * goro has exited (as when main calls pthread_exit; main here never calls
 * goro, and exits from a constructor crash glibc): no known thread is left
 * to wake them, so the detector must still report it. */
static goro_mutex dl_a = GORO_MUTEX_INIT, dl_b = GORO_MUTEX_INIT;

static void lock_ab(void *arg)
{
    (void)arg;
    goro_mutex_lock(&dl_a);
    goro_sleep(20 * GORO_MILLISECOND);
    goro_mutex_lock(&dl_b);
}

static void lock_ba(void *arg)
{
    (void)arg;
    goro_mutex_lock(&dl_b);
    goro_sleep(20 * GORO_MILLISECOND);
    goro_mutex_lock(&dl_a);
}

static void *spawn_and_exit(void *arg)
{
    (void)arg;
    goro_go(lock_ab, NULL);
    goro_go(lock_ba, NULL);
    return NULL;
}

static void child_deadlock_main_gone(void)
{
    pthread_t t;

    alarm(20); /* no report: SIGALRM ends it */
    if (pthread_create(&t, NULL, spawn_and_exit, NULL) != 0)
        _exit(4);
    pthread_join(t, NULL);
    for (;;)
        pause();
}

static void child_sigquit(void)
{
    setenv("GORO_TRACEBACK", "1", 1);
    never = goro_chan_make(0, 0);
    goro_attr a = {.name = "quitter"};
    goro_go_attr(&a, stuck_receiver, NULL);
    goro_sleep(50 * GORO_MILLISECOND);
    raise(SIGQUIT);
    _exit(5); /* not reached: SIGQUIT ends the process */
}

static const gt_child_body child_bodies[] = {
    {"deadlock", child_deadlock},
    {"deadlock_off", child_deadlock_off},
    {"no_false_positive", child_no_false_positive},
    {"sigquit", child_sigquit},
    {"deadlock_main_gone", child_deadlock_main_gone},
    {NULL, NULL},
};

__attribute__((constructor)) static void child_entry(void)
{
    gt_child_dispatch(CHILD_ENV, child_bodies);
}

/* ---- tests ------------------------------------------------------------------ */

Test(diag, deadlock_aborts_with_go_message, .timeout = GT_TIMEOUT(60))
{
    struct outcome o;
    run_child("deadlock", &o);
    cr_assert(killed_by(&o, SIGABRT), "child status %#x, stderr:\n%s", o.status, o.out);
    cr_assert(gt_matches(o.out, "^fatal error: all goroutines are asleep - deadlock!$"),
              "stderr:\n%s", o.out);
    cr_assert(gt_matches(o.out, "^goroutine [0-9]+ \\[chan receive\\]:$"), "stderr:\n%s", o.out);
    cr_assert(gt_matches(o.out, "^\tstuck_receiver\\(0x[0-9a-f]+\\) \"stuck-one\"$"), "stderr:\n%s",
              o.out);
    cr_assert(gt_matches(o.out, "^\tcreated by child_deadlock at .*test_diag\\.c:[0-9]+$"),
              "stderr:\n%s", o.out);
    cr_assert(gt_matches(o.out, "^thread [0-9]+ \\[chan receive\\]:$"), "stderr:\n%s", o.out);
#if defined(GORO_TESTING) /* not under LTO: see dump_names_plain_thread_caller */
    cr_assert(gt_matches(o.out, "^\tcalled from child_deadlock\\+0x[0-9a-f]+ \\(test_diag\\.c in "
                                "test_diag\\)$"),
              "stderr:\n%s", o.out);
#endif
}

Test(diag, deadlock_reported_after_main_exits, .timeout = GT_TIMEOUT(60))
{
    struct outcome o;
    run_child("deadlock_main_gone", &o);
    cr_assert(killed_by(&o, SIGABRT), "child status %#x, stderr:\n%s", o.status, o.out);
    cr_assert(gt_matches(o.out, "^fatal error: all goroutines are asleep - deadlock!$"),
              "stderr:\n%s", o.out);
    cr_assert(gt_matches(o.out, "^\tlock_ab\\(0x0\\)$"), "stderr:\n%s", o.out);
}

Test(diag, deadlock_detection_off, .timeout = GT_TIMEOUT(60))
{
    struct outcome o;
    run_child("deadlock_off", &o);
    cr_assert(killed_by(&o, SIGALRM), "child status %#x, stderr:\n%s", o.status, o.out);
    cr_assert_null(strstr(o.out, "deadlock!"), "stderr:\n%s", o.out);
}

Test(diag, no_false_positive_while_something_can_wake, .timeout = GT_TIMEOUT(60))
{
    struct outcome o;
    run_child("no_false_positive", &o);
    cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0, "child status %#x, stderr:\n%s",
              o.status, o.out);
    cr_assert_not_null(strstr(o.out, "no deadlock reported"), "stderr:\n%s", o.out);
}

Test(diag, sigquit_dumps_with_traceback, .timeout = GT_TIMEOUT(60))
{
    struct outcome o;
    run_child("sigquit", &o);
    cr_assert(killed_by(&o, SIGQUIT), "child status %#x, stderr:\n%s", o.status, o.out);
    cr_assert(gt_matches(o.out, "^SIGQUIT: quit$"), "stderr:\n%s", o.out);
    cr_assert(gt_matches(o.out, "^\tstuck_receiver\\(0x[0-9a-f]+\\) \"quitter\"$"), "stderr:\n%s",
              o.out);
}

static goro_chan *dump_c;

static void dump_waiter(void *arg)
{
    (void)arg;
    goro_chan_recv(dump_c, NULL);
}

Test(diag, dump_and_stats, .timeout = GT_TIMEOUT(30))
{
    goro_stats st, st2;
    char text[8192];
    FILE *f = tmpfile();

    cr_assert_not_null(f);
    cr_assert_eq(goro_stats_get(NULL), EINVAL);
    dump_c = goro_chan_make(0, 0);
    goro_attr a = {.name = "dumped"};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(goro_go_attr(&a, dump_waiter, NULL), 0);
    while (goro_num_goroutine() < 3)
        goro_sleep(GORO_MILLISECOND);
    /* All three parked: wait for their parks to show (bounded). */
    for (int64_t end = goro_now() + 5 * GORO_SECOND;
         goro_stats_get(&st) == 0 && st.parks < 3 && goro_now() < end;)
        goro_sleep(GORO_MILLISECOND);
    goro_sleep(5 * GORO_MILLISECOND);

    cr_assert_eq(goro_stats_get(&st), 0);
    cr_assert_eq(st.goroutines, 3);
    cr_assert_eq(st.procs, goro_maxprocs(0));
    cr_assert_geq(st.threads, 1);
    cr_assert_geq(st.stacks, 3);
    cr_assert_geq(st.parks, 3);

    goro_dump(f);
    fflush(f);
    rewind(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    int entries = 0;
    for (const char *p = text; (p = strstr(p, "\tdump_waiter(0x")); p++)
        entries++;
    cr_assert_eq(entries, 3, "dump:\n%s", text);
    cr_assert(gt_matches(text, "^goroutine [0-9]+ \\[chan receive\\]:$"), "dump:\n%s", text);
    cr_assert(gt_matches(text, "^\tdump_waiter\\(0x0\\) \"dumped\"$"), "dump:\n%s", text);
    cr_assert(gt_matches(text, "^\tcreated by .*dump_and_stats.* at .*test_diag\\.c:[0-9]+$"),
              "dump:\n%s", text);

    goro_chan_close(dump_c);
    gt_quiesce();
    cr_assert_eq(goro_stats_get(&st2), 0);
    cr_assert_eq(st2.goroutines, 0);
    cr_assert_geq(st2.parks, st.parks);
    cr_assert_geq(st2.stacks_cached, 1);
    goro_chan_release(dump_c);
}

/* A FILE with no file descriptor (open_memstream) gets the dump too: it
 * used to be written with write(2) to fileno(out), which is -1 there. */
Test(diag, dump_to_memstream, .timeout = GT_TIMEOUT(30))
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    cr_assert_not_null(f);
    cr_assert_lt(fileno(f), 0);
    dump_c = goro_chan_make(0, 0);
    goro_attr a = {.name = "memstream"};
    cr_assert_eq(goro_go_attr(&a, dump_waiter, NULL), 0);
    while (goro_num_goroutine() < 1)
        goro_sleep(GORO_MILLISECOND);
    goro_dump(f);
    fclose(f);
    cr_assert_not_null(strstr(text, "\tdump_waiter(0x0) \"memstream\""), "dump:\n%s", text);
    free(text);
    goro_chan_close(dump_c);
    gt_quiesce();
    goro_chan_release(dump_c);
}

/* ---- a plain thread blocked in goro ------------------------------------- */

static goro_chan *plain_c;

/* Blocks the calling plain thread in a channel receive: the dump must name
 * this function, the first one on the thread's stack outside libgoro. */
__attribute__((noinline)) static void plain_blocker(void)
{
    goro_chan_recv(plain_c, NULL);
    __asm__ volatile("" ::: "memory"); /* not a tail call: keep this frame */
}

static void *plain_thread(void *arg)
{
    (void)arg;
    plain_blocker();
    return NULL;
}

static void dump_text(char *text, size_t size)
{
    FILE *f = fmemopen(text, size, "w");
    cr_assert_not_null(f);
    goro_dump(f);
    fclose(f);
}

/* A plain thread's entry says where it blocked in its own code, and the
 * source paths a dump shows are relative to the source root. */
Test(diag, dump_names_plain_thread_caller, .timeout = GT_TIMEOUT(30))
{
#if !defined(GORO_TESTING)
    cr_skip_test("release build: LTO merges libgoro's objects with the test's, so the dump "
                 "cannot tell their functions apart");
#endif
    static char text[16384];
    pthread_t t;

    plain_c = goro_chan_make(0, 0);
    dump_c = goro_chan_make(0, 0);
    goro_attr a = {.name = "beside"};
    cr_assert_eq(goro_go_attr(&a, dump_waiter, NULL), 0);
    cr_assert_eq(pthread_create(&t, NULL, plain_thread, NULL), 0);
    bool seen = false;
    for (int64_t end = goro_now() + gt_ms(5000); !seen && goro_now() < end;) {
        goro_sleep(GORO_MILLISECOND);
        dump_text(text, sizeof text);
        seen = gt_matches(text, "^thread [0-9]+ \\[chan receive\\]:$") &&
               strstr(text, "\tdump_waiter(") != NULL;
    }
    cr_assert(seen, "dump:\n%s", text);
    cr_assert(gt_matches(text, "^\tcalled from plain_blocker\\+0x[0-9a-f]+ \\(test_diag\\.c in "
                               "test_diag\\)$"),
              "dump:\n%s", text);
    cr_assert(gt_matches(text, "^\tcreated by .*dump_names_plain_thread_caller.* at "
                               "tests/test_diag\\.c:[0-9]+$"),
              "dump:\n%s", text);
    cr_assert_null(strstr(text, " at /"), "an absolute path:\n%s", text);

    goro_chan_close(plain_c);
    cr_assert_eq(pthread_join(t, NULL), 0);
    goro_chan_close(dump_c);
    gt_quiesce();
    goro_chan_release(plain_c);
    goro_chan_release(dump_c);
}

/* ---- dumps while goroutines with their own stack size exit --------------- */

#define CHURNERS 4
#define CHURN_LIVE 256 /* custom-stack goroutines alive at once, at most */
#define DUMPS 2000

static _Atomic bool churn_stop;
static _Atomic long churn_live, churners_done;

static void churn_child(void *arg)
{
    (void)arg;
    if (atomic_load_explicit(&churn_live, memory_order_relaxed) & 1)
        goro_yield(); /* some live a little longer */
    atomic_fetch_sub(&churn_live, 1);
}

/* Spawns goroutines with a non-default stack size, which map a stack of
 * their own and unmap it when they exit, until told to stop. */
static void churner(void *arg)
{
    goro_attr a = {.stack_size = (size_t)(uintptr_t)arg, .name = "churn"};

    while (!atomic_load(&churn_stop)) {
        if (atomic_load(&churn_live) >= CHURN_LIVE) {
            goro_yield();
            continue;
        }
        atomic_fetch_add(&churn_live, 1);
        int e = goro_go_attr(&a, churn_child, NULL);
        if (!gt_check(e == 0, "goro_go_attr: %s", strerror(e))) {
            atomic_fetch_sub(&churn_live, 1);
            break;
        }
    }
    atomic_fetch_add(&churners_done, 1);
}

/* A dump walks every goroutine without stopping them: one whose stack is
 * being unmapped as the dump passes must be skipped or shown stale, never
 * read through a dangling pointer. */
Test(diag, dump_while_custom_stacks_exit, .timeout = GT_TIMEOUT(120))
{
    FILE *null = fopen("/dev/null", "w");
    cr_assert_not_null(null);
    for (int i = 0; i < CHURNERS; i++)
        cr_assert_eq(goro_go(churner, (void *)(uintptr_t)((64u + 16u * (unsigned)i) << 10)), 0);

    int64_t deadline = goro_now() + gt_ms(8000);
    int dumps = 0;
    while (dumps < DUMPS && goro_now() < deadline) {
        goro_dump(null);
        dumps++;
    }
    atomic_store(&churn_stop, true);
    cr_assert(gt_wait_count(&churners_done, CHURNERS, gt_ms(10000)), "churners did not stop");
    fclose(null);
    gt_quiesce();
    cr_assert_geq(dumps, 100, "only %d dumps in 8 s (scaled)", dumps);
}
