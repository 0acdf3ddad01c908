// Interrupts and timers across a live migration (issue 14: "pending
// interrupts/timers across the hop, where the arch allows").
//
// x86_64: a fixed self-IPI accepted by the local APIC while IF=0 waits in
// the IRR (Intel SDM vol. 3 10.8.4) and must still be there, and be
// delivered once, on the destination; the local APIC timer in one-shot mode
// (SDM vol. 3 10.5.4) must keep counting down across the hop (not reloaded,
// not frozen, not faster than the TSC) and fire on the destination, never
// before its count ran out.
//
// s390x: a clock comparator below the TOD clock is a pending condition for
// as long as that holds (z/Architecture Principles of Operation, chapter 4,
// "Clock Comparator"); masked by its CR0 subclass bit across the hop, it
// must be taken on the destination once unmasked. The CPU timer (chapter 4,
// "CPU Timer") decrements no faster than the TOD clock, must keep doing so
// across the hop and must raise its interruption on the destination when it
// goes negative, not before the TOD clock advanced by its value.
//
// Every test arms its interrupt or timer before the hop with interrupts
// disabled (IF=0, or the subclass mask off) and checks after it; waits are
// bounded, and what a wait saw is checked, never retried.

import GuestArch
import GuestLib
import Synchronization

/// How long a timer that must fire after the hop is armed for, in
/// microseconds, given how long a first hop of the same test took in guest
/// time (`measured`): four times that, at least 5 s. What a hop costs in
/// guest time depends on the backend, not on the architecture: 80-500 ms
/// on bare QEMU (both clocks stand still while the machine is stopped, but
/// run while the destination is made ready), 0.8-2 s through libvirt,
/// which starts the destination QEMU while the source runs (measured). A
/// second hop four times slower than the first fails the test ("had not
/// fired by the end of the hop"); it is not skipped. The 5 s floor leaves
/// a libvirt hop more than twice its slowest measured time, for the loaded
/// test suite and nested KVM.
func armedMicroseconds(afterAHopOf measured: UInt64) -> UInt64 {
  max(5_000_000, 4 &* measured)
}

/// How long a test waits beyond a deadline for its interrupt: a liveness
/// bound, not a timing claim (under this host's nested KVM a self-IPI took
/// 140 ms on average to be delivered in a loaded run, once more than 0.5 s;
/// the apic guest measured it).
let deliveryMicroseconds: UInt64 = 2_000_000

#if arch(x86_64)
  /// The vectors: a self-IPI left pending across the hop, and the APIC
  /// timer's.
  let pendingVector: UInt32 = 0x5B
  let timerVector: UInt32 = 0x51

  /// Interrupts taken per vector; the TSC at the first, and the vector's
  /// ISR bit at the handler's entry then (2: not taken).
  let hits: UnsafeMutablePointer<Atomic<UInt32>> = allocateCounters(256)
  let firstTSC = UnsafeMutablePointer<UInt64>.allocate(capacity: 256)
  let inServiceAtEntry = UnsafeMutablePointer<UInt32>.allocate(capacity: 256)

  let recordingHandler: Interrupts.Handler = { vector in
    let v = Int(vector & 0xFF)
    if hits[v].load(ordering: .relaxed) == 0 {
      firstTSC[v] = x86_rdtsc()
      inServiceAtEntry[v] = APIC.vectorBit(APIC.Register.inService, UInt32(v))
    }
    hits[v].add(1, ordering: .releasing)
  }

  nonisolated(unsafe) var handlersInstalled = false

  /// Installs the handler for both vectors (the runtime sends the EOI
  /// after it) and forgets what `vector` took so far.
  func prepare(_ vector: UInt32) {
    if !handlersInstalled {
      handlersInstalled = true
      Interrupts.register(pendingVector, recordingHandler)
      Interrupts.register(timerVector, recordingHandler)
    }
    hits[Int(vector)].store(0, ordering: .releasing)
    firstTSC[Int(vector)] = 0
    inServiceAtEntry[Int(vector)] = 2
  }

  func taken(_ vector: UInt32) -> UInt32 { hits[Int(vector)].load(ordering: .acquiring) }

  /// TSC ticks for `microseconds` (the runtime's PIT calibration).
  func ticks(_ microseconds: UInt64) -> UInt64 { microseconds &* Timer.ticksPerMicrosecond }

  /// Takes interrupts until `vector` was taken `count` times or the TSC
  /// reaches `end`.
  func takeInterrupts(_ vector: UInt32, until count: UInt32, tsc end: UInt64) {
    Interrupts.window(untilTSC: end) { taken(vector) >= count }
  }

  /// The current count between two TSC reads (`Timer.bracketed`).
  func currentCount() -> (tsc: UInt64, value: UInt64) {
    Timer.bracketed(within: ticks(20)) { UInt64(APIC.read(APIC.Register.currentCount)) }
  }

  /// Spins (IF=0, no PAUSE) until the TSC passes `microseconds` from now.
  func spin(microseconds: UInt64) {
    let end = x86_rdtsc() &+ ticks(microseconds)
    while x86_rdtsc() < end { Timer.spinBriefly() }
  }

  /// The start of a timer test: skipped unless the cell migrates;
  /// interrupts off, the timer vector's counters cleared; the LVT timer and
  /// divide registers as they were (for `restoreTimer`), and the timer's
  /// rate (`measureAPICRate`), which must be above 0.
  func beginTimerTest() throws(TestStop) -> (saved: (UInt32, UInt32), rate: UInt64) {
    try skipUnlessMigrating()
    prepare(timerVector)
    x86_cli()
    let saved = (APIC.read(APIC.Register.lvtTimer), APIC.read(APIC.Register.divideConfiguration))
    let rate = measureAPICRate()
    try require(rate > 0, "the APIC timer counts down at divide 1")
    return (saved, rate)
  }

  /// Puts back the LVT timer and divide registers `beginTimerTest` saved.
  func restoreTimer(_ saved: (UInt32, UInt32)) {
    APIC.write(APIC.Register.lvtTimer, saved.0)
    APIC.write(APIC.Register.divideConfiguration, saved.1)
  }

  /// APIC timer counts per 2^20 TSC ticks at divide 1: a masked one-shot
  /// from the largest count, read twice 10 ms apart. The timer's input
  /// clock is the bus or core crystal clock (SDM vol. 3 10.5.4), whose rate
  /// the architecture does not give, so it is measured; the timers guest
  /// holds such a rate to ±10 % across divide settings, the tolerance used
  /// here.
  func measureAPICRate() -> UInt64 {
    APIC.write(APIC.Register.lvtTimer, 1 << 16 | timerVector)
    APIC.write(APIC.Register.divideConfiguration, 0b1011)
    APIC.write(APIC.Register.initialCount, 0xFFFF_FFFF)
    let a = currentCount()
    while x86_rdtsc() < a.tsc &+ ticks(10_000) { Timer.spinBriefly() }
    let b = currentCount()
    APIC.write(APIC.Register.initialCount, 0)
    return ((a.value &- b.value) << 20) / max(b.tsc &- a.tsc, 1)
  }

  /// Divide configuration encodings (DCR bits 3, 1:0; SDM Figure 10-10).
  let divides: [(code: UInt32, divisor: UInt64)] = [
    (0b1011, 1), (0b0000, 2), (0b0001, 4), (0b0010, 8),
    (0b0011, 16), (0b1000, 32), (0b1001, 64), (0b1010, 128),
  ]

  /// TSC ticks for `counts` of the APIC timer at `divisor` and `rate`.
  func ticks(counts: UInt64, divisor: UInt64, rate: UInt64) -> UInt64 {
    (counts &* divisor << 20) / max(rate, 1)
  }

  func pendingInterrupt() throws(TestStop) {
    try skipUnlessMigrating()
    prepare(pendingVector)
    x86_cli()
    // A fixed interrupt the local APIC accepts while IF=0 stays in the IRR
    // until the processor can take it (SDM vol. 3 10.8.4).
    APIC.sendSelf(pendingVector)
    let requestedBefore = APIC.vectorBit(APIC.Register.interruptRequest, pendingVector)
    let inServiceBefore = APIC.vectorBit(APIC.Register.inService, pendingVector)
    let result = migrate()
    let takenAcross = taken(pendingVector)
    let requestedAfter = APIC.vectorBit(APIC.Register.interruptRequest, pendingVector)
    let inServiceAfter = APIC.vectorBit(APIC.Register.inService, pendingVector)
    takeInterrupts(pendingVector, until: 1, tsc: x86_rdtsc() &+ ticks(deliveryMicroseconds))
    // Room for a second delivery, which must not come: one IRR bit, one
    // interrupt.
    takeInterrupts(pendingVector, until: 2, tsc: x86_rdtsc() &+ ticks(2_000))
    let takenAfter = taken(pendingVector)
    let requestedEnd = APIC.vectorBit(APIC.Register.interruptRequest, pendingVector)
    let inServiceEnd = APIC.vectorBit(APIC.Register.inService, pendingVector)
    let tpr = APIC.read(APIC.Register.taskPriority)
    let ppr = APIC.read(APIC.Register.processorPriority)
    expect(result == .migrated, "the machine migrated with the interrupt pending")
    expectEqual(requestedBefore, 1, "the self-IPI waits in the IRR while IF=0 (before the hop)")
    expectEqual(inServiceBefore, 0, "it is not in service before the hop")
    expectEqual(takenAcross, 0, "it is not delivered while IF=0, before or across the hop")
    expectEqual(requestedAfter, 1, "its IRR bit is still set on the destination")
    expectEqual(inServiceAfter, 0, "it is not in service on the destination before IF=1")
    expectEqual(takenAfter, 1, "with IF=1 the handler runs exactly once on the destination")
    if Platform.arguments.value(of: "harness.accel", hasItem: "kvm") {
      skip(
        "the vector is in service (ISR) in its handler",
        because: "this host's nested KVM (PVM) shows no ISR bit in a handler (apic guest: isr in the handler, XFAIL)")
    } else {
      expectEqual(inServiceAtEntry[Int(pendingVector)], 1, "the vector is in service (ISR) in its handler")
    }
    expectEqual(requestedEnd, 0, "its IRR bit is clear after the delivery")
    expectEqual(inServiceEnd, 0, "its ISR bit is clear after the EOI")
    expectEqual(ppr, tpr, "PPR = TPR after the EOI: nothing in service")
  }

  func timerCountsAcrossHop() throws(TestStop) {
    let (saved, rate) = try beginTimerTest()
    note("APIC timer counts per 2^20 TSC ticks (divide 1)", rate)
    // One-shot (mode 00b), unmasked, divide 128, the largest initial count:
    // minutes at any clock QEMU or KVM give the timer (1 GHz at divide 1),
    // so it cannot run out here. It counts 20 ms first, so that a
    // destination that reloaded the initial count would read above the
    // count before the hop.
    APIC.write(APIC.Register.divideConfiguration, 0b1010)
    APIC.write(APIC.Register.lvtTimer, timerVector)
    APIC.write(APIC.Register.initialCount, 0xFFFF_FFFF)
    spin(microseconds: 20_000)
    let before = currentCount()
    let result = migrate()
    let after = currentCount()
    spin(microseconds: 1_000)
    let later = currentCount()
    let lvt = APIC.read(APIC.Register.lvtTimer)
    let initial = APIC.read(APIC.Register.initialCount)
    let divide = APIC.read(APIC.Register.divideConfiguration)
    let takenAcross = taken(timerVector)
    let requested = APIC.vectorBit(APIC.Register.interruptRequest, timerVector)
    // A zero initial count stops the timer (SDM 10.5.4).
    APIC.write(APIC.Register.initialCount, 0)
    let stopped = APIC.read(APIC.Register.currentCount)
    restoreTimer(saved)
    let elapsed = after.tsc &- before.tsc
    let consumed = ticks(counts: before.value &- after.value, divisor: 128, rate: rate)
    note("TSC ticks across the hop", elapsed)
    note("TSC ticks the timer counted across the hop", consumed)
    expect(result == .migrated, "the machine migrated with the timer running")
    expect(before.value, .less, 0xFFFF_FFFF, "the timer counts down before the hop")
    expect(after.value, .greater, 0, "the timer still runs after the hop (not expired, not stopped)")
    expect(
      after.value, .less, before.value,
      "the count kept going down across the hop (not reloaded with the initial count)")
    // The count and the TSC run from the machine's clocks; the count may
    // have stood still while the machine was stopped (both do under QEMU),
    // never run ahead of the TSC: the rate's ±10 %, the two brackets
    // (under 20 µs each) and one count at divide 128.
    expect(
      consumed, .lessOrEqual, elapsed &+ elapsed / 10 &+ ticks(50),
      "the timer counted no faster than the TSC across the hop (±10 % rate)")
    expect(later.value, .less, after.value, "the count keeps going down on the destination")
    expectEqual(initial, 0xFFFF_FFFF, "the initial count register is the one written")
    expectEqual(lvt & 0x7_00FF, timerVector, "LVT timer: one-shot, unmasked, its vector")
    expectEqual(divide & 0xB, 0b1010, "the divide configuration is divide by 128")
    expectEqual(takenAcross, 0, "no timer interrupt: its count is far from 0")
    expectEqual(requested, 0, "no timer interrupt pending in the IRR")
    expectEqual(stopped, 0, "writing initial count 0 stops the timer (current count 0)")
  }

  func timerFiresAfterHop() throws(TestStop) {
    let (saved, rate) = try beginTimerTest()
    // A first hop measures what a hop costs here.
    let hopStart = x86_rdtsc()
    let firstResult = migrate()
    let hopMicroseconds = (x86_rdtsc() &- hopStart) / max(Timer.ticksPerMicrosecond, 1)
    let armed = armedMicroseconds(afterAHopOf: hopMicroseconds)
    note("µs of guest time in the first hop", hopMicroseconds)
    note("µs the timer is armed for", armed)
    // The smallest divisor at which the armed time fits the 32-bit count.
    let countsAtDivide1 = ((ticks(armed) &* rate) >> 20)
    var choice = divides[divides.count - 1]
    for d in divides.reversed() where countsAtDivide1 / d.divisor <= 0xFFFF_FFFF { choice = d }
    let initial = UInt32(truncatingIfNeeded: min(countsAtDivide1 / choice.divisor, 0xFFFF_FFFF))
    note("APIC timer divisor", choice.divisor)
    note("APIC timer initial count", UInt64(initial))
    APIC.write(APIC.Register.divideConfiguration, choice.code)
    APIC.write(APIC.Register.lvtTimer, timerVector)
    APIC.write(APIC.Register.initialCount, initial)
    let before = currentCount()
    let result = migrate()
    let after = currentCount()
    let takenAcross = taken(timerVector)
    let requestedAcross = APIC.vectorBit(APIC.Register.interruptRequest, timerVector)
    let remaining = ticks(counts: after.value, divisor: choice.divisor, rate: rate)
    takeInterrupts(
      timerVector, until: 1, tsc: after.tsc &+ remaining &+ remaining / 10 &+ ticks(deliveryMicroseconds))
    // Room for a second interrupt, which a one-shot timer never raises.
    takeInterrupts(timerVector, until: 2, tsc: x86_rdtsc() &+ ticks(2_000))
    let takenAfter = taken(timerVector)
    let current = APIC.read(APIC.Register.currentCount)
    let requestedEnd = APIC.vectorBit(APIC.Register.interruptRequest, timerVector)
    let inServiceEnd = APIC.vectorBit(APIC.Register.inService, timerVector)
    APIC.write(APIC.Register.initialCount, 0)
    restoreTimer(saved)
    let fired = firstTSC[Int(timerVector)]
    note("TSC ticks from the count after the hop to the interrupt", fired &- after.tsc)
    note("TSC ticks that count stood for", remaining)
    expect(
      firstResult == .migrated && result == .migrated,
      "the machine migrated twice, the second time with the timer armed")
    expectEqual(takenAcross, 0, "the timer had not fired by the end of the hop")
    expectEqual(requestedAcross, 0, "its vector is not pending in the IRR after the hop")
    expect(after.value, .greater, 0, "the one-shot still counts after the hop")
    expect(after.value, .less, before.value, "below its count before the hop")
    expectEqual(takenAfter, 1, "the timer interrupt arrives on the destination, once")
    if takenAfter >= 1 {
      expect(
        fired &- after.tsc, .greaterOrEqual, remaining &- remaining / 10,
        "not before the count left after the hop ran out (never early; ±10 % rate)")
    } else {
      expect(false, "not before the count left after the hop ran out (never early; ±10 % rate)")
    }
    expectEqual(current, 0, "one-shot: the current count stays 0 after firing")
    expectEqual(requestedEnd, 0, "the timer's IRR bit is clear after the delivery")
    expectEqual(inServiceEnd, 0, "the timer's ISR bit is clear after the EOI")
  }

#elseif arch(s390x)
  /// TOD clock units per microsecond (bit 51 of the clock).
  let todMicrosecond: UInt64 = 4096

  /// A positive CPU-timer value that does not run out in a run (2^40 TOD
  /// units, about 4.5 minutes).
  let farFuture: UInt64 = 1 << 40

  /// The external interruptions this program's hook took (service signals,
  /// which the console's SCLP requests raise, aside), and the first one.
  nonisolated(unsafe) var externalTaken = 0
  nonisolated(unsafe) var firstExternal = (code: UInt16(0), clock: UInt64(0), oldMask: UInt64(0))
  nonisolated(unsafe) var hookInstalled = false

  /// Records an interruption and resumes the interrupted code disabled:
  /// clock-comparator and CPU-timer conditions stay pending while they
  /// last, so an enabled resume would take them again at once.
  func recordExternal(_ interruption: UnsafeMutablePointer<ExternalInterruption>) {
    defer { interruption.pointee.oldMask &= ~External.pswExternalMask }
    if interruption.pointee.code == External.serviceSignalCode { return }
    if externalTaken == 0 {
      firstExternal = (interruption.pointee.code, s390_store_clock(), interruption.pointee.oldMask)
    }
    externalTaken += 1
  }

  /// Installs the hook on this CPU (once) and forgets what it took.
  func prepareExternal() {
    if !hookInstalled {
      hookInstalled = true
      External.hook = { recordExternal($0.assumingMemoryBound(to: ExternalInterruption.self)) }
      External.install()
    }
    externalTaken = 0
    firstExternal = (0, 0, 0)
  }

  /// Spins, enabled for external interruptions, until `count` were taken
  /// or `microseconds` passed; returns disabled.
  func takeExternal(until count: Int, microseconds: UInt64) {
    let deadline = s390_store_clock() &+ microseconds &* todMicrosecond
    while externalTaken < count && s390_store_clock() < deadline { External.enable() }
    External.disable()
  }

  /// Spins (disabled) until the TOD clock passes `microseconds` from now.
  func spin(microseconds: UInt64) {
    let end = s390_store_clock() &+ microseconds &* todMicrosecond
    while s390_store_clock() < end {}
  }

  func pendingInterrupt() throws(TestStop) {
    try skipUnlessMigrating()
    prepareExternal()
    // The console needs the service signal; the clock comparator's subclass
    // (CR0 bit 52) stays off until after the hop.
    let saved = External.setSubclasses(External.serviceSignal)
    s390_set_clock_comparator(UInt64.max)
    // Just behind the TOD clock (TCG raises nothing for a comparator below
    // its TOD base, such as 0: the external_interrupts guest measured it).
    let comparator = s390_store_clock()
    s390_set_clock_comparator(comparator)
    spin(microseconds: 10)
    let result = migrate()
    let takenAcross = externalTaken
    let stored = s390_store_clock_comparator()
    let clock = s390_store_clock()
    External.setSubclasses(External.serviceSignal | External.clockComparator)
    takeExternal(until: 1, microseconds: deliveryMicroseconds)
    let takenAfter = externalTaken
    let first = firstExternal
    External.setSubclasses(External.serviceSignal)
    s390_set_clock_comparator(UInt64.max)
    External.setSubclasses(saved)
    expect(result == .migrated, "the machine migrated with the condition pending")
    expectEqual(takenAcross, 0, "not taken while its subclass is masked, before or across the hop")
    expectEqual(stored, comparator, "STCKC on the destination returns the comparator set before the hop")
    expect(clock, .greater, comparator, "the destination's TOD clock is past the comparator: the condition holds")
    expect(takenAfter, .greaterOrEqual, 1, "unmasked on the destination, the interruption is taken")
    expectEqual(first.code, External.clockComparatorCode, "interruption code 0x1004 (clock comparator)")
    expect(first.clock, .greater, comparator, "taken while the TOD clock exceeds the comparator")
    expectBits(first.oldMask, set: External.pswExternalMask, "the old PSW was enabled for external interruptions")
  }

  func timerCountsAcrossHop() throws(TestStop) {
    try skipUnlessMigrating()
    prepareExternal()
    // The CPU-timer subclass (CR0 bit 53) stays off.
    let saved = External.setSubclasses(External.serviceSignal)
    s390_set_cpu_timer(farFuture)
    spin(microseconds: 20_000)
    // The reads are ordered so that the bounds are exact: the CPU timer
    // decrements no faster than the TOD clock advances (PoP chapter 4: it
    // decrements at the rate of bit 51 of the TOD clock while the CPU
    // runs, and not at all in the stopped state), so what it lost between
    // its two reads is at most what the clock gained between the clock
    // reads around them.
    let clockBefore = s390_store_clock()
    let before = s390_store_cpu_timer()
    let result = migrate()
    let after = s390_store_cpu_timer()
    let clockAfter = s390_store_clock()
    spin(microseconds: 1_000)
    let later = s390_store_cpu_timer()
    s390_set_cpu_timer(farFuture)
    External.setSubclasses(saved)
    note("TOD units across the hop", clockAfter &- clockBefore)
    note("CPU-timer units lost across the hop", before &- after)
    expect(result == .migrated, "the machine migrated with the CPU timer running")
    expect(before, .less, farFuture, "the CPU timer decrements before the hop")
    expect(Int64(bitPattern: after), .greater, 0, "the CPU timer is still positive after the hop")
    expect(after, .less, before, "it kept decrementing across the hop (not reset to the value set)")
    // 1 µs for the emulator's rounding: QEMU keeps both in nanoseconds.
    expect(
      before &- after, .lessOrEqual, clockAfter &- clockBefore &+ todMicrosecond,
      "it decremented no more than the TOD clock advanced across the hop")
    expect(later, .less, after, "it keeps decrementing on the destination")
  }

  func timerFiresAfterHop() throws(TestStop) {
    try skipUnlessMigrating()
    prepareExternal()
    let saved = External.setSubclasses(External.serviceSignal)
    // A first hop measures what a hop costs here.
    let hopStart = s390_store_clock()
    let firstResult = migrate()
    let hopMicroseconds = (s390_store_clock() &- hopStart) / todMicrosecond
    let armed = armedMicroseconds(afterAHopOf: hopMicroseconds) &* todMicrosecond
    note("µs of guest time in the first hop", hopMicroseconds)
    note("µs the CPU timer is armed for", armed / todMicrosecond)
    s390_set_cpu_timer(armed)
    let result = migrate()
    let takenAcross = externalTaken
    // Clock first: the timer's value then is at least the one read after.
    let clock = s390_store_clock()
    let remaining = s390_store_cpu_timer()
    External.setSubclasses(External.serviceSignal | External.cpuTimer)
    takeExternal(until: 1, microseconds: remaining / todMicrosecond &+ deliveryMicroseconds)
    let takenAfter = externalTaken
    let first = firstExternal
    let end = s390_store_cpu_timer()
    External.setSubclasses(External.serviceSignal)
    s390_set_cpu_timer(farFuture)
    note("CPU timer after the wait", end, hex: true)
    External.setSubclasses(saved)
    expect(
      firstResult == .migrated && result == .migrated,
      "the machine migrated twice, the second time with the CPU timer armed")
    expectEqual(takenAcross, 0, "no CPU-timer interruption while its subclass is masked")
    expect(Int64(bitPattern: remaining), .greater, 0, "the CPU timer had not run out by the end of the hop")
    expect(remaining, .less, armed, "it counted down from the value set")
    expect(takenAfter, .greaterOrEqual, 1, "the CPU-timer interruption is taken on the destination")
    expectEqual(first.code, External.cpuTimerCode, "interruption code 0x1005 (CPU timer)")
    let notEarly: StaticString =
      "not before the TOD clock advanced by the timer's value after the hop (it decrements no faster)"
    if takenAfter >= 1 {
      expect(first.clock &- clock, .greaterOrEqual, remaining, notEarly)
    } else {
      expect(false, notEarly)
    }
  }
#endif
