// Live migration (issue 14): the guest asks the harness to migrate the
// machine (`migrate()`, `# harness: migrate` on the wire) and checks that
// what a machine's state is survived the hop: memory contents, the other
// CPU still running, the clock (TSC / TOD) monotonic, the page allocator's
// state, several hops in one run, an interrupt pending across the hop and
// timers running across it (MigrationInterrupts.swift). In a cell without
// `migrate = yes` `migrate()` returns `.notMigrated` at once and every test
// skips.

import GuestArch
import GuestLib
import Synchronization

/// The tests of this guest, in run order.
let guestTests = [
  Test("hop", hop),
  Test("memory", memory),
  Test("clock", clock),
  Test("allocator", allocator),
  Test("other cpu", otherCPU, .requires(cpus: 2)),
  Test("several hops", severalHops),
  Test("pending interrupt", pendingInterrupt),
  Test(
    "timer counts across the hop", timerCountsAcrossHop,
    .xfail("measured: under KVM the one-shot APIC timer fires at once on the destination (current count 0, its vector pending in the IRR): QEMU 7.2 hands KVM the local APIC's registers without the current count, and KVM restarts a one-shot timer with no count left", when: .kvm)),
  Test(
    "timer fires after the hop", timerFiresAfterHop,
    .xfail("measured: QEMU 7.2 TCG does not re-arm the s390x CPU timer on the migration destination (its CPU post-load re-arms only the clock comparator): the timer keeps decrementing but its interruption never comes; s390x runs only under TCG here", when: .architecture(.s390x)),
    .xfail("measured: under KVM the one-shot APIC timer fires at once on the destination (current count 0, its vector pending in the IRR): QEMU 7.2 hands KVM the local APIC's registers without the current count, and KVM restarts a one-shot timer with no count left", when: .kvm)),
]

/// Skips the test in a cell that does not migrate, before it changes
/// anything (a test that leaves an interrupt pending or a timer armed
/// cannot skip at the hop).
func skipUnlessMigrating() throws(TestStop) {
  if !Platform.arguments.value(of: "harness.migrate", hasItem: "yes") {
    try skipTest("the cell does not migrate (migrate = no)")
  }
}

/// One migration, or a skip in a cell that does not migrate.
func hopOrSkip() throws(TestStop) {
  if migrate() == .notMigrated { try skipTest("the cell does not migrate (migrate = no)") }
}

func hop() throws(TestStop) {
  let migrates = Platform.arguments.value(of: "harness.migrate", hasItem: "yes")
  let result = migrate()
  if !migrates {
    expect(result == .notMigrated, "migrate() returns notMigrated in a cell that does not migrate")
    try skipTest("the cell does not migrate (migrate = no)")
  }
  expect(result == .migrated, "migrate() returns migrated in a migrating cell")
}

/// The value of word `index` of the pattern: the index and its page
/// number mixed with shifts and exclusive ors (no multiply: see
/// `areaOrder`), so every word differs and a page moved, lost or zeroed
/// shows.
func pattern(_ index: UInt) -> UInt64 {
  var z = UInt64(index) ^ 0x6A09_E667_F3BC_C908
  z ^= z << 13
  z ^= z >> 7
  z ^= z << 17
  return z ^ (UInt64(index >> 9) << 40)
}

/// The area: 16 MiB (order 12 of 4 KiB pages) under TCG; 64 KiB (order 4)
/// under KVM, where the development hosts' nested KVM (PVM) runs this
/// guest's integer loops orders of magnitude slower than TCG (measured:
/// 100 000 `pattern` calls in 4.8 s of guest time and about 25 s of wall
/// time; 16 MiB did not fill within the 30 s silence timeout).
let areaOrder = Platform.arguments.value(of: "harness.accel", hasItem: "kvm") ? 4 : 12
let areaWords = UInt(1 << areaOrder) * 4096 / 8

/// The words of `area` that differ from the pattern.
func mismatches(_ area: UnsafeMutablePointer<UInt64>) -> UInt {
  var wrong: UInt = 0
  var index: UInt = 0
  while index < areaWords {
    if area[Int(index)] != pattern(index) { wrong &+= 1 }
    index &+= 1
  }
  return wrong
}

/// A rotate-and-add checksum over the area.
func checksum(_ area: UnsafeMutablePointer<UInt64>) -> UInt64 {
  var sum: UInt64 = 0
  var index = 0
  while index < Int(areaWords) {
    sum = (sum << 7 | sum >> 57) &+ area[index]
    index &+= 1
  }
  return sum
}

func memory() throws(TestStop) {
  let pages = try require(GuestMemory.pages, "the page allocator is up")
  let block = try require(pages.allocate(order: areaOrder), "a block of 64 KiB (KVM) or 16 MiB (TCG)")
  let area = block.bindMemory(to: UInt64.self, capacity: Int(areaWords))
  let filling = Platform.nanoseconds()
  var index: UInt = 0
  while index < areaWords {
    area[Int(index)] = pattern(index)
    index &+= 1
  }
  note("ns to fill the area", Platform.nanoseconds() &- filling)
  let before = checksum(area)
  try hopOrSkip()
  let after = checksum(area)
  expectEqual(after, before, "the checksum over the area is the same after the hop")
  expectEqual(mismatches(area), 0, "every word of the area holds its pattern after the hop")
  // Written after the hop: the destination's RAM is writable and reads back.
  area[0] = ~pattern(0)
  expectEqual(area[0], ~pattern(0), "the destination's RAM takes writes")
  expect(pages.free(block) == nil, "the block frees after the hop")
}

/// The raw clock: the TSC on x86_64, the TOD clock on s390x.
func rawClock() -> UInt64 {
  #if arch(x86_64)
    x86_rdtsc()
  #elseif arch(s390x)
    s390_store_clock()
  #endif
}

func clock() throws(TestStop) {
  let rawBefore = rawClock()
  let before = Platform.nanoseconds()
  try hopOrSkip()
  let rawAfter = rawClock()
  let after = Platform.nanoseconds()
  #if arch(x86_64)
    expect(rawAfter, .greater, rawBefore, "the TSC is monotonic across the hop")
  #elseif arch(s390x)
    expect(rawAfter, .greater, rawBefore, "the TOD clock is monotonic across the hop")
  #endif
  expect(after, .greater, before, "nanoseconds since boot are monotonic across the hop")
  note("guest ns across the hop", after &- before)
  // The destination's clock keeps running (not frozen at the hop).
  let later = Platform.nanoseconds()
  var spins = 0
  var now = later
  while now == later && spins < 100_000_000 {
    now = Platform.nanoseconds()
    spins &+= 1
  }
  expect(now, .greater, later, "the clock advances on the destination")
}

/// A fingerprint of area 0's free lists: the number of free blocks of
/// every order, folded (no allocation: the test must not change what it
/// measures).
func freeListFingerprint(_ pages: PageAllocator) -> UInt {
  var fingerprint: UInt = 0
  var order = 0
  while order <= PageAllocator.maxOrder {
    fingerprint = fingerprint &* 1_000_003 &+ pages.freeBlockCount(area: 0, order: order)
    order &+= 1
  }
  return fingerprint
}

func allocator() throws(TestStop) {
  let pages = try require(GuestMemory.pages, "the page allocator is up")
  let held = try require(pages.allocate(order: 3), "a block held across the hop")
  let counts = pages.totalCounts()
  let largest = pages.largestFreeOrder() ?? -1
  let lists = freeListFingerprint(pages)
  try hopOrSkip()
  let now = pages.totalCounts()
  let listsNow = freeListFingerprint(pages)
  let largestNow = pages.largestFreeOrder() ?? -1
  expectEqual(now.total, counts.total, "total pages equal after the hop")
  expectEqual(now.free, counts.free, "free pages equal after the hop")
  expectEqual(now.allocated, counts.allocated, "allocated pages equal after the hop")
  expectEqual(now.reserved, counts.reserved, "reserved pages equal after the hop")
  expectEqual(largestNow, largest, "the largest free order is the same")
  expectEqual(listsNow, lists, "every free list of area 0 has as many blocks as before")
  expect(pages.validate() == nil, "the allocator's metadata is consistent after the hop")
  expect(pages.free(held) == nil, "a block allocated before the hop frees after it")
}

/// What the other CPU counts, and the flag that ends its loop.
let otherCount = Atomic<UInt64>(0)
let otherStop = Atomic<UInt32>(0)

/// The other CPU: counts until told to stop.
func countUntilStopped() {
  while otherStop.load(ordering: .acquiring) == 0 {
    otherCount.wrappingAdd(1, ordering: .relaxed)
  }
}

/// Waits up to `nanoseconds` for the count to pass `value`; the count.
func waitForCount(above value: UInt64, nanoseconds: UInt64) -> UInt64 {
  let until = Platform.nanoseconds() &+ nanoseconds
  var count = otherCount.load(ordering: .relaxed)
  while count <= value && Platform.nanoseconds() < until {
    count = otherCount.load(ordering: .relaxed)
  }
  return count
}

/// The boot CPU's side: migrate while the other CPU counts.
func hopWhileCounting() {
  let running = waitForCount(above: 0, nanoseconds: 5_000_000_000)
  expect(running, .greater, 0, "the other CPU counts before the hop")
  let before = otherCount.load(ordering: .relaxed)
  let result = migrate()
  let atHop = otherCount.load(ordering: .relaxed)
  let after = waitForCount(above: atHop, nanoseconds: 5_000_000_000)
  otherStop.store(1, ordering: .releasing)
  expect(result == .migrated, "the machine migrated with two CPUs")
  expect(atHop, .greater, before, "the other CPU counted while the guest waited for the hop")
  expect(after, .greater, atHop, "the other CPU still counts on the destination")
}

#if arch(x86_64)
  func otherCPU() throws(TestStop) {
    try skipUnlessMigrating()
    let online = SMP.startAll()
    try require(online >= 2, "a second CPU came online")
    otherCount.store(0, ordering: .relaxed)
    otherStop.store(0, ordering: .relaxed)
    SMP.onCPUs({ _ in
      if SMP.currentIndex == 0 {
        hopWhileCounting()
      } else if SMP.currentIndex == 1 {
        countUntilStopped()
      }
    })
  }
#elseif arch(s390x)
  func otherCPU() throws(TestStop) {
    try skipUnlessMigrating()
    let cpu = try require(Processors.another, "a second CPU")
    otherCount.store(0, ordering: .relaxed)
    otherStop.store(0, ordering: .relaxed)
    let started = Processors.start(cpu, running: { _ in countUntilStopped() })
    try require(started == nil, "the second CPU started (memory for it, SIGP SET PREFIX and RESTART)")
    hopWhileCounting()
    let until = Platform.nanoseconds() &+ 5_000_000_000
    while !Processors.isStopped(cpu) && Platform.nanoseconds() < until {}
    expect(Processors.isStopped(cpu), "the other CPU stopped after its loop ended")
  }
#endif

func severalHops() throws(TestStop) {
  var value: UInt64 = 0x5EED
  var hops = 0
  while hops < 3 {
    value = pattern(UInt(value & 0xFFFF))
    let kept = value
    try hopOrSkip()
    expectEqual(value, kept, "a stack value survives each hop")
    hops &+= 1
  }
  expectEqual(hops, 3, "three hops in a row")
}
