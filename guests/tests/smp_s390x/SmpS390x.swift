// SMP on s390x: every CPU QEMU gives (-smp) is started with SIGP, each with
// an 8 KiB lowcore from the LOW area (below 2 GiB) and a stack from the page
// allocator; it runs Swift code, records its CPU address and prefix in
// memory shared by all CPUs (in no lowcore) and stops itself. The boot CPU
// waits for all of them. Then the negative side: SET PREFIX of a running
// CPU and outside RAM is refused, and a lowcore never comes from NORMAL,
// even when LOW has been fragmented.

import GuestArch
import GuestLib
import Synchronization

let gibibyte: UInt = 1 << 30

/// What a started CPU records about itself.
struct CPURecord {
  var address: UInt64
  var prefix: UInt64
  var stackPointer: UInt64
  var value: UInt64
  var caughtVector: UInt64
}


/// Shared memory: the records, the start blocks and the counter of CPUs
/// that finished (a LOW page, in no CPU's lowcore).
nonisolated(unsafe) var finishedCounter: UnsafeMutablePointer<Atomic<UInt32>>?

/// The Swift code every started CPU runs.
func secondaryWork(_ context: UnsafeMutableRawPointer?) {
  guard let record = context?.assumingMemoryBound(to: CPURecord.self) else { return }
  let address = UInt64(s390_cpu_address())
  record.pointee.address = address
  record.pointee.prefix = s390_read_prefix()
  record.pointee.stackPointer = s390_read_sp()
  record.pointee.value = expectedValue(address)
  // A program check of its own, caught on this CPU (per-CPU try frame,
  // program-check stack and caught record: odd and even CPUs take different
  // ones at about the same time), and a console line through SCLP.
  let caught =
    address & 1 == 0
    ? catchException { _ in s390_operation_exception() }
    : catchException { _ in s390_specification_exception() }
  record.pointee.caughtVector = caught?.vector ?? 0
  note("hello from CPU", address)
  finishedCounter?.pointee.wrappingAdd(1, ordering: .releasing)
}

/// A computation the boot CPU can repeat: sum of (i * (address + 1)).
func expectedValue(_ address: UInt64) -> UInt64 {
  var sum: UInt64 = 0
  for i in 1...1000 as ClosedRange<UInt64> { sum &+= i &* (address &+ 1) }
  return sum
}

/// Microseconds from the TOD clock.
func microseconds() -> UInt64 { s390_store_clock() >> 12 }

func guestMain() {
  plan("smp_s390x", sections: 3)
  let requested = Int(BootInfo.arguments.integer("harness.smp") ?? 1)
  guard let pages = GuestMemory.pages,
    let sharedPage = pages.allocate(order: 0, areas: .s390xLow, flags: .zero)
  else {
    section("bring-up") { check(false, "page allocator and shared page") }
    return
  }
  let me = s390_cpu_address()
  let counter = sharedPage.bindMemory(to: Atomic<UInt32>.self, capacity: 1)
  counter.initialize(to: Atomic(0))
  finishedCounter = counter
  let records = (sharedPage + 64).bindMemory(to: CPURecord.self, capacity: 64)
  let starts = (sharedPage + 64 + 64 * MemoryLayout<CPURecord>.stride).bindMemory(to: Processors.Start.self, capacity: 64)
  var secondaries: [UInt16] = []

  section("bring-up") {
    checkEqual(BootInfo.cpuCount, requested, "SCLP reports every CPU of -smp")
    checkEqual(s390_read_prefix(), 0, "the boot CPU runs with prefix 0")
    var lowcores: [UInt] = []
    var stacks: [UInt] = []
    var failures = 0
    var index = 0
    while index < BootInfo.cpuCount && secondaries.count < 64 {
      let cpu = BootInfo.cpuAddresses[index]
      index += 1
      if cpu == me { continue }
      guard let lowcore = Processors.allocateLowcore(),
        let stack = pages.allocate(order: 2, flags: .zero),
        let programCheckStack = pages.allocate(order: 1)
      else {
        failures += 1
        continue
      }
      let slot = secondaries.count
      records[slot] = CPURecord(
        address: 0xFFFF, prefix: 0, stackPointer: 0, value: 0, caughtVector: 0)
      starts[slot] = Processors.Start(
        entry: { secondaryWork($0) }, context: UnsafeMutableRawPointer(records + slot))
      let stackBase = UInt(bitPattern: stack)
      if Processors.start(
        cpu, lowcore: lowcore, stackTop: stackBase + 16384,
        programCheckStackTop: UInt(bitPattern: programCheckStack) + 8192, start: starts + slot) != nil
      {
        failures += 1
      }
      secondaries.append(cpu)
      lowcores.append(UInt(bitPattern: lowcore))
      stacks.append(stackBase)
    }
    checkEqual(failures, 0, "SIGP SENSE, SET PREFIX and RESTART accepted for every other CPU")
    var below = true
    var aligned = true
    var disjoint = true
    for (i, base) in lowcores.enumeratedPairs() {
      if base + 8192 > 2 * gibibyte { below = false }
      if base & 8191 != 0 { aligned = false }
      if base < 8192 { disjoint = false }
      for (j, other) in lowcores.enumeratedPairs() where j != i {
        if base < other + 8192 && other < base + 8192 { disjoint = false }
      }
    }
    check(below, "every lowcore lies below 2 GiB")
    check(aligned, "every lowcore is 8 KiB aligned")
    check(disjoint, "lowcores overlap neither each other nor absolute 0-8 KiB")
    let deadline = microseconds() + 20_000_000
    while counter.pointee.load(ordering: .acquiring) < UInt32(secondaries.count)
      && microseconds() < deadline
    {}
    checkEqual(Int(counter.pointee.load(ordering: .acquiring)), secondaries.count,
      "every started CPU ran its Swift code")
    var addresses = true
    var prefixes = true
    var ownStacks = true
    var values = true
    var caught = true
    for (slot, cpu) in secondaries.enumeratedPairs() {
      let record = records[slot]
      if record.address != UInt64(cpu) { addresses = false }
      if record.prefix != UInt64(lowcores[slot]) { prefixes = false }
      if record.stackPointer <= UInt64(stacks[slot]) || record.stackPointer >= UInt64(stacks[slot] + 16384) {
        ownStacks = false
      }
      if record.value != expectedValue(UInt64(cpu)) { values = false }
      if record.caughtVector != (cpu & 1 == 0 ? 1 : 6) { caught = false }
      note("CPU address", record.address)
    }
    check(addresses, "each CPU reported its own CPU address")
    check(prefixes, "each CPU ran with its lowcore as prefix")
    check(ownStacks, "each CPU ran on its own stack")
    check(values, "each CPU's Swift code computed the expected value")
    check(caught, "each CPU caught its own exception (operation on even, specification on odd)")
    var stopped = true
    for cpu in secondaries {
      let until = microseconds() + 5_000_000
      while !Processors.isStopped(cpu) && microseconds() < until {}
      if !Processors.isStopped(cpu) { stopped = false }
    }
    check(stopped, "every other CPU stopped itself")
  }

  section("SET PREFIX") {
    guard let spare = Processors.allocateLowcore() else {
      check(false, "spare lowcore")
      return
    }
    let running = Processors.sigp(
      me, Processors.sigpSetPrefix, parameter: UInt64(UInt(bitPattern: spare)))
    check(running.conditionCode == 1 && running.status & Processors.statusIncorrectState != 0,
      "SET PREFIX of a running CPU is refused (incorrect state)")
    checkEqual(s390_read_prefix(), 0, "the boot CPU's prefix is unchanged")
    if BootInfo.memoryBytes + 8192 <= 2 * UInt64(gibibyte), let target = secondaries.first {
      let beyond = UInt64(2 * gibibyte - 8192)
      let refused = Processors.sigp(target, Processors.sigpSetPrefix, parameter: beyond)
      check(refused.conditionCode == 1 && refused.status & Processors.statusInvalidParameter != 0,
        "SET PREFIX outside RAM is refused (invalid parameter)")
    } else if BootInfo.memoryBytes + 8192 > 2 * UInt64(gibibyte) {
      skip("SET PREFIX outside RAM is refused", because: "RAM covers every 31-bit prefix")
    } else {
      skip("SET PREFIX outside RAM is refused", because: "no stopped CPU to target with -smp 1")
    }
    check(pages.free(spare) == nil, "spare lowcore freed")
  }

  section("lowcore areas") {
    let before = pages.totalCounts().free
    // Take every LOW page one by one, then give back every page with an odd
    // frame number: LOW keeps free pages but no free 8 KiB block.
    var all: UnsafeMutablePointer<UInt>? = nil
    while let page = pages.allocate(order: 0, areas: .s390xLow) {
      let link = page.assumingMemoryBound(to: UInt.self)
      link.pointee = all.map { UInt(bitPattern: $0) } ?? 0
      all = link
    }
    var kept: UnsafeMutablePointer<UInt>? = nil
    var walk = all
    while let page = walk {
      walk = UnsafeMutablePointer<UInt>(bitPattern: page.pointee)
      if (UInt(bitPattern: page) >> 12) & 1 == 1 {
        _ = pages.free(UnsafeMutableRawPointer(page))
      } else {
        page.pointee = kept.map { UInt(bitPattern: $0) } ?? 0
        kept = page
      }
    }
    check(pages.largestFreeOrder(areas: .s390xLow) ?? 0 == 0, "LOW is fragmented: no free 8 KiB block")
    let lowcore = Processors.allocateLowcore()
    check(lowcore == nil, "a lowcore is never taken from NORMAL, even with LOW fragmented")
    if let lowcore { _ = pages.free(lowcore) }
    if pages.bounds(area: 1) != nil {
      let normal = pages.allocate(order: 1)
      check(normal.map { UInt(bitPattern: $0) >= 2 * gibibyte } ?? false,
        "NORMAL still had 8 KiB blocks for other allocations")
      if let normal { _ = pages.free(normal) }
    } else {
      skip("NORMAL still had 8 KiB blocks for other allocations", because: "no NORMAL area below 2 GiB of RAM")
    }
    var next = kept
    var freed = true
    while let page = next {
      next = UnsafeMutablePointer<UInt>(bitPattern: page.pointee)
      if pages.free(UnsafeMutableRawPointer(page)) != nil { freed = false }
    }
    check(freed, "every LOW page freed")
    checkEqual(pages.totalCounts().free, before, "free pages back to the start")
    let again = Processors.allocateLowcore()
    check(again.map { UInt(bitPattern: $0) < 2 * gibibyte } ?? false, "after defragmenting, a lowcore comes from LOW")
    if let again { _ = pages.free(again) }
  }
}

extension Array {
  /// (index, element) pairs.
  func enumeratedPairs() -> [(Int, Element)] {
    var pairs: [(Int, Element)] = []
    var index = 0
    while index < count {
      pairs.append((index, self[index]))
      index += 1
    }
    return pairs
  }
}
