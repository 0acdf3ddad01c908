import GuestLib

/// The x86_64 runtime as a `GuestPlatform`: COM1 console, Multiboot boot
/// information, the allocators, the boot CPU's APIC and per-CPU block, TSC
/// time calibrated against the PIT, CPUID features, and isa-debug-exit /
/// ACPI power-off / pvpanic to stop the machine.
public enum X86_64Platform: GuestPlatform {
  /// What boot.S passed to `x86_boot_main`: the loader's magic value and
  /// the physical address of the Multiboot information.
  nonisolated(unsafe) static var multibootMagic: UInt32 = 0
  nonisolated(unsafe) static var multibootInfo: UInt32 = 0
  /// The TSC when `boot()` started: time zero of `nanoseconds()`.
  nonisolated(unsafe) static var bootTSC: UInt64 = 0

  /// Console on COM1, the boot information and command line, the
  /// allocators, then the boot CPU: legacy PICs masked, TSC calibrated,
  /// APIC enabled (x2APIC when the CPU has it), its per-CPU block and the
  /// console line lock. Other CPUs start with `SMP.startAll()`.
  #if hasAttribute(export)
    @export(interface)  // compiled once in GuestArch.o, not into each program
  #endif
  public static func boot() {
    bootTSC = x86_rdtsc()
    Serial.initialize()
    Console.sink = { Serial.write($0) }
    Console.source = { Serial.read() }
    Console.write(byte: 10)
    BootInfo.capture(magic: multibootMagic, info: multibootInfo)
    GuestMemory.setUp()
    SMP.initializeBootCPU()
  }

  /// The Multiboot command line.
  public static var arguments: BootArguments { BootInfo.arguments }

  /// The reset record page: `GuestMemory.resetRecordPage`.
  public static var resetRecordAddress: UInt? { GuestMemory.resetRecordPage }

  /// The enabled processors of the ACPI MADT (the CPUs `SMP.startAll()`
  /// starts); 1 without ACPI tables.
  public static var cpuCount: Int { max(SMP.discoverProcessors(), 1) }

  /// The calling CPU's index in its per-CPU block (0 = boot CPU).
  public static var currentCPU: Int { PerCPU.current.index }

  /// Nanoseconds since `boot()` from the TSC.
  public static func nanoseconds() -> UInt64 { Timer.nanoseconds(x86_rdtsc() &- bootTSC) }

  /// CPUID of this CPU: the bit of `feature`, when the leaf exists.
  #if hasAttribute(export)
    @export(interface)  // compiled once in GuestArch.o, not into each program
  #endif
  public static func hasFeature(_ feature: CPUFeature) -> Bool {
    guard case .cpuid(let leaf, let subleaf, let register, let bit) = feature.source,
      register < 4, bit < 32
    else { return false }
    // The highest basic or extended leaf first: leaves above it return
    // another leaf's values.
    if cpuid(leaf & 0x8000_0000, 0).eax < leaf { return false }
    let values = cpuid(leaf, subleaf)
    let word: UInt32
    switch register {
    case 0: word = values.0
    case 1: word = values.1
    case 2: word = values.2
    default: word = values.3
    }
    return word & (1 << UInt32(bit)) != 0
  }
}

/// The platform guest programs run on.
public typealias Platform = X86_64Platform
