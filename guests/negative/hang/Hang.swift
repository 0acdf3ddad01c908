// A guest that never finishes: the harness must report TIMEOUT, name the
// line it spins on (hang triage) and leave no QEMU process behind.

import GuestArch
import GuestLib

nonisolated(unsafe) var spins: UInt64 = 0

func guestMain() {
  plan("hang", sections: 1)
  section("spins forever") {
    check(true, "output before the hang")
    while true { spins &+= 1 }  // no call: the vCPU is always on this line
  }
}
