import Foundation

/// What the parser learned from a guest's serial stream.
public struct ParsedStream: Sendable {
  /// Name from the `# guest:` line.
  public var guestName: String?
  /// Whether the `KTAP version 1` header was seen.
  public var sawHeader = false
  /// Number of sections announced by the top-level plan.
  public var plannedSections: Int?
  /// Sections in order (the last may be unterminated).
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
}

/// The protocol's rule for test names (README.md, "The protocol"): the
/// KTAP specification forbids `#` in a test description and Linux's
/// kunit_parser cuts a name at its first `#`, so on the wire every `#` of a
/// section or check name is U+FF03 FULLWIDTH NUMBER SIGN (`＃`). The guest
/// writer (`KTAPName` in guests/lib/Report/GuestTest.swift) applies it byte
/// by byte; the parser reads `＃` in a name back as `#`, and the runner's
/// results-<arch>.ktap writes names by the same rule. A name that itself
/// contains `＃` therefore reads back with `#`.
public enum KTAPName {
  /// What stands for `#` in a name on the wire.
  public static let replacement: Character = "\u{FF03}"

  /// `name` as written on the wire: every `#` replaced.
  public static func encode(_ name: String) -> String {
    name.replacing("#", with: String(replacement))
  }

  /// A name read from the wire: every replacement read back as `#`.
  public static func decode(_ name: some StringProtocol) -> String {
    String(name).replacing(String(replacement), with: "#")
  }
}

/// Incremental parser of the guest protocol: KTAP version 1 with one
/// subtest per section, `# @file:line` locations on check lines, `# CRASH:`
/// records and a final `# EXIT: STATUS=n` line. Feed it bytes as they
/// arrive; it never needs the whole log.
///
/// A section may carry a plan (`1..N` right after its header); the guest
/// writer prints none, since a section does not know its check count up
/// front. A plan that is present must match the checks the section closes
/// with. The only subtest allowed inside a section is the crash marker the
/// guest prints when it crashes inside a section (`closeSectionAfterCrash`
/// in GuestTest.swift): a nested `# Subtest: (crashed)` with plan `1..1`,
/// its `not ok` line, then the section's `not ok` line. The marker is not a
/// check, and the section it closes counts as unfinished.
public struct KTAPParser: Sendable {
  private var stream = ParsedStream()
  private var partial: [UInt8] = []
  private var pendingDiagnostics: [String] = []
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

  /// Most checks one run may report: past it the parser stops recording
  /// (memory and reports stay bounded) and the harness stops the guest.
  public static let maxChecks = 2_000

  private enum CrashMarkerState: Sendable {
    case none
    case open(name: String)
    case closed
  }

  /// The name of the crash marker subtest.
  static let crashMarkerName = "(crashed)"

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
        let line = String(decoding: partial, as: UTF8.self)
        partial.removeAll(keepingCapacity: true)
        consume(line: line)
        if lineCut > 0 {
          error("line longer than \(LaunchSettings.maxLineBytes) bytes; \(lineCut) bytes cut")
          lineCut = 0
        }
      } else if partial.count < LaunchSettings.maxLineBytes {
        partial.append(byte)
      } else {
        // A line without end: keep the parser's memory bounded.
        lineCut += 1
      }
    }
  }

  /// Ends the stream: a trailing partial line is parsed, an open section
  /// is kept as unterminated, and the plan is checked.
  public mutating func finish() -> ParsedStream {
    if !partial.isEmpty {
      let line = String(decoding: partial, as: UTF8.self)
      partial.removeAll()
      consume(line: line)
      if lineCut > 0 {
        error("line longer than \(LaunchSettings.maxLineBytes) bytes; \(lineCut) bytes cut")
        lineCut = 0
      }
    }
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
    lineNumber += 1
    var line = Substring(rawLine)
    while line.last == "\r" { line.removeLast() }
    var indent = 0
    while line.first == " " {
      line.removeFirst()
      indent += 1
    }
    if line.isEmpty { return }
    guard stream.sawHeader else {
      if indent == 0 && line == "KTAP version 1" {
        stream.sawHeader = true
      } else if line.hasPrefix("# CRASH:") || line.hasPrefix("# EXIT:") {
        stream.sawHeader = false
        handleDiagnostic(line, indent: indent)
      } else {
        stream.preamble.append(String(line))
      }
      return
    }
    if stream.exitStatus != nil {
      error("output after the exit line: \(line)")
      return
    }
    if line.hasPrefix("#") {
      handleDiagnostic(line, indent: indent)
    } else if line == "KTAP version 1" {
      if indent == 0 { error("second KTAP header") }
    } else if let result = ResultLine(line) {
      if result.nameHasHash {
        error("test name '\(result.description)' contains '#' (the protocol writes it as \(KTAPName.replacement))")
      }
      if case .open(let name) = crashMarker, indent >= 2 {
        let number = (openSection?.checks.count ?? 0) + 1
        if result.ok || result.description != name || result.number != number {
          error("crash marker closed by '\(line)' (expected not ok \(number) \(name))")
        }
        crashMarker = .closed
      } else if indent >= 2 {
        handleCheck(result)
      } else {
        handleSectionResult(result)
      }
    } else if indent == 0, line.hasPrefix("1.."), let count = Int(line.dropFirst(3)) {
      if stream.plannedSections != nil { error("second plan line") }
      stream.plannedSections = count
    } else if indent >= 2, line.hasPrefix("1.."), let count = Int(line.dropFirst(3)) {
      if case .open = crashMarker {
        if count != 1 { error("crash marker plan \(line) (must be 1..1)") }
      } else if let section = openSection, section.checks.isEmpty, sectionPlan == nil {
        sectionPlan = count
      } else {
        error("section plan \(line) not right after the section header")
      }
    } else {
      error("not a protocol line: \(line)")
    }
  }

  private mutating func handleDiagnostic(_ line: Substring, indent: Int) {
    let body = line.dropFirst().drop { $0 == " " }
    if body.hasPrefix("EXIT:") {
      let value = body.dropFirst(5).trimmingSpaces()
      if value.hasPrefix("STATUS="), let status = Int(value.dropFirst(7)) {
        stream.exitStatus = status
      } else {
        error("malformed exit line: \(line)")
      }
    } else if body.hasPrefix("CRASH:") {
      var record = stream.crash ?? CrashRecord(lines: [], fields: [:])
      record.lines.append(String(body))
      for (key, value) in Self.fields(body.dropFirst(6)) { record.fields[key] = value }
      stream.crash = record
    } else if body.hasPrefix("Subtest:") {
      let rawName = body.dropFirst(8).trimmingSpaces()
      if rawName.contains("#") {
        error("subtest name '\(rawName)' contains '#' (the protocol writes it as \(KTAPName.replacement))")
      }
      let name = KTAPName.decode(rawName)
      if openSection != nil && indent > 4, case .none = crashMarker, name == Self.crashMarkerName {
        crashMarker = .open(name: name)
        return
      }
      if openSection != nil { error("subtest started inside another subtest") }
      openSection = GuestSection(
        number: stream.sections.count + 1, name: name, checks: [], reportedOK: nil)
      sectionPlan = nil
      crashMarker = .none
      pendingDiagnostics = []
    } else if body.hasPrefix("guest:") {
      stream.guestName = String(body.dropFirst(6).trimmingSpaces())
    } else if indent > 0 && openSection != nil {
      pendingDiagnostics.append(String(body))
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
    if let reason = result.skipReason {
      outcome = .skipped(reason: reason)
    } else {
      outcome = result.ok ? .passed : .failed
    }
    checksParsed += 1
    section.checks.append(
      GuestCheck(
        section: section.name, number: result.number, name: result.description,
        outcome: outcome, location: result.location, diagnostics: pendingDiagnostics))
    pendingDiagnostics = []
    openSection = section
  }

  private mutating func handleSectionResult(_ result: ResultLine) {
    guard var section = openSection else {
      error("section result '\(result.description)' without a subtest header")
      return
    }
    let expected = stream.sections.count + 1
    if result.number != expected {
      error("section number \(result.number) where \(expected) was expected")
    }
    if result.description != section.name {
      error("section result '\(result.description)' closes subtest '\(section.name)'")
    }
    switch crashMarker {
    case .closed:
      // Closed by the guest's crash handler: the section did not finish.
      if result.ok { error("section '\(section.name)' reported ok after its crash marker") }
    case .open:
      error("section '\(section.name)' closed inside its crash marker")
    case .none:
      let anyFailed = section.checks.contains { $0.outcome == .failed }
      if result.ok == anyFailed {
        error("section '\(section.name)' reported \(result.ok ? "ok" : "not ok") but its checks say otherwise")
      }
      if let plan = sectionPlan, plan != section.checks.count {
        error("section '\(section.name)' planned \(plan) checks and made \(section.checks.count)")
      }
      section.reportedOK = result.ok
    }
    stream.sections.append(section)
    openSection = nil
    sectionPlan = nil
    crashMarker = .none
    pendingDiagnostics = []
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

/// A KTAP result line: `ok|not ok N description[ # directive @file:line]`.
struct ResultLine {
  var ok: Bool
  var number: Int
  /// The name as read back (`KTAPName.decode`).
  var description: String
  /// The name on the wire held a `#`, which the protocol never writes.
  var nameHasHash = false
  var skipReason: String?
  var location: GuestSourceLocation?

  init?(_ line: Substring) {
    var rest: Substring
    if line.hasPrefix("ok ") {
      ok = true
      rest = line.dropFirst(3)
    } else if line.hasPrefix("not ok ") {
      ok = false
      rest = line.dropFirst(7)
    } else {
      return nil
    }
    let digits = rest.prefix { $0.isNumber }
    guard let number = Int(digits) else { return nil }
    self.number = number
    rest = rest.dropFirst(digits.count).trimmingSpaces()
    var directive: Substring = ""
    if let hash = rest.range(of: " # ") {
      directive = rest[hash.upperBound...]
      rest = rest[..<hash.lowerBound]
    } else if rest.hasPrefix("# ") {
      directive = rest.dropFirst(2)
      rest = ""
    }
    nameHasHash = rest.contains("#")
    description = KTAPName.decode(rest.trimmingSpaces())
    if let at = directive.range(of: "@", options: .backwards) {
      let text = directive[at.upperBound...]
      if let colon = text.lastIndex(of: ":"), let line = Int(text[text.index(after: colon)...]) {
        location = GuestSourceLocation(fileID: String(text[..<colon]), line: line)
        directive = directive[..<at.lowerBound]
      }
    }
    directive = directive.trimmingSpaces()
    if directive.uppercased().hasPrefix("SKIP") {
      skipReason = String(directive.dropFirst(4).trimmingSpaces())
    }
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
