/// The bounds a matrix config's values must keep: what QEMU 7.2 accepts for
/// the machines the harness boots (`-machine pc` on x86_64,
/// `-machine s390-ccw-virtio` on s390x), and the harness's own limits.
///
/// Sources (QEMU 7.2, facts only, checked against the installed
/// qemu-system-x86_64/-s390x 7.2):
/// - CPUs, x86_64: the generic PC machine class (`pc_machine_class_init`,
///   hw/i386/pc.c) sets the machine's CPU maximum to 255, and the i440FX
///   machine types of hw/i386/pc_piix.c keep it; QEMU 7.2 refuses `-smp 256`
///   for pc-i440fx-7.2, naming 255 as the maximum.
/// - CPUs, s390x: `ccw_machine_class_init` (hw/s390x/s390-virtio-ccw.c)
///   sets the maximum to S390_MAX_CPUS, which target/s390x/cpu.h defines
///   as 248; `-smp 249` is refused the same way.
/// - RAM, x86_64: `pc_memory_init` (hw/i386/pc.c, since 7.1) refuses a
///   machine whose highest used guest-physical address (RAM above 4 GiB,
///   then the 64-bit PCI hole, 2 GiB by default per hw/pci-host/i440fx.c) is beyond what
///   the CPU's physical address bits reach ("phys-bits too low"). QEMU's
///   default model (qemu64) has 40 bits (1 TiB) and, under TCG, the AMD
///   vendor, for which 7.1+ machine types move RAM above the HyperTransport
///   hole at 1012 GiB to 1 TiB, past 40 bits. With the 3 GiB that pc keeps
///   below 4 GiB, the largest `-m` that starts is 1009 GiB (measured:
///   1009G starts, 1009G + 1M is refused). Under KVM the vendor is the
///   host's, so on Intel hosts QEMU would take a little more; the bound
///   holds for every accelerator.
/// - RAM, s390x: QEMU 7.2 sets no ceiling of its own for s390-ccw-virtio
///   under TCG (hw/s390x/sclp.c asks only KVM for a memory limit, which is
///   the host kernel's). All guest RAM is mapped into QEMU's address space,
///   and an x86_64 Linux process has 128 TiB of it: the harness allows
///   64 TiB, the largest power of two that still starts (with
///   `reserve=off`). RAM must be whole MiB there (SCLP storage increments).
public enum ConfigLimits {
  /// The most virtual CPUs QEMU 7.2's machine for `architecture` accepts.
  public static func maxCPUs(_ architecture: Architecture) -> Int {
    switch architecture {
    case .x86_64: 255
    case .s390x: 248
    }
  }

  /// The most guest RAM, in MiB, the harness passes to QEMU for
  /// `architecture` (see the type's documentation for where it comes from).
  public static func maxMemoryMiB(_ architecture: Architecture) -> Int {
    switch architecture {
    case .x86_64: 1009 << 10
    case .s390x: 64 << 20
    }
  }

  /// The machine QEMU runs for `architecture`, for error messages.
  static func machine(_ architecture: Architecture) -> String {
    switch architecture {
    case .x86_64: "QEMU 7.2's pc machine (x86_64)"
    case .s390x: "QEMU 7.2's s390-ccw-virtio machine (s390x)"
    }
  }

  /// Who sets the memory bound of `architecture`, for error messages.
  static func memoryBound(_ architecture: Architecture) -> String {
    switch architecture {
    case .x86_64: machine(architecture)
    case .s390x: "s390x (QEMU sets no limit under TCG; its process maps all guest RAM)"
    }
  }

  /// The least guest RAM, in MiB: QEMU starts with less, but a guest's
  /// image is loaded at 1 MiB (x86_64) and its allocators need room above.
  public static let minMemoryMiB = 16
  /// The longest timeout, silence or scaled deadline: one day, in seconds.
  public static let maxSeconds = 86_400
  /// The largest `tcg_factor`/`kvm_factor`.
  public static let maxFactor = 1000.0
  /// The bounds of `output_limit`, in bytes: 4 KiB to 1 GiB.
  public static let outputLimitBytes = (4 << 10)...(1 << 30)
  /// The most cells one guest section may expand to (before excludes).
  public static let maxCellsPerGuest = 10_000
  /// The longest guest command line on s390x, in bytes with its NUL: QEMU
  /// copies `-append` into the kernel parameter area at 0x10480 and refuses
  /// to start when it does not fit (`s390_ipl_realize`, hw/s390x/ipl.c):
  /// 896 bytes (0x380) unless the image sets another size at 0x10430,
  /// which the harness's guests do not (guests/arch/s390x/linker.ld).
  public static let s390xCommandLineBytes = 896
  /// Room kept on the command line for what the runner appends at run time
  /// (` harness.attempt=<n>`).
  public static let commandLineReserveBytes = 32
  /// Room kept on the command line for ` harness.qemu=MAJOR.MINOR.MICRO`,
  /// which is known only once the QEMU binary ran `--version` (up to 10
  /// characters of version).
  public static let qemuVersionReserveBytes = 24
  /// The most cells a whole config may expand to (before excludes).
  public static let maxCells = 100_000
  /// The most guest sections in one config.
  public static let maxGuests = 1000
  /// The most `exclude` lines in one guest section.
  public static let maxExcludesPerGuest = 1000
  /// The largest config file, in bytes.
  public static let maxFileBytes = 1 << 20
}

/// A value that did not parse or is out of bounds; the caller adds the
/// file, line and key.
struct ValueProblem: Error {
  var message: String
  init(_ message: String) { self.message = message }
}

/// Checked parsers of config values: digits only, no sign, every product
/// and conversion checked, so no input traps.
enum ConfigValue {
  /// `text` for an error message: at most 60 characters, then `…`.
  static func shown(_ text: some StringProtocol) -> String {
    text.count <= 60 ? String(text) : String(text.prefix(60)) + "…"
  }

  /// The result of reading a decimal number.
  enum Decimal: Equatable {
    case value(Int)
    case tooLarge
    case malformed
  }

  /// ASCII digits only (no sign, no spaces, no `_`).
  static func decimal<S: StringProtocol>(_ text: S) -> Decimal {
    guard !text.isEmpty else { return .malformed }
    var result = 0
    var overflow = false
    for byte in text.utf8 {
      guard (0x30...0x39).contains(byte) else { return .malformed }
      if overflow { continue }
      let (times, o1) = result.multipliedReportingOverflow(by: 10)
      let (sum, o2) = times.addingReportingOverflow(Int(byte - 0x30))
      if o1 || o2 { overflow = true } else { result = sum }
    }
    return overflow ? .tooLarge : .value(result)
  }

  /// A size: digits with an optional `K`, `M`, `G` or `T` suffix (binary
  /// units, either case); a plain number counts `plainUnit` bytes. Returns
  /// bytes, `.tooLarge` when that overflows.
  static func size(_ text: String, plainUnit: Int) -> Decimal {
    var digits = Substring(text)
    var unit = plainUnit
    let units: [Character: Int] = [
      "K": 1 << 10, "k": 1 << 10, "M": 1 << 20, "m": 1 << 20,
      "G": 1 << 30, "g": 1 << 30, "T": 1 << 40, "t": 1 << 40,
    ]
    if let last = text.last, let suffixUnit = units[last] {
      unit = suffixUnit
      digits = digits.dropLast()
    }
    switch decimal(digits) {
    case .malformed: return .malformed
    case .tooLarge: return .tooLarge
    case .value(let number):
      let (bytes, overflow) = number.multipliedReportingOverflow(by: unit)
      return overflow ? .tooLarge : .value(bytes)
    }
  }

  /// `256M`, `8G`, `1T`, or `1024K`-style sizes as a label.
  static func sizeLabel(bytes: Int) -> String {
    for (shift, suffix) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")]
    where bytes >= 1 << shift && bytes % (1 << shift) == 0 {
      return "\(bytes >> shift)\(suffix)"
    }
    return "\(bytes)"
  }

  /// Guest RAM in MiB: a size whose plain numbers are MiB, whole MiB, within
  /// the bounds of `architecture` (nil: the largest of every architecture).
  static func memory(_ text: String, _ architecture: Architecture?) throws(ValueProblem) -> Int {
    let what = "a memory size like 256M or 8G"
    let maximum = architecture.map(ConfigLimits.maxMemoryMiB)
      ?? Architecture.allCases.map(ConfigLimits.maxMemoryMiB).max()!
    let most = sizeLabel(bytes: maximum << 20)
    let machine = architecture.map(ConfigLimits.memoryBound) ?? "the largest machine"
    switch size(text, plainUnit: 1 << 20) {
    case .malformed: throw ValueProblem("'\(shown(text))' is not \(what)")
    case .tooLarge: throw ValueProblem("'\(shown(text))' is too large: \(machine) takes at most \(most)")
    case .value(let bytes):
      guard bytes > 0 else { throw ValueProblem("'\(shown(text))' is not \(what)") }
      guard bytes % (1 << 20) == 0 else { throw ValueProblem("'\(shown(text))' is not a whole number of MiB") }
      let mebibytes = bytes >> 20
      guard mebibytes >= ConfigLimits.minMemoryMiB else {
        throw ValueProblem("'\(shown(text))' is less than the \(ConfigLimits.minMemoryMiB)M a guest needs")
      }
      guard mebibytes <= maximum else {
        throw ValueProblem("'\(shown(text))' is too large: \(machine) takes at most \(most)")
      }
      return mebibytes
    }
  }

  /// A CPU count from 1 to the machine's maximum (nil: the largest).
  static func cpus(_ text: String, _ architecture: Architecture?) throws(ValueProblem) -> Int {
    let maximum = architecture.map(ConfigLimits.maxCPUs)
      ?? Architecture.allCases.map(ConfigLimits.maxCPUs).max()!
    let machine = architecture.map(ConfigLimits.machine) ?? "the largest machine"
    switch decimal(text) {
    case .malformed, .value(0): throw ValueProblem("'\(shown(text))' is not a CPU count (1 or more)")
    case .tooLarge: throw ValueProblem("'\(shown(text))' CPUs is too many: \(machine) takes at most \(maximum)")
    case .value(let count):
      guard count <= maximum else {
        throw ValueProblem("'\(shown(text))' CPUs is too many: \(machine) takes at most \(maximum)")
      }
      return count
    }
  }

  /// Seconds, from 1 to one day.
  static func seconds(_ text: String) throws(ValueProblem) -> Int {
    switch decimal(text) {
    case .malformed, .value(0): throw ValueProblem("'\(shown(text))' is not a positive integer number of seconds")
    case .tooLarge: throw ValueProblem("'\(shown(text))' seconds is more than one day (\(ConfigLimits.maxSeconds))")
    case .value(let seconds):
      guard seconds <= ConfigLimits.maxSeconds else {
        throw ValueProblem("'\(shown(text))' seconds is more than one day (\(ConfigLimits.maxSeconds))")
      }
      return seconds
    }
  }

  /// A deadline factor: a plain decimal (`1`, `2.5`), finite, above 0 and
  /// at most `ConfigLimits.maxFactor`. No signs, exponents, hex or `inf`.
  static func factor(_ text: String) throws(ValueProblem) -> Double {
    let problem = ValueProblem("'\(shown(text))' is not a positive number like 1 or 2.5")
    let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    guard text.count <= 32, parts.allSatisfy({ $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }),
      parts[0].count + (parts.count > 1 ? parts[1].count : 0) > 0,
      let value = Double(text), value.isFinite
    else { throw problem }
    guard value > 0 else { throw problem }
    guard value <= ConfigLimits.maxFactor else {
      throw ValueProblem("'\(shown(text))' is too large a factor (at most \(Int(ConfigLimits.maxFactor)))")
    }
    return value
  }

  /// The serial output limit in bytes: a size whose plain numbers are bytes.
  static func outputLimit(_ text: String) throws(ValueProblem) -> Int {
    let bounds = ConfigLimits.outputLimitBytes
    let range = "\(sizeLabel(bytes: bounds.lowerBound)) to \(sizeLabel(bytes: bounds.upperBound))"
    switch size(text, plainUnit: 1) {
    case .malformed: throw ValueProblem("'\(shown(text))' is not a size like 64K or 4M")
    case .tooLarge: throw ValueProblem("'\(shown(text))' is too large: an output limit is \(range)")
    case .value(let bytes):
      guard bounds.contains(bytes) else {
        throw ValueProblem("'\(shown(text))' is out of bounds: an output limit is \(range)")
      }
      return bytes
    }
  }

  /// A `qemu` axis value: a build name of 1-32 letters, digits, `_`, `-`
  /// (`system` is the QEMU on PATH); nil when malformed.
  static func qemuName(_ text: String) -> String? {
    guard !text.isEmpty, text.utf8.count <= 32,
      text.utf8.allSatisfy({ isModelByte($0) && $0 != UInt8(ascii: ".") })
    else { return nil }
    return text
  }

  /// A `cpu` axis value: `default` (QEMU's default model, `.some(nil)`) or
  /// a `-cpu` string of a model name and `+feature`/`-feature` words; nil
  /// when malformed.
  static func cpuModel(_ text: String) -> String?? {
    if text == "default" { return .some(nil) }
    let parts = text.split(separator: ",", omittingEmptySubsequences: false)
    guard text.utf8.count <= 256, let name = parts.first, !name.isEmpty,
      name.utf8.allSatisfy(isModelByte)
    else { return nil }
    for feature in parts.dropFirst() {
      guard feature.utf8.count > 1, feature.first == "+" || feature.first == "-",
        feature.utf8.dropFirst().allSatisfy(isModelByte)
      else { return nil }
    }
    return .some(text)
  }

  private static func isModelByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"): true
    default: false
    }
  }
}
