// ACPI table lookups for test programs (ACPI 6.x chapter 5): any table by
// signature through the RSDT/XSDT, the MADT's entries, its I/O APIC and its
// interrupt source overrides.

extension ACPI {
  /// The memory at physical `address` (identity-mapped), for reading table
  /// fields.
  public static func raw(_ address: UInt) -> UnsafeRawPointer { UnsafeRawPointer(bitPattern: address)! }

  /// The first table the RSDT/XSDT lists with `signature`, or nil (the RSDP
  /// found as for `discoverProcessors`: checksummed, BIOS area then EBDA).
  public static func find(_ signature: StaticString) -> UInt? {
    var found: UInt? = nil
    forEachTable { table in
      if found == nil && self.signature(table, signature) { found = table }
    }
    return found
  }

  /// Calls `body(type, entry address, length)` for every MADT entry.
  public static func forEachMADTEntry(_ body: (UInt8, UInt, Int) -> Void) {
    guard let madt = find("APIC") else { return }
    let length = Int(raw(madt).loadUnaligned(fromByteOffset: 4, as: UInt32.self))
    var offset = 44
    while offset + 2 <= length {
      let type = raw(madt).load(fromByteOffset: offset, as: UInt8.self)
      let entryLength = Int(raw(madt).load(fromByteOffset: offset + 1, as: UInt8.self))
      if entryLength < 2 { break }
      body(type, madt + UInt(offset), entryLength)
      offset += entryLength
    }
  }

  /// The MMIO address of the I/O APIC with GSI base 0 (MADT type 1), or nil.
  public static func ioapicAddress() -> UInt? {
    var found: UInt? = nil
    forEachMADTEntry { type, entry, length in
      if type == 1 && length >= 12 && raw(entry).loadUnaligned(fromByteOffset: 8, as: UInt32.self) == 0 {
        found = UInt(raw(entry).loadUnaligned(fromByteOffset: 4, as: UInt32.self))
      }
    }
    return found
  }

  /// An ISA IRQ's GSI and MPS flags (polarity bits 1:0, trigger 3:2) from
  /// the interrupt source overrides (MADT type 2); identity and 0 (bus
  /// defaults: edge, active high) without one.
  public static func isaIRQ(_ irq: UInt8) -> (gsi: UInt32, flags: UInt16) {
    var result = (gsi: UInt32(irq), flags: UInt16(0))
    forEachMADTEntry { type, entry, length in
      if type == 2 && length >= 10 && raw(entry).load(fromByteOffset: 3, as: UInt8.self) == irq {
        result = (
          raw(entry).loadUnaligned(fromByteOffset: 4, as: UInt32.self),
          raw(entry).loadUnaligned(fromByteOffset: 8, as: UInt16.self)
        )
      }
    }
    return result
  }
}
