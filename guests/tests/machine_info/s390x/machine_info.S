// Instruction stubs of the machine_info program (s390x ELF ABI: arguments
// in r2-r6, result in r2, r6-r15 preserved).
        .machine "z15"
        .text

// mi_stsi(gr0: UInt64, gr1: UInt64, block: UInt64, gr0Out: *UInt64) -> cc
        .globl mi_stsi
mi_stsi:
        lgr     %r0, %r2
        lgr     %r1, %r3
        stsi    0(%r4)
        ipm     %r2
        srl     %r2, 28
        llgfr   %r2, %r2
        stg     %r0, 0(%r5)
        br      %r14

// mi_stidp(address)
        .globl mi_stidp
mi_stidp:
        stidp   0(%r2)
        br      %r14

// mi_stfle(list, gr0In, gr0Out: *UInt64) -> cc
        .globl mi_stfle
mi_stfle:
        lgr     %r0, %r3
        stfle   0(%r2)
        ipm     %r2
        srl     %r2, 28
        llgfr   %r2, %r2
        stg     %r0, 0(%r4)
        br      %r14

// mi_stfl() -> UInt64: STORE FACILITY LIST (to real location 200), then
// the stored word.
        .globl mi_stfl
mi_stfl:
        stfl    0
        llgf    %r2, 200
        br      %r14

// Facility probes: (a, b) -> UInt64, one representative instruction each.
        .globl mi_lay, mi_afi, mi_msfi, mi_ahik, mi_popcnt, mi_risbgn
        .globl mi_lochi, mi_lzrg, mi_msgrkc, mi_ncrk, mi_ldgr, mi_etnd
        .globl mi_adtr, mi_stckf, mi_kimd_query, mi_prno_query, mi_kmctr_query
        .globl mi_kma_query, mi_kdsa_query, mi_sortl_query, mi_dfltcc_query
        .globl mi_lay, mi_lpd
mi_lay:                                      // 18 long displacement
        lay     %r2, 0x12345(%r2)
        br      %r14
mi_afi:                                      // 21 extended immediate
        afi     %r2, 0x12345678
        llgfr   %r2, %r2
        br      %r14
mi_msfi:                                     // 34 general-instructions extension
        msgfi   %r2, 3
        br      %r14
mi_ahik:                                     // 45 distinct operands
        ahik    %r2, %r3, 7
        llgfr   %r2, %r2
        br      %r14
mi_popcnt:                                   // 45 population count
        popcnt  %r2, %r2
        br      %r14
mi_risbgn:                                   // 49 miscellaneous-instruction extension
        lgr     %r0, %r2
        lgr     %r2, %r3
        risbgn  %r2, %r0, 56, 63, 8          // rotate left 8, insert bits 56-63
        br      %r14
mi_lochi:                                    // 53 load/store-on-condition 2
        lhi     %r2, 0
        lochi   %r2, 42, 15                  // mask 15: always
        llgfr   %r2, %r2
        br      %r14
mi_lzrg:                                     // 53 load and zero rightmost byte
        aghi    %r15, -8
        stg     %r2, 0(%r15)
        lzrg    %r2, 0(%r15)
        aghi    %r15, 8
        br      %r14
mi_msgrkc:                                   // 58 miscellaneous-instruction extensions 2
        msgrkc  %r2, %r2, %r3
        br      %r14
mi_ncrk:                                     // 61 miscellaneous-instruction extensions 3
        ncgrk   %r2, %r2, %r3
        br      %r14
mi_ldgr:                                     // 41 FPR-GR transfer
        ldgr    %f0, %r2
        lgdr    %r2, %f0
        br      %r14
mi_etnd:                                     // 73 transactional execution
        etnd    %r2
        llgfr   %r2, %r2
        br      %r14
mi_adtr:                                     // 42 decimal floating point
        lzdr    %f2
        lzdr    %f4
        adtr    %f0, %f2, %f4
        lgdr    %r2, %f0
        br      %r14
mi_stckf:                                    // 25 store clock fast
        aghi    %r15, -8
        mvghi   0(%r15), 0
        stckf   0(%r15)
        lg      %r2, 0(%r15)
        aghi    %r15, 8
        br      %r14
// Query functions (function code 0 in GR0, parameter block at GR1): the
// result is the first doubleword of the block (bit 0: query installed).
mi_kimd_query:                               // 17 message-security assist
        lghi    %r0, 0
        lgr     %r1, %r2
        kimd    %r4, %r6
        lg      %r2, 0(%r2)
        br      %r14
mi_prno_query:                               // 57 MSA extension 5
        lghi    %r0, 0
        lgr     %r1, %r2
        prno    %r4, %r6
        lg      %r2, 0(%r2)
        br      %r14
mi_kmctr_query:                              // 77 MSA extension 4
        lghi    %r0, 0
        lgr     %r1, %r2
        kmctr   %r4, %r8, %r6
        lg      %r2, 0(%r2)
        br      %r14
mi_kma_query:                                // 146 MSA extension 8
        lghi    %r0, 0
        lgr     %r1, %r2
        kma     %r4, %r8, %r6
        lg      %r2, 0(%r2)
        br      %r14
mi_kdsa_query:                               // 155 MSA extension 9
        lghi    %r0, 0
        lgr     %r1, %r2
        kdsa    %r4, %r6
        lg      %r2, 0(%r2)
        br      %r14
mi_sortl_query:                              // 150 enhanced sort
        lghi    %r0, 0
        lgr     %r1, %r2
        sortl   %r4, %r6
        lg      %r2, 0(%r2)
        br      %r14
mi_dfltcc_query:                             // 151 deflate conversion
        lghi    %r0, 0
        lgr     %r1, %r2
        dfltcc  %r4, %r6, %r8
        lg      %r2, 0(%r2)
        br      %r14
mi_lpd:                                      // 45 interlocked access 1 (LPD)
        stmg    %r6, %r7, 48(%r15)
        lgr     %r1, %r2
        lpd     %r6, 0(%r1), 8(%r1)
        llgfr   %r2, %r6
        sllg    %r2, %r2, 32
        llgfr   %r7, %r7
        ogr     %r2, %r7
        lmg     %r6, %r7, 48(%r15)
        br      %r14

        .section .bss
        .balign 4096
        .globl mi_sccb
mi_sccb:
        .space  4096
mi_block:                                    // parameter blocks, SYSIBs
        .space  4096

        .text
        .globl mi_sccb_address, mi_block_address
mi_block_address:
        larl    %r2, mi_block
        br      %r14
mi_sccb_address:
        larl    %r2, mi_sccb
        br      %r14

// mi_servc(command, sccb) -> cc
        .globl mi_servc
mi_servc:
        .long   0xb2200023
        ipm     %r2
        srl     %r2, 28
        llgfr   %r2, %r2
        br      %r14
