import Foundation

/// Builds a guest and boots it: the whole pipeline for one run.
public struct GuestRunner: Sendable {
  /// The payload builder.
  public var builder: PayloadBuilder
  /// Symbolizes crash records (nil: no `llvm-symbolizer` found).
  public var symbolizer: CrashSymbolizer?
  /// How payloads are booted (bare QEMU unless set otherwise).
  public var launcher: any GuestLauncher = EngineLauncher(QemuProcessBackend())
  /// Admission per host for guests booted through `run` (a scheduler that
  /// admitted a cell itself passes `admitted: true`). Every runner shares
  /// this process's pools (`HostPools.shared`) unless given its own.
  public var pools = HostPools.shared

  /// A runner using `builder`; crash records are symbolized with the
  /// `llvm-symbolizer` next to the toolchain's `swiftc` (or on PATH).
  public init(builder: PayloadBuilder) {
    self.builder = builder
    self.symbolizer = CrashSymbolizer.find(
      swiftc: builder.toolchain.swiftc, root: builder.workspace.root)
  }

  /// A runner for the package containing the current directory.
  public static func forCurrentPackage() throws -> GuestRunner {
    let workspace = try GuestWorkspace.locate()
    return GuestRunner(builder: PayloadBuilder(workspace: workspace, toolchain: try Toolchain.find()))
  }

  /// Boots an already built payload.
  ///
  /// A crash record is symbolized against the payload's ELF and its
  /// location appended to the reason. When the calling task is cancelled,
  /// QEMU is killed and the result is SKIP with `interrupted` set. The
  /// guest's command line gets `harness.qemu=` when the QEMU binary's
  /// version is known (`QemuVersions`); `expectedTests` (the tests the
  /// guest's sources declare) holds its plan to them.
  public func run(
    _ payload: Payload, settings: LaunchSettings, expectedTests: [String]? = nil,
    onStart: (@Sendable (Int32) -> Void)? = nil, admitted: Bool = false
  ) async throws -> GuestResult {
    var known = settings
    if known.qemuVersion == nil {
      known.qemuVersion = QemuVersions.shared.version(of: known.qemuExecutable)
    }
    let settings = known
    if settings.accelerator == .kvm, !launcher.checksAcceleratorAvailability,
      let reason = KVMAvailability.unavailableReason(for: settings.architecture)
    {
      return GuestResult(
        guest: payload.program.name, architecture: settings.architecture,
        accelerator: settings.accelerator, verdict: .skipped, reason: reason, sections: [],
        crash: nil, protocolErrors: [], serialLog: "", qemuStderr: "", command: [],
        qemuExitCode: nil, duration: .zero, processID: nil)
    }
    if settings.migrate, !launcher.canMigrate {
      return GuestResult(
        guest: payload.program.name, architecture: settings.architecture,
        accelerator: settings.accelerator, verdict: .skipped,
        reason:
          "this backend cannot live-migrate a machine (migrate = yes; libvirt migrates between two daemons: --connect twice)", sections: [],
        crash: nil, protocolErrors: [], serialLog: "", qemuStderr: "", command: [],
        qemuExitCode: nil, duration: .zero, processID: nil)
    }
    if settings.reset, !launcher.canReset {
      return GuestResult(
        guest: payload.program.name, architecture: settings.architecture,
        accelerator: settings.accelerator, verdict: .skipped,
        reason: "this backend cannot reset a machine yet (reset = yes)", sections: [],
        crash: nil, protocolErrors: [], serialLog: "", qemuStderr: "", command: [],
        qemuExitCode: nil, duration: .zero, processID: nil)
    }
    let launcher = self.launcher
    let launch = { try await launcher.launch(payload, settings: settings, onStart: onStart) }
    let launched: LaunchOutcome?
    if let host = launcher.host, !admitted {
      launched = try await pools.withAdmission(
        host, HostResources(cpus: settings.cpus, memoryMiB: settings.memoryMiB), launch)
    } else {
      launched = try await launch()
    }
    guard let outcome = launched else {
      var result = GuestResult(
        guest: payload.program.name, architecture: settings.architecture,
        accelerator: settings.accelerator, verdict: .skipped,
        reason: "interrupted before the machine started", sections: [], crash: nil,
        protocolErrors: [], serialLog: "", qemuStderr: "", command: [], qemuExitCode: nil,
        duration: .zero, processID: nil)
      result.interrupted = true
      return result
    }
    var record: RunRecord
    switch outcome {
    case .ran(let ran): record = ran
    case .skipped(let reason):
      return GuestResult(
        guest: payload.program.name, architecture: settings.architecture,
        accelerator: settings.accelerator, verdict: .skipped, reason: reason, sections: [],
        crash: nil, protocolErrors: [], serialLog: "", qemuStderr: "", command: [],
        qemuExitCode: nil, duration: .zero, processID: nil)
    }
    await symbolize(&record, elf: payload.elf)
    let judgment = VerdictJudge.judge(
      record, CellExpectations(settings: settings, expectedTests: expectedTests))
    var result = GuestResult(
      guest: payload.program.name, architecture: settings.architecture,
      accelerator: settings.accelerator, verdict: judgment.verdict, reason: judgment.reason,
      sections: record.stream.sections, crash: record.stream.crash,
      protocolErrors: record.stream.protocolErrors, serialLog: record.serialLog,
      qemuStderr: record.stderr, command: record.command, qemuExitCode: record.exitCode,
      duration: record.duration, processID: record.processID)
    result.interrupted = record.interrupted
    result.timeline = record.timeline
    result.backend = record.backend
    result.notes = record.notes
    result.vcpuPositions = record.vcpuPositions
    result.migrations = record.migrations
    result.resets = record.resets
    GuestSourceText.annotate(&result, sources: payload.sources)
    return result
  }

  /// Symbolizes the record's crash and every vCPU position read before a
  /// kill against the payload's ELF (no-op without a symbolizer or
  /// for an interrupted run).
  public func symbolize(_ record: inout RunRecord, elf: String) async {
    guard let symbolizer, !record.interrupted else { return }
    if let crash = record.stream.crash {
      record.stream.crash = await symbolizer.symbolize(crash, elf: elf)
    }
    for index in record.vcpuPositions.indices {
      let pc = record.vcpuPositions[index].pc
      record.vcpuPositions[index].frames = await symbolizer.frames(at: pc, in: elf)
      if record.vcpuPositions[index].frames.isEmpty {
        record.vcpuPositions[index].symbol = await symbolizer.function(at: pc, in: elf)
        // Code without line information is the runtime's assembly: a leaf
        // helper, whose caller is the guest line worth naming.
        if let back = record.vcpuPositions[index].returnAddress, back > 0 {
          record.vcpuPositions[index].caller = await symbolizer.frames(at: back - 1, in: elf)
        }
      }
    }
  }

  /// Builds `program` for the settings' architecture and boots it.
  public func run(_ program: GuestProgram, settings: LaunchSettings) async throws -> GuestResult {
    let payload = try await builder.build(program, for: settings.architecture)
    return try await run(payload, settings: settings)
  }
}
