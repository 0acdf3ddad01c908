// DAT tests: the storage for program-local translation tables, the
// instructions that maintain them (IPTE, IDTE, CSP, CSPG, PTLB), and stubs
// run through RunPSW with DAT on (each ends with SVC 0).

        .text
        .globl dat_storage, dat_ptlb, dat_ipte, dat_idte, dat_csp, dat_cspg, dat_stub
dat_storage:                                 // () -> the tables area
        larl    %r2, tables
        br      %r14
dat_ptlb:
        ptlb
        br      %r14
dat_ipte:                                    // (page-table origin, virtual)
        ipte    %r2, %r3
        br      %r14
dat_idte:                                    // (table origin | DT, virtual)
        .long   0xb98e0023                   // IDTE 2,0,3
        br      %r14
dat_csp:                                     // (compare, swap, address|purge, *current) -> cc
        lgr     %r0, %r2
        lgr     %r1, %r3
        .long   0xb2500004                   // CSP 0,4
        ipm     %r2
        srl     %r2, 28
        llgfr   %r2, %r2
        llgfr   %r0, %r0
        stg     %r0, 0(%r5)
        br      %r14
dat_cspg:                                    // (compare, swap, address|purge, *current) -> cc
        lgr     %r0, %r2
        lgr     %r1, %r3
        .long   0xb98a0004                   // CSPG 0,4
        ipm     %r2
        srl     %r2, 28
        llgfr   %r2, %r2
        stg     %r0, 0(%r5)
        br      %r14

        .macro  STUB name
        .balign 8
\name:
        .endm

STUB dat_lg
        lg      %r3, 0(%r2)
        svc     0
STUB dat_stg
        stg     %r3, 0(%r2)
        svc     0
STUB dat_lrag                                // LRAG r3, 0(r2)
        lrag    %r3, 0(%r2)
        svc     0
STUB dat_lra                                 // LRA r3, 0(r2)
        lra     %r3, 0(%r2)
        svc     0
STUB dat_lap                                 // CR0 from 0(r4), then STG
        lctlg   %c0, %c0, 0(%r4)
        stg     %r3, 0(%r2)
        svc     0
STUB dat_mvc                                 // MVC 8 bytes (r4) -> (r2)
        mvc     0(8, %r2), 0(%r4)
        svc     0

        .section .rodata
        .balign 8
stub_table:
        .quad   dat_lg, dat_stg, dat_lrag, dat_lra, dat_lap, dat_mvc
        .text
dat_stub:                                    // (index) -> address
        sllg    %r2, %r2, 3
        larl    %r1, stub_table
        lg      %r2, 0(%r2, %r1)
        br      %r14

        .section .bss
// 1 MiB frame (EDAT-1 large segment) first, then the tables: see Dat.swift.
        .balign 1048576
tables:
        .space  1048576 + 262144
