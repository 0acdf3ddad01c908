import GuestLib

/// Ends the guest. The protocol's exit line has already been written; the
/// console is flushed, every other CPU is stopped, and then this CPU stops
/// itself with SIGP STOP (QEMU exits with 0 once no CPU runs) — or, for a
/// crash, enters a disabled wait (a guest panic: QEMU exits with 1 under
/// `-action panic=exit-failure`).
#if hasAttribute(export)
  @export(interface)  // compiled once in GuestArch.o, not into each program
#endif
public func exitGuest(_ status: GuestStatus) -> Never {
  Sclp.flush()
  Processors.stopOthers()
  if status == .crashed { s390_disabled_wait() }
  s390_stop_self()
}
