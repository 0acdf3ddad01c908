// Stubs for the program-interruption tests. Each is run by RunPSW (run_psw.S
// of the runtime) under a PSW the test chooses, and ends with SVC 0 when
// nothing interrupts it. `site` is the instruction under test. The table
// pi_table holds (stub, site) pairs in the order of `Stub` in the Swift
// program.

        .macro  STUB name
        .balign 8
\name:
        .endm

        .text
STUB op_ilc1
op_ilc1_site:
        .short  0x0000                       // opcode 00: unassigned, 2 bytes
        svc     0
STUB op_ilc2
op_ilc2_site:
        .long   0x81000000                   // opcode 81: unassigned, 4 bytes
        svc     0
STUB op_ilc3
op_ilc3_site:
        .short  0xff00, 0x0000, 0x0000       // opcode ff: unassigned, 6 bytes
        svc     0
STUB priv_lpswe
priv_lpswe_site:
        lpswe   0(%r2)
        svc     0
STUB priv_ssm
priv_ssm_site:
        ssm     0(%r2)
        svc     0
STUB priv_lctlg
priv_lctlg_site:
        lctlg   %c0, %c0, 0(%r2)
        svc     0
STUB priv_stctg
priv_stctg_site:
        stctg   %c0, %c0, 0(%r2)
        svc     0
STUB priv_iske
priv_iske_site:
        iske    %r3, %r2
        svc     0
STUB priv_sske
priv_sske_site:
        sske    %r3, %r2
        svc     0
STUB priv_ptlb
priv_ptlb_site:
        ptlb
        svc     0
STUB priv_sigp
priv_sigp_site:
        sigp    %r4, %r3, 0
        svc     0
STUB priv_stpx
priv_stpx_site:
        stpx    0(%r2)
        svc     0
STUB priv_diag
priv_diag_site:
        .long   0x83000044                   // DIAGNOSE 0x44
        svc     0
STUB priv_stosm
priv_stosm_site:
        stosm   0(%r2), 0
        svc     0
STUB priv_lrag
priv_lrag_site:
        lrag    %r3, 0(%r2)
        svc     0
STUB priv_sck
priv_sck_site:
        sck     0(%r2)
        svc     0
STUB priv_epsw_ok                            // EPSW is not privileged
priv_epsw_ok_site:
        epsw    %r3, %r4
        svc     0
STUB ex_ex
        larl    %r1, 1f
ex_ex_site:
        ex      %r0, 0(%r1)
        svc     0
1:      ex      %r0, 0(%r2)
STUB exrl_exrl
exrl_exrl_site:
        exrl    %r0, 1f
        svc     0
1:      exrl    %r0, ex_ex
STUB ex_exrl
        larl    %r1, 1f
ex_exrl_site:
        ex      %r0, 0(%r1)
        svc     0
1:      exrl    %r0, ex_ex
STUB ex_odd_target
ex_odd_target_site:
        ex      %r0, 1(%r2)
        svc     0
STUB ex_divide                               // a divide exception via EX
        larl    %r1, 1f
ex_divide_site:
        ex      %r0, 0(%r1)
        svc     0
1:      dsgr    %r2, %r4
STUB exrl_divide
exrl_divide_site:
        exrl    %r0, 1f
        svc     0
1:      dsgr    %r2, %r4
STUB spec_lpswe_align
spec_lpswe_align_site:
        lpswe   4(%r2)
        svc     0
STUB spec_dsgr_odd
spec_dsgr_odd_site:
        .long   0xb90d0034                   // DSGR 3,4 (R1 odd)
        svc     0
STUB spec_lpq_odd
spec_lpq_odd_site:
        .short  0xe330, 0x2000, 0x008f       // LPQ 3,0(2) (R1 odd)
        svc     0
STUB spec_cdsg_align
spec_cdsg_align_site:
        cdsg    %r6, %r8, 8(%r2)
        svc     0
STUB spec_cds_odd
spec_cds_odd_site:
        .long   0xbb782000                   // CDS 7,8,0(2) (R1 odd)
        svc     0
STUB spec_mvcle_odd
spec_mvcle_odd_site:
        .long   0xa8780000                   // MVCLE 7,8,0 (R1 odd)
        svc     0
STUB spec_stfle_align
spec_stfle_align_site:
        stfle   4(%r2)
        svc     0
STUB spec_lctlg_align
spec_lctlg_align_site:
        lctlg   %c0, %c0, 4(%r2)
        svc     0
STUB load_psw                                // LPSWE of the PSW at r2
load_psw_site:
        lpswe   0(%r2)
        svc     0
STUB addr_lg
addr_lg_site:
        lg      %r3, 0(%r2)
        svc     0
STUB addr_stg
addr_stg_site:
        stg     %r3, 0(%r2)
        svc     0
STUB addr_mvc
addr_mvc_site:
        mvc     0(8, %r2), 0(%r4)
        svc     0
STUB data_ap
data_ap_site:
        ap      0(4, %r2), 0(4, %r4)
        svc     0
STUB data_cvb
data_cvb_site:
        cvb     %r3, 0(%r2)
        svc     0
STUB data_afp                                // an AFP register with CR0.45 off
        lctlg   %c0, %c0, 0(%r2)
data_afp_site:
        ldr     %f1, %f3
        svc     0
STUB data_vector                             // a vector instruction with CR0.46 off
        lctlg   %c0, %c0, 0(%r2)
data_vector_site:
        .short  0xe712, 0x0000, 0x0056       // VLR 1,2
        svc     0
STUB fx_agr
fx_agr_site:
        agr     %r2, %r3
        svc     0
STUB fx_ar
fx_ar_site:
        ar      %r2, %r3
        svc     0
STUB fx_sgr
fx_sgr_site:
        sgr     %r2, %r3
        svc     0
STUB fx_lcgr
fx_lcgr_site:
        lcgr    %r2, %r3
        svc     0
STUB fx_lpgr
fx_lpgr_site:
        lpgr    %r2, %r3
        svc     0
STUB fx_aghi
fx_aghi_site:
        aghi    %r2, 1
        svc     0
STUB fx_slag
fx_slag_site:
        slag    %r2, %r3, 1
        svc     0
STUB div_dsgr
div_dsgr_site:
        dsgr    %r2, %r4
        svc     0
STUB div_dr
div_dr_site:
        dr      %r2, %r4
        svc     0
STUB div_dlgr
div_dlgr_site:
        dlgr    %r2, %r4
        svc     0
STUB dec_ap_overflow
dec_ap_overflow_site:
        ap      0(2, %r2), 0(2, %r4)
        svc     0
STUB dec_dp_zero
dec_dp_zero_site:
        dp      0(8, %r2), 0(2, %r4)
        svc     0
STUB per_fetch                               // r2 += 1 at the site
        nopr    %r0
per_fetch_site:
        aghi    %r2, 1
        nopr    %r0
        svc     0
STUB per_store
per_store_site:
        stg     %r3, 0(%r2)
        svc     0
STUB per_branch
per_branch_site:
        j       1f
        svc     1                            // never: the branch is taken
1:      svc     0
STUB per_nobranch                            // a branch not taken
per_nobranch_site:
        cgr     %r2, %r2
        jne     1f
        svc     0
1:      svc     1
STUB per_fetch_overflow                      // PER fetch and overflow together
per_fetch_overflow_site:
        agr     %r2, %r3
        svc     0
STUB op_problem                              // operation exception in problem state
op_problem_site:
        .short  0x0000
        svc     0
STUB ex_operation                            // EX of an unassigned opcode
        larl    %r1, 1f
ex_operation_site:
        ex      %r0, 0(%r1)
        svc     0
1:      .long   0x81000000
STUB mc_class                                // MONITOR CALL 0x123(r2), class in r3 via EX
        larl    %r1, 1f
mc_class_site:
        ex      %r3, 0(%r1)
        svc     0
1:      mc      0x123(%r2), 0
STUB per_mvc                                 // MVC 16 bytes (r4) -> (r2)
per_mvc_site:
        mvc     0(16, %r2), 0(%r4)
        svc     0
STUB svc_end                                 // nothing: SVC 5 at once
svc_end_site:
        svc     5

        .section .rodata
        .balign 8
pi_table:
        .irp    s, op_ilc1, op_ilc2, op_ilc3, priv_lpswe, priv_ssm, priv_lctlg, priv_stctg, priv_iske, priv_sske, priv_ptlb, priv_sigp, priv_stpx, priv_diag, priv_stosm, priv_lrag, priv_sck, priv_epsw_ok, ex_ex, exrl_exrl, ex_exrl, ex_odd_target, ex_divide, exrl_divide, spec_lpswe_align, spec_dsgr_odd, spec_lpq_odd, spec_cdsg_align, spec_cds_odd, spec_mvcle_odd, spec_stfle_align, spec_lctlg_align, load_psw, addr_lg, addr_stg, addr_mvc, data_ap, data_cvb, data_afp, data_vector, fx_agr, fx_ar, fx_sgr, fx_lcgr, fx_lpgr, fx_aghi, fx_slag, div_dsgr, div_dr, div_dlgr, dec_ap_overflow, dec_dp_zero, per_fetch, per_store, per_branch, per_nobranch, per_fetch_overflow, op_problem, ex_operation, mc_class, per_mvc, svc_end
        .quad   \s, \s\()_site
        .endr

        .text
        .globl pi_stub, pi_site
pi_stub:                                     // (index) -> stub address
        sllg    %r2, %r2, 4
        larl    %r1, pi_table
        lg      %r2, 0(%r2, %r1)
        br      %r14
pi_site:                                     // (index) -> site address
        sllg    %r2, %r2, 4
        larl    %r1, pi_table
        lg      %r2, 8(%r2, %r1)
        br      %r14

// A page of scratch storage for operands and PSWs.
        .globl pi_scratch
pi_scratch:
        larl    %r2, scratch_page
        br      %r14
        .section .bss
        .balign 4096
scratch_page:
        .space  4096

        .text
        .globl pi_efpc
pi_efpc:                                     // () -> FPC
        efpc    %r2
        llgfr   %r2, %r2
        br      %r14

// An EX target at an odd address: the halfword there is 0000.
        .globl pi_odd_target
pi_odd_target:
        larl    %r2, odd_target
        aghi    %r2, 1
        br      %r14
        .section .rodata
        .balign 8
odd_target:
        .byte   0x07, 0x00, 0x00, 0x00, 0x07, 0x07, 0x07, 0x07
