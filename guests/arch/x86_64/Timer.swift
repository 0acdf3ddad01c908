import GuestLib

/// Time from the TSC, calibrated once against the PIT (channel 2, which
/// counts at 1.193182 MHz independently of the accelerator).
public enum Timer {
  nonisolated(unsafe) public internal(set) static var ticksPerMicrosecond: UInt64 = 0

  /// The calibration interval: every boot waits for it once (it was 10 ms).
  /// Over 2 ms (2386 PIT ticks) the rate comes out at most a few percent
  /// high — the last poll of port 0x61 overshoots the end, by one VM exit
  /// under KVM — never low, so delays only get longer. Measured against a
  /// 50 ms calibration: +0.8 % under TCG, +0.6 to +2.8 % under this host's
  /// nested KVM (10 ms: +0.2 %).
  static let calibrationMicroseconds: UInt64 = 2000

  /// Measures the TSC over a `calibrationMicroseconds` PIT interval.
  static func calibrate() {
    let count = UInt16(calibrationMicroseconds * 1_193_182 / 1_000_000)
    // Gate channel 2 on, speaker off.
    x86_outb(0x61, (x86_inb(0x61) & 0xFC) | 0x01)
    x86_outb(0x43, 0xB0)  // channel 2, lobyte/hibyte, mode 0
    x86_outb(0x42, UInt8(truncatingIfNeeded: count))
    x86_outb(0x42, UInt8(truncatingIfNeeded: count >> 8))
    let start = x86_rdtsc()
    var spins: UInt64 = 0
    while x86_inb(0x61) & 0x20 == 0 && spins < 100_000_000 { spins &+= 1 }
    let elapsed = x86_rdtsc() &- start
    ticksPerMicrosecond = max(elapsed / calibrationMicroseconds, 1)
  }

  /// Nanoseconds for a TSC difference.
  public static func nanoseconds(_ ticks: UInt64) -> UInt64 {
    guard ticksPerMicrosecond > 0 else { return 0 }
    return ticks &* 1000 / ticksPerMicrosecond
  }

  /// Busy-waits at least `microseconds`.
  public static func delay(microseconds: UInt64) {
    if ticksPerMicrosecond == 0 { calibrate() }
    let end = x86_rdtsc() &+ microseconds &* ticksPerMicrosecond
    while x86_rdtsc() < end { x86_pause() }
  }
}
