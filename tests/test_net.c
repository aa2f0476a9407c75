/* test_net.c - networks beyond TCP (include/goro.h, "I/O"): goro_listen
 * and goro_dial for "unix" (paths and abstract names), "unixgram",
 * "unixpacket", "udp*" and "tcp*"; goro_recvfrom/goro_sendto with their
 * deadlines and contexts; goro_sockname, goro_peername, goro_addr_format
 * and goro_addr_resolve, and the errors each gives for bad input.
 *
 * Ported from Go's net tests where they exist: TestUnixgramAutobind,
 * TestReadUnixgramWithUnnamedSocket, TestUnixConnLocalAndRemoteNames,
 * TestUnixgramConnLocalAndRemoteNames, TestUDPZeroBytePayload,
 * TestUDPZeroByteBuffer, TestReadFromTimeout, TestWriteToUDP,
 * TestUDPConnSpecificMethods' round trips, and the unix path length rule
 * of syscall.SockaddrUnix.  Everything stays on loopback and in a fresh
 * temporary directory; abstract names carry the process id.  Goroutines
 * start through gt_spawn() and every test ends in gt_join() (a waitgroup,
 * then gt_quiesce()).
 */
#define _GNU_SOURCE
#include "common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

/* ---- helpers ------------------------------------------------------------ */

/* A fresh temporary directory for socket files, removed by tmp_done. */
static char tmpdir[64];

static void tmp_make(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/goro_net_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

static void tmp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

static void tmp_done(const char *const *names, int n)
{
    char p[128];
    for (int i = 0; i < n; i++) {
        tmp_path(p, sizeof p, names[i]);
        unlink(p);
    }
    rmdir(tmpdir);
}

/* An abstract unix name unique to this process and tag: "@goro-net-PID-tag". */
static void abstract_name(char *buf, size_t n, const char *tag)
{
    snprintf(buf, n, "@goro-net-%d-%s", (int)getpid(), tag);
}

/* Whether ::1 can be bound here (no IPv6 in some containers). */
static bool have_ipv6_loopback(void)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* ---- stream echo (unix, unixpacket, tcp) --------------------------------- */

/* Accepts one connection on lfd and echoes it until EOF. */
static void echo_once(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    char buf[512];
    int c = goro_accept(lfd, NULL, NULL);
    if (!gt_check(c >= 0, "accept: %s", gt_err_str(c)))
        return;
    for (;;) {
        ssize_t r = goro_read(c, buf, sizeof buf);
        if (r == 0)
            break;
        if (!gt_check(r > 0, "server read: %s", gt_err_str(r)))
            break;
        ssize_t w = goro_write(c, buf, (size_t)r);
        if (!gt_check(w == r, "server write: %s", gt_err_str(w)))
            break;
    }
    goro_close(c);
}

/* Dials network/addr, sends three messages and checks each echo (one read
 * each: unixpacket keeps the boundaries; the others are small enough). */
static void echo_check(const char *network, const char *addr)
{
    static const char *msgs[] = {"hello", "goro", "a third message"};
    int lfd = goro_listen(network, addr);
    cr_assert_geq(lfd, 0, "listen %s %s: %s", network, addr, gt_err_str(lfd));
    char name[128];
    int n = goro_sockname(lfd, name, sizeof name);
    cr_assert_geq(n, 0, "sockname: %s", gt_err_str(n));
    if (strcmp(addr, "127.0.0.1:0") && strcmp(addr, "[::1]:0"))
        cr_assert_str_eq(name, addr, "%s listener named %s", network, name);
    gt_spawn(echo_once, (void *)(intptr_t)lfd);

    int fd = goro_dial(NULL, network, name);
    cr_assert_geq(fd, 0, "dial %s %s: %s", network, name, gt_err_str(fd));
    char peer[128];
    n = goro_peername(fd, peer, sizeof peer);
    cr_assert_geq(n, 0, "peername: %s", gt_err_str(n));
    cr_assert_str_eq(peer, name);
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
        size_t len = strlen(msgs[i]);
        char in[64] = {0};
        cr_assert_eq(goro_write(fd, msgs[i], len), (ssize_t)len);
        size_t got = 0;
        while (got < len) {
            ssize_t r = goro_read_deadline(fd, in + got, sizeof in - 1 - got,
                                           goro_now() + gt_ms(10000));
            cr_assert_gt(r, 0, "client read: %s", gt_err_str(r));
            got += (size_t)r;
        }
        cr_assert_str_eq(in, msgs[i]);
    }
    cr_assert_eq(goro_close(fd), 0);
    gt_join();
    cr_assert_eq(goro_close(lfd), 0);
}

Test(net, unix_echo, .timeout = GT_TIMEOUT(30))
{
    char path[128];
    tmp_make();
    tmp_path(path, sizeof path, "echo.sock");
    echo_check("unix", path);
    /* The socket file stays after close (as the docs say), and a second
     * listen on the path is EADDRINUSE until it is removed. */
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(S_ISSOCK(st.st_mode));
    int fd = goro_listen("unix", path);
    cr_assert_eq(fd, -EADDRINUSE, "second listen: %d", fd);
    const char *names[] = {"echo.sock"};
    tmp_done(names, 1);
}

Test(net, unix_abstract_echo, .timeout = GT_TIMEOUT(30))
{
    char name[64];
    abstract_name(name, sizeof name, "echo");
    echo_check("unix", name);
    /* No file: the name is gone with the socket, and can be listened on again. */
    int fd = goro_listen("unix", name);
    cr_assert_geq(fd, 0, "listen again: %s", gt_err_str(fd));
    goro_close(fd);
}

Test(net, unixpacket_echo, .timeout = GT_TIMEOUT(30))
{
    char name[64];
    abstract_name(name, sizeof name, "packet");
    echo_check("unixpacket", name);
}

Test(net, tcp_echo_and_names, .timeout = GT_TIMEOUT(30))
{
    echo_check("tcp", "127.0.0.1:0");
    echo_check("tcp4", "127.0.0.1:0");
}

/* Go: TestUnixConnLocalAndRemoteNames, with TCP alongside: the names of
 * both ends of an accepted connection mirror each other. */
static void names_mirror(const char *network, const char *addr)
{
    char lname[128], cl_local[128], cl_peer[128], sv_local[128], sv_peer[128];
    int lfd = goro_listen(network, addr);
    cr_assert_geq(lfd, 0, "listen %s %s: %s", network, addr, gt_err_str(lfd));
    cr_assert_geq(goro_sockname(lfd, lname, sizeof lname), 0);
    int c = goro_dial(NULL, network, lname);
    cr_assert_geq(c, 0, "dial %s: %s", lname, gt_err_str(c));
    int s = goro_accept(lfd, NULL, NULL);
    cr_assert_geq(s, 0, "accept: %s", gt_err_str(s));
    cr_assert_geq(goro_sockname(c, cl_local, sizeof cl_local), 0);
    cr_assert_geq(goro_peername(c, cl_peer, sizeof cl_peer), 0);
    cr_assert_geq(goro_sockname(s, sv_local, sizeof sv_local), 0);
    cr_assert_geq(goro_peername(s, sv_peer, sizeof sv_peer), 0);
    cr_assert_str_eq(cl_peer, lname);
    cr_assert_str_eq(sv_local, lname);
    cr_assert_str_eq(sv_peer, cl_local, "%s: server sees %s, client is %s", network, sv_peer,
                     cl_local);
    goro_close(c);
    goro_close(s);
    goro_close(lfd);
}

Test(net, sockname_peername_round_trip, .timeout = GT_TIMEOUT(30))
{
    char path[128], name[128], again[128];
    names_mirror("tcp", "127.0.0.1:0");
    tmp_make();
    tmp_path(path, sizeof path, "names.sock");
    names_mirror("unix", path);
    const char *names[] = {"names.sock"};
    tmp_done(names, 1);

    /* A dialed unix client is unnamed: "" (Go's empty UnixAddr name). */
    char abs[64];
    abstract_name(abs, sizeof abs, "names");
    names_mirror("unix", abs);

    /* The text goes back through goro_addr_resolve, and formats the same. */
    int lfd = goro_listen("tcp", "127.0.0.1:0");
    cr_assert_geq(lfd, 0);
    int n = goro_sockname(lfd, name, sizeof name);
    cr_assert_eq(n, (int)strlen(name));
    cr_assert_eq(strncmp(name, "127.0.0.1:", 10), 0, "%s", name);
    struct sockaddr_storage ss;
    socklen_t len;
    cr_assert_eq(goro_addr_resolve("tcp", name, &ss, &len), 0);
    cr_assert_eq(goro_addr_format((struct sockaddr *)&ss, len, again, sizeof again), n);
    cr_assert_str_eq(again, name);
    goro_close(lfd);

    cr_assert_eq(goro_addr_resolve("unix", abs, &ss, &len), 0);
    cr_assert_eq(len, offsetof(struct sockaddr_un, sun_path) + strlen(abs));
    cr_assert_eq(((struct sockaddr_un *)&ss)->sun_path[0], 0);
    cr_assert_geq(goro_addr_format((struct sockaddr *)&ss, len, again, sizeof again), 0);
    cr_assert_str_eq(again, abs);

    /* ":port" is the unspecified address; tcp4 listeners print 0.0.0.0. */
    cr_assert_eq(goro_addr_resolve("udp4", ":53", &ss, &len), 0);
    cr_assert_geq(goro_addr_format((struct sockaddr *)&ss, len, again, sizeof again), 0);
    cr_assert_str_eq(again, "0.0.0.0:53");
    lfd = goro_listen("tcp4", ":0");
    cr_assert_geq(lfd, 0, "listen tcp4 :0: %s", gt_err_str(lfd));
    cr_assert_geq(goro_sockname(lfd, name, sizeof name), 0);
    cr_assert_eq(strncmp(name, "0.0.0.0:", 8), 0, "%s", name);
    goro_close(lfd);
}

/* goro_addr_format on addresses made by hand: IPv4-mapped IPv6 prints as
 * IPv4 (Go's IP.String), a zone follows '%', abstract names keep their
 * bytes, unnamed is "", a buffer one byte short is ERANGE. */
Test(net, addr_format, .timeout = GT_TIMEOUT(10))
{
    char buf[128];
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
    inet_pton(AF_INET6, "::ffff:10.1.2.3", &in6.sin6_addr);
    cr_assert_eq(goro_addr_format((struct sockaddr *)&in6, sizeof in6, buf, sizeof buf), 11);
    cr_assert_str_eq(buf, "10.1.2.3:80");
    inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
    cr_assert_geq(goro_addr_format((struct sockaddr *)&in6, sizeof in6, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "[2001:db8::1]:80");
    inet_pton(AF_INET6, "fe80::1", &in6.sin6_addr);
    in6.sin6_scope_id = 1; /* the loopback interface, on Linux */
    cr_assert_geq(goro_addr_format((struct sockaddr *)&in6, sizeof in6, buf, sizeof buf), 0);
    cr_assert_eq(strncmp(buf, "[fe80::1%", 9), 0, "%s", buf);
    cr_assert(strstr(buf, "]:80"), "%s", buf);

    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(65535)};
    inet_pton(AF_INET, "255.255.255.255", &in.sin_addr);
    int n = goro_addr_format((struct sockaddr *)&in, sizeof in, buf, sizeof buf);
    cr_assert_eq(n, 21);
    cr_assert_str_eq(buf, "255.255.255.255:65535");
    cr_assert_eq(goro_addr_format((struct sockaddr *)&in, sizeof in, buf, 21), -ERANGE);
    cr_assert_eq(goro_addr_format((struct sockaddr *)&in, sizeof in, buf, 22), 21);
    cr_assert_eq(goro_addr_format((struct sockaddr *)&in, sizeof in - 1, buf, sizeof buf),
                 -EINVAL);

    struct sockaddr_un un = {.sun_family = AF_UNIX};
    cr_assert_eq(goro_addr_format((struct sockaddr *)&un, sizeof(sa_family_t), buf, sizeof buf),
                 0);
    cr_assert_str_eq(buf, "");
    memcpy(un.sun_path, "\0abc", 4);
    cr_assert_eq(goro_addr_format((struct sockaddr *)&un,
                                  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 4), buf,
                                  sizeof buf),
                 4);
    cr_assert_str_eq(buf, "@abc");

    struct sockaddr_storage other = {.ss_family = AF_APPLETALK};
    cr_assert_eq(goro_addr_format((struct sockaddr *)&other, sizeof other, buf, sizeof buf),
                 -EAFNOSUPPORT);
    cr_assert_eq(gt_errno(), EAFNOSUPPORT);
}

/* ---- udp ------------------------------------------------------------------ */

/* Echoes datagrams on fd back to their senders until it reads "quit". */
static void udp_echo_server(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[2048];
    for (;;) {
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        ssize_t r = goro_recvfrom(fd, buf, sizeof buf, (struct sockaddr *)&from, &fromlen);
        if (!gt_check(r >= 0, "server recvfrom: %s", gt_err_str(r)))
            return;
        if (r == 4 && memcmp(buf, "quit", 4) == 0)
            return;
        ssize_t w = goro_sendto(fd, buf, (size_t)r, (struct sockaddr *)&from, fromlen);
        if (!gt_check(w == r, "server sendto: %zd %s", w, gt_err_str(w)))
            return;
    }
}

/* A udp echo through a connected client (goro_dial) and an unconnected one
 * (goro_listen + goro_sendto to a resolved address), each with deadlines;
 * the sender the server sees is the client's sockname. */
static void udp_echo(const char *network, const char *addr)
{
    char name[128], cname[128], fromname[128];
    int sfd = goro_listen(network, addr);
    cr_assert_geq(sfd, 0, "listen %s %s: %s", network, addr, gt_err_str(sfd));
    cr_assert_geq(goro_sockname(sfd, name, sizeof name), 0);
    gt_spawn(udp_echo_server, (void *)(intptr_t)sfd);

    /* Connected: goro_write and goro_read talk to the server only. */
    int c = goro_dial(NULL, network, name);
    cr_assert_geq(c, 0, "dial %s %s: %s", network, name, gt_err_str(c));
    cr_assert_geq(goro_peername(c, cname, sizeof cname), 0);
    cr_assert_str_eq(cname, name);
    for (int i = 0; i < 20; i++) {
        char out[32], in[64];
        int n = snprintf(out, sizeof out, "datagram %d", i);
        cr_assert_eq(goro_write_deadline(c, out, (size_t)n, goro_now() + gt_ms(5000)), n);
        ssize_t r = goro_read_deadline(c, in, sizeof in, goro_now() + gt_ms(10000));
        cr_assert_eq(r, n, "read %d: %s", i, gt_err_str(r));
        cr_assert_eq(memcmp(in, out, (size_t)n), 0);
    }
    /* sendto with no address, on the connected socket. */
    cr_assert_eq(goro_sendto(c, "x", 1, NULL, 0), 1);
    char one;
    cr_assert_eq(goro_recvfrom_deadline(c, &one, 1, NULL, NULL, goro_now() + gt_ms(10000)), 1);
    goro_close(c);

    /* Unconnected: a bound socket of its own, the server's address resolved. */
    const char *any = strchr(addr, '[') ? "[::1]:0" : "127.0.0.1:0";
    c = goro_listen(network, any);
    cr_assert_geq(c, 0, "listen client: %s", gt_err_str(c));
    cr_assert_geq(goro_sockname(c, cname, sizeof cname), 0);
    struct sockaddr_storage to;
    socklen_t tolen;
    cr_assert_eq(goro_addr_resolve(network, name, &to, &tolen), 0);
    cr_assert_eq(goro_sendto_deadline(c, "ping", 4, (struct sockaddr *)&to, tolen,
                                      goro_now() + gt_ms(5000)),
                 4);
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof from;
    char in[16];
    ssize_t r = goro_recvfrom_deadline(c, in, sizeof in, (struct sockaddr *)&from, &fromlen,
                                       goro_now() + gt_ms(10000));
    cr_assert_eq(r, 4, "recvfrom: %s", gt_err_str(r));
    cr_assert_eq(memcmp(in, "ping", 4), 0);
    cr_assert_geq(goro_addr_format((struct sockaddr *)&from, fromlen, fromname, sizeof fromname),
                  0);
    cr_assert_str_eq(fromname, name, "reply from %s, server is %s", fromname, name);
    cr_assert_eq(goro_sendto(c, "quit", 4, (struct sockaddr *)&to, tolen), 4);
    gt_join();
    goro_close(c);
    goro_close(sfd);
}

Test(net, udp_echo, .timeout = GT_TIMEOUT(30))
{
    udp_echo("udp", "127.0.0.1:0");
    udp_echo("udp4", "127.0.0.1:0");
}

Test(net, ipv6_loopback, .timeout = GT_TIMEOUT(30))
{
    if (!have_ipv6_loopback())
        cr_skip_test("IPv6 loopback ::1 unavailable here: tcp6/udp6 not tested");
    udp_echo("udp6", "[::1]:0");
    echo_check("tcp6", "[::1]:0");
    names_mirror("tcp", "[::1]:0");
    char name[128];
    int fd = goro_listen("tcp6", "[::1]:0");
    cr_assert_geq(fd, 0);
    cr_assert_geq(goro_sockname(fd, name, sizeof name), 0);
    cr_assert_eq(strncmp(name, "[::1]:", 6), 0, "%s", name);
    goro_close(fd);
}

/* Many goroutine clients, each on a socket of its own, parked in
 * recvfrom on few threads while one server answers them all. */
#define MANY_CLIENTS 64
#define MANY_ROUNDS 10

static _Atomic long many_ok;
static char many_server[64];

static void many_client(void *arg)
{
    int id = (int)(intptr_t)arg;
    struct sockaddr_storage to;
    socklen_t tolen;
    int fd = goro_listen("udp", "127.0.0.1:0");
    if (!gt_check(fd >= 0, "client listen: %s", gt_err_str(fd)))
        return;
    int e = goro_addr_resolve("udp", many_server, &to, &tolen);
    if (!gt_check(e == 0, "resolve: %s", gt_err_str(e)))
        goto out;
    for (int i = 0; i < MANY_ROUNDS; i++) {
        char out[32], in[32];
        int n = snprintf(out, sizeof out, "%d/%d", id, i);
        ssize_t r = goro_sendto(fd, out, (size_t)n, (struct sockaddr *)&to, tolen);
        if (!gt_check(r == n, "sendto: %s", gt_err_str(r)))
            goto out;
        r = goro_recvfrom_deadline(fd, in, sizeof in, NULL, NULL, goro_now() + gt_ms(20000));
        if (!gt_check(r == n && memcmp(in, out, (size_t)n) == 0, "client %d round %d: %s", id,
                      i, gt_err_str(r)))
            goto out;
    }
    atomic_fetch_add(&many_ok, 1);
out:
    goro_close(fd);
}

Test(net, udp_many_clients, .timeout = GT_TIMEOUT(60))
{
    int s = goro_listen("udp", "127.0.0.1:0");
    cr_assert_geq(s, 0);
    cr_assert_geq(goro_sockname(s, many_server, sizeof many_server), 0);
    goro_maxprocs(2);
    gt_spawn(udp_echo_server, (void *)(intptr_t)s);
    for (int i = 0; i < MANY_CLIENTS; i++)
        gt_spawn(many_client, (void *)(intptr_t)i);
    bool all = gt_wait_count(&many_ok, MANY_CLIENTS, gt_ms(30000));
    gt_assert_no_failures();
    cr_assert(all, "%ld of %d clients done", atomic_load(&many_ok), MANY_CLIENTS);
    int c = goro_dial(NULL, "udp", many_server);
    cr_assert_geq(c, 0);
    cr_assert_eq(goro_write(c, "quit", 4), 4);
    gt_join();
    goro_close(c);
    goro_close(s);
}

/* A connected udp socket whose peer has no socket: the kernel's port
 * unreachable comes back as -ECONNREFUSED from the next receive, as Go's
 * Read returns "connection refused". */
Test(net, udp_connected_refused, .timeout = GT_TIMEOUT(30))
{
    char name[64], buf[8];
    int s = goro_listen("udp", "127.0.0.1:0");
    cr_assert_geq(s, 0);
    cr_assert_geq(goro_sockname(s, name, sizeof name), 0);
    cr_assert_eq(goro_close(s), 0);
    int c = goro_dial(NULL, "udp", name);
    cr_assert_geq(c, 0, "%s", gt_err_str(c));
    cr_assert_eq(goro_write(c, "x", 1), 1);
    ssize_t r = goro_recvfrom_deadline(c, buf, sizeof buf, NULL, NULL, goro_now() + gt_ms(10000));
    cr_assert_eq(r, -ECONNREFUSED, "%s", gt_err_str(r));
    goro_close(c);
}

/* Go: TestUDPZeroBytePayload and TestUDPZeroByteBuffer.  An empty
 * datagram reads as 0 (no end of file: the next datagram follows), and a
 * zero-length read takes a whole datagram. */
Test(net, udp_zero_bytes, .timeout = GT_TIMEOUT(30))
{
    char name[64], buf[16];
    int s = goro_listen("udp", "127.0.0.1:0");
    cr_assert_geq(s, 0);
    cr_assert_geq(goro_sockname(s, name, sizeof name), 0);
    int c = goro_dial(NULL, "udp", name);
    cr_assert_geq(c, 0);
    int64_t d = goro_now() + gt_ms(10000);
    cr_assert_eq(goro_sendto(c, "", 0, NULL, 0), 0);
    cr_assert_eq(goro_sendto(c, "abc", 3, NULL, 0), 3);
    cr_assert_eq(goro_recvfrom_deadline(s, buf, sizeof buf, NULL, NULL, d), 0);
    cr_assert_eq(goro_recvfrom_deadline(s, buf, sizeof buf, NULL, NULL, d), 3);
    cr_assert_eq(goro_sendto(c, "abc", 3, NULL, 0), 3);
    cr_assert_eq(goro_sendto(c, "de", 2, NULL, 0), 2);
    cr_assert_eq(goro_recvfrom_deadline(s, buf, 0, NULL, NULL, d), 0);
    /* Cut to the buffer, the rest of the datagram dropped. */
    cr_assert_eq(goro_sendto(c, "fghij", 5, NULL, 0), 5);
    cr_assert_eq(goro_recvfrom_deadline(s, buf, sizeof buf, NULL, NULL, d), 2);
    cr_assert_eq(memcmp(buf, "de", 2), 0);
    cr_assert_eq(goro_recvfrom_deadline(s, buf, 2, NULL, NULL, d), 2);
    cr_assert_eq(memcmp(buf, "fg", 2), 0);
    cr_assert_eq(goro_recvfrom_deadline(s, buf, sizeof buf, NULL, NULL, goro_now()), -ETIMEDOUT);
    goro_close(c);
    goro_close(s);
}

/* Go: TestReadFromTimeout.  A deadline ends a parked recvfrom no sooner
 * than the deadline, in a goroutine and on a plain thread. */
struct recv_case {
    int fd;
    goro_ctx *ctx;
    int64_t deadline;
    ssize_t r;
    int64_t ended;
};

static void recv_g(void *arg)
{
    struct recv_case *c = arg;
    char buf[8];
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof from;
    if (c->ctx)
        c->r = goro_recvfrom_ctx(c->ctx, c->fd, buf, sizeof buf, (struct sockaddr *)&from,
                                 &fromlen);
    else
        c->r = goro_recvfrom_deadline(c->fd, buf, sizeof buf, (struct sockaddr *)&from,
                                      &fromlen, c->deadline);
    c->ended = goro_now();
}

Test(net, udp_recvfrom_deadline, .timeout = GT_TIMEOUT(30))
{
    int s = goro_listen("udp", "127.0.0.1:0");
    cr_assert_geq(s, 0);
    int64_t start = goro_now();
    struct recv_case c = {.fd = s, .deadline = start + 50 * GORO_MILLISECOND};
    gt_spawn(recv_g, &c);
    gt_join();
    cr_assert_eq(c.r, -ETIMEDOUT, "goroutine: %s", gt_err_str(c.r));
    cr_assert_geq(c.ended, c.deadline);

    /* On the test's own thread, which blocks. */
    c = (struct recv_case){.fd = s, .deadline = goro_now() + 50 * GORO_MILLISECOND};
    recv_g(&c);
    cr_assert_eq(c.r, -ETIMEDOUT, "thread: %s", gt_err_str(c.r));
    cr_assert_geq(c.ended, c.deadline);

    /* A negative deadline is none: a datagram still arrives. */
    char name[64];
    cr_assert_geq(goro_sockname(s, name, sizeof name), 0);
    c = (struct recv_case){.fd = s, .deadline = -1};
    gt_spawn(recv_g, &c);
    int cl = goro_dial(NULL, "udp", name);
    cr_assert_geq(cl, 0);
    cr_assert_eq(goro_write(cl, "late", 4), 4);
    gt_join();
    cr_assert_eq(c.r, 4, "%s", gt_err_str(c.r));
    goro_close(cl);
    goro_close(s);
}

/* A context's cancel and its timeout end a parked recvfrom_ctx
 * (-ECANCELED, -ETIMEDOUT); a canceled one stops sendto_ctx before it
 * sends; goro_close wakes a parked recvfrom (-EBADF). */
Test(net, udp_ctx_cancel_and_close, .timeout = GT_TIMEOUT(30))
{
    int s = goro_listen("udp", "127.0.0.1:0");
    cr_assert_geq(s, 0);

    goro_ctx *ctx = goro_ctx_with_cancel(NULL);
    cr_assert_not_null(ctx);
    struct recv_case c = {.fd = s, .ctx = ctx};
    goro_stats st;
    goro_stats_get(&st);
    uint64_t parks0 = st.parks;
    gt_spawn(recv_g, &c);
    /* Let it park (most likely): the result does not depend on it. */
    for (int i = 0; i < 2000; i++) {
        goro_stats_get(&st);
        if (st.parks > parks0)
            break;
        goro_sleep(GORO_MILLISECOND);
    }
    goro_ctx_cancel(ctx);
    gt_join();
    cr_assert_eq(c.r, -ECANCELED, "%s", gt_err_str(c.r));

    struct sockaddr_storage to;
    socklen_t tolen;
    char name[64];
    cr_assert_geq(goro_sockname(s, name, sizeof name), 0);
    cr_assert_eq(goro_addr_resolve("udp", name, &to, &tolen), 0);
    cr_assert_eq(goro_sendto_ctx(ctx, s, "x", 1, (struct sockaddr *)&to, tolen), -ECANCELED);
    cr_assert_eq(goro_recvfrom_deadline(s, name, sizeof name, NULL, NULL, goro_now()),
                 -ETIMEDOUT, "a canceled sendto sent");
    cr_assert_eq(goro_sendto_ctx(NULL, s, "y", 1, (struct sockaddr *)&to, tolen), 1);
    cr_assert_eq(goro_recvfrom_ctx(NULL, s, name, sizeof name, NULL, NULL), 1);
    goro_ctx_release(ctx);

    int64_t start = goro_now();
    ctx = goro_ctx_with_timeout(NULL, 50 * GORO_MILLISECOND);
    cr_assert_not_null(ctx);
    c = (struct recv_case){.fd = s, .ctx = ctx};
    gt_spawn(recv_g, &c);
    gt_join();
    cr_assert_eq(c.r, -ETIMEDOUT, "%s", gt_err_str(c.r));
    cr_assert_geq(c.ended - start, 50 * GORO_MILLISECOND);
    goro_ctx_release(ctx);

    c = (struct recv_case){.fd = s, .deadline = -1};
    goro_stats_get(&st);
    parks0 = st.parks;
    gt_spawn(recv_g, &c);
    for (int i = 0; i < 2000; i++) {
        goro_stats_get(&st);
        if (st.parks > parks0)
            break;
        goro_sleep(GORO_MILLISECOND);
    }
    cr_assert_eq(goro_close(s), 0);
    gt_join();
    cr_assert_eq(c.r, -EBADF, "%s", gt_err_str(c.r));
}

/* ---- unixgram ------------------------------------------------------------- */

/* Go: TestUnixgramAutobind.  Listening on "" binds a fresh abstract name;
 * a socket dialed to it sees that name as its peer. */
Test(net, unixgram_autobind, .timeout = GT_TIMEOUT(30))
{
    char name[128], peer[128], buf[16];
    int s = goro_listen("unixgram", "");
    cr_assert_geq(s, 0, "%s", gt_err_str(s));
    int n = goro_sockname(s, name, sizeof name);
    cr_assert_gt(n, 1, "autobind name \"%s\"", name);
    cr_assert_eq(name[0], '@', "autobind name \"%s\"", name);
    int c = goro_dial(NULL, "unixgram", name);
    cr_assert_geq(c, 0, "dial %s: %s", name, gt_err_str(c));
    cr_assert_geq(goro_peername(c, peer, sizeof peer), 0);
    cr_assert_str_eq(peer, name);
    cr_assert_eq(goro_write(c, "auto", 4), 4);
    cr_assert_eq(goro_recvfrom_deadline(s, buf, sizeof buf, NULL, NULL,
                                        goro_now() + gt_ms(10000)),
                 4);
    goro_close(c);
    goro_close(s);
}

/* A unixgram echo between a server on a path and a client on an autobound
 * name; then Go's TestReadUnixgramWithUnnamedSocket: a dialed (unnamed)
 * client's datagrams come from "". */
Test(net, unixgram_echo, .timeout = GT_TIMEOUT(30))
{
    char path[128], cname[128], fromname[128];
    tmp_make();
    tmp_path(path, sizeof path, "gram.sock");
    int s = goro_listen("unixgram", path);
    cr_assert_geq(s, 0, "listen %s: %s", path, gt_err_str(s));
    gt_spawn(udp_echo_server, (void *)(intptr_t)s);

    int c = goro_listen("unixgram", "");
    cr_assert_geq(c, 0);
    cr_assert_geq(goro_sockname(c, cname, sizeof cname), 0);
    struct sockaddr_storage to;
    socklen_t tolen;
    cr_assert_eq(goro_addr_resolve("unixgram", path, &to, &tolen), 0);
    for (int i = 0; i < 10; i++) {
        char out[32], in[64];
        int n = snprintf(out, sizeof out, "gram %d", i);
        cr_assert_eq(goro_sendto(c, out, (size_t)n, (struct sockaddr *)&to, tolen), n);
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        ssize_t r = goro_recvfrom_deadline(c, in, sizeof in, (struct sockaddr *)&from, &fromlen,
                                           goro_now() + gt_ms(10000));
        cr_assert_eq(r, n, "%s", gt_err_str(r));
        cr_assert_eq(memcmp(in, out, (size_t)n), 0);
        cr_assert_geq(goro_addr_format((struct sockaddr *)&from, fromlen, fromname,
                                       sizeof fromname),
                      0);
        cr_assert_str_eq(fromname, path);
    }
    cr_assert_eq(goro_sendto(c, "quit", 4, (struct sockaddr *)&to, tolen), 4);
    gt_join();
    goro_close(c);

    /* Unnamed sender: recvfrom reports "" (Go: a nil or empty address). */
    int d = goro_dial(NULL, "unixgram", path);
    cr_assert_geq(d, 0, "dial: %s", gt_err_str(d));
    cr_assert_eq(goro_write(d, "anon", 4), 4);
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof from;
    char in[8];
    cr_assert_eq(goro_recvfrom_deadline(s, in, sizeof in, (struct sockaddr *)&from, &fromlen,
                                        goro_now() + gt_ms(10000)),
                 4);
    cr_assert_eq(goro_addr_format((struct sockaddr *)&from, fromlen, fromname, sizeof fromname),
                 0);
    cr_assert_str_eq(fromname, "");
    goro_close(d);
    goro_close(s);
    const char *names[] = {"gram.sock"};
    tmp_done(names, 1);
}

/* ---- bad input ------------------------------------------------------------ */

/* Unix names: under 108 bytes work, 108 or more are EINVAL (Go's rule in
 * syscall.SockaddrUnix), for paths and abstract names alike. */
Test(net, unix_name_length, .timeout = GT_TIMEOUT(30))
{
    char name[256];
    struct sockaddr_storage ss;
    socklen_t len;

    /* "@" and 106 bytes: 107, the longest abstract name. */
    memset(name, 'a', sizeof name);
    name[0] = '@';
    name[107] = 0;
    snprintf(name + 1, 12, "%010d", (int)getpid());
    name[11] = 'x';
    int fd = goro_listen("unix", name);
    cr_assert_geq(fd, 0, "107-byte abstract name: %s", gt_err_str(fd));
    char got[128];
    cr_assert_eq(goro_sockname(fd, got, sizeof got), 107);
    cr_assert_str_eq(got, name);
    int c = goro_dial(NULL, "unix", name);
    cr_assert_geq(c, 0, "%s", gt_err_str(c));
    goro_close(c);
    goro_close(fd);

    name[107] = 'a';
    name[108] = 0;
    cr_assert_eq(goro_listen("unix", name), -EINVAL);
    cr_assert_eq(goro_dial(NULL, "unix", name), -EINVAL);
    cr_assert_eq(goro_addr_resolve("unixgram", name, &ss, &len), -EINVAL);

    /* A 107-byte path in the temporary directory, then one byte more. */
    tmp_make();
    size_t dl = strlen(tmpdir);
    memcpy(name, tmpdir, dl);
    name[dl] = '/';
    memset(name + dl + 1, 'p', 107 - dl - 1);
    name[107] = 0;
    fd = goro_listen("unix", name);
    cr_assert_geq(fd, 0, "107-byte path: %s", gt_err_str(fd));
    cr_assert_eq(goro_sockname(fd, got, sizeof got), 107);
    cr_assert_str_eq(got, name);
    goro_close(fd);
    unlink(name);
    name[107] = 'p';
    name[108] = 0;
    cr_assert_eq(goro_listen("unix", name), -EINVAL);
    cr_assert_eq(gt_errno(), EINVAL);
    cr_assert_eq(goro_dial(NULL, "unixgram", name), -EINVAL);
    rmdir(tmpdir);
}

Test(net, bad_input, .timeout = GT_TIMEOUT(30))
{
    static const char *bad_nets[] = {"", "tcp5", "TCP", "ip", "ip4:icmp", "unix ", "udp46"};
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char buf[64];

    for (size_t i = 0; i < sizeof bad_nets / sizeof bad_nets[0]; i++) {
        cr_assert_eq(goro_listen(bad_nets[i], "127.0.0.1:0"), -EINVAL, "%s", bad_nets[i]);
        cr_assert_eq(goro_dial(NULL, bad_nets[i], "127.0.0.1:1"), -EINVAL, "%s", bad_nets[i]);
        cr_assert_eq(goro_addr_resolve(bad_nets[i], "127.0.0.1:1", &ss, &len), -EINVAL);
    }
    cr_assert_eq(goro_listen(NULL, "127.0.0.1:0"), -EINVAL);
    cr_assert_eq(goro_listen("udp", NULL), -EINVAL);
    cr_assert_eq(goro_listen("unix", NULL), -EINVAL);
    cr_assert_eq(goro_dial(NULL, NULL, "x"), -EINVAL);
    cr_assert_eq(goro_dial(NULL, "unixgram", NULL), -EINVAL);
    cr_assert_eq(goro_dial(NULL, "unix", ""), -EINVAL);
    cr_assert_eq(goro_dial(NULL, "udp", "127.0.0.1"), -EINVAL);
    cr_assert_eq(goro_listen("udp", "127.0.0.1:65536"), -EINVAL);
    cr_assert_eq(goro_addr_resolve("udp", "1.2.3.4:5", NULL, &len), -EINVAL);
    cr_assert_eq(goro_addr_resolve("udp", "1.2.3.4:5", &ss, NULL), -EINVAL);
    cr_assert_eq(goro_addr_resolve("unix", "", &ss, &len), -EINVAL);
    cr_assert_eq(goro_addr_resolve(NULL, "1.2.3.4:5", &ss, &len), -EINVAL);

    /* A literal of the other family. */
    cr_assert_eq(goro_listen("tcp4", "[::1]:0"), -EAFNOSUPPORT);
    cr_assert_eq(goro_dial(NULL, "udp6", "127.0.0.1:9"), -EAFNOSUPPORT);
    cr_assert_eq(goro_addr_resolve("udp4", "[::]:9", &ss, &len), -EAFNOSUPPORT);

    /* Nothing at a unix path; a path that is no socket. */
    tmp_make();
    char path[128];
    tmp_path(path, sizeof path, "none.sock");
    cr_assert_eq(goro_dial(NULL, "unix", path), -ENOENT);
    tmp_path(path, sizeof path, "file");
    int f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    cr_assert_geq(f, 0);
    close(f);
    cr_assert_eq(goro_dial(NULL, "unix", path), -ECONNREFUSED);
    cr_assert_eq(goro_listen("unix", path), -EADDRINUSE);
    const char *names[] = {"file"};
    tmp_done(names, 1);

    /* A canceled context dials nothing. */
    goro_ctx *dead = goro_ctx_with_cancel(NULL);
    cr_assert_not_null(dead);
    goro_ctx_cancel(dead);
    int l = goro_listen("unix", "");
    cr_assert_geq(l, 0);
    cr_assert_geq(goro_sockname(l, buf, sizeof buf), 0);
    cr_assert_eq(goro_dial(dead, "unix", buf), -ECANCELED);
    goro_close(l);
    goro_ctx_release(dead);

    /* recvfrom, sendto. */
    int u = goro_listen("udp", "127.0.0.1:0");
    cr_assert_geq(u, 0);
    cr_assert_eq(goro_recvfrom(u, buf, sizeof buf, (struct sockaddr *)&ss, NULL), -EINVAL);
    cr_assert_eq(goro_recvfrom(u, buf, (size_t)SSIZE_MAX + 1, NULL, NULL), -EINVAL);
    cr_assert_eq(goro_sendto(u, "x", 1, NULL, 4), -EINVAL);
    cr_assert_eq(goro_sendto(u, "x", 1, (struct sockaddr *)&ss, 1), -EINVAL);
    cr_assert_eq(goro_sendto(u, "x", (size_t)SSIZE_MAX + 1, NULL, 0), -EINVAL);
    cr_assert_eq(goro_sendto(u, "x", 1, NULL, 0), -EDESTADDRREQ); /* not connected */
    cr_assert_eq(goro_recvfrom(-1, buf, 1, NULL, NULL), -EBADF);
    cr_assert_eq(goro_sendto(-1, "x", 1, NULL, 0), -EBADF);

    /* sockname, peername. */
    cr_assert_eq(goro_sockname(u, NULL, 10), -EINVAL);
    cr_assert_eq(goro_sockname(u, buf, 0), -EINVAL);
    cr_assert_eq(goro_sockname(u, buf, 4), -ERANGE);
    cr_assert_eq(goro_peername(u, buf, sizeof buf), -ENOTCONN);
    cr_assert_eq(goro_sockname(-1, buf, sizeof buf), -EBADF);
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    cr_assert_eq(goro_sockname(p[0], buf, sizeof buf), -ENOTSOCK);
    close(p[0]);
    close(p[1]);
    cr_assert_eq(goro_addr_format(NULL, 16, buf, sizeof buf), -EINVAL);
    cr_assert_eq(goro_addr_format((struct sockaddr *)&ss, 1, buf, sizeof buf), -EINVAL);
    goro_close(u);
}
