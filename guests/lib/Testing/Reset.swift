// Machine resets a guest asks for (`requestReset()`, `# harness: reset` on
// the wire; guests/lib/Protocol/KTAPGrammar.swift). The run spans the
// reset: before asking, the guest writes a reset record (the run's
// counters and the test that asks) into the platform's reset record page
// (`GuestPlatform.resetRecordAddress`), RAM that survives a reset while
// the image is reloaded. After the reset `runGuestTests` finds the record,
// takes it (clears it, so a later reset nobody asked for starts over and
// is caught by the harness), writes a new KTAP header, the guest name and
// the plan, skips the tests that finished before the reset, and runs the
// test that asked again from its start with its counters and check
// numbers restored: its body reads `GuestReset.resumed` to go on from
// where it asked.

/// What the running guest knows about the resets it asked for.
public enum GuestReset {
  /// Resets this run has been through (0 before the first).
  nonisolated(unsafe) public internal(set) static var count = 0
  /// Whether the running test asked for the last reset and is running
  /// again after it (its body goes on from where it asked).
  nonisolated(unsafe) public internal(set) static var resumed = false
  /// The guest clock (nanoseconds since boot) of the boot before the last
  /// reset, when the test asked for it.
  nonisolated(unsafe) public internal(set) static var requestedAt: UInt64 = 0
  /// Bytes of the reset record page after the record, for the guest's own
  /// use: they survive a reset like the record (nil without a page).
  public static var keptBytes: UnsafeMutableRawBufferPointer? {
    guard let address = PlatformHooks.resetRecordAddress,
      let base = UnsafeMutableRawPointer(bitPattern: address + UInt(ResetRecord.byteCount))
    else { return nil }
    return UnsafeMutableRawBufferPointer(start: base, count: 4096 - ResetRecord.byteCount)
  }
}

/// Why `requestReset()` returned (it returns only when no reset came).
public enum ResetRefusal: Equatable {
  /// The cell does not reset (no `harness.reset=yes`): nothing was asked.
  case notAllowed
  /// The platform keeps no reset record (`resetRecordAddress` is nil).
  case noRecordPage
  /// Only a running test can ask (the run resumes in that test).
  case outsideTest
  /// The harness did not reset the machine within `resetWait`.
  case noReset

  /// The reason in words.
  public var reason: StaticString {
    switch self {
    case .notAllowed: "the cell does not reset (reset = no)"
    case .noRecordPage: "this platform keeps no reset record"
    case .outsideTest: "a reset can only be asked for inside a test"
    case .noReset: "the harness did not reset the machine within 20 s"
    }
  }
}

/// How long `requestReset()` waits for the reset, in nanoseconds of guest
/// time (below the default 30 s silence timeout).
let resetWait: UInt64 = 20_000_000_000

/// Asks the harness to reset the machine. On a reset this never returns:
/// the guest boots again and resumes the calling test from its start with
/// `GuestReset.resumed` set (see the top of this file). Returns only when
/// no reset came, with the reason: at once in a cell that does not reset
/// (no `harness.reset=yes`), so a test can skip instead of asking in vain.
/// Call it from the test's own CPU while no other CPU reports.
@inline(never)
public func requestReset() -> ResetRefusal {
  guard guestRunState.resets else { return .notAllowed }
  guard let address = PlatformHooks.resetRecordAddress,
    let record = UnsafeMutablePointer<UInt64>(bitPattern: address)
  else { return .noRecordPage }
  guard guestRunState.inTest else { return .outsideTest }
  withReportLock {
    ResetRecord.write(
      to: record, guestRunState, resets: GuestReset.count &+ 1,
      requestedAt: PlatformHooks.nanoseconds())
    KTAP.writeRequest(.reset, depth: checkDepth)
  }
  let until = PlatformHooks.nanoseconds() &+ resetWait
  while PlatformHooks.nanoseconds() < until {}
  ResetRecord.clear(record)
  return .noReset
}

/// The reset record: what the run must know after the reset, as 64-bit
/// words at the start of the reset record page, with a magic number and a
/// checksum so that stale or foreign memory never resumes a run.
struct ResetRecord {
  /// "SWGRESET" in ASCII.
  static let magic: UInt64 = 0x5357_4752_4553_4554
  static let words = 18
  /// Bytes the record takes (the rest of the page is `keptBytes`).
  static let byteCount = 256

  var resets = 0
  var testIndex = 0
  var requestedAt: UInt64 = 0
  /// The run's counters when the test asked.
  var state = GuestRunState()

  /// Writes `state` (with the running test's index) and a valid header.
  static func write(
    to record: UnsafeMutablePointer<UInt64>, _ state: GuestRunState, resets: Int,
    requestedAt: UInt64
  ) {
    record[2] = UInt64(resets)
    record[3] = UInt64(state.testIndex)
    record[4] = requestedAt
    record[5] = UInt64(state.finishedTests)
    record[6] = UInt64(state.checkNumber)
    record[7] = UInt64(state.passed)
    record[8] = UInt64(state.failed)
    record[9] = UInt64(state.skipped)
    record[10] = UInt64(state.xfailed)
    record[11] = UInt64(state.xpassed)
    record[12] = UInt64(state.testFailures)
    record[13] = UInt64(state.testPassed)
    record[14] = UInt64(state.testFailed)
    record[15] = UInt64(state.testSkipped)
    record[16] = UInt64(state.testXFailed)
    record[17] = UInt64(bitPattern: Int64(state.plannedTests))
    record[1] = checksum(record)
    record[0] = magic
  }

  /// Invalidates the record.
  static func clear(_ record: UnsafeMutablePointer<UInt64>) {
    record[0] = 0
    record[1] = 0
  }

  /// A fold of words 2 and up.
  static func checksum(_ record: UnsafeMutablePointer<UInt64>) -> UInt64 {
    var sum: UInt64 = 0x6A09_E667_F3BC_C908
    var index = 2
    while index < words {
      sum = (sum << 11 | sum >> 53) ^ record[index]
      sum = sum &+ 0x9E37_79B9_7F4A_7C15
      index &+= 1
    }
    return sum
  }

  /// The valid record at `address`, taken (cleared) so that it resumes
  /// one boot only; nil when there is none.
  static func take(at address: UInt?) -> ResetRecord? {
    guard let address, let record = UnsafeMutablePointer<UInt64>(bitPattern: address) else {
      return nil
    }
    guard record[0] == magic, record[1] == checksum(record) else { return nil }
    var taken = ResetRecord()
    taken.resets = Int(truncatingIfNeeded: record[2])
    taken.testIndex = Int(truncatingIfNeeded: record[3])
    taken.requestedAt = record[4]
    taken.state.finishedTests = Int(truncatingIfNeeded: record[5])
    taken.state.checkNumber = Int(truncatingIfNeeded: record[6])
    taken.state.passed = Int(truncatingIfNeeded: record[7])
    taken.state.failed = Int(truncatingIfNeeded: record[8])
    taken.state.skipped = Int(truncatingIfNeeded: record[9])
    taken.state.xfailed = Int(truncatingIfNeeded: record[10])
    taken.state.xpassed = Int(truncatingIfNeeded: record[11])
    taken.state.testFailures = Int(truncatingIfNeeded: record[12])
    taken.state.testPassed = Int(truncatingIfNeeded: record[13])
    taken.state.testFailed = Int(truncatingIfNeeded: record[14])
    taken.state.testSkipped = Int(truncatingIfNeeded: record[15])
    taken.state.testXFailed = Int(truncatingIfNeeded: record[16])
    taken.state.plannedTests = Int(truncatingIfNeeded: record[17])
    clear(record)
    return taken
  }
}
