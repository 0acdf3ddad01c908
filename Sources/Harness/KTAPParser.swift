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

/// Incremental parser of the guest protocol: KTAP version 1 with one
/// subtest per section, `# @file:line` locations on check lines, `# CRASH:`
/// records and a final `# EXIT: STATUS=n` line. Feed it bytes as they
/// arrive; it never needs the whole log.
public struct KTAPParser: Sendable {
  private var stream = ParsedStream()
  private var partial: [UInt8] = []
  private var pendingDiagnostics: [String] = []
  private var openSection: GuestSection?
  private var lineNumber = 0
  /// Bytes dropped from the current line past `LaunchSettings.maxLineBytes`.
  private var lineCut = 0
  /// Checks recorded so far.
  private var checkCount = 0

  /// Most checks one run may report: past it the parser stops recording
  /// (memory and reports stay bounded) and the harness stops the guest.
  public static let maxChecks = 5_000

  /// A parser at the start of a stream.
  public init() {}

  /// The state so far.
  public var result: ParsedStream { stream }

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
      if indent >= 2 {
        handleCheck(result)
      } else {
        handleSectionResult(result)
      }
    } else if indent == 0, line.hasPrefix("1.."), let count = Int(line.dropFirst(3)) {
      if stream.plannedSections != nil { error("second plan line") }
      stream.plannedSections = count
    } else if indent >= 2, line.hasPrefix("1.."), Int(line.dropFirst(3)) != nil {
      // A subtest plan: allowed, not required.
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
      if openSection != nil { error("subtest started inside another subtest") }
      let name = body.dropFirst(8).trimmingSpaces()
      openSection = GuestSection(
        number: stream.sections.count + 1, name: String(name), checks: [], reportedOK: nil)
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
    let anyFailed = section.checks.contains { $0.outcome == .failed }
    if result.ok == anyFailed {
      error("section '\(section.name)' reported \(result.ok ? "ok" : "not ok") but its checks say otherwise")
    }
    section.reportedOK = result.ok
    stream.sections.append(section)
    openSection = nil
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
  var description: String
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
    description = String(rest.trimmingSpaces())
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
