// TOD-clock instructions and problem-state entry/exit for the clock tests.
        .machine z13
        .text

// clock_stck(&value) -> cc, clock_stckf(&value) -> cc, clock_stcke(&16 bytes) -> cc
        .globl clock_stck, clock_stckf, clock_stcke
clock_stck:
        stck    0(%r2)
        ipm     %r2
        srl     %r2, 28
        llgfr   %r2, %r2
        br      %r14
clock_stckf:
        stckf   0(%r2)
        ipm     %r2
        srl     %r2, 28
        llgfr   %r2, %r2
        br      %r14
clock_stcke:
        stcke   0(%r2)
        ipm     %r2
        srl     %r2, 28
        llgfr   %r2, %r2
        br      %r14

// clock_sck(value) -> cc (SET CLOCK)
        .globl clock_sck
clock_sck:
        aghi    %r15, -8
        stg     %r2, 0(%r15)
        sck     0(%r15)
        ipm     %r2
        srl     %r2, 28
        llgfr   %r2, %r2
        aghi    %r15, 8
        br      %r14

// clock_sckpf(r0 value): SET CLOCK PROGRAMMABLE FIELD from GR0 bits 48-63.
        .globl clock_sckpf
clock_sckpf:
        lgr     %r0, %r2
        sckpf
        br      %r14

// Privileged timing instructions, for problem-state probes.

// clock_enter_problem_state(): points this CPU's SVC new PSW at
// clock_svc_handler and continues with PSW bit 15 (problem state) on.
// clock_leave_problem_state(): SVC 0; the handler resumes after it with
// bit 15 off (supervisor state).
        .globl clock_enter_problem_state, clock_leave_problem_state
clock_enter_problem_state:
        llihl   %r0, 0x0001
        iilf    %r0, 0x80000000
        stg     %r0, 0x1c0
        larl    %r1, clock_svc_handler
        stg     %r1, 0x1c8
        epsw    %r0, %r1
        sllg    %r0, %r0, 32
        llgfr   %r1, %r1
        ogr     %r0, %r1
        oihh    %r0, 0x0001                  // PSW bit 15: problem state
        aghi    %r15, -16
        stg     %r0, 0(%r15)
        larl    %r1, 1f
        stg     %r1, 8(%r15)
        lpswe   0(%r15)
1:      aghi    %r15, 16
        br      %r14
clock_leave_problem_state:
        svc     0
        br      %r14
clock_svc_handler:
        ni      0x141, 0xfe                  // SVC old PSW: bit 15 off
        lpswe   0x140

// clock_psw_mask() -> the current PSW mask (EPSW works in problem state).
        .globl clock_psw_mask
clock_psw_mask:
        epsw    %r0, %r1
        sllg    %r2, %r0, 32
        llgfr   %r1, %r1
        ogr     %r2, %r1
        br      %r14
