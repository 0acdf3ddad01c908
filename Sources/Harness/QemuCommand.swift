/// The settings of one guest boot.
public struct LaunchSettings: Sendable, Hashable, Codable {
  /// Architecture and accelerator.
  public var architecture: Architecture
  public var accelerator: Accelerator
  /// Virtual CPUs.
  public var cpus: Int
  /// Guest RAM in MiB.
  public var memoryMiB: Int
  /// Extra QEMU arguments (appended as they are, one argv element each).
  public var extraQemuArguments: [String]
  /// Extra guest arguments (appended to `-append`).
  public var guestArguments: [String]
  /// Deadline for the whole run.
  public var timeout: Duration
  /// A run with no serial output for this long is hung.
  public var silenceTimeout: Duration
  /// QEMU's `-cpu` model with features (`qemu64,+x2apic`); nil for QEMU's
  /// default model.
  public var cpuModel: String?
  /// QEMU's `-machine` type (the matrix's `machine` axis: `pc`, `q35` on
  /// x86_64); nil for the architecture's default (`pc`, `s390-ccw-virtio`).
  public var machine: String? = nil
  /// The machine type QEMU boots: `machine`, else the architecture's
  /// default.
  public var machineType: String { machine ?? architecture.defaultMachine }
  /// Most serial bytes the harness keeps from one run; past it QEMU is
  /// killed and the verdict is PROTOCOL-ERROR (output limit).
  public var outputLimitBytes: Int = LaunchSettings.defaultOutputLimitBytes
  /// The QEMU build this cell runs on (the matrix's `qemu` axis):
  /// `system` is the `qemu-system-<arch>` on PATH.
  public var qemuBuild: String = LaunchSettings.systemQemu
  /// The binary of `qemuBuild`; nil for `system`.
  public var qemuPath: String? = nil
  /// The version of the QEMU binary (`MAJOR.MINOR.MICRO`) when known: the
  /// guest gets it as `harness.qemu=`. Nil: not known (nothing is passed,
  /// never a guess).
  public var qemuVersion: String? = nil
  /// An XPASS test (expected to fail, but passed) does not fail the cell
  /// (`xpass = allow`); the guest gets `harness.xpass=allow`.
  public var xpassAllowed = false
  /// The tests whose declaration in the guest's sources has an `.xfail`
  /// trait (`GuestTestCatalog`); nil when unknown. Only these may report
  /// XFAIL or XPASS: console text from any other test claiming a known
  /// failure is a protocol error, never a pass.
  public var xfailTests: Set<String>? = nil
  /// Whether the cell live-migrates the guest when it asks
  /// (`migrate = yes`; the guest gets `harness.migrate=yes`).
  public var migrate = false
  /// Whether the cell resets the machine when the guest asks (`reset =
  /// yes`; the guest gets `harness.reset=yes`).
  public var reset = false
  /// Whether the cell's expected outcome is a guest panic (`expect =
  /// panic`; the guest gets `harness.expect=panic`; x86_64 gets a pvpanic
  /// device whose panic shuts QEMU down with exit code 0, which no
  /// isa-debug-exit status gives).
  public var expectPanic = false
  /// The name of the QEMU on PATH.
  public static let systemQemu = "system"
  /// The QEMU binary to run: `qemuPath`, else the one on PATH.
  public var qemuExecutable: String { qemuPath ?? architecture.qemuBinary }
  /// The default output limit: 4 MiB.
  public static let defaultOutputLimitBytes = 4 << 20
  /// Longest serial line the parser keeps (longer lines are cut, with a
  /// protocol error).
  public static let maxLineBytes = 64 << 10

  /// Settings with the harness defaults.
  public init(
    architecture: Architecture, accelerator: Accelerator, cpus: Int = 1, memoryMiB: Int = 256,
    extraQemuArguments: [String] = [], guestArguments: [String] = [],
    timeout: Duration = .seconds(60), silenceTimeout: Duration = .seconds(30),
    cpuModel: String? = nil
  ) {
    self.architecture = architecture
    self.accelerator = accelerator
    self.cpus = cpus
    self.memoryMiB = memoryMiB
    self.extraQemuArguments = extraQemuArguments
    self.guestArguments = guestArguments
    self.timeout = timeout
    self.silenceTimeout = silenceTimeout
    self.cpuModel = cpuModel
  }

  /// The guest's command line: what the harness tells every guest
  /// (`harness.mem`, `harness.smp`, `harness.cpu` when a model is set,
  /// `harness.machine` when a machine type is set,
  /// `harness.accel=tcg|kvm`, `harness.qemu=MAJOR.MINOR.MICRO` when the
  /// QEMU version is known, `harness.xpass=allow` when XPASS is allowed, `harness.migrate=yes` in a
  /// migrating cell, `harness.reset=yes` in a cell that resets on request),
  /// then the cell's own arguments.
  public var commandLine: String {
    var words = ["harness.mem=\(memoryMiB)", "harness.smp=\(cpus)"]
    if let cpuModel { words.append("harness.cpu=\(cpuModel)") }
    if let machine { words.append("harness.machine=\(machine)") }
    words.append("harness.accel=\(accelerator.rawValue)")
    if let qemuVersion { words.append("harness.qemu=\(qemuVersion)") }
    if xpassAllowed { words.append("harness.xpass=allow") }
    if migrate { words.append("harness.migrate=yes") }
    if reset { words.append("harness.reset=yes") }
    if expectPanic { words.append("harness.expect=panic") }
    return (words + guestArguments).joined(separator: " ")
  }
}

/// Builds QEMU's argv for a payload (an array, never a shell string).
public enum QemuCommand {
  /// The exit code QEMU gives for a guest status written to isa-debug-exit.
  public static func debugExitCode(forStatus status: Int) -> Int32 { Int32(status << 1 | 1) }

  /// The argv (without the executable) for booting `payload`.
  public static func arguments(bootImage: String, settings: LaunchSettings) -> [String] {
    var arguments = [
      "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
      // Thread names like `CPU 0/KVM` (in /proc, and in timeout snapshots).
      "-name", "guest=swiftguest,debug-threads=on",
      "-accel", settings.accelerator.rawValue,
      "-smp", String(settings.cpus),
      "-m", String(settings.memoryMiB),
      "-kernel", bootImage,
      "-append", settings.commandLine,
    ]
    if let model = settings.cpuModel { arguments += ["-cpu", model] }
    switch settings.architecture {
    case .x86_64:
      arguments += [
        "-machine", settings.machineType,
        // qboot, not SeaBIOS: the guest needs no BIOS services, and
        // SeaBIOS's real-mode start is emulated instruction by instruction
        // by nested KVM (PVM): ~3.5 s before the guest's first byte when
        // idle, past the 30 s silence timeout under load; qboot: ~0.6 s.
        "-bios", "qboot.rom",
        "-serial", "stdio",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
      ]
      if settings.expectPanic { arguments += ["-device", "pvpanic", "-action", "panic=shutdown"] }
    case .s390x:
      arguments += [
        "-machine", settings.machineType,
        "-chardev", "stdio,id=con0", "-device", "sclpconsole,chardev=con0",
        "-action", "panic=exit-failure",
      ]
    }
    return arguments + settings.extraQemuArguments
  }
}
