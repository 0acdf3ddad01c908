// Machine information on s390x, as the z/Architecture Principles of
// Operation (SA22-7832, chapters 10 "STORE SYSTEM INFORMATION", "STORE CPU
// ID", "STORE FACILITY LIST EXTENDED") and the SCLP READ SCP INFO response
// define it, checked against the machine the harness started (`-smp`, `-m`
// reach the guest as harness.smp / harness.mem) and against behaviour: every
// facility bit probed here is paired with an instruction of that facility,
// which must work when the bit is one and raise an operation exception
// (interruption code 1) when it is zero.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("stsi current level", stsiCurrentLevel),
  Test("stsi 1.1.1", stsi111),
  Test("stsi 1.2.1 and 2.2.1", stsiCPUBlocks),
  Test("stsi 1.2.2", stsi122),
  Test("stsi 2.2.2", stsi222),
  Test("stsi 3.2.2", stsi322),
  Test("stsi cpu counts are -smp under tcg", stsiCountsTCG, .requires(.tcg)),
  Test("stsi unavailable levels", stsiUnavailable),
  Test("stsi specification", stsiSpecification),
  Test("stidp", stidp),
  Test("stfle", stfle),
  Test("facilities match behaviour", facilitiesMatchBehaviour),
  Test("sclp read scp info", sclpReadInfo),
  Test("memory size vs addressing", memoryBoundary),
]

@_extern(c, "mi_stsi") func mi_stsi(
  _ gr0: UInt64, _ gr1: UInt64, _ block: UInt64, _ gr0Out: UnsafeMutablePointer<UInt64>
) -> UInt64
@_extern(c, "mi_stidp") func mi_stidp(_ address: UInt64)
@_extern(c, "mi_stfle") func mi_stfle(
  _ list: UInt64, _ gr0: UInt64, _ gr0Out: UnsafeMutablePointer<UInt64>
) -> UInt64
@_extern(c, "mi_stfl") func mi_stfl() -> UInt64
@_extern(c, "mi_block_address") func mi_block_address() -> UInt64
@_extern(c, "mi_sccb_address") func mi_sccb_address() -> UInt64
@_extern(c, "mi_servc") func mi_servc(_ command: UInt32, _ sccb: UInt64) -> UInt64
@_extern(c, "mi_lay") func mi_lay(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_afi") func mi_afi(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_msfi") func mi_msfi(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_ahik") func mi_ahik(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_popcnt") func mi_popcnt(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_risbgn") func mi_risbgn(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_lochi") func mi_lochi(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_lzrg") func mi_lzrg(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_msgrkc") func mi_msgrkc(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_ncrk") func mi_ncrk(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_ldgr") func mi_ldgr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_etnd") func mi_etnd(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_adtr") func mi_adtr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_stckf") func mi_stckf(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_lpd") func mi_lpd(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_kimd_query") func mi_kimd_query(_ block: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_prno_query") func mi_prno_query(_ block: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_kmctr_query") func mi_kmctr_query(_ block: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_kma_query") func mi_kma_query(_ block: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_kdsa_query") func mi_kdsa_query(_ block: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_sortl_query") func mi_sortl_query(_ block: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "mi_dfltcc_query") func mi_dfltcc_query(_ block: UInt64, _ b: UInt64) -> UInt64

// MARK: Byte access (big-endian, by real address)

func byte(_ base: UInt64, _ offset: Int) -> UInt64 {
  UInt64(UnsafePointer<UInt8>(bitPattern: UInt(base) + UInt(offset))!.pointee)
}
func be16(_ base: UInt64, _ offset: Int) -> UInt64 {
  byte(base, offset) << 8 | byte(base, offset + 1)
}
func be32(_ base: UInt64, _ offset: Int) -> UInt64 {
  be16(base, offset) << 16 | be16(base, offset + 2)
}
func be64(_ base: UInt64, _ offset: Int) -> UInt64 {
  be32(base, offset) << 32 | be32(base, offset + 4)
}
func clear(_ base: UInt64, _ count: Int) {
  let p = UnsafeMutablePointer<UInt8>(bitPattern: UInt(base))!
  for i in 0..<count { p[i] = 0 }
}
func fill(_ base: UInt64, _ count: Int, _ value: UInt8) {
  let p = UnsafeMutablePointer<UInt8>(bitPattern: UInt(base))!
  for i in 0..<count { p[i] = value }
}

/// Whether every byte of the field is an EBCDIC letter, digit or blank
/// (the SYSIB character fields, PoO "STORE SYSTEM INFORMATION").
func isEBCDICText(_ base: UInt64, _ offset: Int, _ count: Int) -> Bool {
  for i in 0..<count {
    let c = byte(base, offset + i)
    let upper = c & 0xBF  // lower-case letters are the upper-case codes minus 0x40
    let letter =
      (0xC1...0xC9).contains(c | 0x40) && upper == c & 0xBF
      || (0x81...0x89).contains(c) || (0x91...0x99).contains(c) || (0xA2...0xA9).contains(c)
      || (0xC1...0xC9).contains(c) || (0xD1...0xD9).contains(c) || (0xE2...0xE9).contains(c)
    let digit = (0xF0...0xF9).contains(c)
    if !(letter || digit || c == 0x40) { return false }
  }
  return true
}

// MARK: STSI

/// GR0 for STSI: function code in bits 32-35, selector 1 in bits 56-63.
func stsiGR0(_ fc: UInt64, _ sel1: UInt64) -> UInt64 { fc << 28 | sel1 }

/// STSI fc.sel1.sel2 into the page-aligned block (filled with 0xFF first,
/// so a stored block shows); returns the condition code and GR0 after.
func stsi(_ fc: UInt64, _ sel1: UInt64, _ sel2: UInt64) -> (cc: UInt64, gr0: UInt64, block: UInt64)
{
  let block = mi_block_address()
  fill(block, 4096, 0xFF)
  var gr0: UInt64 = 0
  let cc = mi_stsi(stsiGR0(fc, sel1), sel2, block, &gr0)
  return (cc, gr0, block)
}

/// The configured CPUs of the machine the harness started.
func smp() -> UInt64 { Platform.arguments.integer("harness.smp") ?? 0 }

func stsiCurrentLevel() {
  // Function code 0 stores nothing and returns the current configuration
  // level in GR0 bits 32-35: a guest of QEMU (TCG or KVM) runs in a virtual
  // machine, level 3.
  var gr0: UInt64 = 0
  let cc = mi_stsi(0, 0, mi_block_address(), &gr0)
  expectEqual(cc, 0, "STSI fc 0: cc 0")
  expectEqual(gr0 >> 28 & 0xF, 3, "STSI fc 0: current level 3 (virtual machine)")
}

func stsi111() {
  let r = stsi(1, 1, 1)
  expectEqual(r.cc, 0, "STSI 1.1.1: cc 0")
  expectEqual(r.gr0, stsiGR0(1, 1), "STSI 1.1.1: GR0 unchanged")
  // Manufacturer (32-47), type (48-51), model (100-115 / 64-79) in EBCDIC.
  expect(isEBCDICText(r.block, 32, 16), "1.1.1 manufacturer is EBCDIC text")
  expect(isEBCDICText(r.block, 48, 4), "1.1.1 type is EBCDIC text")
  var typeDigits = true
  for i in 0..<4 where !(0xF0...0xF9).contains(byte(r.block, 48 + i)) { typeDigits = false }
  expect(typeDigits, "1.1.1 type is four EBCDIC decimal digits")
  expect(isEBCDICText(r.block, 80, 16), "1.1.1 sequence code is EBCDIC text")
  expect(byte(r.block, 32) != 0x40, "1.1.1 manufacturer is not blank")
}

func stsiCPUBlocks() {
  let me = UInt64(s390_cpu_address())
  // 1.2.1 and 2.2.1 describe the CPU executing STSI: its CPU address in
  // bytes 102-103.
  var r = stsi(1, 2, 1)
  expectEqual(r.cc, 0, "STSI 1.2.1: cc 0")
  expectEqual(be16(r.block, 102), me, "1.2.1 CPU address is STAP's")
  expect(isEBCDICText(r.block, 80, 16), "1.2.1 sequence code is EBCDIC text")
  r = stsi(2, 2, 1)
  expectEqual(r.cc, 0, "STSI 2.2.1: cc 0")
  expectEqual(be16(r.block, 102), me, "2.2.1 CPU address is STAP's")
}

/// Total = configured + standby + reserved (PoO SYSIB 1.2.2 / 2.2.2 / 3.2.2).
func expectCountsAddUp(_ base: UInt64, _ offset: Int, _ name: StaticString) {
  let total = be16(base, offset)
  let sum = be16(base, offset + 2) + be16(base, offset + 4) + be16(base, offset + 6)
  expectEqual(total, sum, name)
}

func stsi122() {
  let r = stsi(1, 2, 2)
  expectEqual(r.cc, 0, "STSI 1.2.2: cc 0")
  expectEqual(byte(r.block, 8), 0, "1.2.2 format 0 (or 1 with an alternate capability)")
  expectCountsAddUp(r.block, 36, "1.2.2 total = configured + standby + reserved")
  expect(be16(r.block, 38), .greaterOrEqual, 1, "1.2.2 at least this CPU configured")
  expect(be32(r.block, 32), .greater, 0, "1.2.2 CPU capability is non-zero")
}

func stsi222() {
  let r = stsi(2, 2, 2)
  expectEqual(r.cc, 0, "STSI 2.2.2: cc 0")
  expectCountsAddUp(r.block, 36, "2.2.2 total = configured + standby + reserved")
  expect(be16(r.block, 38), .greaterOrEqual, 1, "2.2.2 at least this CPU configured")
  expect(isEBCDICText(r.block, 44, 8), "2.2.2 LPAR name is EBCDIC text")
}

func stsi322() {
  let r = stsi(3, 2, 2)
  expectEqual(r.cc, 0, "STSI 3.2.2: cc 0")
  let count = byte(r.block, 31)
  expect(count, in: 1...8, "3.2.2 holds 1 to 8 virtual-machine descriptions")
  // The first description (offset 32) is the virtual machine executing STSI.
  expectEqual(be16(r.block, 32 + 6), smp(), "3.2.2 configured CPUs = -smp")
  expectCountsAddUp(r.block, 32 + 4, "3.2.2 total = configured + standby + reserved")
  expect(isEBCDICText(r.block, 32 + 12, 8), "3.2.2 VM name is EBCDIC text")
  expect(be16(r.block, 32 + 4), .greaterOrEqual, smp(), "3.2.2 total CPUs >= -smp")
}

/// Under TCG QEMU is the whole machine: the basic machine (1.2.2) and the
/// logical partition (2.2.2) have exactly the -smp CPUs configured. Under
/// KVM these levels describe the host and are checked for consistency only.
func stsiCountsTCG() {
  expectEqual(be16(stsi(1, 2, 2).block, 38), smp(), "1.2.2 configured CPUs = -smp (TCG)")
  expectEqual(be16(stsi(2, 2, 2).block, 38), smp(), "2.2.2 configured CPUs = -smp (TCG)")
}

func stsiUnavailable() {
  // Undefined selector combinations and levels above the current one give
  // cc 3 and store nothing.
  let cases: [(UInt64, UInt64, UInt64)] = [
    (1, 1, 2), (1, 2, 3), (1, 3, 1), (2, 1, 1), (2, 2, 3), (3, 1, 1), (3, 2, 1), (3, 2, 3),
    (4, 1, 1), (5, 2, 2), (14, 1, 1),
  ]
  for (fc, s1, s2) in cases {
    let r = stsi(fc, s1, s2)
    expectEqual(r.cc, 3, "STSI undefined fc.sel1.sel2: cc 3")
    expectEqual(byte(r.block, 0), 0xFF, "STSI with cc 3 stores nothing")
  }
  // Configuration topology (facility 11): SYSIB 15.1.2 only with the facility.
  let topology = Platform.hasFeature(CPUFeature("topology", .facility(11)))
  expectEqual(stsi(15, 1, 2).cc, topology ? 0 : 3, "STSI 15.1.2: cc 0 with facility 11, else cc 3")
}

/// Results written from inside exception-catching closures (a captured
/// local would need a box with dynamic exclusivity checks).
nonisolated(unsafe) var scratch: UInt64 = 0
nonisolated(unsafe) var probeResult: UInt64 = 0

func stsiSpecification() {
  let block = mi_block_address()
  // GR0 bits 36-55 and GR1 bits 32-47 must be zero; the SYSIB address must
  // be on a 4K boundary (PoO: specification exception).
  expectException(vector: 6, "STSI with GR0 bit 55 set: specification") {
    _ = mi_stsi(stsiGR0(1, 1) | 0x100, 1, block, &scratch)
  }
  expectException(vector: 6, "STSI with GR0 bit 36 set: specification") {
    _ = mi_stsi(stsiGR0(1, 1) | 0x0800_0000, 1, block, &scratch)
  }
  expectException(vector: 6, "STSI with GR1 bit 47 set: specification") {
    _ = mi_stsi(stsiGR0(1, 1), 1 | 0x1_0000, block, &scratch)
  }
  expectException(vector: 6, "STSI 1.1.1 to an unaligned SYSIB: specification") {
    _ = mi_stsi(stsiGR0(1, 1), 1, block + 8, &scratch)
  }
}

// MARK: STIDP

func stidp() {
  let block = mi_block_address()
  fill(block, 16, 0xFF)
  mi_stidp(block)
  let id = be64(block, 0)
  let after = be64(block, 8)
  note("CPU ID", id, hex: true)
  // Bits 32-47: machine type, four BCD digits; STSI 1.1.1 gives the same
  // type as EBCDIC digits.
  let type = id >> 16 & 0xFFFF
  var typeFromSysib: UInt64 = 0
  let sysib = stsi(1, 1, 1).block
  for i in 0..<4 { typeFromSysib = typeFromSysib << 4 | (byte(sysib, 48 + i) & 0xF) }
  expectEqual(type, typeFromSysib, "STIDP machine type = STSI 1.1.1 type")
  var bcd = true
  for digit: UInt64 in 0..<4 where type >> (4 * digit) & 0xF > 9 { bcd = false }
  expect(bcd, "STIDP machine type is BCD")
  // Bits 49-63 are zero (bit 48 is the format bit).
  expectBits(id, clear: 0x7FFF, "STIDP bits 49-63 are zero")
  expectEqual(after, 0xFFFF_FFFF_FFFF_FFFF, "STIDP stores 8 bytes only")
  expectException(vector: 6, "STIDP to an odd doubleword: specification") { mi_stidp(block + 4) }
}

// MARK: STFLE

func stfle() {
  let list = mi_block_address()
  fill(list, 64, 0xFF)
  var gr0: UInt64 = 0
  // GR0 bits 56-63 = doublewords - 1. With one doubleword asked for and
  // more available: cc 3, GR0 = the machine's count - 1.
  let short = mi_stfle(list, 0, &gr0)
  let words = (gr0 & 0xFF) + 1
  expect(words, .greaterOrEqual, 2, "the machine has facilities past bit 63 (vector, 129)")
  expectEqual(short, words > 1 ? 3 : 0, "STFLE with one doubleword: cc 3 when the list is longer")
  expectEqual(be64(list, 8), 0xFFFF_FFFF_FFFF_FFFF, "STFLE stores only the doublewords asked for")
  let first = be64(list, 0)
  fill(list, 64, 0xFF)
  let full = mi_stfle(list, 7, &gr0)
  expectEqual(full, 0, "STFLE with 8 doublewords: cc 0")
  expectEqual((gr0 & 0xFF) + 1, words, "STFLE returns the same count")
  expectEqual(be64(list, 0), first, "STFLE doubleword 0 is the same both times")
  expectBits(first, set: 1 << 62, "facility 1: z/Architecture installed")
  expectBits(first, set: 1 << 61, "facility 2: z/Architecture active")
  expectBits(first, set: 1 << 56, "facility 7: STFLE installed")
  // STFL stores bits 0-31 at real location 200.
  expectEqual(mi_stfl(), first >> 32, "STFL word = STFLE bits 0-31")
  expectException(vector: 6, "STFLE to a non-doubleword address: specification") {
    _ = mi_stfle(list + 4, 0, &scratch)
  }
}

// MARK: Facility bits vs behaviour

/// One facility probe: its number, an instruction stub and the result the
/// instruction defines for the operands.
struct Probe {
  var facility: UInt16
  var name: StaticString
  var run: (UInt64, UInt64) -> UInt64
  var a: UInt64
  var b: UInt64
  /// Expected result; nil: checked by `check` instead.
  var expected: UInt64?
  var check: ((UInt64) -> Bool)?
  /// Installed: the exception the instruction must raise anyway (e.g.
  /// special operation when its control is off), 0 for none.
  var installedException: UInt64 = 0
}

func facilitiesMatchBehaviour() {
  let block = mi_block_address()
  let queryBit: (UInt64) -> Bool = { $0 >> 63 == 1 }  // function 0 (query) installed
  let probes: [Probe] = [
    Probe(
      facility: 18, name: "LAY (long displacement, 18)", run: mi_lay, a: 0x1000, b: 0,
      expected: 0x13345),
    Probe(
      facility: 21, name: "AFI (extended immediate, 21)", run: mi_afi, a: 1, b: 0,
      expected: 0x1234_5679),
    Probe(
      facility: 34, name: "MSGFI (general-instructions extension, 34)", run: mi_msfi, a: 7, b: 0,
      expected: 21),
    Probe(
      facility: 45, name: "AHIK (distinct operands, 45)", run: mi_ahik, a: 0, b: 35, expected: 42),
    // POPCNT: each byte of the result is the number of one bits of that byte.
    Probe(
      facility: 45, name: "POPCNT (population count, 45)", run: mi_popcnt, a: 0xFF01_0300_8070_0F07,
      b: 0, expected: 0x0801_0200_0103_0403),
    Probe(
      facility: 45, name: "LPD (interlocked access 1, 45)", run: mi_lpd, a: 0, b: 0, expected: nil,
      check: nil),
    Probe(
      facility: 49, name: "RISBGN (misc-instruction extension, 49)", run: mi_risbgn,
      a: 0x1122_3344_5566_7788, b: 0xAAAA_AAAA_AAAA_AAAA, expected: 0xAAAA_AAAA_AAAA_AA11),
    Probe(
      facility: 53, name: "LOCHI (load/store-on-condition 2, 53)", run: mi_lochi, a: 0, b: 0,
      expected: 42),
    Probe(
      facility: 53, name: "LZRG (load and zero rightmost byte, 53)", run: mi_lzrg,
      a: 0x1122_3344_5566_7788, b: 0, expected: 0x1122_3344_5566_7700),
    Probe(
      facility: 58, name: "MSGRKC (misc-instruction extensions 2, 58)", run: mi_msgrkc, a: 6, b: 7,
      expected: 42),
    Probe(
      facility: 61, name: "NCGRK (misc-instruction extensions 3, 61)", run: mi_ncrk, a: 0xF0F0,
      b: 0x3030, expected: 0xC0C0),
    Probe(
      facility: 41, name: "LDGR/LGDR (FPR-GR transfer, 41)", run: mi_ldgr, a: 0x0123_4567_89AB_CDEF,
      b: 0, expected: 0x0123_4567_89AB_CDEF),
    Probe(
      facility: 42, name: "ADTR (decimal floating point, 42)", run: mi_adtr, a: 0, b: 0, expected: 0
    ),
    Probe(
      facility: 25, name: "STCKF (store clock fast, 25)", run: mi_stckf, a: 0, b: 0, expected: nil,
      check: { $0 != 0 }),
    // ETND with the transactional-execution control (CR0 bit 8) off: a
    // special-operation exception when the facility is installed.
    Probe(
      facility: 73, name: "ETND (transactional execution, 73)", run: mi_etnd, a: 0, b: 0,
      expected: nil, check: nil, installedException: 0x13),
    Probe(
      facility: 17, name: "KIMD query (message-security assist, 17)", run: mi_kimd_query, a: block,
      b: 0, expected: nil, check: queryBit),
    Probe(
      facility: 57, name: "PRNO query (MSA extension 5, 57)", run: mi_prno_query, a: block, b: 0,
      expected: nil, check: queryBit),
    Probe(
      facility: 77, name: "KMCTR query (MSA extension 4, 77)", run: mi_kmctr_query, a: block, b: 0,
      expected: nil, check: queryBit),
    Probe(
      facility: 146, name: "KMA query (MSA extension 8, 146)", run: mi_kma_query, a: block, b: 0,
      expected: nil, check: queryBit),
    Probe(
      facility: 155, name: "KDSA query (MSA extension 9, 155)", run: mi_kdsa_query, a: block, b: 0,
      expected: nil, check: queryBit),
    Probe(
      facility: 150, name: "SORTL query (enhanced sort, 150)", run: mi_sortl_query, a: block, b: 0,
      expected: nil, check: queryBit),
    Probe(
      facility: 151, name: "DFLTCC query (deflate conversion, 151)", run: mi_dfltcc_query, a: block,
      b: 0, expected: nil, check: queryBit),
  ]
  // LPD loads two words from separate places: the pair is at block+3072.
  let pair = block + 3072
  UnsafeMutablePointer<UInt32>(bitPattern: UInt(pair))!.pointee = UInt32(0x1122_3344).bigEndian
  UnsafeMutablePointer<UInt32>(bitPattern: UInt(pair + 8))!.pointee = UInt32(0x5566_7788).bigEndian
  for probe in probes {
    let installed = Platform.hasFeature(CPUFeature("probe", .facility(probe.facility)))
    if probe.facility == 45 && probe.expected == nil {
      // LPD (the probe without an expected value): the two words.
      if installed {
        probeResult = 0
        expectNoException(probe.name) { probeResult = mi_lpd(pair, 0) }
        expectEqual(probeResult, 0x1122_3344_5566_7788, probe.name)
      } else {
        expectException(vector: 1, probe.name) { _ = mi_lpd(pair, 0) }
      }
      continue
    }
    if !installed {
      expectException(vector: 1, probe.name) { _ = probe.run(probe.a, probe.b) }
      continue
    }
    if probe.installedException != 0 {
      expectException(vector: probe.installedException, probe.name) {
        _ = probe.run(probe.a, probe.b)
      }
      continue
    }
    fill(block, 64, 0)
    probeResult = 0
    let run = probe.run
    let (a, b) = (probe.a, probe.b)
    expectNoException(probe.name) { probeResult = run(a, b) }
    let got = probeResult
    if let expected = probe.expected {
      expectEqual(got, expected, probe.name)
    } else if let check = probe.check {
      expect(check(got), probe.name)
    }
  }
}

// MARK: SCLP

/// READ SCP INFO on this program's own SCCB (the console keeps its own);
/// returns the response code, or nil when SCLP did not accept the request.
func readSCPInfo() -> UInt64? {
  Sclp.flush()
  let sccb = mi_sccb_address()
  for command: UInt32 in [0x0012_0001, 0x0002_0001] {
    clear(sccb, 4096)
    UnsafeMutablePointer<UInt16>(bitPattern: UInt(sccb))!.pointee = UInt16(4096).bigEndian
    var attempts = 0
    var cc: UInt64 = 2
    while cc == 2 && attempts < 100_000 {
      cc = mi_servc(command, sccb)
      attempts += 1
    }
    if cc != 0 { continue }
    while be16(sccb, 6) == 0 { s390_wait_service_signal() }
    if be16(sccb, 6) == 0x0010 { return 0x0010 }
  }
  return be16(sccb, 6)
}

func sclpReadInfo() throws(TestStop) {
  let response = try require(readSCPInfo(), "SCLP accepted READ SCP INFO")
  try require(expectEqual(response, 0x0010, "READ SCP INFO: normal read completion (0x0010)"))
  let sccb = mi_sccb_address()
  var increments = be16(sccb, 8)
  var incrementMiB = byte(sccb, 10)
  if increments == 0 { increments = be64(sccb, 104) }
  if incrementMiB == 0 { incrementMiB = be32(sccb, 100) }
  let memoryMiB = increments * incrementMiB
  expectEqual(
    memoryMiB, Platform.arguments.integer("harness.mem") ?? 0,
    "SCLP storage (increments x size) = -m")
  expect(incrementMiB, .greater, 0, "SCLP increment size non-zero")
  expectEqual(incrementMiB & (incrementMiB - 1), 0, "SCLP increment size is a power of two (MiB)")
  let cpus = be16(sccb, 16)
  expectEqual(cpus, smp(), "SCLP CPU entries = -smp")
  let offset = be16(sccb, 18)
  expect(offset, .greaterOrEqual, 128, "SCLP CPU entries start at or past byte 128")
  expect(offset + 16 * cpus, .lessOrEqual, 4096, "SCLP CPU entries fit the SCCB")
  expect(be16(sccb, 120), .greaterOrEqual, cpus - 1, "SCLP highest CPU address >= entries - 1")
  var seen: UInt64 = 0
  var distinct = true
  var types = true
  for i in 0..<Int(cpus) {
    let address = byte(sccb, Int(offset) + 16 * i)
    if address < 64 {
      if seen & 1 << address != 0 { distinct = false }
      seen |= 1 << address
    }
    if byte(sccb, Int(offset) + 16 * i + 14) != 0 { types = false }
  }
  expect(distinct, "SCLP CPU addresses are distinct")
  expect(types, "SCLP CPU entries are type 0 (CP)")
  expectBits(seen, set: 1 << UInt64(s390_cpu_address()), "SCLP lists this CPU's address")
}

func memoryBoundary() throws(TestStop) {
  // With DAT off, the last doubleword of -m is addressable and the first
  // byte past it raises an addressing exception (code 5).
  try require(expect(s390_psw_mask() & 1 << 58 == 0, "DAT is off (real addresses)"))
  let end = (Platform.arguments.integer("harness.mem") ?? 0) << 20
  expectNoException("load of the last doubleword of -m") { _ = s390_load(end - 8) }
  expectException(vector: 5, "load just past -m: addressing") { _ = s390_load(end) }
  expectException(vector: 5, "load 1 MiB past -m: addressing") { _ = s390_load(end + (1 << 20)) }
}
