import Foundation

/// Splitting a matrix over several CI jobs (`--shard i/n`) and putting
/// their run directories back together (`runner merge`).
public enum Sharding {
  /// The cells of shard `index` (1-based) of `count`: a deterministic,
  /// duration-balanced split. Cells are taken longest first (by `times`,
  /// a cell id → seconds map from an earlier run, else an estimate: KVM
  /// cells cost more here than TCG ones) and each goes to the shard with
  /// the least time so far (lowest number on ties); each shard keeps matrix
  /// order. The same cells and times give the same split on every machine.
  public static func shard(
    _ cells: [MatrixCell], index: Int, of count: Int, times: [String: Double] = [:]
  ) -> [MatrixCell] {
    precondition(count >= 1 && (1...count).contains(index))
    let weighted = cells.enumerated().map { offset, cell in
      (offset: offset, weight: times[cell.id] ?? estimate(cell))
    }
    let order = weighted.sorted { a, b in
      a.weight != b.weight ? a.weight > b.weight : a.offset < b.offset
    }
    var load = [Double](repeating: 0, count: count)
    var owner = [Int](repeating: 0, count: cells.count)
    for item in order {
      let target = load.indices.min { load[$0] != load[$1] ? load[$0] < load[$1] : $0 < $1 }!
      load[target] += item.weight
      owner[item.offset] = target
    }
    return cells.enumerated().filter { owner[$0.offset] == index - 1 }.map(\.element)
  }

  /// A guess at a cell's seconds without an earlier run: a KVM boot costs
  /// about 3 s on the nested hosts, a TCG one a fraction of a second; more
  /// memory and vCPUs cost more.
  static func estimate(_ cell: MatrixCell) -> Double {
    let base = cell.settings.accelerator == .kvm ? 3.0 : 0.5
    return base + Double(cell.settings.memoryMiB) / 8192 + Double(cell.settings.cpus) * 0.1
  }

  /// Cell id → seconds from a results.json (or run directory), for
  /// `times`; empty when it cannot be read.
  public static func times(from path: String) -> [String: Double] {
    guard let document = try? RunComparison.load(path) else { return [:] }
    return Dictionary(
      document.cells.map { ($0.id, $0.durationSeconds) }, uniquingKeysWith: { first, _ in first })
  }

  /// The report cells of the run directories `directories` (shards of one
  /// matrix), in `order` (cell ids; others after, in the order found),
  /// rebuilt from each results.json and its logs. Two shards with the same
  /// cell id are an error.
  public static func merge(_ directories: [String], order: [String] = []) throws -> [ReportCell] {
    var cells: [ReportCell] = []
    var origin: [String: String] = [:]
    for directory in directories {
      let document = try RunComparison.load(directory)
      for cell in document.cells {
        if let other = origin[cell.id] {
          throw ComparisonError(message: "cell \(cell.id) is in both \(other) and \(directory)")
        }
        origin[cell.id] = directory
        cells.append(try reportCell(cell, from: directory, metadata: document.metadata))
      }
    }
    let rank = Dictionary(order.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    return cells.enumerated().sorted { a, b in
      let (ra, rb) = (rank[a.element.id] ?? Int.max, rank[b.element.id] ?? Int.max)
      return ra != rb ? ra < rb : a.offset < b.offset
    }.map(\.element)
  }

  /// A report cell rebuilt from a results.json cell and the run's logs.
  static func reportCell(_ cell: ResultsDocument.Cell, from directory: String, metadata: RunMetadata?)
    throws -> ReportCell
  {
    func read(_ relative: String) -> String {
      (try? String(contentsOfFile: directory + "/" + relative, encoding: .utf8)) ?? ""
    }
    guard let architecture = Architecture(rawValue: cell.arch),
      let accelerator = Accelerator(rawValue: cell.accel),
      let verdict = Verdict(rawValue: cell.verdict)
    else {
      throw ComparisonError(message: "\(directory): cell \(cell.id) has an unknown arch, accel or verdict")
    }
    var sections: [GuestSection] = []
    var sources: [String: String] = [:]
    func location(_ fileID: String?, _ line: Int?, _ file: String?) -> GuestSourceLocation? {
      if let fileID, let file { sources[fileID] = file }
      return fileID.flatMap { id in line.map { GuestSourceLocation(fileID: id, line: $0) } }
    }
    // The tests as results.json lists them (documents from before list
    // only checks: a section per run of checks, finished as they say).
    for test in cell.tests ?? [] {
      var section = GuestSection(number: test.number, name: test.name, checks: [], reportedOK: nil)
      section.reportedStatus = TestStatus(rawValue: test.status)
      section.reportedOK = section.reportedStatus == nil ? nil : test.ok
      section.reason = test.reason
      section.skippedBeforeRun = test.skippedBeforeRun
      section.location = location(test.fileID, test.line, test.file)
      section.cpu = test.cpu
      section.time = test.timeNs
      section.duration = test.durationNs
      section.diagnostics = test.diagnostics
      sections.append(section)
    }
    let fromTests = !sections.isEmpty
    for check in cell.checks {
      let outcome: CheckOutcome =
        switch check.outcome {
        case "passed": .passed
        case "failed": .failed
        case "xfailed": .xfailed(reason: check.reason ?? "")
        default: .skipped(reason: check.skipReason ?? check.reason ?? "")
        }
      var index = sections.firstIndex { $0.number == check.sectionNumber }
      if index == nil || (!fromTests && sections.last?.number != check.sectionNumber) {
        sections.append(
          GuestSection(number: check.sectionNumber, name: check.section, checks: [], reportedOK: true))
        index = sections.count - 1
      }
      var guestCheck = GuestCheck(
        section: check.section, number: check.number, name: check.name, outcome: outcome,
        location: location(check.fileID, check.line, check.file), diagnostics: check.diagnostics)
      guestCheck.cpu = check.cpu
      guestCheck.time = check.timeNs
      sections[index!].checks.append(guestCheck)
      if outcome == .failed && !fromTests { sections[index!].reportedOK = false }
    }
    let crash = cell.crash.map { crash in
      var record = CrashRecord(lines: crash.lines, fields: crash.fields)
      record.frames = crash.frames.map { frame in
        CrashFrame(
          address: UInt64(frame.address.dropFirst(2), radix: 16) ?? 0, function: frame.function,
          file: frame.file, line: frame.line, column: frame.column)
      }
      return record
    }
    let stderrPath = String(cell.logPath.dropLast(4)) + ".stderr"
    var result = GuestResult(
      guest: cell.guest, architecture: architecture, accelerator: accelerator, verdict: verdict,
      reason: cell.reason, sections: sections, crash: crash, protocolErrors: cell.protocolErrors,
      serialLog: read(cell.logPath), qemuStderr: read(stderrPath), command: cell.command,
      qemuExitCode: cell.qemuExitCode, duration: .milliseconds(Int64((cell.durationSeconds * 1000).rounded())),
      processID: nil, interrupted: cell.interrupted)
    result.timeline = SerialTimeline()
    result.migrations = cell.migrations ?? []
    var report = ReportCell(
      id: cell.id, result: result, cpus: cell.cpus, memoryMiB: cell.memoryMiB,
      attempts: cell.attempts, flaky: cell.flaky, logPath: cell.logPath, sourcePaths: sources)
    report.cpuModel = cell.cpuModel
    report.machine = cell.machine
    report.qemuBuild = cell.qemu ?? LaunchSettings.systemQemu
    report.interrupted = cell.interrupted
    report.metadata = metadata
    return report
  }
}
