import GuestLib

/// Time from the TSC, calibrated once against the PIT (channel 2, which
/// counts at 1.193182 MHz independently of the accelerator).
public enum Timer {
  nonisolated(unsafe) public internal(set) static var ticksPerMicrosecond: UInt64 = 0

  /// The calibration interval: every boot waits for it once.
  static let calibrationMicroseconds: UInt64 = 2000
  /// PIT input clock, Hz.
  static let pitHz: UInt64 = 1_193_182

  /// Reads PIT channel 2's counter (latched: the value at the latch
  /// command, 8254 "counter latch") with the TSC read around it: the
  /// midpoint of the narrowest bracket of a few tries. A vCPU preempted
  /// inside a bracket only widens that try, never shifts the result.
  static func sample() -> (tsc: UInt64, count: UInt16) {
    var best = (tsc: UInt64(0), count: UInt16(0), width: UInt64.max)
    var tries = 0
    while tries < 8 {
      let t0 = x86_rdtsc()
      x86_outb(0x43, 0x80)  // channel 2, counter latch
      let low = UInt16(x86_inb(0x42))
      let high = UInt16(x86_inb(0x42))
      let t1 = x86_rdtsc()
      if t1 &- t0 < best.width { best = (t0 &+ (t1 &- t0) / 2, high << 8 | low, t1 &- t0) }
      tries += 1
    }
    return (best.tsc, best.count)
  }

  /// Measures the TSC against PIT channel 2 counting down over about
  /// `calibrationMicroseconds`: both ends are (TSC, counter) samples, so
  /// a vCPU that was descheduled in between (a loaded host) measures the
  /// same rate. (The former method timed the countdown to its terminal
  /// count; a preemption before the last poll read 4-11 GHz for 2.6.)
  static func calibrate() {
    // Gate channel 2 on, speaker off; mode 0 from the largest count: it
    // counts down for 55 ms, longer than the interval.
    x86_outb(0x61, (x86_inb(0x61) & 0xFC) | 0x01)
    x86_outb(0x43, 0xB0)  // channel 2, lobyte/hibyte, mode 0
    x86_outb(0x42, 0xFF)
    x86_outb(0x42, 0xFF)
    let span = UInt16(calibrationMicroseconds * pitHz / 1_000_000)
    var first = sample()
    // The counter starts one input clock after it is written: wait for it.
    var spins: UInt64 = 0
    while first.count == 0 || first.count == 0xFFFF, spins < 1_000_000 {
      first = sample()
      spins &+= 1
    }
    var last = first
    spins = 0
    while first.count &- last.count < span && spins < 100_000_000 {
      last = sample()
      spins &+= 1
    }
    let counted = UInt64(first.count &- last.count)
    guard counted > 0 else {
      ticksPerMicrosecond = 1
      return
    }
    ticksPerMicrosecond = max((last.tsc &- first.tsc) &* pitHz / (counted &* 1_000_000), 1)
  }

  /// Nanoseconds for a TSC difference.
  public static func nanoseconds(_ ticks: UInt64) -> UInt64 {
    guard ticksPerMicrosecond > 0 else { return 0 }
    return ticks &* 1000 / ticksPerMicrosecond
  }

  /// A short busy wait without PAUSE (100 TSC reads): under TCG each PAUSE
  /// leaves the translated code and takes QEMU's global lock, and a vCPU
  /// doing that in a tight loop starves the main loop that runs the device
  /// timers (measured by the timers guest: the APIC timer never fired, the
  /// PIT and RTC delivered a tenth of their ticks while the boot CPU spun
  /// on PAUSE).
  public static func spinBriefly() {
    var i = 0
    while i < 100 {
      _ = x86_rdtsc()
      i += 1
    }
  }

  /// Reads `read()` between two TSC reads: the midpoint TSC and the value,
  /// from the narrowest bracket of up to 20 tries (stopping at the first
  /// narrower than `width` TSC ticks). A vCPU descheduled in the middle of
  /// a read only widens that try (measured under this host's nested KVM: a
  /// single unbracketed read put milliseconds of error into a 10 ms rate).
  public static func bracketed(within width: UInt64, _ read: () -> UInt64) -> (tsc: UInt64, value: UInt64) {
    var best = (tsc: UInt64(0), value: UInt64(0), width: UInt64.max)
    var tries = 0
    while tries < 20 {
      let t0 = x86_rdtsc()
      let value = read()
      let t1 = x86_rdtsc()
      if t1 &- t0 < best.width { best = ((t0 &+ t1) / 2, value, t1 &- t0) }
      if best.width < width { break }
      tries += 1
    }
    return (best.tsc, best.value)
  }

  /// Busy-waits at least `microseconds`.
  public static func delay(microseconds: UInt64) {
    if ticksPerMicrosecond == 0 { calibrate() }
    let end = x86_rdtsc() &+ microseconds &* ticksPerMicrosecond
    while x86_rdtsc() < end { x86_pause() }
  }
}
