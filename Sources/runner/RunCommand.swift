import ArgumentParser
import Foundation
import Harness
import LibvirtBackend
import Synchronization

extension Runner {
  struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Run the selected matrix cells in parallel and write the reports.",
      discussion: """
        Cells run in parallel within the host's free CPUs and memory (a cell counts \
        its vCPUs and its guest RAM; a cell larger than the host runs alone); -j caps \
        the number of cells at once. Each payload is built once, while built ones boot.

        A cell's deadline is its timeout times the accelerator factor (tcg_factor, \
        kvm_factor in the config); the silence timeout applies as well.

        --retry N re-runs a failed cell (FAIL, CRASH, TIMEOUT, PROTOCOL-ERROR) up to N \
        times with harness.attempt=<n> on the guest command line. A cell that fails and \
        then passes is FLAKY: reported and counted as such, but it does not fail the run \
        (exit status 0), so that one unlucky boot does not block CI while the report \
        still shows it. A cell that fails every time keeps its last verdict.

        Ctrl-C kills every running QEMU, prints the finished cells and the interrupted \
        ones, writes the reports and exits with 130.

        --backend libvirt runs the same cells as transient libvirt domains on the \
        daemons named by --connect (default qemu:///system). Several URIs share the \
        matrix by each host's CPUs and memory and the arches and accelerators its \
        capabilities offer; payloads are uploaded to remote hosts through a storage \
        volume; a host that drops out has its cells re-queued on the others.
        """)

    @OptionGroup var backend: BackendOptions

    @OptionGroup var selection: Selection

    @Flag(help: "Print each guest's serial log.")
    var verbose = false

    @Option(help: "Directory for reports and logs; the previous run is kept beside it as <dir>.previous.")
    var reportDir: String = "runs/latest"

    @Option(name: [.customShort("j"), .customLong("jobs")], help: "At most this many cells at once (default: as many as CPUs and memory allow).")
    var jobs: Int?

    @Option(help: "Re-run a failed cell up to this many times; failed-then-passed is FLAKY.")
    var retry: Int = 0

    @Option(
      help: ArgumentHelp(
        "Boot only this cell, paused, with QEMU's gdb stub on a free port; print the gdb and lldb commands and wait until QEMU exits.",
        valueName: "cell-id"))
    var gdb: String?

    func validate() throws {
      if let jobs, jobs < 1 { throw ValidationError("-j/--jobs must be at least 1") }
      if retry < 0 { throw ValidationError("--retry must be 0 or more") }
      if reportDir.isEmpty { throw ValidationError("--report-dir must not be empty") }
      if gdb != nil && backend.backend == .libvirt {
        throw ValidationError("--gdb boots the cell as a bare QEMU process here; drop --backend libvirt")
      }
    }

    func run() async throws {
      let pool = try backend.pool()
      var (runner, cells) = try selection.cells(on: pool)
      var budget = HostResources.available()
      if let pool {
        runner.launcher = pool
        budget = HostResources(
          cpus: pool.hosts.map(\.capacity.cpus).reduce(0, +),
          memoryMiB: pool.hosts.map(\.capacity.memoryMiB).reduce(0, +))
      }
      if let gdb {
        guard let cell = cells.first(where: { $0.id == gdb }) else {
          throw ValidationError(
            "--gdb: no selected cell '\(gdb)'; `runner list` prints the ids (have: \(cells.map(\.id).joined(separator: ", ")))")
        }
        throw ExitCode(try await GdbSession.run(cell, runner: runner))
      }
      guard !cells.isEmpty else {
        throw ValidationError("no matrix cell matches the selection (see `runner list`)")
      }
      let root = runner.builder.workspace.root
      let directory = RunDirectory(path: reportDir)
      try directory.rotate()

      let console = LiveConsole(
        total: cells.count, isTerminal: LiveConsole.stdoutIsTerminal, verbose: verbose
      ) { outcome in
        Self.lines(outcome, root: root)
      }
      let options = MatrixScheduler.Options(budget: budget, maxConcurrentCells: jobs, retries: retry)
      let scheduler = MatrixScheduler(runner: runner, options: options)
      console.print(
        "running \(cells.count) cell\(cells.count == 1 ? "" : "s") within \(options.budget)"
          + (jobs.map { ", at most \($0) at once" } ?? "")
          + (retry > 0 ? ", up to \(retry) retr\(retry == 1 ? "y" : "ies")" : ""))
      console.startTicking()

      let runTask = Mutex<Task<[CellOutcome], Never>?>(nil)
      Interrupts.install { signal in
        runTask.withLock { $0?.cancel() }
        console.print("\ninterrupted (signal \(signal)): QEMU killed; reporting what finished")
      }
      let start = ContinuousClock.now
      let task = Task {
        await scheduler.run(cells) { event in
          if case .cellFinished(let outcome) = event { directory.writeLogs(outcome) }
          console.handle(event)
        }
      }
      runTask.withLock { $0 = task }
      if Interrupts.signal != 0 { task.cancel() }
      let outcomes = await task.value
      let wall = ContinuousClock.now - start
      console.stop()
      let interrupted = Interrupts.signal != 0

      Output.write(Self.summary(outcomes, wall: wall))
      try directory.writeReports(outcomes.map { Self.reportCell($0, root: root) })
      Output.write("reports: \(reportDir)/index.html, junit.xml, results.json, results-<arch>.ktap, logs/")
      if interrupted { throw ExitCode(128 + Interrupts.signal) }
      if outcomes.contains(where: \.isFailure) { throw ExitCode(1) }
    }

    /// The summary in matrix order: one line per cell, then the totals.
    static func summary(_ outcomes: [CellOutcome], wall: Duration) -> String {
      var text = "summary (matrix order):\n"
      for outcome in outcomes {
        var line = "  " + pad(outcome.label, 15) + outcome.cell.id
        if let result = outcome.result, outcome.state == .finished {
          line += String(format: "  %.2fs", result.duration.seconds)
        }
        if outcome.attempts > 1 {
          line += "  attempts: " + outcome.attemptVerdicts.map(\.rawValue).joined(separator: ", ")
        }
        text += line + "\n"
      }
      var counts: [String: Int] = [:]
      for outcome in outcomes { counts[outcome.label, default: 0] += 1 }
      let order = ["PASS", "FLAKY", "FAIL", "CRASH", "TIMEOUT", "PROTOCOL-ERROR", "ERROR", "SKIP", "INTERRUPTED", "NOT-RUN"]
      let tallies = order.compactMap { label in counts[label].map { "\($0) \(label)" } }
      text += "summary: \(outcomes.count) cell\(outcomes.count == 1 ? "" : "s"): \(tallies.joined(separator: ", "))"
        + String(format: " in %.2fs", wall.seconds)
      return text
    }

    /// The live lines of a finished cell: verdict line, failed checks,
    /// crash record with its symbolized location.
    static func lines(_ outcome: CellOutcome, root: String) -> [String] {
      let cell = outcome.cell
      let label = pad(outcome.label, 8)
      guard let result = outcome.result else {
        switch outcome.state {
        case .error(let message): return ["\(label) \(cell.id): \(message)"]
        default: return ["\(label) \(cell.id)"]
        }
      }
      let checks = result.checks
      let passed = checks.filter { $0.outcome == .passed }.count
      let skipped = checks.filter { if case .skipped = $0.outcome { true } else { false } }.count
      var line = "\(label) \(cell.id)  \(passed) passed, \(result.failedChecks.count) failed, "
        + "\(skipped) skipped  " + String(format: "%.2fs", result.duration.seconds)
      if outcome.flaky {
        line += "  — flaky: " + outcome.attemptVerdicts.map(\.rawValue).joined(separator: " then ")
      } else if !result.reason.isEmpty {
        line += "  — \(result.reason)"
        if outcome.attempts > 1 { line += " (every one of \(outcome.attempts) attempts failed)" }
      }
      var lines = [line]
      if outcome.flaky { return lines }
      for check in result.failedChecks {
        let location = check.location.map { location in
          "\(relative(outcome.payload?.sources[location.fileID] ?? location.fileID, root: root)):\(location.line)"
        } ?? "?"
        lines.append("    not ok \(check.section) › \(check.name) at \(location)")
        lines += check.diagnostics.map { "      # \($0)" }
      }
      if let crash = result.crash {
        lines += crash.lines.map { "    \($0)" }
        for frame in crash.frames { lines.append("    at \(frame.function) (\(frame.sourceReference))") }
      }
      return lines
    }

    /// The report cell of an outcome (interrupted and not-run cells as
    /// SKIP with `interrupted`, build errors as FAIL).
    static func reportCell(_ outcome: CellOutcome, root: String) -> ReportCell {
      let cell = outcome.cell
      let sources = (outcome.payload?.sources ?? [:]).mapValues { relative($0, root: root) }
      var result: GuestResult
      switch outcome.state {
      case .finished, .interrupted:
        result = outcome.result ?? placeholder(cell, .skipped, "interrupted before QEMU started")
      case .notRun:
        result = placeholder(cell, .skipped, "not run: the run was interrupted before this cell started")
      case .error(let message):
        result = placeholder(cell, .failed, "error: " + message)
      }
      var report = ReportCell(
        id: cell.id, result: result, settings: cell.settings, attempts: max(1, outcome.attempts),
        flaky: outcome.flaky, logPath: "logs/\(cell.id).log", sourcePaths: sources)
      report.interrupted = outcome.state == .interrupted || outcome.state == .notRun
      return report
    }

    static func placeholder(_ cell: MatrixCell, _ verdict: Verdict, _ reason: String) -> GuestResult {
      GuestResult(
        guest: cell.guest, architecture: cell.settings.architecture,
        accelerator: cell.settings.accelerator, verdict: verdict, reason: reason, sections: [],
        crash: nil, protocolErrors: [], serialLog: "", qemuStderr: "", command: [],
        qemuExitCode: nil, duration: .zero, processID: nil)
    }

    /// `text` padded with spaces to `width` (never cut).
    static func pad(_ text: String, _ width: Int) -> String {
      text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    static func relative(_ path: String, root: String) -> String {
      path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : path
    }
  }
}

/// The run directory (`runs/latest` by default): the previous run is moved
/// to `<dir>.previous` when a run starts; each cell's serial log, QEMU
/// command line (shell-quoted) and QEMU stderr are written to
/// `logs/<id>.log`, `.timed.log` (each line with its arrival time),
/// `.cmdline`, `.stderr` as soon as the cell finishes
/// (earlier failed attempts as `logs/<id>.attempt<n>.log`); the reports
/// when the run ends.
struct RunDirectory: Sendable {
  var path: String

  /// Moves the previous run aside and creates `logs/`.
  func rotate() throws {
    let manager = FileManager.default
    let previous = path + ".previous"
    if manager.fileExists(atPath: path) {
      try? manager.removeItem(atPath: previous)
      try manager.moveItem(atPath: path, toPath: previous)
    }
    try manager.createDirectory(atPath: path + "/logs", withIntermediateDirectories: true)
  }

  /// Writes a finished cell's logs.
  func writeLogs(_ outcome: CellOutcome) {
    let base = path + "/logs/" + outcome.cell.id
    for (number, earlier) in outcome.earlierResults.enumerated() {
      write(earlier.serialLog, to: "\(base).attempt\(number + 1).log")
    }
    guard let result = outcome.result else { return }
    write(result.serialLog, to: base + ".log")
    write(result.timeline.timedText(result.serialLog), to: base + ".timed.log")
    if !result.command.isEmpty {
      write(ReportText.shellLine(result.command) + "\n", to: base + ".cmdline")
      write(result.qemuStderr, to: base + ".stderr")
    }
  }

  /// Writes every report (and the final logs again) for `cells`.
  func writeReports(_ cells: [ReportCell]) throws {
    try ReportSet.write(cells: cells, to: path)
  }

  private func write(_ text: String, to file: String) {
    try? Data(text.utf8).write(to: URL(fileURLWithPath: file), options: .atomic)
  }
}
