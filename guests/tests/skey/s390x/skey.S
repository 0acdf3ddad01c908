// Storage-key instructions for the skey tests: direct helpers (supervisor,
// key 0, DAT off) and stubs run through RunPSW under a chosen PSW key or in
// problem state; each stub ends with SVC 0.

        .text
        .globl sk_set_key, sk_get_key, sk_rrbe, sk_fetch, sk_store, sk_pages
sk_set_key:                                  // (address, key byte)
        sske    %r3, %r2
        br      %r14
sk_get_key:                                  // (address) -> key byte
        lghi    %r3, -1                      // bits 0-55 must stay ones
        iske    %r3, %r2
        lgr     %r2, %r3
        br      %r14
sk_rrbe:                                     // (address) -> cc
        rrbe    %r0, %r2
        ipm     %r2
        srl     %r2, 28
        llgfr   %r2, %r2
        br      %r14
sk_fetch:                                    // (address) -> doubleword
        lg      %r2, 0(%r2)
        br      %r14
sk_store:                                    // (address, value)
        stg     %r3, 0(%r2)
        br      %r14
sk_pages:                                    // () -> 16 pages of test storage
        larl    %r2, test_pages
        br      %r14

        .macro  STUB name
        .balign 8
        .globl  \name
\name:
        .endm

STUB sk_stub_fetch                           // r3 = (r2)
        lg      %r3, 0(%r2)
        svc     0
STUB sk_stub_store                           // (r2) = r3
        stg     %r3, 0(%r2)
        svc     0
STUB sk_stub_mvc                             // 8 bytes (r4) -> (r2)
        mvc     0(8, %r2), 0(%r4)
        svc     0
STUB sk_stub_spka                            // SPKA 0(r2); IPK -> r2
        spka    0(%r2)
        ipk
        svc     0
STUB sk_stub_spka_only                       // SPKA 0(r2)
        spka    0(%r2)
        svc     0
STUB sk_stub_ipk                             // IPK -> r2
        ipk
        svc     0
STUB sk_stub_tprot                           // TPROT 0(r2), 0(r4)
        tprot   0(%r2), 0(%r4)
        svc     0
STUB sk_stub_ivsk                            // IVSK r3, r2
        ivsk    %r3, %r2
        svc     0
STUB sk_stub_iske                            // ISKE r3, r2
        iske    %r3, %r2
        svc     0

        .globl sk_tables
sk_tables:                                   // () -> 16 KiB segment table + 32 page tables
        larl    %r2, tables
        br      %r14

        .section .bss
        .balign 65536
test_pages:
        .space  65536
        .balign 16384
tables:
        .space  16384 + 65536

        .section .rodata
        .balign 8
stub_table:
        .quad   sk_stub_fetch, sk_stub_store, sk_stub_mvc, sk_stub_spka, sk_stub_ipk
        .quad   sk_stub_tprot, sk_stub_ivsk, sk_stub_iske, sk_stub_spka_only
        .text
        .globl  sk_stub
sk_stub:                                     // (index) -> stub address
        sllg    %r2, %r2, 3
        larl    %r1, stub_table
        lg      %r2, 0(%r2, %r1)
        br      %r14
