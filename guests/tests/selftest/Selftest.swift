// The harness's own smoke test: arithmetic, the memory map, the console,
// exceptions caught by the handler hook, and skips.

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
  }

  section("memory map") {
    let map = BootInfo.memoryMap
    check(BootInfo.loaderMagicValid, "booted by a Multiboot loader")
    check(map.count > 0, "loader reported memory regions")
    check(!map.hasOverlaps, "usable regions do not overlap")
    if let mebibytes = BootInfo.arguments.integer("harness.mem") {
      let usable = map.usableBytes
      let requested = mebibytes << 20
      // The firmware keeps a little (BIOS area, ACPI tables) for itself.
      check(usable <= requested && usable + (4 << 20) >= requested, "usable RAM matches -m")
      note("usable bytes", usable)
    } else {
      skip("usable RAM matches -m", because: "no harness.mem argument")
    }
    check(map.usableTop > x86_image_end(), "RAM extends past the image")
  }

  section("console") {
    Console.diagnostic("console line written by the guest")
    check(Serial.base == 0x3F8, "console is COM1")
    check(x86_inb(Serial.base + 5) & 0x20 != 0, "transmitter ready after output")
  }

  section("exceptions") {
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
    let nothing = catchException { _ in }
    check(nothing == nil, "a body without exception returns normally")
  }

  section("skips") {
    skip("x2APIC mode", because: "not needed by the selftest")
    check(guestTestState.sectionSkipped == 1, "skip is counted as skipped")
  }
}
