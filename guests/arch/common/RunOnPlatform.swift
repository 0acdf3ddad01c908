import GuestLib

/// Boots this architecture's `Platform` and runs `tests`: the one call of
/// the entry the payload builder generates for a program
/// (`Sources/Harness/GuestEntry.swift`). The test runner is generic over the
/// platform; specialized here, it is compiled once per architecture into
/// `GuestArch.o` instead of into every program (the largest part of a
/// program's compile otherwise). The list is built after boot (it
/// allocates).
#if hasAttribute(export)
  @export(interface)
#endif
public func runGuestOnPlatform(named name: StaticString, _ tests: () -> [Test]) -> Never {
  runGuest(named: name, tests(), on: Platform.self)
}

extension GuestPlatform {
  /// The runtime's `catchException` (each arch's guests/arch/<arch>/
  /// Exceptions.swift).
  public static func catchException(
    _ body: @convention(c) (UnsafeMutableRawPointer?) -> Void, context: UnsafeMutableRawPointer?
  ) -> CaughtException? {
    GuestArch.catchException(body, context: context)
  }

  /// The runtime's `exitGuest` (each arch's Machine.swift): x86_64
  /// isa-debug-exit, else pvpanic (crash) or ACPI power-off; s390x SIGP STOP
  /// of every CPU, or a disabled wait for a crash.
  public static func exit(_ status: GuestStatus) -> Never { exitGuest(status) }
}
