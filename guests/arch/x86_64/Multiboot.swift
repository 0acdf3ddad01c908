import GuestLib

/// What the runtime keeps of the Multiboot information: the memory map and
/// the command line, copied into the image's own storage at boot.
public enum BootInfo {
  public static let regionCapacity = 64
  public static let commandLineCapacity = 2048

  nonisolated(unsafe) public internal(set) static var memoryMap = MemoryMap(
    storage: UnsafeMutableRawPointer(bitPattern: UInt(x86_boot_storage_address()))!
      .bindMemory(to: MemoryRegion.self, capacity: regionCapacity),
    capacity: regionCapacity)
  nonisolated(unsafe) public internal(set) static var arguments = BootArguments.empty
  nonisolated(unsafe) public internal(set) static var loaderMagicValid = false

  private static var commandLineStorage: UnsafeMutablePointer<UInt8> {
    UnsafeMutableRawPointer(bitPattern: UInt(x86_boot_storage_address()) + 4096)!
      .assumingMemoryBound(to: UInt8.self)
  }

  /// Reads the Multiboot v1 information block at `info`.
  static func capture(magic: UInt32, info: UInt32) {
    loaderMagicValid = magic == 0x2BAD_B002
    guard loaderMagicValid, let mbi = UnsafeRawPointer(bitPattern: UInt(info)) else { return }
    let flags = mbi.loadUnaligned(fromByteOffset: 0, as: UInt32.self)
    if flags & (1 << 2) != 0 {
      let address = mbi.loadUnaligned(fromByteOffset: 16, as: UInt32.self)
      if let text = UnsafePointer<UInt8>(bitPattern: UInt(address)) {
        var length = 0
        while length < commandLineCapacity - 1 && text[length] != 0 {
          commandLineStorage[length] = text[length]
          length &+= 1
        }
        arguments = BootArguments(bytes: UnsafePointer(commandLineStorage), count: length)
      }
    }
    if flags & (1 << 6) != 0 {
      let length = Int(mbi.loadUnaligned(fromByteOffset: 44, as: UInt32.self))
      let address = UInt(mbi.loadUnaligned(fromByteOffset: 48, as: UInt32.self))
      guard let entries = UnsafeRawPointer(bitPattern: address) else { return }
      var offset = 0
      while offset + 24 <= length {
        let size = Int(entries.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        let base = entries.loadUnaligned(fromByteOffset: offset + 4, as: UInt64.self)
        let bytes = entries.loadUnaligned(fromByteOffset: offset + 12, as: UInt64.self)
        let type = entries.loadUnaligned(fromByteOffset: offset + 20, as: UInt32.self)
        memoryMap.append(MemoryRegion(base: base, length: bytes, usable: type == 1))
        offset += size + 4
      }
    }
  }
}

@_extern(c, "x86_boot_storage_address") public func x86_boot_storage_address() -> UInt64
