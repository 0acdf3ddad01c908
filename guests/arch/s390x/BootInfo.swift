import GuestLib

/// What the runtime keeps of the machine: the memory size from SCLP READ
/// SCP INFO (as a memory map with one usable region, from the end of the
/// image to the top of RAM), the CPU addresses, and the command line QEMU
/// copied to 0x10480, all copied into the image's own storage at boot.
public enum BootInfo {
  public static let regionCapacity = 8
  public static let cpuCapacity = 256
  public static let commandLineCapacity = 2048
  /// Where QEMU writes the `-append` text, and the u64 holding its maximum
  /// length (896 bytes when zero).
  public static let commandLineAddress: UInt = 0x10480
  public static let commandLineSizeAddress: UInt = 0x10430
  public static let legacyCommandLineSize = 896

  private static var storage: UnsafeMutableRawPointer {
    UnsafeMutableRawPointer(bitPattern: UInt(s390_boot_storage_address()))!
  }

  nonisolated(unsafe) public internal(set) static var memoryMap = MemoryMap(
    storage: storage.bindMemory(to: MemoryRegion.self, capacity: regionCapacity),
    capacity: regionCapacity)
  nonisolated(unsafe) public internal(set) static var arguments = BootArguments.empty
  /// Bytes of RAM the machine reported (0 if READ SCP INFO failed).
  nonisolated(unsafe) public internal(set) static var memoryBytes: UInt64 = 0
  /// Number of CPUs the machine reported (configured ones).
  nonisolated(unsafe) public internal(set) static var cpuCount = 0

  /// The CPU addresses from READ SCP INFO.
  public static var cpuAddresses: UnsafeMutablePointer<UInt16> {
    (storage + 1024).assumingMemoryBound(to: UInt16.self)
  }
  private static var commandLineStorage: UnsafeMutablePointer<UInt8> {
    (storage + 4096).assumingMemoryBound(to: UInt8.self)
  }

  /// Reads the machine information and the command line.
  static func capture() {
    let addresses = (storage + 1024).bindMemory(to: UInt16.self, capacity: cpuCapacity)
    if let info = Sclp.readInfo(cpuAddresses: addresses, capacity: cpuCapacity) {
      memoryBytes = info.memoryBytes
      cpuCount = info.cpuCount
      let end = (imageEnd() + 4095) & ~4095
      if memoryBytes > end {
        memoryMap.append(MemoryRegion(base: end, length: memoryBytes - end, usable: true))
      }
    }
    let declared = UnsafePointer<UInt64>(bitPattern: commandLineSizeAddress)!.pointee
    let limit = min(declared == 0 ? legacyCommandLineSize : Int(declared), commandLineCapacity)
    let text = UnsafePointer<UInt8>(bitPattern: commandLineAddress)!
    var length = 0
    while length < limit - 1 && text[length] != 0 {
      commandLineStorage[length] = text[length]
      length &+= 1
    }
    arguments = BootArguments(bytes: UnsafePointer(commandLineStorage), count: length)
  }
}
