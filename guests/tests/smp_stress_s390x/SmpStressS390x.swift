// SMP stress on s390x, from z/Architecture Principles of Operation
// (chapter 5, "Storage-Operand Consistency", "Serialization"; chapter 7,
// COMPARE AND SWAP, LOAD AND ADD; chapter 4, SIGP). Interlocked updates
// (CSG, LAAG) never lose an increment; a CSG lock gives mutual exclusion.
// Ordering: the stores of one CPU are observed by the others in the order
// it made them, its fetches are made in order, and all CPUs see stores in
// one order (multi-copy atomic), so message passing (MP), load buffering
// (LB) and IRIW reorderings are forbidden. A CPU may satisfy a fetch before
// its own earlier store to another location becomes visible (store
// buffering, SB: allowed, counted, never required) unless a serialization
// (BCR 15,0, or BCR 14,0 with the fast-BCR-serialization facility 45)
// separates them. An accepted EXTERNAL CALL is delivered exactly once; an
// interruption preserves the interrupted program's registers.

import GuestArch
import GuestLib
import Synchronization

let guestTests = [
  Test("CS lock", csLock),
  Test("interlocked counters", interlockedCounters),
  Test("litmus MP", litmusMP, .requires(cpus: 2)),
  Test("litmus SB", litmusSB, .requires(cpus: 2)),
  Test("litmus SB with BCR 14,0", litmusSBFast, .requires(cpus: 2), .requires(feature: fastBCR)),
  Test("litmus SB with BCR 15,0", litmusSBSerialized, .requires(cpus: 2)),
  Test("litmus LB", litmusLB, .requires(cpus: 2)),
  Test("litmus IRIW", litmusIRIW, .requires(cpus: 4)),
  Test("external-call storm", externalCallStorm, .requires(cpus: 2)),
]

/// Facility 45: distinct-operands, fast-BCR-serialization, high-word,
/// interlocked-access 1 (LAA family), load/store-on-condition 1, population count.
let fastBCR = CPUFeature("fast-BCR-serialization / interlocked-access 1", .facility(45))

@_extern(c, "stress_lock") func stress_lock(_ lock: UnsafeMutableRawPointer, _ owner: UInt64)
@_extern(c, "stress_unlock") func stress_unlock(_ lock: UnsafeMutableRawPointer)
@_extern(c, "stress_critical") func stress_critical(
  _ counter: UnsafeMutableRawPointer, _ lock: UnsafeMutableRawPointer, _ owner: UInt64) -> UInt64
@_extern(c, "stress_cs_add") func stress_cs_add(_ word: UnsafeMutableRawPointer, _ count: UInt64)
@_extern(c, "stress_laa_add") func stress_laa_add(_ word: UnsafeMutableRawPointer, _ count: UInt64)
@_extern(c, "litmus_sb") func litmus_sb(
  _ mine: UnsafeMutableRawPointer, _ other: UnsafeMutableRawPointer, _ fence: UInt64,
  _ delay: UInt64) -> UInt64
@_extern(c, "litmus_write2") func litmus_write2(_ first: UnsafeMutableRawPointer, _ second: UnsafeMutableRawPointer)
@_extern(c, "litmus_read2") func litmus_read2(
  _ first: UnsafeMutableRawPointer, _ second: UnsafeMutableRawPointer) -> UInt64
@_extern(c, "litmus_write1") func litmus_write1(_ word: UnsafeMutableRawPointer)
@_extern(c, "litmus_lb") func litmus_lb(
  _ load: UnsafeMutableRawPointer, _ store: UnsafeMutableRawPointer) -> UInt64

func microseconds() -> UInt64 { s390_store_clock() >> 12 }

/// Shared memory (16 KiB from LOW, in no lowcore). Control words first,
/// then the data each on its own 256-byte line.
struct Shared {
  var base: UnsafeMutableRawPointer
  var words: UnsafeMutablePointer<Atomic<UInt64>>
  func line(_ n: Int) -> UnsafeMutableRawPointer { base + 4096 + 256 * n }
}

// Control word indices.
let quitWord = 0
let goWord = 1  // generation of the current round
let doneWord = 2  // workers done with it
let kindWord = 3
let fenceWord = 6  // SB: 0 none, 1 BCR 15,0, 2 BCR 14,0
let readyWord = 4
let resultWord = 8  // 8 + role
let statWord = 32  // per-CPU statistics (32 + cpu)

nonisolated(unsafe) var sharedMemory: Shared? = nil

func shared() throws(TestStop) -> Shared {
  if let memory = sharedMemory {
    reset(memory)
    return memory
  }
  let base = try require(
    GuestMemory.pages?.allocate(order: 2, areas: .s390xLow, flags: .zero), "shared pages")
  let words = base.bindMemory(to: Atomic<UInt64>.self, capacity: 128)
  var i = 0
  while i < 128 {
    (words + i).initialize(to: Atomic(0))
    i += 1
  }
  let memory = Shared(base: base, words: words)
  sharedMemory = memory
  return memory
}

func reset(_ memory: Shared) {
  var i = 0
  while i < jobSeqWord {
    memory.words[i].store(0, ordering: .releasing)
    i += 1
  }
  i = 0
  while i < 8 {
    memory.line(i).storeBytes(of: 0, as: UInt64.self)
    i += 1
  }
}

// Worker CPUs are started once and then serve every test: each runs
// `dispatcher`, which sleeps in an enabled wait (external call only) until
// the boot CPU posts a job and wakes it with SIGP EXTERNAL CALL. (Stopping
// and restarting them per test would cost seconds under TCG, which often
// runs a restarted CPU late; see the sigp program's "stop and start".)
let jobSeqWord = 120  // incremented per job (not cleared by reset)
let jobWord = 121  // the job's kind
let finishedWord = 122  // jobs finished, summed over workers
let roleCountWord = 7  // litmus: CPUs taking part (workers with role < it)

let jobLock: UInt64 = 1
let jobCounter: UInt64 = 2
let jobLitmus: UInt64 = 3
let jobStorm: UInt64 = 4

nonisolated(unsafe) var workers: [UInt16] = []

func dispatcher(_ context: UnsafeMutableRawPointer?) {
  guard let memory = sharedMemory else { return }
  let role = Int(UInt(bitPattern: context))
  External.setSubclasses(External.externalCall)
  var seen: UInt64 = 0
  while true {
    while memory.words[jobSeqWord].load(ordering: .acquiring) == seen {
      External.waitForInterruption()
    }
    seen = memory.words[jobSeqWord].load(ordering: .acquiring)
    switch memory.words[jobWord].load(ordering: .acquiring) {
    case jobLock: lockWork(context)
    case jobCounter: counterWork(context)
    case jobLitmus:
      if role < Int(memory.words[roleCountWord].load(ordering: .acquiring)) { litmusWork(context) }
    case jobStorm: stormWork(context)
    default: break
    }
    memory.words[finishedWord].wrappingAdd(1, ordering: .acquiringAndReleasing)
  }
}

/// Posts `job` to the worker CPUs (starting them the first time) and waits
/// until `taking` of them (default: all) took it; returns the workers.
func post(_ memory: Shared, _ job: UInt64, taking: Int? = nil) throws(TestStop) -> [UInt16] {
  if workers.isEmpty {
    var role = 1
    for cpu in Processors.others() where role < 16 {
      try require(
        Processors.startWorker(cpu, { dispatcher($0) }, context: UnsafeMutableRawPointer(bitPattern: UInt(role))),
        "worker CPU started")
      workers.append(cpu)
      role += 1
    }
  }
  memory.words[finishedWord].store(0, ordering: .releasing)
  memory.words[jobWord].store(job, ordering: .releasing)
  memory.words[jobSeqWord].wrappingAdd(1, ordering: .acquiringAndReleasing)
  for cpu in workers { _ = Processors.sigp(cpu, 0x02) }
  let expected = UInt64(taking ?? workers.count)
  let deadline = microseconds() + 6_000_000
  while memory.words[readyWord].load(ordering: .acquiring) < expected && microseconds() < deadline {}
  try require(memory.words[readyWord].load(ordering: .acquiring) == expected, "every worker CPU runs")
  return workers
}

/// Ends the current job: sets quit and waits until every worker is back in
/// its dispatcher.
func finishJob(_ memory: Shared) {
  memory.words[quitWord].store(1, ordering: .releasing)
  let deadline = microseconds() + 6_000_000
  while memory.words[finishedWord].load(ordering: .acquiring) < UInt64(workers.count)
    && microseconds() < deadline
  {}
}

// MARK: - Locks and counters

let lockRounds: UInt64 = 1500

/// Lock line 0, counter line 1; stats: violations.
func lockWork(_ context: UnsafeMutableRawPointer?) {
  guard let memory = sharedMemory else { return }
  let owner = UInt64(s390_cpu_address()) + 1
  memory.words[readyWord].wrappingAdd(1, ordering: .acquiringAndReleasing)
  while memory.words[goWord].load(ordering: .acquiring) == 0 {}
  var violations: UInt64 = 0
  var round: UInt64 = 0
  while round < lockRounds {
    stress_lock(memory.line(0), owner)
    violations += stress_critical(memory.line(1), memory.line(0), owner)
    stress_unlock(memory.line(0))
    round += 1
  }
  memory.words[statWord + Int(owner - 1) & 63].store(violations, ordering: .releasing)
  memory.words[doneWord].wrappingAdd(1, ordering: .acquiringAndReleasing)
}

func csLock() throws(TestStop) {
  let memory = try shared()
  var round = 0
  while round < 2 {
    reset(memory)
    let others = try post(memory, jobLock)
    memory.words[goWord].store(1, ordering: .releasing)
    lockWork(nil)
    let deadline = microseconds() + 10_000_000
    while memory.words[doneWord].load(ordering: .acquiring) < UInt64(others.count + 1)
      && microseconds() < deadline
    {}
    finishJob(memory)
    let participants = UInt64(others.count + 1)
    var violations: UInt64 = 0
    var i = 0
    while i < 64 {
      violations += memory.words[statWord + i].load(ordering: .acquiring)
      i += 1
    }
    expectEqual(
      memory.words[doneWord].load(ordering: .acquiring), participants, "every CPU finished its rounds")
    expectEqual(
      memory.line(1).load(as: UInt64.self), participants * lockRounds,
      "non-atomic increments under the CSG lock: none lost")
    expectEqual(violations, 0, "inside the section the lock word always named its holder")
    expectEqual(memory.line(0).load(as: UInt64.self), 0, "the lock is free at the end")
    round += 1
  }
}

let counterRounds: UInt64 = 4000

func counterWork(_ context: UnsafeMutableRawPointer?) {
  guard let memory = sharedMemory else { return }
  memory.words[readyWord].wrappingAdd(1, ordering: .acquiringAndReleasing)
  while memory.words[goWord].load(ordering: .acquiring) == 0 {}
  stress_cs_add(memory.line(2), counterRounds)
  if Platform.hasFeature(fastBCR) { stress_laa_add(memory.line(3), counterRounds) }
  memory.words[doneWord].wrappingAdd(1, ordering: .acquiringAndReleasing)
}

func interlockedCounters() throws(TestStop) {
  let memory = try shared()
  _ = Platform.hasFeature(fastBCR)  // read STFLE once, before other CPUs ask
  var round = 0
  while round < 3 {
    reset(memory)
    let others = try post(memory, jobCounter)
    memory.words[goWord].store(1, ordering: .releasing)
    counterWork(nil)
    let deadline = microseconds() + 10_000_000
    while memory.words[doneWord].load(ordering: .acquiring) < UInt64(others.count + 1)
      && microseconds() < deadline
    {}
    finishJob(memory)
    let participants = UInt64(others.count + 1)
    expectEqual(
      memory.line(2).load(as: UInt64.self), participants * counterRounds,
      "CSG increments from every CPU: none lost")
    if Platform.hasFeature(fastBCR) {
      expectEqual(
        memory.line(3).load(as: UInt64.self), participants * counterRounds,
        "LAAG increments from every CPU: none lost")
    } else {
      skip("LAAG increments from every CPU: none lost", because: "no interlocked-access facility 1")
    }
    round += 1
  }
}

// MARK: - Litmus tests

/// Litmus kinds.
let kindMP: UInt64 = 1
let kindSB: UInt64 = 2  // fence in words[fenceWord]
let kindLB: UInt64 = 3
let kindIRIW: UInt64 = 4

/// Runs role `role` of the current litmus kind with x = line 4, y = line 5.
func runRole(_ memory: Shared, _ role: Int) -> UInt64 {
  let x = memory.line(4)
  let y = memory.line(5)
  let kind = memory.words[kindWord].load(ordering: .acquiring)
  switch kind {
  case kindMP:
    if role == 0 {
      litmus_write2(x, y)  // data, then flag
      return 0
    }
    return litmus_read2(y, x)  // flag, then data
  case kindSB:
    let fence = memory.words[fenceWord].load(ordering: .acquiring)
    // No delay between store and load: a delay lets the store drain and
    // hides store buffering (litmus_sb takes one for experiments).
    return role == 0 ? litmus_sb(x, y, fence, sbWindow) : litmus_sb(y, x, fence, sbWindow)
  case kindLB:
    return role == 0 ? litmus_lb(x, y) : litmus_lb(y, x)
  case kindIRIW:
    switch role {
    case 0:
      litmus_write1(x)
      return 0
    case 1:
      litmus_write1(y)
      return 0
    case 2: return litmus_read2(x, y)
    default: return litmus_read2(y, x)
    }
  default:
    return 0
  }
}

/// A litmus worker: role = its index + 1 (from its context), one run per
/// generation of words[goWord].
func litmusWork(_ context: UnsafeMutableRawPointer?) {
  guard let memory = sharedMemory else { return }
  let role = Int(UInt(bitPattern: context))
  memory.words[readyWord].wrappingAdd(1, ordering: .acquiringAndReleasing)
  var generation: UInt64 = 0
  while true {
    var go = memory.words[goWord].load(ordering: .acquiring)
    while go == generation {
      if memory.words[quitWord].load(ordering: .acquiring) != 0 { return }
      go = memory.words[goWord].load(ordering: .acquiring)
    }
    generation = go
    let result = runRole(memory, role)
    memory.words[resultWord + role].store(result, ordering: .releasing)
    memory.words[doneWord].wrappingAdd(1, ordering: .acquiringAndReleasing)
  }
}

/// Runs `iterations` rounds of litmus `kind` with `roles` CPUs (this CPU
/// is role 0); returns the outcome histogram (results packed by role, 2
/// bits each) and the rounds completed.
///
/// With `stopAt`, the rounds end early once that (forbidden) outcome was
/// seen: the check has failed by then, and a pass always runs them all.
func runLitmus(
  _ kind: UInt64, fence: UInt64 = 0, roles: Int, iterations: Int, stopAt: Int? = nil
) throws(TestStop) -> (histogram: [Int], completed: Int) {
  let memory = try shared()
  memory.words[kindWord].store(kind, ordering: .releasing)
  memory.words[fenceWord].store(fence, ordering: .releasing)
  memory.words[roleCountWord].store(UInt64(roles), ordering: .releasing)
  _ = try post(memory, jobLitmus, taking: roles - 1)
  var histogram = [Int](repeating: 0, count: 256)
  var completed = 0
  var generation: UInt64 = 0
  while completed < iterations {
    memory.line(4).storeBytes(of: 0, as: UInt32.self)
    memory.line(5).storeBytes(of: 0, as: UInt32.self)
    memory.words[doneWord].store(0, ordering: .releasing)
    generation += 1
    memory.words[goWord].store(generation, ordering: .releasing)
    let mine = runRole(memory, 0)
    let deadline = microseconds() + 1_000_000
    while memory.words[doneWord].load(ordering: .acquiring) < UInt64(roles - 1) && microseconds() < deadline {}
    if memory.words[doneWord].load(ordering: .acquiring) < UInt64(roles - 1) { break }
    var packed = Int(mine & 3)
    var role = 1
    while role < roles {
      packed |= Int(memory.words[resultWord + role].load(ordering: .acquiring) & 3) << (2 * role)
      role += 1
    }
    histogram[packed & 255] += 1
    completed += 1
    if let stopAt, histogram[stopAt] > 0 { break }
  }
  finishJob(memory)
  return (histogram, completed)
}

/// Rounds per litmus test. Under TCG every round needs each participating
/// vCPU thread scheduled on the host; IRIW's four spinning CPUs get fewer.
let litmusIterations = 300
let sbWindow: UInt64 = 0
let iriwIterations = 20

func litmusMP() throws(TestStop) {
  let (histogram, completed) = try runLitmus(kindMP, roles: 2, iterations: litmusIterations)
  expectEqual(completed, litmusIterations, "every MP round completed")
  // Reader's result (role 1) = flag << 1 | data; flag 1 with data 0 (2) is
  // forbidden: stores are observed in order, fetches are made in order.
  var forbidden = 0
  var flagSeen = 0
  for (packed, count) in histogram.enumeratedPairs() where count > 0 {
    let reader = packed >> 2 & 3
    if reader == 2 { forbidden += count }
    if reader & 2 != 0 { flagSeen += count }
  }
  note("MP rounds where the reader saw the flag:", UInt64(flagSeen))
  expectEqual(forbidden, 0, "MP: flag seen without the data before it (forbidden)")
}

func sbOutcomes(_ fence: UInt64, rounds: Int) throws(TestStop) -> (both0: Int, completed: Int) {
  // Fenced, r0 = r1 = 0 (packed 0) is forbidden: stop once it was seen.
  let (histogram, completed) = try runLitmus(
    kindSB, fence: fence, roles: 2, iterations: rounds, stopAt: fence == 0 ? nil : 0)
  var both0 = 0
  var others = 0
  for (packed, count) in histogram.enumeratedPairs() where count > 0 {
    if packed & 3 == 0 && packed >> 2 & 3 == 0 { both0 += count } else { others += count }
  }
  note("SB rounds with r0 = r1 = 0:", UInt64(both0))
  note("SB rounds with another outcome:", UInt64(others))
  return (both0, completed)
}

func litmusSB() throws(TestStop) {
  // Without serialization both loads may see 0 (allowed): counted only.
  let (both0, completed) = try sbOutcomes(0, rounds: litmusIterations)
  expectEqual(completed, litmusIterations, "every SB round completed")
  expect(both0, .lessOrEqual, completed, "SB outcomes counted (r0 = r1 = 0 allowed)")
}

func litmusSBSerialized() throws(TestStop) {
  let (both0, completed) = try sbOutcomes(1, rounds: litmusIterations)
  expectEqual(both0, 0, "SB with BCR 15,0 between store and load: r0 = r1 = 0 forbidden")
  if both0 == 0 { expectEqual(completed, litmusIterations, "every SB round completed") }
}

func litmusSBFast() throws(TestStop) {
  let (both0, completed) = try sbOutcomes(2, rounds: 2 * litmusIterations)
  expectEqual(both0, 0, "SB with BCR 14,0 (facility 45): r0 = r1 = 0 forbidden")
  if both0 == 0 { expectEqual(completed, 2 * litmusIterations, "every SB round completed") }
}

func litmusLB() throws(TestStop) {
  let (histogram, completed) = try runLitmus(kindLB, roles: 2, iterations: litmusIterations)
  expectEqual(completed, litmusIterations, "every LB round completed")
  var forbidden = 0
  for (packed, count) in histogram.enumeratedPairs() where count > 0 {
    if packed & 3 == 1 && packed >> 2 & 3 == 1 { forbidden += count }
  }
  expectEqual(forbidden, 0, "LB: both loads see the other CPU's later store (forbidden)")
}

func litmusIRIW() throws(TestStop) {
  let (histogram, completed) = try runLitmus(kindIRIW, roles: 4, iterations: iriwIterations)
  expectEqual(completed, iriwIterations, "every IRIW round completed")
  // Readers: role 2 reads x then y, role 3 reads y then x. Seeing x without
  // y and y without x means the two writes were seen in opposite orders.
  var forbidden = 0
  for (packed, count) in histogram.enumeratedPairs() where count > 0 {
    if packed >> 4 & 3 == 2 && packed >> 6 & 3 == 2 { forbidden += count }
  }
  expectEqual(forbidden, 0, "IRIW: readers disagree on the order of independent writes (forbidden)")
}

// MARK: - External-call storm

let stormRounds: UInt64 = 300

/// Receiver statistics: words[64] external calls, words[65] emergency
/// signals, words[66] wrong CPU address.
func stormHook(_ raw: UnsafeMutableRawPointer) {
  let interruption = raw.assumingMemoryBound(to: ExternalInterruption.self)
  guard let memory = sharedMemory else { return }
  switch interruption.pointee.code {
  case External.externalCallCode: memory.words[64].wrappingAdd(1, ordering: .acquiringAndReleasing)
  case External.emergencySignalCode: memory.words[65].wrappingAdd(1, ordering: .acquiringAndReleasing)
  default: break
  }
  // A sender is another CPU of the configuration (no allocation here: the
  // interrupted code may be inside the allocator).
  let sender = interruption.pointee.cpuAddress
  var known = false
  var index = 0
  while index < BootInfo.cpuCount {
    if BootInfo.cpuAddresses[index] == sender && sender != interruption.pointee.receiver { known = true }
    index += 1
  }
  if interruption.pointee.code != External.serviceSignalCode && !known {
    memory.words[66].wrappingAdd(1, ordering: .acquiringAndReleasing)
  }
}

/// A sender: EXTERNAL CALL and EMERGENCY SIGNAL to words[5] (the
/// receiver), counting accepted orders in stats 32 + 2*cpu (calls) and
/// 33 + 2*cpu (signals).
func stormWork(_ context: UnsafeMutableRawPointer?) {
  guard let memory = sharedMemory else { return }
  let me = Int(s390_cpu_address() & 15)
  let receiver = UInt16(truncatingIfNeeded: memory.words[5].load(ordering: .acquiring))
  memory.words[readyWord].wrappingAdd(1, ordering: .acquiringAndReleasing)
  while memory.words[goWord].load(ordering: .acquiring) == 0 {}
  var calls: UInt64 = 0
  var signals: UInt64 = 0
  var round: UInt64 = 0
  while round < stormRounds {
    if Processors.sigp(receiver, 0x02).conditionCode == 0 { calls += 1 }
    if Processors.sigp(receiver, 0x03).conditionCode == 0 { signals += 1 }
    round += 1
  }
  memory.words[statWord + 2 * me].store(calls, ordering: .releasing)
  memory.words[statWord + 2 * me + 1].store(signals, ordering: .releasing)
  memory.words[doneWord].wrappingAdd(1, ordering: .acquiringAndReleasing)
}

/// A computation whose registers an interruption must not disturb.
func checksum(_ seed: UInt64) -> UInt64 {
  var a = seed
  var b: UInt64 = 0x9E37_79B9_7F4A_7C15
  var i: UInt64 = 0
  while i < 20_000 {
    a = a &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    b ^= a >> 17 | a << 47
    i += 1
  }
  return a ^ b
}

func externalCallStorm() throws(TestStop) {
  let memory = try shared()
  External.hook = { stormHook($0) }
  External.install()
  var round = 0
  while round < 2 {
    reset(memory)
    let me = s390_cpu_address()
    memory.words[5].store(UInt64(me), ordering: .releasing)
    let quiet = checksum(UInt64(round))
    let others = try post(memory, jobStorm)
    // This CPU receives: emergency signal and external call only (the
    // console's service signal stays off while enabled).
    let saved = External.setSubclasses(External.externalCall | External.emergencySignal)
    memory.words[goWord].store(1, ordering: .releasing)
    let deadline = microseconds() + 10_000_000
    var loud: UInt64 = 0
    var computations = 0
    External.enable()
    repeat {
      loud = checksum(UInt64(round))
      computations += 1
    } while memory.words[doneWord].load(ordering: .acquiring) < UInt64(others.count)
      && microseconds() < deadline && loud == quiet
    // Drain what is still pending.
    let drain = microseconds() + 2_000
    while microseconds() < drain {}
    External.disable()
    External.setSubclasses(saved)
    finishJob(memory)
    var calls: UInt64 = 0
    var signals: UInt64 = 0
    var i = 0
    while i < 16 {
      calls += memory.words[statWord + 2 * i].load(ordering: .acquiring)
      signals += memory.words[statWord + 2 * i + 1].load(ordering: .acquiring)
      i += 1
    }
    note("accepted external calls:", calls)
    note("accepted emergency signals:", signals)
    note("computations under the storm:", UInt64(computations))
    expectEqual(
      memory.words[doneWord].load(ordering: .acquiring), UInt64(others.count), "every sender finished")
    expectEqual(loud, quiet, "a computation interrupted by the storm gives the same result")
    expectEqual(
      memory.words[64].load(ordering: .acquiring), calls,
      "every accepted EXTERNAL CALL interrupted exactly once")
    expect(calls, .greater, 0, "external calls were accepted")
    expect(
      memory.words[65].load(ordering: .acquiring), in: 1...signals,
      "emergency signals taken: at least one, at most those accepted")
    expectEqual(memory.words[66].load(ordering: .acquiring), 0, "every interruption named a sender CPU")
    round += 1
  }
  External.hook = nil
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
