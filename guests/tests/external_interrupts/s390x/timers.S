// Clock comparator and CPU timer access for external_interrupts.
        .machine z13
        .text
        .globl ext_store_clock
ext_store_clock:                             // () -> TOD clock (STCKF)
        aghi    %r15, -8
        stckf   0(%r15)
        lg      %r2, 0(%r15)
        aghi    %r15, 8
        br      %r14
