/// Builds a guest and boots it: the whole pipeline for one run.
public struct GuestRunner: Sendable {
  /// The payload builder.
  public var builder: PayloadBuilder

  /// A runner using `builder`.
  public init(builder: PayloadBuilder) { self.builder = builder }

  /// A runner for the package containing the current directory.
  public static func forCurrentPackage() throws -> GuestRunner {
    let workspace = try GuestWorkspace.locate()
    return GuestRunner(builder: PayloadBuilder(workspace: workspace, toolchain: try Toolchain.find()))
  }

  /// Boots an already built payload.
  public func run(_ payload: Payload, settings: LaunchSettings) async throws -> GuestResult {
    if settings.accelerator == .kvm,
      let reason = KVMAvailability.unavailableReason(for: settings.architecture)
    {
      return GuestResult(
        guest: payload.program.name, architecture: settings.architecture,
        accelerator: settings.accelerator, verdict: .skipped, reason: reason, sections: [],
        crash: nil, protocolErrors: [], serialLog: "", qemuStderr: "", command: [],
        qemuExitCode: nil, duration: .zero, processID: nil)
    }
    let run = try await QemuLauncher.run(bootImage: payload.bootImage, settings: settings)
    let (verdict, reason) = VerdictJudge.judge(run, architecture: settings.architecture)
    return GuestResult(
      guest: payload.program.name, architecture: settings.architecture,
      accelerator: settings.accelerator, verdict: verdict, reason: reason,
      sections: run.stream.sections, crash: run.stream.crash,
      protocolErrors: run.stream.protocolErrors, serialLog: run.serialLog,
      qemuStderr: run.stderr, command: run.command, qemuExitCode: run.exitCode,
      duration: run.duration, processID: run.processID)
  }

  /// Builds `program` for the settings' architecture and boots it.
  public func run(_ program: GuestProgram, settings: LaunchSettings) async throws -> GuestResult {
    let payload = try await builder.build(program, for: settings.architecture)
    return try await run(payload, settings: settings)
  }
}
