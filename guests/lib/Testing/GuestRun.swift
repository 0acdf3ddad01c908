// Runs a guest's registered tests and reports them in the protocol's KTAP
// dialect (guests/lib/Protocol/KTAPGrammar.swift; README.md, "The
// protocol"). Checks may come from any CPU: every report takes one lock,
// so each result is numbered and written whole, and names its CPU and the
// guest clock.

import Synchronization

/// The status a guest reports in its final `# EXIT: STATUS=n` line.
public enum GuestStatus: UInt32 {
  /// Every check passed, was skipped or failed as expected.
  case passed = 0
  /// A check failed, a test made no check, passed unexpectedly (XPASS), or
  /// the guest broke its own plan.
  case failed = 1
  /// The guest took an exception it did not expect.
  case crashed = 2
}

/// What the free functions of the test API need of the machine: set by
/// `runGuestTests` from the platform; harmless defaults before.
public enum PlatformHooks {
  /// Nanoseconds since boot.
  nonisolated(unsafe) public static var nanoseconds: () -> UInt64 = { 0 }
  /// The platform's reset record page (`GuestPlatform.resetRecordAddress`).
  nonisolated(unsafe) public static var resetRecordAddress: UInt? = nil
  /// Index of the calling CPU.
  nonisolated(unsafe) public static var currentCPU: () -> Int = { 0 }
  /// The platform's exception hook (`GuestPlatform.catchException`).
  nonisolated(unsafe) public static var catchException:
    (@convention(c) (UnsafeMutableRawPointer?) -> Void, UnsafeMutableRawPointer?) ->
      CaughtException? = { body, context in
        body(context)
        return nil
      }
}

/// Counters of one guest run (one global, guarded by the report lock).
public struct GuestRunState {
  /// Tests announced by the plan, or -1 before the plan.
  public var plannedTests = -1
  /// Tests that printed their result line.
  public var finishedTests = 0
  /// Whether a test's subtest block is open.
  public var inTest = false
  /// The open test's index in the guest's test list.
  public var testIndex = 0
  /// The open test's name (to close it after a crash).
  public var testName: StaticString = ""
  /// The open test's active known-failure reason, if any.
  public var xfailReason: StaticString? = nil
  /// Number of the last check in the open test.
  public var checkNumber = 0
  /// Checks of the open test.
  public var testPassed = 0
  public var testFailed = 0
  public var testSkipped = 0
  public var testXFailed = 0
  /// Totals over the run (checks; XPASS counts tests).
  public var passed = 0
  public var failed = 0
  public var skipped = 0
  public var xfailed = 0
  public var xpassed = 0
  /// Tests that failed as tests (no check, XPASS) or broke the plan.
  public var testFailures = 0
  /// Whether an XPASS is allowed (`harness.xpass=allow`).
  public var allowXPass = false
  /// Whether the open test runs with deliberately wrong expectations
  /// (`harness.mutate=` lists its index; see `Mutation.swift`).
  public var mutating = false
  /// Whether the harness migrates the machine on request
  /// (`harness.migrate=yes`).
  public var migrates = false
  /// Whether the harness resets the machine on request
  /// (`harness.reset=yes`).
  public var resets = false

  /// A fresh state.
  public init() {}
}

/// The running guest's report state.
nonisolated(unsafe) public var guestRunState = GuestRunState()

/// The report lock: one result at a time, from any CPU.
private let reportLockWord = Atomic<UInt32>(0)

/// Takes the report lock.
func lockReport() {
  while !reportLockWord.compareExchange(
    expected: 0, desired: 1, successOrdering: .acquiring, failureOrdering: .relaxed
  ).exchanged {
    while reportLockWord.load(ordering: .relaxed) != 0 {}
  }
}

/// Releases the report lock.
func unlockReport() {
  reportLockWord.store(0, ordering: .releasing)
}

/// Runs `body` holding the report lock.
func withReportLock<R>(_ body: () -> R) -> R {
  lockReport()
  let result = body()
  unlockReport()
  return result
}

/// The indentation depth of check lines: inside a test's subtest block.
let checkDepth = 1

/// The trailer of a line written now by this CPU.
func trailerNow(file: StaticString?, line: UInt, duration: UInt64? = nil) -> KTAPTrailer {
  KTAPTrailer(
    fileID: file, line: line, cpu: PlatformHooks.currentCPU(), time: PlatformHooks.nanoseconds(),
    duration: duration)
}

/// Boots `P`, runs `tests` (those selected by `harness.tests=`), writes the
/// exit line and stops the machine. The payload builder's generated entry
/// calls this with the program's `guestTests` and the arch's `Platform`.
/// The list is evaluated after boot: building it allocates, and the heap
/// exists only once the platform is up.
public func runGuest<P: GuestPlatform>(
  named name: StaticString, _ tests: @autoclosure () -> [Test], on platform: P.Type
) -> Never {
  P.boot()
  let status = runGuestTests(named: name, tests(), on: platform)
  P.exit(status)
}

/// Runs `tests` on an already booted `P` and writes the whole report up to
/// the exit line; returns the status (the host tests call this directly).
public func runGuestTests<P: GuestPlatform>(
  named name: StaticString, _ tests: [Test], on platform: P.Type
) -> GuestStatus {
  PlatformHooks.nanoseconds = { P.nanoseconds() }
  PlatformHooks.currentCPU = { P.currentCPU }
  PlatformHooks.catchException = { body, context in P.catchException(body, context: context) }
  PlatformHooks.resetRecordAddress = P.resetRecordAddress
  prepareExceptionSlots(cpus: P.cpuCount)
  let arguments = P.arguments
  guestRunState = GuestRunState()
  guestRunState.allowXPass = arguments.value(of: "harness.xpass", hasItem: "allow")
  guestRunState.migrates = arguments.value(of: KTAP.migrateArgument, hasItem: "yes")
  guestRunState.resets = arguments.value(of: KTAP.resetArgument, hasItem: "yes")
  var selectedCount = 0
  for index in 0..<tests.count where isSelected(index, arguments) { selectedCount &+= 1 }
  guestRunState.plannedTests = selectedCount
  // After a reset the guest asked for: the run goes on in the test that
  // asked (a record of another plan or test list is stale: ignored).
  var resume = ResetRecord.take(at: P.resetRecordAddress)
  if let record = resume,
    record.state.plannedTests != selectedCount || record.testIndex >= tests.count
      || !isSelected(record.testIndex, arguments)
  {
    resume = nil
  }
  GuestReset.count = resume?.resets ?? 0
  GuestReset.requestedAt = resume?.requestedAt ?? 0
  if let record = resume {
    guestRunState.finishedTests = record.state.finishedTests
    guestRunState.passed = record.state.passed
    guestRunState.failed = record.state.failed
    guestRunState.skipped = record.state.skipped
    guestRunState.xfailed = record.state.xfailed
    guestRunState.xpassed = record.state.xpassed
    guestRunState.testFailures = record.state.testFailures
  }
  KTAP.writeVersion(depth: 0)
  KTAP.writeGuestName(name)
  KTAP.writePlan(depth: 0, count: selectedCount)
  for index in 0..<tests.count where isSelected(index, arguments) {
    if let record = resume, index < record.testIndex { continue }
    let resumed = resume.map { $0.testIndex == index } ?? false
    run(
      tests[index], index: index, platform, arguments, mutated: isMutated(index, arguments),
      resuming: resumed ? resume : nil)
  }
  return finishRun()
}

/// Whether test `index` is selected: every test when `harness.tests=` is
/// absent, else those whose index it lists.
func isSelected(_ index: Int, _ arguments: BootArguments) -> Bool {
  arguments.integerList("harness.tests", contains: UInt64(index)) ?? true
}

/// Why `test` cannot run on this machine (the skip reason), or nil.
/// Numbers behind a reason go to diagnostic lines before the result.
func unmetRequirement<P: GuestPlatform>(_ test: Test, _ platform: P.Type, _ arguments: BootArguments)
  -> KTAPText?
{
  for trait in test.traits {
    switch trait {
    case .minimumCPUs(let count):
      if P.cpuCount < count {
        note("needs CPUs:", UInt64(count))
        note("the machine has CPUs:", UInt64(P.cpuCount))
        return KTAPText("needs more CPUs than the machine has")
      }
    case .accelerator(let accelerator):
      guard let current = currentAccelerator(arguments) else {
        return KTAPText("needs a given accelerator, and harness.accel= is missing")
      }
      if current != accelerator {
        return KTAPText(accelerator == .kvm ? "needs KVM" : "needs TCG")
      }
    case .architecture(let architecture):
      if architecture != GuestArchitecture.current {
        return KTAPText(architecture == .x86_64 ? "needs x86_64" : "needs s390x")
      }
    case .feature(let feature):
      if !P.hasFeature(feature) {
        return KTAPText(feature.name, prefix: "needs CPU feature ")
      }
    case .minimumMemory(let mebibytes):
      guard let memory = arguments.integer("harness.mem") else {
        return KTAPText("needs a memory size, and harness.mem= is missing")
      }
      if memory < mebibytes {
        note("needs MiB:", mebibytes)
        note("the machine has MiB:", memory)
        return KTAPText("needs more memory than the machine has")
      }
    case .disabled(let reason):
      return KTAPText(reason)
    case .expectedFailure:
      break
    }
  }
  return nil
}

/// The accelerator named by `harness.accel=`.
func currentAccelerator(_ arguments: BootArguments) -> Accelerator? {
  if arguments.value(of: "harness.accel", hasItem: "kvm") { return .kvm }
  if arguments.value(of: "harness.accel", hasItem: "tcg") { return .tcg }
  return nil
}

/// The active known-failure reason of `test`, if one of its conditions holds.
func activeXFail(_ test: Test, _ arguments: BootArguments) -> StaticString? {
  for trait in test.traits {
    guard case .expectedFailure(let reason, let condition) = trait else { continue }
    switch condition {
    case .always:
      return reason
    case .accelerator(let accelerator):
      if currentAccelerator(arguments) == accelerator { return reason }
    case .architecture(let architecture):
      if architecture == GuestArchitecture.current { return reason }
    case .qemuBelow(let major, let minor):
      if let version = arguments.version("harness.qemu"),
        version.major < major || (version.major == major && version.minor < minor)
      {
        return reason
      }
    }
  }
  return nil
}

/// Runs one test and writes its result line. With `resuming` (the record
/// of the reset this test asked for) its subtest block is reopened with
/// the counters and check number it had when it asked, and its body runs
/// again from its start with `GuestReset.resumed` set.
private func run<P: GuestPlatform>(
  _ test: Test, index: Int, _ platform: P.Type, _ arguments: BootArguments, mutated: Bool,
  resuming: ResetRecord?
) {
  let start = PlatformHooks.nanoseconds()
  if let reason = unmetRequirement(test, platform, arguments) {
    withReportLock {
      guestRunState.finishedTests &+= 1
      guestRunState.skipped &+= 1
      KTAP.writeResult(
        depth: 0, ok: true, number: guestRunState.finishedTests, name: KTAPText(test.name),
        directive: .skip, reason: reason,
        trailer: trailerNow(file: test.file, line: test.line))
    }
    return
  }
  withReportLock {
    guestRunState.inTest = true
    guestRunState.testIndex = index
    guestRunState.testName = test.name
    // A mutated test's failures are the point: never known failures.
    guestRunState.xfailReason = mutated ? nil : activeXFail(test, arguments)
    guestRunState.mutating = mutated
    let kept = resuming?.state ?? GuestRunState()
    guestRunState.checkNumber = resuming == nil ? 0 : kept.checkNumber
    guestRunState.testPassed = resuming == nil ? 0 : kept.testPassed
    guestRunState.testFailed = resuming == nil ? 0 : kept.testFailed
    guestRunState.testSkipped = resuming == nil ? 0 : kept.testSkipped
    guestRunState.testXFailed = resuming == nil ? 0 : kept.testXFailed
    GuestReset.resumed = resuming != nil
    KTAP.writeVersion(depth: 1)
    KTAP.writeSubtestHeader(depth: 1, name: test.name)
  }
  var skippedBy: StaticString? = nil
  var stopped = false
  do {
    try test.body()
  } catch {
    switch error {
    case .requirementFailed: stopped = true
    case .skipped(let reason): skippedBy = reason
    }
  }
  let end = PlatformHooks.nanoseconds()
  GuestReset.resumed = false
  withReportLock {
    var state = guestRunState
    state.inTest = false
    state.mutating = false
    state.finishedTests &+= 1
    let checks = state.testPassed &+ state.testFailed &+ state.testSkipped &+ state.testXFailed
    var ok = state.testFailed == 0
    var directive = KTAPDirective.none
    var reason = KTAPText("")
    if stopped {
      KTAP.writeDiagnostic(depth: 1, KTAP.stoppedByRequireDiagnostic)
    }
    if let skippedBy, state.testFailed == 0 {
      directive = .skip
      reason = KTAPText(skippedBy)
      state.skipped &+= 1
    } else if checks == 0 && skippedBy == nil {
      KTAP.writeDiagnostic(depth: 1, KTAP.noCheckDiagnostic)
      ok = false
      state.testFailures &+= 1
    } else if let xfail = state.xfailReason, state.testFailed == 0 {
      reason = KTAPText(xfail)
      if state.testXFailed > 0 {
        directive = .xfail
      } else if state.testSkipped < checks {
        directive = .xpass
        state.xpassed &+= 1
        if !state.allowXPass {
          ok = false
          state.testFailures &+= 1
        }
      }
    }
    guestRunState = state
    KTAP.writeResult(
      depth: 0, ok: ok, number: state.finishedTests, name: KTAPText(test.name),
      directive: directive, reason: reason,
      trailer: trailerNow(file: test.file, line: test.line, duration: end &- start))
  }
}

/// Ends the run: the totals and the exit line; returns the status.
func finishRun() -> GuestStatus {
  withReportLock {
    let state = guestRunState
    var status: GuestStatus = state.failed > 0 || state.testFailures > 0 ? .failed : .passed
    if state.plannedTests != state.finishedTests {
      KTAP.writeDiagnostic(depth: 0, "plan not met: tests planned and run differ")
      status = .failed
    }
    KTAP.writeTotals(
      passed: state.passed, failed: state.failed, skipped: state.skipped, xfailed: state.xfailed,
      xpassed: state.xpassed)
    KTAP.writeExit(status: status.rawValue)
    return status
  }
}

/// Closes the open test after a crash, so that a KTAP reader never takes
/// the crash for a passing test: the crash marker subtest `(crashed)`
/// announces a result that never comes, and the test's result line is
/// `not ok` (README.md, "The protocol"). Does nothing outside a test.
public func closeTestAfterCrash() {
  guard guestRunState.inTest else { return }
  let state = guestRunState
  guestRunState.inTest = false
  KTAP.writeCrashMarker(depth: checkDepth, number: state.checkNumber &+ 1)
  KTAP.writeResult(
    depth: 0, ok: false, number: state.finishedTests &+ 1, name: KTAPText(state.testName))
}

/// Prints `# EXIT: STATUS=n`, the line the host's verdict rests on. For
/// `.crashed` it first closes the open test (`closeTestAfterCrash`). The
/// architectures' exception handlers call this; it takes no lock, since
/// the crashing CPU may hold it.
public func writeExitLine(_ status: GuestStatus) {
  if status == .crashed { closeTestAfterCrash() }
  KTAP.writeExit(status: status.rawValue)
}
