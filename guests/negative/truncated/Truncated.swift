// A guest that stops QEMU in the second of its three tests without an exit
// line (as if its output were cut after the first): never a PASS.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("only section that runs", onlySectionThatRuns),
  Test("stops the machine", stopsTheMachine),
  Test("never runs", neverRuns),
]

func onlySectionThatRuns() {
  expect(true, "a passing check")
}

func stopsTheMachine() {
  // The architecture's exit, as after a passing run, but without the
  // runner's totals and exit line.
  exitGuest(.passed)
}

func neverRuns() {
  expect(true, "never reached")
}
