import Synchronization

/// `count` 32-bit atomic counters, each initialised to 0, in memory that is
/// never freed (for interrupt-hit tables shared by all CPUs).
public func allocateCounters(_ count: Int) -> UnsafeMutablePointer<Atomic<UInt32>> {
  let counters = UnsafeMutablePointer<Atomic<UInt32>>.allocate(capacity: count)
  var index = 0
  while index < count {
    (counters + index).initialize(to: Atomic(0))
    index += 1
  }
  return counters
}
