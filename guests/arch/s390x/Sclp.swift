import GuestLib

/// The service-call logical processor (SCLP): machine information (READ SCP
/// INFO) and the ASCII console (write event data, event type 0x1A), through
/// one page-aligned control block (SCCB) in the image.
///
/// A request is started with SERVC on an SCCB whose response code is 0; the
/// machine stores a non-zero response code and then signals completion with
/// the service-signal external interruption. QEMU's TCG completes the request
/// synchronously, KVM and real machines later. While the response code is
/// still 0 the CPU waits for the interruption in an enabled wait
/// (`s390_wait_service_signal`; only the service-signal subclass is enabled
/// in CR0, and the CPU is disabled again when it returns), so the SCCB is
/// never reused before the machine is done with it; a signal left pending by
/// an earlier, already complete request only costs one more look at the
/// response code. Busy (cc 2) is retried a bounded number of times.
public enum Sclp {
  static let readSCPInfo: UInt32 = 0x0002_0001
  static let readSCPInfoForced: UInt32 = 0x0012_0001
  static let writeEventData: UInt32 = 0x0076_0005
  static let writeEventMask: UInt32 = 0x0078_0005
  static let readEventData: UInt32 = 0x0077_0005
  /// Response codes of READ EVENT DATA: events stored; no event waiting.
  static let normalCompletion: UInt16 = 0x0020
  static let noEventBuffers: UInt16 = 0x60F0
  /// Event type and mask bit of ASCII console data.
  static let asciiConsoleEvent: UInt8 = 0x1A
  static let asciiConsoleMask: UInt32 = 0x0000_0040

  /// Bytes of console output collected in the SCCB before a write.
  static let consoleCapacity = 1024
  /// Offset of the console text in the SCCB: header (8) + event header (6).
  static let consoleOffset = 14

  nonisolated(unsafe) public internal(set) static var pending = 0
  nonisolated(unsafe) public internal(set) static var consoleReady = false

  static var sccb: UnsafeMutableRawPointer {
    UnsafeMutableRawPointer(bitPattern: UInt(s390_sccb_address()))!
  }

  /// Stores `value` big-endian at `offset` of the SCCB.
  static func put16(_ value: UInt16, at offset: Int) {
    sccb.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
  }
  static func put32(_ value: UInt32, at offset: Int) {
    sccb.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
  }
  /// The big-endian value at `offset` of the SCCB.
  static func get16(at offset: Int) -> UInt16 {
    UInt16(bigEndian: sccb.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
  }
  static func get32(at offset: Int) -> UInt32 {
    UInt32(bigEndian: sccb.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
  }
  static func get64(at offset: Int) -> UInt64 {
    UInt64(bigEndian: sccb.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
  }

  /// Clears the first `length` bytes of the SCCB and sets its length.
  static func prepare(length: Int) {
    var index = 0
    while index < length {
      sccb.storeBytes(of: 0, toByteOffset: index, as: UInt8.self)
      index &+= 1
    }
    put16(UInt16(length), at: 0)
  }

  /// Runs `command` on the prepared SCCB and waits for its completion.
  /// Returns the response code, or nil when the SCLP is not operational or
  /// stayed busy.
  static func call(_ command: UInt32) -> UInt16? {
    var attempts = 0
    while attempts < 100_000 {
      switch s390_servc(command, s390_sccb_address()) {
      case 0:
        while get16(at: 6) == 0 { s390_wait_service_signal() }
        return get16(at: 6)
      case 2:
        attempts &+= 1
      default:
        return nil
      }
    }
    return nil
  }

  /// Enables the ASCII console events (write event mask).
  static func initialize() {
    prepare(length: 28)
    put16(4, at: 10)  // mask length
    put32(asciiConsoleMask, at: 12)  // control program receive mask
    put32(asciiConsoleMask, at: 16)  // control program send mask
    _ = call(writeEventMask)
    consoleReady = true
    pending = 0
  }

  /// Memory and CPU information from READ SCP INFO.
  struct MachineInfo {
    /// Bytes of RAM (rnmax × rnsize).
    var memoryBytes: UInt64
    /// Number of CPU entries and their offset in the SCCB.
    var cpuCount: Int
  }

  /// Reads the machine information; the CPU addresses stay in the SCCB
  /// until the next request, so they are copied to `cpuAddresses`.
  static func readInfo(cpuAddresses: UnsafeMutablePointer<UInt16>, capacity: Int) -> MachineInfo? {
    flush()
    prepare(length: 4096)
    var response = call(readSCPInfoForced)
    if response != 0x0010 {
      prepare(length: 4096)
      response = call(readSCPInfo)
    }
    guard response == 0x0010 else { return nil }
    var increments = UInt64(get16(at: 8))
    if increments == 0 { increments = get64(at: 104) }
    var incrementMiB = UInt64(sccb.load(fromByteOffset: 10, as: UInt8.self))
    if incrementMiB == 0 { incrementMiB = UInt64(get32(at: 100)) }
    let cpuCount = Int(get16(at: 16))
    var cpuOffset = Int(get16(at: 18))
    if cpuOffset == 0 { cpuOffset = 128 }
    var index = 0
    while index < cpuCount && index < capacity {
      cpuAddresses[index] = UInt16(
        sccb.load(fromByteOffset: cpuOffset + index * 16, as: UInt8.self))
      index &+= 1
    }
    return MachineInfo(memoryBytes: increments * incrementMiB << 20, cpuCount: min(cpuCount, capacity))
  }

  /// Queues one console byte; a newline or a full buffer writes it out.
  public static func write(_ byte: UInt8) {
    guard consoleReady else { return }
    sccb.storeBytes(of: byte, toByteOffset: consoleOffset + pending, as: UInt8.self)
    pending &+= 1
    if byte == 10 || pending == consoleCapacity { flush() }
  }

  /// Console input bytes read but not yet taken (at most `inputCapacity`).
  /// Up to 8 bytes, the first in the low byte.
  nonisolated(unsafe) static var input: UInt64 = 0
  nonisolated(unsafe) static var inputCount = 0
  nonisolated(unsafe) static var inputTaken = 0
  static let inputCapacity = 8

  /// The next console input byte, or -1 when none is waiting: taken from
  /// what the last READ EVENT DATA returned, else one more READ EVENT DATA
  /// (unconditional read: the receive mask `initialize` set, ASCII console
  /// events) polled now. Bytes past `inputCapacity` of one event are
  /// dropped. The caller holds the console lock (the SCCB is shared).
  public static func readByte() -> Int32 {
    guard consoleReady else { return -1 }
    if inputTaken < inputCount { return readByteTaken() }
    flush()
    prepare(length: 4096)
    guard call(readEventData) == normalCompletion else { return -1 }
    // Event buffers follow the 8-byte header: length, type, flags, 2
    // reserved, then the data.
    let total = Int(get16(at: 0))
    var offset = 8
    input = 0
    inputCount = 0
    inputTaken = 0
    while offset &+ 6 <= total && offset &+ 6 <= 4096 {
      let length = Int(get16(at: offset))
      if length < 6 { break }
      if sccb.load(fromByteOffset: offset &+ 2, as: UInt8.self) == asciiConsoleEvent {
        var index = 6
        while index < length && inputCount < inputCapacity && offset &+ index < 4096 {
          let byte = sccb.load(fromByteOffset: offset &+ index, as: UInt8.self)
          input |= UInt64(byte) << UInt64(8 &* inputCount)
          inputCount &+= 1
          index &+= 1
        }
      }
      offset &+= length
    }
    return readByteTaken()
  }

  /// The next buffered input byte, or -1.
  static func readByteTaken() -> Int32 {
    guard inputTaken < inputCount else { return -1 }
    let byte = UInt8(truncatingIfNeeded: input >> UInt64(8 &* inputTaken))
    inputTaken &+= 1
    return Int32(byte)
  }

  /// Writes the queued console bytes as one ASCII console event.
  public static func flush() {
    guard consoleReady && pending > 0 else { return }
    let length = consoleOffset + pending
    put16(UInt16(length), at: 0)
    sccb.storeBytes(of: 0, toByteOffset: 2, as: UInt32.self)  // function code, control mask
    put16(0, at: 6)
    put16(UInt16(6 + pending), at: 8)
    sccb.storeBytes(of: asciiConsoleEvent, toByteOffset: 10, as: UInt8.self)
    sccb.storeBytes(of: 0, toByteOffset: 11, as: UInt8.self)
    put16(0, at: 12)
    pending = 0
    _ = call(writeEventData)
  }
}
