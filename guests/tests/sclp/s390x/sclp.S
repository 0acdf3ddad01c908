// SCLP stubs of the sclp program: SERVC on this program's own SCCBs and
// the service-signal external interruption it causes.
        .text

// sclp_servc(command, sccb) -> cc
        .globl sclp_servc
sclp_servc:
        .long   0xb2200023                   // SERVC r2, r3
        ipm     %r2
        srl     %r2, 28
        llgfr   %r2, %r2
        br      %r14

// sclp_drain(): takes a service signal left pending by earlier requests
// (the console's, under TCG, complete without waiting): external
// interruptions enabled for one instruction; the runtime's handler
// returns with the external mask off again.
        .globl sclp_drain
sclp_drain:
        aghi    %r15, -8
        stosm   0(%r15), 0x01                // PSW bit 7: external mask
        nopr    %r0
        stnsm   0(%r15), 0xfe
        aghi    %r15, 8
        lghi    %r0, 0
        st      %r0, 0x80                    // external parameter
        sth     %r0, 0x86                    // external interruption code
        br      %r14

// sclp_peek(): enables external interruptions for one instruction, no
// wait: a pending, unmasked interruption is taken.
        .globl sclp_peek
sclp_peek:
        aghi    %r15, -8
        stosm   0(%r15), 0x01
        nopr    %r0
        stnsm   0(%r15), 0xfe
        aghi    %r15, 8
        br      %r14

// sclp_lowcore_external() -> interruption code << 32 | parameter
        .globl sclp_lowcore_external
sclp_lowcore_external:
        llgh    %r2, 0x86
        sllg    %r2, %r2, 32
        llgf    %r0, 0x80
        ogr     %r2, %r0
        br      %r14

// sclp_service_subclass(on): sets or clears CR0 bit 54 (service signal).
        .globl sclp_service_subclass
sclp_service_subclass:
        aghi    %r15, -8
        stctg   %c0, %c0, 0(%r15)
        lg      %r0, 0(%r15)
        nill    %r0, 0xfdff
        ltgr    %r2, %r2
        jz      1f
        oill    %r0, 0x0200
1:      stg     %r0, 0(%r15)
        lctlg   %c0, %c0, 0(%r15)
        aghi    %r15, 8
        br      %r14

        .section .bss
        .balign 4096
        .globl sclp_pages
sclp_pages:                                  // two SCCB pages
        .space  8192
        .text
        .globl sclp_pages_address
sclp_pages_address:
        larl    %r2, sclp_pages
        br      %r14
