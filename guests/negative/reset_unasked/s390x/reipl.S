// DIAGNOSE 0x308 with subcode 3 (in R3 of the instruction's second
// register operand): the guest asks the machine for a re-IPL by itself.

        .text
        .globl reipl_unasked
reipl_unasked:
        lghi    %r1, 0
        lghi    %r3, 3
        diag    %r1, %r3, 0x308
        br      %r14
