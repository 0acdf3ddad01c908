// Instruction sequences of the smp_stress guest (SysV ABI), each exactly
// the accesses a litmus test or a locked read-modify-write names, so the
// compiler cannot reorder, merge or drop them.
        .text
        .globl stress_lock_inc, stress_xchg, stress_lock_bts, stress_lock_cmpxchg
        .globl stress_lock_xadd
stress_lock_inc:                        // (p)
        lock incq (%rdi)
        ret
stress_lock_xadd:                       // (p, v) -> old
        mov     %rsi, %rax
        lock xaddq %rax, (%rdi)
        ret
stress_xchg:                            // (p, v) -> old (XCHG locks implicitly)
        mov     %rsi, %rax
        xchgq   %rax, (%rdi)
        ret
stress_lock_bts:                        // (base, bit) -> old bit (CF)
        xor     %eax, %eax
        lock btsq %rsi, (%rdi)
        setc    %al
        ret
stress_lock_cmpxchg:                    // (p, expected, new) -> value found
        mov     %rsi, %rax
        lock cmpxchgq %rdx, (%rdi)
        ret

        .globl litmus_store_load, litmus_store_mfence_load, litmus_xchg_load
        .globl litmus_store_store, litmus_load_load, litmus_load_store
        .globl litmus_store, litmus_store_load_load
litmus_store_load:                      // (x, y) -> [y] after x = 1
        movq    $1, (%rdi)
        movq    (%rsi), %rax
        ret
litmus_store_mfence_load:               // (x, y) -> [y] after x = 1; MFENCE
        movq    $1, (%rdi)
        mfence
        movq    (%rsi), %rax
        ret
litmus_xchg_load:                       // (x, y) -> [y] after XCHG x, 1
        mov     $1, %eax
        xchgq   %rax, (%rdi)
        movq    (%rsi), %rax
        ret
litmus_store_store:                     // (a, b): a = 1; b = 1
        movq    $1, (%rdi)
        movq    $1, (%rsi)
        ret
litmus_load_load:                       // (a, b, out): out[0] = [a]; out[1] = [b]
        movq    (%rdi), %rax
        movq    (%rsi), %rcx
        movq    %rax, (%rdx)
        movq    %rcx, 8(%rdx)
        ret
litmus_load_store:                      // (a, b) -> [a], then b = 1
        movq    (%rdi), %rax
        movq    $1, (%rsi)
        ret
litmus_store:                           // (a): a = 1
        movq    $1, (%rdi)
        ret
litmus_store_load_load:                 // (x, y, out): x = 1; out[0] = [x]; out[1] = [y]
        movq    $1, (%rdi)
        movq    (%rdi), %rax
        movq    (%rsi), %rcx
        movq    %rax, (%rdx)
        movq    %rcx, 8(%rdx)
        ret
