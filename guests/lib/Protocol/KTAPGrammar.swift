// The guest test protocol (KTAP version 1 dialect; README.md, "The protocol"),
// defined once and compiled twice: into every guest payload (Embedded Swift,
// the toolchain's stdlib or the minimal core of guests/core) by the payload
// builder, and into the host's `GuestLib` module, which the harness's
// KTAPParser uses to classify serial lines. So this file uses only what both
// have: `StaticString`, integers, `Bool`, `Optional`, `Range<Int>` and
// unsafe (buffer) pointers to bytes — no `String`, no Foundation, no
// existentials, no allocation.
//
// It holds:
// - the line kinds and their literal prefixes (`KTAP.versionLine`, …);
// - the name rule (`KTAPName`);
// - the directives (`KTAPDirective`: SKIP, XFAIL, XPASS);
// - the trailer (`KTAPTrailer`: `@FILEID:LINE cpu=N t=NS dt=NS`, each token
//   optional, always in that order);
// - writers of whole lines through `Console` (`KTAP.write…`), each line
//   between `Console.beginLine()` and `Console.endLine()` so that lines of
//   several CPUs are never torn;
// - a byte-level line parser (`KTAPLine.parse`) returning the kind and the
//   values of one line, ranges as byte offsets into the parsed buffer.
//
// One document, as a guest writes it:
//
//     KTAP version 1
//     # guest: selftest
//     1..2
//         KTAP version 1
//         # Subtest: arithmetic
//         ok 1 wrapping add # @selftest/Selftest.swift:10 cpu=0 t=1203400
//         # expected 0x1f (31), got 0x1e (30)
//         not ok 2 expectEqual line 12 # @selftest/Selftest.swift:12 cpu=1 t=1203900
//     not ok 1 arithmetic # @selftest/Selftest.swift:30 cpu=0 t=1204500 dt=1100
//     ok 2 needs two cpus # SKIP needs 2 CPUs @selftest/Selftest.swift:31 cpu=0 t=1204600
//     # Totals: pass:1 fail:1 skip:1 xfail:0 xpass:0
//     # EXIT: STATUS=1

/// The kinds of protocol lines.
public enum KTAPLineKind: UInt8, Sendable {
  /// Nothing but spaces (and a carriage return).
  case blank
  /// `KTAP version 1` (at any depth: a document or a subtest starts).
  case version
  /// `# guest: NAME` (`KTAPLine.name`).
  case guestName
  /// `1..N` (`KTAPLine.count`).
  case plan
  /// `# Subtest: NAME` (`KTAPLine.name`, raw: the name rule applied).
  case subtestHeader
  /// `ok N NAME[ # [DIRECTIVE [REASON]] [TRAILER]]` or `not ok …`.
  case result
  /// `# Totals: pass:P fail:F skip:S[ xfail:X xpass:Y]` (`KTAPLine.totals`).
  case totals
  /// `# EXIT: STATUS=n` (`KTAPLine.count`; `malformed` when the status is
  /// not a number).
  case exit
  /// `# CRASH: …` (`KTAPLine.text`: what follows `CRASH:`).
  case crash
  /// Any other `# …` line (`KTAPLine.text`: what follows `#` and spaces).
  case diagnostic
  /// A line that is none of these (`KTAPLine.text`: the whole line).
  case unknown
}

/// The directive of a result line: what follows ` # ` before the trailer.
public enum KTAPDirective: UInt8, Sendable {
  /// No directive.
  case none
  /// `SKIP reason`: the test or check did not run.
  case skip
  /// `XFAIL reason`: expected to fail, and failed (written `ok`).
  case xfail
  /// `XPASS reason`: expected to fail, and passed (`not ok` unless the
  /// command line has `harness.xpass=allow`).
  case xpass
  /// Text that is neither a directive nor a trailer (only the parser
  /// returns it; `KTAPLine.reason` holds the text; writers write nothing).
  case unknown

  /// The directive's keyword as written (empty for `none` and `unknown`).
  public var keyword: StaticString {
    switch self {
    case .skip: return KTAP.skipKeyword
    case .xfail: return KTAP.xfailKeyword
    case .xpass: return KTAP.xpassKeyword
    case .none, .unknown: return ""
    }
  }
}

/// Text a writer puts on the wire: static text, optionally followed by
/// ` line N` (default check names: `expectEqual line 42`).
public struct KTAPText: Sendable {
  /// Static text written before `text` (`needs CPU feature ` + a feature's
  /// name); nil: none.
  public var prefix: StaticString?
  /// The text.
  public var text: StaticString
  /// When set, ` line <lineSuffix>` follows the text.
  public var lineSuffix: UInt?

  /// `prefix` and `text`, followed by ` line <line>` when `line` is given.
  public init(_ text: StaticString, line: UInt? = nil, prefix: StaticString? = nil) {
    self.prefix = prefix
    self.text = text
    self.lineSuffix = line
  }

  /// No text and no suffix.
  public var isEmpty: Bool {
    text.utf8CodeUnitCount == 0 && lineSuffix == nil && (prefix?.utf8CodeUnitCount ?? 0) == 0
  }
}

extension KTAPText: ExpressibleByStringLiteral {
  /// A literal's text, without a suffix.
  public init(stringLiteral value: StaticString) { self.init(value) }
  /// A literal's text, without a suffix.
  public init(extendedGraphemeClusterLiteral value: StaticString) { self.init(value) }
  /// A literal's text, without a suffix.
  public init(unicodeScalarLiteral value: StaticString) { self.init(value) }
}

/// The trailer of a result line, written after the directive:
/// `@FILEID:LINE cpu=N t=NS dt=NS`, every token optional, always in this
/// order, separated by one space. `t` is the guest clock in nanoseconds
/// since boot when the line was written; `dt` (test result lines only) the
/// test's duration in nanoseconds.
public struct KTAPTrailer: Sendable {
  /// `#fileID` of the source location (`@FILEID:LINE`); nil: no location.
  public var fileID: StaticString?
  /// Its line.
  public var line: UInt
  /// The CPU that wrote the line (`cpu=N`).
  public var cpu: Int?
  /// Guest time in nanoseconds since boot (`t=NS`).
  public var time: UInt64?
  /// Duration in nanoseconds (`dt=NS`, test result lines).
  public var duration: UInt64?

  /// A trailer; every token left out by default.
  public init(
    fileID: StaticString? = nil, line: UInt = 0, cpu: Int? = nil, time: UInt64? = nil,
    duration: UInt64? = nil
  ) {
    self.fileID = fileID
    self.line = line
    self.cpu = cpu
    self.time = time
    self.duration = duration
  }

  /// No token at all.
  public var isEmpty: Bool { fileID == nil && cpu == nil && time == nil && duration == nil }
}

/// The totals line's counts.
public struct KTAPTotals: Sendable {
  /// `pass:`, `fail:`, `skip:`, `xfail:`, `xpass:` (0 when absent).
  public var passed = 0
  public var failed = 0
  public var skipped = 0
  public var xfailed = 0
  public var xpassed = 0

  /// All zero.
  public init() {}

  /// The given counts.
  public init(passed: Int, failed: Int, skipped: Int, xfailed: Int, xpassed: Int) {
    self.passed = passed
    self.failed = failed
    self.skipped = skipped
    self.xfailed = xfailed
    self.xpassed = xpassed
  }
}

/// The protocol's rule for test names. The KTAP specification forbids `#`
/// in a test description (it starts the directive), and Linux's
/// kunit_parser cuts a result line's name at the first `#`. So every test
/// name on the wire (a test's `# Subtest:` line and result line, a check's
/// result line) has each `#` byte written as U+FF03 FULLWIDTH NUMBER SIGN
/// (`＃`, UTF-8 `EF BC 83`), and a line feed as a space, so a name stays on
/// its line; every other byte goes out unchanged. An empty
/// name is written `(unnamed)`. The host reads `＃` in a name back as `#`
/// (`KTAPName` in the harness's KTAPParser.swift; the runner's
/// results-<arch>.ktap follows the rule too). Directives, reasons and
/// diagnostics are not names: they keep `#`.
public enum KTAPName {
  /// The byte the rule replaces.
  public static let hash: UInt8 = 0x23
  /// What replaces it: U+FF03, three bytes of UTF-8.
  public static let replacement: StaticString = "\u{FF03}"
  /// What an empty name is written as.
  public static let unnamed: StaticString = "(unnamed)"

  /// Writes `name` with the rule applied.
  public static func write(_ name: StaticString) {
    if name.utf8CodeUnitCount == 0 {
      Console.write(unnamed)
      return
    }
    let base = name.utf8Start
    var index = 0
    while index < name.utf8CodeUnitCount {
      let byte = base[index]
      if byte == hash {
        Console.write(replacement)
      } else {
        Console.write(byte: KTAP.isLineBreak(byte) ? KTAP.space : byte)
      }
      index &+= 1
    }
  }

  /// Writes `name` with the rule applied, then its ` line N` suffix.
  public static func write(text name: KTAPText) {
    if name.text.utf8CodeUnitCount == 0 && name.lineSuffix != nil {
      // ` line N` alone: the suffix is the name.
      Console.write(KTAP.lineWord)
      Console.write(byte: KTAP.space)
      Console.write(decimal: UInt64(name.lineSuffix ?? 0))
      return
    }
    if let prefix = name.prefix { write(prefix) }
    write(name.text)
    if let line = name.lineSuffix {
      Console.write(byte: KTAP.space)
      Console.write(KTAP.lineWord)
      Console.write(byte: KTAP.space)
      Console.write(decimal: UInt64(line))
    }
  }
}

/// The protocol's literals and the writers of whole lines.
///
/// Depth is the nesting level: 0 for the document (the top-level plan and
/// the tests' result lines), 1 for a test's subtest block (its header and
/// its checks), 2 for the crash marker inside a test. Each level is
/// indented by 4 spaces.
public enum KTAP {
  // MARK: Literals

  /// Indentation of one level.
  public static let indentUnit: StaticString = "    "
  /// Spaces per level.
  public static let indentWidth = 4
  /// The version line (a document or a subtest starts).
  public static let versionLine: StaticString = "KTAP version 1"
  /// The plan's prefix (`1..N`).
  public static let planPrefix: StaticString = "1.."
  /// Result line prefixes.
  public static let okPrefix: StaticString = "ok "
  public static let notOKPrefix: StaticString = "not ok "
  /// Between a result line's name and its directive/trailer.
  public static let directiveSeparator: StaticString = " # "
  /// Diagnostic prefix.
  public static let diagnosticPrefix: StaticString = "# "
  /// Keywords after `# ` (the parser also takes them after `#` and spaces).
  public static let subtestKeyword: StaticString = "Subtest:"
  public static let guestKeyword: StaticString = "guest:"
  public static let totalsKeyword: StaticString = "Totals:"
  public static let exitKeyword: StaticString = "EXIT:"
  public static let crashKeyword: StaticString = "CRASH:"
  /// What follows `EXIT:` and a space.
  public static let statusField: StaticString = "STATUS="
  /// Directive keywords.
  public static let skipKeyword: StaticString = "SKIP"
  public static let xfailKeyword: StaticString = "XFAIL"
  public static let xpassKeyword: StaticString = "XPASS"
  /// Trailer token prefixes.
  public static let locationPrefix: StaticString = "@"
  public static let cpuPrefix: StaticString = "cpu="
  public static let timePrefix: StaticString = "t="
  public static let durationPrefix: StaticString = "dt="
  /// Totals fields, in their order.
  public static let passField: StaticString = "pass:"
  public static let failField: StaticString = "fail:"
  public static let skipField: StaticString = "skip:"
  public static let xfailField: StaticString = "xfail:"
  public static let xpassField: StaticString = "xpass:"
  /// The word of a ` line N` suffix.
  public static let lineWord: StaticString = "line"
  /// The name of the crash marker subtest.
  public static let crashMarkerName: StaticString = "(crashed)"
  /// What a diagnostic that would read as a protocol line is prefixed with.
  public static let notePrefix: StaticString = "note: "
  /// Diagnostics a test result line may be preceded by.
  public static let noCheckDiagnostic: StaticString = "the test made no check"
  public static let stoppedByRequireDiagnostic: StaticString = "stopped by a failed require"

  static let space: UInt8 = 0x20

  /// Whether `byte` is a line feed (it would end the line).
  static func isLineBreak(_ byte: UInt8) -> Bool { byte == 0x0A }

  // MARK: Writers

  /// Writes `depth` levels of indentation (within a line).
  public static func writeIndent(depth: Int) {
    var level = 0
    while level < depth {
      Console.write(indentUnit)
      level &+= 1
    }
  }

  /// `KTAP version 1` at `depth`.
  public static func writeVersion(depth: Int) {
    Console.beginLine()
    writeIndent(depth: depth)
    Console.write(versionLine)
    Console.endLine()
  }

  /// `# guest: NAME` (top level; line feeds written as spaces).
  public static func writeGuestName(_ name: StaticString) {
    Console.beginLine()
    Console.write(diagnosticPrefix)
    Console.write(guestKeyword)
    Console.write(byte: space)
    writeOneLine(name)
    Console.endLine()
  }

  /// `1..count` at `depth` (a negative count is written as 0).
  public static func writePlan(depth: Int, count: Int) {
    Console.beginLine()
    writeIndent(depth: depth)
    Console.write(planPrefix)
    Console.write(decimal: UInt64(count < 0 ? 0 : count))
    Console.endLine()
  }

  /// `# Subtest: NAME` at `depth` (by the name rule).
  public static func writeSubtestHeader(depth: Int, name: StaticString) {
    Console.beginLine()
    writeIndent(depth: depth)
    Console.write(diagnosticPrefix)
    Console.write(subtestKeyword)
    Console.write(byte: space)
    KTAPName.write(name)
    Console.endLine()
  }

  /// A result line at `depth`:
  /// `[not ]ok NUMBER NAME[ # [DIRECTIVE[ REASON]][ TRAILER]]`. The name
  /// follows the name rule; ` # ` is written only when a directive or a
  /// trailer token follows; the reason (written only with a directive) keeps
  /// `#`, its line feeds are written as spaces. A reason should not end in
  /// words that look like trailer tokens (`cpu=1`): the parser takes those
  /// from the end of the line.
  public static func writeResult(
    depth: Int, ok: Bool, number: Int, name: KTAPText, directive: KTAPDirective = .none,
    reason: KTAPText = KTAPText(""), trailer: KTAPTrailer = KTAPTrailer()
  ) {
    let hasDirective = directive != .none && directive != .unknown
    Console.beginLine()
    writeIndent(depth: depth)
    Console.write(ok ? okPrefix : notOKPrefix)
    Console.write(decimal: UInt64(number < 0 ? 0 : number))
    Console.write(byte: space)
    KTAPName.write(text: name)
    if hasDirective || !trailer.isEmpty {
      Console.write(directiveSeparator)
      if hasDirective {
        Console.write(directive.keyword)
        if !reason.isEmpty {
          Console.write(byte: space)
          if let prefix = reason.prefix { writeOneLine(prefix) }
          writeOneLine(reason.text)
          if let line = reason.lineSuffix {
            if reason.text.utf8CodeUnitCount > 0 { Console.write(byte: space) }
            Console.write(lineWord)
            Console.write(byte: space)
            Console.write(decimal: UInt64(line))
          }
        }
        if !trailer.isEmpty { Console.write(byte: space) }
      }
      writeTrailer(trailer)
    }
    Console.endLine()
  }

  /// The trailer's tokens, separated by spaces (nothing when empty).
  public static func writeTrailer(_ trailer: KTAPTrailer) {
    var separate = false
    if let fileID = trailer.fileID {
      Console.write(locationPrefix)
      writeOneLine(fileID)
      Console.write(byte: 0x3A)  // ':'
      Console.write(decimal: UInt64(trailer.line))
      separate = true
    }
    if let cpu = trailer.cpu {
      if separate { Console.write(byte: space) }
      Console.write(cpuPrefix)
      Console.write(decimal: UInt64(cpu < 0 ? 0 : cpu))
      separate = true
    }
    if let time = trailer.time {
      if separate { Console.write(byte: space) }
      Console.write(timePrefix)
      Console.write(decimal: time)
      separate = true
    }
    if let duration = trailer.duration {
      if separate { Console.write(byte: space) }
      Console.write(durationPrefix)
      Console.write(decimal: duration)
    }
  }

  /// A whole diagnostic line `# TEXT` at `depth`. A text that would read as
  /// a protocol line (`EXIT:`, `CRASH:`, `Subtest:`, `guest:`, `Totals:`)
  /// is written `# note: TEXT`; line feeds are written as spaces.
  public static func writeDiagnostic(depth: Int, _ text: StaticString) {
    beginDiagnostic(depth: depth)
    if isReservedDiagnostic(text.utf8Start, count: text.utf8CodeUnitCount) {
      Console.write(notePrefix)
    }
    writeOneLine(text)
    endDiagnostic()
  }

  /// Opens a composite diagnostic line at `depth`: takes the line lock and
  /// writes the indentation and `# `. Write its parts with `Console.write`
  /// (never a line feed, never a reserved keyword first), then call
  /// `endDiagnostic()`.
  public static func beginDiagnostic(depth: Int) {
    Console.beginLine()
    writeIndent(depth: depth)
    Console.write(diagnosticPrefix)
  }

  /// Closes the line `beginDiagnostic(depth:)` opened.
  public static func endDiagnostic() {
    Console.endLine()
  }

  /// `# Totals: pass:P fail:F skip:S xfail:X xpass:Y` (top level).
  public static func writeTotals(passed: Int, failed: Int, skipped: Int, xfailed: Int, xpassed: Int) {
    Console.beginLine()
    Console.write(diagnosticPrefix)
    Console.write(totalsKeyword)
    writeField(passField, passed)
    writeField(failField, failed)
    writeField(skipField, skipped)
    writeField(xfailField, xfailed)
    writeField(xpassField, xpassed)
    Console.endLine()
  }

  private static func writeField(_ name: StaticString, _ value: Int) {
    Console.write(byte: space)
    Console.write(name)
    Console.write(decimal: UInt64(value < 0 ? 0 : value))
  }

  /// `# EXIT: STATUS=n` (top level): the line the host's verdict rests on
  /// (0 passed, 1 failed, 2 crashed).
  public static func writeExit(status: UInt32) {
    Console.beginLine()
    Console.write(diagnosticPrefix)
    Console.write(exitKeyword)
    Console.write(byte: space)
    Console.write(statusField)
    Console.write(decimal: UInt64(status))
    Console.endLine()
  }

  /// The crash marker that closes an open test after a crash: a subtest
  /// `(crashed)` one level below `depth` whose plan announces one result
  /// that never comes, closed `not ok number (crashed)` at `depth` (the
  /// level of the open test's checks; `number` is one past its last
  /// check). Linux's kunit_parser counts it as one crashed test; the host
  /// parser knows it is no check. The open test's own `not ok` result line
  /// (`writeResult` at `depth - 1`) follows.
  ///
  ///         KTAP version 1
  ///         # Subtest: (crashed)
  ///         1..1
  ///     not ok 3 (crashed)
  public static func writeCrashMarker(depth: Int, number: Int) {
    writeVersion(depth: depth &+ 1)
    writeSubtestHeader(depth: depth &+ 1, name: crashMarkerName)
    writePlan(depth: depth &+ 1, count: 1)
    writeResult(depth: depth, ok: false, number: number, name: KTAPText(crashMarkerName))
  }

  /// Writes static text with its line feeds as spaces.
  static func writeOneLine(_ text: StaticString) {
    let base = text.utf8Start
    var index = 0
    while index < text.utf8CodeUnitCount {
      let byte = base[index]
      Console.write(byte: isLineBreak(byte) ? space : byte)
      index &+= 1
    }
  }

  /// Whether a diagnostic text would read as a protocol line after `# `.
  static func isReservedDiagnostic(_ text: UnsafePointer<UInt8>, count: Int) -> Bool {
    var start = 0
    while start < count && text[start] == space { start &+= 1 }
    return hasPrefix(text, start, count, subtestKeyword) || hasPrefix(text, start, count, guestKeyword)
      || hasPrefix(text, start, count, totalsKeyword) || hasPrefix(text, start, count, exitKeyword)
      || hasPrefix(text, start, count, crashKeyword) || hasPrefix(text, start, count, harnessKeyword)
  }

  /// Whether `text[start..<end]` starts with `literal`.
  static func hasPrefix(_ text: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ literal: StaticString) -> Bool {
    let length = literal.utf8CodeUnitCount
    if end &- start < length { return false }
    let bytes = literal.utf8Start
    var index = 0
    while index < length {
      if text[start &+ index] != bytes[index] { return false }
      index &+= 1
    }
    return true
  }
}

/// One protocol line, parsed from its bytes (`KTAPLine.parse`). Ranges are
/// byte offsets into the parsed buffer; fields that do not apply to the
/// line's kind keep their defaults.
public struct KTAPLine: Sendable {
  /// What the line is.
  public var kind: KTAPLineKind = .unknown
  /// Leading spaces.
  public var indent = 0
  /// `ok` (true) or `not ok` (false) of a result line.
  public var ok = false
  /// A result line's number.
  public var number = 0
  /// The name of a result line (raw: the name rule applied, spaces around
  /// it trimmed), of a `# Subtest:` line or of the `# guest:` line.
  public var name: Range<Int> = 0..<0
  /// A result line's directive.
  public var directive: KTAPDirective = .none
  /// The reason after the directive (for `unknown`: the whole text between
  /// ` # ` and the trailer), spaces around it trimmed.
  public var reason: Range<Int> = 0..<0
  /// Trailer: the `#fileID` of `@FILEID:LINE`, and its line.
  public var fileID: Range<Int>? = nil
  public var line: Int? = nil
  /// Trailer: `cpu=N`.
  public var cpu: Int? = nil
  /// Trailer: `t=NS`, guest nanoseconds since boot.
  public var time: UInt64? = nil
  /// Trailer: `dt=NS`, a test's duration in nanoseconds.
  public var duration: UInt64? = nil
  /// The plan's count or the exit status.
  public var count = 0
  /// The counts of a totals line.
  public var totals = KTAPTotals()
  /// Diagnostic text (after `#` and spaces), crash record text (after
  /// `CRASH:`), or the whole line of an `unknown` one.
  public var text: Range<Int> = 0..<0
  /// An exit or totals line whose values could not be read.
  public var malformed = false

  /// An unknown line.
  public init() {}

  /// The nesting depth: `indent / 4`.
  public var depth: Int { indent / KTAP.indentWidth }

  /// Whether a result line carries any trailer token.
  public var hasTrailer: Bool { fileID != nil || cpu != nil || time != nil || duration != nil }

  /// Parses one line without its line feed (a trailing carriage return and
  /// trailing spaces are ignored). Never fails: a line that is nothing of
  /// the protocol is `.unknown`.
  public static func parse(_ buffer: UnsafeBufferPointer<UInt8>) -> KTAPLine {
    var line = KTAPLine()
    guard let base = buffer.baseAddress, buffer.count > 0 else {
      line.kind = .blank
      return line
    }
    var end = buffer.count
    while end > 0 && (base[end &- 1] == 0x0D || base[end &- 1] == KTAP.space) { end &-= 1 }
    var start = 0
    while start < end && base[start] == KTAP.space { start &+= 1 }
    line.indent = start
    line.text = start..<end
    if start == end {
      line.kind = .blank
      return line
    }
    if end &- start == KTAP.versionLine.utf8CodeUnitCount && KTAP.hasPrefix(base, start, end, KTAP.versionLine) {
      line.kind = .version
      return line
    }
    if KTAP.hasPrefix(base, start, end, KTAP.planPrefix) {
      if let count = parseInt(base, start &+ KTAP.planPrefix.utf8CodeUnitCount, end) {
        line.kind = .plan
        line.count = count
      }
      return line
    }
    if base[start] == KTAP.hash {
      parseHashLine(base, start, end, &line)
      return line
    }
    if KTAP.hasPrefix(base, start, end, KTAP.okPrefix) {
      parseResult(base, start &+ KTAP.okPrefix.utf8CodeUnitCount, end, ok: true, &line)
    } else if KTAP.hasPrefix(base, start, end, KTAP.notOKPrefix) {
      parseResult(base, start &+ KTAP.notOKPrefix.utf8CodeUnitCount, end, ok: false, &line)
    }
    return line
  }

  /// `# …` lines: subtest header, guest name, totals, exit, crash,
  /// diagnostic.
  private static func parseHashLine(
    _ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ line: inout KTAPLine
  ) {
    var body = start &+ 1
    while body < end && base[body] == KTAP.space { body &+= 1 }
    line.kind = .diagnostic
    line.text = body..<end
    if KTAP.hasPrefix(base, body, end, KTAP.subtestKeyword) {
      line.kind = .subtestHeader
      line.name = trimmed(base, body &+ KTAP.subtestKeyword.utf8CodeUnitCount, end)
    } else if KTAP.hasPrefix(base, body, end, KTAP.guestKeyword) {
      line.kind = .guestName
      line.name = trimmed(base, body &+ KTAP.guestKeyword.utf8CodeUnitCount, end)
    } else if KTAP.hasPrefix(base, body, end, KTAP.exitKeyword) {
      line.kind = .exit
      let value = trimmed(base, body &+ KTAP.exitKeyword.utf8CodeUnitCount, end)
      if KTAP.hasPrefix(base, value.lowerBound, value.upperBound, KTAP.statusField),
        let status = parseInt(base, value.lowerBound &+ KTAP.statusField.utf8CodeUnitCount, value.upperBound)
      {
        line.count = status
      } else {
        line.malformed = true
      }
    } else if KTAP.hasPrefix(base, body, end, KTAP.crashKeyword) {
      line.kind = .crash
      line.text = (body &+ KTAP.crashKeyword.utf8CodeUnitCount)..<end
    } else if KTAP.hasPrefix(base, body, end, KTAP.totalsKeyword) {
      line.kind = .totals
      parseTotals(base, body &+ KTAP.totalsKeyword.utf8CodeUnitCount, end, &line)
    }
  }

  /// `pass:P fail:F skip:S xfail:X xpass:Y`, in any order; unknown fields
  /// or bad numbers make the line `malformed`.
  private static func parseTotals(
    _ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ line: inout KTAPLine
  ) {
    var position = start
    while true {
      while position < end && base[position] == KTAP.space { position &+= 1 }
      if position >= end { return }
      var tokenEnd = position
      while tokenEnd < end && base[tokenEnd] != KTAP.space { tokenEnd &+= 1 }
      if !totalsField(base, position, tokenEnd, &line.totals) { line.malformed = true }
      position = tokenEnd
    }
  }

  private static func totalsField(
    _ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ totals: inout KTAPTotals
  ) -> Bool {
    if let count = fieldValue(base, start, end, KTAP.passField) {
      totals.passed = count
    } else if let count = fieldValue(base, start, end, KTAP.failField) {
      totals.failed = count
    } else if let count = fieldValue(base, start, end, KTAP.skipField) {
      totals.skipped = count
    } else if let count = fieldValue(base, start, end, KTAP.xfailField) {
      totals.xfailed = count
    } else if let count = fieldValue(base, start, end, KTAP.xpassField) {
      totals.xpassed = count
    } else {
      return false
    }
    return true
  }

  /// The number of a `name:N` field.
  private static func fieldValue(
    _ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ field: StaticString
  ) -> Int? {
    guard KTAP.hasPrefix(base, start, end, field) else { return nil }
    return parseInt(base, start &+ field.utf8CodeUnitCount, end)
  }

  /// The rest of a result line after `ok ` or `not ok `.
  private static func parseResult(
    _ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int, ok: Bool, _ line: inout KTAPLine
  ) {
    var digitsEnd = start
    while digitsEnd < end && isDigit(base[digitsEnd]) { digitsEnd &+= 1 }
    guard let number = parseInt(base, start, digitsEnd) else { return }
    line.kind = .result
    line.ok = ok
    line.number = number
    var position = digitsEnd
    while position < end && base[position] == KTAP.space { position &+= 1 }
    // The name ends at the first " # " (the name rule keeps '#' out of it),
    // or the whole rest is the directive when it starts with "# ".
    var separator = end
    var tail = end
    if position < end && base[position] == KTAP.hash
      && (position &+ 1 == end || base[position &+ 1] == KTAP.space)
    {
      separator = position
      tail = position &+ 1
    } else {
      var index = position
      while index &+ 2 < end {
        if base[index] == KTAP.space && base[index &+ 1] == KTAP.hash && base[index &+ 2] == KTAP.space {
          separator = index
          tail = index &+ 3
          break
        }
        index &+= 1
      }
      if separator == end && end &- position >= 2 && base[end &- 1] == KTAP.hash
        && base[end &- 2] == KTAP.space
      {
        // "name #": an empty directive.
        separator = end &- 2
        tail = end
      }
    }
    line.name = trimmed(base, position, separator)
    if tail < end { parseTail(base, tail, end, &line) }
  }

  /// Directive, reason and trailer: the trailer tokens are taken from the
  /// end (`dt=`, then `t=`, `cpu=`, `@FILEID:LINE`, each at most once), the
  /// rest is the directive and its reason.
  private static func parseTail(
    _ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ line: inout KTAPLine
  ) {
    var rest = end
    // Step 0: dt, 1: t, 2: cpu, 3: location.
    var step = 0
    while step < 4 {
      var tokenEnd = rest
      while tokenEnd > start && base[tokenEnd &- 1] == KTAP.space { tokenEnd &-= 1 }
      var tokenStart = tokenEnd
      while tokenStart > start && base[tokenStart &- 1] != KTAP.space { tokenStart &-= 1 }
      if tokenStart == tokenEnd { break }
      var taken = false
      switch step {
      case 0:
        if let value = prefixedNumber(base, tokenStart, tokenEnd, KTAP.durationPrefix) {
          line.duration = value
          taken = true
        }
      case 1:
        if let value = prefixedNumber(base, tokenStart, tokenEnd, KTAP.timePrefix) {
          line.time = value
          taken = true
        }
      case 2:
        if let value = prefixedNumber(base, tokenStart, tokenEnd, KTAP.cpuPrefix), value <= UInt64(Int.max) {
          line.cpu = Int(value)
          taken = true
        }
      default:
        if base[tokenStart] == KTAP.locationPrefix.utf8Start[0] {
          var colon = tokenEnd
          while colon > tokenStart && base[colon &- 1] != 0x3A { colon &-= 1 }
          // colon is one past the last ':'.
          if colon > tokenStart &+ 2, let number = parseInt(base, colon, tokenEnd) {
            line.fileID = (tokenStart &+ 1)..<(colon &- 1)
            line.line = number
            taken = true
          }
        }
      }
      if taken { rest = tokenStart }
      step &+= 1
    }
    let remainder = trimmed(base, start, rest)
    if remainder.isEmpty { return }
    var directive = KTAPDirective.unknown
    var keywordLength = 0
    if keyword(base, remainder, KTAP.skipKeyword) {
      directive = .skip
      keywordLength = KTAP.skipKeyword.utf8CodeUnitCount
    } else if keyword(base, remainder, KTAP.xfailKeyword) {
      directive = .xfail
      keywordLength = KTAP.xfailKeyword.utf8CodeUnitCount
    } else if keyword(base, remainder, KTAP.xpassKeyword) {
      directive = .xpass
      keywordLength = KTAP.xpassKeyword.utf8CodeUnitCount
    }
    line.directive = directive
    line.reason =
      directive == .unknown
      ? remainder : trimmed(base, remainder.lowerBound &+ keywordLength, remainder.upperBound)
  }

  /// Whether `range` starts with `word` (ASCII letters, either case)
  /// followed by a space or its end.
  private static func keyword(_ base: UnsafePointer<UInt8>, _ range: Range<Int>, _ word: StaticString) -> Bool {
    let length = word.utf8CodeUnitCount
    if range.upperBound &- range.lowerBound < length { return false }
    var index = 0
    while index < length {
      if base[range.lowerBound &+ index] | 0x20 != word.utf8Start[index] | 0x20 { return false }
      index &+= 1
    }
    let after = range.lowerBound &+ length
    return after == range.upperBound || base[after] == KTAP.space
  }

  /// The number after `prefix` when `base[start..<end]` is `prefix` and
  /// decimal digits that fit a `UInt64`.
  private static func prefixedNumber(
    _ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ prefix: StaticString
  ) -> UInt64? {
    guard KTAP.hasPrefix(base, start, end, prefix) else { return nil }
    return parseUInt64(base, start &+ prefix.utf8CodeUnitCount, end)
  }

  /// `base[start..<end]` without spaces at either end.
  private static func trimmed(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Range<Int> {
    var low = start
    var high = end
    while low < high && base[low] == KTAP.space { low &+= 1 }
    while high > low && base[high &- 1] == KTAP.space { high &-= 1 }
    return low..<high
  }

  private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

  /// Decimal digits only (at least one), fitting a `UInt64`.
  static func parseUInt64(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> UInt64? {
    if start >= end { return nil }
    var value: UInt64 = 0
    var index = start
    while index < end {
      let byte = base[index]
      if !isDigit(byte) { return nil }
      let (times, overflow) = value.multipliedReportingOverflow(by: 10)
      if overflow { return nil }
      let (sum, carry) = times.addingReportingOverflow(UInt64(byte &- 0x30))
      if carry { return nil }
      value = sum
      index &+= 1
    }
    return value
  }

  /// Decimal digits only (at least one), fitting an `Int`.
  static func parseInt(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int? {
    guard let value = parseUInt64(base, start, end), value <= UInt64(Int.max) else { return nil }
    return Int(value)
  }
}

extension KTAP {
  /// `#`.
  static let hash: UInt8 = 0x23
}

// MARK: - Requests to the harness

/// What a guest can ask the harness for, mid-run, with a diagnostic line
/// `# harness: REQUEST` (at any depth). The guest then waits, polling its
/// console input, for the harness's answer byte (`KTAP.requestDone`); the
/// harness answers only in cells that allow the request (the command line
/// says so: `harness.migrate=yes`), so a guest never asks in vain.
///
///     # harness: migrate
///
/// The harness live-migrates the machine to a fresh QEMU, continues the
/// console log from the destination and writes `requestDone` to the
/// destination's console input. A migration that fails ends the run with
/// its own verdict reason; the guest never sees an answer then.
///
///     # harness: nmi
///
/// The harness injects an NMI (QMP `inject-nmi`) and writes nothing back:
/// the NMI is the answer (the guest waits for its handler, with a bound).
/// Any cell with a control channel serves it.
///
///     # harness: reset
///
/// In cells that allow it (`harness.reset=yes`) the harness resets the
/// machine (bare QEMU: QMP `system_reset`) and writes nothing back: the
/// reset is the answer. The machine's RAM
/// survives; the firmware or loader reloads the image, and the guest
/// starts over from its entry. A guest that finds the record it left
/// before asking (`requestReset()`) writes a new `KTAP version 1`
/// document that continues the run: the same `# guest:` line and plan,
/// then the test that asked reopened under its own name with its check
/// numbers going on, then the tests after it. Only a request line allows
/// a second header; a request in a cell that does not reset, or on a
/// backend that cannot, ends the run with its own reason.
public enum HarnessRequest: UInt8, Sendable {
  /// Live-migrate the machine (`migrate`).
  case migrate
  /// Inject an NMI (`nmi`).
  case nmi
  /// Reset the machine (`reset`).
  case reset

  /// The request's word on the wire.
  public var word: StaticString {
    switch self {
    case .migrate: return KTAP.migrateWord
    case .nmi: return KTAP.nmiWord
    case .reset: return KTAP.resetWord
    }
  }
}

extension KTAP {
  /// `harness:` starts a request line (after `# `).
  public static let harnessKeyword: StaticString = "harness:"
  /// The word of a migration request.
  public static let migrateWord: StaticString = "migrate"
  /// The word of an NMI request.
  public static let nmiWord: StaticString = "nmi"
  /// The word of a reset request.
  public static let resetWord: StaticString = "reset"
  /// The byte the harness writes to the guest's console input once a
  /// request is done (ASCII ACK).
  public static let requestDone: UInt8 = 0x06
  /// The command-line word that says a cell migrates (`harness.migrate=yes`).
  public static let migrateArgument: StaticString = "harness.migrate"
  /// The command-line word that says a cell resets on request
  /// (`harness.reset=yes`).
  public static let resetArgument: StaticString = "harness.reset"

  /// Writes the request line `# harness: WORD` at `depth`.
  public static func writeRequest(_ request: HarnessRequest, depth: Int) {
    beginDiagnostic(depth: depth)
    Console.write(harnessKeyword)
    Console.write(byte: space)
    Console.write(request.word)
    endDiagnostic()
  }

  /// The request a diagnostic's text (`text[start..<end]`, what follows
  /// `# `) makes, or nil when it is no request line.
  public static func request(in text: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> HarnessRequest? {
    var index = start
    while index < end && text[index] == space { index &+= 1 }
    guard hasPrefix(text, index, end, harnessKeyword) else { return nil }
    index &+= harnessKeyword.utf8CodeUnitCount
    while index < end && text[index] == space { index &+= 1 }
    var last = end
    while last > index && (text[last &- 1] == space || text[last &- 1] == 0x0D) { last &-= 1 }
    let migrate = migrateWord
    if last &- index == migrate.utf8CodeUnitCount && hasPrefix(text, index, last, migrate) { return .migrate }
    let nmi = nmiWord
    if last &- index == nmi.utf8CodeUnitCount && hasPrefix(text, index, last, nmi) { return .nmi }
    let reset = resetWord
    if last &- index == reset.utf8CodeUnitCount && hasPrefix(text, index, last, reset) { return .reset }
    return nil
  }
}
