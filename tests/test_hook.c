/* test_hook.c - goro's own read, write, poll, sleep, ... (src/hook.c;
 * docs/guide.md, "Using existing C libraries").
 *
 * Built twice: test_hook links the static library (the interposers are
 * then the executable's own), test_hook_shared libgoro.so.  Both link
 * tests/support/hook_dso.c, a shared library that calls read, write and
 * poll itself, as a C client library would.
 *
 * "Parks instead of blocking its thread" is shown the way the runtime
 * sees it: with one P (goro_maxprocs(1)) the goroutine shows as "IO wait"
 * (or "sleep") in goro_dump while another goroutine runs, and the call
 * still returns what POSIX says once the peer acts.  Plain threads, the
 * application's O_NONBLOCK, SO_RCVTIMEO, close and dup2 waking a waiter,
 * poll and select over many fds, epoll_wait on a library's own epoll fd,
 * getaddrinfo on the blocking pool, and the GORO_HOOK=0 kill switch (a
 * child process) each have a test.
 */
#define _GNU_SOURCE
#include "common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>

#define CHILD_ENV "GT_HOOK_CHILD"

ssize_t hook_dso_read(int fd, void *buf, size_t n);
ssize_t hook_dso_write(int fd, const void *buf, size_t n);
int hook_dso_poll(struct pollfd *fds, nfds_t n, int ms);

/* ---- helpers ------------------------------------------------------------ */

/* The real O_NONBLOCK of fd, past goro's fcntl. */
static bool real_nonblock(int fd)
{
    return (syscall(SYS_fcntl, fd, F_GETFL) & O_NONBLOCK) != 0;
}

struct state_goal {
    const char *state;
    int n;
};

static bool state_reached(void *arg)
{
    struct state_goal *g = arg;
    return gt_in_state(g->state) >= g->n;
}

/* Waits until n goroutines show as state; asserts that they do. */
static void await_state(const char *state, int n)
{
    struct state_goal g = {state, n};
    cr_assert(gt_wait_until(state_reached, &g, gt_ms(5000)), "%d goroutine(s) never showed as %s",
              n, state);
}

/* One goroutine's blocking call, and what it returned. */
struct call {
    int fd;
    int kind;
    ssize_t r;
    int err;
    char buf[64];
    _Atomic int done;
};

/* ---- every reading call parks -------------------------------------------------- */

enum {
    C_READ,
    C_READV,
    C_RECV,
    C_RECVFROM,
    C_RECVMSG,
    C_DSO_READ,
    C_RECV_WAITALL,
    C_NKINDS
};
static const char *const kind_names[] = {"read", "readv", "recv", "recvfrom", "recvmsg",
                                         "read in a shared library", "recv(MSG_WAITALL)"};

static void do_read(void *arg)
{
    struct call *c = arg;
    struct iovec iov = {c->buf, sizeof c->buf};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    switch (c->kind) {
    case C_READ:
        c->r = read(c->fd, c->buf, sizeof c->buf);
        break;
    case C_READV:
        c->r = readv(c->fd, &iov, 1);
        break;
    case C_RECV:
        c->r = recv(c->fd, c->buf, sizeof c->buf, 0);
        break;
    case C_RECVFROM:
        c->r = recvfrom(c->fd, c->buf, sizeof c->buf, 0, NULL, NULL);
        break;
    case C_RECVMSG:
        c->r = recvmsg(c->fd, &m, 0);
        break;
    case C_DSO_READ:
        c->r = hook_dso_read(c->fd, c->buf, sizeof c->buf);
        break;
    case C_RECV_WAITALL:
        c->r = recv(c->fd, c->buf, 10, MSG_WAITALL);
        break;
    }
    c->err = gt_errno();
    atomic_store(&c->done, 1);
}

static _Atomic long ticks;

static void ticker(void *arg)
{
    struct call *c = arg;
    while (!atomic_load(&c->done)) {
        atomic_fetch_add(&ticks, 1);
        goro_yield();
    }
}

Test(hook, reads_park, .timeout = GT_TIMEOUT(60))
{
    goro_maxprocs(1);
    for (int k = 0; k < C_NKINDS; k++) {
        int sv[2];
        struct call c = {.kind = k};
        gt_socketpair(sv);
        c.fd = sv[0];
        gt_spawn(do_read, &c);
        await_state("IO wait", 1);
        /* One P, and the reader holds no thread: another goroutine runs. */
        long t0 = atomic_load(&ticks);
        gt_spawn(ticker, &c);
        cr_assert(gt_wait_count(&ticks, t0 + 100, gt_ms(5000)), "%s: nothing else ran",
                  kind_names[k]);
        if (k == C_RECV_WAITALL) {
            /* MSG_WAITALL waits for all 10 bytes, across two writes. */
            cr_assert_eq(write(sv[1], "hello", 5), 5);
            goro_sleep(20 * GORO_MILLISECOND);
            cr_assert_eq(atomic_load(&c.done), 0, "recv(MSG_WAITALL) returned early");
            cr_assert_eq(write(sv[1], "world", 5), 5);
        } else {
            cr_assert_eq(write(sv[1], "hello", 5), 5);
        }
        goro_waitgroup_wait(gt_running());
        cr_assert_eq(c.r, k == C_RECV_WAITALL ? 10 : 5, "%s returned %zd (%s)", kind_names[k], c.r,
                     strerror(c.err));
        cr_assert_eq(memcmp(c.buf, k == C_RECV_WAITALL ? "helloworld" : "hello", (size_t)c.r), 0);
        close(sv[0]);
        close(sv[1]);
    }
    gt_join();
}

/* ---- pipes and eventfds park too ------------------------------------------- */

Test(hook, pipe_and_eventfd_park, .timeout = GT_TIMEOUT(30))
{
    int p[2], efd;
    uint64_t one = 1;
    struct call c = {.kind = C_READ};

    goro_maxprocs(1);
    cr_assert_eq(pipe(p), 0);
    c.fd = p[0];
    gt_spawn(do_read, &c);
    await_state("IO wait", 1);
    cr_assert_eq(write(p[1], "abc", 3), 3);
    goro_waitgroup_wait(gt_running());
    cr_assert_eq(c.r, 3);
    cr_assert_not(real_nonblock(p[1]), "the write end was never used by a goroutine");

    efd = eventfd(0, EFD_CLOEXEC);
    cr_assert_geq(efd, 0);
    c = (struct call){.kind = C_READ, .fd = efd};
    gt_spawn(do_read, &c);
    await_state("IO wait", 1);
    cr_assert_eq(write(efd, &one, sizeof one), (ssize_t)sizeof one);
    goro_waitgroup_wait(gt_running());
    cr_assert_eq(c.r, 8);
    close(p[0]);
    close(p[1]);
    close(efd);
    gt_join();
}

/* A terminal: the slave side of a pseudo-terminal, read in canonical mode. */
Test(hook, terminal_parks, .timeout = GT_TIMEOUT(30))
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    cr_assert_geq(m, 0, "posix_openpt: %s", strerror(errno));
    cr_assert_eq(grantpt(m), 0);
    cr_assert_eq(unlockpt(m), 0);
    int s = open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC);
    cr_assert_geq(s, 0, "open %s: %s", ptsname(m), strerror(errno));
    struct call c = {.kind = C_READ, .fd = s};

    goro_maxprocs(1);
    gt_spawn(do_read, &c);
    await_state("IO wait", 1);
    cr_assert_eq(write(m, "line\n", 5), 5);
    goro_waitgroup_wait(gt_running());
    cr_assert_eq(c.r, 5, "read from the terminal: %zd (%s)", c.r, strerror(c.err));
    cr_assert_eq(memcmp(c.buf, "line\n", 5), 0);
    close(s);
    close(m);
    gt_join();
}

/* ---- every writing call parks, and writes everything ------------------------- */

enum { W_WRITE, W_WRITEV, W_SEND, W_SENDTO, W_SENDMSG, W_DSO_WRITE, W_NKINDS };
static const char *const wkind_names[] = {"write", "writev", "send", "sendto", "sendmsg",
                                          "write in a shared library"};

#define BIG (1 << 20)

struct wcall {
    int fd, kind;
    char *data;
    ssize_t r;
    int err;
};

static void do_write(void *arg)
{
    struct wcall *c = arg;
    struct iovec iov[2] = {{c->data, BIG / 2}, {c->data + BIG / 2, BIG / 2}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
    switch (c->kind) {
    case W_WRITE:
        c->r = write(c->fd, c->data, BIG);
        break;
    case W_WRITEV:
        c->r = writev(c->fd, iov, 2);
        break;
    case W_SEND:
        c->r = send(c->fd, c->data, BIG, 0);
        break;
    case W_SENDTO:
        c->r = sendto(c->fd, c->data, BIG, 0, NULL, 0);
        break;
    case W_SENDMSG:
        c->r = sendmsg(c->fd, &m, 0);
        break;
    case W_DSO_WRITE:
        c->r = hook_dso_write(c->fd, c->data, BIG);
        break;
    }
    c->err = gt_errno();
}

Test(hook, writes_park_and_finish, .timeout = GT_TIMEOUT(60))
{
    char *data = malloc(BIG), *got = malloc(BIG);
    cr_assert(data && got);
    for (int i = 0; i < BIG; i++)
        data[i] = (char)(i * 7 + i / 1000);
    goro_maxprocs(1);
    for (int k = 0; k < W_NKINDS; k++) {
        int sv[2];
        gt_socketpair(sv);
        struct wcall c = {.fd = sv[0], .kind = k, .data = data};
        gt_spawn(do_write, &c);
        /* A megabyte does not fit a socket buffer: the writer parks. */
        await_state("IO wait", 1);
        size_t n = 0;
        while (n < BIG) {
            ssize_t r = read(sv[1], got + n, BIG - n);
            cr_assert_gt(r, 0, "%s: read: %s", wkind_names[k], strerror(errno));
            n += (size_t)r;
        }
        goro_waitgroup_wait(gt_running());
        cr_assert_eq(c.r, BIG, "%s returned %zd (%s)", wkind_names[k], c.r, strerror(c.err));
        cr_assert_eq(memcmp(data, got, BIG), 0, "%s: bytes differ", wkind_names[k]);
        close(sv[0]);
        close(sv[1]);
    }
    free(data);
    free(got);
    gt_join();
}

/* ---- accept and connect --------------------------------------------------------- */

struct acc {
    int lfd, fd, err;
    struct sockaddr_in addr;
};

static void do_accept(void *arg)
{
    struct acc *a = arg;
    a->fd = accept(a->lfd, NULL, NULL);
    a->err = gt_errno();
}

static void do_connect(void *arg)
{
    struct acc *a = arg;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    gt_check(fd >= 0, "socket: %s", strerror(gt_errno()));
    int r = connect(fd, (struct sockaddr *)&a->addr, sizeof a->addr);
    gt_check(r == 0, "connect: %s", strerror(gt_errno()));
    gt_check(write(fd, "x", 1) == 1, "write after connect");
    close(fd);
}

static int listener(struct sockaddr_in *addr)
{
    socklen_t len = sizeof *addr;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    *addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)addr, sizeof *addr), 0);
    cr_assert_eq(listen(fd, 16), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)addr, &len), 0);
    return fd;
}

Test(hook, accept_and_connect_park, .timeout = GT_TIMEOUT(30))
{
    struct acc a = {.fd = -1};
    char c;

    goro_maxprocs(1);
    a.lfd = listener(&a.addr);
    gt_spawn(do_accept, &a);
    await_state("IO wait", 1);
    gt_spawn(do_connect, &a);
    goro_waitgroup_wait(gt_running());
    cr_assert_geq(a.fd, 0, "accept: %s", strerror(a.err));
    /* The accepted socket is blocking for the application, whatever goro
     * made of it; reading it from this thread blocks until the byte. */
    cr_assert_eq(fcntl(a.fd, F_GETFL) & O_NONBLOCK, 0);
    cr_assert_eq(read(a.fd, &c, 1), 1);
    cr_assert_eq(c, 'x');
    close(a.fd);
    close(a.lfd);
    gt_join();
}

static void do_connect_refused(void *arg)
{
    struct acc *a = arg;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    a->fd = connect(fd, (struct sockaddr *)&a->addr, sizeof a->addr);
    a->err = gt_errno();
    close(fd);
}

Test(hook, connect_refused, .timeout = GT_TIMEOUT(30))
{
    struct acc a;
    a.lfd = listener(&a.addr);
    close(a.lfd); /* nobody listens on that port now */
    gt_spawn(do_connect_refused, &a);
    gt_join();
    cr_assert_eq(a.fd, -1);
    cr_assert_eq(a.err, ECONNREFUSED, "connect: %s", strerror(a.err));
}

/* ---- the application's O_NONBLOCK ------------------------------------------------- */

struct nb {
    int sv[2];
    int kind;
};

static void nb_body(void *arg)
{
    struct nb *n = arg;
    char b[8];
    int fd = n->sv[0], on = 1;

    switch (n->kind) {
    case 0:
        gt_check(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0, "F_SETFL");
        break;
    case 1:
        gt_check(ioctl(fd, FIONBIO, &on) == 0, "FIONBIO");
        break;
    }
    if (n->kind == 3) {
        gt_check(recv(fd, b, sizeof b, MSG_DONTWAIT) == -1 && gt_errno() == EAGAIN,
                 "MSG_DONTWAIT: no EAGAIN");
        return;
    }
    gt_check(read(fd, b, sizeof b) == -1 && gt_errno() == EAGAIN, "kind %d: no EAGAIN", n->kind);
    gt_check(fcntl(fd, F_GETFL) & O_NONBLOCK, "kind %d: F_GETFL hides O_NONBLOCK", n->kind);
}

Test(hook, app_nonblock_gets_eagain, .timeout = GT_TIMEOUT(30))
{
    /* 0 fcntl, 1 ioctl FIONBIO, 2 SOCK_NONBLOCK, 3 MSG_DONTWAIT on a blocking fd */
    for (int k = 0; k < 4; k++) {
        struct nb n = {.kind = k};
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | (k == 2 ? SOCK_NONBLOCK : 0), 0, n.sv), 0);
        gt_spawn(nb_body, &n);
        goro_waitgroup_wait(gt_running());
        close(n.sv[0]);
        close(n.sv[1]);
    }
    gt_join();
}

static void flags_body(void *arg)
{
    int *sv = arg;
    char b;
    gt_check(read(sv[0], &b, 1) == 1, "read");
    /* goro made it non-blocking, the application still sees a blocking fd */
    gt_check(real_nonblock(sv[0]), "goro did not make the fd non-blocking");
    gt_check(!(fcntl(sv[0], F_GETFL) & O_NONBLOCK), "F_GETFL shows goro's O_NONBLOCK");
    /* Turned on and off again by the application: each time its view. */
    gt_check(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0, "F_SETFL on");
    gt_check(read(sv[0], &b, 1) == -1 && gt_errno() == EAGAIN, "no EAGAIN once non-blocking");
    gt_check(fcntl(sv[0], F_SETFL, 0) == 0, "F_SETFL off");
    gt_check(!(fcntl(sv[0], F_GETFL) & O_NONBLOCK), "F_GETFL after F_SETFL 0");
    gt_check(real_nonblock(sv[0]), "F_SETFL 0 made the real fd blocking");
    gt_check(read(sv[0], &b, 1) == 1 && b == '2', "blocking read after F_SETFL 0");
}

static void late_writer(void *arg)
{
    int *sv = arg;
    goro_sleep(30 * GORO_MILLISECOND);
    gt_check(write(sv[1], "2", 1) == 1, "late write");
}

Test(hook, getfl_shows_the_application_view, .timeout = GT_TIMEOUT(30))
{
    int sv[2];
    gt_socketpair(sv);
    cr_assert_eq(write(sv[1], "1", 1), 1);
    gt_spawn(late_writer, sv);
    gt_spawn(flags_body, sv);
    gt_join();
    close(sv[0]);
    close(sv[1]);
}

/* accept4(SOCK_NONBLOCK) gives a socket the application made non-blocking. */
static void accept4_nb_body(void *arg)
{
    struct acc *a = arg;
    char b;
    int fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    gt_check(fd >= 0, "accept4: %s", strerror(gt_errno()));
    gt_check(fcntl(fd, F_GETFL) & O_NONBLOCK, "accept4's SOCK_NONBLOCK not shown");
    gt_check(read(fd, &b, 1) == -1 && gt_errno() == EAGAIN, "accept4'd socket: no EAGAIN");
    close(fd);
}

static void connect_hold(void *arg)
{
    struct acc *a = arg;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    gt_check(connect(fd, (struct sockaddr *)&a->addr, sizeof a->addr) == 0, "connect");
    goro_sleep(50 * GORO_MILLISECOND);
    close(fd);
}

Test(hook, accept4_nonblock_flag, .timeout = GT_TIMEOUT(30))
{
    struct acc a;
    a.lfd = listener(&a.addr);
    gt_spawn(connect_hold, &a);
    gt_spawn(accept4_nb_body, &a);
    gt_join();
    close(a.lfd);
}

/* ---- SO_RCVTIMEO ------------------------------------------------------------- */

Test(hook, so_rcvtimeo_honoured, .timeout = GT_TIMEOUT(30))
{
    int sv[2];
    struct timeval tv = {0, 100 * 1000};
    struct call c = {.kind = C_READ};

    goro_maxprocs(1);
    gt_socketpair(sv);
    cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    c.fd = sv[0];
    int64_t t0 = goro_now();
    gt_spawn(do_read, &c);
    await_state("IO wait", 1);
    goro_waitgroup_wait(gt_running());
    int64_t took = goro_now() - t0;
    cr_assert_eq(c.r, -1);
    cr_assert_eq(c.err, EAGAIN, "read: %s", strerror(c.err));
    cr_assert_geq(took, 95 * GORO_MILLISECOND, "timed out after %lld ns", (long long)took);
    cr_assert_lt(took, gt_ms(2000), "timed out after %lld ns", (long long)took);
    close(sv[0]);
    close(sv[1]);
    gt_join();
}

/* ---- close and dup2 wake a waiter ---------------------------------------------------- */

static void closer(void *arg)
{
    int *fd = arg;
    close(*fd);
}

/* Under TSan with libgoro.so, TSan's own close interceptor runs before
 * goro's close (it comes first in the search order) and records the close
 * as racing with the read it interrupts, as it does for two threads; goro
 * cannot add the happens-before edge in time.  The static library's close
 * runs first and adds it.  (Criterion fails a run with a skipped test, so
 * these two return at once in that one build.) */
#if GT_TSAN && defined(GT_HOOK_SHARED)
#define SKIP_CLOSE_UNDER_TSAN()                                                \
    do {                                                                       \
        cr_log_info("not under TSan with libgoro.so: see above");            \
        return;                                                                \
    } while (0)
#else
#define SKIP_CLOSE_UNDER_TSAN() ((void)0)
#endif

Test(hook, close_wakes_waiter_ebadf, .timeout = GT_TIMEOUT(30))
{
    int sv[2];
    struct call c = {.kind = C_READ};

    SKIP_CLOSE_UNDER_TSAN();
    goro_maxprocs(1);
    gt_socketpair(sv);
    c.fd = sv[0];
    gt_spawn(do_read, &c);
    await_state("IO wait", 1);
    gt_spawn(closer, &sv[0]);
    gt_join();
    cr_assert_eq(c.r, -1);
    cr_assert_eq(c.err, EBADF, "read after close: %s", strerror(c.err));
    close(sv[1]);
}

Test(hook, dup2_wakes_waiter_ebadf, .timeout = GT_TIMEOUT(30))
{
    int sv[2], p[2];
    struct call c = {.kind = C_READ};

    SKIP_CLOSE_UNDER_TSAN();
    goro_maxprocs(1);
    gt_socketpair(sv);
    cr_assert_eq(pipe(p), 0);
    c.fd = sv[0];
    gt_spawn(do_read, &c);
    await_state("IO wait", 1);
    cr_assert_eq(dup2(p[0], sv[0]), sv[0]);
    goro_waitgroup_wait(gt_running());
    cr_assert_eq(c.r, -1);
    cr_assert_eq(c.err, EBADF, "read after dup2: %s", strerror(c.err));
    /* The number now names the pipe, with nothing of the socket's state. */
    cr_assert_eq(fcntl(sv[0], F_GETFL) & O_NONBLOCK, 0);
    cr_assert_eq(write(p[1], "p", 1), 1);
    char b;
    cr_assert_eq(read(sv[0], &b, 1), 1);
    cr_assert_eq(b, 'p');
    close(sv[0]);
    close(sv[1]);
    close(p[0]);
    close(p[1]);
    gt_join();
}

/* ---- plain threads ----------------------------------------------------------------- */

static void *thread_read(void *arg)
{
    struct call *c = arg;
    c->r = read(c->fd, c->buf, sizeof c->buf);
    c->err = errno;
    return NULL;
}

static void goroutine_reads_one(void *arg)
{
    int *sv = arg;
    char b;
    gt_check(read(sv[0], &b, 1) == 1, "goroutine read");
}

Test(hook, plain_thread_blocks_as_libc, .timeout = GT_TIMEOUT(30))
{
    int sv[2];
    pthread_t t;
    struct call c = {.kind = C_READ};

    gt_socketpair(sv);
    /* A goroutine uses the fd first: goro makes it non-blocking. */
    cr_assert_eq(write(sv[1], "a", 1), 1);
    gt_spawn(goroutine_reads_one, sv);
    goro_waitgroup_wait(gt_running());
    cr_assert(real_nonblock(sv[0]));
    /* A plain thread's read still blocks until data comes. */
    c.fd = sv[0];
    cr_assert_eq(pthread_create(&t, NULL, thread_read, &c), 0);
    usleep(50 * 1000);
    cr_assert_eq(write(sv[1], "later", 5), 5);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(c.r, 5, "plain thread read: %zd (%s)", c.r, strerror(c.err));
    /* And a plain thread on an fd it made non-blocking gets EAGAIN. */
    cr_assert_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    cr_assert_eq(read(sv[0], c.buf, 1), -1);
    cr_assert_eq(errno, EAGAIN);
    /* SO_RCVTIMEO on a plain thread, on a fd goro made non-blocking. */
    cr_assert_eq(fcntl(sv[0], F_SETFL, 0), 0);
    struct timeval tv = {0, 50 * 1000};
    cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    int64_t t0 = goro_now();
    cr_assert_eq(read(sv[0], c.buf, 1), -1);
    cr_assert_eq(errno, EAGAIN);
    cr_assert_geq(goro_now() - t0, 45 * GORO_MILLISECOND);
    close(sv[0]);
    close(sv[1]);
    gt_join();
}

/* ---- poll and select over many fds ----------------------------------------------------- */

#define NPAIRS 40

struct many {
    int sv[NPAIRS][2];
    int which;
    int r, err;
    struct pollfd pfd[NPAIRS];
    int64_t took;
    bool use_dso;
};

static void do_poll(void *arg)
{
    struct many *m = arg;
    for (int i = 0; i < NPAIRS; i++)
        m->pfd[i] = (struct pollfd){.fd = m->sv[i][0], .events = POLLIN};
    int64_t t0 = goro_now();
    m->r = m->use_dso ? hook_dso_poll(m->pfd, NPAIRS, 10000) : poll(m->pfd, NPAIRS, 10000);
    m->err = gt_errno();
    m->took = goro_now() - t0;
}

static void many_open(struct many *m)
{
    for (int i = 0; i < NPAIRS; i++)
        gt_socketpair(m->sv[i]);
}

static void many_close(struct many *m)
{
    for (int i = 0; i < NPAIRS; i++) {
        close(m->sv[i][0]);
        close(m->sv[i][1]);
    }
}

Test(hook, poll_many_wakes_on_first, .timeout = GT_TIMEOUT(30))
{
    for (int dso = 0; dso < 2; dso++) {
        struct many m = {.which = 27, .use_dso = dso};
        goro_maxprocs(1);
        many_open(&m);
        gt_spawn(do_poll, &m);
        await_state("IO wait", 1);
        cr_assert_eq(write(m.sv[m.which][1], "!", 1), 1);
        goro_waitgroup_wait(gt_running());
        cr_assert_eq(m.r, 1, "poll: %d (%s)", m.r, strerror(m.err));
        for (int i = 0; i < NPAIRS; i++)
            cr_assert_eq(m.pfd[i].revents, i == m.which ? POLLIN : 0, "fd %d: revents %d", i,
                         m.pfd[i].revents);
        cr_assert_lt(m.took, gt_ms(5000));
        many_close(&m);
    }
    gt_join();
}

static void poll_timeout_body(void *arg)
{
    struct many *m = arg;
    for (int i = 0; i < NPAIRS; i++)
        m->pfd[i] = (struct pollfd){.fd = m->sv[i][0], .events = POLLIN};
    int64_t t0 = goro_now();
    m->r = poll(m->pfd, NPAIRS, 60);
    m->took = goro_now() - t0;
}

Test(hook, poll_timeout, .timeout = GT_TIMEOUT(30))
{
    struct many m = {0};
    many_open(&m);
    gt_spawn(poll_timeout_body, &m);
    gt_join();
    cr_assert_eq(m.r, 0);
    cr_assert_geq(m.took, 59 * GORO_MILLISECOND, "took %lld ns", (long long)m.took);
    cr_assert_lt(m.took, gt_ms(3000));
    many_close(&m);
}

static void do_select(void *arg)
{
    struct many *m = arg;
    fd_set rs;
    struct timeval tv = {10, 0};
    int maxfd = 0;
    FD_ZERO(&rs);
    for (int i = 0; i < NPAIRS; i++) {
        FD_SET(m->sv[i][0], &rs);
        if (m->sv[i][0] > maxfd)
            maxfd = m->sv[i][0];
    }
    m->r = select(maxfd + 1, &rs, NULL, NULL, &tv);
    m->err = gt_errno();
    int set = 0;
    for (int i = 0; i < NPAIRS; i++)
        if (FD_ISSET(m->sv[i][0], &rs)) {
            set++;
            gt_check(i == m->which, "select: fd %d set", i);
        }
    gt_check(set == m->r, "select: %d bits for %d", set, m->r);
    /* Now with a short timeout and nothing new: 0, all bits cleared. */
    char b;
    gt_check(read(m->sv[m->which][0], &b, 1) == 1, "read");
    for (int i = 0; i < NPAIRS; i++)
        FD_SET(m->sv[i][0], &rs);
    tv = (struct timeval){0, 30 * 1000};
    int64_t t0 = goro_now();
    int r = select(maxfd + 1, &rs, NULL, NULL, &tv);
    m->took = goro_now() - t0;
    gt_check(r == 0, "select timeout: %d", r);
    for (int i = 0; i < NPAIRS; i++)
        gt_check(!FD_ISSET(m->sv[i][0], &rs), "bit %d left set", i);
}

Test(hook, select_many, .timeout = GT_TIMEOUT(30))
{
    struct many m = {.which = 5};
    goro_maxprocs(1);
    many_open(&m);
    gt_spawn(do_select, &m);
    await_state("IO wait", 1);
    cr_assert_eq(write(m.sv[m.which][1], "!", 1), 1);
    gt_join();
    cr_assert_eq(m.r, 1, "select: %d (%s)", m.r, strerror(m.err));
    cr_assert_geq(m.took, 29 * GORO_MILLISECOND);
    many_close(&m);
}

/* ---- epoll_wait on a library's own epoll fd ----------------------------------------------- */

struct ep {
    int epfd, r, ms;
    struct epoll_event ev[4];
    int64_t took;
};

static void do_epoll(void *arg)
{
    struct ep *e = arg;
    int64_t t0 = goro_now();
    e->r = epoll_wait(e->epfd, e->ev, 4, e->ms);
    e->took = goro_now() - t0;
}

Test(hook, epoll_wait_on_foreign_epoll_fd, .timeout = GT_TIMEOUT(30))
{
    int sv[2];
    struct ep e = {.ms = 10000};
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 77};

    goro_maxprocs(1);
    gt_socketpair(sv);
    e.epfd = epoll_create1(EPOLL_CLOEXEC);
    cr_assert_geq(e.epfd, 0);
    cr_assert_eq(epoll_ctl(e.epfd, EPOLL_CTL_ADD, sv[0], &ev), 0);
    gt_spawn(do_epoll, &e);
    await_state("IO wait", 1);
    cr_assert_eq(write(sv[1], "e", 1), 1);
    goro_waitgroup_wait(gt_running());
    cr_assert_eq(e.r, 1);
    cr_assert_eq(e.ev[0].data.u32, 77);
    /* Drained: a short wait times out with nothing. */
    char b;
    cr_assert_eq(read(sv[0], &b, 1), 1);
    e.ms = 40;
    gt_spawn(do_epoll, &e);
    gt_join();
    cr_assert_eq(e.r, 0);
    cr_assert_geq(e.took, 39 * GORO_MILLISECOND);
    close(e.epfd);
    close(sv[0]);
    close(sv[1]);
}

/* ---- the sleep family --------------------------------------------------------------------- */

struct sl {
    int kind;
    int64_t took;
    int r;
};

static void do_sleep(void *arg)
{
    struct sl *s = arg;
    struct timespec ts = {0, 80 * 1000 * 1000}, abs;
    int64_t t0 = goro_now();
    switch (s->kind) {
    case 0:
        s->r = usleep(80 * 1000);
        break;
    case 1:
        s->r = nanosleep(&ts, NULL);
        break;
    case 2:
        s->r = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
        break;
    case 3:
        clock_gettime(CLOCK_MONOTONIC, &abs);
        abs.tv_nsec += 80 * 1000 * 1000;
        if (abs.tv_nsec >= 1000000000) {
            abs.tv_sec++;
            abs.tv_nsec -= 1000000000;
        }
        s->r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL);
        break;
    case 4:
        s->r = poll(NULL, 0, 80);
        break;
    case 5:
        s->r = (int)sleep(1);
        break;
    }
    s->took = goro_now() - t0;
}

Test(hook, sleep_family_parks, .timeout = GT_TIMEOUT(60))
{
    static const char *const names[] = {"usleep", "nanosleep", "clock_nanosleep",
                                        "clock_nanosleep(TIMER_ABSTIME)", "poll(NULL, 0)",
                                        "sleep"};
    goro_maxprocs(1);
    for (int k = 0; k < 6; k++) {
        struct sl s = {.kind = k};
        int64_t want = k == 5 ? GORO_SECOND : 80 * GORO_MILLISECOND;
        gt_spawn(do_sleep, &s);
        await_state("sleep", 1);
        goro_waitgroup_wait(gt_running());
        cr_assert_eq(s.r, 0, "%s returned %d", names[k], s.r);
        cr_assert_geq(s.took, want - GORO_MILLISECOND, "%s: %lld ns", names[k], (long long)s.took);
        cr_assert_lt(s.took, want + gt_ms(1000), "%s: %lld ns", names[k], (long long)s.took);
    }
    gt_join();
}

/* ---- getaddrinfo runs on the blocking pool ---------------------------------------------------- */

struct gai_res {
    int rc;
    char addr[64];
};

static void do_gai(void *arg)
{
    struct gai_res *g = arg;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST}, *res;
    g->rc = getaddrinfo("127.0.0.1", "8080", &hints, &res);
    if (g->rc == 0) {
        struct sockaddr_in *in = (struct sockaddr_in *)res->ai_addr;
        snprintf(g->addr, sizeof g->addr, "%s:%u", inet_ntoa(in->sin_addr), ntohs(in->sin_port));
        freeaddrinfo(res);
    }
}

static void do_gai_bad(void *arg)
{
    struct gai_res *g = arg;
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST}, *res = NULL;
    g->rc = getaddrinfo("not an address", NULL, &hints, &res);
}

static void nothing(void *arg)
{
    (void)arg;
}

Test(hook, getaddrinfo_on_the_pool, .timeout = GT_TIMEOUT(30))
{
    struct gai_res g = {0}, bad = {0};
    gt_spawn(nothing, NULL); /* the runtime's own threads first */
    goro_waitgroup_wait(gt_running());
    int before = gt_thread_count();
    gt_spawn(do_gai, &g);
    gt_spawn(do_gai_bad, &bad);
    gt_join();
    cr_assert_eq(g.rc, 0, "getaddrinfo: %s", gai_strerror(g.rc));
    cr_assert_str_eq(g.addr, "127.0.0.1:8080");
    cr_assert_eq(bad.rc, EAI_NONAME, "getaddrinfo of a bad literal: %s", gai_strerror(bad.rc));
    /* The pool started a thread for it (pool threads stay). */
    cr_assert_gt(gt_thread_count(), before, "no pool thread appeared");
}

/* ---- regular files: the call, handed off ----------------------------------------------------- */

static void file_body(void *arg)
{
    (void)arg;
    char path[] = "/tmp/goro-hook-XXXXXX", b[16] = {0};
    int fd = mkstemp(path);
    gt_check(fd >= 0, "mkstemp");
    unlink(path);
    gt_check(write(fd, "file data", 9) == 9, "file write");
    gt_check(pread(fd, b, 4, 5) == 4 && memcmp(b, "data", 4) == 0, "pread");
    gt_check(lseek(fd, 0, SEEK_SET) == 0, "lseek");
    gt_check(read(fd, b, sizeof b) == 9 && memcmp(b, "file data", 9) == 0, "file read");
    gt_check(fsync(fd) == 0, "fsync");
    gt_check(!(fcntl(fd, F_GETFL) & O_NONBLOCK), "a file made non-blocking");
    close(fd);
    int nfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    gt_check(nfd >= 0 && read(nfd, b, 1) == 0, "/dev/null reads EOF");
    close(nfd);
    /* stderr is shared with the parent: never made non-blocking. */
    gt_check(write(STDERR_FILENO, "", 0) == 0, "write to stderr");
    gt_check(!real_nonblock(STDERR_FILENO), "stderr made non-blocking");
}

Test(hook, regular_files_work, .timeout = GT_TIMEOUT(30))
{
    gt_spawn(file_body, NULL);
    gt_join();
}

/* ---- GORO_HOOK=0 ------------------------------------------------------------------------------ */

struct off_result {
    ssize_t r;
    int err;
    bool nonblock;
};

static void off_body(void *arg)
{
    struct off_result *o = arg;
    int sv[2];
    struct timeval tv = {0, 50 * 1000};
    char b;
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    o->r = read(sv[0], &b, 1);
    o->err = gt_errno();
    o->nonblock = real_nonblock(sv[0]);
}

/* Run with GORO_HOOK=0: read in a goroutine is the C library's, which
 * leaves the fd as it was (blocking) and times out in the kernel. */
static void child_hook_off(void)
{
    struct off_result o = {0};
    gt_go(off_body, &o);
    goro_waitgroup_wait(gt_running());
    if (o.r != -1 || o.err != EAGAIN) {
        fprintf(stderr, "read: %zd (%s)\n", o.r, strerror(o.err));
        _exit(3);
    }
    if (o.nonblock) {
        fprintf(stderr, "the fd was made non-blocking with GORO_HOOK=0\n");
        _exit(4);
    }
    fprintf(stderr, "hook off ok\n");
    _exit(0);
}

static const gt_child_body child_bodies[] = {
    {"hook_off", child_hook_off},
    {NULL, NULL},
};

__attribute__((constructor)) static void child_entry(void)
{
    gt_child_dispatch(CHILD_ENV, child_bodies);
}

Test(hook, kill_switch_restores_libc, .timeout = GT_TIMEOUT(60))
{
    static char out[4096];
    int status;
    struct off_result o = {0};

    /* Here, with the interposers on: goro made the fd non-blocking. */
    gt_spawn(off_body, &o);
    gt_join();
    cr_assert_eq(o.r, -1);
    cr_assert_eq(o.err, EAGAIN);
    cr_assert(o.nonblock, "with the interposers on, goro makes the fd non-blocking");

    setenv("GORO_HOOK", "0", 1);
    gt_run_child(CHILD_ENV, "hook_off", out, sizeof out, &status);
    unsetenv("GORO_HOOK");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: status %d: %s", status, out);
    cr_assert(strstr(out, "hook off ok"), "child said: %s", out);
}

/* ---- the sanitizers' own opens ---------------------------------------------- */

#if defined(GORO_TESTING) && (defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__))
#include <sanitizer/common_interface_defs.h>

extern void goro__test_open_counts(unsigned long *opens, unsigned long *bracketed); /* hook.c */

/* A sanitizer symbolizes a report holding its own locks (under TSan, the
 * ones thread creation and every idle thread's sleep take) and opens the
 * executable and its debug files to do it.  Those opens reach goro's open
 * but must not be bracketed as blocking calls: the reporting goroutine
 * could park at the bracket's end with the locks held, and every thread
 * wait for them.  __sanitizer_symbolize_pc takes the same path. */
/* An address inside the caller. */
static __attribute__((noinline)) void *here(void)
{
    return __builtin_return_address(0);
}

static void symbolize(void *arg)
{
    char *buf = arg;
    unsigned long o0, b0, o1, b1, o2, b2;

    goro__test_open_counts(&o0, &b0);
    __sanitizer_symbolize_pc(here(), "%F", buf, 256);
    goro__test_open_counts(&o1, &b1);
    gt_check(o1 > o0, "the symbolizer opened nothing through goro's open");
    gt_check(b1 == b0, "%lu of the symbolizer's %lu opens were bracketed", b1 - b0, o1 - o0);
    /* The counters see a goroutine's own open. */
    int fd = open("/dev/null", O_RDONLY);
    gt_check(fd >= 0, "open(/dev/null): %s", strerror(gt_errno()));
    close(fd);
    goro__test_open_counts(&o2, &b2);
    gt_check(o2 == o1 + 1 && b2 == b1 + 1, "open(/dev/null): %lu opens, %lu bracketed", o2 - o1,
             b2 - b1);
}

Test(hook, sanitizer_opens_are_plain, .timeout = GT_TIMEOUT(30))
{
    char buf[256] = "";
    gt_spawn(symbolize, buf);
    gt_join();
    cr_assert(strstr(buf, "symbolize"), "symbolized as \"%s\"", buf);
}
#endif
