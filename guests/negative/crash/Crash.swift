// A guest that takes an unexpected page fault in its second section: the
// harness must report CRASH with the exception record.

import GuestArch
import GuestLib

func guestMain() {
  plan("crash", sections: 2)
  section("before the crash") {
    check(true, "runs before the fault")
  }
  section("faults") {
    let unmapped = UnsafeMutablePointer<UInt64>(bitPattern: UInt(0x40_0000_0000))!
    unmapped.pointee = 0xDEAD
    check(true, "never reached")
  }
}
