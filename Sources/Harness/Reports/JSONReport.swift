/// # Results JSON, schema `swift-guest-harness/results/v1`
///
/// Written as `results.json` (all cells) and `results-<arch>.json` (cells of
/// one architecture), pretty-printed with keys sorted. Every key listed is
/// always present; "or null" marks the ones that can be `null`. New keys may
/// be added within v1; removing or changing one bumps the version.
///
/// Top level (object):
/// - `schema` (string): always `"swift-guest-harness/results/v1"`.
/// - `architectures` (array of string): architectures of the cells in this
///   file, e.g. `["x86_64"]`, in the harness's order.
/// - `summary` (object): tallies of `cells`:
///   - `cells` (int): number of cells.
///   - `passed`, `failed`, `crashed`, `timedOut`, `protocolErrors`,
///     `skipped`, `flaky` (int): cells by outcome. The categories are
///     disjoint and add up to `cells`: a cell that passed only on a retry
///     counts as `flaky`, not `passed`.
///   - `durationSeconds` (number): sum of the cells' durations.
///   - `ok` (bool): no cell failed (only PASS, FLAKY and SKIP cells) and
///     the run was not interrupted.
///   - `interrupted` (int, added in v1): cells cut short or never started
///     because the run was interrupted (Ctrl-C); they are reported as
///     `SKIP` and also counted in `skipped`.
/// - `divergences` (array of object, added in v1): checks whose outcome
///   differs between cells that differ only in their accelerator (TCG vs
///   KVM), and such cells whose verdicts differ:
///   - `cells` (string): the cells' key with the accelerator as `*`.
///   - `check` (string): `section › name` (` [n]` for repeated names), or
///     `(verdict)`.
///   - `outcomes` (object): cell id → `passed`, `failed`, `skipped`,
///     `absent`, or the verdict.
/// - `baseline` (object, optional, added in v1; results.json only): the run
///   against its known failures (configs/baseline.cfg): `path`, `known` and
///   `new` (arrays of `{cell, check, entry}`; `entry` is the matching
///   baseline entry `{cell, check, reason, link, line}` or null), `fixed`
///   (entries whose cells ran without that failure).
/// - `metadata` (object, optional, added in v1): what the run ran on:
///   `started` (ISO 8601), `hostname`, `kernel`, `kvmModules` (array),
///   `commit` (string or null), `qemu` (array of `{arch, path, version}`).
/// - `cells` (array of object), in the order the harness ran them:
///   - `id` (string): stable cell id, e.g. `selftest.x86_64.tcg.smp1.mem256M`.
///   - `qemu` (string, added in v1): the QEMU build (`system`: the QEMU on
///     PATH).
///   - `guest` (string): guest program name.
///   - `arch` (string): `x86_64` or `s390x`.
///   - `accel` (string): `tcg` or `kvm`.
///   - `cpus` (int): virtual CPUs.
///   - `memoryMiB` (int): guest RAM in MiB.
///   - `cpuModel` (string or null, added in v1): the QEMU `-cpu` model of a
///     cell on the `cpu` axis; null for QEMU's default model.
///   - `machine` (string or null, added in v1): the QEMU `-machine` type of
///     a cell on the `machine` axis; null for the architecture's default.
///   - `verdict` (string): `PASS`, `FAIL`, `CRASH`, `TIMEOUT`,
///     `PROTOCOL-ERROR` or `SKIP` (the final run's verdict; a flaky cell is
///     `PASS` with `flaky: true`).
///   - `reason` (string): why, in one sentence (may be empty for `PASS`).
///   - `durationSeconds` (number): wall time of the final run, in seconds
///     with millisecond precision.
///   - `attempts` (int): runs made (1 unless retried).
///   - `flaky` (bool): failed first, then passed on a retry.
///   - `interrupted` (bool, added in v1): the run was interrupted while
///     this cell ran or before it started (its verdict is then `SKIP`).
///   - `qemuExitCode` (int or null): QEMU's exit status; null when it was
///     killed by a signal or never ran.
///   - `command` (array of string): QEMU's argv (empty when it never ran).
///   - `crash` (object or null): the guest's crash record:
///     - `lines` (array of string): the `# CRASH:` lines as printed.
///     - `fields` (object of string to string): their `key=value` fields.
///     - `location` (object or null, added in v1): `rip` symbolized against
///       the payload ELF, innermost inlined frame: `function` (string,
///       demangled), `file` (string, relative to the package root),
///       `line` (int), `column` (int), `address` (string, `0x…`).
///     - `frames` (array of the same objects, added in v1): every inlined
///       frame at `rip`, innermost first; empty when not symbolized.
///   - `protocolErrors` (array of string): problems with the serial stream.
///   - `tests` (array of object, added in v1; null in documents from
///     before), every registered test (section) of the guest in order,
///     those skipped before they ran included:
///     - `number` (int): 1-based.
///     - `name` (string).
///     - `status` (string): `passed`, `failed`, `skipped`, `xfailed`,
///       `xpassed`, or `unfinished` (no result line: crash, timeout, cut
///       output).
///     - `ok` (bool or null): what its result line said (`ok` or `not ok`;
///       an XPASS is `not ok` when it fails the cell); null when
///       `unfinished`.
///     - `reason` (string or null): the SKIP, XFAIL or XPASS reason.
///     - `skippedBeforeRun` (bool): skipped before it ran (no checks).
///     - `file`, `fileID`, `line` (string/string/int or null): where the
///       test is declared, as for checks.
///     - `cpu` (int or null): the CPU that wrote its result line.
///     - `timeNs` (int or null): guest clock at its result line,
///       nanoseconds since boot.
///     - `durationNs` (int or null): its duration by the guest clock.
///     - `checks` (int): how many checks it made.
///     - `diagnostics` (array of string): lines printed between its last
///       check and its result line (`the test made no check`, `stopped by
///       a failed require`).
///   - `checks` (array of object), every guest check in order:
///     - `section` (string): enclosing section (test) name.
///     - `sectionNumber` (int): the section's 1-based number.
///     - `number` (int): 1-based number within the section.
///     - `name` (string): the check's message.
///     - `outcome` (string): `passed`, `failed`, `skipped` or (added in
///       v1) `xfailed` (failed inside a test expected to fail: no failure).
///     - `skipReason` (string or null): the reason when `skipped`.
///     - `reason` (string or null, added in v1): the SKIP or XFAIL reason.
///     - `file` (string or null): guest source path (the `#fileID` mapped
///       through the harness's source map, else the `#fileID` itself).
///     - `fileID` (string or null): the `#fileID` the guest reported.
///     - `line` (int or null): 1-based source line.
///     - `cpu` (int or null, added in v1): the CPU that made the check.
///     - `timeNs` (int or null, added in v1): guest clock when it was made,
///       nanoseconds since boot.
///     - `durationNs` (int or null, added in v1): its duration by the
///       guest clock (from the previous check, or its test's start).
///     - `diagnostics` (array of string): lines the guest printed with it.
///   - `logPath` (string): the serial log, relative to the report directory.
///   - `migrations` (array of object, optional, added in v1): the live
///     migrations of a `migrate = yes` cell, in order: `number` (int, from
///     1), `downtimeMilliseconds` and `totalMilliseconds` (int, QMP
///     `query-migrate`), `wallMilliseconds` (int, request line to the
///     destination running), `transferredBytes` (int or absent). Absent
///     when the cell did not migrate.
///   - `resets` (array of object, optional, added in v1): the resets the
///     harness made on the guest's request (`# harness: reset`), in order:
///     `number` (int, from 1), `atMilliseconds` (int, from the run's start
///     to the reset), `milliseconds` (int, how long the backend took).
///     Absent when the guest asked for none.
///   - `vcpus` (array of object, optional, added in v1): hang triage, where
///     every vCPU stood when a timeout ended the run (read through the QEMU
///     monitor before the kill), in CPU order: `cpu` (int), `pc` (string,
///     `0x…`: RIP, or the s390x PSW address), `registers` (object of string
///     to string: x86_64 RSP, CR2, RFLAGS; s390x the PSW mask and the
///     prefix), `location` (a frame as in `crash`, or null when not
///     symbolized), `frames` (every inlined frame, innermost first),
///     `symbol` (string or null: the function when there is no line
///     information), `caller` (array of frames, optional: for a `pc` in an
///     assembly helper, its caller through the return address — s390x R14,
///     x86_64 the word at RSP) and `summary` (string: `CPU 1 stuck at
///     file:line in function`, with `(in helper)` when it is the caller's
///     line). Absent when no positions were read.
import Foundation

/// Writes the results JSON documented above.
public enum JSONReport {
  /// The schema identifier written in every document.
  public static let schema = "swift-guest-harness/results/v1"

  /// The JSON document for `cells`, as UTF-8 text.
  public static func render(_ cells: [ReportCell]) throws -> String {
    try render(cells, layout: ReportLayout(cells))
  }

  static func render(
    _ cells: [ReportCell], layout: ReportLayout, baseline: BaselineReport? = nil
  ) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    var document = ResultsDocument(cells, layout: layout)
    document.baseline = baseline
    let data = try encoder.encode(document)
    return String(decoding: data, as: UTF8.self) + "\n"
  }
}

/// The top-level object of the results JSON.
public struct ResultsDocument: Codable, Sendable, Equatable {
  /// `swift-guest-harness/results/v1`.
  public var schema: String
  /// Architectures of the cells, in harness order.
  public var architectures: [String]
  /// Tallies.
  public var summary: Summary
  /// The cells.
  public var cells: [Cell]
  /// Checks and verdicts that differ between cells that differ only in
  /// their accelerator (see `Divergence`); nil in documents from before.
  public var divergences: [Divergence]?
  /// Known, new and fixed failures against the baseline the run used
  /// (results.json only; nil without a baseline).
  public var baseline: BaselineReport?
  /// What the run ran on (nil in documents from before).
  public var metadata: RunMetadata?

  enum CodingKeys: String, CodingKey {
    case schema, architectures, summary, cells, divergences, baseline, metadata
  }

  /// The document for `cells`.
  public init(_ cells: [ReportCell]) {
    self.init(cells, layout: ReportLayout(cells))
  }

  init(_ cells: [ReportCell], layout: ReportLayout) {
    schema = JSONReport.schema
    let present = Set(cells.map(\.result.architecture))
    architectures = Architecture.allCases.filter(present.contains).map(\.rawValue)
    summary = Summary(cells)
    self.cells = cells.map { Cell($0, logPath: layout.logPath(of: $0)) }
    divergences = Divergence.find(in: self)
    metadata = cells.first?.metadata
  }

  /// Cell tallies (disjoint categories).
  public struct Summary: Codable, Sendable, Equatable {
    /// Number of cells.
    public var cells: Int
    /// Cells that passed on the first attempt.
    public var passed: Int
    /// FAIL cells.
    public var failed: Int
    /// CRASH cells.
    public var crashed: Int
    /// TIMEOUT cells.
    public var timedOut: Int
    /// PROTOCOL-ERROR cells.
    public var protocolErrors: Int
    /// SKIP cells.
    public var skipped: Int
    /// Cells that passed only on a retry.
    public var flaky: Int
    /// Sum of the cells' durations in seconds.
    public var durationSeconds: Double
    /// No cell failed and the run was not interrupted.
    public var ok: Bool
    /// Cells interrupted or not run because the run was interrupted.
    public var interrupted: Int

    enum CodingKeys: String, CodingKey {
      case cells, passed, failed, crashed, timedOut, protocolErrors, skipped, flaky
      case durationSeconds, ok, interrupted
    }

    init(_ cells: [ReportCell]) {
      func count(_ status: CellStatus) -> Int { cells.filter { $0.status == status }.count }
      self.cells = cells.count
      passed = count(.pass)
      failed = count(.fail)
      crashed = count(.crash)
      timedOut = count(.timeout)
      protocolErrors = count(.protocolError)
      skipped = count(.skip)
      flaky = count(.flaky)
      durationSeconds = (cells.reduce(0) { $0 + $1.durationSeconds } * 1000).rounded() / 1000
      interrupted = cells.filter(\.interrupted).count
      ok = !cells.contains { $0.result.verdict.isFailure } && interrupted == 0
    }
  }

  /// One matrix cell.
  public struct Cell: Codable, Sendable, Equatable {
    /// Stable cell id.
    public var id: String
    /// Guest program name.
    public var guest: String
    /// `x86_64` or `s390x`.
    public var arch: String
    /// `tcg` or `kvm`.
    public var accel: String
    /// Virtual CPUs.
    public var cpus: Int
    /// Guest RAM in MiB.
    public var memoryMiB: Int
    /// The QEMU CPU model; nil for the default model.
    public var cpuModel: String?
    /// The QEMU machine type; nil for the architecture's default (and in
    /// documents from before the axis).
    public var machine: String?
    /// The QEMU build (`system`: the QEMU on PATH; null in documents from
    /// before the axis).
    public var qemu: String?
    /// `PASS`, `FAIL`, `CRASH`, `TIMEOUT`, `PROTOCOL-ERROR` or `SKIP`.
    public var verdict: String
    /// Why, in one sentence.
    public var reason: String
    /// Wall time in seconds (millisecond precision).
    public var durationSeconds: Double
    /// Runs made.
    public var attempts: Int
    /// Failed, then passed on a retry.
    public var flaky: Bool
    /// The run was interrupted while this cell ran or before it started.
    public var interrupted: Bool
    /// QEMU's exit status; nil when killed or never run.
    public var qemuExitCode: Int32?
    /// QEMU's argv.
    public var command: [String]
    /// The crash record, if any.
    public var crash: Crash?
    /// Problems with the serial stream.
    public var protocolErrors: [String]
    /// Every registered test in order (nil in documents from before).
    public var tests: [Test]?
    /// Every guest check in order.
    public var checks: [Check]
    /// Serial log path relative to the report directory.
    public var logPath: String
    /// The live migrations of a migrating cell, in order: `number`,
    /// `downtimeMilliseconds` and `totalMilliseconds` (QEMU's
    /// `query-migrate`), `wallMilliseconds` (request line to destination
    /// running, as the harness saw it), `transferredBytes` (or null). Absent
    /// for a cell that did not migrate.
    public var migrations: [MigrationHop]?
    /// The resets the harness made on the guest's request, in order:
    /// `number`, `atMilliseconds` (from the run's start), `milliseconds`
    /// (the backend's time). Absent when the guest asked for none.
    public var resets: [MachineReset]?
    /// Where every vCPU stood when a timeout ended the run; nil when no
    /// positions were read.
    public var vcpus: [Vcpu]?

    enum CodingKeys: String, CodingKey {
      case id, guest, arch, accel, cpus, memoryMiB, cpuModel, machine, qemu, verdict, reason, durationSeconds
      case attempts, flaky, interrupted, qemuExitCode, command, crash, protocolErrors, tests, checks
      case logPath, migrations, resets, vcpus
    }

    init(_ cell: ReportCell, logPath: String) {
      let result = cell.result
      id = cell.id
      guest = result.guest
      arch = result.architecture.rawValue
      accel = result.accelerator.rawValue
      cpus = cell.cpus
      memoryMiB = cell.memoryMiB
      cpuModel = cell.cpuModel
      machine = cell.machine
      qemu = cell.qemuBuild
      verdict = result.verdict.rawValue
      reason = result.reason
      durationSeconds = cell.durationSeconds
      attempts = cell.attempts
      flaky = cell.flaky
      interrupted = cell.interrupted
      qemuExitCode = result.qemuExitCode
      command = result.command
      crash = result.crash.map(Crash.init)
      protocolErrors = result.protocolErrors
      tests = result.sections.map { Test($0, cell: cell) }
      checks = result.sections.flatMap { section in
        zip(section.checks, section.checkDurations).map {
          Check($0, sectionNumber: section.number, duration: $1, cell: cell)
        }
      }
      self.logPath = logPath
      migrations = result.migrations.isEmpty ? nil : result.migrations
      resets = result.resets.isEmpty ? nil : result.resets
      vcpus = result.vcpuPositions.isEmpty ? nil : result.vcpuPositions.map(Vcpu.init)
    }

    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(id, forKey: .id)
      try c.encode(guest, forKey: .guest)
      try c.encode(arch, forKey: .arch)
      try c.encode(accel, forKey: .accel)
      try c.encode(cpus, forKey: .cpus)
      try c.encode(memoryMiB, forKey: .memoryMiB)
      try c.encode(cpuModel, forKey: .cpuModel)  // null for the default model
      try c.encode(machine, forKey: .machine)  // null for the default machine
      try c.encode(qemu, forKey: .qemu)
      try c.encode(verdict, forKey: .verdict)
      try c.encode(reason, forKey: .reason)
      try c.encode(durationSeconds, forKey: .durationSeconds)
      try c.encode(attempts, forKey: .attempts)
      try c.encode(flaky, forKey: .flaky)
      try c.encode(interrupted, forKey: .interrupted)
      try c.encode(qemuExitCode, forKey: .qemuExitCode)  // null when absent
      try c.encode(command, forKey: .command)
      try c.encode(crash, forKey: .crash)  // null when absent
      try c.encode(protocolErrors, forKey: .protocolErrors)
      try c.encode(tests, forKey: .tests)
      try c.encode(checks, forKey: .checks)
      try c.encode(logPath, forKey: .logPath)
      try c.encodeIfPresent(migrations, forKey: .migrations)
      try c.encodeIfPresent(resets, forKey: .resets)
      try c.encodeIfPresent(vcpus, forKey: .vcpus)
    }
  }

  /// Where one vCPU stood when the harness gave up on the guest.
  public struct Vcpu: Codable, Sendable, Equatable {
    /// The CPU index.
    public var cpu: Int
    /// The program counter, `0x…`.
    public var pc: String
    /// Key registers as QEMU printed them.
    public var registers: [String: String]
    /// The innermost symbolized frame at `pc`, if symbolized.
    public var location: Frame?
    /// Every inlined frame at `pc`, innermost first.
    public var frames: [Frame]
    /// The function at `pc` when it has no line information.
    public var symbol: String?
    /// For `pc` in code without line information (an assembly helper):
    /// the frames of its caller, found through the return address
    /// (s390x R14, x86_64 the word at RSP), innermost first; nil otherwise.
    public var caller: [Frame]?
    /// `CPU n stuck at file:line in function` (or the address).
    public var summary: String

    init(_ position: VcpuPosition) {
      cpu = position.cpu
      pc = "0x" + String(position.pc, radix: 16)
      registers = position.registers
      frames = position.frames.map(Frame.init)
      location = frames.first
      symbol = position.symbol
      caller = position.caller.isEmpty ? nil : position.caller.map(Frame.init)
      summary = position.summary
    }

    enum CodingKeys: String, CodingKey {
      case cpu, pc, registers, location, frames, symbol, caller, summary
    }

    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(cpu, forKey: .cpu)
      try c.encode(pc, forKey: .pc)
      try c.encode(registers, forKey: .registers)
      try c.encode(location, forKey: .location)  // null when not symbolized
      try c.encode(frames, forKey: .frames)
      try c.encode(symbol, forKey: .symbol)  // null when absent
      try c.encodeIfPresent(caller, forKey: .caller)
      try c.encode(summary, forKey: .summary)
    }
  }

  /// A crash record.
  public struct Crash: Codable, Sendable, Equatable {
    /// The `# CRASH:` lines as printed.
    public var lines: [String]
    /// Their `key=value` fields.
    public var fields: [String: String]
    /// The innermost symbolized frame at `rip`, if symbolized.
    public var location: Frame?
    /// Every inlined frame at `rip`, innermost first.
    public var frames: [Frame]

    enum CodingKeys: String, CodingKey {
      case lines, fields, location, frames
    }

    init(_ record: CrashRecord) {
      lines = record.lines
      fields = record.fields
      frames = record.frames.map(Frame.init)
      location = frames.first
    }

    public init(from decoder: any Decoder) throws {
      let c = try decoder.container(keyedBy: CodingKeys.self)
      lines = try c.decode([String].self, forKey: .lines)
      fields = try c.decode([String: String].self, forKey: .fields)
      // Optional within v1: documents written before the field existed.
      location = try c.decodeIfPresent(Frame.self, forKey: .location)
      frames = try c.decodeIfPresent([Frame].self, forKey: .frames) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(lines, forKey: .lines)
      try c.encode(fields, forKey: .fields)
      try c.encode(location, forKey: .location)  // null when not symbolized
      try c.encode(frames, forKey: .frames)
    }
  }

  /// A symbolized code location of a crash.
  public struct Frame: Codable, Sendable, Equatable {
    /// The function (demangled when possible).
    public var function: String
    /// Source file, relative to the package root when inside it.
    public var file: String
    /// 1-based line.
    public var line: Int
    /// 1-based column (0 when unknown).
    public var column: Int
    /// The instruction address, `0x…`.
    public var address: String

    init(_ frame: CrashFrame) {
      function = frame.function
      file = frame.file
      line = frame.line
      column = frame.column
      address = "0x" + String(frame.address, radix: 16)
    }
  }

  /// One registered test (section).
  public struct Test: Codable, Sendable, Equatable {
    /// 1-based number.
    public var number: Int
    /// Its name.
    public var name: String
    /// `passed`, `failed`, `skipped`, `xfailed`, `xpassed` or `unfinished`.
    public var status: String
    /// What its result line said; nil when unfinished.
    public var ok: Bool?
    /// The SKIP, XFAIL or XPASS reason.
    public var reason: String?
    /// Skipped before it ran.
    public var skippedBeforeRun: Bool
    /// Guest source path of its declaration (mapped `#fileID`).
    public var file: String?
    /// The `#fileID` the guest reported.
    public var fileID: String?
    /// 1-based source line.
    public var line: Int?
    /// The CPU that wrote its result line.
    public var cpu: Int?
    /// Guest clock at its result line, nanoseconds since boot.
    public var timeNs: UInt64?
    /// Its duration by the guest clock, nanoseconds.
    public var durationNs: UInt64?
    /// How many checks it made.
    public var checks: Int
    /// Lines printed between its last check and its result line.
    public var diagnostics: [String]

    enum CodingKeys: String, CodingKey {
      case number, name, status, ok, reason, skippedBeforeRun, file, fileID, line, cpu, timeNs
      case durationNs, checks, diagnostics
    }

    init(_ section: GuestSection, cell: ReportCell) {
      number = section.number
      name = section.name
      status = section.status?.rawValue ?? "unfinished"
      ok = section.reportedOK
      reason = section.reason
      skippedBeforeRun = section.skippedBeforeRun
      file = section.location.map(cell.sourcePath(of:))
      fileID = section.location?.fileID
      line = section.location?.line
      cpu = section.cpu
      timeNs = section.time
      durationNs = section.duration
      checks = section.checks.count
      diagnostics = section.diagnostics
    }

    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(number, forKey: .number)
      try c.encode(name, forKey: .name)
      try c.encode(status, forKey: .status)
      try c.encode(ok, forKey: .ok)
      try c.encode(reason, forKey: .reason)
      try c.encode(skippedBeforeRun, forKey: .skippedBeforeRun)
      try c.encode(file, forKey: .file)
      try c.encode(fileID, forKey: .fileID)
      try c.encode(line, forKey: .line)
      try c.encode(cpu, forKey: .cpu)
      try c.encode(timeNs, forKey: .timeNs)
      try c.encode(durationNs, forKey: .durationNs)
      try c.encode(checks, forKey: .checks)
      try c.encode(diagnostics, forKey: .diagnostics)
    }
  }

  /// One guest check.
  public struct Check: Codable, Sendable, Equatable {
    /// Enclosing section (test) name.
    public var section: String
    /// The section's 1-based number.
    public var sectionNumber: Int
    /// 1-based number within the section.
    public var number: Int
    /// The check's message.
    public var name: String
    /// `passed`, `failed`, `skipped` or `xfailed`.
    public var outcome: String
    /// The reason when skipped.
    public var skipReason: String?
    /// The SKIP or XFAIL reason (nil in documents from before).
    public var reason: String?
    /// Guest source path (mapped `#fileID`).
    public var file: String?
    /// The `#fileID` the guest reported.
    public var fileID: String?
    /// 1-based source line.
    public var line: Int?
    /// The CPU that made the check.
    public var cpu: Int?
    /// Guest clock when it was made, nanoseconds since boot.
    public var timeNs: UInt64?
    /// Its duration by the guest clock, nanoseconds.
    public var durationNs: UInt64?
    /// Lines the guest printed with the check.
    public var diagnostics: [String]

    enum CodingKeys: String, CodingKey {
      case section, sectionNumber, number, name, outcome, skipReason, reason, file, fileID, line
      case cpu, timeNs, durationNs, diagnostics
    }

    init(_ check: GuestCheck, sectionNumber: Int, duration: UInt64? = nil, cell: ReportCell) {
      section = check.section
      self.sectionNumber = sectionNumber
      number = check.number
      name = check.name
      outcome = check.outcome.name
      if case .skipped(let reason) = check.outcome { skipReason = reason }
      reason = check.outcome.reason
      file = check.location.map(cell.sourcePath(of:))
      fileID = check.location?.fileID
      line = check.location?.line
      cpu = check.cpu
      timeNs = check.time
      durationNs = duration
      diagnostics = check.diagnostics
    }

    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(section, forKey: .section)
      try c.encode(sectionNumber, forKey: .sectionNumber)
      try c.encode(number, forKey: .number)
      try c.encode(name, forKey: .name)
      try c.encode(outcome, forKey: .outcome)
      try c.encode(skipReason, forKey: .skipReason)
      try c.encode(reason, forKey: .reason)
      try c.encode(file, forKey: .file)
      try c.encode(fileID, forKey: .fileID)
      try c.encode(line, forKey: .line)
      try c.encode(cpu, forKey: .cpu)
      try c.encode(timeNs, forKey: .timeNs)
      try c.encode(durationNs, forKey: .durationNs)
      try c.encode(diagnostics, forKey: .diagnostics)
    }
  }
}
