// Storage keys as the z/Architecture Principles of Operation defines them
// (chapter 3, "Storage Key", "Key-Controlled Protection"; chapter 10 for
// SSKE, ISKE, IVSK, RRBE, SPKA, IPK, TPROT). A 4 KiB block's key byte is
// ACC (bits 0-3), F fetch protection (4), R reference (5), C change (6),
// bit 7 unused (stored as 0). The tests use 16 pages of their own (s390x/
// skey.S) and put key 0 back on them at the end of each test.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("SSKE and ISKE", setAndInsert),
  Test("ISKE keeps bits 0-55", insertKeepsHighBits),
  Test("reference and change recording", recording),
  Test("RRBE", resetReference),
  Test("key-controlled protection", keyControlledProtection, .xfail("measured: TCG does not enforce key-controlled protection: stores and fetch-protected fetches with a mismatching PSW key complete", when: .tcg)),
  Test("fetch protection", fetchProtection, .xfail("measured: TCG does not enforce key-controlled protection: stores and fetch-protected fetches with a mismatching PSW key complete", when: .tcg)),
  Test("storage-protection override", storageProtectionOverride, .xfail("measured: TCG does not enforce key-controlled protection: stores and fetch-protected fetches with a mismatching PSW key complete", when: .tcg)),
  Test("SPKA", setPSWKey),
  Test(
    "SPKA in problem state", problemStateSPKA,
    .xfail("measured: TCG raises privileged operation for every problem-state SPKA, ignoring the PSW-key mask in CR3", when: .tcg)),
  Test(
    "IPK", insertPSWKey,
    .xfail("measured: QEMU 7.2 TCG has no IPK (B20B): operation exception", when: .tcg)),
  Test(
    "TPROT", testProtection,
    .xfail("measured: TCG TPROT gives cc 0 for every key and F (keys not checked)", when: .tcg)),
  Test(
    "TPROT is privileged", testProtectionPrivileged,
    .xfail("measured: TCG runs TPROT in problem state (cc 0) instead of a privileged-operation exception", when: .tcg)),
  Test(
    "IVSK with DAT off", insertVirtualKeyDATOff,
    .xfail("measured: QEMU 7.2 TCG has no IVSK: operation exception instead of special operation", when: .tcg)),
  Test(
    "IVSK with DAT on", insertVirtualKey,
    .xfail("measured: QEMU 7.2 TCG has no IVSK: operation exception", when: .tcg)),
  Test("key instructions beyond storage", beyondStorage),
]

@_extern(c, "sk_set_key") func sk_set_key(_ address: UInt64, _ key: UInt64)
@_extern(c, "sk_get_key") func sk_get_key(_ address: UInt64) -> UInt64
@_extern(c, "sk_rrbe") func sk_rrbe(_ address: UInt64) -> UInt64
@_extern(c, "sk_fetch") func sk_fetch(_ address: UInt64) -> UInt64
@_extern(c, "sk_store") func sk_store(_ address: UInt64, _ value: UInt64)
@_extern(c, "sk_pages") func sk_pages() -> UInt64
@_extern(c, "sk_stub") func sk_stub(_ index: UInt64) -> UInt64
@_extern(c, "sk_tables") func sk_tables() -> UInt64

enum Stub: UInt64 {
  case fetch = 0, store, mvc, spka, ipk, tprot, ivsk, iske, spkaOnly
}

/// Key byte fields.
let fetchBit: UInt64 = 0x08
let referenceBit: UInt64 = 0x04
let changeBit: UInt64 = 0x02

func keyByte(acc: UInt64, fetch: Bool = false, reference: Bool = false, change: Bool = false)
  -> UInt64
{
  acc << 4 | (fetch ? fetchBit : 0) | (reference ? referenceBit : 0) | (change ? changeBit : 0)
}

func page(_ index: Int) -> UInt64 { sk_pages() + UInt64(index) * 4096 }

/// Key 0, no F/R/C on every test page.
func resetKeys() {
  var index = 0
  while index < 16 {
    sk_set_key(page(index), 0)
    index &+= 1
  }
}

/// Runs `stub` with PSW key `key` (supervisor state unless `problem`).
func run(
  _ stub: Stub, key: UInt64 = 0, problem: Bool = false, _ registers: [UInt64] = []
) -> RunPSWResult {
  RunPSW.run(
    mask: RunPSW.mask64 | RunPSW.key(key) | (problem ? RunPSW.problemState : 0),
    address: sk_stub(stub.rawValue), registers: registers)
}

func setAndInsert() {
  // Every key byte: ISKE returns what SSKE set, bit 7 as 0 (SSKE ignores
  // R1 bit 63).
  let target = page(0)
  var value: UInt64 = 0
  while value < 256 {
    sk_set_key(target, value)
    expectEqual(sk_get_key(target) & 0xFF, value & 0xFE, "ISKE returns the key SSKE set")
    value &+= 1
  }
  // Keys are per 4 KiB block: distinct keys on 16 neighbouring pages.
  var index = 0
  while index < 16 {
    sk_set_key(page(index), keyByte(acc: UInt64(index), fetch: index & 1 == 1))
    index &+= 1
  }
  index = 0
  while index < 16 {
    let key = sk_get_key(page(index) + 0xFF8) & 0xF8
    expectEqual(key, keyByte(acc: UInt64(index), fetch: index & 1 == 1), "each block keeps its own ACC and F")
    index &+= 1
  }
  resetKeys()
}

func insertKeepsHighBits() {
  // ISKE replaces bits 56-63 of R1 only.
  sk_set_key(page(1), keyByte(acc: 6, change: true))
  let result = run(.iske, [0, 0, page(1), 0x1234_5678_9ABC_DEFF])
  expectEqual(result.code, RunPSW.svcFlag, "ISKE completes")
  expectEqual(result.registers[3] >> 8, 0x12_3456_789A_BCDE, "ISKE keeps R1 bits 0-55")
  expectEqual(result.registers[3] & 0xFF, keyByte(acc: 6, change: true), "ISKE inserts the key")
  resetKeys()
}

func recording() {
  // A fetch sets the reference bit; a store sets reference and change
  // (PoP "Reference Recording", "Change Recording"). The change bit is set
  // only by a store.
  var index = 0
  while index < 16 {
    let target = page(index) + UInt64(index) * 8
    sk_set_key(target, keyByte(acc: 0))
    _ = sk_fetch(target)
    let afterFetch = sk_get_key(target) & 0xFF
    expectBits(afterFetch, set: referenceBit, "fetch sets R")
    expectBits(afterFetch, clear: changeBit, "fetch leaves C clear")
    sk_store(target, UInt64(index))
    let afterStore = sk_get_key(target) & 0xFF
    expectBits(afterStore, set: referenceBit | changeBit, "store sets R and C")
    expectEqual(afterStore & 0xF8, 0, "recording leaves ACC and F alone")
    index &+= 1
  }
  // MVC sets C on the target block only.
  sk_set_key(page(2), 0)
  sk_set_key(page(3), 0)
  let mvc = run(.mvc, [0, 0, page(3), 0, page(2)])
  expectEqual(mvc.code, RunPSW.svcFlag, "MVC completes")
  expectBits(sk_get_key(page(2)) & 0xFF, set: referenceBit, "MVC source: R set")
  expectBits(sk_get_key(page(2)) & 0xFF, clear: changeBit, "MVC source: C clear")
  expectBits(sk_get_key(page(3)) & 0xFF, set: referenceBit | changeBit, "MVC target: R and C set")
  resetKeys()
}

func resetReference() {
  // RRBE: cc = 2R + C of the key before, then R is 0; ACC, F and C stay.
  var index = 0
  while index < 16 {
    let reference = index & 1 == 1
    let change = index & 2 == 2
    let before = keyByte(acc: UInt64(index), fetch: index & 4 == 4, reference: reference, change: change)
    sk_set_key(page(index), before)
    let cc = sk_rrbe(page(index))
    expectEqual(cc, (reference ? 2 : 0) + (change ? 1 : 0), "RRBE cc = 2R + C")
    expectEqual(sk_get_key(page(index)) & 0xFF, before & ~referenceBit, "RRBE clears R only")
    expectEqual(sk_rrbe(page(index)), change ? 1 : 0, "second RRBE: R already 0")
    index &+= 1
  }
  resetKeys()
}

func keyControlledProtection() {
  // A store is permitted when the PSW key is 0 or equals ACC; otherwise a
  // protection exception (code 4) suppresses it (STG: ILC 3, storage
  // unchanged).
  let target = page(4)
  let acc: UInt64 = 3
  let store = sk_stub(Stub.store.rawValue)
  var key: UInt64 = 0
  while key < 16 {
    sk_set_key(target, keyByte(acc: acc))
    sk_store(target, 0xAAAA)
    let result = run(.store, key: key, [0, 0, target, 0x5555 &+ key])
    if key == 0 || key == acc {
      expectEqual(result.code, RunPSW.svcFlag, "store with key 0 or the block's ACC")
      expectEqual(sk_fetch(target), 0x5555 &+ key, "the store happened")
    } else {
      expectEqual(result.code, 4, "store with another key: protection exception")
      expectEqual(result.ilc, 3, "protection on STG: ILC 3")
      expectEqual(result.oldAddress, store + 6, "protection on STG: old PSW after it")
      expectEqual(sk_fetch(target), 0xAAAA, "protected store suppressed")
      expectEqual((result.oldMask >> 52) & 0xF, key, "old PSW keeps the PSW key")
    }
    // Fetches are not protected while F is 0.
    let fetch = run(.fetch, key: key, [0, 0, target])
    expectEqual(fetch.code, RunPSW.svcFlag, "fetch with F = 0 is permitted for any key")
    key &+= 1
  }
  resetKeys()
}

func fetchProtection() {
  // With F = 1 a fetch is permitted only for key 0 or the block's ACC.
  let target = page(5)
  let acc: UInt64 = 9
  sk_store(target, 0x1234)
  var key: UInt64 = 0
  while key < 16 {
    sk_set_key(target, keyByte(acc: acc, fetch: true))
    let result = run(.fetch, key: key, [0, 0, target, 0x77])
    if key == 0 || key == acc {
      expectEqual(result.code, RunPSW.svcFlag, "fetch with key 0 or ACC under F = 1")
      expectEqual(result.registers[3], 0x1234, "the fetch loaded the data")
    } else {
      expectEqual(result.code, 4, "fetch-protected: protection exception")
      expectEqual(result.registers[3], 0x77, "fetch-protected: R1 unchanged")
    }
    key &+= 1
  }
  resetKeys()
}

func storageProtectionOverride() {
  // CR0 bit 39 on: blocks with ACC 9 are accessible with any key (PoP
  // "Storage-Protection Override"); other ACC values are not affected.
  let cr0 = s390_read_cr0()
  let target = page(6)
  let other = page(7)
  sk_set_key(target, keyByte(acc: 9, fetch: true))
  sk_set_key(other, keyByte(acc: 8))
  let before = run(.store, key: 5, [0, 0, target, 1])
  expectEqual(before.code, 4, "ACC 9 with key 5, override off: protected")
  s390_load_control(0, cr0 | 1 << 24)
  let store = run(.store, key: 5, [0, 0, target, 2])
  let fetch = run(.fetch, key: 5, [0, 0, target])
  let stillProtected = run(.store, key: 5, [0, 0, other, 3])
  s390_load_control(0, cr0)
  expectEqual(store.code, RunPSW.svcFlag, "override: store to ACC 9 with key 5")
  expectEqual(fetch.code, RunPSW.svcFlag, "override: fetch from ACC 9 (F = 1) with key 5")
  expectEqual(fetch.registers[3], 2, "override: the store and fetch happened")
  expectEqual(stillProtected.code, 4, "override does not cover ACC 8")
  resetKeys()
}

func setPSWKey() {
  // SPKA sets the PSW key from bits 56-59 of the operand address (bits
  // 60-63 ignored).
  var key: UInt64 = 0
  while key < 16 {
    let result = run(.spkaOnly, [0, 0, key << 4 | 0xF])
    expectEqual(result.code, RunPSW.svcFlag, "SPKA completes in supervisor state")
    expectEqual((result.oldMask >> 52) & 0xF, key, "SPKA set the PSW key")
    key &+= 1
  }
}

func problemStateSPKA() {
  // In problem state SPKA needs the key's bit in the PSW-key mask (CR3
  // bits 32-47); otherwise privileged-operation exception (code 2).
  let cr3 = s390_store_control(3)
  let keyMask: UInt64 = 0xA55A  // keys 0, 2, 5, 7, 9, 11, 12, 14
  s390_load_control(3, (cr3 & ~0xFFFF_0000) | keyMask << 16)
  var key: UInt64 = 0
  var results: [(UInt64, RunPSWResult)] = []
  while key < 16 {
    results.append((key, run(.spkaOnly, problem: true, [0, 0, key << 4])))
    key &+= 1
  }
  s390_load_control(3, cr3)
  for (key, result) in results {
    if keyMask & (0x8000 >> key) != 0 {
      expectEqual(result.code, RunPSW.svcFlag, "SPKA with the key's PKM bit set")
      expectEqual((result.oldMask >> 52) & 0xF, key, "problem-state SPKA set the key")
    } else {
      expectEqual(result.code, 2, "SPKA without the key's PKM bit: privileged operation")
      expectEqual((result.oldMask >> 52) & 0xF, 0, "refused SPKA left the key")
    }
  }
}

func insertPSWKey() {
  // IPK puts the PSW key in bits 56-59 of R2, bits 60-63 zero, bits 0-55
  // unchanged; in problem state it needs the extraction-authority control
  // (CR0 bit 36), otherwise privileged operation.
  var key: UInt64 = 0
  while key < 16 {
    let result = run(.spka, [0, 0, key << 4 | 0xF])
    expectEqual(result.code, RunPSW.svcFlag, "SPKA then IPK complete")
    expectEqual(result.registers[2] & 0xFF, key << 4, "IPK returns the key, low bits 0")
    key &+= 1
  }
  let ipk = run(.ipk, key: 7, [0, 0, 0xFEDC_BA98_7654_3210])
  expectEqual(ipk.registers[2], 0xFEDC_BA98_7654_3270, "IPK keeps R2 bits 0-55")
  let cr0 = s390_read_cr0()
  s390_load_control(0, cr0 | 1 << 27)
  let allowed = run(.ipk, key: 3, problem: true, [0, 0, 0])
  s390_load_control(0, cr0 & ~(1 << 27))
  let denied = run(.ipk, key: 3, problem: true, [0, 0, 0])
  s390_load_control(0, cr0)
  expectEqual(allowed.code, RunPSW.svcFlag, "IPK in problem state with extraction authority")
  expectEqual(allowed.registers[2], 0x30, "problem-state IPK returns key 3")
  expectEqual(denied.code, 2, "IPK without extraction authority: privileged operation")
}

func testProtection() {
  // TPROT: cc 0 fetch and store permitted, cc 1 fetch only, cc 2 neither,
  // for the key in bits 56-59 of the second-operand address.
  let target = page(8)
  for fetchProtected in [false, true] {
    sk_set_key(target, keyByte(acc: 6, fetch: fetchProtected))
    var key: UInt64 = 0
    while key < 16 {
      let result = run(.tprot, [0, 0, target, 0, key << 4])
      let expected: UInt64 = key == 0 || key == 6 ? 0 : fetchProtected ? 2 : 1
      expectEqual(result.code, RunPSW.svcFlag, "TPROT completes")
      expectEqual(result.conditionCode, expected, "TPROT condition code")
      key &+= 1
    }
  }
  resetKeys()
}

func testProtectionPrivileged() {
  // TPROT is privileged: privileged-operation exception in problem state.
  let result = run(.tprot, problem: true, [0, 0, page(8), 0, 0])
  expectEqual(result.code, 2, "TPROT in problem state: privileged operation")
  expectEqual(result.ilc, 3, "TPROT ILC 3")
}

func insertVirtualKeyDATOff() {
  // IVSK with DAT off: special-operation exception (code 0x13).
  let result = run(.ivsk, [0, 0, page(9), 0])
  expectEqual(result.code, 0x13, "IVSK with DAT off: special operation")
  expectEqual(result.ilc, 2, "IVSK ILC 2")
}

func beyondStorage() {
  // ISKE of a real address outside the configured storage: addressing
  // exception (code 5), ILC 2.
  let beyond = (BootInfo.memoryBytes + 0x20_0000) & ~0xFFF
  let result = run(.iske, [0, 0, beyond, 0x99])
  expectEqual(result.code, 5, "ISKE beyond storage: addressing")
  expectEqual(result.ilc, 2, "ISKE ILC 2")
  expectEqual(result.registers[3], 0x99, "ISKE beyond storage: R1 unchanged")
}

/// A segment table (DT 00, TL 3) mapping the image 1:1 through page tables.
func identityASCE() -> UInt64 {
  let segmentTable = sk_tables()
  let entries = UnsafeMutablePointer<UInt64>(bitPattern: UInt(segmentTable))!
  var index = 0
  while index < 2048 {
    entries[index] = 0x20  // invalid
    index &+= 1
  }
  let segments = Int((imageEnd() + 0xFFFFF) >> 20)
  var segment = 0
  while segment < min(segments, 32) {
    let pageTable = segmentTable + 16384 + UInt64(segment) * 2048
    let pages = UnsafeMutablePointer<UInt64>(bitPattern: UInt(pageTable))!
    var page = 0
    while page < 256 {
      pages[page] = UInt64(segment) << 20 | UInt64(page) << 12
      page &+= 1
    }
    entries[segment] = pageTable
    segment &+= 1
  }
  return segmentTable | 0x03
}

func insertVirtualKey() {
  // IVSK with DAT on: the ACC and F of the key of the translated page in
  // bits 56-60 of R1, bits 61-63 zero, bits 0-55 unchanged. In problem
  // state it needs the extraction-authority control (CR0 bit 36).
  let savedCR0 = s390_read_cr0()
  let savedCR1 = s390_read_cr1()
  s390_load_control(1, identityASCE())
  var results: [RunPSWResult] = []
  var index = 0
  while index < 4 {
    sk_set_key(page(10 + index), keyByte(acc: UInt64(3 * index + 1), fetch: index & 1 == 1, reference: true, change: true))
    results.append(
      RunPSW.run(
        mask: RunPSW.mask64 | RunPSW.datMask, address: sk_stub(Stub.ivsk.rawValue),
        registers: [0, 0, page(10 + index) + 0x40, 0xABCD_EF01_2345_67FF]))
    index &+= 1
  }
  s390_load_control(0, savedCR0 | 1 << 27)
  let allowed = RunPSW.run(
    mask: RunPSW.mask64 | RunPSW.datMask | RunPSW.problemState, address: sk_stub(Stub.ivsk.rawValue),
    registers: [0, 0, page(10), 0])
  s390_load_control(0, savedCR0 & ~(1 << 27))
  let denied = RunPSW.run(
    mask: RunPSW.mask64 | RunPSW.datMask | RunPSW.problemState, address: sk_stub(Stub.ivsk.rawValue),
    registers: [0, 0, page(10), 0])
  s390_load_control(0, savedCR0)
  s390_load_control(1, savedCR1)
  index = 0
  while index < 4 {
    let result = results[index]
    expectEqual(result.code, RunPSW.svcFlag, "IVSK with DAT on completes")
    expectEqual(result.registers[3] >> 8, 0xAB_CDEF_0123_4567, "IVSK keeps R1 bits 0-55")
    expectEqual(
      result.registers[3] & 0xFF, keyByte(acc: UInt64(3 * index + 1), fetch: index & 1 == 1),
      "IVSK inserts ACC and F, R and C as 0")
    index &+= 1
  }
  expectEqual(allowed.code, RunPSW.svcFlag, "IVSK in problem state with extraction authority")
  expectEqual(allowed.registers[3] & 0xFF, keyByte(acc: 1), "problem-state IVSK: the key")
  expectEqual(denied.code, 2, "IVSK in problem state without extraction authority: privileged operation")
  resetKeys()
}
