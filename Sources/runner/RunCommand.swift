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
        its vCPUs and its guest RAM; a cell larger than the host runs alone); cells that \
        need more than half of the CPUs go first, then the others, each in matrix order; \
        -j caps the number of cells at once. Each payload is built once, while built ones boot.

        A cell's deadline is its timeout times the accelerator factor (tcg_factor, \
        kvm_factor in the config); the silence timeout applies as well.

        --retry N re-runs a failed cell (FAIL, CRASH, TIMEOUT, PROTOCOL-ERROR) up to N \
        times with harness.attempt=<n> on the guest command line. A cell that fails and \
        then passes is FLAKY: reported and counted as such, but it does not fail the run \
        (exit status 0), so that one unlucky boot does not block CI while the report \
        still shows it. A cell that fails every time keeps its last verdict.

        Ctrl-C kills every running QEMU, prints the finished cells and the interrupted \
        ones, writes the reports and exits with 130.

        The report directory is replaced only if the runner created it (marker file \
        .swiftguest-run) or it is empty; a file, a device, a symbolic link or a \
        directory with other contents is refused (exit status 2) and left untouched. \
        Two runners on one report directory run one after the other: the second waits \
        (--no-wait: exit status 2). A log or report that cannot be written is reported \
        with its path and the reason, and makes the exit status 1.

        --backend libvirt runs the same cells as transient libvirt domains on the \
        daemons named by --connect (default: as root a private libvirtd the runner starts, else qemu:///session). Several URIs share the \
        matrix by each host's CPUs and memory and the arches and accelerators its \
        capabilities offer; payloads are uploaded to remote hosts through a storage \
        volume; a host that drops out has its cells re-queued on the others.
        """)

    @OptionGroup var backend: BackendOptions

    @OptionGroup var selection: Selection

    @Flag(help: "Print each guest's serial log.")
    var verbose = false

    @Option(
      help: """
        Directory for reports and logs; the previous run is kept beside it as <dir>.previous. \
        Only a directory the runner created (it has a .swiftguest-run marker), an empty \
        directory or a new path is accepted.
        """)
    var reportDir: String = "runs/latest"

    @Flag(help: "When another runner uses the report directory, fail (exit status 2) instead of waiting for it.")
    var noWait = false

    @Option(
      help: ArgumentHelp(
        "Known failures (default: configs/baseline.cfg when it exists): a failure it lists does not fail the run; a new one does.",
        valueName: "file"))
    var baseline: String?

    @Flag(help: "Ignore the baseline: every failure fails the run.")
    var noBaseline = false

    @Flag(help: "Also fail the run when a baseline entry no longer fails (so the baseline gets cleaned).")
    var failOnFixed = false

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
      PhaseTrace.mark("arguments")
      let pool = try backend.pool()
      var (runner, cells) = try selection.cells(on: pool)
      var budget = HostResources.available()
      PhaseTrace.mark("matrix")
      if var pool {
        pool = try backend.readying(pool, for: cells)
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
      let knownFailures = try loadBaseline(root: root)
      // Every QEMU build must be a QEMU before any cell runs (through
      // libvirt the daemon's host runs the system's QEMU, not this one's).
      // Answers of earlier runs hold while the binary is the same file.
      QemuVersions.shared.persist(in: runner.builder.cacheDirectory)
      let versions = try await QemuBuilds.verify(
        pool == nil ? cells : cells.filter { $0.settings.qemuPath != nil })
      PhaseTrace.mark("baseline+versions")
      let metadata = RunMetadata.collect(cells: cells, versions: versions, workspaceRoot: root)
      let directory = try await RunDirectory.open(reportDir, wait: !noWait) { message in
        FileHandle.standardError.write(Data((TerminalText.sanitized(message) + "\n").utf8))
      }
      // Logs of a cell that could not be written, by cell id: an error of
      // that cell (written before the cell's lines are printed).
      let logProblems = Mutex<[String: [FileProblem]]>([:])

      let console = LiveConsole(
        total: cells.count, isTerminal: LiveConsole.stdoutIsTerminal, verbose: verbose
      ) { outcome in
        Self.lines(outcome, root: root)
          + Self.logProblemLines(logProblems.withLock { $0[outcome.cell.id] } ?? [])
      }
      let options = MatrixScheduler.Options(budget: budget, maxConcurrentCells: jobs, retries: retry)
      let scheduler = MatrixScheduler(runner: runner, options: options)
      console.print(
        "running \(cells.count) cell\(cells.count == 1 ? "" : "s") within \(options.budget)"
          + (jobs.map { ", at most \($0) at once" } ?? "")
          + (retry > 0 ? ", up to \(retry) retr\(retry == 1 ? "y" : "ies")" : ""))
      console.startTicking()
      PhaseTrace.mark("metadata+directory")

      let runTask = Mutex<Task<[CellOutcome], Never>?>(nil)
      Interrupts.install { signal in
        runTask.withLock { $0?.cancel() }
        console.print("\ninterrupted (signal \(signal)): QEMU killed; reporting what finished")
      }
      let start = ContinuousClock.now
      let task = Task {
        await scheduler.run(cells) { event in
          if case .cellFinished(let outcome) = event {
            let problems = directory.writeLogs(outcome)
            if !problems.isEmpty { logProblems.withLock { $0[outcome.cell.id] = problems } }
          }
          console.handle(event)
        }
      }
      runTask.withLock { $0 = task }
      if Interrupts.signal != 0 { task.cancel() }
      let outcomes = await task.value
      let wall = ContinuousClock.now - start
      PhaseTrace.mark("cells")
      console.stop()
      let interrupted = Interrupts.signal != 0

      let unwritten = logProblems.withLock { $0 }
      Output.write(Self.summary(outcomes, wall: wall, logProblems: unwritten))
      let reportCells = outcomes.map { outcome in
        var cell = Self.reportCell(outcome, root: root)
        cell.metadata = metadata
        return cell
      }
      let document = ResultsDocument(reportCells)
      let baselineReport = knownFailures?.classify(document)
      if let baselineReport,
        !(baselineReport.known.isEmpty && baselineReport.new.isEmpty && baselineReport.fixed.isEmpty
          && baselineReport.knownDivergences.isEmpty)
      {
        Output.write(TerminalText.sanitized(baselineReport.text, keepingNewlines: true))
      }
      let divergences = Divergence.find(in: document)
      if !divergences.isEmpty {
        // Where TCG and KVM disagree on the same guest: emulator or
        // hypervisor bugs (or a check that depends on the accelerator).
        Output.write(
          "divergences (same cell, different accelerator or QEMU build; \(divergences.count)):\n"
            + divergences.map { divergence in
              let known = baselineReport?.knownDivergences.first {
                $0.cell == divergence.cells && $0.check == "(divergence) \(divergence.check)"
              }
              return "  " + TerminalText.sanitized(divergence.line)
                + (known.map { " — known: " + TerminalText.sanitized($0.entry?.reason ?? "") } ?? "")
            }.joined(separator: "\n"))
      }
      var reportsWritten = true
      PhaseTrace.mark("summary")
      do {
        try directory.writeReports(reportCells, baseline: baselineReport)
        Output.write("reports: \(directory.path)/index.html, junit.xml, results.json, results-<arch>.ktap, logs/")
      } catch {
        reportsWritten = false
        FileHandle.standardError.write(
          Data((TerminalText.sanitized("error: the reports were not all written: \(error)", keepingNewlines: true) + "\n").utf8))
      }
      PhaseTrace.mark("reports")
      if interrupted { throw ExitCode(128 + Interrupts.signal) }
      // With a baseline only new failures (and cells that did not run to
      // a verdict) fail the run; --fail-on-fixed adds fixed entries.
      let failed = outcomes.contains { outcome in
        guard outcome.isFailure else { return false }
        guard let baselineReport, case .finished = outcome.state else { return true }
        return baselineReport.cellsWithNewFailures.contains(outcome.cell.id)
      }
      let fixedFails = failOnFixed && !(baselineReport?.fixed.isEmpty ?? true)
      if failed || fixedFails || !unwritten.isEmpty || !reportsWritten {
        throw ExitCode(1)
      }
    }

    /// The baseline in force: `--baseline`, else configs/baseline.cfg when
    /// it exists; nil with `--no-baseline`.
    func loadBaseline(root: String) throws -> Baseline? {
      if noBaseline { return nil }
      if let baseline {
        guard FileManager.default.fileExists(atPath: baseline) else {
          throw ValidationError("--baseline: \(baseline) does not exist")
        }
        return try Baseline.load(path: baseline)
      }
      let standard = root + "/configs/baseline.cfg"
      return FileManager.default.fileExists(atPath: standard) ? try Baseline.load(path: standard) : nil
    }

    /// The lines for a cell whose log files could not be written.
    static func logProblemLines(_ problems: [FileProblem]) -> [String] {
      problems.map { "    error: log not written: \($0)" }
    }

    /// The summary in matrix order: one line per cell, then the totals.
    /// A cell whose logs could not be written says so (`logProblems`, by
    /// cell id); guest text in it is sanitized.
    static func summary(
      _ outcomes: [CellOutcome], wall: Duration, logProblems: [String: [FileProblem]] = [:]
    ) -> String {
      var text = "summary (matrix order):\n"
      for outcome in outcomes {
        var line = "  " + pad(outcome.label, 15) + outcome.cell.id
        if let result = outcome.result, outcome.state == .finished {
          line += String(format: "  %.2fs", result.duration.seconds)
        }
        if outcome.attempts > 1 {
          line += "  attempts: " + outcome.attemptVerdicts.map(\.rawValue).joined(separator: ", ")
        }
        if let problems = logProblems[outcome.cell.id] {
          line += "  ERROR: \(problems.count) log file\(problems.count == 1 ? "" : "s") not written ("
            + (problems.first.map { $0.reason } ?? "") + ")"
        }
        text += TerminalText.sanitized(line) + "\n"
      }
      var counts: [String: Int] = [:]
      for outcome in outcomes { counts[outcome.label, default: 0] += 1 }
      let order = ["PASS", "FLAKY", "FAIL", "CRASH", "TIMEOUT", "PROTOCOL-ERROR", "ERROR", "SKIP", "INTERRUPTED", "NOT-RUN"]
      let tallies = order.compactMap { label in counts[label].map { "\($0) \(label)" } }
      text += "summary: \(outcomes.count) cell\(outcomes.count == 1 ? "" : "s"): \(tallies.joined(separator: ", "))"
        + String(format: " in %.2fs", wall.seconds)
      // The checks the guests made (the catalog benchmark: checks per
      // second of wall time, e.g. `runner --group catalog --arch x86_64
      // --accel tcg`).
      let checks = outcomes.compactMap(\.result).flatMap(\.checks)
      if !checks.isEmpty {
        var byOutcome: [String: Int] = [:]
        for check in checks { byOutcome[check.outcome.name, default: 0] += 1 }
        let parts = ["passed", "failed", "xfailed", "skipped"].compactMap { name in
          byOutcome[name].map { "\($0) \(name)" }
        }
        text += "; \(checks.count) checks (\(parts.joined(separator: ", ")))"
          + String(format: ", %.1f checks/s", Double(checks.count) / max(wall.seconds, 1e-3))
      }
      if !logProblems.isEmpty {
        text += "; logs not written for \(logProblems.count) cell\(logProblems.count == 1 ? "" : "s")"
      }
      return text
    }

    /// The live lines of a finished cell: verdict line, failed checks,
    /// crash record with its symbolized location. Guest text in them (check
    /// and section names, diagnostics, crash lines, reasons, frames) is
    /// sanitized with `TerminalText`: no control character of the guest's
    /// reaches the output; a multi-line message becomes several lines.
    static func lines(_ outcome: CellOutcome, root: String) -> [String] {
      unsanitizedLines(outcome, root: root).flatMap { line in
        line.split(separator: "\n", omittingEmptySubsequences: false).map {
          TerminalText.sanitized(String($0))
        }
      }
    }

    private static func unsanitizedLines(_ outcome: CellOutcome, root: String) -> [String] {
      let cell = outcome.cell
      let label = pad(outcome.label, 8)
      guard let result = outcome.result else {
        switch outcome.state {
        case .error(let message): return ["\(label) \(cell.id): \(message)"]
        default: return ["\(label) \(cell.id)"]
        }
      }
      var line = "\(label) \(cell.id)  \(result.countSummary)  " + String(format: "%.2fs", result.duration.seconds)
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
          "\(GuestWorkspace.relativePath(outcome.payload?.sources[location.fileID] ?? location.fileID, root: root)):\(location.line)"
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
      let sources = (outcome.payload?.sources ?? [:]).mapValues { GuestWorkspace.relativePath($0, root: root) }
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
  }
}

/// The run directory (`runs/latest` by default).
///
/// **Ownership.** Every run directory the runner creates carries the
/// marker file `.swiftguest-run`. When a run starts, the directory is moved
/// to `<dir>.previous` (the one there before is deleted) only if it carries
/// the marker, and `<dir>.previous` is deleted only if it carries the
/// marker too (or is an empty directory). An empty directory given as
/// `--report-dir` is adopted (the marker is written into it). Anything else
/// — a file, a device such as `/dev/null`, a symbolic link, a non-empty
/// directory without the marker, in place of `<dir>` or `<dir>.previous` —
/// is refused (exit status 2, the message names the path and why) and
/// left untouched.
///
/// **One runner at a time.** A run holds an exclusive `flock(2)` on
/// `<dir>.lock` (beside the directory, so that rotation is covered) from
/// before it looks at the directory until it exits. A second runner on
/// the same directory waits for it, saying so on stderr (`--no-wait`:
/// exit status 2 instead); the lock file is left in place.
///
/// **Layout.** Each cell's serial log, QEMU command line (shell-quoted) and
/// QEMU stderr are written to `logs/<id>.log`, `.timed.log` (each line with
/// its arrival time), `.cmdline`, `.stderr` as soon as the cell finishes
/// (earlier failed attempts as `logs/<id>.attempt<n>.log`); the reports
/// when the run ends.
struct RunDirectory: Sendable {
  /// The marker file that makes a directory the runner's own.
  static let markerName = ".swiftguest-run"
  /// The first line of the lock file.
  static let lockHeader = "swiftguest runner lock"

  /// The directory (trailing slashes removed).
  let path: String
  /// The open lock file, held (and locked) until the process exits.
  private let lockDescriptor: Int32

  /// What is at a path, as far as ownership goes.
  enum Entry: Equatable {
    /// Nothing: the runner may create it.
    case missing
    /// A directory with the marker: the runner's own.
    case runDirectory
    /// An empty directory without the marker: may be adopted.
    case emptyDirectory
    /// Something the runner must not replace; why, in words.
    case foreign(String)
  }

  /// Takes the run directory `path` for this run: refuses a path that is
  /// not the runner's (before touching anything), takes the lock (waiting
  /// for another runner on it unless `wait` is false; `waiting` gets the
  /// message to show once), moves the previous run aside and creates the
  /// directory with its marker and `logs/`.
  static func open(
    _ path: String, wait: Bool, waiting: @Sendable (String) -> Void
  ) async throws -> RunDirectory {
    let path = normalized(path)
    let last = (path as NSString).lastPathComponent
    if last == "." || last == ".." || path == "/" {
      throw RunDirectoryError(path: path, reason: "names no directory of its own; give a path such as runs/latest")
    }
    // Refuse early, without creating a lock file beside a device or a
    // stranger's file.
    try refuseForeign(path)
    let parent = (path as NSString).deletingLastPathComponent
    if !parent.isEmpty {
      do {
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
      } catch {
        throw RunDirectoryError(
          path: path, reason: "cannot create its parent directory \(parent): \(FileErrorText.reason(error))")
      }
    }
    let lock = try await acquireLock(path, wait: wait, waiting: waiting)
    do {
      try prepare(path)
    } catch {
      close(lock)
      throw error
    }
    return RunDirectory(path: path, lockDescriptor: lock)
  }

  /// `path` without trailing slashes (`/` stays).
  static func normalized(_ path: String) -> String {
    var path = path
    while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
    return path
  }

  /// Throws when `path` or `path.previous` is there and not the runner's.
  static func refuseForeign(_ path: String) throws {
    if case .foreign(let why) = try inspect(path) {
      throw RunDirectoryError(path: path, reason: why + "; left untouched")
    }
    let previous = path + ".previous"
    if case .foreign(let why) = try inspect(previous) {
      throw RunDirectoryError(
        path: path,
        reason: "\(previous), where the previous run is kept, \(why); "
          + "the runner would have to delete it: left untouched (move it away or choose another --report-dir)")
    }
  }

  /// What is at `path` (never following a symbolic link there).
  static func inspect(_ path: String) throws -> Entry {
    var info = stat()
    guard lstat(path, &info) == 0 else {
      let code = errno
      if code == ENOENT { return .missing }
      if code == ENOTDIR {
        throw RunDirectoryError(path: path, reason: "a component of the path is not a directory")
      }
      throw RunDirectoryError(path: path, reason: "cannot be examined: \(FileErrorText.reason(errno: code))")
    }
    switch info.st_mode & S_IFMT {
    case S_IFDIR: break
    case S_IFLNK:
      let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?"
      return .foreign(
        "is a symbolic link (to \(TerminalText.sanitized(target))), not a run directory; give the directory itself")
    case S_IFREG: return .foreign("is a file, not a run directory")
    case S_IFCHR: return .foreign("is a character device, not a run directory")
    case S_IFBLK: return .foreign("is a block device, not a run directory")
    case S_IFIFO: return .foreign("is a named pipe, not a run directory")
    case S_IFSOCK: return .foreign("is a socket, not a run directory")
    default: return .foreign("is not a directory")
    }
    var marker = stat()
    if lstat(path + "/" + markerName, &marker) == 0, marker.st_mode & S_IFMT == S_IFREG {
      return .runDirectory
    }
    guard let directory = opendir(path) else {
      throw RunDirectoryError(path: path, reason: "cannot be read: \(FileErrorText.reason(errno: errno))")
    }
    defer { closedir(directory) }
    var names: Set<String> = []
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
      }
      if name != "." && name != ".." { names.insert(name) }
    }
    if names.isEmpty { return .emptyDirectory }
    if isEarlierRun(path, names: names) { return .runDirectory }
    var why = "is a directory the runner did not create (no \(markerName) marker in it) and it is not empty"
    if names.contains("results.json") && names.contains("logs") {
      why += " (it looks like a run with other files added: if it may be replaced, `touch \(ReportText.shellQuote(path + "/" + markerName))`)"
    }
    return .foreign(why)
  }

  /// Whether a directory without the marker holds a run of a runner from
  /// before the marker: nothing but the files such a run writes (the
  /// reports, and `logs/` with only `.log`, `.cmdline`, `.stderr` files),
  /// among them `results.json` and `logs/`. Replacing it loses nothing the
  /// runner did not write.
  static func isEarlierRun(_ path: String, names: Set<String>) -> Bool {
    guard names.contains("results.json") && names.contains("logs") else { return false }
    func isRegularFile(_ file: String) -> Bool {
      var info = stat()
      return lstat(file, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
    }
    for name in names where name != "logs" {
      let report =
        ["index.html", "junit.xml", "results.json"].contains(name)
        || (name.hasPrefix("junit-") && name.hasSuffix(".xml"))
        || (name.hasPrefix("results-") && (name.hasSuffix(".json") || name.hasSuffix(".ktap")))
      guard report, isRegularFile(path + "/" + name) else { return false }
    }
    var info = stat()
    guard lstat(path + "/logs", &info) == 0, info.st_mode & S_IFMT == S_IFDIR,
      let logs = try? FileManager.default.contentsOfDirectory(atPath: path + "/logs")
    else { return false }
    return logs.allSatisfy { name in
      !name.hasPrefix(".") && [".log", ".cmdline", ".stderr"].contains { name.hasSuffix($0) }
        && isRegularFile(path + "/logs/" + name)
    }
  }

  /// Takes the exclusive lock on `<path>.lock`.
  private static func acquireLock(
    _ path: String, wait: Bool, waiting: @Sendable (String) -> Void
  ) async throws -> Int32 {
    let lockPath = path + ".lock"
    let descriptor = Foundation.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
    guard descriptor >= 0 else {
      let code = errno
      let why = code == ELOOP ? "is a symbolic link" : FileErrorText.reason(errno: code)
      throw RunDirectoryError(path: path, reason: "cannot open its lock file \(lockPath): \(why)")
    }
    var info = stat()
    if fstat(descriptor, &info) != 0 || info.st_mode & S_IFMT != S_IFREG
      || (info.st_size > 0 && !lockText(descriptor).hasPrefix(lockHeader))
    {
      close(descriptor)
      throw RunDirectoryError(
        path: path,
        reason: "\(lockPath), where the runner keeps its lock, is not a lock file of the runner; left untouched")
    }
    var announced = false
    while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
      let code = errno
      guard code == EWOULDBLOCK || code == EINTR else {
        close(descriptor)
        throw RunDirectoryError(
          path: path, reason: "cannot lock \(lockPath): \(FileErrorText.reason(errno: code))")
      }
      if code == EINTR { continue }
      let holder = lockHolder(descriptor).map { "the runner (pid \($0))" } ?? "another runner"
      guard wait else {
        close(descriptor)
        throw RunDirectoryError(path: path, reason: "is in use by \(holder); not waiting (--no-wait)")
      }
      if !announced {
        waiting("waiting for \(holder) that uses \(path) to finish (--no-wait: fail instead)")
        announced = true
      }
      try? await Task.sleep(for: .milliseconds(200))
    }
    let text = "\(lockHeader)\npid \(getpid())\ndirectory \(path)\n"
    if ftruncate(descriptor, 0) != 0
      || Array(text.utf8).withUnsafeBytes({ pwrite(descriptor, $0.baseAddress, $0.count, 0) }) != text.utf8.count
    {
      let code = errno
      close(descriptor)
      throw RunDirectoryError(path: path, reason: "cannot write its lock file \(lockPath): \(FileErrorText.reason(errno: code))")
    }
    return descriptor
  }

  /// The start of the lock file's text.
  private static func lockText(_ descriptor: Int32) -> String {
    var buffer = [UInt8](repeating: 0, count: 256)
    let count = pread(descriptor, &buffer, buffer.count, 0)
    return count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : ""
  }

  /// The pid written in the lock file by the runner holding it.
  private static func lockHolder(_ descriptor: Int32) -> Int32? {
    let text = lockText(descriptor)
    guard text.hasPrefix(lockHeader) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("pid ") {
      return Int32(line.dropFirst(4))
    }
    return nil
  }

  /// Under the lock: moves the previous run aside (or adopts an empty
  /// directory) and creates the directory with its marker and `logs/`.
  private static func prepare(_ path: String) throws {
    switch try inspect(path) {
    case .foreign(let why):
      throw RunDirectoryError(path: path, reason: why + "; left untouched")
    case .emptyDirectory:
      try finishCreating(path)
    case .missing:
      try createDirectory(path)
      try finishCreating(path)
    case .runDirectory:
      let previous = path + ".previous"
      switch try inspect(previous) {
      case .foreign(let why):
        throw RunDirectoryError(path: path, reason: "\(previous) \(why); left untouched")
      case .missing: break
      case .emptyDirectory:
        if rmdir(previous) != 0 {
          throw RunDirectoryError(
            path: path, reason: "cannot remove the empty \(previous): \(FileErrorText.reason(errno: errno))")
        }
      case .runDirectory:
        do {
          try removeRun(previous)
        } catch {
          throw RunDirectoryError(
            path: path, reason: "cannot delete the run before the previous one, \(previous): \(FileErrorText.reason(error))")
        }
      }
      if rename(path, previous) != 0 {
        throw RunDirectoryError(
          path: path, reason: "cannot move the previous run to \(previous): \(FileErrorText.reason(errno: errno))")
      }
      try createDirectory(path)
      try finishCreating(path)
    }
  }

  /// Deletes a run directory with its marker last, so that a runner
  /// waiting for the lock never sees it as a directory without the marker.
  private static func removeRun(_ path: String) throws {
    let manager = FileManager.default
    for name in try manager.contentsOfDirectory(atPath: path) where name != markerName {
      try manager.removeItem(atPath: path + "/" + name)
    }
    if unlink(path + "/" + markerName) != 0 && errno != ENOENT {  // an earlier run has none
      throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
    }
    if rmdir(path) != 0 { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
  }

  private static func createDirectory(_ path: String) throws {
    if mkdir(path, 0o755) != 0 {
      throw RunDirectoryError(path: path, reason: "cannot be created: \(FileErrorText.reason(errno: errno))")
    }
  }

  /// Writes the marker (empty: its name says it all) and creates `logs/`.
  private static func finishCreating(_ path: String) throws {
    let marker = path + "/" + markerName
    let descriptor = Foundation.open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
    guard descriptor >= 0 else {
      throw RunDirectoryError(
        path: path, reason: "cannot create its marker \(marker): \(FileErrorText.reason(errno: errno))")
    }
    close(descriptor)
    if mkdir(path + "/logs", 0o755) != 0 {
      throw RunDirectoryError(
        path: path, reason: "cannot create \(path)/logs: \(FileErrorText.reason(errno: errno))")
    }
  }

  /// Writes a finished cell's logs; returns the files that could not be
  /// written (path and reason).
  func writeLogs(_ outcome: CellOutcome) -> [FileProblem] {
    let base = path + "/logs/" + outcome.cell.id
    var problems: [FileProblem] = []
    func write(_ text: String, to file: String) {
      do {
        try ReportFile.write(text, to: file)
      } catch {
        problems.append(FileProblem(path: file, error: error))
      }
    }
    for (number, earlier) in outcome.earlierResults.enumerated() {
      write(earlier.serialLog, to: "\(base).attempt\(number + 1).log")
    }
    guard let result = outcome.result else { return problems }
    write(result.serialLog, to: base + ".log")
    write(result.timeline.timedText(result.serialLog), to: base + ".timed.log")
    if !result.command.isEmpty {
      write(ReportText.shellLine(ReportText.reproducer(result.command)) + "\n", to: base + ".cmdline")
      write(result.qemuStderr, to: base + ".stderr")
    }
    return problems
  }

  /// Writes every report (and the final logs again) for `cells`.
  func writeReports(_ cells: [ReportCell], baseline: BaselineReport? = nil) throws {
    try ReportSet.write(cells: cells, to: path, baseline: baseline)
  }
}

/// The run directory cannot be used: refused (not the runner's), in use
/// (`--no-wait`), or not creatable. Exit status 2.
struct RunDirectoryError: Error, CustomStringConvertible {
  /// The `--report-dir` path.
  var path: String
  /// Why, in words.
  var reason: String

  var description: String { "--report-dir \(path): \(reason)" }
}
