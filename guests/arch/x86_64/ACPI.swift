import GuestLib

/// Finds the processors through ACPI: RSDP in the BIOS area, RSDT/XSDT,
/// then the MADT's local APIC and local x2APIC entries of enabled CPUs;
/// table lookups for test programs in ACPI+Tables.swift.
public enum ACPI {
  static let capacity = 64
  nonisolated(unsafe) static var apicIDs = (
    storage: UnsafeMutablePointer<UInt32>?.none, count: 0
  )

  private static func bytes(_ address: UInt) -> UnsafePointer<UInt8> {
    UnsafePointer<UInt8>(bitPattern: address)!
  }

  private static func checksumOK(_ address: UInt, _ length: Int) -> Bool {
    var sum: UInt8 = 0
    var index = 0
    while index < length {
      sum &+= bytes(address)[index]
      index &+= 1
    }
    return sum == 0
  }

  static func signature(_ address: UInt, _ text: StaticString) -> Bool {
    var index = 0
    while index < text.utf8CodeUnitCount {
      if bytes(address)[index] != text.utf8Start[index] { return false }
      index &+= 1
    }
    return true
  }

  private static func findRSDP() -> UInt? {
    var address: UInt = 0xE0000
    while address < 0x100000 {
      if signature(address, "RSD PTR ") && checksumOK(address, 20) { return address }
      address += 16
    }
    let ebda = UInt(UnsafePointer<UInt16>(bitPattern: 0x40E)!.pointee) << 4
    if ebda >= 0x80000 && ebda < 0xA0000 {
      address = ebda
      while address < ebda + 1024 {
        if signature(address, "RSD PTR ") && checksumOK(address, 20) { return address }
        address += 16
      }
    }
    return nil
  }

  /// The tables listed by the RSDT/XSDT (physical addresses).
  static func forEachTable(_ body: (UInt) -> Void) {
    guard let rsdp = findRSDP() else { return }
    let raw = UnsafeRawPointer(bitPattern: rsdp)!
    let revision = raw.load(fromByteOffset: 15, as: UInt8.self)
    let useXSDT = revision >= 2 && raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self) != 0
    let root = useXSDT
      ? UInt(raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
      : UInt(raw.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
    let table = UnsafeRawPointer(bitPattern: root)!
    let length = Int(table.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
    let entry = useXSDT ? 8 : 4
    var offset = 36
    while offset + entry <= length {
      body(
        useXSDT
          ? UInt(table.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
          : UInt(table.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
      offset += entry
    }
  }

  /// Powers the machine off through the FADT's PM1a control block (S5;
  /// QEMU's sleep type for S5 is 0). libvirt sees a SHUTDOWN event.
  static func powerOff() {
    var port: UInt16 = 0
    forEachTable { table in
      if signature(table, "FACP") {
        port = UInt16(truncatingIfNeeded: UnsafeRawPointer(bitPattern: table)!
          .loadUnaligned(fromByteOffset: 64, as: UInt32.self))
      }
    }
    if port != 0 { x86_outw(port, 1 << 13) }
  }

  /// Fills `apicIDs` into `storage`; returns the number of enabled CPUs.
  static func discoverProcessors(into storage: UnsafeMutablePointer<UInt32>) -> Int {
    apicIDs = (storage, 0)
    guard let rsdp = findRSDP() else { return 0 }
    let raw = UnsafeRawPointer(bitPattern: rsdp)!
    let revision = raw.load(fromByteOffset: 15, as: UInt8.self)
    var tables: [UInt] = []
    if revision >= 2, raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self) != 0 {
      let xsdt = UInt(raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
      let length = Int(UnsafeRawPointer(bitPattern: xsdt)!.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
      var offset = 36
      while offset + 8 <= length {
        tables.append(UInt(UnsafeRawPointer(bitPattern: xsdt)!.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
        offset += 8
      }
    } else {
      let rsdt = UInt(raw.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
      let length = Int(UnsafeRawPointer(bitPattern: rsdt)!.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
      var offset = 36
      while offset + 4 <= length {
        tables.append(UInt(UnsafeRawPointer(bitPattern: rsdt)!.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        offset += 4
      }
    }
    var count = 0
    for table in tables where signature(table, "APIC") {
      let madt = UnsafeRawPointer(bitPattern: table)!
      let length = Int(madt.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
      var offset = 44
      while offset + 2 <= length && count < capacity {
        let type = madt.load(fromByteOffset: offset, as: UInt8.self)
        let entryLength = Int(madt.load(fromByteOffset: offset + 1, as: UInt8.self))
        if entryLength < 2 { break }
        if type == 0 && entryLength >= 8 {
          let flags = madt.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
          if flags & 1 != 0 {
            storage[count] = UInt32(madt.load(fromByteOffset: offset + 3, as: UInt8.self))
            count += 1
          }
        } else if type == 9 && entryLength >= 16 {
          let flags = madt.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
          if flags & 1 != 0 {
            storage[count] = madt.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
            count += 1
          }
        }
        offset += entryLength
      }
    }
    apicIDs = (storage, count)
    return count
  }
}
