import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Known failures (`configs/baseline.cfg`): which checks of which cells are
/// expected to fail, and why. A run classifies every failure as *known*
/// (an entry matches) or *new*, and every entry that matched cells which
/// ran without that failure as *fixed*; only new failures fail the run.
///
/// Format: entries separated by blank lines or started by `cell =`; `#`
/// starts a comment line.
///
/// ```
/// cell = emulator.x86_64.tcg.*          # glob over cell ids (* and ?)
/// check = flags › ADC sets OF           # glob over `section › name`, or
///                                       # `(verdict) CRASH` etc. for a
///                                       # cell-level failure; * for any
/// reason = QEMU 7.2 TCG does not ...    # required: why it fails
/// link = https://gitlab.com/qemu-project/qemu/-/issues/NNN   # optional
/// ```
///
/// A divergence (a check whose outcome differs between TCG and KVM, or
/// between QEMU builds; see `Divergence`) is baselined the same way with
/// `check = (divergence) section › name` (or `(divergence) (verdict)`); the
/// cell glob is matched against the divergence's cell key (the varying
/// axis shown as `*`, e.g. `selftest.x86_64.*.smp1.mem256M`) or any of its
/// cells' ids. A divergence never fails the run; baselining it marks it
/// known.
public struct Baseline: Sendable, Equatable {
  /// One known failure.
  public struct Entry: Sendable, Equatable, Codable {
    /// Glob over cell ids.
    public var cell: String
    /// Glob over check keys (`section › name`, ` [n]` for repeats) or
    /// `(verdict) VERDICT`.
    public var check: String
    /// Why it fails.
    public var reason: String
    /// A link to a bug, optional.
    public var link: String?
    /// Line of the entry's `cell =` in the file.
    public var line: Int

    /// Whether the entry covers `key` of `cellID`.
    public func matches(cellID: String, key: String) -> Bool {
      Baseline.glob(cell, cellID) && Baseline.glob(check, key)
    }
  }

  /// The file the baseline came from.
  public var path: String
  /// Its entries in file order.
  public var entries: [Entry]

  /// A baseline.
  public init(path: String, entries: [Entry]) {
    self.path = path
    self.entries = entries
  }

  /// Reads and parses `path`.
  public static func load(path: String) throws -> Baseline {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ConfigError(file: path, line: 0, message: "cannot read the baseline file")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw ConfigError(file: path, line: 0, message: "the baseline file is not UTF-8")
    }
    return try parse(text, path: path)
  }

  /// Parses baseline text; errors name `path` and the line.
  public static func parse(_ text: String, path: String) throws -> Baseline {
    var entries: [Entry] = []
    var current: [String: (String, Int)] = [:]
    func close() throws {
      guard !current.isEmpty else { return }
      let line = current["cell"]?.1 ?? current.values.map(\.1).min() ?? 0
      for key in ["cell", "check", "reason"] where (current[key]?.0 ?? "").isEmpty {
        throw ConfigError(file: path, line: line, message: "baseline entry without '\(key) ='")
      }
      entries.append(
        Entry(
          cell: current["cell"]!.0, check: current["check"]!.0, reason: current["reason"]!.0,
          link: current["link"]?.0, line: line))
      current = [:]
    }
    for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let number = index + 1
      var line = Substring(raw)
      while line.last == "\r" { line.removeLast() }
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if trimmed.isEmpty {
        try close()
        continue
      }
      if trimmed.hasPrefix("#") { continue }
      guard let equals = trimmed.firstIndex(of: "=") else {
        throw ConfigError(file: path, line: number, message: "expected 'key = value', got '\(trimmed)'")
      }
      let key = trimmed[..<equals].trimmingCharacters(in: .whitespaces)
      let value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
      guard ["cell", "check", "reason", "link"].contains(key) else {
        throw ConfigError(
          file: path, line: number, message: "unknown baseline key '\(key)' (cell, check, reason, link)")
      }
      if key == "cell" { try close() }
      if current[key] != nil {
        throw ConfigError(file: path, line: number, message: "'\(key)' given twice in one entry")
      }
      current[key] = (value, number)
    }
    try close()
    return Baseline(path: path, entries: entries)
  }

  /// `pattern` (with `*` and `?`) matches all of `text`.
  static func glob(_ pattern: String, _ text: String) -> Bool {
    fnmatch(pattern, text, 0) == 0
  }

  /// The failure keys of a cell's result: its failed checks' keys, plus
  /// `(verdict) VERDICT` when the verdict is a failure that its checks do
  /// not explain (CRASH, TIMEOUT, PROTOCOL-ERROR, or FAIL without a failed
  /// check).
  public static func failureKeys(_ cell: ResultsDocument.Cell) -> [String] {
    let failed = cell.keyedChecks.filter { $0.check.outcome == "failed" }.map(\.key)
    let failing = cell.verdict != "PASS" && cell.verdict != "SKIP"
    if failing && (cell.verdict != "FAIL" || failed.isEmpty) {
      return failed + ["(verdict) \(cell.verdict)"]
    }
    return failed
  }

  /// Classifies every cell of `document`.
  public func classify(_ document: ResultsDocument) -> BaselineReport {
    var report = BaselineReport(path: path)
    var matchedRan = Set<Int>()
    var matchedFailure = Set<Int>()
    for cell in document.cells where cell.verdict != "SKIP" {
      for (index, entry) in entries.enumerated() where Baseline.glob(entry.cell, cell.id) {
        matchedRan.insert(index)
      }
      for key in Baseline.failureKeys(cell) {
        if let index = entries.firstIndex(where: { $0.matches(cellID: cell.id, key: key) }) {
          matchedFailure.insert(index)
          report.known.append(.init(cell: cell.id, check: key, entry: entries[index]))
        } else {
          report.new.append(.init(cell: cell.id, check: key, entry: nil))
        }
      }
    }
    for divergence in Divergence.find(in: document) {
      let key = "(divergence) \(divergence.check)"
      let names = [divergence.cells] + divergence.outcomes.keys.sorted()
      if let index = entries.firstIndex(where: { entry in
        Baseline.glob(entry.check, key) && names.contains { Baseline.glob(entry.cell, $0) }
      }) {
        matchedFailure.insert(index)
        report.knownDivergences.append(.init(cell: divergence.cells, check: key, entry: entries[index]))
      } else {
        report.newDivergences.append(.init(cell: divergence.cells, check: key, entry: nil))
      }
    }
    report.fixed = entries.enumerated()
      .filter { matchedRan.contains($0.offset) && !matchedFailure.contains($0.offset) }.map(\.element)
    return report
  }
}

/// How a run's failures compare with a baseline.
public struct BaselineReport: Sendable, Equatable, Codable {
  /// One failure, with the entry that covers it (nil: new).
  public struct Failure: Sendable, Equatable, Codable {
    public var cell: String
    public var check: String
    public var entry: Baseline.Entry?
  }

  /// The baseline file.
  public var path: String
  /// Failures the baseline covers.
  public var known: [Failure] = []
  /// Failures it does not: these fail the run.
  public var new: [Failure] = []
  /// Entries whose cells ran without the failure: fixed (XPASS), to be
  /// removed from the baseline.
  public var fixed: [Baseline.Entry] = []
  /// Divergences an entry covers (`check = (divergence) …`), and those
  /// none does; neither fails the run.
  public var knownDivergences: [Failure] = []
  public var newDivergences: [Failure] = []

  /// Cells with at least one new failure.
  public var cellsWithNewFailures: Set<String> { Set(new.map(\.cell)) }

  /// The summary block for the terminal.
  public var text: String {
    var lines = [
      "baseline \(path): \(known.count) known failure\(known.count == 1 ? "" : "s"), "
        + "\(new.count) new, \(fixed.count) fixed (XPASS)"
        + (knownDivergences.isEmpty ? "" : "; \(knownDivergences.count) known divergence\(knownDivergences.count == 1 ? "" : "s")")
    ]
    for failure in new { lines.append("  NEW    \(failure.cell)  \(failure.check)") }
    for failure in known {
      lines.append("  known  \(failure.cell)  \(failure.check) — \(failure.entry?.reason ?? "")")
    }
    for entry in fixed {
      lines.append("  FIXED  \(entry.cell)  \(entry.check) (\(pathLine(entry))) — no longer fails: remove it")
    }
    for divergence in knownDivergences {
      lines.append("  known  \(divergence.cell)  \(divergence.check) — \(divergence.entry?.reason ?? "")")
    }
    return lines.joined(separator: "\n")
  }

  func pathLine(_ entry: Baseline.Entry) -> String { "\(path):\(entry.line)" }
}

extension Baseline {
  /// The baseline text with an entry for every failure of `document` that
  /// no entry covers (reason `TODO: …` for a person to fill in), keeping
  /// the existing text; with `pruning`, entries that are fixed are dropped.
  public static func updated(_ existing: Baseline?, existingText: String, with document: ResultsDocument, pruning: Bool)
    -> (text: String, added: Int, removed: Int)
  {
    let baseline = existing ?? Baseline(path: "", entries: [])
    let report = baseline.classify(document)
    var lines = existingText.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    var removed = 0
    if pruning {
      // Drop fixed entries: from their `cell =` line to the next blank line.
      for entry in report.fixed.sorted(by: { $0.line > $1.line }) {
        var end = entry.line - 1
        while end < lines.count && !lines[end].trimmingCharacters(in: .whitespaces).isEmpty { end += 1 }
        lines.removeSubrange((entry.line - 1)..<min(end + 1, lines.count))
        removed += 1
      }
    }
    var text = lines.joined(separator: "\n")
    if text.isEmpty {
      text = "# Known failures: see Sources/Harness/Regression/Baseline.swift for the format.\n"
    }
    var seen = Set<String>()
    var added = 0
    for failure in report.new + report.newDivergences
    where seen.insert(failure.cell + "\u{0}" + failure.check).inserted {
      if !text.hasSuffix("\n") { text += "\n" }
      text += "\ncell = \(failure.cell)\ncheck = \(failure.check)\nreason = TODO: why this fails (fill in)\n"
      added += 1
    }
    return (text, added, removed)
  }
}
