/// KTAP version 1 (and TAP-compatible) results, one document per
/// architecture, written so that Linux's kunit_parser reads them with the
/// counts of the JUnit report (passed, failed = failures, skipped, crashed =
/// errors):
///
/// ```
/// KTAP version 1
/// # swift-guest-harness results: x86_64 (2 cells)
/// 1..2
///     KTAP version 1
///     # Subtest: selftest.x86_64.tcg.smp1.mem256M
///     # guest=selftest arch=x86_64 accel=tcg cpus=1 memoryMiB=256 attempts=1
///     1..1
///         KTAP version 1
///         # Subtest: memory
///         1..2
///         ok 1 page allocator
///         # Guest/Memory.swift:42
///         # expected: 4096
///         not ok 2 heap grows
///     not ok 1 memory
///     # verdict: FAIL: 1 check failed
/// not ok 1 selftest.x86_64.tcg.smp1.mem256M
/// ```
///
/// Cells are top-level tests, sections (the guest's registered tests) their
/// subtests and checks the sections' subtests (4 spaces of indentation per
/// level), every level with its plan. Diagnostics precede the result line
/// they belong to. Skips are `ok … # SKIP reason` (a test skipped before it
/// ran: that line alone, no subtest); XFAIL checks and tests are `ok … #
/// XFAIL reason`, XPASS tests `ok … # XPASS reason` or, when they failed the
/// cell, `not ok … # XPASS reason` (kunit_parser treats only SKIP specially:
/// it counts an XFAIL as passed and a failing XPASS as failed, where JUnit
/// has a skipped and a failed testcase); a SKIP cell without sections has an empty plan
/// (`1..0`), one with sections (an interrupted run) ends with an
/// `ok N (guest verdict) # SKIP reason` entry. What JUnit reports as the
/// `(guest verdict)` error of a CRASH, TIMEOUT or PROTOCOL-ERROR cell is one
/// crash marker, the construct the guest writer uses after a crash
/// (`closeSectionAfterCrash` in guests/lib/Report/GuestTest.swift): a
/// subtest whose plan announces one result that never comes, so that
/// kunit_parser counts one crashed test. It goes into the cell's first
/// section that did not finish cleanly (unfinished, or `not ok` without a
/// failed check), else it is the cell's last entry. Test names follow the
/// protocol's name rule (`KTAPName`: `#` written as `＃`) and are on one
/// line.
public enum KTAPReport {
  /// The name of the crash marker inside a section.
  static let sectionCrashName = "(crashed)"
  /// The name of the cell-level verdict entry (as in JUnit).
  static let verdictName = "(guest verdict)"

  /// The KTAP document for `cells` (normally all of one architecture).
  public static func render(_ cells: [ReportCell], architecture: Architecture? = nil) -> String {
    var lines = ["KTAP version 1"]
    let scope = architecture.map { "\($0)" } ?? "all architectures"
    lines.append("# swift-guest-harness results: \(scope) (\(cells.count) cell\(cells.count == 1 ? "" : "s"))")
    lines.append("1..\(cells.count)")
    for (index, cell) in cells.enumerated() {
      lines += cellLines(cell, number: index + 1)
    }
    return lines.joined(separator: "\n") + "\n"
  }

  private static func cellLines(_ cell: ReportCell, number: Int) -> [String] {
    let result = cell.result
    let pad = "    "
    var lines = [pad + "KTAP version 1", pad + "# Subtest: " + name(cell.id)]
    lines.append(
      pad + "# guest=\(oneLine(result.guest)) arch=\(result.architecture) accel=\(result.accelerator)"
        + " cpus=\(cell.cpus) memoryMiB=\(cell.memoryMiB) attempts=\(cell.attempts)"
        + " duration=\(ReportText.junitSeconds(cell.durationSeconds))s")
    let sections = cell.reportedSections
    // The one section that carries the cell's crash marker, if any does.
    let markedSection = cell.crashMarkedSection
    var entries: [[String]] = []
    for (index, section) in sections.enumerated() {
      entries.append(
        sectionLines(
          section, number: index + 1, cell: cell, crashMarker: index == markedSection,
          skipped: result.verdict == .skipped))
    }
    if cell.errored && markedSection == nil {
      entries.append(crashMarker(verdictName, number: entries.count + 1))
    } else if result.verdict == .skipped && !sections.isEmpty {
      entries.append(["ok \(entries.count + 1) \(verdictName) # SKIP \(oneLine(result.reason))"])
    }
    lines.append(pad + "1..\(entries.count)")
    lines += entries.flatMap { $0 }.map { pad + $0 }
    var diagnostics: [String] = []
    if result.verdict != .passed || !result.reason.isEmpty {
      diagnostics.append("verdict: \(result.verdict): \(oneLine(result.reason))")
    }
    if cell.flaky {
      diagnostics.append("FLAKY: failed, then passed on a retry (\(cell.attempts) attempts)")
    }
    if let crash = result.crash {
      diagnostics += crash.lines.map(diagnosticText)
      if let location = crash.location { diagnostics.append("crash location: " + oneLine(location.description)) }
    }
    diagnostics += result.protocolErrors.map { "protocol error: " + oneLine($0) }
    lines += diagnostics.map { pad + "# " + diagnosticBody($0) }
    switch result.verdict {
    case .passed: lines.append("ok \(number) \(name(cell.id))")
    case .skipped: lines.append("ok \(number) \(name(cell.id)) # SKIP \(oneLine(result.reason))")
    case .failed, .crashed, .timedOut, .protocolError: lines.append("not ok \(number) \(name(cell.id))")
    }
    return lines
  }

  /// A section with its plan and checks. `crashMarker` puts the cell's
  /// crash marker after the checks; an unfinished section of a SKIP
  /// (interrupted) cell is closed as skipped. A test skipped before it ran
  /// is its result line alone (`ok N name # SKIP reason`); XFAIL and XPASS
  /// tests keep their directive (`ok N name # XFAIL reason`, `[not ]ok N
  /// name # XPASS reason`), XFAIL checks theirs.
  private static func sectionLines(
    _ section: GuestSection, number: Int, cell: ReportCell, crashMarker marked: Bool, skipped: Bool
  ) -> [String] {
    let pad = "    "
    if section.skippedBeforeRun && section.reportedOK != nil && !marked {
      return section.diagnostics.map { "# " + diagnosticBody(oneLine($0)) }
        + ["ok \(number) \(name(section.name)) # SKIP \(oneLine(section.reason ?? ""))"]
    }
    var lines = [pad + "KTAP version 1", pad + "# Subtest: " + name(section.name)]
    lines.append(pad + "1..\(section.checks.count + (marked ? 1 : 0))")
    for (index, check) in section.checks.enumerated() {
      var diagnostics: [String] = []
      if check.outcome == .failed {
        if let reference = cell.sourceReference(of: check) { diagnostics.append(reference) }
        diagnostics += check.diagnostics
      }
      lines += diagnostics.map { pad + "# " + diagnosticBody(oneLine($0)) }
      switch check.outcome {
      case .passed: lines.append(pad + "ok \(index + 1) \(name(check.name))")
      case .failed: lines.append(pad + "not ok \(index + 1) \(name(check.name))")
      case .skipped(let reason):
        lines.append(pad + "ok \(index + 1) \(name(check.name)) # SKIP \(oneLine(reason))")
      case .xfailed(let reason):
        lines.append(pad + "ok \(index + 1) \(name(check.name)) # XFAIL \(oneLine(reason))")
      }
    }
    if marked {
      lines += crashMarker(sectionCrashName, number: section.checks.count + 1).map { pad + $0 }
    }
    let failed = section.checks.contains { $0.outcome == .failed }
    lines += section.diagnostics.map { pad + "# " + diagnosticBody(oneLine($0)) }
    if section.reportedOK == nil { lines.append(pad + "# section did not finish") }
    if section.reportedOK == nil && skipped && !failed {
      lines.append("ok \(number) \(name(section.name)) # SKIP did not finish (run interrupted)")
      return lines
    }
    let ok = !failed && section.reportedOK == true
    var line = "\(ok ? "ok" : "not ok") \(number) \(name(section.name))"
    if !marked {
      switch section.status {
      case .skipped: line += " # SKIP \(oneLine(section.reason ?? ""))"
      case .xfailed: line += " # XFAIL \(oneLine(section.reason ?? ""))"
      case .xpassed: line += " # XPASS \(oneLine(section.reason ?? ""))"
      case .passed, .failed, nil: break
      }
    }
    lines.append(line)
    return lines
  }

  /// A subtest that plans one result and has none, closed `not ok`: what
  /// kunit_parser counts as one crashed test.
  static func crashMarker(_ markerName: String, number: Int) -> [String] {
    [
      "    KTAP version 1", "    # Subtest: " + name(markerName), "    1..1",
      "not ok \(number) \(name(markerName))",
    ]
  }

  /// A diagnostic's text as it follows `# `: one that would read as a
  /// subtest header (`Subtest:`) is prefixed, so it stays a diagnostic.
  static func diagnosticBody(_ text: String) -> String {
    text.hasPrefix("Subtest:") ? "diagnostic: " + text : text
  }

  /// A printed diagnostic line without its own leading `#` (the writer
  /// adds one), on one line.
  static func diagnosticText(_ line: String) -> String {
    var text = Substring(oneLine(line))
    while text.first == " " { text.removeFirst() }
    if text.first == "#" {
      text.removeFirst()
      while text.first == " " { text.removeFirst() }
    }
    return String(text)
  }

  /// A test name: one line, by the protocol's name rule (`KTAPName`), no
  /// leading or trailing spaces.
  static func name(_ text: String) -> String {
    var flat = Substring(oneLine(text))
    while flat.first == " " { flat.removeFirst() }
    while flat.last == " " { flat.removeLast() }
    return flat.isEmpty ? "(unnamed)" : KTAPName.encode(String(flat))
  }

  /// `text` on one line (line breaks become spaces; other controls dropped).
  static func oneLine(_ text: String) -> String {
    var scalars = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
      if scalar == "\n" || scalar == "\r" || scalar == "\t" {
        scalars.append(" ")
      } else if MarkupEscaping.isAllowedInXML(scalar) && scalar.value != 0x7F {
        scalars.append(scalar)
      }
    }
    return String(scalars)
  }
}
