// Vector instructions under test. Stubs take pointers to 16-byte operands
// (out, a, b, c in r2-r5), load a/b/c into v17/v18/v19, run the
// instruction into v16 and store v16 at out; `SAVECC` keeps the condition
// code for vec_last_cc. Only v16-v31 are used (call-clobbered in the
// s390x ELF ABI).
        .machine "z15"

        .macro SAVECC
        ipm     %r0
        srl     %r0, 28
        larl    %r1, vec_cc
        st      %r0, 0(%r1)
        .endm

        .text
        .globl vec_last_cc
vec_last_cc:
        larl    %r1, vec_cc
        llgf    %r2, 0(%r1)
        br      %r14

        .macro V3 name, text:vararg
        .globl vec_\name
vec_\name:
        vl      %v16, 0(%r2)
        vl      %v17, 0(%r3)
        vl      %v18, 0(%r4)
        vl      %v19, 0(%r5)
        \text
        SAVECC
        vst     %v16, 0(%r2)
        br      %r14
        .endm

        V3 vab, vab %v16, %v17, %v18
        V3 vah, vah %v16, %v17, %v18
        V3 vaf, vaf %v16, %v17, %v18
        V3 vag, vag %v16, %v17, %v18
        V3 vaq, vaq %v16, %v17, %v18
        V3 vsb, vsb %v16, %v17, %v18
        V3 vsh, vsh %v16, %v17, %v18
        V3 vsf, vsf %v16, %v17, %v18
        V3 vsg, vsg %v16, %v17, %v18
        V3 vsq, vsq %v16, %v17, %v18
        V3 vaccb, vaccb %v16, %v17, %v18
        V3 vacch, vacch %v16, %v17, %v18
        V3 vaccf, vaccf %v16, %v17, %v18
        V3 vaccg, vaccg %v16, %v17, %v18
        V3 vmxlb, vmxlb %v16, %v17, %v18
        V3 vmnlb, vmnlb %v16, %v17, %v18
        V3 vmxf, vmxf %v16, %v17, %v18
        V3 vn, vn %v16, %v17, %v18
        V3 vo, vo %v16, %v17, %v18
        V3 vx, vx %v16, %v17, %v18
        V3 vnc, vnc %v16, %v17, %v18
        V3 vceqbs, vceqbs %v16, %v17, %v18
        V3 vchfs, vchfs %v16, %v17, %v18
        V3 veslb, veslb %v16, %v17, 3
        V3 vesraf, vesraf %v16, %v17, 7
        V3 verllg, verllg %v16, %v17, 13
        V3 vpopct, vpopct %v16, %v17, 0
        V3 vclzf, vclzf %v16, %v17
        V3 vctzg, vctzg %v16, %v17
        V3 vlch, vlch %v16, %v17
        V3 vlpf, vlpf %v16, %v17
        V3 vperm, vperm %v16, %v17, %v18, %v19
        V3 vmrhb, vmrhb %v16, %v17, %v18
        V3 vmrlf, vmrlf %v16, %v17, %v18
        V3 vpkg, vpkg %v16, %v17, %v18
        V3 vsel, vsel %v16, %v17, %v18, %v19
        V3 vsldb, vsldb %v16, %v17, %v18, 5
        V3 vrepb, vrepb %v16, %v17, 3
        V3 vrepf, vrepf %v16, %v17, 1
        V3 vgfmb, vgfmb %v16, %v17, %v18
        V3 vgfmh, vgfmh %v16, %v17, %v18
        V3 vgfmf, vgfmf %v16, %v17, %v18
        V3 vgfmg, vgfmg %v16, %v17, %v18
        V3 vgfmag, vgfmag %v16, %v17, %v18, %v19
        // Vector-enhancements facility 1 (135).
        V3 vnx, vnx %v16, %v17, %v18
        V3 vnn, vnn %v16, %v17, %v18
        V3 voc, voc %v16, %v17, %v18
        // Vector-enhancements facility 2 (148).
        V3 vsld, vsld %v16, %v17, %v18, 3
        // Immediate generators.
        V3 vgbm, vgbm %v16, 0x8001
        V3 vgmb, vgmb %v16, 2, 5
        V3 vgmf, vgmf %v16, 30, 1
        V3 vrepih, vrepih %v16, -2

// Loads and stores: (out, source, length).
        .globl vec_vll, vec_vstl, vec_vleb, vec_vlreph, vec_vlvgf, vec_vlgvg
        .globl vec_vlbrh, vec_vlerf, vec_vlm_vstm
vec_vll:
        vll     %v16, %r4, 0(%r3)
        vst     %v16, 0(%r2)
        br      %r14
vec_vstl:                                    // stores source's bytes to out
        vl      %v16, 0(%r3)
        vstl    %v16, %r4, 0(%r2)
        br      %r14
vec_vleb:                                    // out's element 7 from the byte at source
        vl      %v16, 0(%r2)
        vleb    %v16, 0(%r3), 7
        vst     %v16, 0(%r2)
        br      %r14
vec_vlreph:
        vlreph  %v16, 0(%r3)
        vst     %v16, 0(%r2)
        br      %r14
vec_vlvgf:                                   // (out, value): word 2 of out = value
        vl      %v16, 0(%r2)
        vlvgf   %v16, %r3, 2
        vst     %v16, 0(%r2)
        br      %r14
vec_vlgvg:                                   // (source) -> doubleword 1
        vl      %v16, 0(%r2)
        vlgvg   %r2, %v16, 1
        br      %r14
vec_vlbrh:                                   // 148: halfwords byte-reversed
        vlbrh   %v16, 0(%r3)
        vst     %v16, 0(%r2)
        br      %r14
vec_vlerf:                                   // 148: words in reversed order
        vlerf   %v16, 0(%r3)
        vst     %v16, 0(%r2)
        br      %r14
vec_vlm_vstm:                                // (out 48 bytes, source 48 bytes)
        vlm     %v16, %v18, 0(%r3)
        vstm    %v16, %v18, 0(%r2)
        br      %r14

// vec_disabled(which) -> interruption code << 16 | FPC DXC << 8 | lowcore
// DXC, or 0 when no interruption: runs a vector instruction with CR0 bit
// 46 (vector enablement) off. Swift code uses vector registers, so the
// program interruption goes to a local handler (this routine's own
// program new PSW) that re-enables the vector facility before any Swift
// code runs, then the original new PSW is put back.
        .globl vec_disabled
vec_disabled:
        stmg    %r6, %r15, 48(%r15)
        aghi    %r15, -176
        efpc    %r6                          // FPC, restored at the end
        larl    %r1, saved_program_psw
        mvc     0(16, %r1), 0x1d0
        larl    %r1, local_program_psw
        larl    %r0, 9f
        stg     %r0, 8(%r1)
        mvc     0x1d0(16), 0(%r1)
        lgr     %r7, %r2
        stctg   %c0, %c0, 160(%r15)
        lg      %r8, 160(%r15)               // CR0 as it was
        lgr     %r0, %r8
        nilh    %r0, 0xfffd                  // clear bit 46
        stg     %r0, 168(%r15)
        lctlg   %c0, %c0, 168(%r15)
        lghi    %r2, 0
        larl    %r3, disabled_operand
        chi     %r7, 0
        je      1f
        chi     %r7, 1
        je      2f
        chi     %r7, 2
        je      3f
        chi     %r7, 3
        je      4f
        vlvgg   %v16, %r2, 0                 // 4: GR to vector
        j       8f
1:      vl      %v16, 0(%r3)                 // 0: load
        j       8f
2:      vst     %v16, 0(%r3)                 // 1: store
        j       8f
3:      vab     %v16, %v17, %v18             // 2: add
        j       8f
4:      vgfmg   %v16, %v17, %v18             // 3: GF multiply
        j       8f
9:      llgh    %r2, 0x8e                    // program interruption
        sllg    %r2, %r2, 16
        efpc    %r0
        srl     %r0, 8
        nill    %r0, 0xff
        sllg    %r0, %r0, 8
        ogr     %r2, %r0
        llgc    %r0, 0x93
        ogr     %r2, %r0
8:      stg     %r8, 160(%r15)
        lctlg   %c0, %c0, 160(%r15)          // vector enablement back
        sfpc    %r6
        larl    %r1, saved_program_psw
        mvc     0x1d0(16), 0(%r1)
        lmg     %r6, %r15, 176 + 48(%r15)
        br      %r14

        .data
        .balign 16
vec_cc:
        .long   0
        .balign 16
saved_program_psw:
        .quad   0, 0
local_program_psw:
        .quad   0x0000000180000000, 0
disabled_operand:
        .quad   0, 0

        .section .bss
        .balign 4096
vec_buffer:                                  // operands: a, b, c, out, ...
        .space  4096
        .text
        .globl vec_buffer_address
vec_buffer_address:
        larl    %r2, vec_buffer
        br      %r14
