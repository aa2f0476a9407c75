/* env.c - the runtime's environment variables, parsed in one place.
 *
 * Every variable is read by one of the four functions below, at the moment
 * its user first needs it (the table in docs/internals.md, "Environment",
 * lists them all with where and when).  The syntaxes are deliberately
 * lenient, as getenv-configured C libraries usually are: a value that does
 * not parse, or parses out of range, means the default, never an error.
 *
 *   int:  base 10, leading blanks and a sign allowed, trailing characters
 *         ignored ("8abc" is 8); out of [min, max] (or no digits: 0 when
 *         that is out of range) gives the default.
 *   size: as int but C's bases (0x10, 010) and one k/K (KiB) or m/M (MiB)
 *         suffix right after the digits; anything after that is ignored.
 *   bool: "0" is false, any other non-empty value true.
 *   contains: true if the value contains the word (GORO_DEBUG=migrate).
 *
 * Unset and empty are the same: the default.  None of these functions is
 * signal-safe (getenv); none allocates.
 */
#include "runtime.h"

#include <stdlib.h>
#include <string.h>

/* The value of name, or NULL when it is unset or empty. */
static const char *env_get(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

long long goro__env_int(const char *name, long long def, long long min, long long max)
{
    const char *v = env_get(name);
    if (!v)
        return def;
    long long n = strtoll(v, NULL, 10);
    return n >= min && n <= max ? n : def;
}

size_t goro__env_size(const char *name, size_t def, size_t min, size_t max)
{
    const char *v = env_get(name);
    char *end;
    if (!v)
        return def;
    unsigned long long n = strtoull(v, &end, 0);
    if (*end == 'k' || *end == 'K')
        n <<= 10;
    else if (*end == 'm' || *end == 'M')
        n <<= 20;
    return n >= min && n <= max ? (size_t)n : def;
}

bool goro__env_bool(const char *name, bool def)
{
    const char *v = env_get(name);
    if (!v)
        return def;
    return strcmp(v, "0") != 0;
}

bool goro__env_contains(const char *name, const char *word)
{
    const char *v = env_get(name);
    return v && strstr(v, word);
}
