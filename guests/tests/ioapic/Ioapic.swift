// The I/O APIC as the 82093AA datasheet and the Intel SDM (vol. 3 10.8.4,
// 10.8.5) define it, with real interrupt sources: the 8254 PIT (ISA IRQ 0,
// its GSI from the MADT interrupt source override, edge) and the MC146818
// RTC (ISA IRQ 8, whose IRQ output stays asserted until register C is read,
// so it serves as a level source too). Identification registers,
// redirection entries written and read back, masking of edge and level
// inputs, delivery to each CPU, remote IRR and its clearing by the local
// APIC's EOI, the local APIC's TMR for level interrupts.
//
// A CPU is never descheduled in the architecture, but this host is shared:
// every wait for an interrupt allows 0.5 s, and a "nothing arrives" window
// is 30 ms or more, several periods of the source.

import GuestArch
import GuestLib
import Synchronization

/// The tests of this guest, in run order.
let guestTests = [
  Test("identification", identification),
  Test("redirection entries", redirectionEntries),
  Test("pit edge delivery and masking", pitEdge),
  Test("pit to each cpu", pitToEachCPU, .requires(cpus: 2)),
  Test("masked edges are dropped", maskedEdgesDropped),
  Test("rtc level: remote irr and eoi", rtcLevel),
  Test(
    "rtc edge: a held line delivers once", rtcEdgeHeld,
    .xfail("measured: QEMU 7.2's I/O APIC (TCG) delivers an edge entry on every RTC tick while the line stays asserted (register C unread)", when: .tcg)),
  Test(
    "level unmasked while asserted", levelUnmaskedWhileAsserted,
    .xfail("measured: this host's nested KVM (PVM) delivers the RTC's level interrupt a second time after the handler read register C and cleared PIE", when: .kvm)),
]

let pitVector: UInt32 = 0x61
let rtcVector: UInt32 = 0x71

/// Interrupts taken per CPU and vector (rows of 256).
let hits: UnsafeMutablePointer<Atomic<UInt32>> = allocateCounters(256 * SMP.maxCPUs)

/// What the RTC handler saw at each delivery (up to 8): the TSC, the remote
/// IRR bit of the RTC's entry, the TMR bit of the vector in the local APIC.
let rtcTSC = UnsafeMutablePointer<UInt64>.allocate(capacity: 8)
let rtcRemoteIRR = UnsafeMutablePointer<UInt32>.allocate(capacity: 8)
let rtcTMR = UnsafeMutablePointer<UInt32>.allocate(capacity: 8)
nonisolated(unsafe) var rtcDeliveries = 0
/// The RTC handler reads register C (releasing the line) from this delivery on.
nonisolated(unsafe) var rtcAckFrom = 1
/// The RTC handler also clears PIE (no further ticks).
nonisolated(unsafe) var rtcStopOnAck = false
nonisolated(unsafe) var rtcGSI: UInt32 = 8
nonisolated(unsafe) var pitGSI: UInt32 = 2

nonisolated(unsafe) var prepared = false

func prepare() {
  SMP.startAll()
  guard !prepared else { return }
  prepared = true
  if let address = ACPI.ioapicAddress() { IOAPIC.base = address }
  pitGSI = ACPI.isaIRQ(0).gsi
  rtcGSI = ACPI.isaIRQ(8).gsi
  Interrupts.register(pitVector) { vector in
    hits[SMP.currentIndex * 256 + Int(vector)].add(1, ordering: .releasing)
  }
  Interrupts.register(rtcVector) { vector in
    let k = rtcDeliveries
    if k < 8 {
      rtcTSC[k] = x86_rdtsc()
      rtcRemoteIRR[k] = IOAPIC.read(0x10 + 2 * rtcGSI) >> 14 & 1
      rtcTMR[k] = APIC.read(0x180 + 0x10 * (UInt32(vector) >> 5)) >> (UInt32(vector) & 31) & 1
    }
    rtcDeliveries = k + 1
    if k + 1 >= rtcAckFrom { _ = cmosRead(0x0C) }
    if rtcStopOnAck { cmosWrite(0x0B, cmosRead(0x0B) & ~0x40) }
    hits[SMP.currentIndex * 256 + Int(vector)].add(1, ordering: .releasing)
  }
}

func hitCount(_ cpu: Int, _ vector: UInt32) -> UInt32 {
  hits[cpu * 256 + Int(vector)].load(ordering: .acquiring)
}

func resetHits() {
  // Interrupts a previous test's source left accepted but not yet taken
  // (IF was 0 when the entry was masked) are taken first.
  IOAPIC.mask(pitGSI)
  IOAPIC.mask(rtcGSI)
  window(3000)
  var i = 0
  while i < 256 * SMP.maxCPUs {
    hits[i].store(0, ordering: .relaxed)
    i += 1
  }
  rtcDeliveries = 0
  rtcTSC.initialize(repeating: 0, count: 8)
  rtcRemoteIRR.initialize(repeating: 2, count: 8)
  rtcTMR.initialize(repeating: 2, count: 8)
}

/// TSC ticks per microsecond (the runtime's calibration; only used for
/// generous waits here).
func ticks(_ microseconds: UInt64) -> UInt64 { microseconds &* max(Timer.ticksPerMicrosecond, 1) }

/// A short busy wait without PAUSE (under TCG a PAUSE loop starves QEMU's
/// main loop, which runs the PIT and RTC timers: see the timers guest).
func spinBriefly() {
  var i = 0
  while i < 100 {
    _ = x86_rdtsc()
    i += 1
  }
}

/// Takes interrupts on this CPU for `microseconds`.
func window(_ microseconds: UInt64) {
  let end = x86_rdtsc() &+ ticks(microseconds)
  while x86_rdtsc() < end {
    x86_sti()
    spinBriefly()
    x86_cli()
  }
}

/// Takes interrupts until `cpu` took `n` of `vector` or 0.5 s passed.
func waitFor(_ cpu: Int, _ vector: UInt32, _ n: UInt32) {
  let end = x86_rdtsc() &+ ticks(500_000)
  while hitCount(cpu, vector) < n && x86_rdtsc() < end {
    x86_sti()
    spinBriefly()
    x86_cli()
  }
}

func cmosRead(_ register: UInt8) -> UInt8 {
  x86_outb(0x70, 0x80 | register)
  return x86_inb(0x71)
}

func cmosWrite(_ register: UInt8, _ value: UInt8) {
  x86_outb(0x70, 0x80 | register)
  x86_outb(0x71, value)
}

/// PIT channel 0 in mode 2 (rate generator) with `divisor`.
func startPIT(divisor: UInt16) {
  x86_outb(0x43, 0x34)
  x86_outb(0x40, UInt8(divisor & 0xFF))
  x86_outb(0x40, UInt8(divisor >> 8))
}

/// Channel 0 to mode 0 with the longest count: one last terminal count.
func stopPIT() {
  x86_outb(0x43, 0x30)
  x86_outb(0x40, 0xFF)
  x86_outb(0x40, 0xFF)
}

func latchPIT() -> UInt16 {
  x86_outb(0x43, 0x00)
  let low = UInt16(x86_inb(0x40))
  return UInt16(x86_inb(0x40)) << 8 | low
}

/// Starts RTC periodic interrupts at `rate` (32768 >> (rate-1) Hz).
func startRTC(rate: UInt8) {
  cmosWrite(0x0A, (cmosRead(0x0A) & 0xF0) | rate)
  _ = cmosRead(0x0C)
  cmosWrite(0x0B, cmosRead(0x0B) | 0x40)
}

func stopRTC() {
  cmosWrite(0x0B, cmosRead(0x0B) & ~0x40)
  _ = cmosRead(0x0C)
}

// MARK: - Tests

func identification() {
  prepare()
  // IOAPICVER (01h): version 7:0, maximum redirection entry 23:16.
  let version = IOAPIC.read(0x01)
  note("IOAPICVER", UInt64(version), hex: true)
  expect(version & 0xFF, in: 0x11...0x20, "I/O APIC version is 11h (82093AA) to 20h")
  // A PC's I/O APIC has 24 inputs (ISA 0-15 and PCI 16-23).
  expectEqual(version >> 16 & 0xFF, 23, "maximum redirection entry is 23 (24 inputs)")
  expectEqual(version & 0xFF00, 0, "IOAPICVER bits 15:8 are reserved (0)")
  // IOAPICID (00h): the id in bits 27:24, read/write.
  let id = IOAPIC.read(0x00)
  IOAPIC.write(0x00, (id & ~0x0F00_0000) | 0x0A00_0000)
  expectEqual(IOAPIC.read(0x00) >> 24 & 0xF, 0xA, "IOAPICID bits 27:24 read back")
  IOAPIC.write(0x00, id)
  expectEqual(IOAPIC.read(0x00), id, "IOAPICID restored")
  // The MADT names this I/O APIC with GSI base 0 and its address.
  expect(ACPI.ioapicAddress() != nil, "the MADT lists an I/O APIC with GSI base 0")
  note("PIT GSI", UInt64(pitGSI))
  note("RTC GSI", UInt64(rtcGSI))
  expect(pitGSI, .less, 24, "the PIT's GSI is one of this I/O APIC's inputs")
  expect(rtcGSI, .less, 24, "the RTC's GSI is one of this I/O APIC's inputs")
}

func redirectionEntries() {
  prepare()
  // Writable bits of the low word: vector 7:0, delivery mode 10:8,
  // destination mode 11, polarity 13, trigger 15, mask 16; delivery status
  // (12) and remote IRR (14) are read-only. High word: destination 63:56.
  let pins = IOAPIC.read(0x01) >> 16 & 0xFF
  var pin: UInt32 = 0
  while pin <= pins {
    let low = IOAPIC.read(0x10 + 2 * pin)
    let high = IOAPIC.read(0x11 + 2 * pin)
    let a: UInt32 = 0x1_A800 | (0x30 + pin)  // masked, level, active low, logical, fixed
    IOAPIC.write(0x11 + 2 * pin, 0xA5 << 24)
    IOAPIC.write(0x10 + 2 * pin, a)
    let readA = IOAPIC.read(0x10 + 2 * pin)
    expectEqual(readA & 0x1_ABFF, a, "redirection entry low word reads back (level, low, logical)")
    expectEqual(IOAPIC.read(0x11 + 2 * pin) >> 24, 0xA5, "redirection entry destination reads back")
    let b: UInt32 = 0x1_0000 | (0xA0 + pin)  // masked, edge, high, physical, fixed
    IOAPIC.write(0x10 + 2 * pin, b)
    IOAPIC.write(0x11 + 2 * pin, 0x5A << 24)
    expectEqual(IOAPIC.read(0x10 + 2 * pin) & 0x1_ABFF, b, "redirection entry low word reads back (edge, high, physical)")
    expectEqual(IOAPIC.read(0x10 + 2 * pin) & 0x5000, 0, "masked entry: delivery status and remote IRR clear")
    IOAPIC.write(0x10 + 2 * pin, low | 1 << 16)
    IOAPIC.write(0x11 + 2 * pin, high)
    IOAPIC.write(0x10 + 2 * pin, low)
    pin += 1
  }
}

func pitEdge() {
  prepare()
  resetHits()
  startPIT(divisor: 2386)  // 500 Hz
  IOAPIC.route(pitGSI, vector: pitVector, destination: SMP.apicID(of: 0))
  waitFor(0, pitVector, 3)
  expect(hitCount(0, pitVector), .greaterOrEqual, 3, "unmasked edge entry: PIT ticks arrive")
  expectEqual(IOAPIC.read(0x10 + 2 * pitGSI) & 1 << 14, 0, "edge entry: remote IRR stays 0")
  IOAPIC.mask(pitGSI)
  // A tick the I/O APIC sent before the mask may still be on its way: under
  // this host's nested KVM one arrived after a 1 ms drain (measured through
  // libvirt, smp 1; IPIs there take up to ~140 ms).
  window(200_000)
  let before = hitCount(0, pitVector)
  window(30_000)
  expectEqual(hitCount(0, pitVector), before, "masked entry: no PIT tick arrives over 30 ms")
  expectBits(IOAPIC.read(0x10 + 2 * pitGSI), set: 1 << 16, "mask bit reads back set")
  IOAPIC.write(0x10 + 2 * pitGSI, IOAPIC.read(0x10 + 2 * pitGSI) & ~(1 << 16))
  waitFor(0, pitVector, before + 3)
  expect(hitCount(0, pitVector), .greaterOrEqual, before + 3, "unmasked again: PIT ticks resume")
  IOAPIC.mask(pitGSI)
  stopPIT()
}

func pitToEachCPU() {
  prepare()
  // Physical destination = a CPU's APIC id: that CPU, and only it, takes
  // the interrupts.
  startPIT(divisor: 2386)
  var target = 0
  while target < SMP.count {
    resetHits()
    IOAPIC.route(pitGSI, vector: pitVector, destination: SMP.apicID(of: target))
    waitFor(target, pitVector, 3)
    IOAPIC.mask(pitGSI)
    window(3000)
    expect(hitCount(target, pitVector), .greaterOrEqual, 3, "PIT ticks reach the destination CPU")
    var other = 0
    while other < SMP.count {
      if other != target {
        expectEqual(hitCount(other, pitVector), 0, "PIT ticks reach no other CPU")
      }
      other += 1
    }
    target += 1
  }
  stopPIT()
}

func maskedEdgesDropped() {
  prepare()
  resetHits()
  // Edges on a masked edge-triggered input are ignored, not held pending
  // (82093AA 3.2.4): unmasking delivers nothing until the next edge. The
  // PIT at 18.2 Hz (divisor 65535, 55 ms); the count is latched around
  // the unmasking and the try repeats when a tick fell in between.
  startPIT(divisor: 0xFFFF)
  IOAPIC.route(pitGSI, vector: pitVector, masked: true, destination: SMP.apicID(of: 0))
  window(120_000)  // two ticks while masked
  expectEqual(hitCount(0, pitVector), 0, "nothing was taken while masked")
  var conclusive = false
  var pending: UInt32 = 2
  var tries = 0
  while !conclusive && tries < 5 {
    window(1000)  // a tick delivered in an inconclusive try is taken first
    IOAPIC.mask(pitGSI)
    let c0 = latchPIT()
    IOAPIC.write(0x10 + 2 * pitGSI, IOAPIC.read(0x10 + 2 * pitGSI) & ~(1 << 16))
    pending = APIC.read(0x200 + 0x10 * (pitVector >> 5)) >> (pitVector & 31) & 1
    let c1 = latchPIT()
    conclusive = c1 < c0 && c0 > 1000  // no reload (tick) in between
    tries += 1
  }
  expect(conclusive, "a tick-free unmasking window was found")
  expectEqual(pending, 0, "unmasking delivers no edge that came while masked")
  let before = hitCount(0, pitVector)
  waitFor(0, pitVector, before + 1)
  expectEqual(hitCount(0, pitVector), before + 1, "the next edge after unmasking is delivered")
  IOAPIC.mask(pitGSI)
  stopPIT()
}

func rtcLevel() {
  prepare()
  resetHits()
  let savedA = cmosRead(0x0A)
  let savedB = cmosRead(0x0B)
  // Level-triggered, active high, 64 Hz (rate 10, 15.6 ms). The handler
  // leaves register C unread at the first delivery, so the line stays
  // asserted through the EOI: the I/O APIC sends it again at once (SDM
  // 10.8.5: remote IRR cleared by the EOI, the input still asserted).
  rtcAckFrom = 2
  IOAPIC.route(rtcGSI, vector: rtcVector, level: true, destination: SMP.apicID(of: 0))
  startRTC(rate: 10)
  waitFor(0, rtcVector, 2)
  stopRTC()
  IOAPIC.mask(rtcGSI)
  window(2000)  // a tick accepted before the mask is taken and EOIed
  expect(rtcDeliveries, .greaterOrEqual, 2, "level: a still-asserted line is delivered again after the EOI")
  expectEqual(rtcRemoteIRR[0], 1, "level: remote IRR set while the interrupt is in service")
  expectEqual(rtcRemoteIRR[1], 1, "level: remote IRR set again at the second delivery")
  expectEqual(rtcTMR[0], 1, "level: the local APIC's TMR bit is set for the vector")
  // Register C stayed unread, so the line never dropped: no new edge or
  // tick can explain the second delivery, only the asserted level after
  // the EOI. (How soon it came is printed, not checked: under this host's
  // load it took 13 ms once, measured under nested KVM.)
  note("level: microseconds from the first delivery to the second", (rtcTSC[1] &- rtcTSC[0]) / max(Timer.ticksPerMicrosecond, 1))
  expectEqual(IOAPIC.read(0x10 + 2 * rtcGSI) & 1 << 14, 0, "level: remote IRR clear after the last EOI")
  cmosWrite(0x0A, savedA)
  cmosWrite(0x0B, savedB)
  _ = cmosRead(0x0C)
  rtcAckFrom = 1
}

func rtcEdgeHeld() {
  prepare()
  resetHits()
  let savedA = cmosRead(0x0A)
  let savedB = cmosRead(0x0B)
  // Edge-triggered, register C never read: the RTC's IRQ output stays
  // asserted after the first periodic tick (MC146818: IRQ stays low until
  // C is read), so there is one rising edge and one delivery, however many
  // ticks follow.
  rtcAckFrom = 1000
  IOAPIC.route(rtcGSI, vector: rtcVector, destination: SMP.apicID(of: 0))
  startRTC(rate: 6)  // 1024 Hz
  waitFor(0, rtcVector, 1)
  window(30_000)  // about 30 more ticks
  IOAPIC.mask(rtcGSI)
  stopRTC()
  expectEqual(rtcDeliveries, 1, "edge: a line held asserted delivers once")
  expectEqual(rtcTMR[0], 0, "edge: the local APIC's TMR bit is clear for the vector")
  expectEqual(rtcRemoteIRR[0], 0, "edge: remote IRR stays 0")
  cmosWrite(0x0A, savedA)
  cmosWrite(0x0B, savedB)
  _ = cmosRead(0x0C)
  rtcAckFrom = 1
}

func levelUnmaskedWhileAsserted() {
  prepare()
  resetHits()
  let savedA = cmosRead(0x0A)
  let savedB = cmosRead(0x0B)
  // A masked level input ignores the assertion; unmasking it while the
  // line is still asserted delivers the interrupt (the level is sampled).
  IOAPIC.route(rtcGSI, vector: rtcVector, level: true, masked: true, destination: SMP.apicID(of: 0))
  rtcAckFrom = 1
  rtcStopOnAck = true
  // 1024 Hz: the first tick asserts the line, which stays asserted (PIE
  // stays set, register C unread: IRQF = PF·PIE, MC146818) until the
  // handler reads C and clears PIE.
  startRTC(rate: 6)
  window(20_000)
  expectEqual(rtcDeliveries, 0, "masked level input: nothing delivered while masked")
  IOAPIC.write(0x10 + 2 * rtcGSI, IOAPIC.read(0x10 + 2 * rtcGSI) & ~(1 << 16))
  waitFor(0, rtcVector, 1)
  expectEqual(rtcDeliveries, 1, "unmasking an asserted level input delivers it once")
  window(20_000)
  expectEqual(rtcDeliveries, 1, "after register C is read (and PIE cleared) the line is quiet")
  IOAPIC.mask(rtcGSI)
  rtcStopOnAck = false
  cmosWrite(0x0A, savedA)
  cmosWrite(0x0B, savedB)
  _ = cmosRead(0x0C)
}
