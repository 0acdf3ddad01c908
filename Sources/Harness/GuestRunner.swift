import Foundation

/// Builds a guest and boots it: the whole pipeline for one run.
public struct GuestRunner: Sendable {
  /// The payload builder.
  public var builder: PayloadBuilder
  /// Symbolizes crash records (nil: no `llvm-symbolizer` found).
  public var symbolizer: CrashSymbolizer?
  /// How payloads are booted (bare QEMU unless set otherwise).
  public var launcher: any GuestLauncher = QemuProcessLauncher()

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
    onStart: (@Sendable (Int32) -> Void)? = nil
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
    let launcher = self.launcher
    let run = try await BootGate.shared.withSlot {
      try await launcher.launch(payload, settings: settings, onStart: onStart)
    }
    if let skip = run.skipReason {
      return GuestResult(
        guest: payload.program.name, architecture: settings.architecture,
        accelerator: settings.accelerator, verdict: .skipped, reason: skip, sections: [],
        crash: nil, protocolErrors: [], serialLog: "", qemuStderr: run.stderr, command: [],
        qemuExitCode: nil, duration: .zero, processID: nil)
    }
    var (verdict, reason) = VerdictJudge.judge(
      run, architecture: settings.architecture, expectedTests: expectedTests,
      xpassAllowed: settings.xpassAllowed, xfailTests: settings.xfailTests)
    var crash = run.stream.crash
    if run.interrupted {
      verdict = .skipped
      reason = "interrupted while running; QEMU was killed"
    } else if let record = crash, let symbolizer {
      let symbolized = await symbolizer.symbolize(record, elf: payload.elf)
      crash = symbolized
      if let location = symbolized.location { reason += " in \(location)" }
    }
    if verdict == .timedOut && !run.vcpuPositions.isEmpty {
      // Hang triage: where every vCPU stood when the harness gave up.
      var positions = run.vcpuPositions
      if let symbolizer {
        for index in positions.indices {
          positions[index].frames = await symbolizer.frames(at: positions[index].pc, in: payload.elf)
          if positions[index].frames.isEmpty {
            positions[index].symbol = await symbolizer.function(at: positions[index].pc, in: payload.elf)
          }
        }
      }
      reason += "; " + positions.map(\.summary).joined(separator: "; ")
    }
    var result = GuestResult(
      guest: payload.program.name, architecture: settings.architecture,
      accelerator: settings.accelerator, verdict: verdict, reason: reason,
      sections: run.stream.sections, crash: crash,
      protocolErrors: run.stream.protocolErrors, serialLog: run.serialLog,
      qemuStderr: run.stderr, command: run.command, qemuExitCode: run.exitCode,
      duration: run.duration, processID: run.processID)
    result.interrupted = run.interrupted
    result.timeline = run.timeline
    GuestSourceText.annotate(&result, sources: payload.sources)
    for note in run.notes {
      result.reason += (result.reason.isEmpty ? "" : "; ") + note
    }
    return result
  }

  /// Builds `program` for the settings' architecture and boots it.
  public func run(_ program: GuestProgram, settings: LaunchSettings) async throws -> GuestResult {
    let payload = try await builder.build(program, for: settings.architecture)
    return try await run(payload, settings: settings)
  }
}
