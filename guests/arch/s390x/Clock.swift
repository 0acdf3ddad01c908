@_extern(c, "s390_store_clock") func s390_store_clock() -> UInt64

/// A free-running counter (the TOD clock), used to seed arc4random_buf.
func cycleCounter() -> UInt64 { s390_store_clock() }
