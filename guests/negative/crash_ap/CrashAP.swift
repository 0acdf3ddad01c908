// A guest whose second CPU takes a page fault: the crash record must name
// that CPU (boot with -smp 2 or more).

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("fault on CPU 1", faultOnCPU1, .requires(arch: .x86_64), .requires(cpus: 2)),
]

func faultOnCPU1() {
  #if arch(x86_64)
    expect(SMP.startAll(), .greaterOrEqual, 2, "a second CPU is online")
    SMP.onCPU(
      1,
      { _ in
        let unmapped = UnsafeMutablePointer<UInt64>(bitPattern: UInt(0x40_0000_0000))!
        unmapped.pointee = 0xAB
      })
    expect(false, "never reached: CPU 1 crashed")
  #endif
}
