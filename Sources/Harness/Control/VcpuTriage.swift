import Foundation

/// Where each vCPU of a hung guest was when the harness gave up on it: read
/// through QMP (`info registers -a` of the human monitor) just before QEMU
/// is killed, then symbolized against the payload so the verdict can say
/// "CPU 1 stuck at Smp.swift:120 in waitForAck()".
public struct VcpuPosition: Sendable, Hashable, Codable {
  /// The CPU index.
  public var cpu: Int
  /// Its program counter: RIP (x86_64) or the PSW address (s390x).
  public var pc: UInt64
  /// Key registers as printed (x86_64: RSP, CR2, RFLAGS; s390x: the PSW
  /// mask and the prefix).
  public var registers: [String: String]
  /// The symbolized location, innermost frame first (empty until then).
  public var frames: [CrashFrame] = []
  /// The function at `pc` when it has no line information (assembly).
  public var symbol: String?
  /// Where a leaf function at `pc` returns to, when the harness could read
  /// it: s390x's R14, x86_64's word at RSP. Only meaningful in a function
  /// that has not pushed anything (the runtime's assembly helpers), so it
  /// is symbolized only where `pc` has no line information.
  public var returnAddress: UInt64?
  /// The symbolized frames of the call before `returnAddress`, innermost
  /// first (empty unless `pc` is in code without line information).
  public var caller: [CrashFrame] = []

  /// A position.
  public init(
    cpu: Int, pc: UInt64, registers: [String: String], frames: [CrashFrame] = [], symbol: String? = nil
  ) {
    self.cpu = cpu
    self.pc = pc
    self.registers = registers
    self.frames = frames
    self.symbol = symbol
  }

  /// `CPU n stuck at file:line in function`; in an assembly helper, its
  /// caller's line with the helper's name (`… in waitForAck() (in
  /// x86_pause)`), else the address.
  public var summary: String {
    if let frame = frames.first {
      return "CPU \(cpu) stuck at \(frame.file):\(frame.line) in \(frame.function)"
    }
    let helper = symbol ?? "0x" + String(pc, radix: 16)
    if let frame = caller.first {
      return "CPU \(cpu) stuck at \(frame.file):\(frame.line) in \(frame.function) (in \(helper))"
    }
    return "CPU \(cpu) stuck at 0x\(String(pc, radix: 16))" + (symbol.map { " in \($0)" } ?? "")
  }

  /// The summary with the program counter and the key registers:
  /// `CPU 1 stuck at Smp.swift:120 in waitForAck() (pc 0x1234, RSP=…)`.
  public var detailLine: String {
    let values = registers.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    return summary + " (" + (["pc 0x" + String(pc, radix: 16)] + values).joined(separator: ", ") + ")"
  }
}

public enum VcpuTriage {
  /// Reads every vCPU's position through the QMP socket at `path`; the
  /// transcript of the monitor conversation is returned with it. Bounded by
  /// `timeout`; a failure returns what it could and the reason.
  public static func capture(qmp path: String, architecture: Architecture, timeout: Duration = .seconds(2))
    -> (positions: [VcpuPosition], transcript: [String])
  {
    do {
      let client = try QmpClient(path: path, timeout: timeout)
      // Stop the vCPUs first, so the registers are a consistent picture.
      try client.execute("stop")
      let text = try client.human("info registers -a")
      var positions = parse(text, architecture: architecture)
      if architecture == .x86_64 {
        // The word at each CPU's RSP: a leaf helper's return address.
        for index in positions.indices {
          guard let command = stackWordCommand(positions[index]) else { continue }
          let word = try? client.human(command, cpu: positions[index].cpu)
          positions[index].returnAddress = word.flatMap(parseMemoryWord)
        }
      }
      return (positions, client.transcript)
    } catch {
      return ([], ["QMP: \(error)"])
    }
  }

  /// The human-monitor command that reads the 8 bytes at `position`'s RSP
  /// (through that CPU's page tables); nil without an RSP.
  public static func stackWordCommand(_ position: VcpuPosition) -> String? {
    guard let rsp = position.registers["RSP"], UInt64(rsp, radix: 16) != nil else { return nil }
    return "x /1gx 0x\(rsp)"
  }

  /// The value in the human monitor's `x /1gx` reply
  /// (`0000000000152de0: 0x0000000000109abc`); nil when there is none.
  public static func parseMemoryWord(_ text: String) -> UInt64? {
    guard let colon = text.firstIndex(of: ":") else { return nil }
    var value = text[text.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
    guard value.hasPrefix("0x") else { return nil }
    value.removeFirst(2)
    return UInt64(value.prefix { $0.isHexDigit }, radix: 16)
  }

  /// The positions in the human monitor's `info registers -a` output.
  public static func parse(_ text: String, architecture: Architecture) -> [VcpuPosition] {
    var result: [VcpuPosition] = []
    var cpu = -1
    var current: VcpuPosition?
    // Registers QEMU prints before the program counter (x86_64's RSP is on
    // the line above RIP's): kept until the position starts.
    var early: [String: String] = [:]
    func flush() {
      if let current { result.append(current) }
      current = nil
      early = [:]
    }
    for rawLine in text.split(whereSeparator: \.isNewline) {  // CRLF is one Character
      let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
      if line.hasPrefix("CPU#") {
        flush()
        cpu = Int(line.dropFirst(4).prefix { $0.isNumber }) ?? (cpu + 1)
        continue
      }
      let fields = registerFields(line)
      switch architecture {
      case .x86_64:
        // RIP in long mode, EIP before it.
        if let rip = fields["RIP"] ?? fields["EIP"], let pc = UInt64(rip, radix: 16) {
          let before = early
          flush()
          current = VcpuPosition(
            cpu: max(cpu, 0), pc: pc, registers: before.merging(["RFL": fields["RFL"] ?? ""]) { $1 })
        }
        for key in ["RSP", "ESP", "CR2"] {
          guard let value = fields[key] else { continue }
          if current != nil { current?.registers[key] = value } else { early[key] = value }
        }
      case .s390x:
        // "PSW=mask 0704200180000000 addr 0000000000011a2e cc 00"
        if line.hasPrefix("PSW=mask") {
          let words = line.split(separator: " ")
          if let index = words.firstIndex(of: "addr"), index + 1 < words.count,
            let pc = UInt64(words[index + 1], radix: 16)
          {
            flush()
            current = VcpuPosition(
              cpu: max(cpu, 0), pc: pc,
              registers: ["PSW.mask": words.count > 1 ? String(words[1]) : ""])
          }
        }
        if line.hasPrefix("Prefix") || line.hasPrefix("prefix"), let value = line.split(separator: " ").last {
          current?.registers["prefix"] = String(value)
        }
        // R14 holds a leaf function's return address (BRASL 14 / BR 14).
        if let r14 = fields["R14"], let value = UInt64(r14, radix: 16) {
          current?.returnAddress = value
          current?.registers["R14"] = r14
        }
      }
    }
    flush()
    return result
  }

  /// `KEY=value` pairs of one register line (`RIP=0000000000101234 RFL=…`).
  static func registerFields(_ line: String) -> [String: String] {
    var fields: [String: String] = [:]
    for word in line.split(separator: " ") {
      let pair = word.split(separator: "=", maxSplits: 1)
      if pair.count == 2 { fields[String(pair[0])] = String(pair[1]) }
    }
    return fields
  }
}
