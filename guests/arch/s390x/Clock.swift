import GuestLib

@_extern(c, "s390_store_clock") public func s390_store_clock() -> UInt64

/// A free-running counter (the TOD clock), used to seed arc4random_buf.
public func cycleCounter() -> UInt64 { s390_store_clock() }

/// SET CLOCK COMPARATOR (timing.S).
@_extern(c, "s390_set_clock_comparator") public func s390_set_clock_comparator(_ value: UInt64)
/// STORE CLOCK COMPARATOR.
@_extern(c, "s390_store_clock_comparator") public func s390_store_clock_comparator() -> UInt64
/// SET CPU TIMER.
@_extern(c, "s390_set_cpu_timer") public func s390_set_cpu_timer(_ value: UInt64)
/// STORE CPU TIMER.
@_extern(c, "s390_store_cpu_timer") public func s390_store_cpu_timer() -> UInt64
