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

/// Records one check: counts it, writes its diagnostics (when it failed)
/// and its result line, all under the report lock.
@inline(never)
func recordCheck(
  _ passed: Bool, kind: StaticString, name: StaticString, file: StaticString, line: UInt,
  diagnostics: () -> Void
) -> ExpectationResult {
  withReportLock {
    guard guestRunState.inTest else {
      KTAP.beginDiagnostic(depth: 0)
      Console.write("check outside a test at ")
      Console.write(file)
      Console.write(":")
      Console.write(decimal: UInt64(line))
      KTAP.endDiagnostic()
      guestRunState.testFailures &+= 1
      return
    }
    guestRunState.checkNumber &+= 1
    let text = name.utf8CodeUnitCount == 0 ? KTAPText(kind, line: line) : KTAPText(name)
    var directive = KTAPDirective.none
    var reason = KTAPText("")
    var ok = passed
    if passed {
      guestRunState.testPassed &+= 1
      guestRunState.passed &+= 1
    } else {
      diagnostics()
      if let xfail = guestRunState.xfailReason {
        guestRunState.testXFailed &+= 1
        guestRunState.xfailed &+= 1
        directive = .xfail
        reason = KTAPText(xfail)
        ok = true
      } else {
        guestRunState.testFailed &+= 1
        guestRunState.failed &+= 1
      }
    }
    KTAP.writeResult(
      depth: checkDepth, ok: ok, number: guestRunState.checkNumber, name: text,
      directive: directive, reason: reason, trailer: trailerNow(file: file, line: line))
  }
  return ExpectationResult(passed: passed)
}

/// Writes one diagnostic line of a failed check: `# ` and what `body` writes.
func valueDiagnostic(_ body: () -> Void) {
  KTAP.beginDiagnostic(depth: checkDepth)
  body()
  KTAP.endDiagnostic()
}

/// Checks that `condition` holds.
@discardableResult
public func expect(
  _ condition: Bool, _ name: StaticString = "", file: StaticString = #fileID, line: UInt = #line
) -> ExpectationResult {
  recordCheck(condition, kind: "expect", name: name, file: file, line: line) {
    valueDiagnostic { Console.write("expected true, got false") }
  }
}

/// Checks that `actual == expected`.
@discardableResult
public func expectEqual<T: FixedWidthInteger>(
  _ actual: T, _ expected: T, _ name: StaticString = "", file: StaticString = #fileID,
  line: UInt = #line
) -> ExpectationResult {
  recordCheck(actual == expected, kind: "expectEqual", name: name, file: file, line: line) {
    valueDiagnostic {
      Console.write("expected ")
      ValueText.write(expected)
      Console.write(", got ")
      ValueText.write(actual)
    }
  }
}

/// Checks that two Booleans are equal.
@discardableResult
public func expectEqual(
  _ actual: Bool, _ expected: Bool, _ name: StaticString = "", file: StaticString = #fileID,
  line: UInt = #line
) -> ExpectationResult {
  recordCheck(actual == expected, kind: "expectEqual", name: name, file: file, line: line) {
    valueDiagnostic {
      Console.write("expected ")
      ValueText.write(expected)
      Console.write(", got ")
      ValueText.write(actual)
    }
  }
}

/// Checks that `actual != unexpected`.
@discardableResult
public func expectNotEqual<T: FixedWidthInteger>(
  _ actual: T, _ unexpected: T, _ name: StaticString = "", file: StaticString = #fileID,
  line: UInt = #line
) -> ExpectationResult {
  recordCheck(actual != unexpected, kind: "expectNotEqual", name: name, file: file, line: line) {
    valueDiagnostic {
      Console.write("expected anything but ")
      ValueText.write(unexpected)
      Console.write(", got it")
    }
  }
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
  recordCheck(
    comparison.holds(lhs, rhs), kind: "expectComparison", name: name, file: file, line: line
  ) {
    valueDiagnostic {
      Console.write("expected ")
      ValueText.write(lhs)
      Console.write(comparison.symbol)
      ValueText.write(rhs)
    }
  }
}

/// Checks that `value` lies in `range`.
@discardableResult
public func expect<T: FixedWidthInteger>(
  _ value: T, in range: ClosedRange<T>, _ name: StaticString = "", file: StaticString = #fileID,
  line: UInt = #line
) -> ExpectationResult {
  recordCheck(range.contains(value), kind: "expectInRange", name: name, file: file, line: line) {
    valueDiagnostic {
      Console.write("expected ")
      ValueText.write(value)
      Console.write(" in ")
      ValueText.write(range.lowerBound)
      Console.write("...")
      ValueText.write(range.upperBound)
    }
  }
}

/// Checks that `value` lies in `range`.
@discardableResult
public func expect<T: FixedWidthInteger>(
  _ value: T, in range: Range<T>, _ name: StaticString = "", file: StaticString = #fileID,
  line: UInt = #line
) -> ExpectationResult {
  recordCheck(range.contains(value), kind: "expectInRange", name: name, file: file, line: line) {
    valueDiagnostic {
      Console.write("expected ")
      ValueText.write(value)
      Console.write(" in ")
      ValueText.write(range.lowerBound)
      Console.write("..<")
      ValueText.write(range.upperBound)
    }
  }
}

/// Checks that every bit of `mask` is set in `value`.
@discardableResult
public func expectBits<T: FixedWidthInteger>(
  _ value: T, set mask: T, _ name: StaticString = "", file: StaticString = #fileID,
  line: UInt = #line
) -> ExpectationResult {
  let bits = UInt64(truncatingIfNeeded: value)
  let wanted = UInt64(truncatingIfNeeded: mask)
  return recordCheck(bits & wanted == wanted, kind: "expectBitsSet", name: name, file: file, line: line) {
    valueDiagnostic {
      Console.write("expected bits ")
      ValueText.writeHex(mask)
      Console.write(" set in ")
      ValueText.writeHex(value)
      Console.write(", missing ")
      ValueText.writeHex(wanted & ~bits)
    }
  }
}

/// Checks that every bit of `mask` is clear in `value`.
@discardableResult
public func expectBits<T: FixedWidthInteger>(
  _ value: T, clear mask: T, _ name: StaticString = "", file: StaticString = #fileID,
  line: UInt = #line
) -> ExpectationResult {
  let bits = UInt64(truncatingIfNeeded: value)
  let unwanted = UInt64(truncatingIfNeeded: mask)
  return recordCheck(bits & unwanted == 0, kind: "expectBitsClear", name: name, file: file, line: line) {
    valueDiagnostic {
      Console.write("expected bits ")
      ValueText.writeHex(mask)
      Console.write(" clear in ")
      ValueText.writeHex(value)
      Console.write(", set ")
      ValueText.writeHex(unwanted & bits)
    }
  }
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
  return recordCheck(bits & maskBits == expectedBits, kind: "expectMasked", name: name, file: file, line: line) {
    valueDiagnostic {
      Console.write("expected ")
      ValueText.writeHex(value)
      Console.write(" & ")
      ValueText.writeHex(mask)
      Console.write(" == ")
      ValueText.writeHex(expected)
      Console.write(", got ")
      ValueText.writeHex(bits & maskBits)
    }
  }
}

/// Stops the test when `result` failed (its check is already recorded):
/// `try require(expectEqual(pages, 4))`.
public func require(_ result: ExpectationResult) throws(TestStop) {
  if !result.passed { throw TestStop.requirementFailed }
}

/// Checks `condition` and stops the test when it does not hold.
public func require(
  _ condition: Bool, _ name: StaticString = "", file: StaticString = #fileID, line: UInt = #line
) throws(TestStop) {
  try require(expect(condition, name, file: file, line: line))
}

/// Unwraps `value`, recording a check; stops the test when it is nil.
public func require<T>(
  _ value: T?, _ name: StaticString = "", file: StaticString = #fileID, line: UInt = #line
) throws(TestStop) -> T {
  let result = recordCheck(value != nil, kind: "require", name: name, file: file, line: line) {
    valueDiagnostic { Console.write("expected a value, got nil") }
  }
  guard result.passed, let value else { throw TestStop.requirementFailed }
  return value
}

/// Records a check that did not run, with the reason why.
public func skip(
  _ name: StaticString, because reason: StaticString, file: StaticString = #fileID,
  line: UInt = #line
) {
  withReportLock {
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
public func note(_ text: StaticString) {
  KTAP.writeDiagnostic(depth: guestRunState.inTest ? checkDepth : 0, text)
}

/// Writes a diagnostic line `# <text> <value>` (hexadecimal when `hex`).
public func note(_ text: StaticString, _ value: UInt64, hex: Bool = false) {
  KTAP.beginDiagnostic(depth: guestRunState.inTest ? checkDepth : 0)
  Console.write(text)
  Console.write(" ")
  if hex { ValueText.writeHex(value) } else { Console.write(decimal: value) }
  KTAP.endDiagnostic()
}
