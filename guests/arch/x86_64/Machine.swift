/// Ends the guest. The protocol's exit line has already been written; the
/// exit code only tells QEMU to stop (isa-debug-exit turns `v` into `2v+1`).
func exitGuest(_ status: GuestStatus) -> Never {
  x86_outl(0xF4, status.rawValue)
  // No isa-debug-exit device (e.g. under libvirt): stop the CPU for good.
  x86_halt_forever()
}
