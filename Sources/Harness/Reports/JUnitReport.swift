import Foundation

/// JUnit XML for CI systems (GitLab, Jenkins, GitHub test reporters).
///
/// - `<testsuites>` holds one `<testsuite>` per cell, named by the cell id,
///   with `tests`, `failures`, `errors`, `skipped`, `time` (seconds),
///   `timestamp` (when the cell started: the wall-clock start of its serial
///   timeline, else the run's earliest cell start; ISO 8601 in UTC without a
///   zone designator, as the JUnit schema has it) and `hostname` (the host
///   the report was written on), a
///   `<properties>` block (guest, arch, accel, cpus, memoryMiB, verdict,
///   reason, attempts, flaky, crashLocation when a crash was symbolized,
///   `vcpu.N` for each vCPU's position when a timeout ended the run
///   (`CPU N stuck at file:line in function`), qemuExitCode, command),
///   `<system-out>` with
///   the serial log and `<system-err>` with QEMU's standard error.
/// - Each guest check is a `<testcase>`: `classname` = `guest · arch · accel`,
///   `name` = `test › check`, `file`/`line` = the check's guest source
///   location mapped through the cell's `sourcePaths`, `time` = the check's
///   duration by the guest clock (from the previous check, or the test's
///   start, to the check: `t` and `dt` of the trailers) when the guest gave
///   times, else the seconds from the previous KTAP result line to the
///   check's own by their arrival times (`SerialTimeline.checkDurations`; 0
///   when the log has no arrival times, e.g. a report built from a log
///   alone). A failed check has a `<failure>` whose body is `file:line` and
///   the diagnostics; a skipped one `<skipped message="reason"/>`, an XFAIL
///   one `<skipped message="XFAIL: reason"/>`.
/// - A test (section) gets a `<testcase name="test">` of its own when it
///   has an outcome beside its checks: skipped before it ran (`<skipped>`),
///   or failed without a failed check (`<failure>`: `test NAME made no
///   check`, `unexpected pass (XPASS): NAME — reason`); `time` is its guest
///   duration (`dt`). Properties `xfailed` (count) and `xpassed` (tests)
///   name the cell's XFAIL checks and XPASS tests.
/// - A cell that ended badly gets one more testcase, `(guest verdict)`:
///   CRASH/TIMEOUT/PROTOCOL-ERROR as an `<error type="…">` with the crash
///   record, protocol errors and the tail of the serial log in the body; a
///   FAIL without any failed check as a `<failure type="FAIL">`; SKIP (e.g.
///   KVM unavailable) as `<skipped>`. A FAIL whose failure is a test's own
///   testcase gets none.
/// - A flaky cell carries `flaky=true` and a note at the top of its
///   `<system-out>`.
public enum JUnitReport {
  /// Lines of serial log quoted in a verdict testcase.
  static let logTailLines = 40

  /// The JUnit XML document for `cells`; `hostname` goes into every suite.
  public static func render(_ cells: [ReportCell], hostname: String = ReportText.hostname) -> String {
    render(cells, layout: ReportLayout(cells), hostname: hostname)
  }

  static func render(
    _ cells: [ReportCell], layout: ReportLayout, hostname: String = ReportText.hostname
  ) -> String {
    let runStart = cells.compactMap(\.result.timeline.startedAt).min() ?? Date()
    let suites = cells.map {
      suite(for: $0, layout: layout, hostname: hostname, started: $0.result.timeline.startedAt ?? runStart)
    }
    let totals = suites.reduce(into: Counts()) { $0.add($1.counts) }
    let time = cells.reduce(0) { $0 + $1.durationSeconds }
    var xml = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
    xml += "<testsuites"
    xml += attributes([
      ("name", "swift-guest-harness"), ("tests", "\(totals.tests)"),
      ("failures", "\(totals.failures)"), ("errors", "\(totals.errors)"),
      ("skipped", "\(totals.skipped)"), ("time", ReportText.junitSeconds(time)),
    ])
    xml += ">\n"
    for suite in suites { xml += suite.xml }
    xml += "</testsuites>\n"
    return xml
  }

  /// Test counts of a suite.
  struct Counts {
    var tests = 0
    var failures = 0
    var errors = 0
    var skipped = 0

    mutating func add(_ other: Counts) {
      tests += other.tests
      failures += other.failures
      errors += other.errors
      skipped += other.skipped
    }
  }

  private static func suite(
    for cell: ReportCell, layout: ReportLayout, hostname: String, started: Date
  ) -> (xml: String, counts: Counts) {
    let result = cell.result
    var counts = Counts()
    var cases = ""
    var durations = result.timeline.checkDurations(result.serialLog)
    if durations.count != result.checks.count {
      // The log does not hold these checks (a result not parsed from it).
      durations = Array(repeating: nil, count: result.checks.count)
    }

    var checkIndex = 0
    for (sectionIndex, section) in cell.reportedSections.enumerated() {
      let guestDurations = section.checkDurations
      for (position, check) in section.checks.enumerated() {
        let arrival = checkIndex < durations.count ? durations[checkIndex] : nil
        checkIndex += 1
        counts.tests += 1
        var attrs: [(String, String)] = [
          ("classname", cell.className), ("name", "\(check.section) › \(check.name)"),
        ]
        if let location = check.location {
          attrs += [("file", cell.sourcePath(of: location)), ("line", "\(location.line)")]
        }
        // The guest clock where the guest gave times, else arrival times.
        let seconds = guestDurations[position].map { Double($0) / 1e9 } ?? arrival?.reportSeconds ?? 0
        attrs.append(("time", ReportText.junitSeconds(seconds)))
        switch check.outcome {
        case .passed:
          cases += "    <testcase\(attributes(attrs))/>\n"
        case .failed:
          counts.failures += 1
          let reference = cell.sourceReference(of: check)
          let message = check.diagnostics.first.map { "\(check.name): \($0)" } ?? "\(check.name) failed"
          let body = ([reference ?? "(no source location)"] + check.diagnostics).joined(separator: "\n")
          cases += "    <testcase\(attributes(attrs))>\n"
          cases += "      <failure\(attributes([("message", message), ("type", "CheckFailed")]))>"
          cases += MarkupEscaping.escape(body) + "</failure>\n"
          cases += "    </testcase>\n"
        case .skipped(let reason):
          counts.skipped += 1
          cases += "    <testcase\(attributes(attrs))>\n"
          cases += "      <skipped\(attributes([("message", reason)]))/>\n"
          cases += "    </testcase>\n"
        case .xfailed(let reason):
          counts.skipped += 1
          cases += "    <testcase\(attributes(attrs))>\n"
          cases += "      <skipped\(attributes([("message", "XFAIL: " + reason)]))/>\n"
          cases += "    </testcase>\n"
        }
      }
      cases += testLevelCase(section, index: sectionIndex, cell: cell, counts: &counts)
    }

    let verdictAttributes = attributes([
      ("classname", cell.className), ("name", "(guest verdict)"),
      ("time", ReportText.junitSeconds(cell.durationSeconds)),
    ])
    switch result.verdict {
    case .crashed, .timedOut, .protocolError:
      counts.tests += 1
      counts.errors += 1
      cases += "    <testcase\(verdictAttributes)>\n"
      cases += "      <error\(attributes([("type", result.verdict.rawValue), ("message", result.reason)]))>"
      cases += MarkupEscaping.escape(verdictBody(cell)) + "</error>\n"
      cases += "    </testcase>\n"
    case .failed where result.failedChecks.isEmpty && !cell.hasTestLevelFailure:
      counts.tests += 1
      counts.failures += 1
      cases += "    <testcase\(verdictAttributes)>\n"
      cases += "      <failure\(attributes([("type", result.verdict.rawValue), ("message", result.reason)]))>"
      cases += MarkupEscaping.escape(verdictBody(cell)) + "</failure>\n"
      cases += "    </testcase>\n"
    case .skipped:
      counts.tests += 1
      counts.skipped += 1
      cases += "    <testcase\(verdictAttributes)>\n"
      cases += "      <skipped\(attributes([("message", result.reason)]))/>\n"
      cases += "    </testcase>\n"
    case .passed, .failed:
      break
    }

    var properties: [(String, String)] = [
      ("guest", result.guest), ("arch", result.architecture.rawValue),
      ("accel", result.accelerator.rawValue), ("cpus", "\(cell.cpus)"),
      ("memoryMiB", "\(cell.memoryMiB)"), ("verdict", result.verdict.rawValue),
      ("reason", result.reason), ("attempts", "\(cell.attempts)"),
      ("flaky", cell.flaky ? "true" : "false"),
    ] + xfailProperties(cell) + (result.crash?.location.map { [("crashLocation", $0.description)] } ?? [])
      + result.vcpuPositions.map { ("vcpu.\($0.cpu)", $0.summary) } + [
      ("qemuExitCode", result.qemuExitCode.map(String.init) ?? "signal"),
      ("command", ReportText.shellLine(ReportText.reproducer(result.command))),
      ("log", layout.logPath(of: cell)),
    ]
    if let metadata = cell.metadata {
      // The run's host and commit, and this cell's QEMU.
      properties += metadata.properties.filter { name, _ in
        !name.hasPrefix("qemu.")
          || name == "qemu.\(result.architecture.rawValue)"
            + (cell.qemuBuild == LaunchSettings.systemQemu ? "" : ".\(cell.qemuBuild)")
      }
    }

    var xml = "  <testsuite"
    xml += attributes([
      ("name", cell.id), ("tests", "\(counts.tests)"), ("failures", "\(counts.failures)"),
      ("errors", "\(counts.errors)"), ("skipped", "\(counts.skipped)"),
      ("time", ReportText.junitSeconds(cell.durationSeconds)),
      ("timestamp", ReportText.junitTimestamp(started)), ("hostname", hostname),
    ])
    xml += ">\n    <properties>\n"
    for (name, value) in properties {
      xml += "      <property\(attributes([("name", name), ("value", value)]))/>\n"
    }
    xml += "    </properties>\n"
    xml += cases
    var out = ""
    if cell.flaky {
      out += "FLAKY: \(cell.id) failed, then passed on a retry (\(cell.attempts) attempts).\n"
      out += "----\n"
    }
    out += ReportText.bounded(result.serialLog, maxBytes: systemOutBytes)
    xml += "    <system-out>" + MarkupEscaping.cdata(out) + "</system-out>\n"
    if !result.qemuStderr.isEmpty {
      xml += "    <system-err>" + MarkupEscaping.cdata(result.qemuStderr) + "</system-err>\n"
    }
    xml += "  </testsuite>\n"
    return (xml, counts)
  }

  /// The testcase of a test that carries an outcome of its own, beside its
  /// checks: a test skipped before it ran (`<skipped>`), or one that fails
  /// without a failed check (`<failure>`: it made no check, a failing
  /// XPASS). Empty for other tests.
  private static func testLevelCase(
    _ section: GuestSection, index: Int, cell: ReportCell, counts: inout Counts
  ) -> String {
    var attrs: [(String, String)] = [("classname", cell.className), ("name", section.name)]
    if let location = section.location {
      attrs += [("file", cell.sourcePath(of: location)), ("line", "\(location.line)")]
    }
    attrs.append(("time", ReportText.junitSeconds(section.duration.map { Double($0) / 1e9 } ?? 0)))
    if section.skippedBeforeRun && section.reportedOK != nil {
      counts.tests += 1
      counts.skipped += 1
      return "    <testcase\(attributes(attrs))>\n"
        + "      <skipped\(attributes([("message", section.reason ?? "")]))/>\n"
        + "    </testcase>\n"
    }
    guard cell.failsAtTestLevel(index) else { return "" }
    counts.tests += 1
    counts.failures += 1
    let message = section.ownFailure(xpassAllowed: true) ?? "test \(section.name) failed"
    let type = section.status == .xpassed ? "XPASS" : "TestFailed"
    let body = ([cell.sourceReference(of: section) ?? "(no source location)"] + section.diagnostics)
      .joined(separator: "\n")
    return "    <testcase\(attributes(attrs))>\n"
      + "      <failure\(attributes([("message", message), ("type", type)]))>"
      + MarkupEscaping.escape(body) + "</failure>\n"
      + "    </testcase>\n"
  }

  /// Properties naming the cell's XFAIL checks and XPASS tests, when it
  /// has any (an XPASS the matrix allows is no failure, but stays visible).
  private static func xfailProperties(_ cell: ReportCell) -> [(String, String)] {
    let counts = CheckCounts(sections: cell.result.sections)
    var properties: [(String, String)] = []
    if counts.xfailed > 0 { properties.append(("xfailed", "\(counts.xfailed)")) }
    let xpassed = cell.result.sections.filter { $0.status == .xpassed }
    if !xpassed.isEmpty {
      properties.append(
        ("xpassed", xpassed.map { "\($0.name)" + ($0.reason.map { " — \($0)" } ?? "") }.joined(separator: "; ")))
    }
    return properties
  }

  /// Most serial-log bytes embedded in a suite's `<system-out>` (head and
  /// tail; the whole log is in logs/).
  static let systemOutBytes = 64 << 10

  /// Body of the verdict testcase: reason, crash record, protocol errors,
  /// QEMU's stderr and the end of the serial log.
  private static func verdictBody(_ cell: ReportCell) -> String {
    let result = cell.result
    var parts: [String] = ["\(result.verdict): \(result.reason)"]
    if let crash = result.crash, !crash.lines.isEmpty {
      parts.append("Crash record:\n" + crash.lines.joined(separator: "\n"))
      if !crash.frames.isEmpty {
        parts.append(
          "Crash location (innermost first):\n"
            + crash.frames.map { "  \($0.function) at \($0.sourceReference)" }.joined(separator: "\n"))
      }
    }
    if !result.vcpuPositions.isEmpty {
      parts.append(
        "vCPUs when the harness gave up:\n"
          + result.vcpuPositions.map { "  " + $0.detailLine }.joined(separator: "\n"))
    }
    if !result.protocolErrors.isEmpty {
      parts.append("Protocol errors:\n" + result.protocolErrors.joined(separator: "\n"))
    }
    let stderr = ReportText.tail(result.qemuStderr, lines: 10)
    if !stderr.isEmpty { parts.append("QEMU stderr:\n" + stderr) }
    let tail = ReportText.tail(result.serialLog, lines: logTailLines)
    if !tail.isEmpty { parts.append("Serial log (last \(logTailLines) lines):\n" + tail) }
    return parts.joined(separator: "\n\n")
  }

  /// ` name="value"…` with values escaped.
  static func attributes(_ pairs: [(String, String)]) -> String {
    pairs.map { " \($0.0)=\"\(MarkupEscaping.escape($0.1, attribute: true))\"" }.joined()
  }
}

extension ReportText {
  /// `date` as the JUnit schema's timestamp: ISO 8601, UTC, to the second,
  /// without a zone designator (`2026-12-01T21:41:39`).
  static func junitTimestamp(_ date: Date) -> String {
    utcTimestamp(date, zoneDesignator: false)
  }

  /// `date` in ISO 8601, UTC, to the second (as Foundation's formatter
  /// does: rounded to the millisecond, then truncated): `2026-12-01T21:41:39Z`,
  /// or without the `Z`. Made with `gmtime_r`: `ISO8601DateFormatter` builds
  /// an ICU formatter (about 1 ms) every time.
  public static func utcTimestamp(_ date: Date, zoneDesignator: Bool = true) -> String {
    let milliseconds = (date.timeIntervalSinceReferenceDate * 1000).rounded()
    var seconds = time_t((milliseconds / 1000).rounded(.down)) + 978_307_200
    var parts = tm()
    guard gmtime_r(&seconds, &parts) != nil else { return "1970-01-01T00:00:00" + (zoneDesignator ? "Z" : "") }
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    var year = String(parts.tm_year + 1900)
    if year.count < 4 { year = String(repeating: "0", count: 4 - year.count) + year }
    return "\(year)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
      + (zoneDesignator ? "Z" : "")
  }

  /// This host's name (`gethostname`), or `localhost` when it has none.
  public static var hostname: String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
    let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return name.isEmpty ? "localhost" : name
  }
}
