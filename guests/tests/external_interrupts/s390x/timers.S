// Clock comparator and CPU timer access for external_interrupts.
        .machine z13
        .text
        .globl ext_set_clock_comparator, ext_store_clock_comparator
        .globl ext_set_cpu_timer, ext_store_cpu_timer, ext_store_clock
ext_set_clock_comparator:                    // (value)
        aghi    %r15, -8
        stg     %r2, 0(%r15)
        sckc    0(%r15)
        aghi    %r15, 8
        br      %r14
ext_store_clock_comparator:                  // () -> value
        aghi    %r15, -8
        stckc   0(%r15)
        lg      %r2, 0(%r15)
        aghi    %r15, 8
        br      %r14
ext_set_cpu_timer:                           // (value)
        aghi    %r15, -8
        stg     %r2, 0(%r15)
        spt     0(%r15)
        aghi    %r15, 8
        br      %r14
ext_store_cpu_timer:                         // () -> value
        aghi    %r15, -8
        stpt    0(%r15)
        lg      %r2, 0(%r15)
        aghi    %r15, 8
        br      %r14
ext_store_clock:                             // () -> TOD clock (STCKF)
        aghi    %r15, -8
        stckf   0(%r15)
        lg      %r2, 0(%r15)
        aghi    %r15, 8
        br      %r14
