/// Random and mutated matrix configs, and the check that the parser holds
/// up against them: it never traps, every error is a `ConfigError` naming
/// the file and a line of the input (`path:N: `; only whole-file errors
/// name the file alone), and every config it accepts expands to cells
/// within QEMU's bounds.
///
/// Deterministic: the same seed and corpus give the same inputs, so a
/// failure is reproduced by its index (`input(at:)`).
public struct ConfigFuzzer: Sendable {
  /// Configs the mutations start from (e.g. configs/guests.cfg).
  public var corpus: [[UInt8]]
  /// The seed of the first input.
  public var seed: UInt64

  /// A fuzzer over `corpus` (the built-in sample when empty).
  public init(seed: UInt64, corpus: [[UInt8]] = []) {
    self.seed = seed
    self.corpus = corpus.isEmpty ? [Array(Self.sample.utf8)] : corpus
  }

  /// A small config in the format of configs/guests.cfg, for when no
  /// corpus file is given.
  public static let sample = """
    [defaults]
    arch = x86_64
    accel = tcg kvm
    smp = 1
    memory = 256M
    timeout = 60
    silence = 30

    [selftest]
    groups = smoke
    arch = x86_64 s390x
    accel@s390x = tcg
    xpass@s390x = allow

    [alloc]
    arch = x86_64 s390x
    memory = 256M 8G
    exclude = accel=kvm memory=8G
    memory@s390x = 256M 4G
    timeout = 180
    tcg_factor = 2.5
    output_limit = 8M

    [smp]
    smp = 1 2 4
    cpu = default qemu64,-x2apic
    exclude = accel=tcg cpu=qemu64,-x2apic
    qemu_args = -no-hpet
    guest_args = verbose=1
    xpass = fail
    """

  /// The input number `index` (from 0).
  public func input(at index: Int) -> [UInt8] {
    var random = SplitMix64(seed: seed &+ UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15)
    if random.below(8) == 0 { return Self.randomConfig(&random) }
    var bytes = corpus[random.below(corpus.count)]
    for _ in 0...random.below(4) { bytes = mutate(bytes, &random) }
    return bytes
  }

  /// What is wrong with the parser's handling of `input`, or nil when it
  /// held up. (A trap cannot be caught: it ends the process, and the input
  /// is found again by its index.)
  public static func check(_ input: [UInt8], file: String = "fuzz.cfg") -> String? {
    if case .failed(let failure) = evaluate(input, file: file) { return failure }
    return nil
  }

  /// How the parser handled one input.
  public enum Outcome: Sendable {
    /// Parsed; this many cells, all within bounds.
    case accepted(cells: Int)
    /// Refused with a well-formed error.
    case refused(ConfigError)
    /// The parser did not hold up: why.
    case failed(String)
  }

  /// Parses `input` as `file` and judges the outcome (see `check`).
  public static func evaluate(_ input: [UInt8], file: String = "fuzz.cfg") -> Outcome {
    var lineCount = 1
    for byte in input where byte == 0x0A { lineCount += 1 }
    do {
      let declarations = try MatrixConfig.parse(bytes: input, file: file)
      let cells = Matrix.cells(declarations)
      for cell in cells {
        let settings = cell.settings
        let architecture = settings.architecture
        guard (1...ConfigLimits.maxCPUs(architecture)).contains(settings.cpus),
          (ConfigLimits.minMemoryMiB...ConfigLimits.maxMemoryMiB(architecture)).contains(settings.memoryMiB),
          settings.timeout >= .seconds(1), settings.timeout <= .seconds(ConfigLimits.maxSeconds),
          settings.silenceTimeout >= .seconds(1), settings.silenceTimeout <= .seconds(ConfigLimits.maxSeconds),
          ConfigLimits.outputLimitBytes.contains(settings.outputLimitBytes),
          !settings.commandLine.unicodeScalars.contains(where: ConfigText.isControl),
          !settings.extraQemuArguments.contains(where: { $0.unicodeScalars.contains(where: ConfigText.isControl) })
        else { return .failed("accepted a cell out of bounds: \(cell.id) \(settings)") }
      }
      return .accepted(cells: cells.count)
    } catch let error as ConfigError {
      let text = error.description
      guard error.file == file else { return .failed("error names another file: \(text)") }
      if error.line == 0 {
        guard text.hasPrefix("\(file): "), input.count > ConfigLimits.maxFileBytes else {
          return .failed("error names no line: \(text)")
        }
        return .refused(error)
      }
      guard text.hasPrefix("\(file):\(error.line): "), (1...lineCount).contains(error.line) else {
        return .failed("error names no line of the input (\(lineCount) lines): \(text)")
      }
      guard !error.message.isEmpty, !error.message.contains("\n") else { return .failed("unclear message: \(text)") }
      return .refused(error)
    } catch {
      return .failed("threw something other than a ConfigError: \(error)")
    }
  }

  // MARK: Mutations

  static let huge = [
    "99999999999999999999", "9223372036854775807", "9223372036854775808", "18446744073709551616",
    "99999999999999999G", "8796093022208T", "9007199254740993", "1e309", "-1", "0", "00", "+5", "0x10",
    "1_000", "inf", "nan", "-0", "1.", ".5", "0.0000001", "1e-300", "4294967296", "2147483648", "256",
    "249", "248", "255", "1009G", "1010G", "64T", "65T", "16M", "15M", "4K", "4095", "1G", "1025M", "2.5",
    "86400", "86401", "1000", "1001", "0.001", "0.5", "4097", "1033216", "1033217", "67108864", "1073741824",
    "1073741825", "1048575K", "8796093022207", "1.0000000000000002", "999.9999999999999",
  ]
  static let unicode: [[UInt8]] = [
    Array("é".utf8), Array("😀".utf8), Array("\u{0301}".utf8), Array("\u{202E}".utf8), Array("\u{FEFF}".utf8),
    Array("\u{00A0}".utf8), Array("\u{3000}".utf8), Array("\u{2028}".utf8), Array("Ｇ".utf8), Array("٣".utf8),
    [0x00], [0x0D], [0x1B], [0x7F], [0xC2, 0x85], [0xC3, 0x28], [0xFF], [0xFE], [0xC0, 0xAF], [0xED, 0xA0, 0x80],
    [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x80], [0x09], [0xEF, 0xBB, 0xBF],
  ]
  static let keyNames =
    Array(MatrixConfig.keys) + Array(MatrixConfig.removed.keys)
    + ["frobnicate", "", "memory ", "Memory", "smp@", "@", "=", "#"]
  static let archNames = ["x86_64", "s390x", "arm", "", "X86_64", "s390x@x86_64", "x86_64 "]
  static let words = [
    "x86_64", "s390x", "tcg", "kvm", "default", "qemu64,-x2apic", "qemu64,+x2apic", "max", "qemu64;reboot",
    "256M", "8G", "1T", "512K", "1", "2", "4", "smoke", "accel=kvm", "memory=8G", "cpu=default", "smp=1",
    "arch=s390x", "-no-hpet", "verbose=1", "=", "[", "]", "#", "@", "\t", "fail", "allow", "Allow",
  ]

  func mutate(_ input: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
    var bytes = input
    let kind = random.below(19)
    var lines = [0, 1, 6, 12, 13].contains(kind)
      ? [] : bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
    func joined() -> [UInt8] { Array(lines.joined(separator: [0x0A])) }
    func anyLine() -> Int { random.below(max(lines.count, 1)) }
    switch kind {
    case 0:  // flip a bit
      guard !bytes.isEmpty else { return bytes }
      bytes[random.below(bytes.count)] ^= 1 << UInt8(random.below(8))
      return bytes
    case 1:  // a random byte
      guard !bytes.isEmpty else { return [UInt8(random.below(256))] }
      bytes[random.below(bytes.count)] = UInt8(random.below(256))
      return bytes
    case 2:  // duplicate a line
      guard !lines.isEmpty else { return bytes }
      let index = anyLine()
      lines.insert(lines[index], at: random.below(lines.count + 1))
      return joined()
    case 3:  // delete a line
      guard !lines.isEmpty else { return bytes }
      lines.remove(at: anyLine())
      return joined()
    case 4:  // swap two lines
      guard lines.count > 1 else { return bytes }
      lines.swapAt(anyLine(), anyLine())
      return joined()
    case 5, 16, 17:  // a number replaced with a huge, odd or boundary one
      return replaceValueWord(&lines, with: Array(Self.huge[random.below(Self.huge.count)].utf8), &random)
    case 6:  // unicode or invalid UTF-8 inserted
      guard !bytes.isEmpty else { return Self.unicode[random.below(Self.unicode.count)] }
      bytes.insert(contentsOf: Self.unicode[random.below(Self.unicode.count)], at: random.below(bytes.count + 1))
      return bytes
    case 7:  // empty a value
      let index = anyLine()
      guard index < lines.count, let equals = lines[index].firstIndex(of: UInt8(ascii: "=")) else { return bytes }
      lines[index] = Array(lines[index][...equals])
      return joined()
    case 8:  // key@arch variant
      let index = anyLine()
      guard index < lines.count, let equals = lines[index].firstIndex(of: UInt8(ascii: "=")) else { return bytes }
      var key = lines[index][..<equals]
      while key.last == 0x20 { key = key.dropLast() }
      let arch = Self.archNames[random.below(Self.archNames.count)]
      lines[index] = Array(key) + Array("@\(arch) ".utf8) + Array(lines[index][equals...])
      if random.below(2) == 0 { lines.insert(lines[index], at: index) }  // a base key's line stays too
      return joined()
    case 9:  // a random key line
      lines.insert(Self.randomLine(&random), at: random.below(lines.count + 1))
      return joined()
    case 10:  // CRLF line ends, some or all; or a lone CR
      let all = random.below(2) == 0
      for index in lines.indices where all || random.below(3) == 0 { lines[index].append(0x0D) }
      if random.below(4) == 0, !lines.isEmpty {
        let index = anyLine()
        lines[index].insert(0x0D, at: random.below(lines[index].count + 1))
      }
      return joined()
    case 11:  // a section header
      let names = ["defaults", "alloc", "new_guest", "a.b", "", " ", "x y", "selftest", "defaults ", "[x]"]
      lines.insert(Array("[\(names[random.below(names.count)])]".utf8), at: random.below(lines.count + 1))
      return joined()
    case 12:  // truncate
      return Array(bytes.prefix(random.below(bytes.count + 1)))
    case 13:  // splice with another corpus input
      let other = corpus[random.below(corpus.count)]
      return Array(bytes.prefix(random.below(bytes.count + 1)) + other.suffix(random.below(other.count + 1)))
    case 14:  // many words in a value (long axis lists)
      let index = anyLine()
      guard index < lines.count, lines[index].contains(UInt8(ascii: "=")) else { return bytes }
      for _ in 0..<(1 + random.below(200)) {
        lines[index] += Array(" \(random.below(300))".utf8)
      }
      return joined()
    default:  // a word replaced with another value's word
      return replaceValueWord(&lines, with: Array(Self.words[random.below(Self.words.count)].utf8), &random)
    }
  }

  /// Replaces one word of a random line's value with `word`.
  func replaceValueWord(_ lines: inout [[UInt8]], with word: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
    let candidates = lines.indices.filter { lines[$0].contains(UInt8(ascii: "=")) }
    guard !candidates.isEmpty else { return Array(lines.joined(separator: [0x0A])) }
    let index = candidates[random.below(candidates.count)]
    let line = lines[index]
    let equals = line.firstIndex(of: UInt8(ascii: "="))!
    var words = line[(equals + 1)...].split(separator: 0x20).map(Array.init)
    if words.isEmpty { words = [word] } else { words[random.below(words.count)] = word }
    lines[index] = Array(line[...equals]) + [0x20] + Array(words.joined(separator: [0x20]))
    return Array(lines.joined(separator: [0x0A]))
  }

  static func randomLine(_ random: inout SplitMix64) -> [UInt8] {
    var key = keyNames[random.below(keyNames.count)]
    if random.below(3) == 0 { key += "@" + archNames[random.below(archNames.count)] }
    var value: [String] = []
    for _ in 0..<random.below(5) {
      value.append(random.below(3) == 0 ? huge[random.below(huge.count)] : words[random.below(words.count)])
    }
    return Array("\(key) = \(value.joined(separator: " "))".utf8)
  }

  /// A config built from scratch: sections of random settings.
  static func randomConfig(_ random: inout SplitMix64) -> [UInt8] {
    var lines: [[UInt8]] = []
    for section in 0..<random.below(5) {
      lines.append(Array((section == 0 && random.below(2) == 0 ? "[defaults]" : "[g\(section)]").utf8))
      for _ in 0..<random.below(8) { lines.append(randomLine(&random)) }
    }
    return Array(lines.joined(separator: [0x0A]))
  }
}

extension ConfigFuzzer {
  /// A small, fast, seeded pseudo-random generator (SplitMix64).
  public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }

    /// A number in `0..<bound` (0 when `bound` is not positive).
    public mutating func below(_ bound: Int) -> Int {
      bound > 0 ? Int(next() % UInt64(bound)) : 0
    }
  }
}
