/// A strict validator of the project's KTAP dialect, written from the KTAP
/// version 1 specification and from how Linux's kunit_parser reads a
/// document (which lines it takes for what, and how it counts). It checks
/// the grammar and reports the counts kunit_parser arrives at, so a test can
/// compare them with the harness's.
///
/// The dialect, as the guest writer and the runner's results-<arch>.ktap
/// produce it:
///
/// - `KTAP version 1` starts the document (a guest log may have firmware
///   noise before it); then the top-level plan `1..N`.
/// - A subtest is `KTAP version 1`, `# Subtest: NAME` and (in a report
///   always, in a guest log optionally) its plan `1..N`, all indented one
///   level (4 spaces) deeper than its result line; its children follow at
///   that deeper level; its result line `ok|not ok N NAME` repeats NAME.
/// - A result line is `ok N NAME`, `not ok N NAME`, optionally followed by
///   ` # `, a directive (`SKIP reason`, `XFAIL reason`, `XPASS reason`; the
///   reason may be empty) and the trailer, or the trailer alone. The
///   trailer is space-separated tokens, each optional, in this order:
///   `@FILEID:LINE`, `cpu=N`, `t=NS`, `dt=NS` (wire format v2; v1 guests
///   write only `@file:line`). N counts 1, 2, … within the parent. NAME is
///   not empty, has no `#` (the name rule writes `＃`), does not start with
///   `- ` and has no leading or trailing spaces. A line with XFAIL or XPASS
///   must not contain `# SKIP` (kunit_parser finds SKIP anywhere after the
///   name).
/// - Diagnostics are `# …` lines at any indentation; a diagnostic never
///   starts with `Subtest:`.
/// - Nothing else: a line that is none of these is a violation (kunit_parser
///   would silently take it for a diagnostic).
///
/// Counting follows kunit_parser: a leaf counts as passed, failed or (with
/// SKIP, whether ok or not ok) skipped — kunit_parser treats no other
/// directive specially, so `ok … # XFAIL` counts as passed and `not ok … #
/// XPASS` as failed; every child a plan announces but the
/// output lacks counts as crashed; a parent without counted children counts
/// its own result (failed for `not ok`, skipped for SKIP, nothing
/// otherwise); a `not ok` parent whose children all passed adds one failed.
/// The run's status is the counts' (crashed before failed before passed).
struct KTAPValidator {
  /// Where the text comes from.
  enum Source {
    /// A guest's serial log: noise before the header, planless sections.
    case guestLog
    /// A report document: nothing before the header, every level planned.
    case report
  }

  /// kunit_parser's tallies.
  struct Counts: Equatable, CustomStringConvertible {
    var passed = 0
    var failed = 0
    var crashed = 0
    var skipped = 0

    var total: Int { passed + failed + crashed + skipped }

    mutating func add(_ other: Counts) {
      passed += other.passed
      failed += other.failed
      crashed += other.crashed
      skipped += other.skipped
    }

    var description: String {
      "passed \(passed), failed \(failed), crashed \(crashed), skipped \(skipped)"
    }
  }

  /// A run's status from its counts, as kunit_parser derives it.
  enum Status: Equatable {
    case success, failure, crashed, skipped, noTests
  }

  /// What the validator found.
  struct Report {
    /// Grammar violations, each with its 1-based line number.
    var violations: [String] = []
    /// The counts kunit_parser arrives at.
    var counts = Counts()
    /// Tests whose output ended before their result line (truncation).
    var unterminated: [String] = []

    var status: Status {
      if counts.total == 0 { return .noTests }
      if counts.crashed > 0 { return .crashed }
      if counts.failed > 0 { return .failure }
      if counts.passed > 0 { return .success }
      return .skipped
    }
  }

  enum Kind: Equatable {
    case version
    case plan(Int)
    case header(String)
    case result(ok: Bool, number: Int, name: String, skip: Bool)
    case diagnostic
    case blank
  }

  struct Line {
    var number: Int
    var indent: Int
    var kind: Kind
    var text: String
  }

  private var lines: [Line] = []
  private var position = 0
  private var report = Report()
  private let source: Source

  /// Validates `text`.
  static func validate(_ text: String, as source: Source) -> Report {
    var validator = KTAPValidator(source: source)
    validator.run(text)
    return validator.report
  }

  private init(source: Source) { self.source = source }

  private mutating func violation(_ line: Int, _ message: String) {
    report.violations.append("line \(line): \(message)")
  }

  private mutating func run(_ text: String) {
    var raw = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    if raw.last == "" { raw.removeLast() }
    var started = false
    for (index, rawLine) in raw.enumerated() {
      var line = Substring(rawLine)
      while line.last == "\r" || line.last == " " { line.removeLast() }
      if !started {
        if line == "KTAP version 1" {
          started = true
        } else {
          if source == .report { violation(index + 1, "text before the KTAP header: \(line)") }
          continue
        }
      }
      if line.contains("\t") { violation(index + 1, "tab in a line") }
      if let classified = classify(line, number: index + 1) { lines.append(classified) }
    }
    guard started else {
      violation(0, "no KTAP version line")
      return
    }
    parseTop()
  }

  private mutating func classify(_ full: Substring, number: Int) -> Line? {
    var text = full
    var indent = 0
    while text.first == " " {
      text.removeFirst()
      indent += 1
    }
    func make(_ kind: Kind) -> Line { Line(number: number, indent: indent, kind: kind, text: String(full)) }
    if text.isEmpty { return make(.blank) }
    if text == "KTAP version 1" { return make(.version) }
    if text.hasPrefix("KTAP version") || text.hasPrefix("TAP version") {
      violation(number, "unsupported version line: \(text)")
      return nil
    }
    if text.hasPrefix("1..") {
      guard let count = Int(text.dropFirst(3)) else {
        violation(number, "malformed plan: \(text)")
        return nil
      }
      return make(.plan(count))
    }
    if text.hasPrefix("# Subtest: ") {
      let name = String(text.dropFirst("# Subtest: ".count))
      checkName(name, line: number)
      return make(.header(name))
    }
    if text.hasPrefix("#") {
      if !text.hasPrefix("# ") && text != "#" { violation(number, "diagnostic without a space after #: \(text)") }
      if text.hasPrefix("# Subtest:") { violation(number, "malformed subtest header: \(text)") }
      return make(.diagnostic)
    }
    let ok: Bool
    var rest: Substring
    if text.hasPrefix("ok ") {
      ok = true
      rest = text.dropFirst(3)
    } else if text.hasPrefix("not ok ") {
      ok = false
      rest = text.dropFirst(7)
    } else {
      violation(number, "not a KTAP line: \(text)")
      return nil
    }
    let digits = rest.prefix { $0.isASCII && $0.isNumber }
    guard let resultNumber = Int(digits), rest.dropFirst(digits.count).first == " " else {
      violation(number, "result line without a number and a name: \(text)")
      return nil
    }
    rest = rest.dropFirst(digits.count + 1)
    var name = rest
    var skip = false
    if let directiveStart = rest.range(of: " # ") {
      name = rest[..<directiveStart.lowerBound]
      let directive = rest[directiveStart.upperBound...]
      skip = checkDirective(directive, line: number)
      if !skip && text.contains("# SKIP") {
        violation(number, "'# SKIP' after a directive that is not SKIP (kunit_parser would count a skip): \(directive)")
      }
    } else if rest.hasPrefix("# ") || rest == "#" {
      name = ""
    }
    checkName(String(name), line: number)
    return make(.result(ok: ok, number: resultNumber, name: String(name), skip: skip))
  }

  /// Checks what follows ` # ` on a result line: a directive and its
  /// reason, then the trailer tokens in their order; returns whether the
  /// directive is SKIP (the only one kunit_parser counts specially).
  private mutating func checkDirective(_ text: Substring, line number: Int) -> Bool {
    var words = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
    // Trailer tokens from the end, each kind at most once, in order.
    let kinds = ["dt=", "t=", "cpu="]
    var next = 0
    while let last = words.last, next < kinds.count {
      if last.hasPrefix(kinds[next]) {
        let value = last.dropFirst(kinds[next].count)
        if value.isEmpty || !value.allSatisfy({ $0.isASCII && $0.isNumber }) || UInt64(value) == nil {
          violation(number, "malformed trailer token: \(last)")
        }
        words.removeLast()
      }
      next += 1
    }
    if let last = words.last, last.hasPrefix("@") {
      let location = last.dropFirst()
      let line = location.lastIndex(of: ":").map { location[location.index(after: $0)...] }
      let file = location.lastIndex(of: ":").map { location[..<$0] }
      if line.flatMap({ Int($0) }) == nil || file?.isEmpty != false {
        violation(number, "malformed source location: \(location)")
      }
      words.removeLast()
    }
    guard let keyword = words.first, !(words.count == 1 && keyword.isEmpty) else {
      return false  // the trailer alone
    }
    switch keyword {
    case "SKIP": return true
    case "XFAIL", "XPASS": return false
    default:
      if keyword.hasPrefix("SKIP") {
        violation(number, "SKIP not followed by a space: \(text)")
      } else {
        violation(number, "unknown directive: \(text)")
      }
      return false
    }
  }

  private mutating func checkName(_ name: String, line: Int) {
    if name.isEmpty { violation(line, "empty test name") }
    if name.contains("#") { violation(line, "test name contains '#': \(name)") }
    if name.hasPrefix("- ") { violation(line, "test name starts with '- ': \(name)") }
    if name.first == " " || name.last == " " { violation(line, "test name with outer spaces: '\(name)'") }
  }

  // MARK: Structure

  private var current: Line? { position < lines.count ? lines[position] : nil }

  /// Skips diagnostics and blank lines.
  private mutating func skipDiagnostics() {
    while let line = current, line.kind == .diagnostic || line.kind == .blank { position += 1 }
  }

  private mutating func parseTop() {
    guard let first = current, first.kind == .version, first.indent == 0 else {
      violation(current?.number ?? 0, "document does not start with KTAP version 1")
      return
    }
    position += 1
    skipDiagnostics()
    guard let planLine = current, case .plan(let planned) = planLine.kind, planLine.indent == 0 else {
      violation(current?.number ?? 0, "no top-level plan after the header")
      return
    }
    position += 1
    report.counts.add(parseChildren(depth: 0, planned: planned).counts)
    skipDiagnostics()
    if let extra = current {
      violation(extra.number, "output after the top-level plan was met: \(extra.text)")
    }
  }

  /// Children of a test at `depth` (their result lines at 4 × depth).
  /// Returns their counts, missing planned children counted as crashed.
  private mutating func parseChildren(depth: Int, planned: Int?) -> (counts: Counts, children: Int) {
    var counts = Counts()
    var number = 0
    let indent = 4 * depth
    while true {
      skipDiagnostics()
      if let planned, number >= planned { break }
      guard let line = current else { break }
      if line.kind == .version && line.indent == indent + 4 {
        number += 1
        counts.add(parseSubtest(depth: depth + 1, number: number))
        continue
      }
      if case .result(let ok, let resultNumber, _, let skip) = line.kind, line.indent == indent {
        number += 1
        if resultNumber != number {
          violation(line.number, "result number \(resultNumber) where \(number) was expected")
        }
        position += 1
        if skip {
          counts.skipped += 1
        } else if ok {
          counts.passed += 1
        } else {
          counts.failed += 1
        }
        continue
      }
      // The parent's own result line ends its children.
      if case .result = line.kind, depth > 0, line.indent == indent - 4 { break }
      violation(line.number, "unexpected line at this level (indent \(indent)): \(line.text)")
      position += 1
    }
    if let planned, number < planned {
      counts.crashed += planned - number
    }
    return (counts, number)
  }

  /// A subtest at `depth` whose header starts at the current line.
  private mutating func parseSubtest(depth: Int, number: Int) -> Counts {
    let indent = 4 * depth
    position += 1  // the version line
    var name = ""
    if let line = current, case .header(let header) = line.kind, line.indent == indent {
      name = header
      position += 1
    } else {
      violation(current?.number ?? 0, "subtest without a '# Subtest:' line at indent \(indent)")
    }
    skipDiagnostics()
    var planned: Int?
    if let line = current, case .plan(let count) = line.kind, line.indent == indent {
      planned = count
      position += 1
    } else if source == .report {
      violation(current?.number ?? 0, "subtest '\(name)' has no plan")
    }
    var (counts, children) = parseChildren(depth: depth, planned: planned)
    skipDiagnostics()
    guard let line = current, case .result(let ok, let resultNumber, let resultName, let skip) = line.kind,
      line.indent == indent - 4
    else {
      report.unterminated.append(name)
      if let line = current {
        violation(line.number, "subtest '\(name)' not closed by its result line: \(line.text)")
      }
      return counts
    }
    position += 1
    if resultNumber != number { violation(line.number, "result number \(resultNumber) where \(number) was expected") }
    if resultName != name { violation(line.number, "result '\(resultName)' closes subtest '\(name)'") }
    // Only a crash marker (`1..1`, no child, `not ok`) leaves its plan unmet.
    if let planned, children < planned, !(planned == 1 && children == 0 && !ok && !skip) {
      violation(line.number, "plan \(planned) not met by '\(name)' (\(children) children)")
    }
    if counts.total == 0 {
      if skip {
        counts.skipped += 1
      } else if !ok {
        counts.failed += 1
      }
    } else if !ok && !skip && counts.crashed == 0 && counts.failed == 0 && counts.passed > 0 {
      counts.failed += 1
    }
    return counts
  }
}
