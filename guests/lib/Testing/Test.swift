// Registered guest tests. A guest program lists its tests, in run order, in
// one top-level constant:
//
//     let guestTests = [
//       Test("arithmetic", arithmetic),
//       Test("x2apic", x2apic, .requires(cpus: 2), .xfail("TCG filters x2APIC", when: .tcg)),
//     ]
//
// The payload builder's generated entry hands that list to `runGuest`, and
// the harness reads the same list from the program's sources before boot
// (`GuestTestCatalog` in Sources/Harness), so the plan is never typed by
// hand and a guest that stops early is caught by name.

/// Why a test stopped before the end of its body.
public enum TestStop: Error {
  /// A `require` failed; the failure is already recorded.
  case requirementFailed
  /// The test skipped itself (`skipTest`); the reason is reported.
  case skipped(StaticString)
}

/// A test's body: ordinary Swift that may stop early with `try require(…)`.
public typealias TestBody = () throws(TestStop) -> Void

/// The accelerator QEMU runs the guest with (`harness.accel=` on the
/// command line).
public enum Accelerator {
  /// QEMU's binary translator.
  case tcg
  /// The host's KVM.
  case kvm
}

/// A guest architecture.
public enum GuestArchitecture {
  case x86_64
  case s390x

  /// The architecture this code is compiled for.
  public static var current: GuestArchitecture {
    #if arch(s390x)
      return .s390x
    #else
      return .x86_64
    #endif
  }
}

/// When an `xfail` trait applies.
public enum XFailCondition {
  /// Always.
  case always
  /// Under this accelerator.
  case accelerator(Accelerator)
  /// On this architecture.
  case architecture(GuestArchitecture)
  /// When QEMU is older than `major.minor` (from `harness.qemu=`).
  case qemuBelow(major: Int, minor: Int)

  /// Under TCG.
  public static var tcg: XFailCondition { .accelerator(.tcg) }
  /// Under KVM.
  public static var kvm: XFailCondition { .accelerator(.kvm) }
  /// When QEMU is older than `major.minor`.
  public static func qemu(below major: Int, _ minor: Int = 0) -> XFailCondition {
    .qemuBelow(major: major, minor: minor)
  }
}

/// A property of a test: what it needs to run (else it is skipped with the
/// reason), or a known failure.
public enum Trait {
  /// At least this many CPUs.
  case minimumCPUs(Int)
  /// This accelerator.
  case accelerator(Accelerator)
  /// This architecture.
  case architecture(GuestArchitecture)
  /// This CPU feature.
  case feature(CPUFeature)
  /// At least this much guest memory, in MiB (`harness.mem=`).
  case minimumMemory(mebibytes: UInt64)
  /// Not run at all, with the reason.
  case disabled(StaticString)
  /// Expected to fail while `condition` holds: a failing check is XFAIL, a
  /// test whose checks all pass is XPASS (an unexpected pass fails the cell
  /// unless the matrix says `xpass = allow`).
  case expectedFailure(StaticString, XFailCondition)

  /// Needs at least `cpus` CPUs.
  public static func requires(cpus: Int) -> Trait { .minimumCPUs(cpus) }
  /// Needs this accelerator.
  public static func requires(_ accelerator: Accelerator) -> Trait { .accelerator(accelerator) }
  /// Needs this architecture.
  public static func requires(arch: GuestArchitecture) -> Trait { .architecture(arch) }
  /// Needs this CPU feature.
  public static func requires(feature: CPUFeature) -> Trait { .feature(feature) }
  /// Needs at least `mebibytes` MiB of guest memory.
  public static func requires(memoryMiB mebibytes: UInt64) -> Trait {
    .minimumMemory(mebibytes: mebibytes)
  }
  /// A known failure: XFAIL while `condition` holds.
  public static func xfail(_ reason: StaticString, when condition: XFailCondition = .always) -> Trait
  {
    .expectedFailure(reason, condition)
  }
}

/// One registered test of a guest program.
public struct Test {
  /// Its name: unique within the guest, `guest/name` on the host.
  public let name: StaticString
  /// Its requirements and known failures.
  public let traits: [Trait]
  /// Where it is registered.
  public let file: StaticString
  /// The line of the registration.
  public let line: UInt
  /// What it runs.
  public let body: TestBody

  /// A test named `name` running `body`, with `traits`.
  public init(
    _ name: StaticString, _ body: @escaping TestBody, _ traits: Trait...,
    file: StaticString = #fileID, line: UInt = #line
  ) {
    self.name = name
    self.body = body
    self.traits = traits
    self.file = file
    self.line = line
  }
}
