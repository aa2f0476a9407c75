/* test_env.c - the runtime's environment variables (src/env.c): each
 * syntax, with its edge cases, and that a variable read through them still
 * configures the runtime (GORO_STACK_SIZE, GORO_MAXPROCS).
 *
 * The parsers are runtime-internal (hidden, linked statically here); they
 * are tested on GT_ENV_* names so that no GORO_* setting leaks into the
 * runtime of the test process. */
#define _GNU_SOURCE
#include "common.h"

#include <limits.h>
#include <stdlib.h>

long long goro__env_int(const char *name, long long def, long long min, long long max);
size_t goro__env_size(const char *name, size_t def, size_t min, size_t max);
bool goro__env_bool(const char *name, bool def);
bool goro__env_contains(const char *name, const char *word);
size_t goro__stack_default_size(void);

#define V "GT_ENV_VALUE"

static long long int_of(const char *v)
{
    if (v)
        setenv(V, v, 1);
    else
        unsetenv(V);
    return goro__env_int(V, -7, 1, 256);
}

Test(env, int_syntax, .timeout = GT_TIMEOUT(10))
{
    cr_assert_eq(int_of(NULL), -7);
    cr_assert_eq(int_of(""), -7);
    cr_assert_eq(int_of("8"), 8);
    cr_assert_eq(int_of("  8"), 8);
    cr_assert_eq(int_of("+8"), 8);
    cr_assert_eq(int_of("8abc"), 8, "trailing characters are ignored");
    cr_assert_eq(int_of("010"), 10, "base 10 only");
    cr_assert_eq(int_of("0x10"), -7, "0x10 reads as 0, below the minimum");
    cr_assert_eq(int_of("abc"), -7);
    cr_assert_eq(int_of("0"), -7);
    cr_assert_eq(int_of("-3"), -7);
    cr_assert_eq(int_of("1"), 1);
    cr_assert_eq(int_of("256"), 256);
    cr_assert_eq(int_of("257"), -7);
    cr_assert_eq(int_of("99999999999999999999999999"), -7, "overflow is out of range");
    setenv(V, "abc", 1);
    cr_assert_eq(goro__env_int(V, 5, 0, 10), 0, "no digits is 0 when 0 is allowed");
    setenv(V, "2147483647", 1);
    cr_assert_eq(goro__env_int(V, 5, 1, INT_MAX), INT_MAX);
    unsetenv(V);
}

static size_t size_of(const char *v)
{
    if (v)
        setenv(V, v, 1);
    else
        unsetenv(V);
    return goro__env_size(V, 99, 16 * 1024, (size_t)1 << 30);
}

Test(env, size_syntax, .timeout = GT_TIMEOUT(10))
{
    cr_assert_eq(size_of(NULL), 99);
    cr_assert_eq(size_of(""), 99);
    cr_assert_eq(size_of("65536"), 65536);
    cr_assert_eq(size_of("64k"), 65536);
    cr_assert_eq(size_of("64K"), 65536);
    cr_assert_eq(size_of("1m"), (size_t)1 << 20);
    cr_assert_eq(size_of("1M"), (size_t)1 << 20);
    cr_assert_eq(size_of("1024M"), (size_t)1 << 30, "the maximum is allowed");
    cr_assert_eq(size_of("1025M"), 99);
    cr_assert_eq(size_of("0x20000"), 0x20000, "C's bases: hex");
    cr_assert_eq(size_of("0400000"), 0400000, "C's bases: octal");
    cr_assert_eq(size_of("0x10k"), 16 * 1024, "a suffix after hex");
    cr_assert_eq(size_of("1Mjunk"), (size_t)1 << 20, "after the suffix is ignored");
    cr_assert_eq(size_of("131072 bytes"), 131072, "trailing characters are ignored");
    cr_assert_eq(size_of("16k"), 16 * 1024, "the minimum is allowed");
    cr_assert_eq(size_of("16383"), 99);
    cr_assert_eq(size_of("1G"), 99, "no G suffix: 1 byte, below the minimum");
    cr_assert_eq(size_of("-1"), 99);
    cr_assert_eq(size_of("k"), 99);
    cr_assert_eq(size_of("18446744073709551615"), 99);
    unsetenv(V);
}

static int bool_of(const char *v, bool def)
{
    if (v)
        setenv(V, v, 1);
    else
        unsetenv(V);
    return goro__env_bool(V, def);
}

Test(env, bool_syntax, .timeout = GT_TIMEOUT(10))
{
    for (int def = 0; def <= 1; def++) {
        cr_assert_eq(bool_of(NULL, def), def);
        cr_assert_eq(bool_of("", def), def, "empty is unset");
        cr_assert_eq(bool_of("0", def), 0);
        cr_assert_eq(bool_of("1", def), 1);
        cr_assert_eq(bool_of("00", def), 1, "only \"0\" is false");
        cr_assert_eq(bool_of("no", def), 1, "only \"0\" is false");
    }
    unsetenv(V);
}

Test(env, contains, .timeout = GT_TIMEOUT(10))
{
    unsetenv(V);
    cr_assert(!goro__env_contains(V, "migrate"));
    setenv(V, "", 1);
    cr_assert(!goro__env_contains(V, "migrate"));
    setenv(V, "migrate", 1);
    cr_assert(goro__env_contains(V, "migrate"));
    setenv(V, "x,migrate=1", 1);
    cr_assert(goro__env_contains(V, "migrate"));
    setenv(V, "migr", 1);
    cr_assert(!goro__env_contains(V, "migrate"));
    unsetenv(V);
}

static void noop(void *arg)
{
    (void)arg;
}

/* The runtime reads them at its start: the first goro call of the test's
 * own process. */
Test(env, runtime_reads_them, .timeout = GT_TIMEOUT(30))
{
    setenv("GORO_STACK_SIZE", "0x80k", 1); /* 128 KiB */
    setenv("GORO_MAXPROCS", "3junk", 1);
    cr_assert_eq(goro_go(noop, NULL), 0);
    cr_assert_eq(goro__stack_default_size(), 128 * 1024);
    cr_assert_eq(goro_maxprocs(0), 3);
    gt_quiesce();
}
