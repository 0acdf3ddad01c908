import Foundation

/// One cell of the test matrix: one guest boot with its result and the
/// settings it ran with. The unit every report is made of.
public struct ReportCell: Sendable {
  /// Stable id, e.g. `selftest.x86_64.tcg.smp1.mem256M`. Unique within a
  /// report; used as JUnit suite name, KTAP subtest name, JSON id and (made
  /// file-name safe) for the log file and the HTML anchor.
  public var id: String
  /// The result of the (last) run.
  public var result: GuestResult
  /// Virtual CPUs the guest had.
  public var cpus: Int
  /// Guest RAM in MiB.
  public var memoryMiB: Int
  /// The QEMU CPU model it ran with; nil for the default model.
  public var cpuModel: String? = nil
  /// The QEMU machine type of a cell on the `machine` axis; nil for the
  /// architecture's default.
  public var machine: String? = nil
  /// The QEMU build it ran on (`system`: the QEMU on PATH).
  public var qemuBuild: String = LaunchSettings.systemQemu
  /// Runs made (more than 1 when retried); 1 normally.
  public var attempts: Int
  /// Failed first, then passed on a retry.
  public var flaky: Bool
  /// The run was interrupted (Ctrl-C) while this cell ran or before it
  /// started; its result is then a SKIP saying so.
  public var interrupted: Bool = false
  /// Path of this cell's serial log relative to the report directory; nil
  /// means `logs/<id>.log`. Must be relative and must not contain `..`.
  public var logPath: String?
  /// Guest `#fileID` -> source path (repository-relative, ideally), used
  /// for the `file` of checks. IDs not in the map are reported as they are.
  public var sourcePaths: [String: String]
  /// What the run ran on (QEMU binaries and versions, host kernel, KVM
  /// modules, commit); nil when not collected.
  public var metadata: RunMetadata? = nil

  /// A cell.
  public init(
    id: String, result: GuestResult, cpus: Int, memoryMiB: Int, attempts: Int = 1,
    flaky: Bool = false, logPath: String? = nil, sourcePaths: [String: String] = [:]
  ) {
    self.id = id
    self.result = result
    self.cpus = cpus
    self.memoryMiB = memoryMiB
    self.attempts = attempts
    self.flaky = flaky
    self.logPath = logPath
    self.sourcePaths = sourcePaths
  }

  /// A cell with CPUs and memory taken from the launch settings it ran with.
  public init(
    id: String, result: GuestResult, settings: LaunchSettings, attempts: Int = 1,
    flaky: Bool = false, logPath: String? = nil, sourcePaths: [String: String] = [:]
  ) {
    self.init(
      id: id, result: result, cpus: settings.cpus, memoryMiB: settings.memoryMiB,
      attempts: attempts, flaky: flaky, logPath: logPath, sourcePaths: sourcePaths)
    cpuModel = settings.cpuModel
    machine = settings.machine
    qemuBuild = settings.qemuBuild
  }
}

/// Why a report set could not be written.
public enum ReportError: Error, Sendable, Equatable, CustomStringConvertible {
  /// Two cells share an id.
  case duplicateCellID(String)
  /// A cell's `logPath` is absolute, empty or climbs out with `..`.
  case invalidLogPath(cellID: String, path: String)
  /// Two cells would write the same log file.
  case duplicateLogPath(String)
  /// Files or directories that could not be written (every other file of
  /// the set was still written).
  case writeFailed([FileProblem])

  public var description: String {
    switch self {
    case .duplicateCellID(let id): "two report cells have the id \(id)"
    case .invalidLogPath(let id, let path):
      "cell \(id): log path \(path) must be relative to the report directory and must not contain '..'"
    case .duplicateLogPath(let path): "two report cells would write the log \(path)"
    case .writeFailed(let problems):
      "could not write "
        + (problems.count == 1
          ? problems[0].description
          : "\(problems.count) report files:\n" + problems.map { "  \($0)" }.joined(separator: "\n"))
    }
  }
}

/// A file or directory that could not be written, and why in words.
public struct FileProblem: Sendable, Equatable, CustomStringConvertible {
  /// The path (as given, not resolved).
  public var path: String
  /// Why, in words: `read-only file system`, `no space left on device`...
  public var reason: String

  /// A problem with `path`.
  public init(path: String, reason: String) {
    self.path = path
    self.reason = reason
  }

  /// The problem of `path` from the error a file operation threw.
  public init(path: String, error: any Error) {
    self.init(path: path, reason: FileErrorText.reason(error))
  }

  /// `<path>: <reason>`.
  public var description: String { "\(path): \(reason)" }
}

/// File-system errors in words, never as raw error-domain numbers: an
/// `errno` (directly, as `POSIXError`, or as the underlying error of a
/// Foundation `CocoaError`) becomes its C library message in lower case
/// (`read-only file system`, `no space left on device`, `permission
/// denied`, `not a directory`...).
public enum FileErrorText {
  /// The reason for `error` in words.
  public static func reason(_ error: any Error) -> String {
    if let code = posixCode(error) { return reason(errno: code) }
    let nsError = error as NSError
    if nsError.domain == NSCocoaErrorDomain {
      switch CocoaError.Code(rawValue: nsError.code) {
      case .fileNoSuchFile, .fileReadNoSuchFile: return reason(errno: ENOENT)
      case .fileWriteNoPermission, .fileReadNoPermission: return reason(errno: EACCES)
      case .fileWriteOutOfSpace: return reason(errno: ENOSPC)
      case .fileWriteVolumeReadOnly: return reason(errno: EROFS)
      case .fileWriteFileExists: return reason(errno: EEXIST)
      case .fileWriteInvalidFileName, .fileReadInvalidFileName: return "invalid file name"
      case .fileLocking: return "the file is locked"
      default: return "file system error"
      }
    }
    let text = String(describing: error)
    return text.isEmpty ? "unknown error" : text
  }

  /// The C library's message for `errno` with a lower-case first letter.
  public static func reason(errno code: Int32) -> String {
    guard let message = strerror(code).map({ String(cString: $0) }), !message.isEmpty else {
      return "error \(code)"
    }
    return message.prefix(1).lowercased() + message.dropFirst()
  }

  /// The `errno` inside `error`, if any (itself, or its underlying error).
  static func posixCode(_ error: any Error) -> Int32? {
    if let posix = error as? POSIXError { return posix.code.rawValue }
    let nsError = error as NSError
    if nsError.domain == NSPOSIXErrorDomain { return Int32(nsError.code) }
    if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? any Error {
      return posixCode(underlying)
    }
    return nil
  }
}

/// Writes the whole report directory for a set of matrix cells.
///
/// Layout of `directory` (created if needed):
///
/// - `junit-<arch>.xml`, `results-<arch>.ktap`, `results-<arch>.json` for
///   every architecture present (cells of that architecture only);
/// - `junit.xml`, `results.json`: all cells;
/// - `index.html`: the human report (matrix grid, timings, details);
/// - `logs/<id>.log` (or each cell's `logPath`): the serial logs (the
///   runner adds `logs/<id>.cmdline` and `logs/<id>.stderr` as each cell
///   finishes).
public enum ReportSet {
  /// Writes every report for `cells` into `directory` and returns the paths
  /// written (each `directory` joined with the relative name), reports
  /// first, then logs. Existing files of the same names are replaced.
  /// A file that cannot be written does not stop the others: the set is
  /// written as far as it can be, then `ReportError.writeFailed` names
  /// every path that failed and why, in words.
  @discardableResult
  public static func write(
    cells: [ReportCell], to directory: String, baseline: BaselineReport? = nil
  ) throws -> [String] {
    try validate(cells)
    let layout = ReportLayout(cells)
    var files: [(name: String, contents: String)] = []
    for architecture in layout.architectures {
      let subset = cells.filter { $0.result.architecture == architecture }
      files.append(("junit-\(architecture).xml", JUnitReport.render(subset, layout: layout)))
      files.append(("results-\(architecture).ktap", KTAPReport.render(subset, architecture: architecture)))
      files.append(("results-\(architecture).json", try JSONReport.render(subset, layout: layout)))
    }
    files.append(("junit.xml", JUnitReport.render(cells, layout: layout)))
    files.append(("results.json", try JSONReport.render(cells, layout: layout, baseline: baseline)))
    files.append(("index.html", HTMLReport.render(cells, layout: layout, baseline: baseline)))
    for cell in cells {
      files.append((layout.logPath(of: cell), cell.result.serialLog))
    }

    let root = URL(fileURLWithPath: directory, isDirectory: true)
    let fileManager = FileManager.default
    do {
      try fileManager.createDirectory(at: root, withIntermediateDirectories: true)
    } catch {
      throw ReportError.writeFailed([FileProblem(path: directory, error: error)])
    }
    var written: [String] = []
    var problems: [FileProblem] = []
    for file in files {
      let url = root.appendingPathComponent(file.name)
      let path = (directory as NSString).appendingPathComponent(file.name)
      do {
        try fileManager.createDirectory(
          at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try ReportFile.write(file.contents, to: url.path)
        written.append(path)
      } catch {
        problems.append(FileProblem(path: path, error: error))
      }
    }
    if !problems.isEmpty { throw ReportError.writeFailed(problems) }
    return written
  }

  /// Rejects duplicate ids and unsafe or colliding log paths.
  static func validate(_ cells: [ReportCell]) throws {
    var ids: Set<String> = []
    for cell in cells where !ids.insert(cell.id).inserted {
      throw ReportError.duplicateCellID(cell.id)
    }
    for cell in cells {
      if let path = cell.logPath, !ReportLayout.isSafeRelativePath(path) {
        throw ReportError.invalidLogPath(cellID: cell.id, path: path)
      }
    }
    let layout = ReportLayout(cells)
    var paths: Set<String> = []
    for cell in cells where !paths.insert(layout.logPath(of: cell)).inserted {
      throw ReportError.duplicateLogPath(layout.logPath(of: cell))
    }
  }
}

/// Names derived from the cells, identical in every report of a set: the
/// file-name safe slug of each id (log file, HTML anchor) and the log path.
struct ReportLayout: Sendable {
  /// Architectures present, in `Architecture.allCases` order.
  let architectures: [Architecture]
  private let slugs: [String: String]
  private let logPaths: [String: String]

  init(_ cells: [ReportCell]) {
    let present = Set(cells.map(\.result.architecture))
    architectures = Architecture.allCases.filter(present.contains)
    var slugs: [String: String] = [:]
    var taken: Set<String> = []
    for cell in cells where slugs[cell.id] == nil {
      let base = Self.slug(cell.id)
      var candidate = base
      var suffix = 2
      while taken.contains(candidate) {
        candidate = "\(base)-\(suffix)"
        suffix += 1
      }
      taken.insert(candidate)
      slugs[cell.id] = candidate
    }
    self.slugs = slugs
    var logPaths: [String: String] = [:]
    for cell in cells {
      if let path = cell.logPath, Self.isSafeRelativePath(path) {
        logPaths[cell.id] = path
      } else {
        logPaths[cell.id] = "logs/\(slugs[cell.id]!).log"
      }
    }
    self.logPaths = logPaths
  }

  /// The file-name and anchor safe form of the cell's id (the id itself
  /// when it only uses `A-Z a-z 0-9 . _ -`).
  func slug(of cell: ReportCell) -> String { slugs[cell.id] ?? Self.slug(cell.id) }

  /// The HTML anchor of the cell's detail section (`cell-<slug>`).
  func anchor(of cell: ReportCell) -> String { "cell-" + slug(of: cell) }

  /// The cell's serial log path relative to the report directory.
  func logPath(of cell: ReportCell) -> String {
    logPaths[cell.id] ?? "logs/\(slug(of: cell)).log"
  }

  /// `id` with every character outside `A-Z a-z 0-9 . _ -` replaced by `_`
  /// and a leading dot made harmless.
  static func slug(_ id: String) -> String {
    var out = String(
      id.unicodeScalars.map { scalar -> Character in
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", ".", "_", "-": Character(scalar)
        default: "_"
        }
      })
    if out.isEmpty { out = "cell" }
    if out.hasPrefix(".") { out = "_" + out.dropFirst() }
    return out
  }

  /// Whether `path` is relative, non-empty and free of `..` components.
  static func isSafeRelativePath(_ path: String) -> Bool {
    guard !path.isEmpty, !path.hasPrefix("/"), !path.hasSuffix("/") else { return false }
    return !path.split(separator: "/", omittingEmptySubsequences: false).contains {
      $0 == ".." || $0.isEmpty
    }
  }
}

/// What a cell counts as in totals and colours: the verdict, except that a
/// passing cell that needed a retry is `flaky`.
enum CellStatus: String, CaseIterable, Sendable {
  case pass
  case fail
  case crash
  case timeout
  case protocolError = "protocol-error"
  case skip
  case flaky

  init(_ cell: ReportCell) {
    switch cell.result.verdict {
    case .passed: self = cell.flaky ? .flaky : .pass
    case .failed: self = .fail
    case .crashed: self = .crash
    case .timedOut: self = .timeout
    case .protocolError: self = .protocolError
    case .skipped: self = .skip
    }
  }

  /// Short label for people.
  var label: String {
    switch self {
    case .pass: "PASS"
    case .fail: "FAIL"
    case .crash: "CRASH"
    case .timeout: "TIMEOUT"
    case .protocolError: "PROTOCOL ERROR"
    case .skip: "SKIP"
    case .flaky: "FLAKY"
    }
  }

  /// Plural noun for the totals line.
  var totalsLabel: String {
    switch self {
    case .pass: "passed"
    case .fail: "failed"
    case .crash: "crashed"
    case .timeout: "timed out"
    case .protocolError: "protocol errors"
    case .skip: "skipped"
    case .flaky: "flaky"
    }
  }
}

/// Per-check tallies of one cell, with the test-level outcomes people
/// count alongside: a test skipped before it ran counts as one skipped, a
/// test that failed without a failed check (it made no check) as one
/// failed, and `xpassed` counts XPASS tests.
struct CheckCounts: Sendable, Equatable {
  var passed = 0
  var failed = 0
  var skipped = 0
  /// XFAIL checks (failed as expected).
  var xfailed = 0
  /// XPASS tests (expected to fail, but passed).
  var xpassed = 0
  /// Checks and skipped tests (XPASS tests are counted by their checks).
  var total: Int { passed + failed + skipped + xfailed }

  init(_ checks: [GuestCheck]) {
    for check in checks {
      switch check.outcome {
      case .passed: passed += 1
      case .failed: failed += 1
      case .skipped: skipped += 1
      case .xfailed: xfailed += 1
      }
    }
  }

  /// The checks of `sections` and their tests' own outcomes.
  init(sections: [GuestSection]) {
    self.init(sections.flatMap(\.checks))
    for section in sections {
      switch section.status {
      case .skipped where section.checks.isEmpty: skipped += 1
      case .xpassed: xpassed += 1
      case .failed where section.failedWithoutFailedCheck: failed += 1
      default: break
      }
    }
  }

  /// `5 passed, 1 failed, 2 skipped` and, when there are any, `, 1
  /// xfailed, 1 xpassed`.
  var summary: String {
    var text = "\(passed) passed, \(failed) failed, \(skipped) skipped"
    if xfailed > 0 { text += ", \(xfailed) xfailed" }
    if xpassed > 0 { text += ", \(xpassed) xpassed" }
    return text
  }
}

extension GuestResult {
  /// `N passed, N failed, N skipped` and, when there are any, `, N xfailed,
  /// N xpassed` (the terminal's summary line): checks (XFAIL ones apart),
  /// plus tests skipped before they ran (skipped), tests that failed
  /// without a failed check (failed) and XPASS tests (xpassed).
  public var countSummary: String { CheckCounts(sections: sections).summary }
}

extension ReportCell {
  /// Totals/colour category.
  var status: CellStatus { CellStatus(self) }

  /// Wall time in seconds, rounded to milliseconds.
  var durationSeconds: Double { (result.duration.reportSeconds * 1000).rounded() / 1000 }

  /// `guest · arch · accel`, the JUnit classname.
  var className: String {
    "\(result.guest) · \(result.architecture) · \(result.accelerator)"
  }

  /// The source path for a guest location (mapped through `sourcePaths`,
  /// else the `#fileID`).
  func sourcePath(of location: GuestSourceLocation) -> String {
    sourcePaths[location.fileID] ?? location.fileID
  }

  /// `file:line` of a check, when it has a location.
  func sourceReference(of check: GuestCheck) -> String? {
    check.location.map { "\(sourcePath(of: $0)):\($0.line)" }
  }

  /// `file:line` of a test's result line, when it has a location.
  func sourceReference(of section: GuestSection) -> String? {
    section.location.map { "\(sourcePath(of: $0)):\($0.line)" }
  }

  /// The sections the reports show, in order: none for a SKIP cell that
  /// never ran.
  var reportedSections: [GuestSection] {
    result.verdict == .skipped && result.sections.isEmpty ? [] : result.sections
  }

  /// Whether the cell ended without a verdict of the guest's own (CRASH,
  /// TIMEOUT, PROTOCOL-ERROR): JUnit's `(guest verdict)` error, the KTAP
  /// report's crash marker.
  var errored: Bool { [.crashed, .timedOut, .protocolError].contains(result.verdict) }

  /// The index of the section that carries an errored cell's crash marker
  /// in results-<arch>.ktap: the one that did not finish, else the first
  /// `not ok` without a failed check; nil when there is none (the marker is
  /// then the cell's last entry) or the cell is not errored.
  var crashMarkedSection: Int? {
    guard errored else { return nil }
    let sections = reportedSections
    return sections.firstIndex { $0.reportedOK == nil } ?? sections.firstIndex { $0.failedWithoutFailedCheck }
  }

  /// Whether the section at `index` fails on its own, without a failed
  /// check (it made no check, a failing XPASS, …): JUnit reports it as a
  /// failed testcase of its own and results-<arch>.ktap as a `not ok` test
  /// (unless it carries the crash marker).
  func failsAtTestLevel(_ index: Int) -> Bool {
    let sections = reportedSections
    return index < sections.count && sections[index].reportedOK != nil
      && sections[index].failedWithoutFailedCheck && index != crashMarkedSection
  }

  /// Whether any section fails on its own (`failsAtTestLevel`).
  var hasTestLevelFailure: Bool {
    reportedSections.indices.contains { failsAtTestLevel($0) }
  }
}

extension Duration {
  /// The duration in (fractional) seconds.
  var reportSeconds: Double {
    let parts = components
    return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
  }
}

/// Small text helpers shared by the writers.
public enum ReportText {
  /// Seconds with three decimals, as JUnit wants them (`1.234`).
  static func junitSeconds(_ seconds: Double) -> String {
    fixed(seconds, places: 3)
  }

  /// `value` with `places` decimals (0-9) and a POSIX decimal point,
  /// rounded half away from zero: what `%.Nf` prints, made by hand because
  /// `String(format:locale:)` builds an ICU number formatter on every call
  /// (about 0.2 ms each: most of the time the reports of a small run took
  /// to write).
  public static func fixed(_ value: Double, places: Int) -> String {
    precondition((0...9).contains(places), "places must be 0-9")
    guard value.isFinite else { return value.isNaN ? "nan" : value < 0 ? "-inf" : "inf" }
    var scale: UInt64 = 1
    for _ in 0..<places { scale *= 10 }
    let scaled = (abs(value) * Double(scale)).rounded(.toNearestOrAwayFromZero)
    // Beyond 2^63: the C library's own formatting (no locale involved).
    guard scaled < 9.2e18 else { return String(format: "%.\(places)f", value) }
    let units = UInt64(scaled)
    var text = (value.sign == .minus ? "-" : "") + String(units / scale)
    if places > 0 {
      let fraction = String(units % scale)
      text += "." + String(repeating: "0", count: places - fraction.count) + fraction
    }
    return text
  }

  /// A duration for people: `850 ms`, `4.2 s`, `2 min 05 s`.
  /// `256 MiB`, `8 GiB`.
  static func mebibytes(_ value: Int) -> String {
    value % 1024 == 0 ? "\(value / 1024) GiB" : "\(value) MiB"
  }

  static func humanDuration(_ seconds: Double) -> String {
    if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
    if seconds < 10 { return fixed(seconds, places: 2) + " s" }
    if seconds < 60 { return fixed(seconds, places: 1) + " s" }
    let whole = Int(seconds.rounded())
    func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
    if whole < 3600 { return "\(whole / 60) min \(twoDigits(whole % 60)) s" }
    return "\(whole / 3600) h \(twoDigits((whole % 3600) / 60)) min"
  }

  /// A guest-clock duration in nanoseconds for people: `850 ns`, `12.3 µs`,
  /// then as `humanDuration`.
  static func guestDuration(_ nanoseconds: UInt64) -> String {
    if nanoseconds < 1_000 { return "\(nanoseconds) ns" }
    if nanoseconds < 1_000_000 { return fixed(Double(nanoseconds) / 1e3, places: 1) + " µs" }
    if nanoseconds < 1_000_000_000 { return fixed(Double(nanoseconds) / 1e6, places: 2) + " ms" }
    return humanDuration(Double(nanoseconds) / 1e9)
  }

  /// A guest clock reading (nanoseconds since boot) as seconds:
  /// `1.203400 s`.
  static func guestTime(_ nanoseconds: UInt64) -> String {
    fixed(Double(nanoseconds) / 1e9, places: 6) + " s"
  }

  /// The last `count` lines of `text` (without a trailing empty line).
  static func tail(_ text: String, lines count: Int, maxBytes: Int = 16 << 10) -> String {
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    if lines.last?.isEmpty == true { lines.removeLast() }
    let tail = lines.suffix(count).joined(separator: "\n")
    return bounded(tail, maxBytes: maxBytes)
  }

  /// `text` itself when it has at most `maxBytes` bytes; else its head and
  /// tail (half each) around a line saying how much was left out, so that
  /// one flooding guest cannot blow up a report.
  public static func bounded(_ text: String, maxBytes: Int) -> String {
    let bytes = Array(text.utf8)
    guard bytes.count > maxBytes else { return text }
    let half = maxBytes / 2
    let omitted = bytes.count - 2 * half
    return String(decoding: bytes.prefix(half), as: UTF8.self)
      + "\n[... \(omitted) bytes left out here; the whole log is in logs/ ...]\n"
      + String(decoding: bytes.suffix(half), as: UTF8.self)
  }

  /// An argv as one shell-pasteable line (elements quoted when needed).
  public static func shellLine(_ argv: [String]) -> String {
    argv.map(shellQuote).joined(separator: " ")
  }

  /// QEMU's argv as a user re-runs it (`.cmdline`, the reports' command):
  /// without the harness's private monitor (`-qmp unix:…`), whose
  /// directory is gone once the runner has exited (QEMU would refuse to
  /// start), and which nobody but the harness talks to.
  public static func reproducer(_ argv: [String]) -> [String] {
    var words: [String] = []
    var index = 0
    while index < argv.count {
      if argv[index] == "-qmp", index + 1 < argv.count, argv[index + 1].hasPrefix("unix:"),
        argv[index + 1].contains("/swiftguest-qmp-")
      {
        index += 2
        continue
      }
      words.append(argv[index])
      index += 1
    }
    return words
  }

  /// One argument quoted for a POSIX shell when it needs it.
  public static func shellQuote(_ argument: String) -> String {
    let plain = !argument.isEmpty && argument.unicodeScalars.allSatisfy {
      switch $0 {
      case "A"..."Z", "a"..."z", "0"..."9", "-", "_", ".", "/", ",", "=", ":", "+", "@", "%": true
      default: false
      }
    }
    return plain ? argument : "'" + argument.replacing("'", with: "'\\''") + "'"
  }
}
