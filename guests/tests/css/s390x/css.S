// Channel-subsystem instructions for the css program. GR1 carries the
// subsystem-identification word; results are the condition codes.
        .text

        .macro CC_RETURN
        ipm     %r2
        srl     %r2, 28
        llgfr   %r2, %r2
        .endm

// css_stsch(sid, schib) -> cc
        .globl css_stsch, css_msch, css_ssch, css_tsch, css_csch, css_tpi
css_stsch:
        lgr     %r1, %r2
        stsch   0(%r3)
        CC_RETURN
        br      %r14
// css_msch(sid, schib) -> cc
css_msch:
        lgr     %r1, %r2
        msch    0(%r3)
        CC_RETURN
        br      %r14
// css_ssch(sid, orb) -> cc
css_ssch:
        lgr     %r1, %r2
        ssch    0(%r3)
        CC_RETURN
        br      %r14
// css_tsch(sid, irb) -> cc
css_tsch:
        lgr     %r1, %r2
        tsch    0(%r3)
        CC_RETURN
        br      %r14
// css_csch(sid) -> cc
css_csch:
        lgr     %r1, %r2
        csch
        CC_RETURN
        br      %r14
// css_tpi(address) -> cc (1: an interruption code was stored)
css_tpi:
        tpi     0(%r2)
        CC_RETURN
        br      %r14

// css_set_cr6(value): the I/O-interruption subclass masks (bits 32-39).
        .globl css_set_cr6
css_set_cr6:
        aghi    %r15, -8
        stg     %r2, 0(%r15)
        lctlg   %c6, %c6, 0(%r15)
        aghi    %r15, 8
        br      %r14

// css_wait_io(record, spins) -> 1 when an I/O interruption arrived: with a
// local I/O new PSW installed, the CPU runs enabled for I/O (PSW bit 6)
// for at most `spins` iterations; the handler copies the lowcore's
// subsystem-identification word, interruption parameter and
// interruption-identification word (0xb8-0xc3) to record and resumes with
// the I/O mask off. The runtime's I/O new PSW is put back.
        .globl css_wait_io
css_wait_io:
        stmg    %r6, %r15, 48(%r15)
        larl    %r1, saved_io_psw
        mvc     0(16, %r1), 0x1f0
        larl    %r1, local_io_psw
        larl    %r0, 2f
        stg     %r0, 8(%r1)
        mvc     0x1f0(16), 0(%r1)
        lgr     %r6, %r2
        lghi    %r7, 0                       // arrived flag
        aghi    %r15, -8
        stosm   0(%r15), 0x02                // PSW bit 6: I/O mask
1:      ltgr    %r7, %r7
        jnz     3f
        brctg   %r3, 1b
        stnsm   0(%r15), 0xfd
        j       3f
2:      mvc     0(12, %r6), 0xb8             // the I/O interruption
        lghi    %r7, 1
        ni      0x170, 0xfd                  // resume with the I/O mask off
        lpswe   0x170
3:      aghi    %r15, 8
        larl    %r1, saved_io_psw
        mvc     0x1f0(16), 0(%r1)
        lgr     %r2, %r7
        lmg     %r6, %r15, 48(%r15)
        br      %r14

        .data
        .balign 8
saved_io_psw:
        .quad   0, 0
local_io_psw:
        .quad   0x0000000180000000, 0

        .section .bss
        .balign 4096
css_area:
        .space  4096
        .text
        .globl css_area_address
css_area_address:
        larl    %r2, css_area
        br      %r14
