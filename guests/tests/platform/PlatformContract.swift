// The GuestPlatform contract of the architecture runtime (`Platform`, from
// GuestArch): the command line, the CPU count and index, the clock, CPU
// features and exceptions, the same checks on every architecture (run with
// -smp 2: the count comes from the ACPI MADT on x86_64, from SCLP on s390x).

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("boot", boot),
  Test("clock", clock),
  Test("features", features),
  Test("exceptions", exceptions),
]

func boot() throws(TestStop) {
  let smp = try require(Platform.arguments.integer("harness.smp"), "the command line reaches the guest (harness.smp)")
  expectEqual(Platform.cpuCount, Int(smp), "cpuCount is the -smp the machine was given")
  expectEqual(Platform.currentCPU, 0, "the tests run on CPU 0")
}

func clock() {
  let first = Platform.nanoseconds()
  var previous = first
  var monotonic = true
  var reads = 0
  while reads < 10_000 {
    let now = Platform.nanoseconds()
    if now < previous { monotonic = false }
    previous = now
    reads += 1
  }
  expect(monotonic, "nanoseconds never go back on one CPU")
  expect(previous, .greater, first, "nanoseconds advance")
  expect(first, .less, 60_000_000_000, "nanoseconds count from boot (less than a minute)")
  note("nanoseconds since boot", first)
}

func features() {
  #if arch(x86_64)
    expectEqual(Platform.hasFeature(.x2apic), APIC.hasX2APIC, "x2apic agrees with CPUID.1:ECX[21]")
    expect(!Platform.hasFeature(.zArchitecture), "no s390x facility on x86_64")
    expect(!Platform.hasFeature(.stfle), "no STFLE on x86_64")
  #elseif arch(s390x)
    expect(Platform.hasFeature(.zArchitecture), "z/Architecture mode is installed (facility 1)")
    expect(Platform.hasFeature(.stfle), "STFLE is installed (facility 7): it just answered")
    expect(!Platform.hasFeature(.x2apic), "no CPUID feature on s390x")
  #endif
}

func exceptions() {
  #if arch(x86_64)
    let caught = Platform.catchException({ _ in x86_ud2() }, context: nil)
    expectEqual(caught?.vector ?? 0xFF, 6, "an exception in the body is caught (#UD)")
  #elseif arch(s390x)
    let caught = Platform.catchException({ _ in s390_operation_exception() }, context: nil)
    expectEqual(caught?.vector ?? 0xFF, 1, "an exception in the body is caught (operation)")
  #endif
  expect(Platform.catchException({ _ in }, context: nil) == nil, "a quiet body returns nil")
}
