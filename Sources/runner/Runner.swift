import ArgumentParser
import Foundation
import Harness

/// `swift run runner`: runs the test matrix in configs/ and reports.
@main
struct Runner: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "runner",
    abstract: "Build bare-metal Swift guests, boot them in QEMU and report every check.",
    subcommands: [Run.self, List.self, Bench.self],
    defaultSubcommand: Run.self)
}

/// Selection of matrix cells shared by the subcommands.
struct Selection: ParsableArguments {
  enum AcceleratorChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, all, tcg, kvm
  }

  @Option(help: "Matrix config file (default: configs/guests.cfg).")
  var config: String?

  @Option(
    help: """
      auto: KVM where /dev/kvm works and the arch matches, else TCG (one run per cell); \
      all: every accelerator the matrix lists (KVM cells SKIP where unavailable); tcg; kvm.
      """)
  var accel: AcceleratorChoice = .auto

  @Option(help: "Only this architecture (repeatable): x86_64, s390x.")
  var arch: [String] = []

  @Option(name: .customLong("guest"), help: "Only this guest (repeatable).")
  var guests: [String] = []

  @Option(help: "Only guests in this group (repeatable).")
  var group: [String] = []

  @Option(help: "Only cells whose id contains this text.")
  var filter: String?

  func cells() throws -> (GuestRunner, [MatrixCell]) {
    let architectures = try arch.map { name in
      guard let value = Architecture(rawValue: name) else {
        throw ValidationError("--arch: unknown architecture '\(name)'; use x86_64 or s390x")
      }
      return value
    }
    let runner = try GuestRunner.forCurrentPackage()
    let matrix = try TestMatrix.load(workspace: runner.builder.workspace, configPath: config)
    for guest in guests where !matrix.cells.contains(where: { $0.guest == guest }) {
      throw ValidationError("--guest: '\(guest)' is not in \(matrix.configPath)")
    }
    var cells = matrix.select(
      guests: guests, architectures: architectures, groups: group, idContains: filter)
    switch accel {
    case .all: break
    case .tcg: cells = cells.filter { $0.settings.accelerator == .tcg }
    case .kvm: cells = cells.filter { $0.settings.accelerator == .kvm }
    case .auto:
      // Per (guest, arch, smp, memory): KVM when usable, TCG otherwise.
      cells = cells.filter { cell in
        let kvmUsable = KVMAvailability.unavailableReason(for: cell.settings.architecture) == nil
        let wanted: Accelerator = kvmUsable ? .kvm : .tcg
        if cell.settings.accelerator == wanted { return true }
        // Keep the other one only when the matrix does not list the wanted one.
        var twin = cell
        twin.settings.accelerator = wanted
        return !matrix.cells.contains(twin)
      }
    }
    return (runner, cells)
  }
}

extension Runner {
  struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Median boot-to-verdict time of the selected cells, through the harness and as bare QEMU.")
    @OptionGroup var selection: Selection

    @Option(help: "Runs per cell.")
    var repeats: Int = 10

    func run() async throws {
      let (runner, cells) = try selection.cells()
      func ms(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) * 1000
          + Double(duration.components.attoseconds) / 1e15
        return String(format: "%9.1f", value)
      }
      print("cell                                      harness ms   bare ms  overhead  runs  verdicts")
      for cell in cells {
        let m = try await BootBenchmark.measure(cell, runner: runner, repeats: repeats)
        let harness = BootBenchmark.median(m.harness)
        let bare = BootBenchmark.median(m.bare)
        let overhead = (harness - bare) / bare * 100
        let verdicts = Set(m.verdicts.map(\.rawValue)).sorted().joined(separator: ",")
        print(
          "\(cell.id.padding(toLength: 40, withPad: " ", startingAt: 0))  \(ms(harness))  \(ms(bare))  "
            + String(format: "%7.1f%%", overhead) + "  \(repeats)    \(verdicts)")
      }
    }
  }

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print every selected matrix cell id.")
    @OptionGroup var selection: Selection

    func run() async throws {
      let (_, cells) = try selection.cells()
      for cell in cells { print(cell.id) }
    }
  }

  struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the selected matrix cells.")
    @OptionGroup var selection: Selection

    @Flag(help: "Print each guest's serial log.")
    var verbose = false

    @Option(help: "Directory for reports and logs; the previous run is kept beside it as <dir>.previous.")
    var reportDir: String = "runs/latest"

    func run() async throws {
      let (runner, cells) = try selection.cells()
      var failures = 0
      var counts: [Verdict: Int] = [:]
      var reportCells: [ReportCell] = []
      for cell in cells {
        let payload: Payload
        let result: GuestResult
        do {
          (payload, result) = try await runner.run(cell)
        } catch {
          print("ERROR    \(cell.id): \(error)")
          failures += 1
          continue
        }
        counts[result.verdict, default: 0] += 1
        if result.verdict.isFailure { failures += 1 }
        reportCells.append(
          ReportCell(
            id: cell.id, result: result, settings: cell.settings, attempts: 1, flaky: false,
            logPath: "logs/\(cell.id).log", sourcePaths: payload.sources))
        print(Self.line(cell, result))
        for check in result.failedChecks {
          let location = check.location.map { "\(payload.sources[$0.fileID] ?? $0.fileID):\($0.line)" } ?? "?"
          print("    not ok \(check.section) › \(check.name) at \(location)")
          for line in check.diagnostics { print("      # \(line)") }
        }
        if let crash = result.crash {
          for line in crash.lines { print("    \(line)") }
        }
        if verbose { print(result.serialLog) }
      }
      let summary = Verdict.allCases.compactMap { verdict in
        counts[verdict].map { "\($0) \(verdict.rawValue)" }
      }.joined(separator: ", ")
      print("summary: \(cells.count) cells: \(summary.isEmpty ? "none run" : summary)")
      try Self.writeReports(reportCells, to: reportDir)
      if failures > 0 { throw ExitCode(1) }
    }

    /// Writes the reports, keeping the previous run as `<dir>.previous`.
    static func writeReports(_ cells: [ReportCell], to directory: String) throws {
      let manager = FileManager.default
      let previous = directory + ".previous"
      if manager.fileExists(atPath: directory) {
        try? manager.removeItem(atPath: previous)
        try manager.moveItem(atPath: directory, toPath: previous)
      }
      try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
      try ReportSet.write(cells: cells, to: directory)
      print("reports: \(directory)/index.html, junit.xml, results.json, results-<arch>.ktap")
    }

    static func line(_ cell: MatrixCell, _ result: GuestResult) -> String {
      let checks = result.checks
      let passed = checks.filter { $0.outcome == .passed }.count
      let skipped = checks.filter { if case .skipped = $0.outcome { true } else { false } }.count
      let seconds =
        Double(result.duration.components.seconds)
        + Double(result.duration.components.attoseconds) / 1e18
      return "\(result.verdict.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) "
        + "\(cell.id)  \(passed) passed, \(result.failedChecks.count) failed, \(skipped) skipped  "
        + String(format: "%.2fs", seconds)
        + (result.reason.isEmpty ? "" : "  — \(result.reason)")
    }
  }
}
