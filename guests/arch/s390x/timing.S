// The clock comparator and the CPU timer (privileged: a caller in problem
// state gets the privileged-operation exception the tests look for).
        .machine z13
        .text
        .globl s390_set_clock_comparator, s390_store_clock_comparator
        .globl s390_set_cpu_timer, s390_store_cpu_timer
s390_set_clock_comparator:                   // (value)
        aghi    %r15, -8
        stg     %r2, 0(%r15)
        sckc    0(%r15)
        aghi    %r15, 8
        br      %r14
s390_store_clock_comparator:                 // () -> value
        aghi    %r15, -8
        stckc   0(%r15)
        lg      %r2, 0(%r15)
        aghi    %r15, 8
        br      %r14
s390_set_cpu_timer:                          // (value)
        aghi    %r15, -8
        stg     %r2, 0(%r15)
        spt     0(%r15)
        aghi    %r15, 8
        br      %r14
s390_store_cpu_timer:                        // () -> value
        aghi    %r15, -8
        stpt    0(%r15)
        lg      %r2, 0(%r15)
        aghi    %r15, 8
        br      %r14
