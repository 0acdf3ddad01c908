import Foundation

/// The axes a cell id is made of; `runner diff` and the divergence view can
/// leave some out of the key, so that runs (or cells) that differ only in
/// them are compared with each other.
public enum CellAxis: String, Sendable, CaseIterable, Codable {
  case accel
  case cpu
  case qemu
}

extension ResultsDocument.Cell {
  /// The cell's key without `ignoring` axes: `guest.arch.accel.smpN.memM`
  /// with `*` in place of an ignored axis (the cell id when none is).
  public func key(ignoring axes: Set<CellAxis> = []) -> String {
    var parts = [guest, arch, axes.contains(.accel) ? "*" : accel, "smp\(cpus)", "mem\(memoryMiB)M"]
    if let cpuModel { parts.append(axes.contains(.cpu) ? "cpu-*" : "cpu-\(cpuModel)") }
    if let machine { parts.append("machine-\(machine)") }
    if axes.contains(.qemu) {
      parts.append("qemu-*")
    } else if let qemu, qemu != LaunchSettings.systemQemu {
      parts.append("qemu-\(qemu)")
    }
    return parts.joined(separator: ".")
  }

  /// Each check's key — `section › name`, with ` [n]` for the n-th check
  /// of the same name in that section — and the check, in order.
  public var keyedChecks: [(key: String, check: ResultsDocument.Check)] {
    var seen: [String: Int] = [:]
    return checks.map { check in
      let base = "\(check.section) › \(check.name)"
      seen[base, default: 0] += 1
      let count = seen[base]!
      return (count == 1 ? base : "\(base) [\(count)]", check)
    }
  }
}

/// What changed between two runs (`runner diff RUN_A RUN_B`): per cell and
/// per check, keyed by cell key and check key.
public struct RunComparison: Codable, Sendable, Equatable {
  /// A check whose outcome changed.
  public struct CheckChange: Codable, Sendable, Equatable {
    /// Cell key.
    public var cell: String
    /// Check key (`section › name`).
    public var check: String
    /// Outcome in run A (`passed`, `failed`, `skipped`; nil: absent).
    public var before: String?
    /// Outcome in run B (nil: absent).
    public var after: String?
    /// Guest source `file:line` in run B (else A), when known.
    public var location: String?
  }

  /// A cell whose verdict or flakiness changed.
  public struct CellChange: Codable, Sendable, Equatable {
    public var cell: String
    /// Verdict in run A (nil: the cell is new in B).
    public var before: String?
    /// Verdict in run B (nil: the cell is gone in B).
    public var after: String?
  }

  /// A cell whose duration changed by more than the threshold.
  public struct TimeChange: Codable, Sendable, Equatable {
    public var cell: String
    public var beforeSeconds: Double
    public var afterSeconds: Double
    /// after / before.
    public var ratio: Double
  }

  /// Checks failing in B that did not fail in A (or are new and failing).
  public var newFailures: [CheckChange] = []
  /// Checks failing in A that pass in B.
  public var fixed: [CheckChange] = []
  /// Other outcome changes (pass ↔ skip, checks that appeared or vanished).
  public var otherCheckChanges: [CheckChange] = []
  /// Cells whose verdict changed.
  public var verdictChanges: [CellChange] = []
  /// Cells only in B / only in A.
  public var addedCells: [CellChange] = []
  public var removedCells: [CellChange] = []
  /// Cells that became flaky or stopped being flaky.
  public var flakyChanges: [CellChange] = []
  /// Cells that got slower / faster beyond the threshold.
  public var slower: [TimeChange] = []
  public var faster: [TimeChange] = []

  /// Whether B regressed: a new check failure, a cell that passed (or was
  /// new) and now fails, or a cell that vanished.
  public var hasRegressions: Bool {
    !newFailures.isEmpty || !removedCells.isEmpty
      || verdictChanges.contains { $0.after.map(Self.isFailing) ?? true }
      || addedCells.contains { $0.after.map(Self.isFailing) ?? false }
  }

  static func isFailing(_ verdict: String) -> Bool { verdict != "PASS" && verdict != "SKIP" }

  /// Compares run `a` with run `b`. Cells are matched by their key without
  /// `ignoring` axes; a time change counts when the ratio exceeds
  /// `timeRatio` and the difference `minimumSeconds`.
  public init(
    _ a: ResultsDocument, _ b: ResultsDocument, ignoring axes: Set<CellAxis> = [],
    timeRatio: Double = 1.5, minimumSeconds: Double = 0.5
  ) {
    let before = Dictionary(a.cells.map { ($0.key(ignoring: axes), $0) }, uniquingKeysWith: { f, _ in f })
    let after = Dictionary(b.cells.map { ($0.key(ignoring: axes), $0) }, uniquingKeysWith: { f, _ in f })
    for cell in a.cells where after[cell.key(ignoring: axes)] == nil {
      removedCells.append(CellChange(cell: cell.key(ignoring: axes), before: cell.verdict, after: nil))
    }
    for cellB in b.cells {
      let key = cellB.key(ignoring: axes)
      guard let cellA = before[key] else {
        addedCells.append(CellChange(cell: key, before: nil, after: cellB.verdict))
        for (check, value) in cellB.keyedChecks where value.outcome == "failed" {
          newFailures.append(
            CheckChange(cell: key, check: check, before: nil, after: "failed", location: Self.location(value)))
        }
        continue
      }
      if cellA.verdict != cellB.verdict {
        verdictChanges.append(CellChange(cell: key, before: cellA.verdict, after: cellB.verdict))
      }
      if cellA.flaky != cellB.flaky {
        flakyChanges.append(
          CellChange(
            cell: key, before: cellA.flaky ? "FLAKY" : cellA.verdict,
            after: cellB.flaky ? "FLAKY" : cellB.verdict))
      }
      let time = (cellA.durationSeconds, cellB.durationSeconds)
      if time.0 > 0, time.1 > 0, abs(time.1 - time.0) >= minimumSeconds {
        let ratio = time.1 / time.0
        let change = TimeChange(cell: key, beforeSeconds: time.0, afterSeconds: time.1, ratio: ratio)
        if ratio >= timeRatio { slower.append(change) }
        if ratio <= 1 / timeRatio { faster.append(change) }
      }
      let checksA = Dictionary(cellA.keyedChecks.map { ($0.key, $0.check) }, uniquingKeysWith: { f, _ in f })
      let checksB = Dictionary(cellB.keyedChecks.map { ($0.key, $0.check) }, uniquingKeysWith: { f, _ in f })
      for (check, valueB) in cellB.keyedChecks {
        let outcomeA = checksA[check]?.outcome
        guard outcomeA != valueB.outcome else { continue }
        let change = CheckChange(
          cell: key, check: check, before: outcomeA, after: valueB.outcome,
          location: Self.location(valueB))
        if valueB.outcome == "failed" {
          newFailures.append(change)
        } else if outcomeA == "failed" && valueB.outcome == "passed" {
          fixed.append(change)
        } else {
          otherCheckChanges.append(change)
        }
      }
      for (check, valueA) in cellA.keyedChecks where checksB[check] == nil {
        // A check that ran in A and not in B did not pass in B.
        otherCheckChanges.append(
          CheckChange(
            cell: key, check: check, before: valueA.outcome, after: nil,
            location: Self.location(valueA)))
      }
    }
  }

  static func location(_ check: ResultsDocument.Check) -> String? {
    guard let line = check.line else { return nil }
    return "\(check.file ?? check.fileID ?? "?"):\(line)"
  }

  /// Reads `results.json` of a run directory (or the file itself).
  public static func load(_ path: String) throws -> ResultsDocument {
    var isDirectory: ObjCBool = false
    let file =
      FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
      ? path + "/results.json" : path
    guard let data = FileManager.default.contents(atPath: file) else {
      throw ComparisonError(message: "\(file): no results.json there (give a run directory or its results.json)")
    }
    do {
      return try JSONDecoder().decode(ResultsDocument.self, from: data)
    } catch {
      throw ComparisonError(message: "\(file): not a results document of this harness: \(error)")
    }
  }
}

/// A run that cannot be compared (missing or unreadable results).
public struct ComparisonError: Error, CustomStringConvertible, Sendable {
  public var message: String
  public var description: String { message }
}

extension RunComparison {
  /// The comparison as text: one section per kind of change.
  public func text(_ nameA: String, _ nameB: String) -> String {
    var lines = ["diff \(nameA) → \(nameB)"]
    func section<T>(_ title: String, _ items: [T], _ line: (T) -> String) {
      guard !items.isEmpty else { return }
      lines.append("\(title) (\(items.count)):")
      lines += items.map { "  " + line($0) }
    }
    func outcome(_ value: String?) -> String { value ?? "absent" }
    section("new failures", newFailures) {
      "\($0.cell)  \($0.check)  \(outcome($0.before)) → \(outcome($0.after))"
        + ($0.location.map { "  at \($0)" } ?? "")
    }
    section("fixed", fixed) { "\($0.cell)  \($0.check)" }
    section("verdict changes", verdictChanges) { "\($0.cell)  \($0.before ?? "-") → \($0.after ?? "-")" }
    section("new cells", addedCells) { "\($0.cell)  \($0.after ?? "-")" }
    section("removed cells", removedCells) { "\($0.cell)  (was \($0.before ?? "-"))" }
    section("flaky changes", flakyChanges) { "\($0.cell)  \($0.before ?? "-") → \($0.after ?? "-")" }
    section("other check changes", otherCheckChanges) {
      "\($0.cell)  \($0.check)  \(outcome($0.before)) → \(outcome($0.after))"
    }
    section("slower", slower) {
      String(format: "%@  %.2fs → %.2fs (×%.2f)", $0.cell as NSString, $0.beforeSeconds, $0.afterSeconds, $0.ratio)
    }
    section("faster", faster) {
      String(format: "%@  %.2fs → %.2fs (×%.2f)", $0.cell as NSString, $0.beforeSeconds, $0.afterSeconds, $0.ratio)
    }
    lines.append(
      "diff: \(newFailures.count) new failure\(newFailures.count == 1 ? "" : "s"), \(fixed.count) fixed, "
        + "\(verdictChanges.count) verdict change\(verdictChanges.count == 1 ? "" : "s"), "
        + "\(addedCells.count) new cell\(addedCells.count == 1 ? "" : "s"), \(removedCells.count) removed, "
        + "\(slower.count) slower, \(faster.count) faster"
        + (hasRegressions ? " — REGRESSED" : " — no regression"))
    return lines.joined(separator: "\n")
  }

  /// The comparison as a standalone HTML page.
  public func html(_ nameA: String, _ nameB: String) -> String {
    func e(_ text: String) -> String { MarkupEscaping.escape(text, attribute: false) }
    var html = """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8"><title>diff \(e(nameA)) → \(e(nameB))</title>
      <style>
      body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
      table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
      .bad{background:#fdd}.good{background:#dfd}.meh{background:#ffd}
      </style></head><body>
      <h1>diff <code>\(e(nameA))</code> → <code>\(e(nameB))</code></h1>
      <p class="\(hasRegressions ? "bad" : "good")">\(hasRegressions ? "Regressed" : "No regression")</p>

      """
    func table(_ title: String, _ css: String, _ header: [String], _ rows: [[String]]) {
      guard !rows.isEmpty else { return }
      html += "<h2>\(e(title)) (\(rows.count))</h2><table><tr>"
      html += header.map { "<th>\(e($0))</th>" }.joined() + "</tr>\n"
      for row in rows {
        html += "<tr class=\"\(css)\">" + row.map { "<td>\(e($0))</td>" }.joined() + "</tr>\n"
      }
      html += "</table>\n"
    }
    let checkHeader = ["cell", "check", "before", "after", "source"]
    func checkRow(_ c: CheckChange) -> [String] {
      [c.cell, c.check, c.before ?? "absent", c.after ?? "absent", c.location ?? ""]
    }
    table("New failures", "bad", checkHeader, newFailures.map(checkRow))
    table("Fixed", "good", checkHeader, fixed.map(checkRow))
    let cellHeader = ["cell", "before", "after"]
    func cellRow(_ c: CellChange) -> [String] { [c.cell, c.before ?? "-", c.after ?? "-"] }
    table("Verdict changes", "meh", cellHeader, verdictChanges.map(cellRow))
    table("New cells", "meh", cellHeader, addedCells.map(cellRow))
    table("Removed cells", "bad", cellHeader, removedCells.map(cellRow))
    table("Flaky changes", "meh", cellHeader, flakyChanges.map(cellRow))
    table("Other check changes", "meh", checkHeader, otherCheckChanges.map(checkRow))
    func timeRow(_ t: TimeChange) -> [String] {
      [t.cell, String(format: "%.2f s", t.beforeSeconds), String(format: "%.2f s", t.afterSeconds), String(format: "×%.2f", t.ratio)]
    }
    table("Slower", "meh", ["cell", "before", "after", "ratio"], slower.map(timeRow))
    table("Faster", "good", ["cell", "before", "after", "ratio"], faster.map(timeRow))
    return html + "</body></html>\n"
  }
}
