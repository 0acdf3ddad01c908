// The debug program's #DB handler, debug-register access and the code and
// data accesses its breakpoints watch. dbg_label(i) returns the i-th
// address of dbg_labels (the order of `Label` in Debug.swift).

        .text
        .code64

.macro LABEL name
        .pushsection .rodata.dbg_labels, "a"
        .quad   \name
        .popsection
.endm
        .pushsection .rodata.dbg_labels, "a"
        .balign 8
dbg_labels:
        .popsection

// #DB handler (an interrupt gate the test installs on vector 1): logs
// RIP, DR6, RFLAGS and DR7 of each hit (up to 32), resets DR6 to its
// initial value, sets RF in the saved RFLAGS (so a faulting instruction
// breakpoint does not hit again on return), and clears TF once the hit
// count reaches dbg_limit.
        .globl  dbg_handler
dbg_handler:
        push    %rax
        push    %rcx
        push    %rdx
        lea     dbg_log(%rip), %rdx
        mov     dbg_count(%rip), %rcx
        cmp     $32, %rcx
        jae     1f
        shl     $5, %rcx
        add     %rcx, %rdx
        mov     24(%rsp), %rax
        mov     %rax, 0(%rdx)
        mov     %dr6, %rax
        mov     %rax, 8(%rdx)
        mov     40(%rsp), %rax
        mov     %rax, 16(%rdx)
        mov     %dr7, %rax
        mov     %rax, 24(%rdx)
1:      incq    dbg_count(%rip)
        mov     $0xFFFF0FF0, %eax
        mov     %rax, %dr6
        orq     $0x10000, 40(%rsp)
        mov     dbg_limit(%rip), %rax
        cmp     %rax, dbg_count(%rip)
        jb      2f
        andq    $~0x100, 40(%rsp)
2:      pop     %rdx
        pop     %rcx
        pop     %rax
        iretq

        .globl  dbg_log, dbg_count, dbg_limit
        .bss
        .balign 8
dbg_log:
        .space  32 * 32
dbg_count:
        .quad   0
dbg_limit:
        .quad   0
        .text

        .globl  dbg_state                 // -> &dbg_log (count and limit follow it)
dbg_state:
        lea     dbg_log(%rip), %rax
        ret
        .globl  dbg_handler_address
dbg_handler_address:
        lea     dbg_handler(%rip), %rax
        ret

        .globl  dbg_get_dr0, dbg_get_dr1, dbg_get_dr2, dbg_get_dr3, dbg_get_dr6, dbg_get_dr7
        .globl  dbg_set_dr0, dbg_set_dr1, dbg_set_dr2, dbg_set_dr3, dbg_set_dr6, dbg_set_dr7
.irp n, 0, 1, 2, 3, 6, 7
dbg_get_dr\n:
        mov     %dr\n, %rax
        ret
dbg_set_dr\n:
        mov     %rdi, %dr\n
        ret
.endr

// Execute breakpoint targets: four instructions in a row.
        .globl  dbg_exec
dbg_exec:
1:      nop
2:      nop
3:      nop
4:      ret
        LABEL   1b                      // 0
        LABEL   2b                      // 1
        LABEL   3b                      // 2
        LABEL   4b                      // 3

// Data accesses (address in RDI); each label is the instruction after
// the access (where a data breakpoint's trap leaves RIP).
        .globl  dbg_store1, dbg_store2, dbg_store4, dbg_store8
        .globl  dbg_load1, dbg_load2, dbg_load4, dbg_load8
dbg_store1:
        movb    $0x5A, (%rdi)
1:      ret
        LABEL   1b                      // 4
dbg_store2:
        movw    $0x5A5A, (%rdi)
1:      ret
        LABEL   1b                      // 5
dbg_store4:
        movl    $0x5A5A5A5A, (%rdi)
1:      ret
        LABEL   1b                      // 6
dbg_store8:
        movq    $0x5A5A5A5A, (%rdi)
1:      ret
        LABEL   1b                      // 7
dbg_load1:
        movzbl  (%rdi), %eax
1:      ret
        LABEL   1b                      // 8
dbg_load2:
        movzwl  (%rdi), %eax
1:      ret
        LABEL   1b                      // 9
dbg_load4:
        movl    (%rdi), %eax
1:      ret
        LABEL   1b                      // 10
dbg_load8:
        movq    (%rdi), %rax
1:      ret
        LABEL   1b                      // 11

// Single-step: TF set by POPF (no trap after it), then each instruction
// traps after it completes, including the POPF that clears TF.
        .globl  dbg_step
dbg_step:
        pushfq
        orq     $0x100, (%rsp)
        popfq
1:      nop
2:      mov     $1, %eax
3:      add     %eax, %eax
4:      pushfq
5:      andq    $~0x100, (%rsp)
6:      popfq
7:      ret
        LABEL   1b                      // 12
        LABEL   2b                      // 13
        LABEL   3b                      // 14
        LABEL   4b                      // 15
        LABEL   5b                      // 16
        LABEL   6b                      // 17
        LABEL   7b                      // 18

// MOV SS under single-step: the trap of MOV SS is held until the next
// instruction completes.
        .globl  dbg_mov_ss
dbg_mov_ss:
        pushfq
        orq     $0x100, (%rsp)
        popfq
1:      mov     %ss, %eax
2:      mov     %eax, %ss
3:      nop
4:      nop
5:      pushfq
6:      andq    $~0x100, (%rsp)
7:      popfq
8:      ret
        LABEL   1b                      // 19
        LABEL   2b                      // 20
        LABEL   3b                      // 21
        LABEL   4b                      // 22
        LABEL   5b                      // 23
        LABEL   6b                      // 24
        LABEL   7b                      // 25
        LABEL   8b                      // 26

// General detect: the MOV from DR7 faults while DR7.GD is set.
        .globl  dbg_gd_read
dbg_gd_read:
1:      mov     %dr7, %rax
        ret
        LABEL   1b                      // 27

        .globl  dbg_icebp, dbg_pop_ss
dbg_icebp:
        .byte   0xF1
1:      ret
        LABEL   1b                      // 28
dbg_pop_ss:
        push    $0x10
1:      .byte   0x17                    // POP SS: invalid in 64-bit mode
        add     $8, %rsp
        ret
        LABEL   1b                      // 29

        .globl  dbg_label
dbg_label:
        lea     dbg_labels(%rip), %rax
        mov     (%rax,%rdi,8), %rax
        ret

        .globl  dbg_sidt
dbg_sidt:
        sidt    (%rdi)
        ret
