/// The I/O APIC through IOREGSEL (+0) and IOWIN (+10h) (82093AA datasheet).
public enum IOAPIC {
  /// The MMIO base; 0xFEC0_0000 until a program sets it from
  /// `ACPI.ioapicAddress()`.
  nonisolated(unsafe) public static var base: UInt = 0xFEC0_0000

  /// Reads I/O APIC register `register`.
  public static func read(_ register: UInt32) -> UInt32 {
    x86_mmio_write32(base, register)
    return x86_mmio_read32(base + 0x10)
  }

  /// Writes `value` to I/O APIC register `register`.
  public static func write(_ register: UInt32, _ value: UInt32) {
    x86_mmio_write32(base, register)
    x86_mmio_write32(base + 0x10, value)
  }

  /// Routes `gsi` to `vector` on the APIC `destination` (physical, fixed):
  /// level-triggered with `level`, active low with `activeLow`.
  public static func route(
    _ gsi: UInt32, vector: UInt32, level: Bool = false, activeLow: Bool = false,
    masked: Bool = false, destination: UInt32 = 0
  ) {
    let low = vector | (activeLow ? 1 << 13 : 0) | (level ? 1 << 15 : 0) | (masked ? 1 << 16 : 0)
    write(0x10 + 2 * gsi, 1 << 16)  // masked while changing
    write(0x11 + 2 * gsi, destination << 24)
    write(0x10 + 2 * gsi, low)
  }

  /// Sets the mask bit of `gsi`'s redirection entry.
  public static func mask(_ gsi: UInt32) { write(0x10 + 2 * gsi, read(0x10 + 2 * gsi) | 1 << 16) }
}
