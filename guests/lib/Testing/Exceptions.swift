// Exception tests with ordinary Swift closures: the closure is kept in a
// heap slot whose address is the context of the platform's C-convention
// exception hook, so bodies capture what they like and no test writes
// `@convention(c)` code or context pointers. An exception unwinds the body
// without running its cleanups (what it retained stays retained).

/// Runs `body` with the exception hook armed; returns what it raised, or
/// nil when it returned normally.
public func catchException(_ body: @escaping () -> Void) -> CaughtException? {
  let slot = UnsafeMutablePointer<() -> Void>.allocate(capacity: 1)
  slot.initialize(to: body)
  defer {
    slot.deinitialize(count: 1)
    slot.deallocate()
  }
  return PlatformHooks.catchException(
    { context in context!.assumingMemoryBound(to: (() -> Void).self).pointee() },
    UnsafeMutableRawPointer(slot))
}

/// Checks that `body` raises the exception `vector` (x86_64: the vector,
/// s390x: the program-interruption code) and, when given, the error `code`
/// (x86_64: the error code; s390x: the instruction-length code). Returns
/// what was caught.
@discardableResult
public func expectException(
  vector: UInt64, code: UInt64? = nil, _ name: StaticString = "", file: StaticString = #fileID,
  line: UInt = #line, _ body: @escaping () -> Void
) -> CaughtException? {
  let caught = catchException(body)
  var passed = caught?.vector == vector
  if let code, passed { passed = caught?.errorCode == code }
  recordCheck(passed, kind: "expectException", name: name, file: file, line: line) {
    valueDiagnostic {
      Console.write("expected exception ")
      Console.write(decimal: vector)
      if let code {
        Console.write(" code ")
        ValueText.writeHex(code)
      }
      Console.write(", got ")
      writeCaught(caught)
    }
  }
  return caught
}

/// Checks that `body` returns without raising an exception.
@discardableResult
public func expectNoException(
  _ name: StaticString = "", file: StaticString = #fileID, line: UInt = #line,
  _ body: @escaping () -> Void
) -> ExpectationResult {
  let caught = catchException(body)
  return recordCheck(caught == nil, kind: "expectNoException", name: name, file: file, line: line) {
    valueDiagnostic {
      Console.write("expected no exception, got ")
      writeCaught(caught)
    }
  }
}

private func writeCaught(_ caught: CaughtException?) {
  guard let caught else {
    Console.write("none")
    return
  }
  Console.write("exception ")
  Console.write(decimal: caught.vector)
  Console.write(" code ")
  ValueText.writeHex(caught.errorCode)
  Console.write(" at ")
  ValueText.writeHex(caught.instruction)
  if caught.faultAddress != 0 {
    Console.write(" address ")
    ValueText.writeHex(caught.faultAddress)
  }
}
