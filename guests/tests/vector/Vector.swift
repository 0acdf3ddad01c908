// The vector facility for z/Architecture (PoO chapters 21-24): enablement
// through CR0 bit 46 (a vector instruction with it off is a data exception
// with DXC 0xFE, stored at real location 147 and, with AFP on, in the FPC
// DXC byte), loads and stores, integer, logical, permute and Galois-field
// instructions against Swift models of their definitions, and the
// vector-enhancements facilities 1 and 2 as STFLE reports them (installed:
// the instruction works; absent: operation exception).

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("enablement", enablement, .requires(feature: .vector)),
  Test("disabled: data exception dxc fe", disabled, .requires(feature: .vector)),
  Test("loads and stores", loadsAndStores, .requires(feature: .vector)),
  Test("integer arithmetic", integerArithmetic, .requires(feature: .vector)),
  Test("logical and compare", logicalAndCompare, .requires(feature: .vector)),
  Test("shifts and counts", shiftsAndCounts, .requires(feature: .vector)),
  Test("permute", permute, .requires(feature: .vector)),
  Test("galois field multiply", galoisField, .requires(feature: .vector)),
  Test("generate", generate, .requires(feature: .vector)),
  Test("vector enhancements 1", enhancements1, .requires(feature: .vector)),
  Test("vector enhancements 2", enhancements2, .requires(feature: .vector)),
]

@_extern(c, "vec_last_cc") func vec_last_cc() -> UInt64
@_extern(c, "vec_disabled") func vec_disabled(_ which: UInt64) -> UInt64
@_extern(c, "vec_vll") func vec_vll(_ out: UInt64, _ source: UInt64, _ length: UInt64)
@_extern(c, "vec_vstl") func vec_vstl(_ out: UInt64, _ source: UInt64, _ length: UInt64)
@_extern(c, "vec_vleb") func vec_vleb(_ out: UInt64, _ source: UInt64)
@_extern(c, "vec_vlreph") func vec_vlreph(_ out: UInt64, _ source: UInt64)
@_extern(c, "vec_vlvgf") func vec_vlvgf(_ out: UInt64, _ value: UInt64)
@_extern(c, "vec_vlgvg") func vec_vlgvg(_ source: UInt64) -> UInt64
@_extern(c, "vec_vlbrh") func vec_vlbrh(_ out: UInt64, _ source: UInt64)
@_extern(c, "vec_vlerf") func vec_vlerf(_ out: UInt64, _ source: UInt64)
@_extern(c, "vec_vlm_vstm") func vec_vlm_vstm(_ out: UInt64, _ source: UInt64)
@_extern(c, "vec_vab") func vec_vab(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vaccb") func vec_vaccb(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vaccf") func vec_vaccf(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vaccg") func vec_vaccg(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vacch") func vec_vacch(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vaf") func vec_vaf(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vag") func vec_vag(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vah") func vec_vah(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vaq") func vec_vaq(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vceqbs") func vec_vceqbs(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vchfs") func vec_vchfs(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vclzf") func vec_vclzf(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vctzg") func vec_vctzg(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_verllg") func vec_verllg(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_veslb") func vec_veslb(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vesraf") func vec_vesraf(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vgbm") func vec_vgbm(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vgfmag") func vec_vgfmag(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vgfmb") func vec_vgfmb(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vgfmf") func vec_vgfmf(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vgfmg") func vec_vgfmg(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vgfmh") func vec_vgfmh(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vgmb") func vec_vgmb(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vgmf") func vec_vgmf(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vlch") func vec_vlch(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vlpf") func vec_vlpf(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vmnlb") func vec_vmnlb(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vmrhb") func vec_vmrhb(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vmrlf") func vec_vmrlf(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vmxf") func vec_vmxf(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vmxlb") func vec_vmxlb(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vn") func vec_vn(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vnc") func vec_vnc(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vnn") func vec_vnn(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vnx") func vec_vnx(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vo") func vec_vo(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_voc") func vec_voc(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vperm") func vec_vperm(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vpkg") func vec_vpkg(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vpopct") func vec_vpopct(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vrepb") func vec_vrepb(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vrepf") func vec_vrepf(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vrepih") func vec_vrepih(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vsb") func vec_vsb(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vsel") func vec_vsel(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vsf") func vec_vsf(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vsg") func vec_vsg(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vsh") func vec_vsh(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vsld") func vec_vsld(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vsldb") func vec_vsldb(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vsq") func vec_vsq(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_vx") func vec_vx(_ out: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64)
@_extern(c, "vec_buffer_address") func vec_buffer_address() -> UInt64

/// Facility numbers (STFLE).
let vectorEnhancements1: UInt16 = 135
let vectorEnhancements2: UInt16 = 148

// MARK: Operands and models

typealias Vector16 = [UInt8]
typealias Stub = (UInt64, UInt64, UInt64, UInt64) -> Void

let buffer = vec_buffer_address()
func pointer(_ offset: Int) -> UnsafeMutablePointer<UInt8> {
  UnsafeMutablePointer<UInt8>(bitPattern: UInt(buffer) + UInt(offset))!
}
func store(_ offset: Int, _ v: Vector16) { for i in 0..<v.count { pointer(offset)[i] = v[i] } }
func load(_ offset: Int, _ count: Int = 16) -> Vector16 {
  var v = Vector16(repeating: 0, count: count)
  for i in 0..<count { v[i] = pointer(offset)[i] }
  return v
}

let offsetA = 0
let offsetB = 16
let offsetC = 32
let offsetOut = 48
/// Runs a stub on operands a, b, c with the output prefilled with 0x5A.
func run(_ stub: Stub, _ a: Vector16, _ b: Vector16, _ c: Vector16 = zeros) -> Vector16 {
  store(offsetA, a)
  store(offsetB, b)
  store(offsetC, c)
  store(offsetOut, Vector16(repeating: 0x5A, count: 16))
  stub(
    buffer + UInt64(offsetOut), buffer + UInt64(offsetA), buffer + UInt64(offsetB),
    buffer + UInt64(offsetC))
  return load(offsetOut)
}

/// The big-endian doubleword `index` (0 or 1) of a vector.
func half(_ v: Vector16, _ index: Int) -> UInt64 {
  var value: UInt64 = 0
  for i in 0..<8 { value = value << 8 | UInt64(v[index * 8 + i]) }
  return value
}

/// Checks a whole vector; a failure notes both halves of each.
func checkVector(
  _ got: Vector16, _ want: Vector16, _ name: StaticString, file: StaticString = #fileID,
  line: UInt = #line
) {
  var equal = true
  for i in 0..<16 where got[i] != want[i] { equal = false }
  if !expect(equal, name, file: file, line: line).passed {
    note("got  0-7", half(got, 0), hex: true)
    note("got  8-15", half(got, 1), hex: true)
    note("want 0-7", half(want, 0), hex: true)
    note("want 8-15", half(want, 1), hex: true)
  }
}

/// Element `index` of `size` bytes (big-endian, element 0 leftmost).
func element(_ v: Vector16, _ size: Int, _ index: Int) -> UInt64 {
  var value: UInt64 = 0
  for i in 0..<size { value = value << 8 | UInt64(v[index * size + i]) }
  return value
}
func setElement(_ v: inout Vector16, _ size: Int, _ index: Int, _ value: UInt64) {
  for i in 0..<size {
    v[index * size + i] = UInt8(truncatingIfNeeded: value >> UInt64(8 * (size - 1 - i)))
  }
}
func mask(_ size: Int) -> UInt64 { size == 8 ? ~0 : (1 << UInt64(8 * size)) - 1 }
/// Applies `op` to each pair of elements of `size` bytes.
func elementwise(_ a: Vector16, _ b: Vector16, _ size: Int, _ op: (UInt64, UInt64) -> UInt64)
  -> Vector16
{
  var r = Vector16(repeating: 0, count: 16)
  for i in 0..<(16 / size) {
    setElement(&r, size, i, op(element(a, size, i), element(b, size, i)) & mask(size))
  }
  return r
}
/// Sign-extends an element of `size` bytes.
func signed(_ value: UInt64, _ size: Int) -> Int64 {
  let shift = UInt64(64 - 8 * size)
  return Int64(bitPattern: value << shift) >> Int64(shift)
}

let zeros = Vector16(repeating: 0, count: 16)
nonisolated(unsafe) var seed: UInt64 = 0x0123_4567_89AB_CDEF
func randomVector() -> Vector16 {
  var v = Vector16(repeating: 0, count: 16)
  for i in 0..<16 {
    seed ^= seed << 13
    seed ^= seed >> 7
    seed ^= seed << 17
    v[i] = UInt8(truncatingIfNeeded: seed)
  }
  return v
}
func vector(_ bytes: UInt8...) -> Vector16 {
  var v = Vector16(repeating: 0, count: 16)
  for i in 0..<min(bytes.count, 16) { v[i] = bytes[i] }
  return v
}
func repeated(_ byte: UInt8) -> Vector16 { Vector16(repeating: byte, count: 16) }

/// Operand pairs: random, extremes (carry and sign boundaries), equal.
func operandPairs() -> [(Vector16, Vector16)] {
  let r1 = randomVector()
  let r2 = randomVector()
  var extremes = repeated(0xFF)
  for i in 0..<4 { extremes[4 * i] = 0x7F }
  return [
    (r1, r2), (extremes, repeated(0x01)),
    (vector(0x80, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 1), randomVector()),
  ]
}

func cc() -> UInt64 { vec_last_cc() }

// MARK: Tests

func enablement() {
  // The runtime turns on AFP (CR0 bit 45) and vector (bit 46) at boot.
  expectBits(s390_read_cr0(), set: 1 << (63 - 46), "CR0 bit 46 (vector enablement) is on")
  expectBits(s390_read_cr0(), set: 1 << (63 - 45), "CR0 bit 45 (AFP register control) is on")
  let a = randomVector()
  store(offsetA, a)
  store(offsetOut, zeros)
  vec_vlm_vstm(buffer + UInt64(offsetOut), buffer + UInt64(offsetA))
  checkVector(load(offsetOut), a, "VLM/VSTM round trip with the facility enabled")
}

func disabled() {
  // With CR0 bit 46 off every vector instruction is a data exception
  // (code 7) with DXC 0xFE, in the lowcore and (AFP on) in the FPC.
  let names: [StaticString] = ["VL", "VST", "VAB", "VGFMG", "VLVGG"]
  for which in 0..<5 {
    let outcome = vec_disabled(UInt64(which))
    expectEqual(outcome >> 16, 7, names[which])
    expectEqual(outcome & 0xFF, 0xFE, "lowcore DXC 0xFE (vector instruction)")
    expectEqual(outcome >> 8 & 0xFF, 0xFE, "FPC DXC 0xFE (AFP on)")
  }
  expectBits(s390_read_cr0(), set: 1 << (63 - 46), "CR0 bit 46 back on")
}

func loadsAndStores() {
  let source = randomVector()
  // VLL loads bytes 0..min(length, 15), the rest become zero.
  for length: UInt64 in [0, 5, 15, 20] {
    store(64, source)
    store(offsetOut, repeated(0x5A))
    vec_vll(buffer + UInt64(offsetOut), buffer + 64, length)
    var want = zeros
    for i in 0...Int(min(length, 15)) { want[i] = source[i] }
    checkVector(load(offsetOut), want, "VLL: bytes 0..length, rest zero")
  }
  // VSTL stores bytes 0..min(length, 15); storage past them unchanged.
  for length: UInt64 in [0, 7, 15, 100] {
    store(512, source)
    store(offsetOut, repeated(0x5A))
    store(offsetOut + 16, repeated(0x5A))
    vec_vstl(buffer + UInt64(offsetOut), buffer + 512, length)
    var want = repeated(0x5A)
    for i in 0...Int(min(length, 15)) { want[i] = source[i] }
    checkVector(load(offsetOut), want, "VSTL: bytes 0..length stored")
    checkVector(load(offsetOut + 16), repeated(0x5A), "VSTL: nothing past 16 bytes")
  }
  // VLEB: only element 7 changes.
  let base = randomVector()
  store(offsetOut, base)
  pointer(64)[0] = 0xC3
  vec_vleb(buffer + UInt64(offsetOut), buffer + 64)
  var want = base
  want[7] = 0xC3
  checkVector(load(offsetOut), want, "VLEB: element 7 only")
  // VLREPH: the halfword in every element.
  pointer(64)[0] = 0x12
  pointer(64)[1] = 0x34
  vec_vlreph(buffer + UInt64(offsetOut), buffer + 64)
  var replicated = zeros
  for i in 0..<8 { setElement(&replicated, 2, i, 0x1234) }
  checkVector(load(offsetOut), replicated, "VLREPH: halfword replicated")
  // VLVGF / VLGVG: GR to element and back.
  store(offsetOut, base)
  vec_vlvgf(buffer + UInt64(offsetOut), 0xAAAA_BBBB_CCDD_EEFF)
  want = base
  setElement(&want, 4, 2, 0xCCDD_EEFF)
  checkVector(load(offsetOut), want, "VLVGF: word 2 from GR bits 32-63")
  store(64, base)
  expectEqual(vec_vlgvg(buffer + 64), element(base, 8, 1), "VLGVG: doubleword 1 to GR")
  // VLM/VSTM of three registers.
  for i in 0..<48 { pointer(128)[i] = UInt8(truncatingIfNeeded: i &* 7 &+ 3) }
  for i in 0..<48 { pointer(256)[i] = 0 }
  vec_vlm_vstm(buffer + 256, buffer + 128)
  var same = true
  for i in 0..<48 where pointer(256)[i] != pointer(128)[i] { same = false }
  expect(same, "VLM/VSTM: three registers round trip")
}

func integerArithmetic() {
  let adds: [(Stub, Int, StaticString)] = [
    (vec_vab, 1, "VAB"), (vec_vah, 2, "VAH"), (vec_vaf, 4, "VAF"), (vec_vag, 8, "VAG"),
  ]
  let subs: [(Stub, Int, StaticString)] = [
    (vec_vsb, 1, "VSB"), (vec_vsh, 2, "VSH"), (vec_vsf, 4, "VSF"), (vec_vsg, 8, "VSG"),
  ]
  let carries: [(Stub, Int, StaticString)] = [
    (vec_vaccb, 1, "VACCB"), (vec_vacch, 2, "VACCH"), (vec_vaccf, 4, "VACCF"),
    (vec_vaccg, 8, "VACCG"),
  ]
  for (a, b) in operandPairs() {
    for (stub, size, name) in adds {
      checkVector(run(stub, a, b), elementwise(a, b, size) { $0 &+ $1 }, name)
    }
    for (stub, size, name) in subs {
      checkVector(run(stub, a, b), elementwise(a, b, size) { $0 &- $1 }, name)
    }
    // VACC: the carry out of each unsigned element sum (0 or 1).
    for (stub, size, name) in carries {
      checkVector(
        run(stub, a, b), elementwise(a, b, size) { x, y in ((x &+ y) & mask(size)) < x ? 1 : 0 },
        name)
    }
    // VAQ / VSQ: one 128-bit element.
    let (lowSum, carry) = half(a, 1).addingReportingOverflow(half(b, 1))
    let highSum = half(a, 0) &+ half(b, 0) &+ (carry ? 1 : 0)
    var want = zeros
    setElement(&want, 8, 0, highSum)
    setElement(&want, 8, 1, lowSum)
    checkVector(run(vec_vaq, a, b), want, "VAQ: 128-bit sum")
    let borrow = half(a, 1) < half(b, 1)
    setElement(&want, 8, 0, half(a, 0) &- half(b, 0) &- (borrow ? 1 : 0))
    setElement(&want, 8, 1, half(a, 1) &- half(b, 1))
    checkVector(run(vec_vsq, a, b), want, "VSQ: 128-bit difference")
    checkVector(
      run(vec_vmxlb, a, b), elementwise(a, b, 1) { max($0, $1) }, "VMXLB: unsigned maximum")
    checkVector(
      run(vec_vmnlb, a, b), elementwise(a, b, 1) { min($0, $1) }, "VMNLB: unsigned minimum")
    checkVector(
      run(vec_vmxf, a, b), elementwise(a, b, 4) { signed($0, 4) >= signed($1, 4) ? $0 : $1 },
      "VMXF: signed maximum")
  }
}

func logicalAndCompare() {
  for (a, b) in operandPairs() {
    checkVector(run(vec_vn, a, b), elementwise(a, b, 8) { $0 & $1 }, "VN")
    checkVector(run(vec_vo, a, b), elementwise(a, b, 8) { $0 | $1 }, "VO")
    checkVector(run(vec_vx, a, b), elementwise(a, b, 8) { $0 ^ $1 }, "VX")
    checkVector(run(vec_vnc, a, b), elementwise(a, b, 8) { $0 & ~$1 }, "VNC")
  }
  // VCEQBS / VCHFS: all-ones elements where true; cc 0 all true, 1 mixed,
  // 3 none.
  let a = randomVector()
  var mixed = a
  mixed[3] ^= 1
  var none = a
  for i in 0..<16 { none[i] ^= 0x80 }
  for (b, expectedCC) in [(a, UInt64(0)), (mixed, 1), (none, 3)] {
    checkVector(
      run(vec_vceqbs, a, b), elementwise(a, b, 1) { $0 == $1 ? 0xFF : 0 }, "VCEQBS: element masks")
    expectEqual(cc(), expectedCC, "VCEQBS: cc")
  }
  let small = vector(0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0x80, 0, 0, 0)
  let large = vector(0, 0, 0, 2, 0, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF, 0x80, 0, 0, 0)
  for (x, y, expectedCC) in [(small, large, UInt64(3)), (large, small, 1), (large, large, 3)] {
    checkVector(
      run(vec_vchfs, x, y), elementwise(x, y, 4) { signed($0, 4) > signed($1, 4) ? ~0 : 0 },
      "VCHFS: element masks")
    expectEqual(cc(), expectedCC, "VCHFS: cc")
  }
  let greater = vector(0, 0, 0, 9, 0, 0, 0, 9, 0, 0, 0, 9, 0, 0, 0, 9)
  let lesser = vector(0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xFF, 0, 0, 0)
  _ = run(vec_vchfs, greater, lesser)
  expectEqual(cc(), 0, "VCHFS: every element high: cc 0")
}

func shiftsAndCounts() {
  for (a, _) in operandPairs() {
    checkVector(run(vec_veslb, a, zeros), elementwise(a, zeros, 1) { x, _ in x << 3 }, "VESLB 3")
    checkVector(
      run(vec_vesraf, a, zeros),
      elementwise(a, zeros, 4) { x, _ in UInt64(bitPattern: signed(x, 4) >> 7) }, "VESRAF 7")
    checkVector(
      run(vec_verllg, a, zeros), elementwise(a, zeros, 8) { x, _ in x << 13 | x >> 51 }, "VERLLG 13"
    )
    checkVector(
      run(vec_vpopct, a, zeros), elementwise(a, zeros, 1) { x, _ in UInt64(x.nonzeroBitCount) },
      "VPOPCT: ones per byte")
    checkVector(
      run(vec_vclzf, a, zeros),
      elementwise(a, zeros, 4) { x, _ in UInt64(UInt32(truncatingIfNeeded: x).leadingZeroBitCount)
      }, "VCLZF")
    checkVector(
      run(vec_vctzg, a, zeros), elementwise(a, zeros, 8) { x, _ in UInt64(x.trailingZeroBitCount) },
      "VCTZG")
    checkVector(
      run(vec_vlch, a, zeros), elementwise(a, zeros, 2) { x, _ in 0 &- x }, "VLCH: complement")
    checkVector(
      run(vec_vlpf, a, zeros), elementwise(a, zeros, 4) { x, _ in signed(x, 4) < 0 ? 0 &- x : x },
      "VLPF: absolute value")
  }
}

func permute() {
  for (a, b) in operandPairs() {
    let indices = randomVector()
    var want = zeros
    for i in 0..<16 {
      let index = Int(indices[i] & 0x1F)
      want[i] = index < 16 ? a[index] : b[index - 16]
    }
    checkVector(run(vec_vperm, a, b, indices), want, "VPERM: bytes selected by index")
    for i in 0..<8 {
      want[2 * i] = a[i]
      want[2 * i + 1] = b[i]
    }
    checkVector(run(vec_vmrhb, a, b), want, "VMRHB: merge high bytes")
    for i in 0..<2 {
      setElement(&want, 4, 2 * i, element(a, 4, 2 + i))
      setElement(&want, 4, 2 * i + 1, element(b, 4, 2 + i))
    }
    checkVector(run(vec_vmrlf, a, b), want, "VMRLF: merge low words")
    for i in 0..<2 {
      setElement(&want, 4, i, element(a, 8, i) & 0xFFFF_FFFF)
      setElement(&want, 4, 2 + i, element(b, 8, i) & 0xFFFF_FFFF)
    }
    checkVector(run(vec_vpkg, a, b), want, "VPKG: right halves packed")
    let selector = randomVector()
    for i in 0..<16 { want[i] = a[i] & selector[i] | b[i] & ~selector[i] }
    checkVector(run(vec_vsel, a, b, selector), want, "VSEL: bits from a where the selector is one")
    for i in 0..<16 { want[i] = i + 5 < 16 ? a[i + 5] : b[i + 5 - 16] }
    checkVector(run(vec_vsldb, a, b), want, "VSLDB 5: bytes 5-20 of a:b")
    checkVector(run(vec_vrepb, a, b), repeated(a[3]), "VREPB 3: byte 3 everywhere")
    for i in 0..<4 { setElement(&want, 4, i, element(a, 4, 1)) }
    checkVector(run(vec_vrepf, a, b), want, "VREPF 1: word 1 everywhere")
  }
}

/// Carry-less product of two `bits`-bit values (up to 64 bits): the
/// 128-bit result as (high, low).
func carrylessMultiply(_ a: UInt64, _ b: UInt64, bits: Int) -> (UInt64, UInt64) {
  var high: UInt64 = 0
  var low: UInt64 = 0
  for i in 0..<bits where b >> UInt64(i) & 1 != 0 {
    low ^= a << UInt64(i)
    if i > 0 { high ^= a >> UInt64(64 - i) }
  }
  return (high, low)
}

func galoisField() {
  // VGFM: each double-wide result element is the XOR of the carry-less
  // products of the even and the odd element pair.
  let forms: [(Stub, Int, StaticString)] = [
    (vec_vgfmb, 1, "VGFMB"), (vec_vgfmh, 2, "VGFMH"), (vec_vgfmf, 4, "VGFMF"),
    (vec_vgfmg, 8, "VGFMG"),
  ]
  for (a, b) in operandPairs() {
    for (stub, size, name) in forms {
      var want = zeros
      for pair in 0..<(8 / size) {
        let (h0, l0) = carrylessMultiply(
          element(a, size, 2 * pair), element(b, size, 2 * pair), bits: 8 * size)
        let (h1, l1) = carrylessMultiply(
          element(a, size, 2 * pair + 1), element(b, size, 2 * pair + 1), bits: 8 * size)
        if size == 8 {
          setElement(&want, 8, 0, h0 ^ h1)
          setElement(&want, 8, 1, l0 ^ l1)
        } else {
          setElement(&want, 2 * size, pair, (l0 ^ l1) & mask(2 * size))
        }
      }
      checkVector(run(stub, a, b), want, name)
    }
    // VGFMAG: the same, XORed with the third operand.
    let c = randomVector()
    let (h0, l0) = carrylessMultiply(element(a, 8, 0), element(b, 8, 0), bits: 64)
    let (h1, l1) = carrylessMultiply(element(a, 8, 1), element(b, 8, 1), bits: 64)
    var want = zeros
    setElement(&want, 8, 0, h0 ^ h1 ^ element(c, 8, 0))
    setElement(&want, 8, 1, l0 ^ l1 ^ element(c, 8, 1))
    checkVector(run(vec_vgfmag, a, b, c), want, "VGFMAG: accumulated")
  }
  // A known product: x * x = x^2 in each byte pair.
  let two = repeated(0x02)
  var want = zeros
  for i in 0..<8 { setElement(&want, 2, i, 0x0004 ^ 0x0004) }
  checkVector(run(vec_vgfmb, two, two), want, "VGFMB: pairs of x*x cancel (XOR)")
}

func generate() {
  var want = zeros
  want[0] = 0xFF
  want[15] = 0xFF
  checkVector(run(vec_vgbm, zeros, zeros), want, "VGBM 0x8001: bytes 0 and 15")
  checkVector(run(vec_vgmb, zeros, zeros), repeated(0x3C), "VGMB 2,5: bits 2-5 of each byte")
  for i in 0..<4 { setElement(&want, 4, i, 0xC000_0003) }
  checkVector(run(vec_vgmf, zeros, zeros), want, "VGMF 30,1: wrapping bits 30-31, 0-1")
  for i in 0..<8 { setElement(&want, 2, i, 0xFFFE) }
  checkVector(run(vec_vrepih, zeros, zeros), want, "VREPIH -2")
}

/// Runs `body` when the facility is installed; otherwise checks that the
/// stub raises an operation exception.
func gated(_ facility: UInt16, _ name: StaticString, probe: @escaping () -> Void, body: () -> Void)
{
  if Platform.hasFeature(CPUFeature("facility", .facility(facility))) {
    body()
  } else {
    expectException(vector: 1, name, probe)
  }
}

func enhancements1() {
  let (a, b) = (randomVector(), randomVector())
  gated(
    vectorEnhancements1, "VNX without vector-enhancements 1: operation",
    probe: { _ = run(vec_vnx, a, b) }
  ) {
    checkVector(run(vec_vnx, a, b), elementwise(a, b, 8) { ~($0 ^ $1) }, "VNX")
    checkVector(run(vec_vnn, a, b), elementwise(a, b, 8) { ~($0 & $1) }, "VNN")
    checkVector(run(vec_voc, a, b), elementwise(a, b, 8) { $0 | ~$1 }, "VOC")
  }
}

func enhancements2() {
  let (a, b) = (randomVector(), randomVector())
  gated(
    vectorEnhancements2, "VSLD without vector-enhancements 2: operation",
    probe: { _ = run(vec_vsld, a, b) }
  ) {
    // VSLD 3: bits 3-130 of a:b.
    var want = zeros
    for i in 0..<16 { want[i] = a[i] << 3 | (i + 1 < 16 ? a[i + 1] : b[0]) >> 5 }
    checkVector(run(vec_vsld, a, b), want, "VSLD 3: shift left double by bit")
    store(64, a)
    store(offsetOut, zeros)
    vec_vlbrh(buffer + UInt64(offsetOut), buffer + 64)
    for i in 0..<8 {
      want[2 * i] = a[2 * i + 1]
      want[2 * i + 1] = a[2 * i]
    }
    checkVector(load(offsetOut), want, "VLBRH: halfwords byte-reversed")
    vec_vlerf(buffer + UInt64(offsetOut), buffer + 64)
    for i in 0..<4 { setElement(&want, 4, i, element(a, 4, 3 - i)) }
    checkVector(load(offsetOut), want, "VLERF: words in reverse order")
  }
}
