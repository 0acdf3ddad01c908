// The harness's own smoke test: arithmetic, the memory map, the console,
// exceptions caught by the handler hook, and skips. The same source runs on
// x86_64 and s390x; checks of one machine's hardware are under `#if arch`.

import GuestArch
import GuestLib

func guestMain() {
  plan("selftest", sections: 5)

  section("arithmetic") {
    var x: UInt32 = 0xFFFF_FFFF
    x &+= 1
    checkEqual(x, 0, "wrapping add wraps to zero")
    let (product, overflow) = UInt64(1 << 62).multipliedReportingOverflow(by: 4)
    check(overflow && product == 0, "multiply reports overflow")
    checkEqual(Int64(-7) / 2, -3, "signed division truncates toward zero")
    checkEqual(UInt8(truncatingIfNeeded: 0x1234), 0x34, "truncation keeps low byte")
    checkEqual((0b1011_0000 as UInt16).trailingZeroBitCount, 4, "trailing zeros")
    #if arch(s390x)
      var word: UInt32 = 0x1122_3344
      let first = withUnsafeBytesOfWord(&word)
      checkEqual(first, 0x11, "memory is big-endian")
    #endif
  }

  section("memory map") {
    let map = BootInfo.memoryMap
    #if arch(x86_64)
      check(BootInfo.loaderMagicValid, "booted by a Multiboot loader")
    #elseif arch(s390x)
      check(BootInfo.memoryBytes > 0, "SCLP READ SCP INFO reported the memory size")
    #endif
    check(map.count > 0, "loader reported memory regions")
    check(!map.hasOverlaps, "usable regions do not overlap")
    if let mebibytes = BootInfo.arguments.integer("harness.mem") {
      let usable = map.usableBytes
      let requested = mebibytes << 20
      #if arch(x86_64)
        // The firmware keeps a little (BIOS area, ACPI tables) for itself.
        check(usable <= requested && usable + (4 << 20) >= requested, "usable RAM matches -m")
      #elseif arch(s390x)
        checkEqual(BootInfo.memoryBytes, requested, "SCLP memory size matches -m")
        checkEqual(usable, requested - imageEnd(), "usable RAM is everything above the image")
      #endif
      note("usable bytes", usable)
    } else {
      skip("usable RAM matches -m", because: "no harness.mem argument")
    }
    #if arch(x86_64)
      check(map.usableTop > x86_image_end(), "RAM extends past the image")
    #elseif arch(s390x)
      check(map.usableTop > imageEnd(), "RAM extends past the image")
    #endif
  }

  section("console") {
    Console.diagnostic("console line written by the guest")
    #if arch(x86_64)
      check(Serial.base == 0x3F8, "console is COM1")
      check(x86_inb(Serial.base + 5) & 0x20 != 0, "transmitter ready after output")
    #elseif arch(s390x)
      check(Sclp.consoleReady, "console is the SCLP ASCII console")
      checkEqual(Sclp.pending, 0, "a finished line has been written out")
    #endif
  }

  section("exceptions") {
    #if arch(x86_64)
      let undefined = catchException { _ in x86_ud2() }
      checkEqual(undefined?.vector ?? 0xFF, 6, "ud2 raises #UD and is caught")
      let divide = catchException { _ in x86_divide_error() }
      checkEqual(divide?.vector ?? 0xFF, 0, "divide by zero raises #DE and is caught")
      let general = catchException { _ in _ = x86_load(0x8000_0000_0000_0000) }
      checkEqual(general?.vector ?? 0xFF, 13, "non-canonical load raises #GP and is caught")
      let pageFault = catchException { _ in
        // Above the 64 GiB identity map: not present.
        let address = UnsafeMutablePointer<UInt64>(bitPattern: UInt(0x20_0000_0000))!
        address.pointee = 1
      }
      checkEqual(pageFault?.vector ?? 0xFF, 14, "write to unmapped page raises #PF")
      checkEqual(pageFault?.faultAddress ?? 0, 0x20_0000_0000, "CR2 holds the fault address")
      check(pageFault.map { $0.errorCode & 2 != 0 } ?? false, "page fault error code says write")
    #elseif arch(s390x)
      let operation = catchException { _ in s390_operation_exception() }
      checkEqual(operation?.vector ?? 0xFF, 1, "invalid opcode raises an operation exception")
      checkEqual(operation?.errorCode ?? 0, 1, "instruction length code is one halfword")
      let divide = catchException { _ in s390_divide_exception() }
      checkEqual(divide?.vector ?? 0xFF, 9, "divide by zero raises a fixed-point-divide exception")
      let addressing = catchException { _ in _ = s390_load(0x40_0000_0000) }
      checkEqual(addressing?.vector ?? 0xFF, 5, "load beyond RAM raises an addressing exception")
      let specification = catchException { _ in s390_specification_exception() }
      checkEqual(specification?.vector ?? 0xFF, 6, "misaligned PSW raises a specification exception")
    #endif
    let nothing = catchException { _ in }
    check(nothing == nil, "a body without exception returns normally")
  }

  section("skips") {
    skip("x2APIC mode", because: "not needed by the selftest")
    check(guestTestState.sectionSkipped == 1, "skip is counted as skipped")
  }
}

#if arch(s390x)
  /// The first byte in memory of `word`.
  func withUnsafeBytesOfWord(_ word: UnsafeMutablePointer<UInt32>) -> UInt8 {
    UnsafeMutableRawPointer(word).load(as: UInt8.self)
  }
#endif
