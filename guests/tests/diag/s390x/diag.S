// DIAGNOSE stubs for the diag tests, run through RunPSW; each ends with
// SVC 0. The DIAGNOSE code is the displacement with base 0 (the usual
// form): for each code an even form DIAG 2,4,code (R1 = r2, R1+1 = r3,
// R3 = r4) and an odd form DIAG 3,4,code; `diag_based` computes the code
// from a base register: DIAG 2,4,0(6).
// Every stub sets the condition code to 2 first (CGR of r8 > r9), so a
// DIAGNOSE that leaves the condition code alone shows cc 2.

        .text
        .globl diag_stub
        .balign 8
diag_44_even:
        cgr     %r8, %r9
diag_44_even_site:
        .long   0x83240044
        svc     0
        .balign 8
diag_44_odd:
        cgr     %r8, %r9
diag_44_odd_site:
        .long   0x83340044
        svc     0
        .balign 8
diag_9c_even:
        cgr     %r8, %r9
diag_9c_even_site:
        .long   0x8324009c
        svc     0
        .balign 8
diag_9c_odd:
        cgr     %r8, %r9
diag_9c_odd_site:
        .long   0x8334009c
        svc     0
        .balign 8
diag_288_even:
        cgr     %r8, %r9
diag_288_even_site:
        .long   0x83240288
        svc     0
        .balign 8
diag_288_odd:
        cgr     %r8, %r9
diag_288_odd_site:
        .long   0x83340288
        svc     0
        .balign 8
diag_308_even:
        cgr     %r8, %r9
diag_308_even_site:
        .long   0x83240308
        svc     0
        .balign 8
diag_308_odd:
        cgr     %r8, %r9
diag_308_odd_site:
        .long   0x83340308
        svc     0
        .balign 8
diag_500_even:
        cgr     %r8, %r9
diag_500_even_site:
        .long   0x83240500
        svc     0
        .balign 8
diag_500_odd:
        cgr     %r8, %r9
diag_500_odd_site:
        .long   0x83340500
        svc     0
        .balign 8
diag_10_even:
        cgr     %r8, %r9
diag_10_even_site:
        .long   0x83240010
        svc     0
        .balign 8
diag_10_odd:
        cgr     %r8, %r9
diag_10_odd_site:
        .long   0x83340010
        svc     0
        .balign 8
diag_258_even:
        cgr     %r8, %r9
diag_258_even_site:
        .long   0x83240258
        svc     0
        .balign 8
diag_258_odd:
        cgr     %r8, %r9
diag_258_odd_site:
        .long   0x83340258
        svc     0
        .balign 8
diag_based:
        cgr     %r8, %r9
diag_based_site:
        .long   0x83246000
        svc     0

        .section .rodata
        .balign 8
stub_table:
        .quad   diag_44_even, diag_44_even_site
        .quad   diag_44_odd, diag_44_odd_site
        .quad   diag_9c_even, diag_9c_even_site
        .quad   diag_9c_odd, diag_9c_odd_site
        .quad   diag_288_even, diag_288_even_site
        .quad   diag_288_odd, diag_288_odd_site
        .quad   diag_308_even, diag_308_even_site
        .quad   diag_308_odd, diag_308_odd_site
        .quad   diag_500_even, diag_500_even_site
        .quad   diag_500_odd, diag_500_odd_site
        .quad   diag_10_even, diag_10_even_site
        .quad   diag_10_odd, diag_10_odd_site
        .quad   diag_258_even, diag_258_even_site
        .quad   diag_258_odd, diag_258_odd_site
        .quad   diag_based, diag_based_site
        .text
diag_stub:                                   // (index) -> address
        sllg    %r2, %r2, 3
        larl    %r1, stub_table
        lg      %r2, 0(%r2, %r1)
        br      %r14

// A page for DIAGNOSE 0x308 parameter blocks.
        .globl diag_page
diag_page:
        larl    %r2, page
        br      %r14
        .section .bss
        .balign 4096
page:
        .space  8192
