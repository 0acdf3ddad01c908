import GuestLib

/// The 16550 UART at COM1, the guest's console on x86_64.
public enum Serial {
  public static let base: UInt16 = 0x3F8

  /// Programs 115200 baud, 8N1, FIFOs on, interrupts off.
  static func initialize() {
    x86_outb(base + 1, 0x00)
    x86_outb(base + 3, 0x80)
    x86_outb(base + 0, 0x01)
    x86_outb(base + 1, 0x00)
    x86_outb(base + 3, 0x03)
    x86_outb(base + 2, 0xC7)
    x86_outb(base + 4, 0x03)
  }

  /// The byte the receiver holds (line status bit 0: data ready), or -1
  /// when none came. Polled: the UART's interrupts stay off.
  public static func read() -> Int32 {
    guard x86_inb(base + 5) & 0x01 != 0 else { return -1 }
    return Int32(x86_inb(base))
  }

  /// Sends one byte once the transmitter holding register is empty.
  public static func write(_ byte: UInt8) {
    while x86_inb(base + 5) & 0x20 == 0 { x86_pause() }
    x86_outb(base, byte)
  }
}
