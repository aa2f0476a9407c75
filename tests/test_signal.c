/* test_signal.c - signals relayed to channels (goro_signal_notify,
 * goro_signal_stop), after Go's os/signal signal_test.go: TestSignal,
 * TestStress (bounded), TestStop, several channels for one signal, and a
 * full buffer coalescing.  Signals are sent with kill(getpid(), sig) or
 * pthread_kill, so any of the process's threads may take them.  Each test
 * runs in its own process (Criterion's workers), so the dispositions one
 * test leaves do not reach another.  Beyond Go's tests: the deadlock
 * detector neither fires while a goroutine waits for a signal nor misses a
 * deadlock after one was delivered, and ENOMEM/EAGAIN leave nothing
 * changed (GORO_TESTING builds).
 */
#define _GNU_SOURCE
#include "common.h"

#include <signal.h>

static volatile sig_atomic_t prev_usr1;

static void count_usr1(int sig)
{
    (void)sig;
    prev_usr1++;
}

/* Receives one signal number from c within timeout_ns; -1 if none came. */
static int recv_within(goro_chan *c, int64_t timeout_ns)
{
    int sig = -1;
    if (GORO_SELECT(goro_case_recv(c, &sig), goro_case_timeout(timeout_ns)) != 0)
        return -1;
    return sig;
}

/* Go's waitSig: the next signal on c is sig, within 5 s (scaled). */
static void wait_sig(goro_chan *c, int sig)
{
    int got = recv_within(c, gt_ms(5000));
    cr_assert_eq(got, sig, "wanted signal %d, got %d", sig, got);
}

/* Go's quiesce + "no signal": nothing arrives on c for a while. */
static void no_sig(goro_chan *c)
{
    int got = recv_within(c, gt_ms(50));
    cr_assert_eq(got, -1, "unexpected signal %d", got);
}

static goro_chan *sigchan(size_t cap)
{
    return gt_mkchan(sizeof(int), cap);
}

/* TestSignal: a channel gets the signals it asked for and no others; a
 * second notify of another channel leaves the first as it was. */
Test(signal, notify_delivers_the_signal_number, .timeout = GT_TIMEOUT(20))
{
    goro_chan *c1 = sigchan(1), *c2 = sigchan(1);

    cr_assert_eq(goro_signal_notify(c1, SIGUSR1, 0), 0);
    kill(getpid(), SIGUSR1);
    wait_sig(c1, SIGUSR1);

    cr_assert_eq(goro_signal_notify(c2, SIGUSR2, 0), 0);
    kill(getpid(), SIGUSR2);
    wait_sig(c2, SIGUSR2);
    no_sig(c1);

    kill(getpid(), SIGUSR1);
    wait_sig(c1, SIGUSR1);
    no_sig(c2);

    cr_assert_eq(goro_signal_stop(c1), 0);
    cr_assert_eq(goro_signal_stop(c2), 0);
    goro_chan_release(c1);
    goro_chan_release(c2);
    gt_quiesce();
}

/* Several channels notified of one signal each get it; notifying one
 * channel again adds signals to those it gets. */
Test(signal, several_channels_and_signals, .timeout = GT_TIMEOUT(20))
{
    goro_chan *a = sigchan(4), *b = sigchan(4);

    cr_assert_eq(goro_signal_notify(a, SIGUSR1, 0), 0);
    cr_assert_eq(goro_signal_notify(b, SIGUSR1, 0), 0);
    pthread_kill(pthread_self(), SIGUSR1);
    wait_sig(a, SIGUSR1);
    wait_sig(b, SIGUSR1);

    cr_assert_eq(goro_signal_notify(a, SIGUSR2, SIGUSR1, 0), 0); /* adds SIGUSR2 */
    kill(getpid(), SIGUSR2);
    wait_sig(a, SIGUSR2);
    no_sig(b);
    kill(getpid(), SIGUSR1);
    wait_sig(a, SIGUSR1);
    wait_sig(b, SIGUSR1);

    /* Stopping b leaves a notified, and the handler in place. */
    cr_assert_eq(goro_signal_stop(b), 0);
    cr_assert_neq(gt_handler_of(SIGUSR1), SIG_DFL);
    kill(getpid(), SIGUSR1);
    wait_sig(a, SIGUSR1);
    no_sig(b);

    cr_assert_eq(goro_signal_stop(a), 0);
    cr_assert_eq(gt_handler_of(SIGUSR1), SIG_DFL, "SIGUSR1 not restored");
    cr_assert_eq(gt_handler_of(SIGUSR2), SIG_DFL, "SIGUSR2 not restored");
    goro_chan_release(a);
    goro_chan_release(b);
    gt_quiesce();
}

/* TestStop: after stop, the previous disposition is back and the channel
 * gets nothing more. */
Test(signal, stop_restores_and_stops_delivery, .timeout = GT_TIMEOUT(20))
{
    goro_chan *c = sigchan(1);

    gt_install_handler(SIGUSR1, count_usr1);
    prev_usr1 = 0;
    cr_assert_eq(goro_signal_notify(c, SIGUSR1, 0), 0);
    cr_assert_neq(gt_handler_of(SIGUSR1), count_usr1, "SIGUSR1 not taken over");
    kill(getpid(), SIGUSR1);
    wait_sig(c, SIGUSR1);
    cr_assert_eq(prev_usr1, 0, "the previous handler ran while notified");

    cr_assert_eq(goro_signal_stop(c), 0);
    cr_assert_eq(gt_handler_of(SIGUSR1), count_usr1, "previous handler not restored");
    raise(SIGUSR1); /* runs the handler on this thread before returning */
    cr_assert_eq(prev_usr1, 1);
    no_sig(c);

    /* Stopping again, or a channel never notified, is a no-op. */
    cr_assert_eq(goro_signal_stop(c), 0);
    goro_chan_release(c);
    gt_quiesce();
}

/* A full buffer drops (coalesces) further signals: the sender never
 * blocks, and the receiver later finds one. */
Test(signal, full_buffer_coalesces, .timeout = GT_TIMEOUT(20))
{
    goro_chan *c = sigchan(1), *probe = sigchan(8);

    cr_assert_eq(goro_signal_notify(c, SIGUSR1, 0), 0);
    cr_assert_eq(goro_signal_notify(probe, SIGUSR1, 0), 0);
    for (int i = 0; i < 5; i++) {
        kill(getpid(), SIGUSR1);
        /* probe (with room) got it: the watcher has been through c too. */
        wait_sig(probe, SIGUSR1);
    }
    cr_assert_eq(goro_chan_len(c), 1);
    int sig = 0;
    cr_assert_eq(goro_chan_try_recv(c, &sig), 0);
    cr_assert_eq(sig, SIGUSR1);
    cr_assert_eq(goro_chan_try_recv(c, &sig), EAGAIN, "more than one buffered");

    cr_assert_eq(goro_signal_stop(c), 0);
    cr_assert_eq(goro_signal_stop(probe), 0);
    goro_chan_release(c);
    goro_chan_release(probe);
    gt_quiesce();
}

/* An unbuffered channel gets a signal only while a receiver waits; with
 * none, the signal is dropped for it and delivery goes on. */
struct unbuf {
    goro_chan *c;
    goro_chan *done;
    int got;
};

static void unbuf_receiver(void *arg)
{
    struct unbuf *u = arg;
    gt_check(goro_chan_recv(u->c, &u->got) == 0, "recv");
    goro_chan_send(u->done, NULL);
}

Test(signal, unbuffered_needs_a_waiting_receiver, .timeout = GT_TIMEOUT(20))
{
    struct unbuf u = {sigchan(0), gt_mkchan(0, 1), 0};
    goro_chan *probe = sigchan(8);

    cr_assert_eq(goro_signal_notify(u.c, SIGUSR2, 0), 0);
    cr_assert_eq(goro_signal_notify(probe, SIGUSR2, 0), 0);
    kill(getpid(), SIGUSR2);
    wait_sig(probe, SIGUSR2);
    cr_assert_eq(goro_chan_try_recv(u.c, NULL), EAGAIN);

    gt_spawn(unbuf_receiver, &u);
    /* The receiver may not be waiting yet: signal until it has its one. */
    for (;;) {
        kill(getpid(), SIGUSR2);
        wait_sig(probe, SIGUSR2);
        if (goro_chan_try_recv(u.done, NULL) == 0)
            break;
        goro_sleep(GORO_MILLISECOND);
    }
    cr_assert_eq(u.got, SIGUSR2);

    cr_assert_eq(goro_signal_stop(u.c), 0);
    cr_assert_eq(goro_signal_stop(probe), 0);
    goro_chan_release(u.c);
    goro_chan_release(u.done);
    goro_chan_release(probe);
    gt_quiesce();
}

/* TestStress, bounded: threads send a stream of signals while a goroutine
 * receives; every one the receiver gets is SIGUSR1, it gets some, and
 * nothing blocks.  Then notify/stop churn on other channels while the
 * signals still fly: stop must return with nothing more to come. */
enum { STRESS_SENDERS = 2, STRESS_SIGNALS = 2000 };

struct stress {
    goro_chan *c;
    _Atomic int stop;
    _Atomic long received;
    _Atomic long bad;
};

static void *stress_sender(void *arg)
{
    struct stress *st = arg;
    for (int i = 0; i < STRESS_SIGNALS && !atomic_load(&st->stop); i++) {
        kill(getpid(), SIGUSR1);
        if (i % 64 == 0)
            sched_yield();
    }
    return NULL;
}

static void stress_receiver(void *arg)
{
    struct stress *st = arg;
    int sig;
    while (goro_chan_recv(st->c, &sig) == 0) {
        if (sig != SIGUSR1)
            atomic_fetch_add(&st->bad, 1);
        atomic_fetch_add(&st->received, 1);
    }
}

Test(signal, stress, .timeout = GT_TIMEOUT(60))
{
    /* Static: the receiver reads it until it exits (see gt_quiesce). */
    static struct stress st;
    st.c = sigchan(16);
    pthread_t th[STRESS_SENDERS];

    cr_assert_eq(goro_signal_notify(st.c, SIGUSR1, 0), 0);
    gt_spawn(stress_receiver, &st);
    for (int i = 0; i < STRESS_SENDERS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, stress_sender, &st), 0);

    /* Churn: each round a fresh channel is notified, then stopped; once
     * stop returned, the channel's length never grows again. */
    for (int round = 0; round < 200; round++) {
        goro_chan *c = sigchan(4);
        cr_assert_eq(goro_signal_notify(c, SIGUSR1, 0), 0);
        if (round % 4 == 0)
            goro_yield();
        cr_assert_eq(goro_signal_stop(c), 0);
        size_t n = goro_chan_len(c);
        kill(getpid(), SIGUSR1);
        goro_yield();
        cr_assert_eq(goro_chan_len(c), n, "a signal reached a stopped channel");
        goro_chan_release(c);
    }

    for (int i = 0; i < STRESS_SENDERS; i++)
        pthread_join(th[i], NULL);
    /* The senders are done: one more signal is certain to be seen. */
    long before = atomic_load(&st.received);
    for (int i = 0; i < 1000 && atomic_load(&st.received) == before; i++) {
        kill(getpid(), SIGUSR1);
        goro_sleep(GORO_MILLISECOND);
    }
    cr_assert_gt(atomic_load(&st.received), before);
    cr_assert_eq(atomic_load(&st.bad), 0, "a signal number other than SIGUSR1");

    cr_assert_eq(goro_signal_stop(st.c), 0);
    cr_assert_eq(gt_handler_of(SIGUSR1), SIG_DFL);
    goro_chan_close(st.c);
    /* The receiver holds no reference: it may still be draining the
     * buffer, so the channel goes only once it has returned. */
    gt_quiesce();
    goro_chan_release(st.c);
}

/* Notify keeps its own reference: the caller may drop its reference, and
 * stop frees the channel (ASan sees any use after that). */
Test(signal, notify_keeps_a_reference, .timeout = GT_TIMEOUT(20))
{
    goro_chan *c = sigchan(1), *probe = sigchan(1);

    cr_assert_eq(goro_signal_notify(c, SIGUSR1, 0), 0);
    cr_assert_eq(goro_signal_notify(probe, SIGUSR1, 0), 0);
    goro_chan_release(c); /* notify's reference keeps it */
    kill(getpid(), SIGUSR1);
    wait_sig(probe, SIGUSR1);
    cr_assert_eq(goro_signal_stop(c), 0); /* drops the last reference */
    cr_assert_eq(goro_signal_stop(probe), 0);
    goro_chan_release(probe);
    gt_quiesce();
}

/* A signal context and a channel share a signal: the disposition comes
 * back only when both are gone; each gets the signal. */
Test(signal, shared_with_a_signal_context, .timeout = GT_TIMEOUT(20))
{
    goro_chan *c = sigchan(1);

    gt_install_handler(SIGUSR1, count_usr1);
    prev_usr1 = 0;
    goro_ctx *ctx = goro_ctx_with_signals(NULL, SIGUSR1, 0);
    cr_assert_not_null(ctx);
    cr_assert_eq(goro_signal_notify(c, SIGUSR1, 0), 0);
    kill(getpid(), SIGUSR1);
    wait_sig(c, SIGUSR1);
    cr_assert_eq(goro_chan_recv(goro_ctx_done(ctx), NULL), EPIPE);
    cr_assert_eq(goro_ctx_err(ctx), ECANCELED);

    goro_ctx_release(ctx);
    cr_assert_neq(gt_handler_of(SIGUSR1), count_usr1, "restored while a channel wants it");
    kill(getpid(), SIGUSR1);
    wait_sig(c, SIGUSR1);
    cr_assert_eq(prev_usr1, 0);

    cr_assert_eq(goro_signal_stop(c), 0);
    cr_assert_eq(gt_handler_of(SIGUSR1), count_usr1, "not restored after the last user");
    goro_chan_release(c);
    gt_quiesce();
}

Test(signal, bad_arguments, .timeout = GT_TIMEOUT(10))
{
    static const int bad[] = {SIGKILL, SIGSTOP, -1, 64, 1000};
    goro_chan *c = sigchan(1);
    goro_chan *wide = gt_mkchan(sizeof(long long), 1);
    goro_chan *none = gt_mkchan(0, 1);

    cr_assert_eq(goro_signal_notify(NULL, SIGUSR1, 0), EINVAL);
    cr_assert_eq(goro_signal_notify(wide, SIGUSR1, 0), EINVAL, "element size 8");
    cr_assert_eq(goro_signal_notify(none, SIGUSR1, 0), EINVAL, "element size 0");
    cr_assert_eq(goro_signal_notify(c, 0), EINVAL, "no signals");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(goro_signal_notify(c, bad[i], 0), EINVAL, "signal %d", bad[i]);
        cr_assert_eq(goro_signal_notify(c, SIGUSR2, bad[i], 0), EINVAL, "signal %d second",
                     bad[i]);
    }
    /* glibc keeps 32 and 33 (below SIGRTMIN) for itself: sigaction
     * refuses them, and the whole list is refused. */
    if (SIGRTMIN > 32)
        cr_assert_eq(goro_signal_notify(c, SIGUSR2, 32, 0), EINVAL, "signal 32");
    cr_assert_eq(gt_handler_of(SIGUSR2), SIG_DFL, "a failed call changed a disposition");
    cr_assert_eq(goro_signal_stop(NULL), EINVAL);
    cr_assert_eq(goro_signal_stop(c), 0, "a channel never notified");

    /* A refused second call leaves the first registration as it was. */
    cr_assert_eq(goro_signal_notify(c, SIGUSR1, 0), 0);
    cr_assert_eq(goro_signal_notify(c, SIGUSR2, SIGKILL, 0), EINVAL);
    cr_assert_eq(gt_handler_of(SIGUSR2), SIG_DFL);
    kill(getpid(), SIGUSR1);
    wait_sig(c, SIGUSR1);
    cr_assert_eq(goro_signal_stop(c), 0);
    cr_assert_eq(gt_handler_of(SIGUSR1), SIG_DFL);

    goro_chan_release(c);
    goro_chan_release(wide);
    goro_chan_release(none);
    gt_quiesce();
}

/* A goroutine waiting on a notified channel may still be woken by a
 * signal: the deadlock detector (which reports about a second after every
 * goroutine and known thread blocks) must not fire while main and that
 * goroutine wait and a thread unknown to goro sends the signal late. */
struct late {
    goro_chan *c;
    goro_chan *done;
};

static void late_receiver(void *arg)
{
    struct late *l = arg;
    int sig = 0;
    gt_check(goro_chan_recv(l->c, &sig) == 0 && sig == SIGUSR1, "got %d", sig);
    goro_chan_send(l->done, NULL);
}

static void *late_sender(void *arg)
{
    (void)arg;
    struct timespec ts = {2, 0}; /* beyond the detector's second */
    nanosleep(&ts, NULL);
    kill(getpid(), SIGUSR1);
    return NULL;
}

Test(signal, waiting_for_a_signal_is_no_deadlock, .timeout = GT_TIMEOUT(30))
{
    struct late l = {sigchan(1), gt_mkchan(0, 0)};
    pthread_t th;

    cr_assert_eq(goro_signal_notify(l.c, SIGUSR1, 0), 0);
    gt_spawn(late_receiver, &l);
    cr_assert_eq(pthread_create(&th, NULL, late_sender, NULL), 0);
    cr_assert_eq(goro_chan_recv(l.done, NULL), 0);
    pthread_join(th, NULL);
    cr_assert_eq(goro_signal_stop(l.c), 0);
    goro_chan_release(l.c);
    goro_chan_release(l.done);
    gt_quiesce();
}

/* The watcher thread that delivered a signal is no thread the deadlock
 * detector waits for: once nothing is registered, a real deadlock after a
 * delivery is still reported. */
Test(signal, deadlock_reported_after_a_delivery, .signal = SIGABRT, .timeout = GT_TIMEOUT(30))
{
    goro_chan *c = sigchan(1);
    goro_chan *never = gt_mkchan(0, 0);

    cr_assert_eq(goro_signal_notify(c, SIGUSR1, 0), 0);
    kill(getpid(), SIGUSR1);
    wait_sig(c, SIGUSR1);
    cr_assert_eq(goro_signal_stop(c), 0);
    goro_chan_recv(never, NULL); /* nobody will ever send */
}

/* The same after a signal context fired (the watcher closed its done
 * channel). */
Test(signal, deadlock_reported_after_a_signal_context_fired, .signal = SIGABRT,
     .timeout = GT_TIMEOUT(30))
{
    goro_chan *never = gt_mkchan(0, 0);
    goro_ctx *ctx = goro_ctx_with_signals(NULL, SIGUSR1, 0);

    cr_assert_not_null(ctx);
    kill(getpid(), SIGUSR1);
    cr_assert_eq(goro_chan_recv(goro_ctx_done(ctx), NULL), EPIPE);
    goro_ctx_release(ctx);
    goro_chan_recv(never, NULL); /* nobody will ever send */
}

#ifdef GORO_TESTING
/* GORO_TESTING fault injection: the nth following runtime allocation
 * fails once (-1: off); while on, every thread start fails. */
extern void goro__test_fail_alloc(long nth);
extern void goro__test_fail_threads(bool on);

static void send_one(void *arg)
{
    goro_chan_send(arg, NULL);
}

/* ENOMEM and EAGAIN leave nothing changed; the next call works. */
Test(signal, notify_reports_enomem_and_eagain, .timeout = GT_TIMEOUT(20))
{
    goro_chan *c = sigchan(1), *up = gt_mkchan(0, 0);

    gt_spawn(send_one, up); /* the runtime and its threads are up */
    cr_assert_eq(goro_chan_recv(up, NULL), 0);

    goro__test_fail_threads(true); /* the watcher cannot start */
    int e = goro_signal_notify(c, SIGUSR1, 0);
    goro__test_fail_threads(false);
    cr_assert_eq(e, EAGAIN);
    cr_assert_eq(gt_handler_of(SIGUSR1), SIG_DFL);

    goro__test_fail_alloc(0);
    e = goro_signal_notify(c, SIGUSR1, 0);
    goro__test_fail_alloc(-1);
    cr_assert_eq(e, ENOMEM);
    cr_assert_eq(gt_handler_of(SIGUSR1), SIG_DFL);

    cr_assert_eq(goro_signal_notify(c, SIGUSR1, 0), 0);
    kill(getpid(), SIGUSR1);
    wait_sig(c, SIGUSR1);
    cr_assert_eq(goro_signal_stop(c), 0);
    goro_chan_release(c);
    goro_chan_release(up);
    gt_quiesce();
}
#endif /* GORO_TESTING */
