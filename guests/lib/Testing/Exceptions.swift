// Exception tests with ordinary Swift closures: the closure waits in a
// per-CPU slot that a C-convention trampoline (the platform's exception
// hook takes only those) calls, so bodies capture what they like and no
// test writes `@convention(c)` code or context pointers. An exception
// unwinds the body without running its cleanups (what it retained stays
// retained).

/// The closure each CPU's `catchException` is running; sized by
/// `prepareExceptionSlots` before any test runs.
nonisolated(unsafe) var exceptionBodies: [(() -> Void)?] = []

/// Makes one slot per CPU (boot CPU, before the tests).
func prepareExceptionSlots(cpus: Int) {
  exceptionBodies = []
  var index = 0
  while index < max(cpus, 1) {
    exceptionBodies.append(nil)
    index &+= 1
  }
}

/// Runs `body` with the exception hook armed; returns what it raised, or
/// nil when it returned normally.
#if hasAttribute(export)
  @export(interface)
#endif
public func catchException(_ body: @escaping () -> Void) -> CaughtException? {
  let cpu = PlatformHooks.currentCPU()
  guard cpu < exceptionBodies.count else { fatalError("catchException: CPU without a slot") }
  let outer = exceptionBodies[cpu]
  exceptionBodies[cpu] = body
  let caught = PlatformHooks.catchException(
    { _ in exceptionBodies[PlatformHooks.currentCPU()]?() }, nil)
  exceptionBodies[cpu] = outer
  return caught
}

/// Checks that `body` raises the exception `vector` (x86_64: the vector,
/// s390x: the program-interruption code) and, when given, the error `code`
/// (x86_64: the error code; s390x: the instruction-length code). Returns
/// what was caught.
#if hasAttribute(export)
  @export(interface)
#endif
@discardableResult
public func expectException(
  vector: UInt64, code: UInt64? = nil, _ name: StaticString = "", file: StaticString = #fileID,
  line: UInt = #line, _ body: @escaping () -> Void
) -> CaughtException? {
  let caught = catchException(body)
  // Under mutation (Mutation.swift) the expected vector and code are wrong
  // ones (low bit flipped).
  let mutating = guestRunState.mutating
  let vector = mutating ? vector ^ 1 : vector
  let code = mutating ? code.map { $0 ^ 1 } : code
  var passed = caught?.vector == vector
  if let code, passed { passed = caught?.errorCode == code }
  if beginCheck(passed) {
    beginValueDiagnostic()
    if mutating { writeMutationPrefix(inverted: false) }
    Console.write("expected exception ")
    Console.write(decimal: vector)
    if let code {
      Console.write(" code ")
      ValueText.writeHex(code)
    }
    Console.write(", got ")
    writeCaught(caught)
    endValueDiagnostic()
  }
  _ = finishCheck(passed, kind: "expectException", name: name, file: file, line: line)
  return caught
}

/// Checks that `body` returns without raising an exception.
#if hasAttribute(export)
  @export(interface)
#endif
@discardableResult
public func expectNoException(
  _ name: StaticString = "", file: StaticString = #fileID, line: UInt = #line,
  _ body: @escaping () -> Void
) -> ExpectationResult {
  let caught = catchException(body)
  // Under mutation (Mutation.swift) an exception is expected instead.
  let mutating = guestRunState.mutating
  let passed = mutating ? caught != nil : caught == nil
  if beginCheck(passed) {
    beginValueDiagnostic()
    if mutating { writeMutationPrefix(inverted: true) }
    Console.write("expected no exception, got ")
    writeCaught(caught)
    endValueDiagnostic()
  }
  return finishCheck(passed, kind: "expectNoException", name: name, file: file, line: line)
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
