// A guest that never finishes: the harness must report TIMEOUT, name the
// line each vCPU is stuck on (hang triage) and leave no QEMU process
// behind. With two or more CPUs, CPU 0 spins in `spinLoop` while CPU 1
// waits in `waitsForTheOtherCPU` for a flag that never comes.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("spins forever", spinsForever),
]

nonisolated(unsafe) var spins: UInt64 = 0

/// The flag CPU 1 waits for; nothing ever sets it. (A plain variable: the
/// loop over an `Atomic` global called its addressor, so that CPU 1 was
/// found in the addressor instead of on its line.)
nonisolated(unsafe) var released: UInt32 = 0

func spinsForever() {
  expect(true, "output before the hang")
  onBothCPUs()
}

/// CPU 0's side: spins.
func spinLoop() -> Never {
  while true { spins &+= 1 }  // no call: the vCPU is always on this line
}

/// CPU 1's side: waits for `released`.
func waitsForTheOtherCPU() {
  while released == 0 {}  // CPU 1 is always on this line
}

#if arch(x86_64)
  /// CPU 0 spins and, when there is one, CPU 1 waits.
  func onBothCPUs() {
    guard SMP.startAll() >= 2 else { spinLoop() }
    SMP.onCPUs({ _ in
      if SMP.currentIndex == 0 {
        spinLoop()
      } else if SMP.currentIndex == 1 {
        waitsForTheOtherCPU()
      }
    })
  }
#elseif arch(s390x)
  /// CPU 0 spins and, when there is another CPU, that one waits.
  func onBothCPUs() {
    if let cpu = Processors.another { _ = Processors.start(cpu, running: { _ in waitsForTheOtherCPU() }) }
    spinLoop()
  }
#endif
