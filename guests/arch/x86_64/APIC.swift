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

  /// Register offsets in the xAPIC MMIO page (SDM vol. 3 Table 10-1); in
  /// x2APIC mode `read` and `write` use MSR 800h + offset >> 4.
  public enum Register {
    /// Local APIC ID.
    public static let id: UInt32 = 0x20
    /// Local APIC version.
    public static let version: UInt32 = 0x30
    /// Task priority (TPR).
    public static let taskPriority: UInt32 = 0x80
    /// Processor priority (PPR).
    public static let processorPriority: UInt32 = 0xA0
    /// Logical destination (LDR).
    public static let logicalDestination: UInt32 = 0xD0
    /// Destination format (DFR; xAPIC only).
    public static let destinationFormat: UInt32 = 0xE0
    /// Spurious interrupt vector (SVR).
    public static let spuriousVector: UInt32 = 0xF0
    /// First of the eight registers of the 256-bit in-service register (ISR).
    public static let inService: UInt32 = 0x100
    /// First of the eight registers of the 256-bit interrupt request register (IRR).
    public static let interruptRequest: UInt32 = 0x200
    /// Error status (ESR).
    public static let errorStatus: UInt32 = 0x280
    /// Interrupt command, low half (ICR).
    public static let interruptCommand: UInt32 = 0x300
    /// LVT timer.
    public static let lvtTimer: UInt32 = 0x320
    /// LVT thermal sensor.
    public static let lvtThermal: UInt32 = 0x330
    /// LVT performance monitoring counters.
    public static let lvtPerformance: UInt32 = 0x340
    /// LVT LINT0.
    public static let lvtLINT0: UInt32 = 0x350
    /// LVT LINT1.
    public static let lvtLINT1: UInt32 = 0x360
    /// LVT error.
    public static let lvtError: UInt32 = 0x370
    /// Timer initial count.
    public static let initialCount: UInt32 = 0x380
    /// Timer current count.
    public static let currentCount: UInt32 = 0x390
    /// Timer divide configuration.
    public static let divideConfiguration: UInt32 = 0x3E0
  }

  /// This CPU's APIC id.
  public static var id: UInt32 {
    x2 ? read(0x20) : read(0x20) >> 24
  }

  /// Signals end of interrupt.
  public static func endOfInterrupt() { write(0xB0, 0) }

  /// The bit of `vector` (0 or 1) in the 256-bit register whose first
  /// 32-bit register is at `base`, its eight registers 16 bytes apart (ISR
  /// 100h, TMR 180h, IRR 200h; SDM vol. 3 10.8.4, Figure 10-20).
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
