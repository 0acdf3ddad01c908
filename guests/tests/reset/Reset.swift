// Machine resets (issue 14): the guest asks the harness to reset the
// machine (`requestReset()`, `# harness: reset` on the wire; bare QEMU:
// QMP `system_reset`) and the run spans the reset. Before asking, the test
// writes a pattern into the reset record page (RAM outside the image,
// `GuestReset.keptBytes`) and changes two globals of the image; after the
// reset the runtime finds its reset record, resumes this test, and the
// test checks that it was a warm reset: the pattern survived (RAM is
// kept) while the globals have their initial values again (the image was
// reloaded and the guest started over from its entry). On x86_64 with two
// CPUs the second CPU runs work before the reset and, reset with the
// machine, starts again (INIT-SIPI-SIPI) and runs work after it.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("before", before),
  Test("warm reset", warmReset),
  Test("after", after),
]

/// A global the image initialises (`.data`) and one it zeroes (`.bss`).
nonisolated(unsafe) var initialisedWord: UInt64 = 0x0123_4567_89AB_CDEF
nonisolated(unsafe) var zeroedWord: UInt64 = 0

/// Word `index` of the pattern kept across the reset: every word differs.
func keptPattern(_ index: Int) -> UInt64 {
  var z = UInt64(index) ^ 0xBB67_AE85_84CA_A73B
  z ^= z << 13
  z ^= z >> 7
  z ^= z << 17
  return z
}

#if arch(x86_64)
  /// The CPU that ran the last work posted to CPU 1.
  nonisolated(unsafe) var ranOn = -1

  /// Starts the other CPUs and runs work on CPU 1 (two CPUs or more).
  func otherCPUWorks(_ started: StaticString, _ ran: StaticString) {
    guard Platform.cpuCount >= 2 else { return }
    expect(SMP.startAll(), .greaterOrEqual, 2, started)
    ranOn = -1
    SMP.onCPU(1, { _ in ranOn = SMP.currentIndex })
    expectEqual(ranOn, 1, ran)
  }
#endif

/// Runs before the reset only: its result stays in the first document.
func before() throws(TestStop) {
  expectEqual(GuestReset.count, 0, "no reset before the test that asks")
  expect(!GuestReset.resumed, "no test is resumed before the reset")
}

func warmReset() throws(TestStop) {
  let kept = try require(GuestReset.keptBytes, "the platform keeps a reset record page")
  let count = kept.count / 8
  let words = kept.baseAddress!.bindMemory(to: UInt64.self, capacity: count)
  if !GuestReset.resumed {
    expectEqual(
      initialisedWord, 0x0123_4567_89AB_CDEF, "an initialised global has its initial value")
    expectEqual(zeroedWord, 0, "a zeroed global is zero")
    var index = 0
    while index < count {
      words[index] = keptPattern(index)
      index &+= 1
    }
    #if arch(x86_64)
      otherCPUWorks("a second CPU starts before the reset", "CPU 1 runs work before the reset")
    #endif
    initialisedWord = 0xFEED_FACE_CAFE_BEEF
    zeroedWord = 0x5EED
    note("reset record page words written", UInt64(count))
    let refusal = requestReset()
    if refusal == .notAllowed { try skipTest("the cell does not reset (reset = no)") }
    // Only when no reset came: the test fails with the reason.
    expect(false, refusal.reason)
    return
  }
  expectEqual(GuestReset.count, 1, "the machine was reset once")
  expect(GuestReset.requestedAt, .greater, 0, "the boot before the reset recorded when it asked")
  var wrong: UInt64 = 0
  var index = 0
  while index < count {
    if words[index] != keptPattern(index) { wrong &+= 1 }
    index &+= 1
  }
  expectEqual(
    wrong, 0,
    "every word written to the reset record page before the reset is kept (warm: RAM survives)")
  expectEqual(
    initialisedWord, 0x0123_4567_89AB_CDEF,
    "an initialised global changed before the reset has its initial value again (the image was reloaded)"
  )
  expectEqual(zeroedWord, 0, "a zeroed global changed before the reset is zero again")
  #if arch(x86_64)
    otherCPUWorks("a second CPU starts again after the reset", "CPU 1 runs work after the reset")
  #endif
}

/// Runs after the resumed test, on the boot after the reset.
func after() throws(TestStop) {
  if !Platform.arguments.value(of: "harness.reset", hasItem: "yes") {
    try skipTest("the cell does not reset (reset = no)")
  }
  expectEqual(GuestReset.count, 1, "the run went through one reset")
  expect(!GuestReset.resumed, "only the test that asked is resumed")
}
