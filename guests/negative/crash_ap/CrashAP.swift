// A guest whose second CPU takes a page fault: the crash record must name
// that CPU (boot with -smp 2 or more).

import GuestArch
import GuestLib

func guestMain() {
  plan("crash_ap", sections: 1)
  section("fault on CPU 1") {
    check(SMP.startAll() >= 2, "a second CPU is online")
    SMP.onCPU(1, { _ in
      let unmapped = UnsafeMutablePointer<UInt64>(bitPattern: UInt(0x40_0000_0000))!
      unmapped.pointee = 0xAB
    })
    check(false, "never reached: CPU 1 crashed")
  }
}
