// SIGP with the whole status register, and a worker that loads known
// register contents and spins until told to stop (for the store-status
// orders).
        .machine z13
        .text

// sigp_order(cpu, order+address bits, parameter, &register) -> cc
// The first general register of the even/odd pair (r0) is preloaded from
// *register; after SIGP it is stored back whole, so a test sees both the
// status (bits 32-63, cc 1) and the bits SIGP must leave unchanged.
        .globl sigp_order
sigp_order:
        lgr     %r1, %r4                     // parameter (odd register)
        lg      %r0, 0(%r5)
        sigp    %r0, %r2, 0(%r3)
        ipm     %r2
        srl     %r2, 28
        llgfr   %r2, %r2
        stg     %r0, 0(%r5)
        br      %r14

// sigp_fill_and_spin(table, flag): loads v0-v31 (table+0), the FPC
// (table+512), the CPU timer (table+520), the clock comparator
// (table+528), the TOD programmable register (table+536), a0-a15
// (table+576) and r4-r14 (table+640), then spins until the doubleword at
// flag is non-zero and stops this CPU (s390_stop_self keeps r4-r14).
        .globl sigp_fill_and_spin, sigp_spin_begin, sigp_spin_end
sigp_fill_and_spin:
        vlm     %v0, %v15, 0(%r2)
        vlm     %v16, %v31, 256(%r2)
        lfpc    512(%r2)
        spt     520(%r2)
        sckc    528(%r2)
        lg      %r0, 536(%r2)
        sckpf
        lam     %a0, %a15, 576(%r2)
        lmg     %r4, %r14, 640(%r2)
sigp_spin_begin:
        lg      %r1, 0(%r3)
        ltgr    %r1, %r1
        jz      sigp_spin_begin
sigp_spin_end:
        jg      s390_stop_self

        .globl sigp_spin_begin_address, sigp_spin_end_address
sigp_spin_begin_address:
        larl    %r2, sigp_spin_begin
        br      %r14
sigp_spin_end_address:
        larl    %r2, sigp_spin_end
        br      %r14

// sigp_read_cr(n) for CR0 and CR14 of this CPU.
        .globl sigp_read_cr0, sigp_read_cr14
sigp_read_cr0:
        aghi    %r15, -8
        stctg   %c0, %c0, 0(%r15)
        lg      %r2, 0(%r15)
        aghi    %r15, 8
        br      %r14
sigp_read_cr14:
        aghi    %r15, -8
        stctg   %c14, %c14, 0(%r15)
        lg      %r2, 0(%r15)
        aghi    %r15, 8
        br      %r14
