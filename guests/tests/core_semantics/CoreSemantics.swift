// The standard-library semantics guest code relies on, checked the same way
// on every architecture: on x86_64 against the toolchain's Embedded stdlib,
// on s390x against the project's minimal core module (guests/core) — the
// two must agree. Traps are caught with `expectException`.

import GuestArch
import GuestLib

#if arch(x86_64)
  /// The exception a Swift trap raises: ud2 (#UD).
  let trapVector: UInt64 = 6
#elseif arch(s390x)
  /// The exception a Swift trap raises: an invalid opcode (operation).
  let trapVector: UInt64 = 1
#endif

nonisolated(unsafe) var deinitCount = 0
nonisolated(unsafe) var trapInput: Int64 = 0

final class Tracked {
  let value: Int
  init(_ value: Int) { self.value = value }
  deinit { deinitCount += 1 }
}

struct Pair {
  var a: UInt8
  var b: UInt64
}

@inline(never) func opaque<T>(_ value: T) -> T { value }

/// The tests of this guest, in run order.
let guestTests = [
  Test("integer arithmetic", integerArithmetic),
  Test("reporting overflow", reportingOverflow),
  Test("conversions and shifts", conversionsAndShifts),
  Test("bits and bytes", bitsAndBytes),
  Test("optionals and ranges", optionalsAndRanges),
  Test("arrays and classes", arraysAndClasses),
]

func integerArithmetic() {
  expectException(vector: trapVector, "+ traps on overflow") {
    trapInput = opaque(Int64.max) + opaque(1)
  }
  expectException(vector: trapVector, "- traps on overflow") {
    trapInput = opaque(Int64.min) - opaque(1)
  }
  expectException(vector: trapVector, "* traps on overflow (Int32)") {
    trapInput = Int64(opaque(Int32.max) * opaque(2))
  }
  expectException(vector: trapVector, "division by zero traps") {
    trapInput = opaque(Int64(7)) / opaque(0)
  }
  expectException(vector: trapVector, "min / -1 traps") {
    trapInput = opaque(Int64.min) / opaque(-1)
  }
  expectException(vector: trapVector, "unsigned - below zero traps") {
    trapInput = Int64(opaque(UInt8(0)) - opaque(UInt8(1)))
  }
  expectEqual(opaque(UInt8(255)) &+ 1, 0, "&+ wraps")
  expectEqual(opaque(Int8.min) &- 1, 127, "&- wraps")
  expectEqual(opaque(Int16(300)) &* 300, 24464, "&* wraps")
  expectEqual(opaque(Int64(-7)) % 3, -1, "remainder takes the dividend's sign")
  let (q, o) = opaque(Int32.min).dividedReportingOverflow(by: -1)
  expect(o && q == Int32.min, "dividedReportingOverflow(by: -1) of min")
  expect(
    opaque(UInt64(10)).dividedReportingOverflow(by: opaque(0)).overflow,
    "dividedReportingOverflow(by: 0)")
}

func conversionsAndShifts() {
  expectEqual(Int8(truncatingIfNeeded: opaque(300)), 44, "truncatingIfNeeded keeps low bits")
  expectEqual(
    UInt64(truncatingIfNeeded: opaque(Int8(-1))), UInt64.max, "truncatingIfNeeded sign-extends")
  expectEqual(UInt8(clamping: opaque(-5)), 0, "clamping below")
  expectEqual(Int8(clamping: opaque(1000)), 127, "clamping above")
  expect(
    Int8(exactly: opaque(200)) == nil && UInt32(exactly: opaque(Int64(-1))) == nil,
    "exactly fails out of range")
  expectEqual(
    UInt32(exactly: opaque(Int64(4_000_000_000))) ?? 0, 4_000_000_000, "exactly succeeds in range")
  expectException(vector: trapVector, "init(_:) traps when the value does not fit") {
    trapInput = Int64(Int8(opaque(128)))
  }
  expectEqual(Int64(bitPattern: opaque(UInt64.max)), -1, "bitPattern")
  expectEqual(opaque(UInt8(1)) << 8, 0, "<< over-shift gives 0")
  expectEqual(opaque(Int8(-128)) >> 10, -1, ">> over-shift keeps the sign")
  expectEqual(opaque(UInt16(0x10)) << -1, 0x8, "<< by a negative count shifts right")
  expectEqual(opaque(UInt8(1)) &<< 9, 2, "&<< masks the count")
  expectEqual(opaque(Int64(-16)) >> 2, -4, ">> of a negative value is arithmetic")
}

func bitsAndBytes() {
  expectEqual(opaque(UInt32(1)).leadingZeroBitCount, 31, "leadingZeroBitCount")
  expectEqual(opaque(UInt64(0)).trailingZeroBitCount, 64, "trailingZeroBitCount of 0")
  expectEqual(opaque(UInt16(0xF0F0)).nonzeroBitCount, 8, "nonzeroBitCount")
  expectEqual(opaque(UInt32(0x1122_3344)).byteSwapped, 0x4433_2211, "byteSwapped")
  var word = opaque(UInt32(0x1122_3344)).bigEndian
  let first = withPointerToWord(&word) { $0.load(as: UInt8.self) }
  expectEqual(first, 0x11, "bigEndian stores the most significant byte first")
  expectEqual(UInt32(bigEndian: word), 0x1122_3344, "init(bigEndian:) round trip")
  expectEqual(MemoryLayout<Pair>.size, 16, "struct size with padding")
  expectEqual(MemoryLayout<Pair>.alignment, 8, "struct alignment")
  expectEqual(MemoryLayout<UnsafeRawPointer?>.size, 8, "optional pointer is one word")
  var bytes: (UInt64, UInt64) = (0, 0)
  let unaligned = withPointerToPair(&bytes) { raw -> UInt32 in
    raw.storeBytes(of: opaque(UInt32(0xA1B2_C3D4)), toByteOffset: 3, as: UInt32.self)
    return raw.loadUnaligned(fromByteOffset: 3, as: UInt32.self)
  }
  expectEqual(unaligned, 0xA1B2_C3D4, "unaligned store and load")
}

func optionalsAndRanges() {
  let some: Int? = opaque(5)
  let none: Int? = opaque(nil)
  expectEqual(some.map { $0 * 2 } ?? 0, 10, "map and ??")
  expectEqual(none ?? 7, 7, "?? default")
  expect(none == nil && some != nil && some == 5, "comparisons with nil and values")
  var total = 0
  for i in 0..<opaque(10) where i % 2 == 0 { total += i }
  expectEqual(total, 20, "half-open range with where")
  var closed = 0
  for i in opaque(UInt8(250))...255 { closed += Int(i) }
  expectEqual(closed, 1515, "closed range up to the type's maximum")
  expectEqual((opaque(3)..<8).count, 5, "range count")
  expect((1...4).contains(opaque(4)) && !(1..<4).contains(opaque(4)), "contains")
  switch opaque(42) {
  case 0..<10: expect(false, "range pattern")
  case 40...49: expect(true, "range pattern")
  default: expect(false, "range pattern")
  }
}

func arraysAndClasses() {
  var values: [UInt64] = [1, 2, 3]
  let copy = values
  values.append(4)
  values[0] = 10
  expectEqual(copy.count, 3, "copies are independent (count)")
  expectEqual(copy[0], 1, "copies are independent (element)")
  expectEqual(values.count, 4, "append")
  expectEqual(values.removeLast(), 4, "removeLast")
  var sum: UInt64 = 0
  for value in values { sum += value }
  expectEqual(sum, 15, "iteration")
  expectException(vector: trapVector, "subscript out of range traps") {
    trapInput = Int64([Int64(1), 2, 3][opaque(3)])
  }
  deinitCount = 0
  do {
    var objects: [Tracked] = []
    for i in 0..<opaque(10) { objects.append(Tracked(i)) }
    let kept = objects[3]
    objects.removeAll()
    expectEqual(deinitCount, 9, "dropping an array releases its objects")
    expectEqual(kept.value, 3, "a kept reference stays valid")
  }
  expectEqual(deinitCount, 10, "the last reference's release runs deinit")
}

func withPointerToWord<R>(_ word: inout UInt32, _ body: (UnsafeRawPointer) -> R) -> R {
  withUnsafeWordPointer(&word, body)
}

@inline(never) func withUnsafeWordPointer<R>(
  _ pointer: UnsafeMutablePointer<UInt32>, _ body: (UnsafeRawPointer) -> R
) -> R {
  body(UnsafeRawPointer(pointer))
}

func withPointerToPair<R>(
  _ pair: inout (UInt64, UInt64), _ body: (UnsafeMutableRawPointer) -> R
) -> R {
  withUnsafePairPointer(&pair, body)
}

@inline(never) func withUnsafePairPointer<R>(
  _ pointer: UnsafeMutablePointer<(UInt64, UInt64)>, _ body: (UnsafeMutableRawPointer) -> R
) -> R {
  body(UnsafeMutableRawPointer(pointer))
}

/// `…ReportingOverflow`: the wrapped value and the flag, for signed and
/// unsigned types at and next to their limits.
func reportingOverflow() {
  let a = opaque(Int32.max).addingReportingOverflow(opaque(1))
  expect(a.overflow, "Int32.max + 1 overflows")
  expectEqual(a.partialValue, Int32.min, "Int32.max + 1 wraps to min")
  let b = opaque(Int32(0x7FFF_FFFE)).addingReportingOverflow(opaque(1))
  expect(!b.overflow, "Int32.max - 1 + 1 does not overflow")
  expectEqual(b.partialValue, Int32.max, "Int32.max - 1 + 1")
  let c = opaque(Int32(-1)).addingReportingOverflow(opaque(Int32.min))
  expect(c.overflow, "-1 + Int32.min overflows")
  let d = opaque(Int32(-5)).addingReportingOverflow(opaque(3))
  expect(!d.overflow, "-5 + 3 does not overflow")
  expectEqual(d.partialValue, -2, "-5 + 3")
  let e = opaque(Int64.min).subtractingReportingOverflow(opaque(1))
  expect(e.overflow, "Int64.min - 1 overflows")
  expectEqual(e.partialValue, Int64.max, "Int64.min - 1 wraps to max")
  let f = opaque(Int64(1) << 62).multipliedReportingOverflow(by: opaque(2))
  expect(f.overflow, "2^62 * 2 overflows Int64")
  let g = opaque(UInt32.max).addingReportingOverflow(opaque(1))
  expect(g.overflow, "UInt32.max + 1 overflows")
  expectEqual(g.partialValue, 0, "UInt32.max + 1 wraps to 0")
  let h = opaque(UInt64(0)).subtractingReportingOverflow(opaque(1))
  expect(h.overflow, "0 - 1 overflows UInt64")
  let i = opaque(Int8(100)).addingReportingOverflow(opaque(27))
  expect(!i.overflow, "100 + 27 fits Int8")
  let j = opaque(Int8(100)).addingReportingOverflow(opaque(28))
  expect(j.overflow, "100 + 28 overflows Int8")
}
