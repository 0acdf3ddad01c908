/// KTAP version 1 (and TAP-compatible) results, one document per
/// architecture:
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
/// Cells are top-level tests, sections their subtests and checks the
/// sections' subtests (4 spaces of indentation per level). Diagnostics
/// precede the result line they belong to. Skips are `ok … # SKIP reason`;
/// a SKIP cell has an empty plan (`1..0`). Test names have newlines
/// flattened and `#` and `\` escaped as `\#` and `\\`.
public enum KTAPReport {
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
    let sections = result.verdict == .skipped && result.sections.isEmpty ? [] : result.sections
    lines.append(pad + "1..\(sections.count)")
    for (index, section) in sections.enumerated() {
      lines += sectionLines(section, number: index + 1, cell: cell).map { pad + $0 }
    }
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
    lines += diagnostics.map { pad + "# " + $0 }
    switch result.verdict {
    case .passed: lines.append("ok \(number) \(name(cell.id))")
    case .skipped: lines.append("ok \(number) \(name(cell.id)) # SKIP \(oneLine(result.reason))")
    case .failed, .crashed, .timedOut, .protocolError: lines.append("not ok \(number) \(name(cell.id))")
    }
    return lines
  }

  private static func sectionLines(_ section: GuestSection, number: Int, cell: ReportCell) -> [String] {
    let pad = "    "
    var lines = [pad + "KTAP version 1", pad + "# Subtest: " + name(section.name)]
    lines.append(pad + "1..\(section.checks.count)")
    for (index, check) in section.checks.enumerated() {
      var diagnostics: [String] = []
      if check.outcome == .failed {
        if let reference = cell.sourceReference(of: check) { diagnostics.append(reference) }
        diagnostics += check.diagnostics
      }
      lines += diagnostics.map { pad + "# " + oneLine($0) }
      switch check.outcome {
      case .passed: lines.append(pad + "ok \(index + 1) \(name(check.name))")
      case .failed: lines.append(pad + "not ok \(index + 1) \(name(check.name))")
      case .skipped(let reason):
        lines.append(pad + "ok \(index + 1) \(name(check.name)) # SKIP \(oneLine(reason))")
      }
    }
    let failed = section.checks.contains { $0.outcome == .failed }
    if section.reportedOK == nil { lines.append("# section did not finish") }
    let ok = !failed && section.reportedOK == true
    lines.append("\(ok ? "ok" : "not ok") \(number) \(name(section.name))")
    return lines
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

  /// A test name: one line, with `\` and `#` escaped.
  static func name(_ text: String) -> String {
    let flat = oneLine(text)
    let escaped = flat.replacing("\\", with: "\\\\").replacing("#", with: "\\#")
    return escaped.isEmpty ? "(unnamed)" : escaped
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
