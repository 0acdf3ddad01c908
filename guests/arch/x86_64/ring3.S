// Ring 3 for a test program (usermode, paging), without touching the
// runtime's tables: a
// copy of the GDT with ring-3 and SYSCALL/SYSENTER segments appended, a
// copy of the IDT whose exception gates first look at the saved CS (a
// ring-3 fault is recorded and ends the ring-3 call; a ring-0 fault goes on
// to the runtime's own stub) plus a DPL-3 gate 80h that ends a ring-3 call
// normally, and a TSS copy with an I/O permission bitmap.
//
// Selectors (R3_BASE = 130h, after the runtime's 130h bytes of GDT):
//   130h kernel code64, 138h kernel data   (SYSENTER_CS = 130h)
//   140h user code32,   148h user data     (STAR[63:48] = 140h: SYSRET64
//   150h user code64,   158h user data      CS = 150h|3, SS = 148h|3;
//   160h TSS with the I/O bitmap (16 bytes) SYSEXIT64 CS = 150h|3, SS = 158h|3)
// User code runs from an alias of the page `r3_user_page` that the Swift
// side (UserSpace.swift) maps with U/S = 1 at r3_user_code_va (two pages);
// its stack at r3_user_stack_top.
//
// A program's own ring-3 stubs go in section `.text.r3user`; the trampoline
// below is in `.text.r3user.head`. linker.ld places the head first, then
// every `.text.r3user` input, in one page-aligned output section (so the
// stubs follow r3_user_page whatever the link order) and asserts that it
// fits in the two mapped pages. Nothing here is KEEP: in a program that
// never calls r3_run, --gc-sections drops all of this file.

#define R3_BASE 0x130
#define USER_CS (0x150 | 3)
#define USER_SS (0x158 | 3)

        .section .data
        .balign 16
        .globl r3_gdt
r3_gdt:
        .space 0x170
r3_gdt_ptr:
        .word 0x16F
        .quad 0
        .balign 16
r3_old_gdt:
        .word 0
        .quad 0
        .balign 16
r3_old_idt:
        .word 0
        .quad 0
        .balign 16
r3_idt_ptr:
        .word 4095
        .quad 0
        .balign 8
        .globl r3_user_code_va, r3_user_stack_top, r3_value, r3_vec, r3_err, r3_rip, r3_cr2, r3_cs
r3_user_code_va:    .quad 0
r3_user_stack_top:  .quad 0
r3_saved_rsp:       .quad 0
r3_saved_fs:        .quad 0
r3_saved_gs:        .quad 0
r3_value:           .quad 0
r3_vec:             .quad 0
r3_err:             .quad 0
r3_rip:             .quad 0
r3_cr2:             .quad 0
r3_cs:              .quad 0
r3_active:          .quad 0
r3_ret_alias:       .quad 0

        .section .bss
        .balign 4096
r3_idt:
        .space 4096
        .globl r3_tss, r3_io_bitmap
r3_tss:
        .space 104
r3_io_bitmap:
        .space 8192
        .space 8                        // the byte after the map: all ones

        .text
        .code64

// Restores FS and GS base (an IRETQ to ring 3 may null them, and with them
// their bases); keeps every register.
.macro RESTORE_BASES
        cmpq    $0, r3_active(%rip)
        je      77f
        push    %rax
        push    %rcx
        push    %rdx
        mov     $0xC0000100, %ecx
        mov     r3_saved_fs(%rip), %rax
        mov     %rax, %rdx
        shr     $32, %rdx
        wrmsr
        mov     $0xC0000101, %ecx
        mov     r3_saved_gs(%rip), %rax
        mov     %rax, %rdx
        shr     $32, %rdx
        wrmsr
        pop     %rdx
        pop     %rcx
        pop     %rax
77:
.endm

// Writes the gate for vector \vec to point at \handler with DPL \dpl, IST1.
.macro SET_GATE vec, handler, dpl
        lea     \handler(%rip), %rax
        lea     r3_idt + 16 * \vec(%rip), %rdx
        mov     %ax, (%rdx)
        movw    $0x08, 2(%rdx)
        movb    $1, 4(%rdx)
        movb    $(0x8E | (\dpl << 5)), 5(%rdx)
        shr     $16, %rax
        mov     %ax, 6(%rdx)
        shr     $16, %rax
        mov     %eax, 8(%rdx)
        movl    $0, 12(%rdx)
.endm

// r3_install() -> 0, or 1 when the runtime's GDT is larger than R3_BASE.
        .globl r3_install
r3_install:
        sgdt    r3_old_gdt(%rip)
        sidt    r3_old_idt(%rip)
        movzwl  r3_old_gdt(%rip), %ecx
        inc     %ecx
        cmp     $R3_BASE, %ecx
        jbe     1f
        mov     $1, %eax
        ret
1:      mov     r3_old_gdt+2(%rip), %rsi
        lea     r3_gdt(%rip), %rdi
        rep movsb
        lea     r3_gdt(%rip), %rdi
        movabs  $0x00af9a000000ffff, %rax
        mov     %rax, R3_BASE + 0x00(%rdi)       // kernel code64
        movabs  $0x00cf92000000ffff, %rax
        mov     %rax, R3_BASE + 0x08(%rdi)       // kernel data
        movabs  $0x00cffa000000ffff, %rax
        mov     %rax, R3_BASE + 0x10(%rdi)       // user code32
        movabs  $0x00cff2000000ffff, %rax
        mov     %rax, R3_BASE + 0x18(%rdi)       // user data
        movabs  $0x00affa000000ffff, %rax
        mov     %rax, R3_BASE + 0x20(%rdi)       // user code64
        movabs  $0x00cff2000000ffff, %rax
        mov     %rax, R3_BASE + 0x28(%rdi)       // user data
        mov     %rdi, r3_gdt_ptr+2(%rip)
        lgdt    r3_gdt_ptr(%rip)
        // The IDT copy.
        mov     r3_old_idt+2(%rip), %rsi
        lea     r3_idt(%rip), %rdi
        mov     $4096, %ecx
        rep movsb
        SET_GATE 0, r3_fault_0, 0
        SET_GATE 1, r3_fault_1, 0
        SET_GATE 3, r3_fault_3, 0
        SET_GATE 4, r3_fault_4, 0
        SET_GATE 5, r3_fault_5, 0
        SET_GATE 6, r3_fault_6, 0
        SET_GATE 7, r3_fault_7, 0
        SET_GATE 10, r3_fault_10, 0
        SET_GATE 11, r3_fault_11, 0
        SET_GATE 12, r3_fault_12, 0
        SET_GATE 13, r3_fault_13, 0
        SET_GATE 14, r3_fault_14, 0
        SET_GATE 16, r3_fault_16, 0
        SET_GATE 17, r3_fault_17, 0
        SET_GATE 19, r3_fault_19, 0
        SET_GATE 0x80, r3_int80, 3
        lea     r3_idt(%rip), %rax
        mov     %rax, r3_idt_ptr+2(%rip)
        lidt    r3_idt_ptr(%rip)
        xor     %eax, %eax
        ret

// r3_uninstall(): the runtime's GDT and IDT again (TR keeps whatever TSS
// it holds: the copy has the same IST stacks).
        .globl r3_uninstall
r3_uninstall:
        lgdt    r3_old_gdt(%rip)
        lidt    r3_old_idt(%rip)
        ret

// r3_load_io_tss(): the runtime's TSS copied to r3_tss with the I/O map
// right after it (base 104), its descriptor at 160h, LTR 160h.
        .globl r3_load_io_tss
r3_load_io_tss:
        mov     r3_old_gdt+2(%rip), %rsi
        add     $0x18, %rsi                      // the boot CPU's TSS descriptor
        movzwl  2(%rsi), %eax
        movzbl  4(%rsi), %ecx
        shl     $16, %ecx
        or      %ecx, %eax
        movzbl  7(%rsi), %ecx
        shl     $24, %ecx
        or      %ecx, %eax
        mov     8(%rsi), %ecx
        shl     $32, %rcx
        or      %rcx, %rax
        mov     %rax, %rsi
        lea     r3_tss(%rip), %rdi
        mov     $104, %ecx
        rep movsb
        lea     r3_tss(%rip), %rax
        movw    $104, 102(%rax)
        movb    $0xFF, 104 + 8192(%rax)
        lea     r3_gdt + 0x160(%rip), %rdi
        movw    $(104 + 8192), (%rdi)            // limit: the map and its end byte
        mov     %ax, 2(%rdi)
        shr     $16, %rax
        mov     %al, 4(%rdi)
        movb    $0x89, 5(%rdi)                   // present, 64-bit TSS available
        movb    $0, 6(%rdi)
        mov     %ah, 7(%rdi)
        shr     $16, %rax
        mov     %eax, 8(%rdi)
        movl    $0, 12(%rdi)
        mov     $0x160, %ax
        ltr     %ax
        ret

// r3_call(fn, arg, rflags) -> 0 when fn(arg) ran in ring 3 and returned
// (its RAX in r3_value), 100h | vector when it faulted (r3_vec, r3_err,
// r3_rip, r3_cr2, r3_cs). fn is an address inside r3_user_page.
        .globl r3_call
r3_call:
        push    %rbx
        push    %rbp
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        mov     %rdi, %r12
        mov     %rsi, %r13
        mov     %rdx, %r14
        mov     %rsp, r3_saved_rsp(%rip)
        movq    $1, r3_active(%rip)
        mov     $0xC0000100, %ecx
        rdmsr
        mov     %eax, r3_saved_fs(%rip)
        mov     %edx, r3_saved_fs+4(%rip)
        mov     $0xC0000101, %ecx
        rdmsr
        mov     %eax, r3_saved_gs(%rip)
        mov     %edx, r3_saved_gs+4(%rip)
        lea     r3_user_page(%rip), %rcx
        sub     %rcx, %r12
        add     r3_user_code_va(%rip), %r12      // fn's user alias
        lea     r3_trampoline_end(%rip), %rbx
        sub     %rcx, %rbx
        add     r3_user_code_va(%rip), %rbx
        mov     %rbx, r3_ret_alias(%rip)         // the UD2 that ends a call
        lea     r3_trampoline(%rip), %rbx
        sub     %rcx, %rbx
        add     r3_user_code_va(%rip), %rbx      // the trampoline's
        pushq   $USER_SS
        pushq   r3_user_stack_top(%rip)
        push    %r14
        pushq   $USER_CS
        push    %rbx
        mov     %r12, %rax
        mov     %r13, %rdi
        iretq

// Ends a ring-3 call with status RAX: back on the r3_call stack.
r3_return:
        mov     r3_saved_rsp(%rip), %rsp
        mov     %rax, %rbx
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     %rbx, %rax
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %rbp
        pop     %rbx
        ret

r3_int80:
        RESTORE_BASES
        mov     %rax, r3_value(%rip)
        xor     %eax, %eax
        jmp     r3_return

.macro R3FAULT v, err
r3_fault_\v:
        .if \err == 0
        pushq   $0
        pushq   $(\v | 0x1000)
        .else
        pushq   $\v
        .endif
        jmp     r3_fault_common
.endm
        R3FAULT 0, 0
        R3FAULT 1, 0
        R3FAULT 3, 0
        R3FAULT 4, 0
        R3FAULT 5, 0
        R3FAULT 6, 0
        R3FAULT 7, 0
        R3FAULT 10, 1
        R3FAULT 11, 1
        R3FAULT 12, 1
        R3FAULT 13, 1
        R3FAULT 14, 1
        R3FAULT 16, 0
        R3FAULT 17, 1
        R3FAULT 19, 0

// [rsp] vector (| 1000h: no hardware error code), [rsp+8] error code,
// then the hardware frame: rip, cs, rflags, rsp, ss.
r3_fault_common:
        RESTORE_BASES
        testb   $3, 24(%rsp)
        jz      2f
        // The trampoline's UD2 after fn returned: a normal end, RAX = result.
        cmpq    $(6 | 0x1000), (%rsp)
        jne     4f
        mov     16(%rsp), %rcx
        cmp     r3_ret_alias(%rip), %rcx
        jne     4f
        mov     %rax, r3_value(%rip)
        xor     %eax, %eax
        jmp     r3_return
4:      mov     (%rsp), %rax
        and     $0xFF, %eax
        mov     %rax, r3_vec(%rip)
        mov     8(%rsp), %rax
        mov     %rax, r3_err(%rip)
        mov     16(%rsp), %rax
        mov     %rax, r3_rip(%rip)
        mov     24(%rsp), %rax
        mov     %rax, r3_cs(%rip)
        mov     %cr2, %rax
        mov     %rax, r3_cr2(%rip)
        mov     r3_vec(%rip), %rax
        or      $0x100, %rax
        jmp     r3_return
        // A ring-0 fault: on to the runtime's stub for this vector.
2:      push    %rax
        push    %rcx
        push    %rdx
        mov     24(%rsp), %rax
        mov     %rax, %rcx
        and     $0xFF, %eax
        lea     isr_stub_table(%rip), %rdx
        mov     (%rdx,%rax,8), %rax
        test    $0x1000, %ecx
        jnz     3f
        mov     %rax, 24(%rsp)                   // error code stays
        pop     %rdx
        pop     %rcx
        pop     %rax
        ret
3:      mov     %rax, 32(%rsp)                   // over the fake error code
        pop     %rdx
        pop     %rcx
        pop     %rax
        add     $8, %rsp
        ret

// ---- The user page: everything below runs in ring 3 from its alias. ----
        .section .text.r3user.head, "ax"
        .balign 4096
        .globl r3_user_page
r3_user_page:
// RAX = fn, RDI = arg: fn(arg), then UD2 with its result in RAX (INT 80h
// through a DPL-3 gate would do, but this host's nested KVM (PVM) turns it
// into #UD; a UD2 at this known address ends the call the same way on both).
r3_trampoline:
        call    *%rax
r3_trampoline_end:
        ud2

// ---- Page-table pages and the user stack (mapped by the Swift side). ----
        .section .bss
        .balign 4096
        .globl r3_pt_pool, r3_user_stack_page
r3_pt_pool:
        .space 16 * 4096
r3_user_stack_page:
        .space 4096

        .text
        .globl r3_pt_pool_address, r3_user_stack_address, r3_user_page_address, r3_gdt_address
r3_pt_pool_address:
        lea     r3_pt_pool(%rip), %rax
        ret
r3_user_stack_address:
        lea     r3_user_stack_page(%rip), %rax
        ret
r3_user_page_address:
        lea     r3_user_page(%rip), %rax
        ret
r3_gdt_address:
        lea     r3_gdt(%rip), %rax
        ret

// r3_run(index, arg, rflags): r3_call of user stub `index` of u_table.
        .globl r3_run, r3_user_alias
r3_run:
        lea     u_table(%rip), %rax
        mov     (%rax,%rdi,8), %rdi
        jmp     r3_call
// r3_user_alias(index) -> the user address of stub `index`.
r3_user_alias:
        lea     u_table(%rip), %rax
        mov     (%rax,%rdi,8), %rax
        lea     r3_user_page(%rip), %rcx
        sub     %rcx, %rax
        add     r3_user_code_va(%rip), %rax
        ret

// r3_set_user(codeVA, stackTop); r3_field(i): r3_value, r3_vec, r3_err,
// r3_rip, r3_cr2, r3_cs.
        .globl r3_set_user, r3_field
r3_set_user:
        mov     %rdi, r3_user_code_va(%rip)
        mov     %rsi, r3_user_stack_top(%rip)
        ret
r3_field:
        lea     r3_value(%rip), %rax
        mov     (%rax,%rdi,8), %rax
        ret
