import Foundation
import GuestLib

/// What the parser learned from a guest's serial stream.
public struct ParsedStream: Sendable {
  /// Name from the `# guest:` line.
  public var guestName: String?
  /// Whether the `KTAP version 1` header was seen.
  public var sawHeader = false
  /// Number of sections (registered tests) announced by the top-level plan.
  public var plannedSections: Int?
  /// Sections (registered tests) in order, those skipped before they ran
  /// included (the last may be unterminated).
  public var sections: [GuestSection] = []
  /// Status of the `# EXIT: STATUS=n` line.
  public var exitStatus: Int?
  /// The crash record, if any.
  public var crash: CrashRecord?
  /// Protocol violations found.
  public var protocolErrors: [String] = []
  /// Lines before the header (firmware noise), kept for the log.
  public var preamble: [String] = []
  /// The guest reported more than `KTAPParser.maxChecks` checks.
  public var checkLimitReached = false
  /// Requests to the harness (`# harness: migrate`, `# harness: nmi`)
  /// seen after the header, in order.
  public var requests: [HarnessRequest] = []
  /// Migration requests among `requests`.
  public var migrationRequests: Int { requests.filter { $0 == .migrate }.count }
  /// Reset requests among `requests`.
  public var resetRequests: Int { requests.filter { $0 == .reset }.count }
  /// Documents that continued the run after a reset: a `KTAP version 1`
  /// header after a `# harness: reset` line (guests/lib/Protocol/
  /// KTAPGrammar.swift). The judge holds it against the resets the harness
  /// made.
  public var resumes = 0
}

/// The protocol's rule for test names (guests/lib/Protocol/KTAPGrammar.swift,
/// `GuestLib.KTAPName`): the KTAP specification forbids `#` in a test
/// description and Linux's kunit_parser cuts a name at its first `#`, so on
/// the wire every `#` of a test or check name is U+FF03 FULLWIDTH NUMBER SIGN
/// (`＃`) and a line feed a space. The guest writer applies it byte by
/// byte; the parser reads `＃` in a name back as `#`, and the runner's
/// results-<arch>.ktap writes names by the same rule. A name that itself
/// contains `＃` therefore reads back with `#`.
public enum KTAPName {
  /// What stands for `#` in a name on the wire (the grammar's
  /// `KTAPName.replacement`).
  public static let replacement = Character(GuestLib.KTAPName.replacement.description)

  /// `name` as written on the wire: every `#` replaced, line feeds as
  /// spaces.
  public static func encode(_ name: String) -> String {
    var scalars = String.UnicodeScalarView()
    for scalar in name.unicodeScalars {
      switch scalar {
      case "#": scalars.append(contentsOf: String(replacement).unicodeScalars)
      case "\n": scalars.append(" ")
      default: scalars.append(scalar)
      }
    }
    return String(scalars)
  }

  /// A name read from the wire: every replacement read back as `#`.
  public static func decode(_ name: some StringProtocol) -> String {
    String(name).replacing(String(replacement), with: "#")
  }
}

/// Protocol texts the host looks for, as the grammar defines them.
enum ProtocolText {
  /// The diagnostic before the `not ok` line of a test that made no check.
  static let madeNoCheck = KTAP.noCheckDiagnostic.description
  /// The diagnostic before the `not ok` line of a test a `require` stopped.
  static let stoppedByRequire = KTAP.stoppedByRequireDiagnostic.description
}

/// Incremental parser of the guest protocol (README.md, "The protocol": KTAP
/// version 1 with one subtest per registered test, result lines with a
/// directive and a trailer, `# CRASH:` records and a final `# EXIT:
/// STATUS=n` line). Lines are classified by the grammar the guests write
/// with (`KTAPLine.parse` in guests/lib/Protocol/KTAPGrammar.swift); this
/// parser adds the structure. Feed it bytes as they arrive; it never needs
/// the whole log.
///
/// A test is a subtest block (`KTAP version 1`, `# Subtest: NAME`, its
/// checks) closed by its result line at the top level, or, when it was
/// skipped before it ran, the result line `ok N NAME # SKIP reason` alone.
/// The result line's directive gives the test's status (`SKIP`, `XFAIL`,
/// `XPASS`; none: `ok` passed, `not ok` failed), and it must agree with the
/// checks: `ok` has no failed check, XFAIL has an XFAIL check and no failed
/// one, XPASS has neither, and a `not ok` test without a failed check made
/// no check at all. Check lines are `ok`, `not ok`, `ok … # SKIP reason`
/// or `ok … # XFAIL reason`. Trailer tokens (`@FILEID:LINE cpu=N t=NS
/// dt=NS`) are optional: guests of the protocol's first version write only
/// `@FILEID:LINE` on checks.
///
/// A test may carry a plan (`1..N` right after its header); the guest
/// writer prints none, since a test does not know its check count up
/// front. A plan that is present must match the checks the test closes
/// with. The only subtest allowed inside a test is the crash marker the
/// guest prints when it crashes inside a test (`KTAP.writeCrashMarker`): a
/// nested `# Subtest: (crashed)` with plan `1..1`, its `not ok` line, then
/// the test's `not ok` line. The marker is not a check, and the test it
/// closes counts as unfinished.
public struct KTAPParser: Sendable {
  private var stream = ParsedStream()
  private var partial: [UInt8] = []
  /// Diagnostics inside the open test since its last check.
  private var pendingDiagnostics: [String] = []
  /// Top-level diagnostics since the last test header or result line.
  private var topDiagnostics: [String] = []
  private var openSection: GuestSection?
  /// The open section's own plan, when it printed one.
  private var sectionPlan: Int?
  /// Where the crash marker of the open section is: its header seen, its
  /// result line seen.
  private var crashMarker: CrashMarkerState = .none
  private var lineNumber = 0
  /// Bytes dropped from the current line past `LaunchSettings.maxLineBytes`.
  private var lineCut = 0
  /// Checks recorded so far.
  private var checkCount = 0
  /// A reset request line came and no header since: the next top-level
  /// header continues the run, and lines that are no protocol line are
  /// the reboot's firmware noise.
  private var awaitingResume = false
  /// Where a continuing document is: its header seen, and its plan line.
  private var resuming: ResumeState = .none

  private enum ResumeState: Sendable {
    case none
    /// Header seen; the guest name, the plan and the reopened test follow.
    case header(planSeen: Bool)
  }

  /// Most checks one run may report: past it the parser stops recording
  /// (memory and reports stay bounded) and the harness stops the guest.
  public static let maxChecks = 2_000

  private enum CrashMarkerState: Sendable {
    case none
    case open(name: String)
    case closed
  }

  /// The name of the crash marker subtest (`KTAP.crashMarkerName`).
  static let crashMarkerName = KTAP.crashMarkerName.description

  /// A parser at the start of a stream.
  public init() {}

  /// The state so far.
  public var result: ParsedStream { stream }

  /// How many check result lines were parsed so far (the open section's
  /// included), counting each check once.
  public private(set) var checksParsed = 0

  /// Feeds raw serial bytes; complete lines are parsed at once.
  public mutating func consume(bytes: some Sequence<UInt8>) {
    for byte in bytes {
      if byte == 10 {
        endLine()
      } else if partial.count < LaunchSettings.maxLineBytes {
        partial.append(byte)
      } else {
        // A line without end: keep the parser's memory bounded.
        lineCut += 1
      }
    }
  }

  /// Parses the bytes collected for the current line.
  private mutating func endLine() {
    let bytes = partial
    partial.removeAll(keepingCapacity: true)
    bytes.withUnsafeBufferPointer { consume(lineBytes: $0) }
    if lineCut > 0 {
      error("line longer than \(LaunchSettings.maxLineBytes) bytes; \(lineCut) bytes cut")
      lineCut = 0
    }
  }

  /// Ends the stream: a trailing partial line is parsed, an open section
  /// is kept as unterminated, and the plan is checked.
  public mutating func finish() -> ParsedStream {
    if !partial.isEmpty { endLine() }
    if let open = openSection {
      stream.sections.append(open)
      openSection = nil
    }
    return stream
  }

  private mutating func error(_ message: String) {
    stream.protocolErrors.append("serial line \(lineNumber): \(message)")
  }

  /// Parses one line (without its newline).
  public mutating func consume(line rawLine: String) {
    Array(rawLine.utf8).withUnsafeBufferPointer { consume(lineBytes: $0) }
  }

  /// Parses one line's bytes (without the newline).
  private mutating func consume(lineBytes buffer: UnsafeBufferPointer<UInt8>) {
    lineNumber += 1
    let line = KTAPLine.parse(buffer)
    func text(_ range: Range<Int>) -> String {
      String(decoding: UnsafeBufferPointer(rebasing: buffer[range]), as: UTF8.self)
    }
    if line.kind == .blank { return }
    // The line without its indentation and line end, as printed.
    var end = buffer.count
    while end > line.indent, buffer[end - 1] == 0x0D { end -= 1 }
    let shown = text(line.indent..<end)
    guard stream.sawHeader else {
      if line.indent == 0 && line.kind == .version {
        stream.sawHeader = true
      } else if line.kind == .crash || line.kind == .exit {
        handleDiagnostic(line, text: text, shown: shown)
      } else {
        stream.preamble.append(shown)
      }
      return
    }
    if stream.exitStatus != nil {
      error("output after the exit line: \(shown)")
      return
    }
    if line.kind == .diagnostic, let base = buffer.baseAddress,
      let request = KTAP.request(in: base, line.text.lowerBound, line.text.upperBound)
    {
      stream.requests.append(request)
      if request == .reset { awaitingResume = true }
    }
    if awaitingResume && line.kind == .unknown {
      stream.preamble.append(shown)
      return
    }
    switch line.kind {
    case .blank:
      return
    case .diagnostic, .subtestHeader, .guestName, .totals, .exit, .crash:
      handleDiagnostic(line, text: text, shown: shown)
    case .version:
      if line.indent == 0 && awaitingResume {
        awaitingResume = false
        stream.resumes += 1
        resuming = .header(planSeen: false)
      } else if line.indent == 0 {
        error("second KTAP header")
      }
    case .result:
      let result = ResultLine(line, text: text)
      if result.nameHasHash {
        error("test name '\(result.description)' contains '#' (the protocol writes it as \(KTAPName.replacement))")
      }
      if case .open(let name) = crashMarker, line.indent >= 2 {
        let number = (openSection?.checks.count ?? 0) + 1
        if result.ok || result.description != name || result.number != number {
          error("crash marker closed by '\(shown)' (expected not ok \(number) \(name))")
        }
        crashMarker = .closed
      } else if line.indent >= 2 {
        if case .header = resuming, let open = openSection {
          error("check '\(result.description)' after reset \(stream.resumes) before test '\(open.name)' was reopened")
        }
        resuming = .none
        handleCheck(result)
      } else {
        resuming = .none
        handleSectionResult(result)
      }
    case .plan where line.indent == 0:
      if case .header(planSeen: false) = resuming {
        resuming = .header(planSeen: true)
        if stream.plannedSections != line.count {
          error("plan \(shown) after reset \(stream.resumes), where the run planned \(stream.plannedSections.map(String.init) ?? "nothing")")
        }
        return
      }
      if stream.plannedSections != nil { error("second plan line") }
      stream.plannedSections = line.count
    case .plan where line.indent >= 2:
      if case .open = crashMarker {
        if line.count != 1 { error("crash marker plan \(shown) (must be 1..1)") }
      } else if let section = openSection, section.checks.isEmpty, sectionPlan == nil {
        sectionPlan = line.count
      } else {
        error("test plan \(shown) not right after the test's header")
      }
    case .plan, .unknown:
      error("not a protocol line: \(shown)")
    }
  }

  private mutating func handleDiagnostic(
    _ line: KTAPLine, text: (Range<Int>) -> String, shown: String
  ) {
    switch line.kind {
    case .exit:
      if line.malformed {
        error("malformed exit line: \(shown)")
      } else {
        stream.exitStatus = line.count
      }
    case .crash:
      let body = "CRASH:" + text(line.text)
      var record = stream.crash ?? CrashRecord(lines: [], fields: [:])
      record.lines.append(body)
      for (key, value) in Self.fields(Substring(text(line.text))) { record.fields[key] = value }
      stream.crash = record
    case .subtestHeader:
      let rawName = text(line.name)
      if rawName.contains("#") {
        error("subtest name '\(rawName)' contains '#' (the protocol writes it as \(KTAPName.replacement))")
      }
      let name = KTAPName.decode(rawName)
      if openSection != nil && line.indent > 4, case .none = crashMarker, name == Self.crashMarkerName {
        crashMarker = .open(name: name)
        return
      }
      if case .header = resuming {
        resuming = .none
        if let open = openSection {
          // The test that asked for the reset, reopened: its checks go on.
          if name != open.name {
            error("after reset \(stream.resumes) the guest opened test '\(name)' where '\(open.name)' was open")
          }
          return
        }
      }
      if openSection != nil { error("subtest started inside another subtest") }
      openSection = GuestSection(
        number: stream.sections.count + 1, name: name, checks: [], reportedOK: nil)
      sectionPlan = nil
      crashMarker = .none
      pendingDiagnostics = []
      topDiagnostics = []
    case .guestName:
      let name = text(line.name)
      if case .header = resuming, let first = stream.guestName, first != name {
        error("guest '\(name)' after reset \(stream.resumes), where the run is guest '\(first)'")
      }
      stream.guestName = name
    case .totals:
      break
    default:
      let body = text(line.text)
      if line.indent > 0 && openSection != nil {
        pendingDiagnostics.append(body)
      } else if line.indent == 0 {
        topDiagnostics.append(body)
      }
    }
  }

  private mutating func handleCheck(_ result: ResultLine) {
    guard var section = openSection else {
      error("check '\(result.description)' outside a subtest")
      return
    }
    if case .closed = crashMarker {
      error("check '\(result.description)' after the crash marker")
    }
    if checkCount >= Self.maxChecks {
      if !stream.checkLimitReached {
        stream.checkLimitReached = true
        error("more than \(Self.maxChecks) checks; later checks are not recorded")
      }
      return
    }
    checkCount += 1
    // Take the section out while appending, so that its check array is
    // not shared (and copied) on every check.
    openSection = nil
    let expected = section.checks.count + 1
    if result.number != expected {
      error(
        "check number \(result.number) in '\(section.name)' where \(expected) was expected"
          + (result.number < expected ? " (duplicate)" : " (missing checks)"))
    }
    let outcome: CheckOutcome
    switch result.directive {
    case .skip: outcome = .skipped(reason: result.reason)
    case .xfail: outcome = .xfailed(reason: result.reason)
    case .xpass:
      error("check '\(result.description)' in '\(section.name)' has the directive XPASS, which only a test's result line may have")
      outcome = result.ok ? .passed : .failed
    case .unknown:
      error("check '\(result.description)' in '\(section.name)' has an unknown directive '\(result.reason)'")
      outcome = result.ok ? .passed : .failed
    case .none:
      outcome = result.ok ? .passed : .failed
    }
    checksParsed += 1
    section.checks.append(
      GuestCheck(
        section: section.name, number: result.number, name: result.description,
        outcome: outcome, location: result.location, diagnostics: pendingDiagnostics,
        cpu: result.cpu, time: result.time))
    pendingDiagnostics = []
    openSection = section
  }

  private mutating func handleSectionResult(_ result: ResultLine) {
    let expected = stream.sections.count + 1
    guard var section = openSection else {
      if result.directive == .skip {
        // Skipped before it ran: the result line alone.
        if result.number != expected {
          error("test number \(result.number) where \(expected) was expected")
        }
        var skipped = GuestSection(
          number: expected, name: result.description, checks: [], reportedOK: result.ok)
        skipped.skippedBeforeRun = true
        apply(result, status: .skipped, to: &skipped)
        skipped.diagnostics = topDiagnostics
        stream.sections.append(skipped)
        topDiagnostics = []
      } else {
        error("test result '\(result.description)' without a subtest header (only a test skipped before it ran, '# SKIP', has none)")
      }
      return
    }
    if result.number != expected {
      error("test number \(result.number) where \(expected) was expected")
    }
    if result.description != section.name {
      error("test result '\(result.description)' closes subtest '\(section.name)'")
    }
    switch crashMarker {
    case .closed:
      // Closed by the guest's crash handler: the section did not finish.
      if result.ok { error("test '\(section.name)' reported ok after its crash marker") }
      apply(result, status: nil, to: &section)
    case .open:
      error("test '\(section.name)' closed inside its crash marker")
    case .none:
      let status = checkedStatus(result, section)
      if let plan = sectionPlan, plan != section.checks.count {
        error("test '\(section.name)' planned \(plan) checks and made \(section.checks.count)")
      }
      section.reportedOK = result.ok
      apply(result, status: status, to: &section)
      section.diagnostics = pendingDiagnostics + topDiagnostics
    }
    stream.sections.append(section)
    openSection = nil
    sectionPlan = nil
    crashMarker = .none
    pendingDiagnostics = []
    topDiagnostics = []
  }

  /// The status a test's result line gives, with a protocol error where it
  /// disagrees with the test's checks.
  private mutating func checkedStatus(_ result: ResultLine, _ section: GuestSection) -> TestStatus {
    let failed = section.checks.contains { $0.outcome == .failed }
    let xfailed = section.checks.contains { if case .xfailed = $0.outcome { true } else { false } }
    let name = section.name
    let status: TestStatus
    switch result.directive {
    case .skip:
      status = .skipped
      if failed { error("test '\(name)' reported SKIP but a check failed") }
    case .xfail:
      status = .xfailed
      if !result.ok { error("test '\(name)' reported not ok with XFAIL (an expected failure is ok)") }
      if failed {
        error("test '\(name)' reported XFAIL but has a failed check (inside an XFAIL test a failing check is XFAIL)")
      } else if !xfailed {
        error("test '\(name)' reported XFAIL but none of its checks failed (that is XPASS)")
      }
    case .xpass:
      status = .xpassed
      if failed || xfailed { error("test '\(name)' reported XPASS but a check failed") }
    case .unknown:
      error("test '\(name)' has an unknown directive '\(result.reason)'")
      status = result.ok ? .passed : .failed
    case .none:
      status = result.ok ? .passed : .failed
      if result.ok && failed {
        error("test '\(name)' reported ok but its checks say otherwise")
      } else if !result.ok && !failed && !section.checks.isEmpty {
        error("test '\(name)' reported not ok but its checks say otherwise")
      }
    }
    if xfailed && result.directive != .xfail {
      error("test '\(name)' has XFAIL checks but its result line is not XFAIL")
    }
    return status
  }

  /// The result line's status, reason and trailer on `section`.
  private func apply(_ result: ResultLine, status: TestStatus?, to section: inout GuestSection) {
    section.reportedStatus = status
    switch result.directive {
    case .skip, .xfail, .xpass: section.reason = result.reason
    case .none, .unknown: section.reason = nil
    }
    section.location = result.location
    section.cpu = result.cpu
    section.time = result.time
    section.duration = result.duration
  }

  /// `key=value` pairs, with `"quoted values"`.
  static func fields(_ text: Substring) -> [(String, String)] {
    var result: [(String, String)] = []
    var rest = text.trimmingSpaces()
    while !rest.isEmpty {
      guard let equals = rest.firstIndex(of: "=") else { break }
      let key = String(rest[..<equals])
      rest = rest[rest.index(after: equals)...]
      var value: Substring
      if rest.first == "\"" {
        rest = rest.dropFirst()
        let close = rest.firstIndex(of: "\"") ?? rest.endIndex
        value = rest[..<close]
        rest = close < rest.endIndex ? rest[rest.index(after: close)...] : rest[close...]
      } else {
        let space = rest.firstIndex(of: " ") ?? rest.endIndex
        value = rest[..<space]
        rest = rest[space...]
      }
      result.append((key, String(value)))
      rest = rest.trimmingSpaces()
    }
    return result
  }
}

/// A KTAP result line as the host models it: the grammar's `KTAPLine` with
/// its ranges read as text.
struct ResultLine {
  var ok: Bool
  var number: Int
  /// The name as read back (`KTAPName.decode`).
  var description: String
  /// The name on the wire held a `#`, which the protocol never writes.
  var nameHasHash: Bool
  var directive: KTAPDirective
  /// The directive's reason (for an unknown directive: its text).
  var reason: String
  var location: GuestSourceLocation?
  var cpu: Int?
  var time: UInt64?
  var duration: UInt64?

  init(_ line: KTAPLine, text: (Range<Int>) -> String) {
    ok = line.ok
    number = line.number
    let raw = text(line.name)
    nameHasHash = raw.contains("#")
    description = KTAPName.decode(raw)
    directive = line.directive
    reason = text(line.reason)
    if let fileID = line.fileID, let sourceLine = line.line {
      location = GuestSourceLocation(fileID: text(fileID), line: sourceLine)
    }
    cpu = line.cpu
    time = line.time
    duration = line.duration
  }
}

extension Substring {
  func trimmingSpaces() -> Substring {
    var text = self
    while text.first == " " { text.removeFirst() }
    while text.last == " " { text.removeLast() }
    return text
  }
}
