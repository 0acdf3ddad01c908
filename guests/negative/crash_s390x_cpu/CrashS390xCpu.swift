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
    let me = s390_cpu_address()
    var index = 0
    while index < BootInfo.cpuCount && BootInfo.cpuAddresses[index] == me { index += 1 }
    guard index < BootInfo.cpuCount, let pages = GuestMemory.pages,
      let lowcore = Processors.allocateLowcore(),
      let stack = pages.allocate(order: 2), let programCheckStack = pages.allocate(order: 1),
      let block = pages.allocate(order: 0)
    else {
      expect(false, "a second CPU to start (run with -smp 2)")
      return
    }
    let start = block.bindMemory(to: Processors.Start.self, capacity: 1)
    start.initialize(to: Processors.Start(entry: { _ in s390_operation_exception() }, context: nil))
    _ = Processors.start(
      BootInfo.cpuAddresses[index], lowcore: lowcore, stackTop: UInt(bitPattern: stack) + 16384,
      programCheckStackTop: UInt(bitPattern: programCheckStack) + 8192, start: start)
    // The crash ends the run; this CPU only waits for it.
    let deadline = s390_store_clock() >> 12 + 20_000_000
    while s390_store_clock() >> 12 < deadline {}
    expect(true, "never reached")
  #endif
}
