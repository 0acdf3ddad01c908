// The guest-side test API. A guest program declares its sections up front
// (`plan`), runs each `section`, makes `check`s inside them, and ends with
// `finishTests()`. Output is KTAP version 1: one subtest per section, one
// result line per check carrying its guest source location after ` # @`, so
// the host can point a failure at the guest's file and line. README.md ("The
// protocol") describes the wire format; the host side is
// `Sources/Harness/KTAPParser.swift`.

/// The status a guest reports in its final `# EXIT: STATUS=n` line.
public enum GuestStatus: UInt32 {
  /// Every check passed or was skipped and the plan was met.
  case passed = 0
  /// At least one check failed, or the guest broke its own plan.
  case failed = 1
  /// The guest took an exception it did not expect.
  case crashed = 2
}

/// Counters of one guest run; kept in a single global by the API below.
public struct GuestTestState {
  /// Sections announced by `plan`, or -1 before `plan` ran.
  public var plannedSections = -1
  /// Sections finished so far.
  public var finishedSections = 0
  /// Whether a section is open.
  public var inSection = false
  /// Name of the open section (for closing it after a crash).
  public var sectionName: StaticString = ""
  /// Number of the last check in the open section.
  public var checkNumber = 0
  /// Passed, failed and skipped checks of the open section.
  public var sectionPassed = 0
  public var sectionFailed = 0
  public var sectionSkipped = 0
  /// Totals over the whole run.
  public var passed = 0
  public var failed = 0
  public var skipped = 0

  /// A fresh state.
  public init() {}
}

/// The state of the running guest's tests.
nonisolated(unsafe) public var guestTestState = GuestTestState()

private let indent: StaticString = "    "

// The name rule (`KTAPName`) is in guests/lib/Protocol/KTAPGrammar.swift.

/// Starts the run: prints the KTAP header and the number of sections.
public func plan(_ name: StaticString, sections: Int) {
  guestTestState = GuestTestState()
  guestTestState.plannedSections = sections
  Console.beginLine()
  Console.write("KTAP version 1")
  Console.endLine()
  Console.beginLine()
  Console.write("# guest: ")
  Console.write(name)
  Console.endLine()
  Console.beginLine()
  Console.write("1..")
  Console.write(decimal: UInt64(max(sections, 0)))
  Console.endLine()
}

/// Runs `body` as one KTAP subtest named `name`.
public func section(_ name: StaticString, _ body: () -> Void) {
  beginSection(name)
  body()
  endSection(name)
}

/// Opens a section; prefer `section(_:_:)`.
public func beginSection(_ name: StaticString) {
  if guestTestState.inSection { endSection(guestTestState.sectionName) }
  guestTestState.inSection = true
  guestTestState.sectionName = name
  guestTestState.checkNumber = 0
  guestTestState.sectionPassed = 0
  guestTestState.sectionFailed = 0
  guestTestState.sectionSkipped = 0
  Console.beginLine()
  Console.write(indent)
  Console.write("KTAP version 1")
  Console.endLine()
  Console.beginLine()
  Console.write(indent)
  Console.write("# Subtest: ")
  KTAPName.write(name)
  Console.endLine()
}

/// Closes the open section and prints its result line.
public func endSection(_ name: StaticString) {
  guestTestState.inSection = false
  guestTestState.finishedSections &+= 1
  let state = guestTestState
  Console.beginLine()
  if state.sectionFailed > 0 { Console.write("not ") }
  Console.write("ok ")
  Console.write(decimal: UInt64(state.finishedSections))
  Console.write(" ")
  KTAPName.write(name)
  if state.sectionFailed == 0 && state.sectionSkipped > 0 && state.sectionPassed == 0 {
    Console.write(" # SKIP all checks skipped")
  }
  Console.endLine()
}

private func openImplicitSectionIfNeeded() {
  if !guestTestState.inSection { beginSection("(checks outside a section)") }
}

private func writeResult(
  ok: Bool, _ message: StaticString, directive: StaticString?, reason: StaticString?,
  file: StaticString, line: UInt
) {
  guestTestState.checkNumber &+= 1
  Console.beginLine()
  Console.write(indent)
  if !ok { Console.write("not ") }
  Console.write("ok ")
  Console.write(decimal: UInt64(guestTestState.checkNumber))
  Console.write(" ")
  KTAPName.write(message)
  Console.write(" # ")
  if let directive {
    Console.write(directive)
    Console.write(" ")
    if let reason {
      Console.write(reason)
      Console.write(" ")
    }
  }
  Console.write("@")
  Console.write(file)
  Console.write(":")
  Console.write(decimal: UInt64(line))
  Console.endLine()
}

private func record(_ condition: Bool) {
  if condition {
    guestTestState.sectionPassed &+= 1
    guestTestState.passed &+= 1
  } else {
    guestTestState.sectionFailed &+= 1
    guestTestState.failed &+= 1
  }
}

/// Records one check: `ok` when `condition` holds, `not ok` otherwise, with
/// the caller's source location. Returns `condition`.
@discardableResult
public func check(
  _ condition: Bool, _ message: StaticString,
  file: StaticString = #fileID, line: UInt = #line
) -> Bool {
  openImplicitSectionIfNeeded()
  record(condition)
  writeResult(ok: condition, message, directive: nil, reason: nil, file: file, line: line)
  return condition
}

/// Checks that two integers are equal; on failure a diagnostic line with
/// both values precedes the `not ok` line.
@discardableResult
public func checkEqual<T: FixedWidthInteger>(
  _ actual: T, _ expected: T, _ message: StaticString,
  file: StaticString = #fileID, line: UInt = #line
) -> Bool {
  openImplicitSectionIfNeeded()
  let equal = actual == expected
  if !equal {
    Console.beginLine()
    Console.write(indent)
    Console.write("# expected: ")
    writeInteger(expected)
    Console.write(", actual: ")
    writeInteger(actual)
    Console.endLine()
  }
  record(equal)
  writeResult(ok: equal, message, directive: nil, reason: nil, file: file, line: line)
  return equal
}

private func writeInteger<T: FixedWidthInteger>(_ value: T) {
  if T.isSigned {
    Console.write(signed: Int64(truncatingIfNeeded: value))
  } else {
    Console.write(decimal: UInt64(truncatingIfNeeded: value))
  }
}

/// Records a check that did not run, with the reason why.
public func skip(
  _ message: StaticString, because reason: StaticString,
  file: StaticString = #fileID, line: UInt = #line
) {
  openImplicitSectionIfNeeded()
  guestTestState.sectionSkipped &+= 1
  guestTestState.skipped &+= 1
  writeResult(ok: true, message, directive: "SKIP", reason: reason, file: file, line: line)
}

/// Prints a diagnostic line inside the current section.
public func note(_ text: StaticString) {
  Console.beginLine()
  if guestTestState.inSection { Console.write(indent) }
  Console.write("# ")
  Console.write(text)
  Console.endLine()
}

/// Prints a diagnostic line `# <text> <value>` (hexadecimal when `hex`).
public func note(_ text: StaticString, _ value: UInt64, hex: Bool = false) {
  Console.beginLine()
  if guestTestState.inSection { Console.write(indent) }
  Console.write("# ")
  Console.write(text)
  Console.write(" ")
  if hex { Console.write(hex: value) } else { Console.write(decimal: value) }
  Console.endLine()
}

/// Ends the run: closes an open section, prints the totals and the exit
/// line, and returns the status for the runtime to exit with.
public func finishTests() -> GuestStatus {
  if guestTestState.inSection { endSection(guestTestState.sectionName) }
  let state = guestTestState
  var status: GuestStatus = state.failed > 0 ? .failed : .passed
  if state.plannedSections != state.finishedSections {
    Console.diagnostic("plan not met: sections planned and run differ")
    status = .failed
  }
  Console.beginLine()
  Console.write("# Totals: pass:")
  Console.write(decimal: UInt64(state.passed))
  Console.write(" fail:")
  Console.write(decimal: UInt64(state.failed))
  Console.write(" skip:")
  Console.write(decimal: UInt64(state.skipped))
  Console.endLine()
  writeExitLine(status)
  return status
}

/// Name of the subtest that marks a crash inside a section.
private let crashMarkerName: StaticString = "(crashed)"

/// Closes the open section after a crash (the runtimes' exception handlers
/// reach it through `writeExitLine(.crashed)`), so that a KTAP reader never
/// takes the crash for a passing section. Sections carry no plan line (a
/// section does not know its check count up front), and a KTAP parser only
/// counts what a plan says is missing; so the open section gets one more
/// subtest, the crash marker, whose own plan announces a result that never
/// comes:
///
/// ```
///         KTAP version 1
///         # Subtest: (crashed)
///         1..1
///     not ok 3 (crashed)
/// not ok 2 faults
/// ```
///
/// Linux's kunit_parser counts the marker as one crashed test (not as a
/// passed, failed or skipped one) and the section and run as crashed. The
/// host parser knows the marker: it is not a check, and the section counts
/// as unfinished. Planned sections that never started are left out: the
/// top-level plan already makes each of them a crash. Does nothing when no
/// section is open.
public func closeSectionAfterCrash() {
  guard guestTestState.inSection else { return }
  let state = guestTestState
  guestTestState.inSection = false
  Console.beginLine()
  Console.write(indent)
  Console.write(indent)
  Console.write("KTAP version 1")
  Console.endLine()
  Console.beginLine()
  Console.write(indent)
  Console.write(indent)
  Console.write("# Subtest: ")
  Console.write(crashMarkerName)
  Console.endLine()
  Console.beginLine()
  Console.write(indent)
  Console.write(indent)
  Console.write("1..1")
  Console.endLine()
  Console.beginLine()
  Console.write(indent)
  Console.write("not ok ")
  Console.write(decimal: UInt64(state.checkNumber &+ 1))
  Console.write(" ")
  Console.write(crashMarkerName)
  Console.endLine()
  Console.beginLine()
  Console.write("not ok ")
  Console.write(decimal: UInt64(state.finishedSections &+ 1))
  Console.write(" ")
  KTAPName.write(state.sectionName)
  Console.endLine()
}

/// Prints `# EXIT: STATUS=n`, the line the host's verdict rests on. For
/// `.crashed` it first closes the open section (`closeSectionAfterCrash`).
public func writeExitLine(_ status: GuestStatus) {
  if status == .crashed { closeSectionAfterCrash() }
  Console.beginLine()
  Console.write("# EXIT: STATUS=")
  Console.write(decimal: UInt64(status.rawValue))
  Console.endLine()
}
