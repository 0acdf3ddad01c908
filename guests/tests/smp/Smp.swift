// Multiprocessor bring-up and use on x86_64: every CPU QEMU gives the guest
// comes online through INIT-SIPI-SIPI, runs Swift code on request, uses the
// page allocator concurrently, answers IPIs and prints without tearing lines.
// Checks are made on the boot CPU; other CPUs report through shared memory.

import GuestArch
import GuestLib
import Synchronization

let pongs = Atomic<Int>(0)
let stressErrors = Atomic<Int>(0)
let stressOperations = Atomic<Int>(0)
let linesPrinted = Atomic<Int>(0)

/// One 64-bit slot per CPU in memory from the heap.
func slots(_ context: UnsafeMutableRawPointer?) -> UnsafeMutablePointer<UInt64> {
  context!.assumingMemoryBound(to: UInt64.self)
}

/// Allocates and frees pages of random orders, keeping up to 32 live.
func stress(_ context: UnsafeMutableRawPointer?) {
  guard let pages = GuestMemory.pages else {
    stressErrors.add(1, ordering: .relaxed)
    return
  }
  var live: (UInt, UInt, UInt, UInt, UInt, UInt, UInt, UInt) = (0, 0, 0, 0, 0, 0, 0, 0)
  var state = UInt64(SMP.currentIndex) &* 0x9E37_79B9_7F4A_7C15 | 1
  var round = 0
  while round < 1500 {
    state ^= state << 13
    state ^= state >> 7
    state ^= state << 17
    let slot = Int(state % 8)
    withUnsafeMutableBytes(of: &live) { raw in
      let table = raw.baseAddress!.assumingMemoryBound(to: UInt.self)
      if table[slot] != 0 {
        if pages.free(UnsafeMutableRawPointer(bitPattern: table[slot])!) != nil {
          stressErrors.add(1, ordering: .relaxed)
        }
        table[slot] = 0
      } else if let block = pages.allocate(order: Int(state >> 32 % 4)) {
        // Touch the block: another CPU writing here would be a double hand-out.
        let word = block.assumingMemoryBound(to: UInt64.self)
        word.pointee = state
        if word.pointee != state { stressErrors.add(1, ordering: .relaxed) }
        table[slot] = UInt(bitPattern: block)
      }
    }
    stressOperations.add(1, ordering: .relaxed)
    round += 1
  }
  withUnsafeMutableBytes(of: &live) { raw in
    let table = raw.baseAddress!.assumingMemoryBound(to: UInt.self)
    for slot in 0..<8 where table[slot] != 0 {
      if pages.free(UnsafeMutableRawPointer(bitPattern: table[slot])!) != nil {
        stressErrors.add(1, ordering: .relaxed)
      }
    }
  }
}

func guestMain() {
  plan("smp", sections: 6)
  let expected = Int(BootInfo.arguments.integer("harness.smp") ?? 1)
  let table = UnsafeMutablePointer<UInt64>.allocate(capacity: SMP.maxCPUs)

  section("bring-up") {
    let online = SMP.startAll()
    checkEqual(SMP.reported, expected, "ACPI reports as many CPUs as -smp")
    checkEqual(online, expected, "every CPU came online")
    check(SMP.failure == nil, "bring-up reported no failure")
    check(
      expected == 1 || (SMP.trampoline != 0 && SMP.trampoline < 0x10_0000),
      "trampoline page lies below 1 MiB")
    check(
      expected == 1 || GuestMemory.pages?.isReserved(address: SMP.trampoline, pages: 1) == true,
      "trampoline page is reserved in the page allocator")
    note("bring-up ns", SMP.bringUpNanoseconds)
    note("x2APIC", APIC.x2 ? 1 : 0)
    // A cell whose CPU model names x2apic must get that APIC mode on every
    // CPU (IA32_APIC_BASE bit 10: x2APIC enable): `+x2apic` x2APIC, `-x2apic`
    // xAPIC. (KVM's default model has x2APIC, TCG's has not.)
    let wantsX2 = BootInfo.arguments.value(of: "harness.cpu", hasItem: "+x2apic")
    if wantsX2 || BootInfo.arguments.value(of: "harness.cpu", hasItem: "-x2apic") {
      table.initialize(repeating: 2, count: SMP.maxCPUs)
      SMP.onCPUs({ context in
        slots(context)[SMP.currentIndex] = x86_rdmsr(0x1B) >> 10 & 1
      }, context: UnsafeMutableRawPointer(table))
      var everyCPU = APIC.x2 == wantsX2
      var i = 0
      while i < SMP.count {
        if table[i] != (wantsX2 ? 1 : 0) { everyCPU = false }
        i += 1
      }
      check(everyCPU, wantsX2 ? "every CPU runs its APIC in x2APIC mode (+x2apic)" : "every CPU runs its APIC in xAPIC mode (-x2apic)")
    } else {
      skip("every CPU runs its APIC in the mode the CPU model asks for", because: "the cell's CPU model names no x2apic")
    }

  }

  section("apic ids") {
    table.initialize(repeating: .max, count: SMP.maxCPUs)
    SMP.onCPUs({ context in
      slots(context)[SMP.currentIndex] = UInt64(APIC.id)
    }, context: UnsafeMutableRawPointer(table))
    var reportedOnce = true
    var matches = true
    var i = 0
    while i < SMP.count {
      if table[i] != UInt64(SMP.apicID(of: i)) { matches = false }
      var j = i + 1
      while j < SMP.count {
        if table[i] == table[j] { reportedOnce = false }
        j += 1
      }
      i += 1
    }
    check(matches, "every CPU reports the APIC id it was started with")
    check(reportedOnce, "every APIC id is reported once")
    checkEqual(table[SMP.count], UInt64.max, "no CPU beyond the count ran")
  }

  section("on_cpu") {
    table.initialize(repeating: .max, count: SMP.maxCPUs)
    var allRan = true
    var index = 0
    while index < SMP.count {
      let ran = SMP.onCPU(index, { context in
        slots(context)[SMP.currentIndex] = UInt64(SMP.currentIndex) + 100
      }, context: UnsafeMutableRawPointer(table))
      if !ran || table[index] != UInt64(index) + 100 { allRan = false }
      index += 1
    }
    check(allRan, "onCPU runs the work on the CPU asked for and waits")
    check(!SMP.onCPU(SMP.count, { _ in }), "onCPU refuses a CPU that does not exist")

    // Every CPU catches an exception of its own at the same time (#UD on
    // even CPUs, #DE on odd ones): the try frame and the caught record are
    // per CPU.
    table.initialize(repeating: .max, count: SMP.maxCPUs)
    SMP.onCPUs({ context in
      let caught =
        SMP.currentIndex & 1 == 0
        ? catchException { _ in x86_ud2() } : catchException { _ in x86_divide_error() }
      slots(context)[SMP.currentIndex] = caught?.vector ?? .max
    }, context: UnsafeMutableRawPointer(table))
    var ownVectors = true
    index = 0
    while index < SMP.count {
      if table[index] != (index & 1 == 0 ? 6 : 0) { ownVectors = false }
      index += 1
    }
    check(ownVectors, "every CPU catches its own exception at once (#UD even, #DE odd)")
  }

  section("allocator stress") {
    guard let pages = GuestMemory.pages else { return }
    let before = pages.totalCounts()
    SMP.onCPUs({ context in stress(context) })
    checkEqual(stressErrors.load(ordering: .relaxed), 0, "no allocator error on any CPU")
    checkEqual(stressOperations.load(ordering: .relaxed), 1500 * SMP.count, "every CPU did its share")
    let after = pages.totalCounts()
    checkEqual(after.free, before.free, "nothing lost: free pages as before")
    checkEqual(after.allocated, before.allocated, "nothing leaked: allocated pages as before")
    check(pages.validate() == nil, "allocator invariants hold afterwards")
  }

  section("ipi") {
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
    checkEqual(pongs.load(ordering: .relaxed), SMP.count, "every CPU answered its IPI")
    note("IPI round trip ns (mean)", Timer.nanoseconds(x86_rdtsc() &- start) / UInt64(SMP.count))
  }

  section("console") {
    SMP.onCPUs({ _ in
      var line = 0
      while line < 10 {
        note("line from a CPU", UInt64(SMP.currentIndex))
        linesPrinted.add(1, ordering: .relaxed)
        line += 1
      }
    })
    checkEqual(linesPrinted.load(ordering: .relaxed), 10 * SMP.count, "every CPU printed its lines")
  }
}
