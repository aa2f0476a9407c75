/* test_proc.c - goro and processes: the signal mask and dispositions that
 * child processes start with (posix_spawn and fork+exec from a goroutine
 * and from a goro_blocking call), signals once main has called
 * pthread_exit, and the fatal error for a child of fork() that uses the
 * runtime without exec.
 *
 * Every test that starts the runtime under test does it in a child: a fresh
 * copy of this executable (fork, then execve of /proc/self/exe), picked by
 * GT_PROC_CHILD, whose body runs from a constructor before Criterion's main.
 * That is where the application's signal mask is set up before goro first
 * runs.  The body that ends main with pthread_exit runs from main (this
 * file defines Criterion's main for that). */
#define _GNU_SOURCE
#include "common.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define CHILD_ENV "GT_PROC_CHILD"

/* ---- helpers, in any process ---------------------------------------------- */

/* Reads fd to EOF into out (NUL-terminated, truncated to outsz - 1). */
static void read_all(int fd, char *out, size_t outsz)
{
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, out + len, outsz - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (len += (size_t)n) == outsz - 1)
            break;
    }
    out[len] = 0;
}

/* ---- child bodies: the mask children of goroutines start with -------------- */

/* The application's signal state, as its main thread has it before goro
 * starts: SIGUSR2 and SIGWINCH blocked, SIGHUP ignored.  Children must
 * start with exactly this (as with Go's os/exec), whichever goro thread
 * starts them. */
static void app_signal_setup(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    sigaddset(&s, SIGWINCH);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    signal(SIGHUP, SIG_IGN);
}

/* Runs a command with posix_spawnp (how 's') or fork+execvp (how 'f'),
 * its stdout on a pipe; returns its output in out and its wait status. */
static int run_cmd(char how, char *const argv[], char *out, size_t outsz)
{
    int pfd[2], status = -1;
    pid_t pid;

    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    if (how == 'f') {
        pid = fork();
        if (pid == 0) {
            /* Nothing but dup2 and exec: no goro call in a child of fork(). */
            dup2(pfd[1], 1);
            execvp(argv[0], argv);
            _exit(127);
        }
    } else {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
        if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
            pid = -1;
        posix_spawn_file_actions_destroy(&fa);
    }
    close(pfd[1]);
    if (pid < 0) {
        close(pfd[0]);
        return -1;
    }
    read_all(pfd[0], out, outsz);
    close(pfd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

/* Prints, under the label, the blocked and ignored sets a child started
 * with `how` reports for itself (grep reading its own /proc status: no
 * shell in between, which could change its mask), and how a shell that
 * sends itself SIGTERM ends: at once by the signal, unless it starts with
 * SIGTERM blocked and goes on to exit 3. */
static void report_children(const char *label, char how)
{
    char *grep[] = {(char *)"grep", (char *)"-E", (char *)"^Sig(Blk|Ign):",
                    (char *)"/proc/self/status", NULL};
    char *term[] = {(char *)"sh", (char *)"-c", (char *)"kill -TERM $$; exit 3", NULL};
    char out[512];
    int st = run_cmd(how, grep, out, sizeof out);
    fprintf(stderr, "%s %c:\nstatus %d\n%s", label, how, st, out);
    st = run_cmd(how, term, out, sizeof out);
    fprintf(stderr, "sh %s %d\nend %s %c\n", WIFSIGNALED(st) ? "signal" : "exit",
            WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), label, how);
}

struct spawn_job {
    const char *label;
    goro_chan *done;
};

static void report_both(const char *label)
{
    report_children(label, 's');
    report_children(label, 'f');
}

static void report_job(void *arg)
{
    report_both(((struct spawn_job *)arg)->label);
}

static void spawn_goroutine(void *arg)
{
    struct spawn_job *j = arg;
    report_both(j->label);
    goro_chan_send(j->done, NULL);
}

static void spawn_via_blocking(void *arg)
{
    struct spawn_job *j = arg;
    goro_blocking(report_job, j);
    goro_chan_send(j->done, NULL);
}

/* The application sets up its signal state, and starts the reference
 * children from main before goro starts; then a goroutine and a
 * goro_blocking call start the same children. */
static void child_masks(void)
{
    struct spawn_job job = {.label = "goroutine"};

    app_signal_setup();
    report_both("reference");
    job.done = goro_chan_make(0, 0);
    goro_go(spawn_goroutine, &job);
    goro_chan_recv(job.done, NULL);
    job.label = "blocking";
    goro_go(spawn_via_blocking, &job);
    goro_chan_recv(job.done, NULL);
    fprintf(stderr, "masks done\n");
    _exit(0);
}

/* ---- child bodies: main calls pthread_exit -------------------------------- */

/* Whether the thread-group leader (main) is a zombie: it has called
 * pthread_exit while other threads run on. */
static bool main_is_zombie(void)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)getpid());
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] == 'Z';
}

static void say(const char *s)
{
    ssize_t r = write(2, s, strlen(s));
    (void)r;
}

/* Waits for main to be gone, then tells the parent to signal. */
static void announce_when_main_gone(void *arg)
{
    (void)arg;
    while (!main_is_zombie())
        goro_sleep(GORO_MILLISECOND);
    say("ready\n");
}

/* Reports the signal context's cancellation, then keeps the process alive
 * (a pending timer: no deadlock) until SIGTERM. */
static void wait_for_sigusr1(void *arg)
{
    goro_ctx *c = arg;
    goro_chan_recv(goro_ctx_done(c), NULL);
    say(goro_ctx_err(c) == ECANCELED ? "fired\n" : "wrong error\n");
    for (;;)
        goro_sleep(100 * GORO_MILLISECOND);
}

static void child_pthread_exit(void)
{
    goro_ctx *c = goro_ctx_with_signals(NULL, SIGUSR1, 0);
    if (!c) {
        say("goro_ctx_with_signals failed\n");
        _exit(3);
    }
    goro_go(wait_for_sigusr1, c);
    goro_go(announce_when_main_gone, NULL);
    pthread_exit(NULL);
}

/* ---- child bodies: fork without exec --------------------------------------- */

/* Waits (bounded) for a grandchild and prints how it ended. */
static void report_grandchild(pid_t pid)
{
    int st;
    int64_t deadline = goro_now() + gt_ms(10000);
    pid_t r;

    while ((r = waitpid(pid, &st, WNOHANG)) == 0 && goro_now() < deadline)
        usleep(10 * 1000);
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        fprintf(stderr, "grandchild hung\n");
    } else if (WIFSIGNALED(st)) {
        fprintf(stderr, "grandchild killed by signal %d\n", WTERMSIG(st));
    } else {
        fprintf(stderr, "grandchild exited %d\n", WEXITSTATUS(st));
    }
}

static goro_chan *never; /* nobody sends on it */

static void nop(void *arg)
{
    (void)arg;
}

/* In a goroutine: fork, and in the copy wait 100 ms in a select. */
static void fork_then_select(void *arg)
{
    goro_chan *done = arg;
    pid_t pid = fork();
    if (pid == 0) {
        GORO_SELECT(goro_case_recv(never, NULL), goro_case_timeout(100 * GORO_MILLISECOND));
        say("grandchild: select returned\n");
        _exit(0);
    }
    report_grandchild(pid);
    goro_chan_send(done, NULL);
}

static void child_fork_goroutine_select(void)
{
    goro_chan *done = goro_chan_make(0, 0);
    never = goro_chan_make(0, 0);
    goro_go(fork_then_select, done);
    goro_chan_recv(done, NULL);
    _exit(0);
}

/* On main, after goro started: fork, and in the copy start a goroutine
 * (what = 'g') or wait on a channel (what = 'r'). */
static void fork_on_thread(char what)
{
    never = goro_chan_make(0, 0);
    goro_go(nop, NULL);
    goro_sleep(GORO_MILLISECOND);
    pid_t pid = fork();
    if (pid == 0) {
        if (what == 'g') {
            int e = goro_go(nop, NULL);
            fprintf(stderr, "grandchild: goro_go returned %d\n", e);
        } else {
            goro_chan_recv(never, NULL);
            say("grandchild: receive returned\n");
        }
        _exit(0);
    }
    report_grandchild(pid);
    _exit(0);
}

static void child_fork_thread_go(void)
{
    fork_on_thread('g');
}

static void child_fork_thread_recv(void)
{
    fork_on_thread('r');
}

static const gt_child_body child_bodies[] = {
    {"masks", child_masks},
    {"fork_goroutine_select", child_fork_goroutine_select},
    {"fork_thread_go", child_fork_thread_go},
    {"fork_thread_recv", child_fork_thread_recv},
    {NULL, NULL},
};

__attribute__((constructor)) static void child_entry(void)
{
    const char *which = getenv(CHILD_ENV);
    if (!which || strcmp(which, "pthread_exit") != 0) /* that one runs from main */
        gt_child_dispatch(CHILD_ENV, child_bodies);
}

/* Criterion's main, but for the pthread_exit body, which must run in main
 * itself: glibc cannot unwind pthread_exit out of a constructor. */
int main(int argc, char *argv[])
{
    const char *which = getenv(CHILD_ENV);
    if (which && strcmp(which, "pthread_exit") == 0) {
        alarm((unsigned)(30 * gt_scale()));
        child_pthread_exit();
    }
    struct criterion_test_set *tests = criterion_initialize();
    int result = 0;
    if (criterion_handle_args(argc, argv, true))
        result = !criterion_run_all_tests(tests);
    criterion_finalize(tests);
    return result;
}

/* ---- the tests --------------------------------------------------------------- */

TestSuite(proc);

struct outcome {
    int status;
    char out[16384];
};

static void run_child(const char *name, struct outcome *o)
{
    gt_run_child(CHILD_ENV, name, o->out, sizeof o->out, &o->status);
}

/* What label's run printed for how, between its first and last line. */
static void run_report(const char *out, const char *label, char how, char *rep, size_t repsz)
{
    char key[64], end[64];
    snprintf(key, sizeof key, "%s %c:\n", label, how);
    snprintf(end, sizeof end, "end %s %c\n", label, how);
    const char *p = strstr(out, key);
    cr_assert_not_null(p, "no report from %s %c; stderr:\n%s", label, how, out);
    p += strlen(key);
    const char *e = strstr(p, end);
    cr_assert_not_null(e, "stderr:\n%s", out);
    cr_assert_lt((size_t)(e - p), repsz);
    memcpy(rep, p, (size_t)(e - p));
    rep[e - p] = 0;
}

/* Children started from goroutines and from goro_blocking calls, with
 * posix_spawn and with fork+exec, start with the signal mask and ignored
 * set that the same children get from the application's main thread
 * (SIGUSR2 and SIGWINCH blocked, SIGHUP ignored), and a SIGTERM they send
 * themselves ends them at once. */
Test(proc, children_start_with_the_application_signal_mask, .timeout = GT_TIMEOUT(60))
{
    struct outcome o;
    char ref[512], got[512];
    char term[64];

    run_child("masks", &o);
    cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0, "child status %#x, stderr:\n%s",
              o.status, o.out);
    cr_assert_not_null(strstr(o.out, "masks done"), "stderr:\n%s", o.out);
    snprintf(term, sizeof term, "sh signal %d", SIGTERM);
    for (int i = 0; i < 2; i++) {
        char how = "sf"[i];
        run_report(o.out, "reference", how, ref, sizeof ref);
        cr_assert(gt_matches(ref, "^SigBlk:\t0*8000800$"), "reference %c: %s", how, ref);
        cr_assert(gt_matches(ref, "^status 0$"), "reference %c: %s", how, ref);
        cr_assert_not_null(strstr(ref, term), "reference %c: %s", how, ref);
        for (int j = 0; j < 2; j++) {
            const char *label = j ? "blocking" : "goroutine";
            run_report(o.out, label, how, got, sizeof got);
            cr_assert_str_eq(got, ref, "%s in a %s: the child reported\n%s\nfrom main:\n%s",
                             how == 's' ? "posix_spawn" : "fork+exec",
                             j ? "goro_blocking call" : "goroutine", got, ref);
        }
    }
}

/* Starts the child body name with its stderr on a pipe; returns the read
 * end, and the pid in *pid. */
static int start_child(const char *name, pid_t *pid)
{
    int pfd[2];
    size_t nenv = 0;
    char marker[128];
    struct rlimit nocore = {0, 0};

    snprintf(marker, sizeof marker, "%s=%s", CHILD_ENV, name);
    while (environ[nenv])
        nenv++;
    char **env = calloc(nenv + 2, sizeof *env);
    cr_assert_not_null(env);
    /* Not BoxFort's variables: this child reaches Criterion's code (main),
     * which must not take it for a test worker. */
    nenv = 0;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "BXFI_", 5) != 0)
            env[nenv++] = *e;
    env[nenv] = marker;
    char *argv[] = {(char *)"goro-test-child", NULL};
    cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
    fflush(NULL);
    *pid = fork();
    cr_assert_geq(*pid, 0);
    if (*pid == 0) {
        setrlimit(RLIMIT_CORE, &nocore);
        dup2(pfd[1], 2);
        execve("/proc/self/exe", argv, env);
        _exit(127);
    }
    free(env);
    close(pfd[1]);
    return pfd[0];
}

/* Reads from fd into buf (appending at *len) until it holds want or
 * timeout_ns passes; returns whether it does. */
static bool wait_output(int fd, char *buf, size_t bufsz, size_t *len, const char *want,
                        int64_t timeout_ns)
{
    int64_t deadline = goro_now() + timeout_ns;
    while (!strstr(buf, want)) {
        int64_t left = deadline - goro_now();
        if (left <= 0)
            return false;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, (int)(left / GORO_MILLISECOND) + 1) <= 0)
            continue;
        ssize_t n = read(fd, buf + *len, bufsz - 1 - *len);
        if (n <= 0)
            return strstr(buf, want) != NULL;
        *len += (size_t)n;
        buf[*len] = 0;
    }
    return true;
}

/* Waits (bounded) for pid to end; returns whether it did, status in *st. */
static bool wait_exit(pid_t pid, int *st, int64_t timeout_ns)
{
    int64_t deadline = goro_now() + timeout_ns;
    pid_t r;
    while ((r = waitpid(pid, st, WNOHANG)) == 0 && goro_now() < deadline)
        usleep(5 * 1000);
    return r == pid;
}

/* After main calls pthread_exit, a process-directed SIGUSR1 still cancels
 * a signal context, and SIGTERM still ends the process. */
Test(proc, signals_reach_the_process_after_main_pthread_exit, .timeout = GT_TIMEOUT(60))
{
    char out[4096] = "";
    size_t len = 0;
    pid_t pid;
    int st;
    int fd = start_child("pthread_exit", &pid);

    bool ready = wait_output(fd, out, sizeof out, &len, "ready\n", gt_ms(10000));
    if (ready)
        kill(pid, SIGUSR1);
    bool fired = ready && wait_output(fd, out, sizeof out, &len, "fired\n", gt_ms(5000));
    kill(pid, SIGTERM);
    bool ended = wait_exit(pid, &st, gt_ms(5000));
    if (!ended) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    close(fd);
    cr_assert(ready, "main did not exit, or the child did not say so; status %#x, output:\n%s", st,
              out);
    cr_assert(fired, "SIGUSR1 did not cancel the signal context; output:\n%s", out);
    cr_assert(ended, "SIGTERM did not end the process; output:\n%s", out);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "child status %#x; output:\n%s", st, out);
}

static void expect_fork_fatal(const char *body)
{
    struct outcome o;
    run_child(body, &o);
    cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0, "child status %#x, stderr:\n%s",
              o.status, o.out);
    cr_assert(gt_matches(o.out, "^fatal error: goro: runtime used in a child of fork\\(\\)"),
              "no fatal error line; stderr:\n%s", o.out);
    cr_assert(gt_matches(o.out, "^grandchild killed by signal 6$"), "stderr:\n%s", o.out);
}

/* A select with a timeout in the copy of a goroutine made by fork(): no
 * thread runs timers there, so it must not wait forever. */
Test(proc, fork_child_select_is_fatal, .timeout = GT_TIMEOUT(60))
{
    expect_fork_fatal("fork_goroutine_select");
}

/* goro_go in a child of fork() made by main after goro started. */
Test(proc, fork_child_goro_go_is_fatal, .timeout = GT_TIMEOUT(60))
{
    expect_fork_fatal("fork_thread_go");
}

/* A plain thread's channel wait in a child of fork(). */
Test(proc, fork_child_thread_wait_is_fatal, .timeout = GT_TIMEOUT(60))
{
    expect_fork_fatal("fork_thread_recv");
}
