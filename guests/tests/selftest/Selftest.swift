// The harness's own smoke test: arithmetic, the memory map, the console,
// exceptions caught by the handler hook, and skips. The same source runs on
// x86_64 and s390x; checks of one machine's hardware are under `#if arch`.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("arithmetic", arithmetic),
  Test("memory map", memoryMap),
  Test("console", console),
  Test("exceptions", exceptions),
  Test("skips", skips),
]

func arithmetic() {
  var x: UInt32 = 0xFFFF_FFFF
  x &+= 1
  expectEqual(x, 0, "wrapping add wraps to zero")
  let (product, overflow) = UInt64(1 << 62).multipliedReportingOverflow(by: 4)
  expect(overflow && product == 0, "multiply reports overflow")
  expectEqual(Int64(-7) / 2, -3, "signed division truncates toward zero")
  expectEqual(UInt8(truncatingIfNeeded: 0x1234), 0x34, "truncation keeps low byte")
  expectEqual((0b1011_0000 as UInt16).trailingZeroBitCount, 4, "trailing zeros")
  #if arch(s390x)
    var word: UInt32 = 0x1122_3344
    let first = withUnsafeBytesOfWord(&word)
    expectEqual(first, 0x11, "memory is big-endian")
  #endif
}

func memoryMap() {
  let map = BootInfo.memoryMap
  #if arch(x86_64)
    expect(BootInfo.loaderMagicValid, "booted by a Multiboot loader")
  #elseif arch(s390x)
    expect(BootInfo.memoryBytes, .greater, 0, "SCLP READ SCP INFO reported the memory size")
  #endif
  expect(map.count, .greater, 0, "loader reported memory regions")
  expect(!map.hasOverlaps, "usable regions do not overlap")
  if let mebibytes = BootInfo.arguments.integer("harness.mem") {
    let usable = map.usableBytes
    let requested = mebibytes << 20
    #if arch(x86_64)
      // The firmware keeps a little (BIOS area, ACPI tables) for itself.
      let firmware: UInt64 = 4 << 20
      expect(
        usable, in: (requested > firmware ? requested - firmware : 0)...requested,
        "usable RAM matches -m")
    #elseif arch(s390x)
      expectEqual(BootInfo.memoryBytes, requested, "SCLP memory size matches -m")
      expectEqual(usable, requested - imageEnd(), "usable RAM is everything above the image")
    #endif
    note("usable bytes", usable)
  } else {
    skip("usable RAM matches -m", because: "no harness.mem argument")
  }
  #if arch(x86_64)
    expect(map.usableTop, .greater, x86_image_end(), "RAM extends past the image")
  #elseif arch(s390x)
    expect(map.usableTop, .greater, imageEnd(), "RAM extends past the image")
  #endif
}

func console() {
  Console.diagnostic("console line written by the guest")
  #if arch(x86_64)
    expectEqual(Serial.base, 0x3F8, "console is COM1")
    // Line status register, bit 5: transmitter holding register empty.
    expectBits(x86_inb(Serial.base + 5), set: 0x20, "transmitter ready after output")
  #elseif arch(s390x)
    expect(Sclp.consoleReady, "console is the SCLP ASCII console")
    expectEqual(Sclp.pending, 0, "a finished line has been written out")
  #endif
}

func exceptions() {
  #if arch(x86_64)
    expectException(vector: 6, "ud2 raises #UD and is caught") { x86_ud2() }
    expectException(vector: 0, "divide by zero raises #DE and is caught") { x86_divide_error() }
    expectException(vector: 13, "non-canonical load raises #GP and is caught") {
      _ = x86_load(0x8000_0000_0000_0000)
    }
    let pageFault = expectException(vector: 14, "write to unmapped page raises #PF") {
      // Above the 64 GiB identity map: not present.
      let address = UnsafeMutablePointer<UInt64>(bitPattern: UInt(0x20_0000_0000))!
      address.pointee = 1
    }
    expectEqual(pageFault?.faultAddress ?? 0, 0x20_0000_0000, "CR2 holds the fault address")
    // Error code bit 1: the access was a write.
    expectBits(pageFault?.errorCode ?? 0, set: 2, "page fault error code says write")
  #elseif arch(s390x)
    let operation = expectException(vector: 1, "invalid opcode raises an operation exception") {
      s390_operation_exception()
    }
    expectEqual(operation?.errorCode ?? 0, 1, "instruction length code is one halfword")
    expectException(vector: 9, "divide by zero raises a fixed-point-divide exception") {
      s390_divide_exception()
    }
    expectException(vector: 5, "load beyond RAM raises an addressing exception") {
      _ = s390_load(0x40_0000_0000)
    }
    expectException(vector: 6, "misaligned PSW raises a specification exception") {
      s390_specification_exception()
    }
  #endif
  expectNoException("a body without exception returns normally") {}
}

func skips() {
  skip("x2APIC mode", because: "not needed by the selftest")
  expectEqual(guestRunState.testSkipped, 1, "skip is counted as skipped")
}

#if arch(s390x)
  /// The first byte in memory of `word`.
  func withUnsafeBytesOfWord(_ word: UnsafeMutablePointer<UInt32>) -> UInt8 {
    UnsafeMutableRawPointer(word).load(as: UInt8.self)
  }
#endif
