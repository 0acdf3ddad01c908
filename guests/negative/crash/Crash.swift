// A guest that takes an unexpected page fault in its second test: the
// harness must report CRASH with the exception record.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("before the crash", beforeTheCrash),
  Test("faults", faults),
]

func beforeTheCrash() {
  expect(true, "runs before the fault")
}

func faults() {
  let unmapped = UnsafeMutablePointer<UInt64>(bitPattern: UInt(0x40_0000_0000))!
  unmapped.pointee = 0xDEAD
  expect(true, "never reached")
}
