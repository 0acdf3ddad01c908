import Foundation

/// The human report, `index.html`: one self-contained page (inline CSS, no
/// scripts, no external assets).
///
/// - A header with the headline (all passed / N of M failed), totals per
///   outcome, a stacked bar of the outcomes and the total guest time.
/// - The matrix as a grid: a row per guest, a column per
///   architecture/accelerator/CPUs/memory combination present. Every cell
///   is `<td class="cell verdict-<status>" data-cell-id="<id>">` with the
///   verdict, check counts, time and a timing bar (width relative to the
///   slowest cell), linking to `#cell-<id>`. Combinations a guest did not
///   run are `<td class="cell empty">`.
/// - A detail `<section id="cell-<id>">` per cell, problem cells first:
///   reason, failed checks with guest `file:line` and diagnostics, crash
///   record, protocol errors, all checks, QEMU command line, the end of the
///   serial log and `<a class="log-link" href="logs/<id>.log">`.
///
/// `<id>` in anchors and log names is the id made file-name safe (the id
/// itself for ids of `A-Z a-z 0-9 . _ -`).
public enum HTMLReport {
  /// Serial log lines shown inline for cells that did not pass.
  static let logTailLines = 30

  /// The page for `cells`.
  public static func render(_ cells: [ReportCell]) -> String {
    render(cells, layout: ReportLayout(cells))
  }

  static func render(
    _ cells: [ReportCell], layout: ReportLayout, baseline: BaselineReport? = nil
  ) -> String {
    var html = """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <meta name="generator" content="swift-guest-harness">
      <title>\(e(title(cells)))</title>
      <style>
      \(stylesheet)
      </style>
      </head>
      <body>

      """
    html += header(cells)
    html += "<main>\n"
    html += matrix(cells, layout: layout, baseline: baseline)
    html += baselineSection(baseline)
    html += divergences(cells)
    html += details(cells, layout: layout)
    html += "</main>\n"
    html += "<footer>swift-guest-harness · results schema \(e(JSONReport.schema)) · "
    html += "<a href=\"results.json\">results.json</a> · <a href=\"junit.xml\">junit.xml</a></footer>\n"
    html += "</body>\n</html>\n"
    return html
  }

  // MARK: - Baseline

  /// New, known and fixed failures against the baseline.
  static func baselineSection(_ report: BaselineReport?) -> String {
    guard let report,
      !(report.known.isEmpty && report.new.isEmpty && report.fixed.isEmpty && report.knownDivergences.isEmpty)
    else {
      return ""
    }
    var html = "<section class=\"baseline\">\n<h2>Known failures</h2>\n"
    html += "<p>Baseline <code>\(e(report.path))</code>: \(report.new.count) new, "
    html += "\(report.known.count) known, \(report.fixed.count) fixed.</p>\n"
    html += "<table><tr><th></th><th>cell</th><th>check</th><th>reason</th></tr>\n"
    for failure in report.new {
      html += "<tr class=\"new-failure\"><td>NEW</td><td><code>\(e(failure.cell))</code></td><td>\(e(failure.check))</td><td></td></tr>\n"
    }
    for failure in report.known {
      let reason = failure.entry.map { entry in
        e(entry.reason) + (entry.link.map { " <a href=\"\(e($0))\">link</a>" } ?? "")
      } ?? ""
      html += "<tr class=\"known-failure\"><td>known</td><td><code>\(e(failure.cell))</code></td><td>\(e(failure.check))</td><td>\(reason)</td></tr>\n"
    }
    for divergence in report.knownDivergences {
      html += "<tr class=\"known-divergence\"><td>known</td><td><code>\(e(divergence.cell))</code></td><td>\(e(divergence.check))</td><td>\(e(divergence.entry?.reason ?? ""))</td></tr>\n"
    }
    for entry in report.fixed {
      html += "<tr class=\"fixed\"><td>FIXED</td><td><code>\(e(entry.cell))</code></td><td>\(e(entry.check))</td><td>no longer fails: \(e(entry.reason))</td></tr>\n"
    }
    return html + "</table>\n</section>\n"
  }

  // MARK: - Divergences

  /// The checks whose outcome differs between TCG and KVM cells of the same
  /// guest (nothing when there are none).
  static func divergences(_ cells: [ReportCell]) -> String {
    let found = Divergence.find(in: ResultsDocument(cells))
    guard !found.isEmpty else { return "" }
    var html = "<section class=\"divergences\">\n<h2>Divergences (\(found.count))</h2>\n"
    html += "<p>Same guest, same axes, different accelerator or QEMU build, different outcome.</p>\n"
    html += "<table><tr><th>cells</th><th>check</th><th>outcomes</th></tr>\n"
    for divergence in found {
      let outcomes = divergence.outcomes.sorted { $0.key < $1.key }
        .map { "<code>\(e($0.key))</code>: \(e($0.value))" }.joined(separator: "<br>")
      html += "<tr><td><code>\(e(divergence.cells))</code></td><td>\(e(divergence.check))</td><td>\(outcomes)</td></tr>\n"
    }
    return html + "</table>\n</section>\n"
  }

  // MARK: - Header

  private static func failedCount(_ cells: [ReportCell]) -> Int {
    cells.filter { $0.result.verdict.isFailure }.count
  }

  private static func title(_ cells: [ReportCell]) -> String {
    let failed = failedCount(cells)
    return failed == 0
      ? "Guest tests: all \(cells.count) cells passed"
      : "Guest tests: \(failed) of \(cells.count) cells failed"
  }

  private static func header(_ cells: [ReportCell]) -> String {
    let failed = failedCount(cells)
    let counts = Dictionary(grouping: cells, by: \.status).mapValues(\.count)
    let totalTime = cells.reduce(0) { $0 + $1.durationSeconds }
    let checks = CheckCounts(sections: cells.flatMap(\.result.sections))
    let architectures = ReportLayout(cells).architectures.map(\.rawValue).joined(separator: ", ")

    var html = "<header class=\"summary \(failed == 0 ? "summary-ok" : "summary-failed")\">\n"
    html += "<div class=\"headline\">\n<h1>\(failed == 0 ? "All \(cells.count) cells passed" : "\(failed) of \(cells.count) cells failed")</h1>\n"
    html += "<p class=\"subtitle\">Swift bare-metal guest tests · \(cells.count) cell\(cells.count == 1 ? "" : "s")"
    if !architectures.isEmpty { html += " on \(e(architectures))" }
    html += " · \(checks.total) checks (\(checks.summary))</p>\n"
    if let metadata = cells.first?.metadata {
      html += "<dl class=\"metadata\">"
      for (name, value) in metadata.properties {
        html += "<dt>\(e(name))</dt><dd>\(e(value))</dd>"
      }
      html += "</dl>\n"
    }
    html += "</div>\n"

    html += "<ul class=\"totals\">\n"
    for status in CellStatus.allCases {
      let n = counts[status] ?? 0
      html += "<li class=\"total total-\(status.rawValue)\(n == 0 ? " zero" : "")\"><span class=\"n\">\(n)</span> \(status.totalsLabel)</li>\n"
    }
    html += "<li class=\"total total-time\" title=\"sum of the cells' wall times\"><span class=\"n\">\(e(ReportText.humanDuration(totalTime)))</span> total guest time</li>\n"
    html += "</ul>\n"

    if !cells.isEmpty {
      html += "<div class=\"distribution\" role=\"img\" aria-label=\"cells by outcome\">"
      for status in CellStatus.allCases {
        guard let n = counts[status], n > 0 else { continue }
        let width = Double(n) / Double(cells.count) * 100
        html += "<span class=\"segment segment-\(status.rawValue)\" style=\"width: \(percent(width))\" title=\"\(n) \(status.totalsLabel)\"></span>"
      }
      html += "</div>\n"
    }
    html += "</header>\n"
    return html
  }

  // MARK: - Matrix

  /// A column of an architecture's table: an accelerator, with the QEMU
  /// build when the run used more than one.
  private struct Column: Hashable, Comparable {
    var accelerator: Accelerator
    var qemuBuild: String

    private var order: (Int, Int, String) {
      (
        Accelerator.allCases.firstIndex(of: accelerator) ?? 0,
        qemuBuild == LaunchSettings.systemQemu ? 0 : 1, qemuBuild
      )
    }

    static func < (a: Column, b: Column) -> Bool { a.order < b.order }

    func label(showingBuild: Bool) -> String {
      showingBuild ? "\(accelerator) · qemu \(qemuBuild)" : accelerator.rawValue
    }
  }

  /// The matrix as one table per architecture (so both fit a 1400 px page
  /// without scrolling sideways): rows are guests, columns accelerators
  /// (and QEMU builds), and each box holds that guest's cells there — one
  /// chip per smp/memory/CPU-model combination — with known/new failure and
  /// divergence markers.
  private static func matrix(
    _ cells: [ReportCell], layout: ReportLayout, baseline: BaselineReport?
  ) -> String {
    var html = "<section class=\"matrix-section\">\n<h2>Matrix</h2>\n"
    guard !cells.isEmpty else {
      return html + "<p class=\"empty-note\">No cells were run.</p>\n</section>\n"
    }
    let slowest = cells.map(\.durationSeconds).max() ?? 0
    let divergent = Set(
      Divergence.find(in: ResultsDocument(cells)).flatMap { $0.outcomes.keys })
    let showBuild = Set(cells.map(\.qemuBuild)).count > 1
    html += "<div class=\"matrices\">\n"
    for architecture in Architecture.allCases {
      let here = cells.filter { $0.result.architecture == architecture }
      guard !here.isEmpty else { continue }
      var guests: [String] = []
      for cell in here where !guests.contains(cell.result.guest) { guests.append(cell.result.guest) }
      let columns = Set(here.map { Column(accelerator: $0.result.accelerator, qemuBuild: $0.qemuBuild) })
        .sorted()
      html += "<table class=\"matrix\" data-arch=\"\(architecture)\">\n<caption>\(architecture)</caption>\n"
      html += "<thead><tr><th class=\"corner\">Guest</th>"
      for column in columns { html += "<th class=\"group\">\(e(column.label(showingBuild: showBuild)))</th>" }
      html += "</tr></thead>\n<tbody>\n"
      for guest in guests {
        html += "<tr><th scope=\"row\" class=\"guest\">\(e(guest))</th>"
        for column in columns {
          let chips = here.filter {
            $0.result.guest == guest && $0.result.accelerator == column.accelerator
              && $0.qemuBuild == column.qemuBuild
          }
          guard !chips.isEmpty else {
            html += "<td class=\"box\"><div class=\"cell empty\" title=\"not run\"></div></td>"
            continue
          }
          html += "<td class=\"box\">"
          for cell in chips {
            html += gridCell(
              cell, layout: layout, slowest: slowest, markers: markers(cell, baseline, divergent))
          }
          html += "</td>"
        }
        html += "</tr>\n"
      }
      html += "</tbody>\n</table>\n"
    }
    html += "</div>\n<ul class=\"legend\">"
    for status in CellStatus.allCases {
      html += "<li><span class=\"swatch swatch-\(status.rawValue)\"></span>\(status.label.lowercased())</li>"
    }
    html += "<li><span class=\"swatch swatch-empty\"></span>not run</li>"
    html += "<li><span class=\"marker marker-new\">new</span> failure not in the baseline</li>"
    html += "<li><span class=\"marker marker-known\">known</span> failure in the baseline</li>"
    html += "<li><span class=\"marker marker-divergent\">diverges</span> differs from the same cell under another accelerator or QEMU</li>"
    html += "<li class=\"legend-timing\"><span class=\"legend-bar\"></span>time, relative to the slowest cell (\(e(ReportText.humanDuration(slowest))))</li></ul>\n"
    html += "</section>\n"
    return html
  }

  /// The markers of a cell: new/known failures against the baseline, and
  /// whether it diverges from its twin under another accelerator or build.
  private static func markers(_ cell: ReportCell, _ baseline: BaselineReport?, _ divergent: Set<String>)
    -> [String]
  {
    var result: [String] = []
    if let baseline {
      if baseline.new.contains(where: { $0.cell == cell.id }) { result.append("new") }
      if baseline.known.contains(where: { $0.cell == cell.id }) { result.append("known") }
    }
    if divergent.contains(cell.id) { result.append("divergent") }
    return result
  }

  private static func gridCell(
    _ cell: ReportCell, layout: ReportLayout, slowest: Double, markers: [String] = []
  ) -> String {
    let status = cell.status
    let counts = CheckCounts(sections: cell.result.sections)
    var summary: String
    if counts.total == 0 {
      summary = "no checks"
    } else if counts.failed > 0 {
      summary = "\(counts.failed) of \(counts.total) failed"
    } else {
      summary = "\(counts.passed)/\(counts.total) passed"
    }
    if counts.skipped > 0 && counts.total > 0 { summary += " · \(counts.skipped) skipped" }
    let width = slowest > 0 ? max(cell.durationSeconds / slowest * 100, cell.durationSeconds > 0 ? 1 : 0) : 0
    let tooltip = "\(cell.id): \(cell.result.verdict)" + (cell.result.reason.isEmpty ? "" : " — \(cell.result.reason)")

    var combination = "smp \(cell.cpus) · \(ReportText.mebibytes(cell.memoryMiB))"
    if let model = cell.cpuModel { combination += " · \(model)" }
    if let machine = cell.machine { combination += " · \(machine)" }
    var html = "<div class=\"cell verdict-\(status.rawValue)\" data-cell-id=\"\(e(cell.id))\" title=\"\(e(tooltip))\">"
    html += "<a href=\"#\(e(layout.anchor(of: cell)))\">"
    html += "<span class=\"verdict\">\(status.label)</span>"
    for marker in markers {
      let text = marker == "divergent" ? "diverges" : marker
      html += "<span class=\"marker marker-\(marker)\">\(text)</span>"
    }
    html += "<span class=\"combo\">\(e(combination))</span>"
    if cell.attempts > 1 { html += "<span class=\"attempts\">\(cell.attempts) attempts</span>" }
    html += "<span class=\"counts\">\(e(summary))</span>"
    html += xfailChips(counts)
    if status != .pass && status != .flaky && !cell.result.reason.isEmpty {
      html += "<span class=\"why\">\(e(cell.result.reason))</span>"
    }
    html += "<span class=\"time\">\(e(ReportText.humanDuration(cell.durationSeconds)))</span>"
    html += "<div class=\"timing\"><div class=\"timing-bar\" style=\"width: \(percent(width))\"></div></div>"
    html += "</a></div>"
    return html
  }

  // MARK: - Details

  private static func details(_ cells: [ReportCell], layout: ReportLayout) -> String {
    let problems = cells.filter { $0.result.verdict.isFailure || $0.flaky }
    let others = cells.filter { !($0.result.verdict.isFailure || $0.flaky) }
    var html = "<section class=\"details\">\n<h2>Cells</h2>\n"
    for cell in problems + others { html += detail(cell, layout: layout) }
    html += "</section>\n"
    return html
  }

  private static func detail(_ cell: ReportCell, layout: ReportLayout) -> String {
    let result = cell.result
    let status = cell.status
    let counts = CheckCounts(sections: result.sections)
    var html = "<section id=\"\(e(layout.anchor(of: cell)))\" class=\"detail detail-\(status.rawValue)\">\n"
    html += "<h3><span class=\"badge badge-\(status.rawValue)\">\(status.label)</span> <code>\(e(cell.id))</code>"
    html += "<a class=\"log-link\" href=\"\(e(urlPath(layout.logPath(of: cell))))\">serial log</a></h3>\n"

    html += "<dl class=\"facts\">"
    let exit = result.qemuExitCode.map(String.init) ?? (result.command.isEmpty ? "not run" : "killed")
    let facts: [(String, String)] = [
      ("guest", result.guest), ("arch", result.architecture.rawValue),
      ("accel", result.accelerator.rawValue), ("cpus", "\(cell.cpus)"),
      ("memory", "\(cell.memoryMiB) MiB"), ("time", ReportText.humanDuration(cell.durationSeconds)),
      ("checks", counts.summary),
      ("attempts", "\(cell.attempts)" + (cell.flaky ? " (flaky: failed, then passed on a retry)" : "")),
      ("QEMU exit", exit),
    ]
    for (name, value) in facts { html += "<div><dt>\(e(name))</dt><dd>\(e(value))</dd></div>" }
    html += "</dl>\n"

    let landmarks = result.timeline.landmarks(result.serialLog)
    html += timeline(landmarks, total: cell.durationSeconds)

    if !result.reason.isEmpty {
      html += "<p class=\"reason\"><strong>\(e(result.verdict.rawValue))</strong> — \(e(result.reason))</p>\n"
    }
    if cell.flaky {
      html += "<p class=\"reason flaky-note\"><strong>FLAKY</strong> — failed, then passed on a retry "
      html += "(\(cell.attempts) attempts); the details below are from the last run.</p>\n"
    }

    let failed = result.failedChecks
    if !failed.isEmpty {
      html += "<h4>Failed checks</h4>\n<ol class=\"failures\">\n"
      for check in failed {
        html += "<li><div class=\"check-name\">\(e(check.section)) › \(e(check.name))</div>"
        html += "<div class=\"location\">\(e(cell.sourceReference(of: check) ?? "no source location"))</div>"
        if !check.diagnostics.isEmpty {
          html += "<pre class=\"diagnostics\">\(e(check.diagnostics.joined(separator: "\n")))</pre>"
        }
        html += "</li>\n"
      }
      html += "</ol>\n"
    }

    if let crash = result.crash {
      html += "<h4>Crash record</h4>\n"
      if let location = crash.location {
        html += "<p class=\"location crash-location\">faulted in <code>\(e(location.function))</code> at "
        html += "<code>\(e(location.sourceReference))</code></p>\n"
      }
      html += "<pre class=\"crash\">\(e(crash.lines.joined(separator: "\n")))</pre>\n"
      if !crash.fields.isEmpty {
        html += "<dl class=\"facts crash-fields\">"
        for key in crash.fields.keys.sorted() {
          html += "<div><dt>\(e(key))</dt><dd><code>\(e(crash.fields[key]!))</code></dd></div>"
        }
        html += "</dl>\n"
      }
    }

    if !result.vcpuPositions.isEmpty {
      // Hang triage: where every vCPU stood when the harness gave up.
      html += "<h4>vCPUs when the harness gave up</h4>\n<table class=\"vcpus\">"
      html += "<tr><th>CPU</th><th>PC</th><th>where</th><th>registers</th></tr>\n"
      for position in result.vcpuPositions {
        let frame = position.frames.first
        var place =
          frame.map { "<code>\(e($0.function))</code> at <code>\(e($0.sourceReference))</code>" }
          ?? position.symbol.map { "<code>\(e($0))</code>" } ?? "not symbolized"
        if frame == nil, let caller = position.caller.first {
          place += ", called from <code>\(e(caller.function))</code> at <code>\(e(caller.sourceReference))</code>"
        }
        let registers = position.registers.keys.sorted().map { "\($0)=\(position.registers[$0]!)" }
        html += "<tr><td>\(position.cpu)</td><td><code>0x\(String(position.pc, radix: 16))</code></td>"
        html += "<td>\(place)</td><td><code>\(e(registers.joined(separator: " ")))</code></td></tr>\n"
      }
      html += "</table>\n"
    }

    if !result.protocolErrors.isEmpty {
      html += "<h4>Protocol errors</h4>\n<ul class=\"protocol-errors\">"
      for error in result.protocolErrors { html += "<li>\(e(error))</li>" }
      html += "</ul>\n"
    }

    // The guest's own measurements: diagnostics printed before checks
    // that did not fail (`note("bring-up ns", …)`).
    let notes = result.checks.filter { $0.outcome != .failed }.flatMap { check in
      check.diagnostics.map { (check, $0) }
    }
    if !notes.isEmpty {
      html += "<details class=\"guest-notes\"\(notes.count <= 8 ? " open" : "")><summary>Guest notes (\(notes.count))</summary>\n<ul class=\"notes\">"
      for (check, text) in notes {
        html += "<li>\(e(text)) <span class=\"note-check\">(before \(e(check.section)) › \(e(check.name)))</span></li>"
      }
      html += "</ul></details>\n"
    }

    html += testsTable(cell)

    if !result.checks.isEmpty {
      let durations = result.timeline.checkDurations(result.serialLog)
      let guestDurations = result.sections.flatMap(\.checkDurations)
      let log = urlPath(layout.logPath(of: cell))
      html += "<details class=\"all-checks\"><summary>All \(result.checks.count) checks</summary>\n"
      html += "<table class=\"checks\"><thead><tr><th>section</th><th>#</th><th>check</th><th>outcome</th><th title=\"by the guest clock when the guest gave times, else by arrival\">time</th><th>cpu</th><th title=\"guest clock, since boot\">guest t</th><th>log</th><th>source</th></tr></thead><tbody>\n"
      for (index, check) in result.checks.enumerated() {
        let guestDuration = index < guestDurations.count ? guestDurations[index] : nil
        let arrival = index < durations.count ? durations[index].map { ReportText.humanDuration($0.reportSeconds) } ?? "" : ""
        let time = guestDuration.map { ReportText.guestDuration($0) } ?? arrival
        let line = index < landmarks.checks.count ? landmarks.checks[index].line : nil
        let source = cell.sourceReference(of: check) ?? ""
        let sourcePath = source.split(separator: ":").first.map(String.init) ?? ""
        let outcome = check.outcome.name
        let note = check.outcome.reason ?? ""
        html += "<tr class=\"outcome-\(outcome)\"><td>\(e(check.section))</td><td>\(check.number)</td><td>\(e(check.name))"
        if !note.isEmpty { html += " <span class=\"skip-reason\">(\(e(note)))</span>" }
        let shown = outcome == "xfailed" ? "<span class=\"chip chip-xfail\">XFAIL</span>" : outcome
        html += "</td><td>\(shown)</td><td class=\"check-time\">\(e(time))</td>"
        html += "<td class=\"check-cpu\">\(check.cpu.map(String.init) ?? "")</td>"
        html += "<td class=\"check-guest-time\">\(check.time.map { e(ReportText.guestTime($0)) } ?? "")</td>"
        html += "<td>" + (line.map { "<a href=\"\(e(log))\" title=\"line \($0) of the serial log\">line \($0)</a>" } ?? "") + "</td>"
        // Repository-relative source paths open from runs/<name>/index.html.
        let href = sourcePath.hasPrefix("/") || sourcePath.isEmpty ? nil : "../../" + sourcePath
        html += "<td><code>" + (href.map { "<a href=\"\(e(urlPath($0)))\">\(e(source))</a>" } ?? e(source)) + "</code></td></tr>\n"
      }
      html += "</tbody></table></details>\n"
    }

    if !result.command.isEmpty {
      html += "<h4>QEMU command</h4>\n<pre class=\"command\">\(e(ReportText.shellLine(ReportText.reproducer(result.command))))</pre>\n"
    }

    if result.verdict.isFailure {
      let tail = ReportText.tail(result.serialLog, lines: logTailLines)
      if !tail.isEmpty {
        html += "<details class=\"log-tail\" open><summary>Serial log (last \(logTailLines) lines)</summary>"
        html += "<pre class=\"log\">\(e(tail))</pre></details>\n"
      }
      let stderr = ReportText.tail(result.qemuStderr, lines: logTailLines)
      if !stderr.isEmpty {
        html += "<details class=\"log-tail\"><summary>QEMU stderr</summary><pre class=\"log\">\(e(stderr))</pre></details>\n"
      }
    }
    html += "</section>\n"
    return html
  }

  // MARK: - Tests

  /// XFAIL/XPASS chips of a cell's counts (nothing when it has none).
  private static func xfailChips(_ counts: CheckCounts) -> String {
    var html = ""
    if counts.xfailed > 0 {
      html += "<span class=\"chip chip-xfail\" title=\"checks that failed as expected\">\(counts.xfailed) XFAIL</span>"
    }
    if counts.xpassed > 0 {
      html += "<span class=\"chip chip-xpass\" title=\"tests expected to fail that passed\">\(counts.xpassed) XPASS</span>"
    }
    return html
  }

  /// The cell's registered tests: status (chips for SKIP, XFAIL, XPASS),
  /// reason, duration by the guest clock, CPU and declaration.
  private static func testsTable(_ cell: ReportCell) -> String {
    let sections = cell.result.sections
    guard !sections.isEmpty else { return "" }
    let open = sections.contains { $0.status != .passed } && sections.count <= 40
    var html = "<details class=\"tests\"\(open ? " open" : "")><summary>\(sections.count) test\(sections.count == 1 ? "" : "s")</summary>\n"
    html += "<table class=\"checks tests\"><thead><tr><th>#</th><th>test</th><th>status</th><th>checks</th><th title=\"by the guest clock\">duration</th><th>cpu</th><th>source</th></tr></thead><tbody>\n"
    for section in sections {
      let status = section.status?.rawValue ?? "unfinished"
      html += "<tr class=\"test-\(status)\"><td>\(section.number)</td><td>\(e(section.name))"
      if let reason = section.reason, !reason.isEmpty { html += " <span class=\"skip-reason\">(\(e(reason)))</span>" }
      for diagnostic in section.diagnostics { html += "<div class=\"test-note\"># \(e(diagnostic))</div>" }
      html += "</td><td>\(statusChip(section.status, ok: section.reportedOK))</td><td>\(section.checks.count)</td>"
      html += "<td class=\"test-duration\">\(section.duration.map { e(ReportText.guestDuration($0)) } ?? "")</td>"
      html += "<td>\(section.cpu.map(String.init) ?? "")</td>"
      html += "<td><code>\(e(cell.sourceReference(of: section) ?? ""))</code></td></tr>\n"
    }
    return html + "</tbody></table></details>\n"
  }

  /// A test status as a chip.
  private static func statusChip(_ status: TestStatus?, ok: Bool?) -> String {
    switch status {
    case .passed: "<span class=\"chip chip-pass\">PASS</span>"
    case .failed: "<span class=\"chip chip-fail\">FAIL</span>"
    case .skipped: "<span class=\"chip chip-skip\">SKIP</span>"
    case .xfailed: "<span class=\"chip chip-xfail\">XFAIL</span>"
    case .xpassed:
      ok == false
        ? "<span class=\"chip chip-xpass\" title=\"expected to fail, but passed: fails the cell\">XPASS</span>"
        : "<span class=\"chip chip-xpass chip-allowed\" title=\"expected to fail, but passed (allowed)\">XPASS</span>"
    case nil: "<span class=\"chip chip-unfinished\">unfinished</span>"
    }
  }

  // MARK: - Timeline

  /// A cell's timeline: boot (until the guest's first byte), each section,
  /// and the end, as a bar scaled to the cell's time, with labels.
  private static func timeline(_ marks: SerialLandmarks, total: Double) -> String {
    guard total > 0, let first = marks.firstOutput else { return "" }
    func position(_ at: Duration) -> Double { min(max(at.reportSeconds / total * 100, 0), 100) }
    var html = "<div class=\"timeline\" title=\"boot → sections → exit\">"
    html += "<span class=\"span boot\" style=\"left: 0; width: \(percent(position(first)))\" title=\"boot until the first byte\"></span>"
    var start = first
    for section in marks.sections {
      guard let end = section.at else { continue }
      let left = position(start)
      html += "<span class=\"span section\" style=\"left: \(percent(left)); width: \(percent(max(position(end) - left, 0)))\" title=\"\(e(section.name))\"></span>"
      start = end
    }
    html += "</div>\n<div class=\"timeline-labels\">"
    html += "<span>first byte \(e(ReportText.humanDuration(first.reportSeconds)))</span>"
    var previous = first
    for section in marks.sections {
      guard let end = section.at else { continue }
      html += "<span>\(e(section.name)) \(e(ReportText.humanDuration((end - previous).reportSeconds)))</span>"
      previous = end
    }
    if let exit = marks.exit { html += "<span>exit line \(e(ReportText.humanDuration(exit.reportSeconds)))</span>" }
    html += "<span>end \(e(ReportText.humanDuration(total)))</span></div>\n"
    return html
  }

  // MARK: - Helpers

  /// HTML-escaped text.
  private static func e(_ text: String) -> String { MarkupEscaping.escape(text) }

  /// A relative path as a URL path (percent-encoded where needed).
  private static func urlPath(_ path: String) -> String {
    var allowed = CharacterSet.urlPathAllowed
    allowed.remove(charactersIn: "?#;")
    return path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path
  }

  /// `42.5%` (POSIX decimal point).
  private static func percent(_ value: Double) -> String {
    ReportText.fixed(min(max(value, 0), 100), places: 1) + "%"
  }

  private static let stylesheet = """
    .metadata{display:grid;grid-template-columns:max-content 1fr;gap:0 .8em;font-size:.85em;margin:.4em 0}
    .metadata dt{font-weight:600}.metadata dd{margin:0;overflow-wrap:anywhere}
    :root {
      --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #f6f8fa; --card: #ffffff;
      --pass: #1a7f37; --pass-bg: #dafbe1;
      --fail: #cf222e; --fail-bg: #ffebe9;
      --crash: #8250df; --crash-bg: #fbefff;
      --timeout: #bc4c00; --timeout-bg: #fff1e5;
      --protocol-error: #0969da; --protocol-error-bg: #ddf4ff;
      --skip: #6e7781; --skip-bg: #eef1f4;
      --flaky: #9a6700; --flaky-bg: #fff8c5;
      --mono: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace;
    }
    * { box-sizing: border-box; }
    body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
      color: var(--fg); background: var(--bg); }
    main { max-width: 1400px; margin: 0 auto; padding: 0 24px 32px; }
    h2 { font-size: 18px; margin: 28px 0 12px; }
    h4 { font-size: 13px; margin: 16px 0 6px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
    code, pre { font-family: var(--mono); font-size: 12.5px; }
    a { color: #0969da; }
    .summary { background: var(--card); border-bottom: 1px solid var(--line); padding: 20px 24px 16px;
      border-top: 6px solid var(--pass); }
    .summary.summary-failed { border-top-color: var(--fail); }
    .summary > * { max-width: 1352px; margin-left: auto; margin-right: auto; }
    .headline h1 { margin: 0; font-size: 26px; }
    .summary-ok .headline h1 { color: var(--pass); }
    .summary-failed .headline h1 { color: var(--fail); }
    .subtitle { margin: 4px auto 14px; color: var(--muted); }
    .totals { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 8px; margin-top: 0; margin-bottom: 12px; }
    .total { padding: 6px 12px; border-radius: 8px; border: 1px solid var(--line); background: var(--bg); color: var(--muted); }
    .total .n { font-weight: 700; font-size: 18px; margin-right: 4px; color: var(--fg); }
    .total.zero { opacity: .55; }
    .total-pass:not(.zero) { background: var(--pass-bg); border-color: var(--pass); } .total-pass .n { color: var(--pass); }
    .total-fail:not(.zero) { background: var(--fail-bg); border-color: var(--fail); } .total-fail .n { color: var(--fail); }
    .total-crash:not(.zero) { background: var(--crash-bg); border-color: var(--crash); } .total-crash .n { color: var(--crash); }
    .total-timeout:not(.zero) { background: var(--timeout-bg); border-color: var(--timeout); } .total-timeout .n { color: var(--timeout); }
    .total-protocol-error:not(.zero) { background: var(--protocol-error-bg); border-color: var(--protocol-error); } .total-protocol-error .n { color: var(--protocol-error); }
    .total-skip:not(.zero) { background: var(--skip-bg); border-color: var(--skip); } .total-skip .n { color: var(--skip); }
    .total-flaky:not(.zero) { background: var(--flaky-bg); border-color: var(--flaky); } .total-flaky .n { color: var(--flaky); }
    .total-time { margin-left: auto; background: var(--card); }
    .distribution { display: flex; height: 8px; border-radius: 4px; overflow: hidden; background: var(--line); }
    .segment { display: block; height: 100%; }
    .segment-pass { background: var(--pass); } .segment-fail { background: var(--fail); }
    .segment-crash { background: var(--crash); } .segment-timeout { background: var(--timeout); }
    .segment-protocol-error { background: var(--protocol-error); } .segment-skip { background: var(--skip); }
    .segment-flaky { background: var(--flaky); }
    .matrices { display: flex; flex-direction: column; gap: 14px; }
    table.matrix { width: 100%; border-collapse: separate; border-spacing: 6px; background: var(--card);
      border: 1px solid var(--line); border-radius: 10px; padding: 6px; table-layout: auto; }
    table.matrix caption { text-align: left; font-weight: 700; font-size: 15px; padding: 2px 4px 6px; }
    .matrix th { font-weight: 600; color: var(--muted); font-size: 12px; white-space: nowrap; }
    .matrix th.group { color: var(--fg); font-size: 13px; border-bottom: 2px solid var(--line); padding-bottom: 4px; text-align: left; }
    .matrix th.guest { text-align: right; padding-right: 10px; color: var(--fg); font-family: var(--mono); font-size: 13px; width: 1%; }
    .matrix th.corner { text-align: right; padding-right: 10px; vertical-align: bottom; width: 1%; }
    td.box { vertical-align: top; padding: 0; }
    td.box { display: table-cell; }
    td.box > .cell { display: inline-flex; vertical-align: top; margin: 0 6px 6px 0; }
    .cell { width: 158px; min-height: 84px; padding: 0; border-radius: 8px;
      border: 1px solid var(--line); border-left-width: 5px; background: var(--card); box-sizing: border-box; }
    .cell a { display: flex; flex-direction: column; width: 100%; padding: 6px 8px 7px; color: inherit; text-decoration: none; box-sizing: border-box; }
    .cell a:hover { background: rgba(0,0,0,.035); }
    .cell .verdict { font-weight: 800; letter-spacing: .03em; font-size: 13px; }
    .cell .combo { font-size: 11.5px; color: var(--fg); }
    .cell .counts, .cell .attempts { font-size: 12px; color: var(--muted); }
    .cell .attempts { font-style: italic; }
    .cell .why { font-size: 11.5px; color: var(--fg); opacity: .8; white-space: nowrap; overflow: hidden;
      text-overflow: ellipsis; max-width: 140px; }
    .cell .time { font-size: 12px; font-variant-numeric: tabular-nums; margin-top: auto; }
    .cell .timing { display: block; height: 5px; background: rgba(0,0,0,.08); border-radius: 3px; margin-top: 3px; overflow: hidden; }
    .cell .timing-bar { display: block; height: 100%; border-radius: 3px; background: var(--muted); }
    .cell.empty { min-height: 40px; width: 60px; background: repeating-linear-gradient(135deg, transparent 0 6px, rgba(0,0,0,.04) 6px 12px);
      border-style: dashed; border-left-width: 1px; }
    .marker { display: inline-block; font-size: 10.5px; font-weight: 700; border-radius: 4px; padding: 0 4px; margin-left: 4px; text-transform: uppercase; }
    .cell .marker { margin: 0 0 2px; align-self: flex-start; }
    .marker-new { background: var(--fail); color: #fff; } .marker-known { background: var(--skip); color: #fff; }
    .marker-divergent { background: var(--protocol-error); color: #fff; }
    .verdict-pass { background: var(--pass-bg); border-color: var(--pass); } .verdict-pass .verdict { color: var(--pass); }
    .verdict-pass .timing-bar { background: var(--pass); }
    .verdict-fail { background: var(--fail-bg); border-color: var(--fail); } .verdict-fail .verdict { color: var(--fail); }
    .verdict-fail .timing-bar { background: var(--fail); }
    .verdict-crash { background: var(--crash-bg); border-color: var(--crash); } .verdict-crash .verdict { color: var(--crash); }
    .verdict-crash .timing-bar { background: var(--crash); }
    .verdict-timeout { background: var(--timeout-bg); border-color: var(--timeout); } .verdict-timeout .verdict { color: var(--timeout); }
    .verdict-timeout .timing-bar { background: var(--timeout); }
    .verdict-protocol-error { background: var(--protocol-error-bg); border-color: var(--protocol-error); }
    .verdict-protocol-error .verdict { color: var(--protocol-error); } .verdict-protocol-error .timing-bar { background: var(--protocol-error); }
    .verdict-skip { background: var(--skip-bg); border-color: var(--skip); } .verdict-skip .verdict { color: var(--skip); }
    .verdict-skip .timing-bar { background: var(--skip); }
    .verdict-flaky { background: repeating-linear-gradient(135deg, var(--flaky-bg) 0 8px, #fdf3b0 8px 16px); border-color: var(--flaky); }
    .verdict-flaky .verdict { color: var(--flaky); } .verdict-flaky .timing-bar { background: var(--flaky); }
    .timeline { position: relative; height: 22px; background: rgba(0,0,0,.05); border-radius: 4px; margin: 6px 0 2px; }
    .timeline .span { position: absolute; top: 0; bottom: 0; border-right: 1px solid rgba(0,0,0,.25); }
    .timeline .boot { background: rgba(0,0,0,.10); }
    .timeline .section { background: var(--pass-bg); }
    .timeline .section.failed { background: var(--fail-bg); }
    .timeline-labels { font-size: 11.5px; color: var(--muted); display: flex; flex-wrap: wrap; gap: 4px 14px; }
    ul.notes { font-family: var(--mono); font-size: 12px; }
    .legend { list-style: none; padding: 0; margin: 10px 0 0; display: flex; flex-wrap: wrap; gap: 14px; color: var(--muted); font-size: 12px; }
    .swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 5px; vertical-align: -2px; border: 1px solid var(--line); }
    .swatch-pass { background: var(--pass); } .swatch-fail { background: var(--fail); } .swatch-crash { background: var(--crash); }
    .swatch-timeout { background: var(--timeout); } .swatch-protocol-error { background: var(--protocol-error); }
    .swatch-skip { background: var(--skip); } .swatch-flaky { background: var(--flaky); }
    .legend-bar { display: inline-block; width: 28px; height: 5px; border-radius: 3px; background: var(--muted);
      margin-right: 6px; vertical-align: 2px; }
    .swatch-empty { background: repeating-linear-gradient(135deg, transparent 0 2px, rgba(0,0,0,.2) 2px 4px); }
    .detail { background: var(--card); border: 1px solid var(--line); border-left: 5px solid var(--line); border-radius: 10px;
      padding: 12px 18px 14px; margin-bottom: 14px; scroll-margin-top: 12px; }
    .detail:target { box-shadow: 0 0 0 3px rgba(9,105,218,.35); }
    .detail-pass { border-left-color: var(--pass); } .detail-fail { border-left-color: var(--fail); }
    .detail-crash { border-left-color: var(--crash); } .detail-timeout { border-left-color: var(--timeout); }
    .detail-protocol-error { border-left-color: var(--protocol-error); } .detail-skip { border-left-color: var(--skip); }
    .detail-flaky { border-left-color: var(--flaky); }
    .detail h3 { margin: 0 0 8px; font-size: 15px; display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
    .detail h3 code { font-size: 14px; word-break: break-all; }
    .detail h3 .log-link { margin-left: auto; font-size: 13px; font-weight: 500; }
    .badge { font-size: 11px; font-weight: 800; letter-spacing: .04em; padding: 2px 8px; border-radius: 999px; color: #fff; }
    .badge-pass { background: var(--pass); } .badge-fail { background: var(--fail); } .badge-crash { background: var(--crash); }
    .badge-timeout { background: var(--timeout); } .badge-protocol-error { background: var(--protocol-error); }
    .badge-skip { background: var(--skip); } .badge-flaky { background: var(--flaky); }
    dl.facts { display: flex; flex-wrap: wrap; gap: 4px 18px; margin: 0; font-size: 13px; }
    dl.facts div { display: flex; gap: 5px; }
    dl.facts dt { color: var(--muted); }
    dl.facts dd { margin: 0; font-weight: 500; }
    .reason { margin: 10px 0 0; padding: 8px 12px; background: var(--bg); border-radius: 6px; }
    .detail-fail .reason { background: var(--fail-bg); } .detail-crash .reason { background: var(--crash-bg); }
    .detail-timeout .reason { background: var(--timeout-bg); } .detail-protocol-error .reason { background: var(--protocol-error-bg); }
    .detail-flaky .reason { background: var(--flaky-bg); }
    ol.failures { margin: 0; padding-left: 22px; }
    ol.failures li { margin-bottom: 8px; }
    .check-name { font-weight: 600; }
    .location { font-family: var(--mono); font-size: 12.5px; color: var(--fail); }
    pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; margin: 4px 0 0;
      overflow-x: auto; white-space: pre-wrap; word-break: break-word; }
    pre.crash { background: var(--crash-bg); border-color: #d8b9ff; }
    table.vcpus { border-collapse: collapse; font-size: 12px; margin: 4px 0 8px; }
    table.vcpus th, table.vcpus td { border: 1px solid #d0d7de; padding: 2px 8px; text-align: left; }
    dl.crash-fields { margin-top: 6px; font-family: var(--mono); font-size: 12px; }
    pre.log { max-height: 360px; overflow-y: auto; background: #1f2328; color: #e6edf3; border-color: #1f2328; }
    details { margin-top: 10px; }
    summary { cursor: pointer; color: var(--muted); font-size: 13px; }
    table.checks { border-collapse: collapse; margin-top: 6px; font-size: 12.5px; width: 100%; }
    table.checks th, table.checks td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--line); }
    table.checks .outcome-failed td { background: var(--fail-bg); }
    table.checks .outcome-skipped td { color: var(--muted); }
    .skip-reason { color: var(--muted); }
    .chip { display: inline-block; font-size: 10.5px; font-weight: 700; border-radius: 4px; padding: 0 5px; letter-spacing: .03em; }
    .cell .chip { align-self: flex-start; margin-top: 2px; }
    .chip-pass { background: var(--pass-bg); color: var(--pass); } .chip-fail { background: var(--fail-bg); color: var(--fail); }
    .chip-skip { background: var(--skip-bg); color: var(--skip); }
    .chip-xfail { background: #eef1f4; color: #57606a; border: 1px dashed #8c959f; }
    .chip-xpass { background: #fff1e5; color: #bc4c00; border: 1px solid #bc4c00; } .chip-allowed { border-style: dashed; }
    .chip-unfinished { background: var(--crash-bg); color: var(--crash); }
    table.checks .outcome-xfailed td { color: var(--muted); }
    table.tests .test-failed td, table.tests .test-unfinished td { background: var(--fail-bg); }
    .test-note { font-family: var(--mono); font-size: 11.5px; color: var(--muted); }
    .empty-note { color: var(--muted); }
    footer { text-align: center; color: var(--muted); font-size: 12px; padding: 0 0 24px; }
    """
}
