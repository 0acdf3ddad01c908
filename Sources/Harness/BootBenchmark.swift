import Foundation

/// Boot-to-verdict timing of matrix cells through the harness, compared
/// with the same QEMU command line run bare (output collected, nothing
/// parsed), so the harness's own overhead shows.
public enum BootBenchmark {
  /// Timings of one cell.
  public struct Measurement: Sendable {
    /// The cell id.
    public var id: String
    /// Harness runs: launch to verdict, each.
    public var harness: [Duration]
    /// Bare QEMU runs of the same argv, each.
    public var bare: [Duration]
    /// Verdicts seen (all should be PASS).
    public var verdicts: [Verdict]
  }

  /// Median of durations.
  public static func median(_ values: [Duration]) -> Duration {
    guard !values.isEmpty else { return .zero }
    let sorted = values.sorted()
    return sorted.count % 2 == 1
      ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
  }

  /// Runs `cell` `repeats` times through the harness and bare.
  public static func measure(_ cell: MatrixCell, runner: GuestRunner, repeats: Int) async throws
    -> Measurement
  {
    let program = try runner.builder.workspace.program(named: cell.guest)
    let payload = try await runner.builder.build(program, for: cell.settings.architecture)
    var measurement = Measurement(id: cell.id, harness: [], bare: [], verdicts: [])
    for _ in 0..<repeats {
      let clock = ContinuousClock()
      let start = clock.now
      let result = try await runner.run(payload, settings: cell.settings)
      measurement.harness.append(clock.now - start)
      measurement.verdicts.append(result.verdict)
      let argv = QemuCommand.arguments(bootImage: payload.bootImage, settings: cell.settings)
      let bareStart = clock.now
      _ = try await ToolRunner.run(
        try executablePath(cell.settings.architecture.qemuBinary), argv)
      measurement.bare.append(clock.now - bareStart)
    }
    return measurement
  }

  static func executablePath(_ name: String) throws -> String {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
    for directory in path.split(separator: ":") {
      let candidate = "\(directory)/\(name)"
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    throw HarnessError.toolNotFound(name, hint: "install QEMU (scripts/setup.sh)")
  }
}
