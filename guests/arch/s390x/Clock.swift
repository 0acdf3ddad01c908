import GuestLib

@_extern(c, "s390_store_clock") public func s390_store_clock() -> UInt64

/// A free-running counter (the TOD clock), used to seed arc4random_buf.
public func cycleCounter() -> UInt64 { s390_store_clock() }
