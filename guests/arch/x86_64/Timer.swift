/// Time from the TSC, calibrated once against the PIT (channel 2, which
/// counts at 1.193182 MHz independently of the accelerator).
enum Timer {
  nonisolated(unsafe) static var ticksPerMicrosecond: UInt64 = 0

  /// Measures the TSC over a 10 ms PIT interval.
  static func calibrate() {
    let count: UInt16 = 11932  // 10 ms
    // Gate channel 2 on, speaker off.
    x86_outb(0x61, (x86_inb(0x61) & 0xFC) | 0x01)
    x86_outb(0x43, 0xB0)  // channel 2, lobyte/hibyte, mode 0
    x86_outb(0x42, UInt8(truncatingIfNeeded: count))
    x86_outb(0x42, UInt8(truncatingIfNeeded: count >> 8))
    let start = x86_rdtsc()
    var spins: UInt64 = 0
    while x86_inb(0x61) & 0x20 == 0 && spins < 100_000_000 { spins &+= 1 }
    let elapsed = x86_rdtsc() &- start
    ticksPerMicrosecond = max(elapsed / 10_000, 1)
  }

  /// Nanoseconds for a TSC difference.
  static func nanoseconds(_ ticks: UInt64) -> UInt64 {
    guard ticksPerMicrosecond > 0 else { return 0 }
    return ticks &* 1000 / ticksPerMicrosecond
  }

  /// Busy-waits at least `microseconds`.
  static func delay(microseconds: UInt64) {
    if ticksPerMicrosecond == 0 { calibrate() }
    let end = x86_rdtsc() &+ microseconds &* ticksPerMicrosecond
    while x86_rdtsc() < end { x86_pause() }
  }
}
