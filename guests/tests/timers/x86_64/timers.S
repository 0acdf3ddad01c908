// Port input the timers guest needs beyond the runtime's x86_inb.
        .text
        .globl timers_inl
timers_inl:                             // (port: UInt16) -> UInt32
        mov     %edi, %edx
        in      %dx, %eax
        ret
