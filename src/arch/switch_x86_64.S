/* switch_x86_64.S - goroutine context switch, x86-64 System V ABI.
 *
 * void goro__switch(void **save_sp, void *next_sp)
 *   Saves the callee-saved state of the running context on its own stack,
 *   stores the resulting stack pointer in *save_sp, then loads next_sp and
 *   restores the state saved there.  "Returns" into the other context.
 *
 * Saved frame, from the saved stack pointer upwards (GORO_FRAME_* in frame.h):
 *
 *   offset  size  contents
 *   0       4     MXCSR (SSE control/status: rounding mode, exception masks)
 *   4       2     x87 FPU control word
 *   6       2     padding
 *   8       8     r15
 *   16      8     r14
 *   24      8     r13
 *   32      8     r12
 *   40      8     rbx
 *   48      8     rbp
 *   56      8     return address (where the context resumes)
 *   64            (the caller's stack before its call to goro__switch)
 *
 * Everything else is caller-saved in this ABI, so the compiler has already
 * spilled what it needs: this is all a voluntary switch must keep.
 * A new context is a frame built by goro__frame_init() (frame.h) whose return
 * address is goro__trampoline, with the entry function in r12 and its
 * argument in r13.
 */
#include "frame.h"

#if GORO_FRAME_RET + 8 != GORO_FRAME_SIZE
#error "switch_x86_64.S: the return address must end the frame (ret pops it)"
#endif

    .text
    .globl  goro__switch
    .hidden goro__switch
    .type   goro__switch, @function
    .p2align 4
goro__switch:
    .cfi_startproc
    subq    $GORO_FRAME_RET, %rsp       /* the frame, below the return address */
    movq    %rbp, GORO_FRAME_RBP(%rsp)  /* callee-saved registers */
    movq    %rbx, GORO_FRAME_RBX(%rsp)
    movq    %r12, GORO_FRAME_R12(%rsp)
    movq    %r13, GORO_FRAME_R13(%rsp)
    movq    %r14, GORO_FRAME_R14(%rsp)
    movq    %r15, GORO_FRAME_R15(%rsp)
    stmxcsr GORO_FRAME_MXCSR(%rsp)      /* SSE control/status word */
    fnstcw  GORO_FRAME_FPCW(%rsp)       /* x87 control word */
    movl    GORO_FRAME_MXCSR(%rsp), %eax /* keep ours in scratch registers ... */
    movzwl  GORO_FRAME_FPCW(%rsp), %ecx
    movq    %rsp, (%rdi)                /* *save_sp = our frame */
    movq    %rsi, %rsp                  /* switch stacks: now on the next context */
    cmpl    GORO_FRAME_MXCSR(%rsp), %eax /* ... to load its FP control state only */
    jne     1f                          /* when it differs: ldmxcsr and fldcw are slow */
    cmpw    GORO_FRAME_FPCW(%rsp), %cx
    jne     1f
2:
    movq    GORO_FRAME_R15(%rsp), %r15  /* its callee-saved registers */
    movq    GORO_FRAME_R14(%rsp), %r14
    movq    GORO_FRAME_R13(%rsp), %r13
    movq    GORO_FRAME_R12(%rsp), %r12
    movq    GORO_FRAME_RBX(%rsp), %rbx
    movq    GORO_FRAME_RBP(%rsp), %rbp
    addq    $GORO_FRAME_RET, %rsp       /* drop the frame but the return address */
    ret                                 /* resume where it called goro__switch */
1:
    ldmxcsr GORO_FRAME_MXCSR(%rsp)      /* its SSE control/status word */
    fldcw   GORO_FRAME_FPCW(%rsp)       /* its x87 control word */
    jmp     2b
    .cfi_endproc
    .size   goro__switch, .-goro__switch

/* First code a new goroutine runs: goro__switch "returns" here with the
 * entry function in r12 and its argument in r13, and rsp 16-byte aligned, so
 * the call below enters fn with the alignment the ABI promises.  fn never
 * returns (it ends in a switch away); ud2 traps if it ever does.  The
 * undefined return address ends unwinding here for gdb and the sanitizers. */
    .globl  goro__trampoline
    .hidden goro__trampoline
    .type   goro__trampoline, @function
    .p2align 4
goro__trampoline:
    .cfi_startproc
    .cfi_undefined rip
    xorl    %ebp, %ebp          /* a zero frame pointer ends frame walks */
    movq    %r13, %rdi          /* fn's argument */
    callq   *%r12               /* fn(arg): does not return */
    ud2
    .cfi_endproc
    .size   goro__trampoline, .-goro__trampoline

    .section .note.GNU-stack,"",@progbits
