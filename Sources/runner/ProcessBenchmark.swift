import Foundation
import Harness
import Subprocess

#if canImport(System)
  import System
#else
  import SystemPackage
#endif

/// `runner bench --process`: this runner as a whole process (`runner run
/// -j 1` on the selection, as a user types it) against the same cells run
/// as bare `qemu-system-*` commands one after another, alternated, with the
/// child's own phase marks (`PhaseTrace`) to say where the difference goes:
/// start-up (exec to `main`: loading the binary and its libraries), argument
/// parsing, the matrix (config, selection), the baseline and QEMU version
/// checks, run metadata and run directory, the cells (payload cache checks,
/// QEMU, judging, logs), the summary, the reports and the exit. Prints
/// numbers; asserts nothing.
enum ProcessBenchmark {
  static func run(selection: Selection, runner: GuestRunner, cells: [MatrixCell], repeats: Int)
    async throws
  {
    // Payloads first: both sides then measure boots, not builds.
    var payloads: [String: Payload] = [:]
    for cell in cells {
      let key = "\(cell.guest)/\(cell.settings.architecture)"
      if payloads[key] == nil {
        let program = try runner.builder.workspace.program(named: cell.guest)
        payloads[key] = try await runner.builder.build(program, for: cell.settings.architecture)
      }
    }
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
    let scratch = FileManager.default.temporaryDirectory
      .appendingPathComponent("process-bench-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let arguments = ["run", "-j", "1", "--report-dir", scratch + "/run"] + selection.childArguments
    var environment = ProcessInfo.processInfo.environment
    environment[PhaseTrace.variable] = "1"
    let childEnvironment = Environment.custom(
      Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(rawValue: $0.key)!, $0.value) }))

    var phases: [String: [Double]] = [:]
    var order: [String] = []
    var totals: [Double] = []
    var bares: [Double] = []
    var statuses = Set<String>()
    for _ in 0..<repeats {
      let spawned = PhaseTrace.now()
      let result = try await Subprocess.run(
        .path(FilePath(executable)), arguments: Arguments(arguments), environment: childEnvironment,
        output: .discarded, error: .string(limit: 4 << 20))
      let ended = PhaseTrace.now()
      statuses.insert("\(result.terminationStatus)")
      var previous = spawned
      for mark in PhaseTrace.marks(in: result.standardError) {
        if phases[mark.name] == nil { order.append(mark.name) }
        phases[mark.name, default: []].append(mark.at - previous)
        previous = mark.at
      }
      if phases["exit"] == nil { order.append("exit") }
      phases["exit", default: []].append(ended - previous)
      totals.append(ended - spawned)

      var bare = 0.0
      for cell in cells {
        let payload = payloads["\(cell.guest)/\(cell.settings.architecture)"]!
        if let time = try await BootBenchmark.bareRun(cell, payload: payload) { bare += time.seconds * 1000 }
      }
      bares.append(bare)
    }

    let total = totals.median
    let bare = bares.median
    Output.write(
      """
      whole process: `runner \(arguments.joined(separator: " "))` (\(cells.count) cell\(cells.count == 1 ? "" : "s")) \
      against the same cells as bare qemu-system commands one after another; medians of \(repeats) alternated runs
      phase                    ms
      """)
    for name in order {
      Output.write(name.padding(toLength: 20, withPad: " ", startingAt: 0) + pad((phases[name] ?? []).median))
    }
    Output.write(
      """
      total               \(pad(total))
      bare QEMU, all cells\(pad(bare))
      ratio                 \(ReportText.fixed(total / max(bare, 1e-9), places: 2))×   (runner exit status: \(statuses.sorted().joined(separator: ", ")))
      """)
  }

  /// A right-aligned millisecond figure, 8 wide.
  static func pad(_ milliseconds: Double) -> String {
    let text = ReportText.fixed(milliseconds, places: 1)
    return String(repeating: " ", count: max(0, 8 - text.count)) + text
  }
}

extension Selection {
  /// The options of this selection as `runner run` takes them (config,
  /// negative guests, accelerator, architectures, guests, groups, filter,
  /// tests).
  var childArguments: [String] {
    var arguments: [String] = []
    if let config { arguments += ["--config", config] }
    if includeNegative { arguments.append("--include-negative") }
    arguments += ["--accel", accel.rawValue]
    for value in arch { arguments += ["--arch", value] }
    for value in guests { arguments += ["--guest", value] }
    for value in group { arguments += ["--group", value] }
    if let filter { arguments += ["--filter", filter] }
    for value in tests { arguments += ["--test", value] }
    return arguments
  }
}
