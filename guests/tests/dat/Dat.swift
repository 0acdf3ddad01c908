// Dynamic address translation as the z/Architecture Principles of Operation
// defines it (chapter 3, "Dynamic Address Translation"): translation through
// region, segment and page tables built here (s390x/dat.S reserves their
// storage), the translation exceptions with their interruption codes and the
// translation-exception identification (TEID, lowcore 168), DAT and
// low-address protection, invalidation (IPTE, IDTE, CSP, CSPG), EDAT-1 large
// segments, EDAT-2 large regions and LRA. Stubs run with DAT on through
// RunPSW; the runtime itself keeps DAT off, so CR0/CR1 are put back after
// each test.
//
// Entry formats (PoP figures "Table Entries"): ASCE DT bits 60-61 (00
// segment table, 01 region third, 10 region second, 11 region first), TL
// bits 62-63; region entry I = bit 58, TT = bits 60-61, TL = 62-63; segment
// entry I = bit 58, FC = bit 53, P = bit 54, TT = 00; page entry I = bit
// 53, P = bit 54, bit 52 must be 0.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("translation", translation),
  Test("page-translation exception", pageTranslation),
  Test("segment-translation exception", segmentTranslation),
  Test("region-translation exceptions", regionTranslation),
  Test("ASCE-type exception", asceType),
  Test("translation-specification exception", translationSpecification),
  Test("DAT protection", datProtection),
  Test("low-address protection", lowAddressProtection),
  Test("IPTE", invalidatePage),
  Test("IDTE", invalidateSegment),
  Test("CSP and CSPG", compareAndSwapAndPurge),
  Test("LRA", loadRealAddress),
  Test(
    "LRA of invalid entries", loadRealAddressInvalid,
    .xfail("measured: TCG sets cc 3 with R1 = 0x80000000 | code (0x10, 0x11) for an invalid segment or page entry instead of cc 1 / cc 2 with the entry's address", when: .tcg)),
  Test(
    "LRA with DAT off", loadRealAddressDATOff,
    .xfail("measured: TCG LRAG with DAT off returns the address untranslated (cc 0)", when: .tcg)),
  Test("EDAT-1 large segment", edat1),
  Test("EDAT-2 large region", edat2),
]

@_extern(c, "dat_storage") func dat_storage() -> UInt64
@_extern(c, "dat_ptlb") func dat_ptlb()
@_extern(c, "dat_ipte") func dat_ipte(_ pageTable: UInt64, _ virtual: UInt64)
@_extern(c, "dat_idte") func dat_idte(_ table: UInt64, _ virtual: UInt64)
@_extern(c, "dat_csp") func dat_csp(
  _ compare: UInt64, _ swap: UInt64, _ address: UInt64, _ current: UnsafeMutablePointer<UInt64>
) -> UInt64
@_extern(c, "dat_cspg") func dat_cspg(
  _ compare: UInt64, _ swap: UInt64, _ address: UInt64, _ current: UnsafeMutablePointer<UInt64>
) -> UInt64
@_extern(c, "dat_stub") func dat_stub(_ index: UInt64) -> UInt64

enum Stub: UInt64 {
  case lg = 0, stg, lrag, lra, lap, mvc
}

/// Bits of the entries.
let regionInvalid: UInt64 = 0x20
let segmentInvalid: UInt64 = 0x20
let segmentFormat: UInt64 = 0x400
let segmentProtect: UInt64 = 0x200
let pageInvalid: UInt64 = 0x400
let pageProtect: UInt64 = 0x200
let pageReservedBit52: UInt64 = 0x800

/// The storage of s390x/dat.S: a 1 MiB frame, then the tables and data.
var base: UInt64 { dat_storage() }
var frame: UInt64 { base }
var segmentTable: UInt64 { base + 0x10_0000 }
var regionThird: UInt64 { base + 0x10_4000 }
var regionSecond: UInt64 { base + 0x10_8000 }
var regionFirst: UInt64 { base + 0x10_C000 }
var identityPageTables: UInt64 { base + 0x11_0000 }
var testPageTable: UInt64 { base + 0x12_0000 }
func dataPage(_ index: Int) -> UInt64 { base + 0x12_1000 + UInt64(index) * 4096 }

/// Virtual layout: segment 1024 (1 GiB) through the test page table, pages
/// 0-7 valid (data pages 0-7), 8-255 invalid; segment 1025 invalid;
/// segment 1026 an EDAT-1 large segment (only with EDAT-1 on).
let virtualBase: UInt64 = 0x4000_0000
let invalidSegment: UInt64 = 0x4010_0000
let largeSegment: UInt64 = 0x4020_0000

func words(_ address: UInt64) -> UnsafeMutablePointer<UInt64> {
  UnsafeMutablePointer(bitPattern: UInt(address))!
}

func fill(_ address: UInt64, _ count: Int, _ value: UInt64) {
  let table = words(address)
  var index = 0
  while index < count {
    table[index] = value
    index &+= 1
  }
}

/// Entry `index` of the table at `table`.
func entry(_ table: UInt64, _ index: Int) -> UnsafeMutablePointer<UInt64> { words(table) + index }

/// Builds every table afresh: the image identity mapped through page
/// tables, the test segment, the region tables above the segment table.
func buildTables() {
  fill(segmentTable, 2048, segmentInvalid)
  let segments = Int((imageEnd() + 0xFFFFF) >> 20)
  var segment = 0
  while segment < segments {
    let pageTable = identityPageTables + UInt64(segment) * 2048
    var page = 0
    while page < 256 {
      entry(pageTable, page).pointee = UInt64(segment) << 20 | UInt64(page) << 12
      page &+= 1
    }
    entry(segmentTable, segment).pointee = pageTable
    segment &+= 1
  }
  fill(testPageTable, 256, pageInvalid)
  var page = 0
  while page < 8 {
    entry(testPageTable, page).pointee = dataPage(page)
    words(dataPage(page)).pointee = 0xDA7A_0000 + UInt64(page)
    page &+= 1
  }
  entry(segmentTable, 1024).pointee = testPageTable
  entry(segmentTable, 1026).pointee = frame | segmentFormat
  fill(regionThird, 2048, regionInvalid | 0x04)
  entry(regionThird, 0).pointee = segmentTable | 0x04 | 0x03
  fill(regionSecond, 2048, regionInvalid | 0x08)
  entry(regionSecond, 0).pointee = regionThird | 0x08 | 0x03
  fill(regionFirst, 2048, regionInvalid | 0x0C)
  entry(regionFirst, 0).pointee = regionSecond | 0x0C | 0x03
}

var segmentASCE: UInt64 { segmentTable | 0x03 }
var regionThirdASCE: UInt64 { regionThird | 0x04 | 0x03 }
var regionFirstASCE: UInt64 { regionFirst | 0x0C | 0x03 }

/// Fresh tables, CR1 = `asce`, CR0 | `cr0Bits`, an empty TLB; all put back
/// after `body`.
func withTables(_ asce: UInt64, cr0Bits: UInt64 = 0, _ body: () -> Void) {
  let savedCR0 = s390_read_cr0()
  let savedCR1 = s390_read_cr1()
  buildTables()
  s390_load_control(1, asce)
  s390_load_control(0, savedCR0 | cr0Bits)
  dat_ptlb()
  body()
  s390_load_control(0, savedCR0)
  s390_load_control(1, savedCR1)
  dat_ptlb()
}

/// Runs `stub` with DAT on (primary space).
func runDAT(_ stub: Stub, _ registers: [UInt64]) -> RunPSWResult {
  RunPSW.run(mask: RunPSW.mask64 | RunPSW.datMask, address: dat_stub(stub.rawValue), registers: registers)
}

/// LG through DAT of `virtual`.
func load(_ virtual: UInt64) -> RunPSWResult { runDAT(.lg, [0, 0, virtual, 0x0BAD]) }

/// Checks a translation exception of the LG stub (nullified: the old PSW
/// at the LG, ILC 3) and its TEID: bits 0-51 the page of `virtual`, bits
/// 62-63 00 (primary space).
func expectTranslation(
  _ result: RunPSWResult, code: UInt64, virtual: UInt64, _ name: StaticString,
  file: StaticString = #fileID, line: UInt = #line
) {
  note(name)
  expectEqual(result.code, code, "interruption code", file: file, line: line)
  expectEqual(result.oldAddress, dat_stub(Stub.lg.rawValue), "old PSW at the LG (nullified)", file: file, line: line)
  expectEqual(result.ilc, 3, "ILC of LG", file: file, line: line)
  expectEqual(result.translationID & ~0xFFF, virtual & ~0xFFF, "TEID address bits 0-51", file: file, line: line)
  expectEqual(result.translationID & 3, 0, "TEID: primary space", file: file, line: line)
  expectEqual(result.registers[3], 0x0BAD, "R1 unchanged", file: file, line: line)
}

/// Whether STFLE reports facility `bit`.
func hasFacility(_ bit: UInt16) -> Bool {
  Platform.hasFeature(CPUFeature("facility", .facility(bit)))
}

func translation() {
  for asce in [segmentASCE, regionThirdASCE, regionFirstASCE] {
    withTables(asce) {
      var page = 0
      while page < 8 {
        let virtual = virtualBase + UInt64(page) * 4096
        let result = load(virtual)
        expectEqual(result.code, RunPSW.svcFlag, "LG through DAT completes")
        expectEqual(result.registers[3], 0xDA7A_0000 + UInt64(page), "LG reads the mapped page")
        let real = runDAT(.lrag, [0, 0, virtual + 0x123, 0])
        expectEqual(real.conditionCode, 0, "LRAG cc 0: translation available")
        expectEqual(real.registers[3], dataPage(page) + 0x123, "LRAG gives the real address")
        page &+= 1
      }
      // A store through DAT lands in the real page.
      let store = runDAT(.stg, [0, 0, virtualBase + 0x3008, 0x5709E])
      expectEqual(store.code, RunPSW.svcFlag, "STG through DAT completes")
      expectEqual(words(dataPage(3) + 8).pointee, 0x5709E, "STG wrote the real page")
      // The identity map runs the stubs themselves.
      expectEqual(load(dataPage(5)).registers[3], 0xDA7A_0005, "identity-mapped load")
    }
  }
}

func pageTranslation() {
  withTables(segmentASCE) {
    var page = 8
    while page < 16 {
      let virtual = virtualBase + UInt64(page) * 4096 + UInt64(page) * 8
      expectTranslation(load(virtual), code: 0x11, virtual: virtual, "LG of an invalid page")
      page &+= 1
    }
    let store = runDAT(.stg, [0, 0, virtualBase + 0xA000, 1])
    expectEqual(store.code, 0x11, "STG to an invalid page")
    expectEqual(store.oldAddress, dat_stub(Stub.stg.rawValue), "STG nullified")
    // Instruction fetch from an invalid page: the old PSW holds the
    // address of the instruction that could not be fetched.
    let fetchAddress = virtualBase + 0xB000
    let fetch = RunPSW.run(mask: RunPSW.mask64 | RunPSW.datMask, address: fetchAddress)
    expectEqual(fetch.code, 0x11, "instruction fetch from an invalid page")
    expectEqual(fetch.oldAddress, fetchAddress, "fetch: old PSW at the instruction")
    expectEqual(fetch.translationID & ~0xFFF, fetchAddress, "fetch: TEID address")
  }
}

func segmentTranslation() {
  withTables(segmentASCE) {
    for offset: UInt64 in [0, 0x1234, 0xF_F000] {
      expectTranslation(load(invalidSegment + offset), code: 0x10, virtual: invalidSegment + offset, "LG of an invalid segment")
    }
  }
  // Table length: TL 0 covers segments 0-511 only; segment 1024 is beyond.
  withTables(segmentTable) {
    expectTranslation(load(virtualBase), code: 0x10, virtual: virtualBase, "segment index beyond the table length")
    expectEqual(load(dataPage(0)).registers[3], 0xDA7A_0000, "segments within the length translate")
  }
}

func regionTranslation() {
  withTables(regionThirdASCE) {
    expectTranslation(load(0x8000_0000), code: 0x3B, virtual: 0x8000_0000, "region-third entry invalid")
    expectTranslation(load(0x3_8000_0000), code: 0x3B, virtual: 0x3_8000_0000, "region-third entry 7 invalid")
  }
  withTables(regionFirstASCE) {
    expectTranslation(load(0x8000_0000), code: 0x3B, virtual: 0x8000_0000, "via region first: region-third entry invalid")
    expectTranslation(load(1 << 42), code: 0x3A, virtual: 1 << 42, "region-second entry invalid")
    expectTranslation(load(1 << 53), code: 0x39, virtual: 1 << 53, "region-first entry invalid")
    expectTranslation(load(0xFFF0_0000_0000_0000), code: 0x39, virtual: 0xFFF0_0000_0000_0000, "last region-first entry invalid")
  }
  // Table lengths: a TL of 0 covers the first 512 entries of the next
  // table only; an index beyond it is that table's translation exception.
  withTables(regionThird | 0x04) {
    expectTranslation(load(1 << 40), code: 0x3B, virtual: 1 << 40, "region-third index 512 beyond ASCE TL 0")
    expectEqual(load(dataPage(1)).registers[3], 0xDA7A_0001, "region-third index 0 within ASCE TL 0")
  }
  withTables(regionFirst | 0x0C) {
    expectTranslation(load(1 << 62), code: 0x39, virtual: 1 << 62, "region-first index 512 beyond ASCE TL 0")
    // The region-first entry's TL limits the region-second table.
    entry(regionFirst, 0).pointee = regionSecond | 0x0C
    dat_ptlb()
    expectTranslation(load(1 << 51), code: 0x3A, virtual: 1 << 51, "region-second index 512 beyond the entry's TL 0")
    expectEqual(load(dataPage(2)).registers[3], 0xDA7A_0002, "region-second index 0 within TL 0")
  }
}

func asceType() {
  // An address beyond what the ASCE's highest table can translate.
  withTables(segmentASCE) {
    expectTranslation(load(0x8000_0000), code: 0x38, virtual: 0x8000_0000, "segment-table ASCE, address >= 2 GiB")
    expectTranslation(load(1 << 40), code: 0x38, virtual: 1 << 40, "segment-table ASCE, address 1 TiB")
  }
  withTables(regionThirdASCE) {
    expectTranslation(load(1 << 42), code: 0x38, virtual: 1 << 42, "region-third ASCE, address >= 4 TiB")
  }
}

func translationSpecification() {
  withTables(segmentASCE) {
    // Page-table entry bit 52 must be zero.
    entry(testPageTable, 2).pointee |= pageReservedBit52
    let page = load(virtualBase + 0x2000)
    expectEqual(page.code, 0x12, "PTE bit 52 one: translation specification")
    // Translation specification suppresses: the old PSW points past the LG.
    expectEqual(page.oldAddress, dat_stub(Stub.lg.rawValue) + 6, "translation specification: old PSW after the LG")
    // A segment-table entry with TT 01 (a region-third type).
    entry(segmentTable, 1025).pointee = testPageTable | 0x04
    dat_ptlb()
    expectEqual(load(invalidSegment).code, 0x12, "segment entry with TT 01: translation specification")
  }
}

func datProtection() {
  withTables(segmentASCE) {
    // Page protection bit: fetches work, stores get a protection exception
    // (code 4), suppressed; TEID bits 0-51 hold the page and bit 61 says DAT
    // protection (suppression on protection).
    entry(testPageTable, 1).pointee |= pageProtect
    let virtual = virtualBase + 0x1010
    expectEqual(load(virtual).registers[3], 0, "LG of a protected page works")
    words(dataPage(1) + 0x10).pointee = 0x1111
    let store = runDAT(.stg, [0, 0, virtual, 0x2222])
    expectEqual(store.code, 4, "STG to a protected page: protection")
    expectEqual(store.ilc, 3, "protection: ILC of STG")
    expectEqual(store.oldAddress, dat_stub(Stub.stg.rawValue) + 6, "protection suppresses: old PSW after STG")
    expectEqual(words(dataPage(1) + 0x10).pointee, 0x1111, "protected store suppressed")
    expectEqual(store.translationID & ~0xFFF, virtual & ~0xFFF, "protection TEID address")
    expectBits(store.translationID, set: 0x4, "TEID bit 61: DAT protection")
    let mvc = runDAT(.mvc, [0, 0, virtual, 0, dataPage(0)])
    expectEqual(mvc.code, 4, "MVC to a protected page: protection")
    expectEqual(words(dataPage(1) + 0x10).pointee, 0x1111, "protected MVC suppressed")
    // Unprotected neighbour page still stores.
    expectEqual(runDAT(.stg, [0, 0, virtualBase + 0x2010, 3]).code, RunPSW.svcFlag, "store to an unprotected page")
    // Segment protection bit: every page of the segment.
    entry(segmentTable, 1024).pointee |= segmentProtect
    dat_ptlb()
    var page = 0
    while page < 8 {
      let result = runDAT(.stg, [0, 0, virtualBase + UInt64(page) * 4096, 7])
      expectEqual(result.code, 4, "store to a segment-protected page")
      page &+= 1
    }
  }
}

func lowAddressProtection() {
  // CR0 bit 35: stores to effective addresses 0-511 and 4096-4607 are
  // protected (protection exception, suppressed); 512 on and 4608 on are
  // not. With DAT off and on (the addresses are logical).
  let cr0 = s390_read_cr0()
  let control = dataPage(7) + 0x800
  words(control).pointee = cr0 | 1 << 28
  for dat in [false, true] {
    withTables(segmentASCE) {
      for address: UInt64 in [0x0, 0x1F8, 0x1000, 0x11F8] {
        let saved = s390_lowcore_load64(address)
        let result = RunPSW.run(
          mask: RunPSW.mask64 | (dat ? RunPSW.datMask : 0), address: dat_stub(Stub.lap.rawValue),
          registers: [0, 0, address, saved ^ 0xFFFF, control])
        let after = s390_lowcore_load64(address)
        s390_lowcore_store64(address, saved)
        expectEqual(result.code, 4, "store to a low address: protection")
        expectEqual(after, saved, "low-address store suppressed")
      }
      // 512 (0x200, this runtime's register save area, rewritten at every
      // interruption) and 4608 (0x1200) lie just above the protected ranges.
      for address: UInt64 in [dataPage(6), 0x200, 0x1200] {
        let saved = s390_lowcore_load64(address)
        let open = RunPSW.run(
          mask: RunPSW.mask64 | (dat ? RunPSW.datMask : 0), address: dat_stub(Stub.lap.rawValue),
          registers: [0, 0, address, 0x4545, control])
        if address >= 0x2000 {
          expectEqual(open.code, RunPSW.svcFlag, "store above the low addresses works")
        } else {
          expectEqual(open.code, RunPSW.svcFlag, "store just above a protected range works")
          s390_lowcore_store64(address, saved)
        }
      }
    }
  }
  expectEqual(s390_read_cr0(), cr0, "CR0 restored")
}

func invalidatePage() {
  withTables(segmentASCE) {
    let virtual = virtualBase + 0x2000
    expectEqual(load(virtual).code, RunPSW.svcFlag, "page valid before IPTE (TLB loaded)")
    dat_ipte(testPageTable, virtual)
    expectBits(entry(testPageTable, 2).pointee, set: pageInvalid, "IPTE set the PTE invalid bit")
    expectEqual(entry(testPageTable, 2).pointee & ~0xFFF, dataPage(2), "IPTE kept the frame address")
    expectTranslation(load(virtual), code: 0x11, virtual: virtual, "access after IPTE")
    expectEqual(load(virtualBase + 0x3000).code, RunPSW.svcFlag, "IPTE left the other pages")
  }
}

func invalidateSegment() throws(TestStop) {
  guard hasFacility(3) else { try skipTest("no DAT-enhancement facility 1 (IDTE, CSPG)") }
  withTables(segmentASCE) {
    expectEqual(load(virtualBase).code, RunPSW.svcFlag, "segment valid before IDTE")
    dat_idte(segmentTable, virtualBase)
    expectBits(entry(segmentTable, 1024).pointee, set: segmentInvalid, "IDTE set the segment invalid bit")
    expectTranslation(load(virtualBase + 0x10), code: 0x10, virtual: virtualBase + 0x10, "access after IDTE")
    expectEqual(load(dataPage(0)).code, RunPSW.svcFlag, "IDTE left the other segments")
  }
}

func compareAndSwapAndPurge() {
  withTables(segmentASCE) {
    var current: UInt64 = 0
    // CSP works on the word at PTE + 4 (bits 32-63, holding the I bit).
    let pte = UInt64(UInt(bitPattern: entry(testPageTable, 3)))
    let low = entry(testPageTable, 3).pointee & 0xFFFF_FFFF
    expectEqual(load(virtualBase + 0x3000).code, RunPSW.svcFlag, "page valid before CSP")
    let miss = dat_csp(low ^ 1, low | pageInvalid, (pte + 4) | 1, &current)
    expectEqual(miss, 1, "CSP with a wrong compare value: cc 1")
    expectEqual(current & 0xFFFF_FFFF, low, "CSP cc 1 loads the current word")
    expectEqual(entry(testPageTable, 3).pointee & pageInvalid, 0, "CSP cc 1 stores nothing")
    let hit = dat_csp(low, low | pageInvalid, (pte + 4) | 1, &current)
    expectEqual(hit, 0, "CSP with the right compare value: cc 0")
    expectBits(entry(testPageTable, 3).pointee, set: pageInvalid, "CSP stored the new word")
    expectTranslation(load(virtualBase + 0x3000), code: 0x11, virtual: virtualBase + 0x3000, "access after CSP purge")
    if hasFacility(3) {
      let pte4 = UInt64(UInt(bitPattern: entry(testPageTable, 4)))
      let old = entry(testPageTable, 4).pointee
      expectEqual(load(virtualBase + 0x4000).code, RunPSW.svcFlag, "page valid before CSPG")
      expectEqual(dat_cspg(old ^ 0x1000, old | pageInvalid, pte4 | 1, &current), 1, "CSPG mismatch: cc 1")
      expectEqual(current, old, "CSPG cc 1 loads the current doubleword")
      expectEqual(dat_cspg(old, old | pageInvalid, pte4 | 1, &current), 0, "CSPG match: cc 0")
      expectEqual(entry(testPageTable, 4).pointee, old | pageInvalid, "CSPG stored the new entry")
      expectTranslation(load(virtualBase + 0x4000), code: 0x11, virtual: virtualBase + 0x4000, "access after CSPG purge")
    } else {
      skip("CSPG", because: "no DAT-enhancement facility 1")
    }
  }
}

func loadRealAddress() {
  // LRA: cc 0 with the real address when the translation is available;
  // cc 3 beyond a table's length or with a region entry invalid.
  withTables(segmentASCE) {
    let lra = runDAT(.lra, [0, 0, virtualBase + 0x2468, 0xFFFF_FFFF_0000_0000])
    expectEqual(lra.conditionCode, 0, "LRA cc 0")
    expectEqual(lra.registers[3] & 0xFFFF_FFFF, dataPage(2) + 0x468, "LRA real address in bits 32-63")
  }
  withTables(segmentTable) {
    expectEqual(runDAT(.lrag, [0, 0, virtualBase, 0]).conditionCode, 3, "LRAG beyond the segment-table length: cc 3")
  }
  withTables(regionThirdASCE) {
    expectEqual(runDAT(.lrag, [0, 0, 0x8000_0000, 0]).conditionCode, 3, "LRAG with a region-third entry invalid: cc 3")
  }
}

func loadRealAddressInvalid() {
  // cc 1: segment-table entry invalid, R1 = the entry's real address;
  // cc 2: page-table entry invalid, R1 = the entry's real address.
  withTables(segmentASCE) {
    let segment = runDAT(.lrag, [0, 0, invalidSegment, 0])
    expectEqual(segment.conditionCode, 1, "LRAG of an invalid segment: cc 1")
    expectEqual(segment.registers[3], segmentTable + 1025 * 8, "cc 1: R1 = the segment-table entry")
    let page = runDAT(.lrag, [0, 0, virtualBase + 0x9000, 0])
    expectEqual(page.conditionCode, 2, "LRAG of an invalid page: cc 2")
    expectEqual(page.registers[3], testPageTable + 9 * 8, "cc 2: R1 = the page-table entry")
  }
}

func loadRealAddressDATOff() {
  // LRA translates whether or not DAT is on in the PSW.
  withTables(segmentASCE) {
    let result = RunPSW.run(
      mask: RunPSW.mask64, address: dat_stub(Stub.lrag.rawValue),
      registers: [0, 0, virtualBase + 0x1ABC, 0])
    expectEqual(result.conditionCode, 0, "LRAG with DAT off: cc 0")
    expectEqual(result.registers[3], dataPage(1) + 0xABC, "LRAG with DAT off translates")
  }
}

func edat1() throws(TestStop) {
  guard hasFacility(8) else { try skipTest("no EDAT-1 (facility 8)") }
  // CR0 bit 40 on: a segment entry with FC = 1 maps a 1 MiB frame.
  words(frame + 0x5_4320).pointee = 0xE1A7_0001
  words(frame + 0xF_FFF8).pointee = 0xE1A7_0002
  withTables(segmentASCE, cr0Bits: 1 << 23) {
    expectEqual(load(largeSegment + 0x5_4320).registers[3], 0xE1A7_0001, "LG through a large segment")
    expectEqual(load(largeSegment + 0xF_FFF8).registers[3], 0xE1A7_0002, "LG of the last doubleword")
    let real = runDAT(.lrag, [0, 0, largeSegment + 0x7_6543, 0])
    expectEqual(real.conditionCode, 0, "LRAG of a large segment: cc 0")
    expectEqual(real.registers[3], frame + 0x7_6543, "LRAG: frame + offset")
    expectEqual(runDAT(.stg, [0, 0, largeSegment + 0x8, 0x5E6]).code, RunPSW.svcFlag, "STG to a large segment")
    expectEqual(words(frame + 0x8).pointee, 0x5E6, "STG wrote the frame")
    // P in a large segment entry protects the whole megabyte.
    entry(segmentTable, 1026).pointee |= segmentProtect
    dat_ptlb()
    expectEqual(runDAT(.stg, [0, 0, largeSegment + 0x9_0000, 1]).code, 4, "protected large segment: protection")
    expectEqual(load(largeSegment + 0x5_4320).registers[3], 0xE1A7_0001, "protected large segment: fetch works")
  }
}

func edat2() throws(TestStop) {
  guard hasFacility(78) else { try skipTest("no EDAT-2 (facility 78)") }
  // A region-third entry with FC = 1 maps a 2 GiB frame: entry 1 (virtual
  // 2-4 GiB) to absolute 0, so virtual 2 GiB + x reads real x.
  withTables(regionThirdASCE, cr0Bits: 1 << 23) {
    entry(regionThird, 1).pointee = 0 | 0x400 | 0x04
    dat_ptlb()
    let virtual = 0x8000_0000 + dataPage(4)
    let result = load(virtual)
    expectEqual(result.code, RunPSW.svcFlag, "LG through a large region")
    expectEqual(result.registers[3], 0xDA7A_0004, "large region maps 2 GiB + x to x")
    let real = runDAT(.lrag, [0, 0, virtual + 0x10, 0])
    expectEqual(real.registers[3], dataPage(4) + 0x10, "LRAG of a large region")
  }
}
