/// What an architecture runtime (`guests/arch/<arch>`, the `GuestArch`
/// module) provides to the guest library: the contract between the test
/// runner in `GuestLib` and the machine it runs on. Each architecture has one
/// conforming type, exported as `Platform` (`X86_64Platform`,
/// `S390xPlatform`).
///
/// The entry contract: the runtime's boot assembly calls its Swift entry
/// (`x86_boot_main(magic, info)`, `s390_boot_main()`), which keeps what
/// `boot()` needs of its arguments and calls the one C symbol a guest
/// program provides,
///
/// ```swift
/// @_extern(c, "swiftguest_main") func swiftguest_main()
/// ```
///
/// The payload builder generates that function into each program's module
/// (`GuestEntry` in Sources/Harness): it runs `Platform.boot()`, the
/// program's tests and `Platform.exit(_:)` with their status (later
/// `runGuest(named:_:on: Platform.self)`). Should it return, the runtime
/// stops the machine without an exit line (the harness reports a crash).
public protocol GuestPlatform {
  /// Brings the machine up before any test runs: the console
  /// (`Console.sink`, and `Console.lineLock`/`lineUnlock` once more than one
  /// CPU can print), the boot information and command line, the memory
  /// allocators and the boot CPU's own state (exception handlers, clock).
  static func boot()

  /// The guest's command line (QEMU `-append`).
  static var arguments: BootArguments { get }

  /// CPUs the machine has, started or not (x86_64: ACPI MADT; s390x: SCLP).
  static var cpuCount: Int { get }

  /// Index of the CPU running the caller: 0 is the boot CPU.
  static var currentCPU: Int { get }

  /// Nanoseconds since boot: x86_64 TSC calibrated against the PIT, s390x
  /// TOD clock. Monotonic on one CPU.
  static func nanoseconds() -> UInt64

  /// Whether this CPU has `feature` (x86_64: CPUID; s390x: STFLE facility
  /// bits). A feature of another architecture is never present.
  static func hasFeature(_ feature: CPUFeature) -> Bool

  /// Runs `body(context)` with the exception hook armed: an exception in
  /// `body` returns here with what was caught instead of crashing the guest.
  /// Nil when `body` returned normally.
  static func catchException(
    _ body: @convention(c) (UnsafeMutableRawPointer?) -> Void, context: UnsafeMutableRawPointer?
  ) -> CaughtException?

  /// Stops the machine; the protocol's exit line has been written.
  static func exit(_ status: GuestStatus) -> Never

  /// The physical address of the page that keeps the reset record across
  /// a machine reset (`requestReset()`): RAM the firmware, the loader and
  /// the runtime's boot leave alone, and the allocators never hand out.
  /// Nil: the platform has none (a reset request is refused).
  static var resetRecordAddress: UInt? { get }
}

extension GuestPlatform {
  /// No reset record page (platforms that do not survive a reset).
  public static var resetRecordAddress: UInt? { nil }
}

/// A CPU feature a test may require: a CPUID bit on x86_64, a facility bit
/// (STFLE) on s390x.
public struct CPUFeature: Sendable {
  /// Which instruction reports the feature.
  public enum Source: Sendable {
    /// `CPUID(leaf, subleaf)`: register 0 = EAX, 1 = EBX, 2 = ECX, 3 = EDX.
    case cpuid(leaf: UInt32, subleaf: UInt32, register: UInt8, bit: UInt8)
    /// s390x facility number as STORE FACILITY LIST EXTENDED reports it.
    case facility(UInt16)
  }

  /// The name shown in a skip reason (`needs x2apic`).
  public var name: StaticString
  /// Where the feature bit is.
  public var source: Source

  /// A feature named `name`, reported by `source`.
  public init(_ name: StaticString, _ source: Source) {
    self.name = name
    self.source = source
  }

  /// x86_64: x2APIC (CPUID.1:ECX[21]).
  public static let x2apic = CPUFeature("x2apic", .cpuid(leaf: 1, subleaf: 0, register: 2, bit: 21))
  /// x86_64: TSC deadline timer (CPUID.1:ECX[24]).
  public static let tscDeadline = CPUFeature(
    "tsc-deadline", .cpuid(leaf: 1, subleaf: 0, register: 2, bit: 24))
  /// x86_64: process-context identifiers (CPUID.1:ECX[17]).
  public static let pcid = CPUFeature("pcid", .cpuid(leaf: 1, subleaf: 0, register: 2, bit: 17))
  /// x86_64: 1 GiB pages (CPUID.80000001h:EDX[26]).
  public static let gigabytePages = CPUFeature(
    "pdpe1gb", .cpuid(leaf: 0x8000_0001, subleaf: 0, register: 3, bit: 26))
  /// x86_64: no-execute pages (CPUID.80000001h:EDX[20]).
  public static let noExecute = CPUFeature(
    "nx", .cpuid(leaf: 0x8000_0001, subleaf: 0, register: 3, bit: 20))
  /// x86_64: RDTSCP (CPUID.80000001h:EDX[27]).
  public static let rdtscp = CPUFeature(
    "rdtscp", .cpuid(leaf: 0x8000_0001, subleaf: 0, register: 3, bit: 27))
  /// x86_64: hypervisor present (CPUID.1:ECX[31]).
  public static let hypervisor = CPUFeature(
    "hypervisor", .cpuid(leaf: 1, subleaf: 0, register: 2, bit: 31))
  /// s390x: the z/Architecture architectural mode is installed (facility 1).
  public static let zArchitecture = CPUFeature("z/Architecture", .facility(1))
  /// s390x: STORE FACILITY LIST EXTENDED (facility 7).
  public static let stfle = CPUFeature("stfle", .facility(7))
  /// s390x: general-instructions extension (facility 34).
  public static let generalInstructionsExtension = CPUFeature("general-instructions-extension", .facility(34))
  /// s390x: vector facility for z/Architecture (facility 129).
  public static let vector = CPUFeature("vector", .facility(129))
}
