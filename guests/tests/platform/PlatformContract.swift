// The GuestPlatform contract of the architecture runtime (`Platform`, from
// GuestArch): the command line, the CPU count and index, the clock, CPU
// features and exceptions, the same checks on every architecture (run with
// -smp 2: the count comes from the ACPI MADT on x86_64, from SCLP on s390x).

import GuestArch
import GuestLib

func guestMain() {
  plan("platform", sections: 4)

  section("boot") {
    let smp = Platform.arguments.integer("harness.smp")
    check(smp != nil, "the command line reaches the guest (harness.smp)")
    checkEqual(Platform.cpuCount, Int(smp ?? 0), "cpuCount is the -smp the machine was given")
    checkEqual(Platform.currentCPU, 0, "the tests run on CPU 0")
  }

  section("clock") {
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
    check(monotonic, "nanoseconds never go back on one CPU")
    check(previous > first, "nanoseconds advance")
    check(first < 60_000_000_000, "nanoseconds count from boot (less than a minute)")
    note("nanoseconds since boot", first)
  }

  section("features") {
    #if arch(x86_64)
      check(Platform.hasFeature(.x2apic) == APIC.hasX2APIC, "x2apic agrees with CPUID.1:ECX[21]")
      check(!Platform.hasFeature(.zArchitecture), "no s390x facility on x86_64")
      check(!Platform.hasFeature(.stfle), "no STFLE on x86_64")
    #elseif arch(s390x)
      check(Platform.hasFeature(.zArchitecture), "z/Architecture mode is installed (facility 1)")
      check(Platform.hasFeature(.stfle), "STFLE is installed (facility 7): it just answered")
      check(!Platform.hasFeature(.x2apic), "no CPUID feature on s390x")
    #endif
  }

  section("exceptions") {
    #if arch(x86_64)
      let caught = Platform.catchException({ _ in x86_ud2() }, context: nil)
      checkEqual(caught?.vector ?? 0xFF, 6, "an exception in the body is caught (#UD)")
    #elseif arch(s390x)
      let caught = Platform.catchException({ _ in s390_operation_exception() }, context: nil)
      checkEqual(caught?.vector ?? 0xFF, 1, "an exception in the body is caught (operation)")
    #endif
    check(Platform.catchException({ _ in }, context: nil) == nil, "a quiet body returns nil")
  }
}
