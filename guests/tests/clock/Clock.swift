// The TOD clock as z/Architecture Principles of Operation (chapter 4,
// "Timing"; chapter 10, STORE CLOCK, STORE CLOCK FAST, STORE CLOCK
// EXTENDED, SET CLOCK, SET CLOCK PROGRAMMABLE FIELD) defines it: bit 51
// counts microseconds; STCK stores a value unique in the configuration, so
// successive STCKs increase strictly, on one CPU and across CPUs once one
// CPU's value is seen by another; STCKF need not be unique (non-decreasing);
// STCKE stores the epoch index (byte 0, zero without the multiple-epoch
// facility and before 2042), the clock (bytes 1-8 = STCK's bits 0-63) and
// the TOD programmable register (bytes 14-15). SCK and SCKPF are
// privileged (problem state: privileged-operation exception, code 2);
// SCKPF requires bits 32-47 of GR0 to be zero (specification, code 6).
// STCK, STCKF and STCKE are not privileged.

import GuestArch
import GuestLib
import Synchronization

let guestTests = [
  Test("STCK", storeClock),
  Test("STCKF", storeClockFast),
  Test("STCKE", storeClockExtended),
  Test("TOD programmable register", programmableRegister),
  Test("problem state", problemState),
  Test("SET CLOCK", setClock),
  Test("CPU timer rate", cpuTimerRate),
  Test("across CPUs", acrossCPUs, .requires(cpus: 2)),
]

@_extern(c, "clock_stck") func clock_stck(_ value: UnsafeMutablePointer<UInt64>) -> UInt32
@_extern(c, "clock_stckf") func clock_stckf(_ value: UnsafeMutablePointer<UInt64>) -> UInt32
@_extern(c, "clock_stcke") func clock_stcke(_ value: UnsafeMutableRawPointer) -> UInt32
@_extern(c, "clock_sck") func clock_sck(_ value: UInt64) -> UInt32
@_extern(c, "clock_sckpf") func clock_sckpf(_ value: UInt64)
@_extern(c, "clock_enter_problem_state") func clock_enter_problem_state()
@_extern(c, "clock_leave_problem_state") func clock_leave_problem_state()
@_extern(c, "clock_psw_mask") func clock_psw_mask() -> UInt64

let microsecond: UInt64 = 4096
let problemStateBit: UInt64 = 1 << (63 - 15)

func stck() -> (UInt32, UInt64) {
  var value: UInt64 = 0
  let cc = clock_stck(&value)
  return (cc, value)
}

func stckf() -> (UInt32, UInt64) {
  var value: UInt64 = 0
  let cc = clock_stckf(&value)
  return (cc, value)
}

/// STCKE into a 16-byte buffer: (cc, epoch index, clock bits 0-63,
/// programmable field).
struct Extended {
  var cc: UInt32
  var epoch: UInt8
  var clock: UInt64
  var programmable: UInt16
}

nonisolated(unsafe) var extendedBuffer: UnsafeMutableRawPointer? = nil

func stcke() -> Extended {
  if extendedBuffer == nil {
    extendedBuffer = GuestMemory.pages?.allocate(order: 0, flags: .zero)
  }
  guard let buffer = extendedBuffer else { return Extended(cc: 9, epoch: 0xFF, clock: 0, programmable: 0) }
  let cc = clock_stcke(buffer)
  return Extended(
    cc: cc, epoch: buffer.load(fromByteOffset: 0, as: UInt8.self),
    clock: buffer.loadUnaligned(fromByteOffset: 1, as: UInt64.self),
    programmable: buffer.loadUnaligned(fromByteOffset: 14, as: UInt16.self))
}

func storeClock() throws(TestStop) {
  var (cc, previous) = stck()
  expectEqual(cc, 0, "STCK: clock in the set state (cc 0)")
  var strictly = 0
  var codes = 0
  var round = 0
  while round < 2000 {
    let (code, value) = stck()
    if code == 0 { codes += 1 }
    if value > previous { strictly += 1 }
    previous = value
    round += 1
  }
  expectEqual(codes, 2000, "every STCK: cc 0")
  expectEqual(strictly, 2000, "2000 successive STCKs increase strictly (unique values)")
  // The clock runs at 4096 units per microsecond: a busy wait of 2 ms of
  // TOD time measured by STCK is at least 2 ms by STCK again.
  var sample = 0
  while sample < 16 {
    let (_, start) = stck()
    var (_, now) = stck()
    while now &- start < 2_000 &* microsecond { (_, now) = stck() }
    expect(now &- start, .greaterOrEqual, 2_000 &* microsecond, "STCK advances through 2 ms")
    expect(now &- start, .less, 2_000_000 &* microsecond, "and stays consistent (less than 2 s)")
    sample += 1
  }
}

func storeClockFast() throws(TestStop) {
  var (cc, previous) = stckf()
  expectEqual(cc, 0, "STCKF: clock in the set state (cc 0)")
  var ordered = 0
  var round = 0
  while round < 2000 {
    let (_, value) = stckf()
    if value >= previous { ordered += 1 }
    previous = value
    round += 1
  }
  expectEqual(ordered, 2000, "2000 successive STCKFs never decrease")
  // Interleaved with STCK: STCK's unique value lies between the STCKFs
  // around it (bits 0-63 of one clock).
  var between = 0
  round = 0
  while round < 500 {
    let (_, before) = stckf()
    let (_, middle) = stck()
    let (_, after) = stckf()
    if before <= middle && middle <= after { between += 1 }
    round += 1
  }
  expectEqual(between, 500, "STCK between the STCKFs around it (one clock)")
}

func storeClockExtended() throws(TestStop) {
  var round = 0
  var previous = stcke().clock
  while round < 200 {
    let (_, before) = stckf()
    let extended = stcke()
    let (_, after) = stckf()
    expectEqual(extended.cc, 0, "STCKE: cc 0")
    expectEqual(extended.epoch, 0, "STCKE byte 0: epoch index 0 (clock has not wrapped)")
    expect(extended.clock, in: before...after, "STCKE bytes 1-8: the TOD clock")
    expect(extended.clock, .greater, previous, "STCKE values increase strictly")
    previous = extended.clock
    round += 1
  }
}

nonisolated(unsafe) var badProgrammable: UInt64 = 0

func programmableRegister() throws(TestStop) {
  let values: [UInt64] = [0, 1, 0x00FF, 0xFF00, 0x1234, 0xFFFF, 0xBEEF, 0x8000]
  for value in values {
    clock_sckpf(value)
    let extended = stcke()
    expectEqual(UInt64(extended.programmable), value, "STCKE bytes 14-15: the TOD programmable register")
  }
  // Bits 0-31 of GR0 are ignored.
  clock_sckpf(0xFFFF_FFFF_0000_4321)
  expectEqual(stcke().programmable, 0x4321, "SCKPF ignores bits 0-31 of GR0")
  // Bits 32-47 must be zero: specification exception, register unchanged.
  for bad: UInt64 in [0x0001_0000, 0x8000_0000, 0xFFFF_0000, 0x1234_5678] {
    badProgrammable = bad
    expectException(vector: 6, "SCKPF with GR0 bits 32-47 not zero: specification") {
      clock_sckpf(badProgrammable)
    }
  }
  expectEqual(stcke().programmable, 0x4321, "the refused SCKPF left the register unchanged")
  clock_sckpf(0)
}

/// Runs `body` in problem state under catchException; returns what it
/// caught and whether the body ran in problem state.
nonisolated(unsafe) var maskInBody: UInt64 = 0

func inProblemState(_ body: @convention(c) (UnsafeMutableRawPointer?) -> Void) -> CaughtException? {
  maskInBody = 0
  clock_enter_problem_state()
  let caught = catchException(body)
  clock_leave_problem_state()
  return caught
}

func problemState() throws(TestStop) {
  // Privileged: SCK, SCKPF, SCKC, STCKC, SPT, STPT.
  // With the instruction-length code of each: SCKPF is a 2-byte E format
  // (ILC 1), the others 4-byte S format (ILC 2).
  let lengths: [UInt64] = [2, 1, 2, 2, 2, 2]
  let privileged: [(@convention(c) (UnsafeMutableRawPointer?) -> Void)] = [
    { _ in maskInBody = clock_psw_mask(); _ = clock_sck(0) },
    { _ in maskInBody = clock_psw_mask(); clock_sckpf(0x1111) },
    { _ in maskInBody = clock_psw_mask(); s390_set_clock_comparator(UInt64.max) },
    { _ in maskInBody = clock_psw_mask(); _ = s390_store_clock_comparator() },
    { _ in maskInBody = clock_psw_mask(); s390_set_cpu_timer(1 << 40) },
    { _ in maskInBody = clock_psw_mask(); _ = s390_store_cpu_timer() },
  ]
  var index = 0
  for body in privileged {
    let before = stck().1
    let caught = inProblemState(body)
    let after = stck().1
    expectBits(maskInBody, set: problemStateBit, "the probe ran in problem state")
    expectEqual(caught?.vector ?? 0, 2, "privileged instruction in problem state: privileged operation (2)")
    expectEqual(caught?.errorCode ?? 0, lengths[index], "the instruction's ILC")
    index += 1
    expectBits(clock_psw_mask(), clear: problemStateBit, "back in supervisor state")
    expect(after, .greater, before, "the clock was not changed by the refused SCK")
    expect(after &- before, .less, 1_000_000 &* microsecond, "the clock did not jump")
  }
  expectNotEqual(stcke().programmable, 0x1111, "the refused SCKPF did not set the register")
  // Not privileged: STCK, STCKF, STCKE.
  let open: [(@convention(c) (UnsafeMutableRawPointer?) -> Void)] = [
    { _ in maskInBody = clock_psw_mask(); _ = stck() },
    { _ in maskInBody = clock_psw_mask(); _ = stckf() },
    { _ in maskInBody = clock_psw_mask(); _ = stcke() },
  ]
  for body in open {
    let caught = inProblemState(body)
    expectBits(maskInBody, set: problemStateBit, "the probe ran in problem state")
    expect(caught == nil, "STCK / STCKF / STCKE work in problem state")
  }
}

func setClock() throws(TestStop) {
  let offsets: [Int64] = [60, -30, 3600, -3600]
  for seconds in offsets {
    let (_, old) = stck()
    let target = UInt64(bitPattern: Int64(bitPattern: old) &+ seconds &* 1_000_000 &* 4096)
    let cc = clock_sck(target)
    let (_, now) = stck()
    let extended = stcke()
    // Put the clock back where it would be (the harness times the run).
    let (_, moved) = stck()
    _ = clock_sck(old &+ (moved &- target))
    let (_, restored) = stck()
    expectEqual(cc, 0, "SCK in supervisor state: cc 0 (clock set)")
    expect(now, .greaterOrEqual, target, "STCK after SCK: at least the value set")
    expect(now &- target, .less, 1_000_000 &* microsecond, "and within a second of it")
    expect(extended.clock &- target, .less, 1_000_000 &* microsecond, "STCKE follows the new clock")
    expect(restored &- old, .less, 1_000_000 &* microsecond, "clock set back to the old time line")
  }
}

func cpuTimerRate() throws(TestStop) {
  var round = 0
  while round < 8 {
    let start = 1 << 40 as UInt64
    let (_, t0) = stck()
    s390_set_cpu_timer(start)
    var (_, t1) = stck()
    while t1 &- t0 < 1_000 &* microsecond { (_, t1) = stck() }
    let timer = s390_store_cpu_timer()
    let (_, t2) = stck()
    let decrement = start &- timer
    expect(decrement, .greater, 0, "the CPU timer decrements while the CPU runs")
    expect(decrement, .lessOrEqual, t2 &- t0, "no faster than the TOD clock")
    round += 1
  }
}

/// Ping-pong across CPUs: words[0] the baton (CPU whose turn it is + 1),
/// words[1] the last clock value, words[2] violations, words[3] done flag.
nonisolated(unsafe) var baton: UnsafeMutablePointer<Atomic<UInt64>>? = nil
let handoffs: UInt64 = 200

func partner(_ context: UnsafeMutableRawPointer?) {
  guard let words = baton else { return }
  var turn: UInt64 = 1
  while turn < handoffs {
    while words[0].load(ordering: .acquiring) != turn {}
    let seen = words[1].load(ordering: .acquiring)
    let (_, mine) = stck()
    if mine <= seen { words[2].wrappingAdd(1, ordering: .relaxed) }
    words[1].store(mine, ordering: .releasing)
    words[0].store(turn + 1, ordering: .releasing)
    turn += 2
  }
}

func acrossCPUs() throws(TestStop) {
  let page = try require(GuestMemory.pages?.allocate(order: 0, areas: .s390xLow, flags: .zero), "shared page")
  let words = page.bindMemory(to: Atomic<UInt64>.self, capacity: 8)
  var i = 0
  while i < 8 {
    (words + i).initialize(to: Atomic(0))
    i += 1
  }
  baton = words
  for cpu in Processors.others() {
    words[0].store(0, ordering: .releasing)
    words[2].store(0, ordering: .releasing)
    let (_, first) = stck()
    words[1].store(first, ordering: .releasing)
    expect(Processors.startWorker(cpu, { partner($0) }), "partner CPU started")
    words[0].store(1, ordering: .releasing)
    var violations: UInt64 = 0
    var turn: UInt64 = 2
    // A bound against a hang, not a speed requirement: on a loaded 2-core
    // host TCG's vCPU threads wait for each other (measured: 200 hand-offs
    // past 5 s during a full `swift test`).
    let deadline = first &+ 30_000_000 &* microsecond
    var timedOut = false
    while turn <= handoffs && !timedOut {
      while words[0].load(ordering: .acquiring) != turn {
        if stck().1 > deadline {
          timedOut = true
          break
        }
      }
      if timedOut { break }
      let seen = words[1].load(ordering: .acquiring)
      let (_, mine) = stck()
      if mine <= seen { violations += 1 }
      words[1].store(mine, ordering: .releasing)
      words[0].store(turn + 1, ordering: .releasing)
      turn += 2
    }
    Processors.waitStopped(cpu)
    expect(!timedOut, "200 hand-offs completed")
    expectEqual(violations, 0, "this CPU's STCK exceeds every value the other CPU stored before")
    expectEqual(words[2].load(ordering: .acquiring), 0, "the other CPU's STCK exceeds this CPU's")
  }
}
