// Machine pokes (issue 14): the guest asks the harness for an NMI
// (`requestNMI()`, `# harness: nmi`, QMP `inject-nmi`) and checks that its
// NMI handler ran on the CPUs it was delivered to. QEMU 7.2's x86
// `inject-nmi` ignores the monitor's CPU index and delivers to every CPU
// through its local APIC's LINT1 (hw/i386/x86.c, x86_nmi), so LINT1 is
// programmed as the SDM describes for an NMI input (LVT delivery mode 100b,
// not masked) on every CPU first.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("nmi on every cpu", nmiOnEveryCPU, .requires(arch: .x86_64), .requires(cpus: 2))
]

#if arch(x86_64)
  /// NMIs each CPU's handler saw.
  let nmiCounts = UnsafeMutablePointer<UInt64>.allocate(capacity: SMP.maxCPUs)

  /// LVT LINT1 register offset (SDM Vol. 3A, local APIC register map) and
  /// its value for an NMI input: delivery mode NMI (100b in bits 10:8),
  /// not masked (bit 16 clear).
  let lvtLINT1: UInt32 = 0x360
  let lint1AsNMI: UInt32 = 0b100 << 8

  func nmiOnEveryCPU() throws(TestStop) {
    let online = SMP.startAll()
    try require(online >= 2, "a second CPU came online")
    var index = 0
    while index < SMP.maxCPUs {
      nmiCounts[index] = 0
      index &+= 1
    }
    Interrupts.nmiHandler = { nmiCounts[SMP.currentIndex] &+= 1 }
    SMP.onCPUs({ _ in APIC.write(lvtLINT1, lint1AsNMI) })
    expectEqual(APIC.read(lvtLINT1) & 0x1_0700, lint1AsNMI, "LINT1 is an unmasked NMI input")
    requestNMI()
    // Every online CPU's handler, within 10 s of guest time.
    let until = Platform.nanoseconds() &+ 10_000_000_000
    var reached = 0
    while Platform.nanoseconds() < until {
      reached = 0
      index = 0
      while index < online {
        if nmiCounts[index] > 0 { reached &+= 1 }
        index &+= 1
      }
      if reached == online { break }
      x86_pause()
    }
    expectEqual(nmiCounts[0], 1, "the boot CPU's NMI handler ran once")
    var othersOnce = true
    index = 1
    while index < online {
      if nmiCounts[index] != 1 { othersOnce = false }
      note("NMIs handled by another CPU", nmiCounts[index])
      index &+= 1
    }
    expect(othersOnce, "every other CPU's NMI handler ran once (inject-nmi reaches every CPU)")
    Interrupts.nmiHandler = nil
  }
#else
  func nmiOnEveryCPU() throws(TestStop) { try skipTest("x86_64 only") }
#endif
