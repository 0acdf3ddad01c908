// Multiprocessor bring-up and use on x86_64: every CPU QEMU gives the guest
// comes online through INIT-SIPI-SIPI, runs Swift code on request, uses the
// page allocator concurrently, answers IPIs and prints without tearing lines.
// Checks that compare CPUs with each other are made on the boot CPU from
// slots the CPUs fill in; a CPU checks on its own what concerns only itself
// (its exception).

import GuestArch
import GuestLib
import Synchronization

/// The tests of this guest, in run order.
let guestTests = [
  Test("bring-up", bringUp),
  Test("apic ids", apicIDs),
  Test("on_cpu", workOnCPUs),
  Test("allocator stress", allocatorStress),
  Test("ipi", interprocessorInterrupts),
  Test("console", consoleFromEveryCPU),
]

let pongs = Atomic<Int>(0)
let stressErrors = Atomic<Int>(0)
let stressOperations = Atomic<Int>(0)
let linesPrinted = Atomic<Int>(0)

/// One 64-bit slot per CPU, for what the CPUs report to the boot CPU. A
/// global rather than a context pointer: the work `SMP.onCPU` runs is a C
/// function, which can reach globals but capture nothing.
let cpuSlots = UnsafeMutablePointer<UInt64>.allocate(capacity: SMP.maxCPUs)

/// CPUs the cell asked for (`harness.smp=`, QEMU's -smp).
func requestedCPUs() -> Int {
  Int(BootInfo.arguments.integer("harness.smp") ?? 1)
}

/// The CPUs online, starting them if "bring-up" has not (a run that selects
/// later tests alone with `harness.tests=`); `SMP.startAll` starts them once.
@discardableResult
func onlineCPUs() -> Int {
  SMP.startAll()
}

func bringUp() {
  let expected = requestedCPUs()
  let online = onlineCPUs()
  expectEqual(SMP.reported, expected, "ACPI reports as many CPUs as -smp")
  expectEqual(online, expected, "every CPU came online")
  if let failure = SMP.failure { note(failure) }
  expect(SMP.failure == nil, "bring-up reported no failure")
  if expected > 1 {
    expect(SMP.trampoline, in: 1..<0x10_0000, "trampoline page lies below 1 MiB")
    expect(
      GuestMemory.pages?.isReserved(address: SMP.trampoline, pages: 1) == true,
      "trampoline page is reserved in the page allocator")
  } else {
    skip("trampoline page lies below 1 MiB", because: "one CPU: no trampoline")
    skip("trampoline page is reserved in the page allocator", because: "one CPU: no trampoline")
  }
  note("bring-up ns", SMP.bringUpNanoseconds)
  note("x2APIC", APIC.x2 ? 1 : 0)
  // A cell whose CPU model names x2apic must get that APIC mode on every
  // CPU (IA32_APIC_BASE bit 10: x2APIC enable): `+x2apic` x2APIC, `-x2apic`
  // xAPIC. (KVM's default model has x2APIC, TCG's has not.)
  let wantsX2 = BootInfo.arguments.value(of: "harness.cpu", hasItem: "+x2apic")
  if wantsX2 || BootInfo.arguments.value(of: "harness.cpu", hasItem: "-x2apic") {
    cpuSlots.initialize(repeating: 2, count: SMP.maxCPUs)
    SMP.onCPUs({ _ in cpuSlots[SMP.currentIndex] = x86_rdmsr(0x1B) >> 10 & 1 })
    var everyCPU = APIC.x2 == wantsX2
    var i = 0
    while i < SMP.count {
      if cpuSlots[i] != (wantsX2 ? 1 : 0) { everyCPU = false }
      i += 1
    }
    expect(
      everyCPU,
      wantsX2
        ? "every CPU runs its APIC in x2APIC mode (+x2apic)"
        : "every CPU runs its APIC in xAPIC mode (-x2apic)")
  } else {
    skip(
      "every CPU runs its APIC in the mode the CPU model asks for",
      because: "the cell's CPU model names no x2apic")
  }
}

func apicIDs() {
  onlineCPUs()
  cpuSlots.initialize(repeating: .max, count: SMP.maxCPUs)
  SMP.onCPUs({ _ in cpuSlots[SMP.currentIndex] = UInt64(APIC.id) })
  var reportedOnce = true
  var matches = true
  var i = 0
  while i < SMP.count {
    if cpuSlots[i] != UInt64(SMP.apicID(of: i)) { matches = false }
    var j = i + 1
    while j < SMP.count {
      if cpuSlots[i] == cpuSlots[j] { reportedOnce = false }
      j += 1
    }
    i += 1
  }
  expect(matches, "every CPU reports the APIC id it was started with")
  expect(reportedOnce, "every APIC id is reported once")
  expectEqual(cpuSlots[SMP.count], UInt64.max, "no CPU beyond the count ran")
}

func workOnCPUs() {
  onlineCPUs()
  cpuSlots.initialize(repeating: .max, count: SMP.maxCPUs)
  var allRan = true
  var index = 0
  while index < SMP.count {
    let ran = SMP.onCPU(index, { _ in cpuSlots[SMP.currentIndex] = UInt64(SMP.currentIndex) + 100 })
    if !ran || cpuSlots[index] != UInt64(index) + 100 { allRan = false }
    index += 1
  }
  expect(allRan, "onCPU runs the work on the CPU asked for and waits")
  expect(!SMP.onCPU(SMP.count, { _ in }), "onCPU refuses a CPU that does not exist")

  // Every CPU catches an exception of its own at the same time (#UD on
  // even CPUs, #DE on odd ones) and checks it itself: the try frame, the
  // body slot and the caught record are per CPU. One check per CPU.
  SMP.onCPUs({ _ in
    expectException(
      vector: SMP.currentIndex & 1 == 0 ? 6 : 0,
      "every CPU catches its own exception at once (#UD even, #DE odd)"
    ) {
      if SMP.currentIndex & 1 == 0 { x86_ud2() } else { x86_divide_error() }
    }
  })
}

func allocatorStress() throws(TestStop) {
  guard let pages = GuestMemory.pages else { try skipTest("no page allocator") }
  onlineCPUs()
  let before = pages.totalCounts()
  SMP.onCPUs({ _ in stress() })
  expectEqual(stressErrors.load(ordering: .relaxed), 0, "no allocator error on any CPU")
  expectEqual(
    stressOperations.load(ordering: .relaxed), 1500 * SMP.count, "every CPU did its share")
  let after = pages.totalCounts()
  expectEqual(after.free, before.free, "nothing lost: free pages as before")
  expectEqual(after.allocated, before.allocated, "nothing leaked: allocated pages as before")
  let problem = pages.validate()
  if let problem { note(problem) }
  expect(problem == nil, "allocator invariants hold afterwards")
}

/// Allocates and frees pages of random orders on the calling CPU, keeping
/// up to 8 live. Errors are counted, not checked one by one: a broken
/// allocator would make thousands of them.
func stress() {
  guard let pages = GuestMemory.pages else {
    stressErrors.add(1, ordering: .relaxed)
    return
  }
  // The live blocks' addresses, on this CPU's stack (no heap traffic
  // besides the allocator under test).
  withUnsafeTemporaryAllocation(of: UInt.self, capacity: 8) { live in
    live.initialize(repeating: 0)
    var state = UInt64(SMP.currentIndex) &* 0x9E37_79B9_7F4A_7C15 | 1
    var round = 0
    while round < 1500 {
      state ^= state << 13
      state ^= state >> 7
      state ^= state << 17
      let slot = Int(state % 8)
      if live[slot] != 0 {
        if pages.free(UnsafeMutableRawPointer(bitPattern: live[slot])!) != nil {
          stressErrors.add(1, ordering: .relaxed)
        }
        live[slot] = 0
      } else if let block = pages.allocate(order: Int(state >> 32 % 4)) {
        // Touch the block: another CPU writing here would be a double hand-out.
        let word = block.assumingMemoryBound(to: UInt64.self)
        word.pointee = state
        if word.pointee != state { stressErrors.add(1, ordering: .relaxed) }
        live[slot] = UInt(bitPattern: block)
      }
      stressOperations.add(1, ordering: .relaxed)
      round += 1
    }
    for slot in 0..<8 where live[slot] != 0 {
      if pages.free(UnsafeMutableRawPointer(bitPattern: live[slot])!) != nil {
        stressErrors.add(1, ordering: .relaxed)
      }
    }
  }
}

func interprocessorInterrupts() {
  onlineCPUs()
  Interrupts.register(0x40) { _ in SMP.sendInterrupt(to: 0, vector: 0x41) }
  Interrupts.register(0x41) { _ in pongs.add(1, ordering: .releasing) }
  let start = x86_rdtsc()
  var index = 0
  while index < SMP.count {
    let wanted = pongs.load(ordering: .acquiring) + 1
    SMP.sendInterrupt(to: index, vector: 0x40)
    while pongs.load(ordering: .acquiring) < wanted { x86_sti_hlt() }
    index += 1
  }
  expectEqual(pongs.load(ordering: .relaxed), SMP.count, "every CPU answered its IPI")
  note("IPI round trip ns (mean)", Timer.nanoseconds(x86_rdtsc() &- start) / UInt64(SMP.count))
}

func consoleFromEveryCPU() {
  onlineCPUs()
  SMP.onCPUs({ _ in
    var line = 0
    while line < 10 {
      note("line from a CPU", UInt64(SMP.currentIndex))
      linesPrinted.add(1, ordering: .relaxed)
      line += 1
    }
  })
  expectEqual(linesPrinted.load(ordering: .relaxed), 10 * SMP.count, "every CPU printed its lines")
}
