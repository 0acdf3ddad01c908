import GuestLib

@_extern(c, "s390_run_psw") func s390_run_psw(_ block: UnsafeMutablePointer<UInt64>) -> UInt64
@_extern(c, "s390_run_block") func s390_run_block() -> UnsafeMutablePointer<UInt64>
@_extern(c, "s390_load_control") public func s390_load_control(_ register: UInt64, _ value: UInt64)
@_extern(c, "s390_store_control") public func s390_store_control(_ register: UInt64) -> UInt64

/// What ended a stub started by `RunPSW.run`: the interruption it took and
/// what that interruption stored in the lowcore.
public struct RunPSWResult {
  /// The program-interruption code (bit 0x80 = PER event), or
  /// `RunPSW.svcFlag | n` when the stub ended with SUPERVISOR CALL n.
  public var code: UInt64
  /// The old PSW (program old PSW, or SVC old PSW for an SVC).
  public var oldMask: UInt64
  public var oldAddress: UInt64
  /// The general registers at the interruption.
  public var registers: [UInt64]
  /// The instruction-length code (0-3) of the interruption.
  public var ilc: UInt64
  /// Lowcore 0x90-0x93 (data-exception code in the low byte).
  public var dataExceptionCode: UInt64
  /// PER code (lowcore 0x96) and PER address (0x98).
  public var perCode: UInt64
  public var perAddress: UInt64
  /// Exception access identification (0xa0) and the translation-exception
  /// identification (0xa8).
  public var exceptionAccessID: UInt64
  public var translationID: UInt64
  /// The lowcore bytes 0x80-0xbf as stored after the interruption.
  public var lowcore: [UInt8]

  /// Whether the stub ended with SUPERVISOR CALL (no program interruption).
  public var endedWithSVC: Bool { code & RunPSW.svcFlag != 0 }
  /// The condition code in the old PSW (bits 18-19).
  public var conditionCode: UInt64 { (oldMask >> 44) & 3 }
  /// The program-interruption code without the PER bit (0x80).
  public var programCode: UInt64 { endedWithSVC ? 0 : code & 0xFF7F }
}

/// Runs stubs under a chosen PSW (`s390_run_psw` in run_psw.S).
public enum RunPSW {
  /// Marks a result that ended with SUPERVISOR CALL.
  public static let svcFlag: UInt64 = 0x10000
  /// PSW bits: 64-bit addressing (EA, BA), problem state, PER, DAT, wait.
  public static let mask64: UInt64 = 0x0000_0001_8000_0000
  public static let problemState: UInt64 = 1 << 48
  public static let perMask: UInt64 = 1 << 62
  public static let datMask: UInt64 = 1 << 58
  /// The PSW key field (bits 8-11) for `key`.
  public static func key(_ key: UInt64) -> UInt64 { (key & 0xF) << 52 }

  /// Loads PSW `mask`/`address` with general registers `registers` (r0
  /// first; missing ones are 0) and returns when the stub takes an SVC or
  /// a program interruption. The caller's PSW mask is restored.
  public static func run(mask: UInt64, address: UInt64, registers: [UInt64] = []) -> RunPSWResult {
    let words = s390_run_block()
    words[0] = mask
    words[1] = address
    var index = 0
    while index < 16 {
      words[2 + index] = index < registers.count ? registers[index] : 0
      index &+= 1
    }
    let code = s390_run_psw(words)
    var out: [UInt64] = []
    index = 0
    while index < 16 {
      out.append(words[21 + index])
      index &+= 1
    }
    let low = UnsafeRawPointer(words + 37).assumingMemoryBound(to: UInt8.self)
    var bytes: [UInt8] = []
    index = 0
    while index < 64 {
      bytes.append(low[index])
      index &+= 1
    }
    func byte(_ offset: Int) -> UInt64 { UInt64(bytes[offset - 0x80]) }
    func word(_ offset: Int, _ count: Int) -> UInt64 {
      var value: UInt64 = 0
      var i = 0
      while i < count {
        value = value << 8 | byte(offset + i)
        i &+= 1
      }
      return value
    }
    let svc = code & svcFlag != 0
    return RunPSWResult(
      code: code, oldMask: words[19], oldAddress: words[20], registers: out,
      ilc: svc ? (word(0x88, 2) >> 1) & 3 : (word(0x8C, 2) >> 1) & 3,
      dataExceptionCode: word(0x90, 4), perCode: byte(0x96), perAddress: word(0x98, 8),
      exceptionAccessID: byte(0xA0), translationID: word(0xA8, 8), lowcore: bytes)
  }
}
