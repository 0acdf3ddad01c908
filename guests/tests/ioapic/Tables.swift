// ACPI tables this program reads (ACPI 6.x chapter 5; the same reader as
// the timers guest): the RSDP in the BIOS area, the RSDT/XSDT, the MADT's I/O APIC and interrupt source
// override entries, the HPET table.

import GuestArch
import GuestLib

enum Tables {
  static func bytes(_ address: UInt) -> UnsafeRawPointer { UnsafeRawPointer(bitPattern: address)! }

  static func matches(_ address: UInt, _ text: StaticString) -> Bool {
    var i = 0
    while i < text.utf8CodeUnitCount {
      if bytes(address).load(fromByteOffset: i, as: UInt8.self) != text.utf8Start[i] { return false }
      i += 1
    }
    return true
  }

  /// The first table with `signature`, or nil.
  static func find(_ signature: StaticString) -> UInt? {
    var rsdp: UInt = 0
    var address: UInt = 0xE0000
    while address < 0x100000 {
      if matches(address, "RSD PTR ") {
        rsdp = address
        break
      }
      address += 16
    }
    guard rsdp != 0 else { return nil }
    let raw = bytes(rsdp)
    let xsdt = raw.load(fromByteOffset: 15, as: UInt8.self) >= 2
      ? UInt(raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)) : 0
    let root = xsdt != 0 ? xsdt : UInt(raw.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
    let entry = xsdt != 0 ? 8 : 4
    let length = Int(bytes(root).loadUnaligned(fromByteOffset: 4, as: UInt32.self))
    var offset = 36
    while offset + entry <= length {
      let table = entry == 8
        ? UInt(bytes(root).loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        : UInt(bytes(root).loadUnaligned(fromByteOffset: offset, as: UInt32.self))
      if matches(table, signature) { return table }
      offset += entry
    }
    return nil
  }

  /// Calls `body(type, entry address, length)` for every MADT entry.
  static func forEachMADTEntry(_ body: (UInt8, UInt, Int) -> Void) {
    guard let madt = find("APIC") else { return }
    let length = Int(bytes(madt).loadUnaligned(fromByteOffset: 4, as: UInt32.self))
    var offset = 44
    while offset + 2 <= length {
      let type = bytes(madt).load(fromByteOffset: offset, as: UInt8.self)
      let entryLength = Int(bytes(madt).load(fromByteOffset: offset + 1, as: UInt8.self))
      if entryLength < 2 { break }
      body(type, madt + UInt(offset), entryLength)
      offset += entryLength
    }
  }

  /// The I/O APIC with GSI base 0: its MMIO address (MADT type 1).
  static func ioapicAddress() -> UInt? {
    var found: UInt? = nil
    forEachMADTEntry { type, entry, length in
      if type == 1 && length >= 12 && bytes(entry).loadUnaligned(fromByteOffset: 8, as: UInt32.self) == 0 {
        found = UInt(bytes(entry).loadUnaligned(fromByteOffset: 4, as: UInt32.self))
      }
    }
    return found
  }

  /// An ISA IRQ's GSI and MPS flags (polarity bits 1:0, trigger 3:2) from
  /// the interrupt source overrides (MADT type 2); identity and 0 (bus
  /// defaults: edge, active high) without one.
  static func isaIRQ(_ irq: UInt8) -> (gsi: UInt32, flags: UInt16) {
    var result = (gsi: UInt32(irq), flags: UInt16(0))
    forEachMADTEntry { type, entry, length in
      if type == 2 && length >= 10 && bytes(entry).load(fromByteOffset: 3, as: UInt8.self) == irq {
        result = (
          bytes(entry).loadUnaligned(fromByteOffset: 4, as: UInt32.self),
          bytes(entry).loadUnaligned(fromByteOffset: 8, as: UInt16.self)
        )
      }
    }
    return result
  }
}

/// The I/O APIC through IOREGSEL (+0) and IOWIN (+10h) (82093AA datasheet).
enum IOAPIC {
  nonisolated(unsafe) static var base: UInt = 0xFEC0_0000

  static func read(_ register: UInt32) -> UInt32 {
    x86_mmio_write32(base, register)
    return x86_mmio_read32(base + 0x10)
  }

  static func write(_ register: UInt32, _ value: UInt32) {
    x86_mmio_write32(base, register)
    x86_mmio_write32(base + 0x10, value)
  }

  /// Routes `gsi` to `vector` on the APIC `destination` (physical, fixed):
  /// level-triggered with `level`, active low with `activeLow`.
  static func route(
    _ gsi: UInt32, vector: UInt32, level: Bool = false, activeLow: Bool = false,
    masked: Bool = false, destination: UInt32 = 0
  ) {
    let low = vector | (activeLow ? 1 << 13 : 0) | (level ? 1 << 15 : 0) | (masked ? 1 << 16 : 0)
    write(0x10 + 2 * gsi, 1 << 16)  // masked while changing
    write(0x11 + 2 * gsi, destination << 24)
    write(0x10 + 2 * gsi, low)
  }

  static func mask(_ gsi: UInt32) { write(0x10 + 2 * gsi, read(0x10 + 2 * gsi) | 1 << 16) }
}
