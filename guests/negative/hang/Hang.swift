// A guest that never finishes: the harness must report TIMEOUT, name the
// line it spins on (hang triage) and leave no QEMU process behind.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("spins forever", spinsForever),
]

nonisolated(unsafe) var spins: UInt64 = 0

func spinsForever() {
  expect(true, "output before the hang")
  while true { spins &+= 1 }  // no call: the vCPU is always on this line
}
