// Panic expectations (issue 14): a cell whose expected outcome is a guest
// panic (`expect = panic`). The guest checks what it can, then panics the
// machine: x86_64 through the pvpanic ISA device (port 0x505, bit 0
// "guest panicked"), s390x with a disabled wait (a PSW with the wait bit
// and every interruption disabled: QEMU reports a guest panic). The harness
// passes the cell only when the machine itself panicked, with no crash
// record, no exit line and no failed check.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("panics", panics)
]

/// pvpanic's ISA port and its "guest panicked" bit (QEMU docs/specs/pvpanic).
let pvpanicPort: UInt16 = 0x505
let pvpanicPanicked: UInt8 = 1

func panics() throws(TestStop) {
  expect(Platform.arguments.value(of: "harness.expect", hasItem: "panic"), "the cell expects a panic")
  #if arch(x86_64)
    x86_cli()
    x86_outb(pvpanicPort, pvpanicPanicked)
    // The panic ends QEMU; should it not, the deadline says so.
    while true { x86_pause() }
  #elseif arch(s390x)
    s390_disabled_wait()
  #endif
}
