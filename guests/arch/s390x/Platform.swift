import GuestLib

/// The s390x runtime as a `GuestPlatform`: SCLP console and machine
/// information, the allocators, the TOD clock, STFLE facilities, and SIGP
/// STOP / disabled wait to stop the machine.
public enum S390xPlatform: GuestPlatform {
  /// The TOD clock when `boot()` started: time zero of `nanoseconds()`.
  nonisolated(unsafe) static var bootClock: UInt64 = 0
  /// Facility bits from STFLE (bit 0 = facility 0, the leftmost bit of the
  /// first doubleword), read on first use: `facilityCapacity` doublewords,
  /// of which the machine reported `facilityWords`.
  nonisolated(unsafe) static var facilities: UnsafeMutablePointer<UInt64>? = nil
  nonisolated(unsafe) static var facilityWords = 0
  static let facilityCapacity = 4

  /// The SCLP console (whole lines serialised across CPUs by
  /// `ConsoleLock`), the machine information (memory size, CPU addresses)
  /// and the command line, then the allocators.
  #if hasAttribute(export)
    @export(interface)  // compiled once in GuestArch.o, not into each program
  #endif
  public static func boot() {
    bootClock = s390_store_clock()
    Sclp.initialize()
    Console.sink = { Sclp.write($0) }
    Console.lineLock = { ConsoleLock.lock() }
    Console.lineUnlock = { ConsoleLock.unlock() }
    Console.source = {
      ConsoleLock.lock()
      let byte = Sclp.readByte()
      ConsoleLock.unlock()
      return byte
    }
    Console.write(byte: 10)
    BootInfo.capture()
    GuestMemory.setUp()
  }

  /// The command line QEMU copied into the image (`-append`).
  public static var arguments: BootArguments { BootInfo.arguments }

  /// The reset record page: 0xF000, the page below the image (0x10000),
  /// above CPU 0's 8 KiB lowcore. The allocators only manage RAM above the
  /// image (secondary CPUs' lowcores come from them), so nothing of the
  /// runtime writes it. Measured under QEMU 7.2 TCG (`-kernel`): a QMP
  /// `system_reset` re-IPLs the image and keeps every word of 0x400-0xEFFF
  /// (lowcore above the runtime's offsets, and the pages below the image).
  public static var resetRecordAddress: UInt? { 0xF000 }

  /// The CPUs SCLP READ SCP INFO reported (`BootInfo.cpuCount`), at least 1.
  public static var cpuCount: Int { max(BootInfo.cpuCount, 1) }

  /// The calling CPU's index among the addresses SCLP reported (the index
  /// `Processors` and `BootInfo.cpuAddresses` use); 0 if it is not listed.
  public static var currentCPU: Int {
    let me = s390_cpu_address()
    var index = 0
    while index < BootInfo.cpuCount {
      if BootInfo.cpuAddresses[index] == me { return index }
      index &+= 1
    }
    return 0
  }

  /// Nanoseconds since `boot()` from the TOD clock (bit 51 counts
  /// microseconds: 4096 units per µs).
  public static func nanoseconds() -> UInt64 {
    (s390_store_clock() &- bootClock) &* 1000 / 4096
  }

  /// STFLE facility bit of `feature`.
  #if hasAttribute(export)
    @export(interface)  // compiled once in GuestArch.o, not into each program
  #endif
  public static func hasFeature(_ feature: CPUFeature) -> Bool {
    guard case .facility(let number) = feature.source else { return false }
    if facilities == nil,
      let memory = GuestMemory.heap.memalign(alignment: 8, size: UInt(8 * facilityCapacity))
    {
      let list = memory.bindMemory(to: UInt64.self, capacity: facilityCapacity)
      list.initialize(repeating: 0, count: facilityCapacity)
      facilityWords = Int(s390_stfle(list, UInt64(facilityCapacity)))
      facilities = list
    }
    let word = Int(number) / 64
    guard word < min(facilityWords, facilityCapacity), let list = facilities else { return false }
    let bits = list[word]
    return bits & (1 << UInt64(63 - Int(number) % 64)) != 0
  }
}

/// The platform guest programs run on.
public typealias Platform = S390xPlatform
