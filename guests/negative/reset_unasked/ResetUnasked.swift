// A guest that resets the machine by itself after a reset it asked for: it
// asks (`requestReset()`), and once resumed resets the machine unasked
// (x86_64: reset control register 0xCF9 with SYS_RST and RST_CPU set;
// s390x: DIAGNOSE 0x308 subcode 3, re-IPL). The harness made the asked
// reset a reset for that one request only: under `-no-reboot` the unasked
// one ends QEMU without an exit line, never a pass.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("reset unasked", resetUnasked)
]

#if arch(s390x)
  @_extern(c, "reipl_unasked") func reipl_unasked()
#endif

func resetUnasked() throws(TestStop) {
  if !GuestReset.resumed {
    let refusal = requestReset()
    if refusal == .notAllowed { try skipTest("the cell does not reset (reset = no)") }
    expect(false, refusal.reason)
    return
  }
  expectEqual(GuestReset.count, 1, "the harness reset the machine once on request")
  #if arch(x86_64)
    x86_outb(0xCF9, 0x06)
  #elseif arch(s390x)
    reipl_unasked()
  #endif
  // The machine should be gone; should it not be, the guest never ends
  // (the harness's timeout), still never a pass.
  while true { _ = cycleCounter() }
}
