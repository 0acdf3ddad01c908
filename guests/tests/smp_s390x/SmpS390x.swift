// SMP on s390x: every CPU QEMU gives (-smp) is started with SIGP, each with
// an 8 KiB lowcore from the LOW area (below 2 GiB) and a stack from the page
// allocator; it runs Swift code, records its CPU address and prefix in
// memory shared by all CPUs (in no lowcore), checks the exception it takes
// itself and stops itself. The boot CPU waits for all of them and compares
// the records. Then the negative side: SET PREFIX of a running CPU and
// outside RAM is refused, and a lowcore never comes from NORMAL, even when
// LOW has been fragmented.

import GuestArch
import GuestLib
import Synchronization

/// The tests of this guest, in run order.
let guestTests = [
  Test("bring-up", bringUp),
  Test("SET PREFIX", setPrefix),
  Test("lowcore areas", lowcoreAreas),
]

let gibibyte: UInt = 1 << 30

/// What a started CPU records about itself.
struct CPURecord {
  var address: UInt64
  var prefix: UInt64
  var stackPointer: UInt64
  var value: UInt64
}

/// The counter of CPUs that finished, in the shared page (in no CPU's
/// lowcore).
nonisolated(unsafe) var finishedCounter: UnsafeMutablePointer<Atomic<UInt32>>?

/// The Swift code every started CPU runs.
func secondaryWork(_ context: UnsafeMutableRawPointer?) {
  guard let record = context?.assumingMemoryBound(to: CPURecord.self) else { return }
  let address = UInt64(s390_cpu_address())
  record.pointee.address = address
  record.pointee.prefix = s390_read_prefix()
  record.pointee.stackPointer = s390_read_sp()
  record.pointee.value = expectedValue(address)
  // A program check of its own, caught and checked on this CPU (per-CPU try
  // frame, program-check stack and caught record: odd and even CPUs take
  // different ones at about the same time), and a console line through SCLP.
  expectException(
    vector: address & 1 == 0 ? 1 : 6,
    "each CPU caught its own exception (operation on even, specification on odd)"
  ) {
    if s390_cpu_address() & 1 == 0 {
      s390_operation_exception()
    } else {
      s390_specification_exception()
    }
  }
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

/// The address of `block`, 0 for nil: no block lies at 0 (a pointer is never
/// null), so a range check starting at 1 also checks that there is a block.
func blockAddress(_ block: UnsafeMutableRawPointer?) -> UInt {
  block.map { UInt(bitPattern: $0) } ?? 0
}

/// Checks that a SIGP order was refused: condition code 1 with `status`
/// among the stored status bits. A failure notes what SIGP answered.
func expectRefused(
  _ result: Processors.SigpResult, status: UInt32, _ name: StaticString,
  file: StaticString = #fileID, line: UInt = #line
) {
  let refused = result.conditionCode == 1 && result.status & status != 0
  if !refused {
    note("SIGP condition code", UInt64(result.conditionCode))
    note("SIGP status", UInt64(result.status), hex: true)
  }
  expect(refused, name, file: file, line: line)
}

func bringUp() throws(TestStop) {
  let requested = Int(BootInfo.arguments.integer("harness.smp") ?? 1)
  let sharedPage = try require(
    GuestMemory.pages?.allocate(order: 0, areas: .s390xLow, flags: .zero),
    "page allocator and shared page")
  let pages = GuestMemory.pages!  // the shared page came from it
  let me = s390_cpu_address()
  let counter = sharedPage.bindMemory(to: Atomic<UInt32>.self, capacity: 1)
  counter.initialize(to: Atomic(0))
  finishedCounter = counter
  let records = (sharedPage + 64).bindMemory(to: CPURecord.self, capacity: 64)
  let starts = (sharedPage + 64 + 64 * MemoryLayout<CPURecord>.stride)
    .bindMemory(to: Processors.Start.self, capacity: 64)
  var secondaries: [UInt16] = []

  expectEqual(BootInfo.cpuCount, requested, "SCLP reports every CPU of -smp")
  expectEqual(s390_read_prefix(), 0, "the boot CPU runs with prefix 0")
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
    records[slot] = CPURecord(address: 0xFFFF, prefix: 0, stackPointer: 0, value: 0)
    starts[slot] = Processors.Start(
      entry: { secondaryWork($0) }, context: UnsafeMutableRawPointer(records + slot))
    let stackBase = UInt(bitPattern: stack)
    if Processors.start(
      cpu, lowcore: lowcore, stackTop: stackBase + 16384,
      programCheckStackTop: UInt(bitPattern: programCheckStack) + 8192, start: starts + slot)
      != nil
    {
      failures += 1
    }
    secondaries.append(cpu)
    lowcores.append(UInt(bitPattern: lowcore))
    stacks.append(stackBase)
  }
  expectEqual(failures, 0, "SIGP SENSE, SET PREFIX and RESTART accepted for every other CPU")
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
  expect(below, "every lowcore lies below 2 GiB")
  expect(aligned, "every lowcore is 8 KiB aligned")
  expect(disjoint, "lowcores overlap neither each other nor absolute 0-8 KiB")
  let deadline = microseconds() + 20_000_000
  while counter.pointee.load(ordering: .acquiring) < UInt32(secondaries.count)
    && microseconds() < deadline
  {}
  expectEqual(
    Int(counter.pointee.load(ordering: .acquiring)), secondaries.count,
    "every started CPU ran its Swift code")
  var addresses = true
  var prefixes = true
  var ownStacks = true
  var values = true
  for (slot, cpu) in secondaries.enumeratedPairs() {
    let record = records[slot]
    if record.address != UInt64(cpu) { addresses = false }
    if record.prefix != UInt64(lowcores[slot]) { prefixes = false }
    if record.stackPointer <= UInt64(stacks[slot])
      || record.stackPointer >= UInt64(stacks[slot] + 16384)
    {
      ownStacks = false
    }
    if record.value != expectedValue(UInt64(cpu)) { values = false }
    note("CPU address", record.address)
  }
  expect(addresses, "each CPU reported its own CPU address")
  expect(prefixes, "each CPU ran with its lowcore as prefix")
  expect(ownStacks, "each CPU ran on its own stack")
  expect(values, "each CPU's Swift code computed the expected value")
  var stopped = true
  for cpu in secondaries {
    let until = microseconds() + 5_000_000
    while !Processors.isStopped(cpu) && microseconds() < until {}
    if !Processors.isStopped(cpu) { stopped = false }
  }
  expect(stopped, "every other CPU stopped itself")
}

func setPrefix() throws(TestStop) {
  guard let pages = GuestMemory.pages else { try skipTest("no page allocator") }
  let me = s390_cpu_address()
  let spare = try require(Processors.allocateLowcore(), "spare lowcore")
  let running = Processors.sigp(
    me, Processors.sigpSetPrefix, parameter: UInt64(UInt(bitPattern: spare)))
  expectRefused(
    running, status: Processors.statusIncorrectState,
    "SET PREFIX of a running CPU is refused (incorrect state)")
  expectEqual(s390_read_prefix(), 0, "the boot CPU's prefix is unchanged")
  // Every CPU but this one is stopped: never started, or stopped itself
  // after "bring-up".
  var target: UInt16? = nil
  var index = 0
  while index < BootInfo.cpuCount && target == nil {
    if BootInfo.cpuAddresses[index] != me { target = BootInfo.cpuAddresses[index] }
    index += 1
  }
  if BootInfo.memoryBytes + 8192 <= 2 * UInt64(gibibyte), let target {
    let beyond = UInt64(2 * gibibyte - 8192)
    let refused = Processors.sigp(target, Processors.sigpSetPrefix, parameter: beyond)
    expectRefused(
      refused, status: Processors.statusInvalidParameter,
      "SET PREFIX outside RAM is refused (invalid parameter)")
  } else if BootInfo.memoryBytes + 8192 > 2 * UInt64(gibibyte) {
    skip("SET PREFIX outside RAM is refused", because: "RAM covers every 31-bit prefix")
  } else {
    skip("SET PREFIX outside RAM is refused", because: "no stopped CPU to target with -smp 1")
  }
  expect(pages.free(spare) == nil, "spare lowcore freed")
}

func lowcoreAreas() throws(TestStop) {
  guard let pages = GuestMemory.pages else { try skipTest("no page allocator") }
  let before = pages.totalCounts().free
  // First hoard LOW's blocks of 64 KiB and more, whole: a block taken whole
  // is never written to except its first page (the hoard's link), so the
  // 2 GiB of a 4G machine are not touched page by page. (A first touch of
  // guest RAM is a host page fault; on a host whose own memory is faulted in
  // lazily that is ~10 µs a page, and a loaded CI host made the old
  // page-by-page walk of all of LOW outlast the cell's 60 s.) One hoarded
  // block goes back, so the page-by-page part below has pages to split.
  var hoard: UnsafeMutablePointer<UInt>? = nil
  var hoarded: UInt64 = 0
  var order = PageAllocator.maxOrder
  while order >= 4 {
    while let block = pages.allocate(order: order, areas: .s390xLow) {
      let link = block.assumingMemoryBound(to: UInt.self)
      link.pointee = hoard.map { UInt(bitPattern: $0) } ?? 0
      hoard = link
      hoarded &+= 1
    }
    order -= 1
  }
  note("LOW blocks of 64 KiB or more hoarded:", hoarded)
  if let first = hoard {
    hoard = UnsafeMutablePointer<UInt>(bitPattern: first.pointee)
    expect(pages.free(UnsafeMutableRawPointer(first)) == nil, "one hoarded block given back")
  }
  // Then take every LOW page left one by one, and give back every page with
  // an odd frame number: LOW keeps free pages but no free 8 KiB block.
  var all: UnsafeMutablePointer<UInt>? = nil
  var taken: UInt64 = 0
  while let page = pages.allocate(order: 0, areas: .s390xLow) {
    let link = page.assumingMemoryBound(to: UInt.self)
    link.pointee = all.map { UInt(bitPattern: $0) } ?? 0
    all = link
    taken &+= 1
  }
  note("LOW pages then taken one by one:", taken)
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
  expectEqual(
    pages.largestFreeOrder(areas: .s390xLow) ?? 0, 0, "LOW is fragmented: no free 8 KiB block")
  let lowcore = Processors.allocateLowcore()
  expectEqual(
    blockAddress(lowcore), 0, "a lowcore is never taken from NORMAL, even with LOW fragmented")
  if let lowcore { _ = pages.free(lowcore) }
  if pages.bounds(area: 1) != nil {
    let normal = pages.allocate(order: 1)
    expect(
      blockAddress(normal), .greaterOrEqual, 2 * gibibyte,
      "NORMAL still had 8 KiB blocks for other allocations")
    if let normal { _ = pages.free(normal) }
  } else {
    skip(
      "NORMAL still had 8 KiB blocks for other allocations",
      because: "no NORMAL area below 2 GiB of RAM")
  }
  var next = kept
  var freed = true
  while let page = next {
    next = UnsafeMutablePointer<UInt>(bitPattern: page.pointee)
    if pages.free(UnsafeMutableRawPointer(page)) != nil { freed = false }
  }
  var rest = hoard
  while let block = rest {
    rest = UnsafeMutablePointer<UInt>(bitPattern: block.pointee)
    if pages.free(UnsafeMutableRawPointer(block)) != nil { freed = false }
  }
  expect(freed, "every LOW page and hoarded block freed")
  expectEqual(pages.totalCounts().free, before, "free pages back to the start")
  let again = Processors.allocateLowcore()
  expect(
    blockAddress(again), in: 1..<2 * gibibyte, "after defragmenting, a lowcore comes from LOW")
  if let again { _ = pages.free(again) }
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
