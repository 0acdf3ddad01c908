// Expectations: each records one check of the running test. A failure
// writes the values it saw on diagnostic lines before its `not ok` line;
// the host adds the call's source text (it has the file and line), so a
// report reads `expectEqual(apic.mode, 0x1f): expected 0x1f (31), got 0x1e
// (30)`. Every expectation returns an `ExpectationResult`; `try require(…)`
// of it stops the test when it failed. A check without a name is named by
// its kind and line (`expectEqual line 42`).

/// The outcome of one expectation.
public struct ExpectationResult {
  /// Whether it held.
  public let passed: Bool
}

/// Starts recording one check: takes the report lock and says whether the
/// caller writes the failure's diagnostics now (`beginValueDiagnostic` …
/// `endValueDiagnostic`, one per line); `finishCheck` then counts the check,
/// writes its result line and releases the lock. No closures: the generic
/// expectations stay thin, and the bodies are compiled once in `GuestLib`.
#if hasAttribute(export)
  @export(interface)
#endif
public func beginCheck(_ passed: Bool) -> Bool {
  lockReport()
  return !passed && guestRunState.inTest
}

/// Ends what `beginCheck` started (see there).
#if hasAttribute(export)
  @export(interface)
#endif
public func finishCheck(
  _ passed: Bool, kind: StaticString, name: StaticString, file: StaticString, line: UInt
) -> ExpectationResult {
  defer { unlockReport() }
  guard guestRunState.inTest else {
    KTAP.beginDiagnostic(depth: 0)
    Console.write("check outside a test at ")
    Console.write(file)
    Console.write(":")
    Console.write(decimal: UInt64(line))
    KTAP.endDiagnostic()
    guestRunState.testFailures &+= 1
    return ExpectationResult(passed: passed)
  }
  guestRunState.checkNumber &+= 1
  let text = name.utf8CodeUnitCount == 0 ? KTAPText(kind, line: line) : KTAPText(name)
  var directive = KTAPDirective.none
  var reason = KTAPText("")
  var ok = passed
  if passed {
    guestRunState.testPassed &+= 1
    guestRunState.passed &+= 1
  } else if let xfail = guestRunState.xfailReason {
    guestRunState.testXFailed &+= 1
    guestRunState.xfailed &+= 1
    directive = .xfail
    reason = KTAPText(xfail)
    ok = true
  } else {
    guestRunState.testFailed &+= 1
    guestRunState.failed &+= 1
  }
  KTAP.writeResult(
    depth: checkDepth, ok: ok, number: guestRunState.checkNumber, name: text,
    directive: directive, reason: reason, trailer: trailerNow(file: file, line: line))
  return ExpectationResult(passed: passed)
}

/// Starts one diagnostic line of a failed check (`    # `).
#if hasAttribute(export)
  @export(interface)
#endif
public func beginValueDiagnostic() {
  KTAP.beginDiagnostic(depth: checkDepth)
}

/// Ends the diagnostic line.
#if hasAttribute(export)
  @export(interface)
#endif
public func endValueDiagnostic() {
  KTAP.endDiagnostic()
}

/// Records a check whose failure prints `text` as its diagnostic.
func recordCheck(
  _ passed: Bool, kind: StaticString, name: StaticString, file: StaticString, line: UInt,
  failure text: StaticString
) -> ExpectationResult {
  let mutating = guestRunState.mutating
  let passed = mutating ? !passed : passed
  if beginCheck(passed) {
    beginValueDiagnostic()
    if mutating {
      writeMutationPrefix(inverted: true)
      Console.write("(")
    }
    Console.write(text)
    if mutating { Console.write(")") }
    endValueDiagnostic()
  }
  return finishCheck(passed, kind: kind, name: name, file: file, line: line)
}

/// Checks that `condition` holds.
#if hasAttribute(export)
  @export(interface)
#endif
@discardableResult
public func expect(
  _ condition: Bool, _ name: StaticString = "", file: StaticString = #fileID, line: UInt = #line
) -> ExpectationResult {
  recordCheck(
    condition, kind: "expect", name: name, file: file, line: line,
    failure: "expected true, got false")
}

/// An integer as an expectation's diagnostic prints it, whatever its type:
/// generic expectations convert their operands and hand the rest to
/// non-generic code, compiled once in `GuestLib` (a program's compile then
/// only specializes the thin generic entry points).
public struct CheckValue {
  /// The bit pattern, sign-extended for signed types.
  public var bits: UInt64
  /// Whether the type is signed.
  public var signed: Bool

  /// `value`'s bits and signedness.
  @inline(__always)
  public init<T: FixedWidthInteger>(_ value: T) {
    bits = UInt64(truncatingIfNeeded: value)
    signed = T.isSigned
  }

  /// Writes the value (`7`, `0x1f (31)`, `-3`).
  func write() {
    if signed && Int64(bitPattern: bits) < 0 {
      Console.write(signed: Int64(bitPattern: bits))
    } else {
      ValueText.write(bits)
    }
  }
}

/// What a failed value expectation prints.
public enum ValueCheckForm {
  case equal, notEqual, comparison(Comparison), closedRange, halfOpenRange
  case bitsSet, bitsClear, masked
}

/// Records a value expectation: `passed` was computed by the generic entry
/// point; `a`, `b`, `c` are its operands for the diagnostic.
#if hasAttribute(export)
  @export(interface)
#endif
public func recordValueCheck(
  _ passed: Bool, _ form: ValueCheckForm, _ a: CheckValue, _ b: CheckValue, _ c: CheckValue,
  kind: StaticString, name: StaticString, file: StaticString, line: UInt
) -> ExpectationResult {
  var passed = passed
  var b = b
  var c = c
  let mutating = guestRunState.mutating
  var inverted = false
  if mutating {
    let wrong = mutate(form, passed: passed, a, b, c)
    passed = wrong.passed
    b = wrong.b
    c = wrong.c
    inverted = wrong.inverted
  }
  if beginCheck(passed) {
    beginValueDiagnostic()
    if mutating { writeMutationPrefix(inverted: inverted) }
    do {
      switch form {
      case .equal:
        Console.write("expected ")
        b.write()
        Console.write(", got ")
        a.write()
      case .notEqual:
        Console.write("expected anything but ")
        b.write()
        Console.write(", got it")
      case .comparison(let comparison):
        Console.write("expected ")
        a.write()
        Console.write(comparison.symbol)
        b.write()
      case .closedRange, .halfOpenRange:
        Console.write("expected ")
        a.write()
        Console.write(" in ")
        b.write()
        Console.write(form.isClosedRange ? "..." : "..<")
        c.write()
      case .bitsSet:
        Console.write("expected bits ")
        ValueText.writeHex(b.bits)
        Console.write(" set in ")
        ValueText.writeHex(a.bits)
        Console.write(", missing ")
        ValueText.writeHex(b.bits & ~a.bits)
      case .bitsClear:
        Console.write("expected bits ")
        ValueText.writeHex(b.bits)
        Console.write(" clear in ")
        ValueText.writeHex(a.bits)
        Console.write(", set ")
        ValueText.writeHex(b.bits & a.bits)
      case .masked:
        Console.write("expected ")
        ValueText.writeHex(a.bits)
        Console.write(" & ")
        ValueText.writeHex(b.bits)
        Console.write(" == ")
        ValueText.writeHex(c.bits)
        Console.write(", got ")
        ValueText.writeHex(a.bits & b.bits)
      }
    }
    endValueDiagnostic()
  }
  return finishCheck(passed, kind: kind, name: name, file: file, line: line)
}

extension ValueCheckForm {
  var isClosedRange: Bool {
    if case .closedRange = self { return true }
    return false
  }
}

/// Checks that `actual == expected`.
@discardableResult
public func expectEqual<T: FixedWidthInteger>(
  _ actual: T, _ expected: T, _ name: StaticString = "", file: StaticString = #fileID,
  line: UInt = #line
) -> ExpectationResult {
  recordValueCheck(
    actual == expected, .equal, CheckValue(actual), CheckValue(expected), CheckValue(0),
    kind: "expectEqual", name: name, file: file, line: line)
}

/// Checks that two Booleans are equal.
@discardableResult
public func expectEqual(
  _ actual: Bool, _ expected: Bool, _ name: StaticString = "", file: StaticString = #fileID,
  line: UInt = #line
) -> ExpectationResult {
  recordCheck(
    actual == expected, kind: "expectEqual", name: name, file: file, line: line,
    failure: expected ? "expected true, got false" : "expected false, got true")
}

/// Checks that `actual != unexpected`.
@discardableResult
public func expectNotEqual<T: FixedWidthInteger>(
  _ actual: T, _ unexpected: T, _ name: StaticString = "", file: StaticString = #fileID,
  line: UInt = #line
) -> ExpectationResult {
  recordValueCheck(
    actual != unexpected, .notEqual, CheckValue(actual), CheckValue(unexpected), CheckValue(0),
    kind: "expectNotEqual", name: name, file: file, line: line)
}

/// The comparison an ordering expectation makes.
public enum Comparison {
  case less, lessOrEqual, greater, greaterOrEqual

  var symbol: StaticString {
    switch self {
    case .less: " < "
    case .lessOrEqual: " <= "
    case .greater: " > "
    case .greaterOrEqual: " >= "
    }
  }

  @inline(__always)
  func holds<T: FixedWidthInteger>(_ lhs: T, _ rhs: T) -> Bool {
    switch self {
    case .less: lhs < rhs
    case .lessOrEqual: lhs <= rhs
    case .greater: lhs > rhs
    case .greaterOrEqual: lhs >= rhs
    }
  }
}

/// Checks `lhs <op> rhs`, e.g. `expect(used, .lessOrEqual, total)`.
@discardableResult
public func expect<T: FixedWidthInteger>(
  _ lhs: T, _ comparison: Comparison, _ rhs: T, _ name: StaticString = "",
  file: StaticString = #fileID, line: UInt = #line
) -> ExpectationResult {
  recordValueCheck(
    comparison.holds(lhs, rhs), .comparison(comparison), CheckValue(lhs), CheckValue(rhs),
    CheckValue(0), kind: "expectComparison", name: name, file: file, line: line)
}

/// Checks that `value` lies in `range`.
@discardableResult
public func expect<T: FixedWidthInteger>(
  _ value: T, in range: ClosedRange<T>, _ name: StaticString = "", file: StaticString = #fileID,
  line: UInt = #line
) -> ExpectationResult {
  recordValueCheck(
    range.contains(value), .closedRange, CheckValue(value), CheckValue(range.lowerBound),
    CheckValue(range.upperBound), kind: "expectInRange", name: name, file: file, line: line)
}

/// Checks that `value` lies in `range`.
@discardableResult
public func expect<T: FixedWidthInteger>(
  _ value: T, in range: Range<T>, _ name: StaticString = "", file: StaticString = #fileID,
  line: UInt = #line
) -> ExpectationResult {
  recordValueCheck(
    range.contains(value), .halfOpenRange, CheckValue(value), CheckValue(range.lowerBound),
    CheckValue(range.upperBound), kind: "expectInRange", name: name, file: file, line: line)
}

/// Checks that every bit of `mask` is set in `value`.
@discardableResult
public func expectBits<T: FixedWidthInteger>(
  _ value: T, set mask: T, _ name: StaticString = "", file: StaticString = #fileID,
  line: UInt = #line
) -> ExpectationResult {
  let bits = UInt64(truncatingIfNeeded: value)
  let wanted = UInt64(truncatingIfNeeded: mask)
  return recordValueCheck(
    bits & wanted == wanted, .bitsSet, CheckValue(bits), CheckValue(wanted), CheckValue(0),
    kind: "expectBitsSet", name: name, file: file, line: line)
}

/// Checks that every bit of `mask` is clear in `value`.
@discardableResult
public func expectBits<T: FixedWidthInteger>(
  _ value: T, clear mask: T, _ name: StaticString = "", file: StaticString = #fileID,
  line: UInt = #line
) -> ExpectationResult {
  let bits = UInt64(truncatingIfNeeded: value)
  let unwanted = UInt64(truncatingIfNeeded: mask)
  return recordValueCheck(
    bits & unwanted == 0, .bitsClear, CheckValue(bits), CheckValue(unwanted), CheckValue(0),
    kind: "expectBitsClear", name: name, file: file, line: line)
}

/// Checks that `value & mask == expected`.
@discardableResult
public func expectBits<T: FixedWidthInteger>(
  _ value: T, masked mask: T, equal expected: T, _ name: StaticString = "",
  file: StaticString = #fileID, line: UInt = #line
) -> ExpectationResult {
  let bits = UInt64(truncatingIfNeeded: value)
  let maskBits = UInt64(truncatingIfNeeded: mask)
  let expectedBits = UInt64(truncatingIfNeeded: expected)
  return recordValueCheck(
    bits & maskBits == expectedBits, .masked, CheckValue(bits), CheckValue(maskBits),
    CheckValue(expectedBits), kind: "expectMasked", name: name, file: file, line: line)
}

/// Stops the test when `result` failed (its check is already recorded):
/// `try require(expectEqual(pages, 4))`.
#if hasAttribute(export)
  @export(interface)
#endif
public func require(_ result: ExpectationResult) throws(TestStop) {
  if !result.passed { throw TestStop.requirementFailed }
}

/// Checks `condition` and stops the test when it does not hold.
#if hasAttribute(export)
  @export(interface)
#endif
public func require(
  _ condition: Bool, _ name: StaticString = "", file: StaticString = #fileID, line: UInt = #line
) throws(TestStop) {
  try require(expect(condition, name, file: file, line: line))
}

/// Unwraps `value`, recording a check; stops the test when it is nil.
public func require<T>(
  _ value: T?, _ name: StaticString = "", file: StaticString = #fileID, line: UInt = #line
) throws(TestStop) -> T {
  let result = recordCheck(
    value != nil, kind: "require", name: name, file: file, line: line,
    failure: "expected a value, got nil")
  guard result.passed, let value else { throw TestStop.requirementFailed }
  return value
}

/// Records a check that did not run, with the reason why.
#if hasAttribute(export)
  @export(interface)
#endif
public func skip(
  _ name: StaticString, because reason: StaticString, file: StaticString = #fileID,
  line: UInt = #line
) {
  lockReport()
  defer { unlockReport() }
  do {
    guard guestRunState.inTest else { return }
    guestRunState.checkNumber &+= 1
    guestRunState.testSkipped &+= 1
    guestRunState.skipped &+= 1
    KTAP.writeResult(
      depth: checkDepth, ok: true, number: guestRunState.checkNumber, name: KTAPText(name),
      directive: .skip, reason: KTAPText(reason), trailer: trailerNow(file: file, line: line))
  }
}

/// Skips the rest of the test: its result is SKIP with `reason` (unless a
/// check already failed).
public func skipTest(_ reason: StaticString) throws(TestStop) -> Never {
  throw TestStop.skipped(reason)
}

/// Writes a diagnostic line `# <text>` in the running test.
#if hasAttribute(export)
  @export(interface)
#endif
public func note(_ text: StaticString) {
  KTAP.writeDiagnostic(depth: guestRunState.inTest ? checkDepth : 0, text)
}

/// Writes a diagnostic line `# <text> <value>` (hexadecimal when `hex`).
#if hasAttribute(export)
  @export(interface)
#endif
public func note(_ text: StaticString, _ value: UInt64, hex: Bool = false) {
  KTAP.beginDiagnostic(depth: guestRunState.inTest ? checkDepth : 0)
  Console.write(text)
  Console.write(" ")
  if hex { ValueText.writeHex(value) } else { Console.write(decimal: value) }
  KTAP.endDiagnostic()
}
