import GuestLib

/// Ends the guest. The protocol's exit line has already been written; what
/// follows only makes the virtual machine stop. Bare QEMU has isa-debug-exit
/// (`v` becomes exit code `2v+1`). Without it (libvirt), a crash is reported
/// through pvpanic (CRASHED event) and anything else powers off through ACPI
/// (SHUTDOWN event); if neither stops the machine, the CPU halts for good.
#if hasAttribute(export)
  @export(interface)  // compiled once in GuestArch.o, not into each program
#endif
public func exitGuest(_ status: GuestStatus) -> Never {
  x86_outl(0xF4, status.rawValue)
  if status == .crashed {
    x86_outb(0x505, 1)  // pvpanic: guest panicked
  } else {
    ACPI.powerOff()
  }
  x86_halt_forever()
}
