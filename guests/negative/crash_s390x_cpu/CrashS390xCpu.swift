// An s390x guest whose second CPU takes an unexpected program check: the
// harness must report CRASH with a record naming that CPU (run with -smp 2).

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("before the crash", beforeTheCrash),
  Test("second CPU faults", secondCPUFaults, .requires(arch: .s390x), .requires(cpus: 2)),
]

func beforeTheCrash() {
  expect(true, "runs before the fault")
}

func secondCPUFaults() {
  #if arch(s390x)
    guard let cpu = Processors.another,
      Processors.start(cpu, running: { _ in s390_operation_exception() }) == nil
    else {
      expect(false, "a second CPU to start (run with -smp 2)")
      return
    }
    // The crash ends the run; this CPU only waits for it.
    let deadline = s390_store_clock() >> 12 + 20_000_000
    while s390_store_clock() >> 12 < deadline {}
    expect(true, "never reached")
  #endif
}
