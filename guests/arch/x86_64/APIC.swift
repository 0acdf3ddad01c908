import GuestLib

/// The local APIC, in x2APIC mode when the CPU has it (MSR access) and in
/// xAPIC mode otherwise (MMIO at 0xFEE00000, identity mapped).
public enum APIC {
  nonisolated(unsafe) public internal(set) static var x2: Bool = false
  public static let mmioBase: UInt = 0xFEE0_0000

  /// Whether CPUID reports x2APIC support.
  public static var hasX2APIC: Bool {
    cpuid(1).ecx & (1 << 21) != 0
  }

  /// Enables this CPU's APIC (x2APIC mode when `x2`), spurious vector 0xFF.
  static func enableOnThisCPU() {
    var base = x86_rdmsr(0x1B)
    base |= 1 << 11
    if x2 { base |= 1 << 10 }
    x86_wrmsr(0x1B, base)
    write(0xF0, 0x1FF)  // software enable, spurious vector 0xFF
    write(0x80, 0)  // task priority: accept everything
  }

  public static func read(_ register: UInt32) -> UInt32 {
    if x2 { return UInt32(truncatingIfNeeded: x86_rdmsr(0x800 + (register >> 4))) }
    return x86_mmio_read32(mmioBase + UInt(register))
  }

  public static func write(_ register: UInt32, _ value: UInt32) {
    if x2 {
      x86_wrmsr(0x800 + (register >> 4), UInt64(value))
    } else {
      x86_mmio_write32(mmioBase + UInt(register), value)
    }
  }

  /// This CPU's APIC id.
  public static var id: UInt32 {
    x2 ? read(0x20) : read(0x20) >> 24
  }

  /// Signals end of interrupt.
  public static func endOfInterrupt() { write(0xB0, 0) }

  /// The first of the eight 32-bit registers (16 bytes apart) of the
  /// 256-bit in-service register (SDM vol. 3 10.8.4, Figure 10-20).
  public static let inService: UInt32 = 0x100
  /// The first register of the 256-bit interrupt request register.
  public static let requested: UInt32 = 0x200

  /// The bit of `vector` (0 or 1) in the 256-bit register whose first
  /// 32-bit register is at `base` (ISR 100h, TMR 180h, IRR 200h).
  public static func vectorBit(_ base: UInt32, _ vector: UInt32) -> UInt32 {
    read(base + 0x10 * (vector >> 5)) >> (vector & 31) & 1
  }

  /// Sends `vector` to this CPU as a fixed, edge-triggered IPI through the
  /// ICR's self shorthand (SDM vol. 3 10.6.1: shorthand 01b, assert).
  public static func sendSelf(_ vector: UInt32) {
    sendIPI(to: 0, 0x4_0000 | 0x4000 | (vector & 0xFF))
  }

  /// Sends an interprocessor interrupt (`low` = ICR bits 0-19) to `apicID`.
  public static func sendIPI(to apicID: UInt32, _ low: UInt32) {
    if x2 {
      x86_wrmsr(0x830, UInt64(apicID) << 32 | UInt64(low))
    } else {
      write(0x310, apicID << 24)
      write(0x300, low)
      var spins = 0
      while read(0x300) & (1 << 12) != 0 && spins < 1_000_000 {
        x86_pause()
        spins &+= 1
      }
    }
  }

  /// INIT (assert, level), SIPI, SIPI with the architected waits.
  static func startProcessor(_ apicID: UInt32, trampolinePage: UInt32) {
    sendIPI(to: apicID, 0x0000_4500)  // INIT, level assert
    Timer.delay(microseconds: 10_000)
    sendIPI(to: apicID, 0x0000_4600 | trampolinePage)  // STARTUP
    Timer.delay(microseconds: 200)
    sendIPI(to: apicID, 0x0000_4600 | trampolinePage)
    Timer.delay(microseconds: 200)
  }
}
