/* syscall_stub.c - goro__syscall_enter and goro__syscall_exit, for the
 * calls hook.c hands off (runtime.h): no-ops for now, so a goroutine in
 * such a call keeps its thread and P until the call returns. */
#include "runtime.h"

void goro__syscall_enter(void)
{
}

void goro__syscall_exit(void)
{
}
