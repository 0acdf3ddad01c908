import Foundation

/// One guest's declaration in a matrix config file: every axis may list
/// several values, and the guest's cells are their cross product.
public struct GuestDeclaration: Sendable, Hashable {
  /// Guest program name (the section name).
  public var guest: String
  /// The architectures it runs on (`arch`).
  public var architectures: [Architecture]
  /// Groups/tags for `--group`.
  public var groups: [String]
  /// Cells to leave out: each a set of `axis=value` conditions, all of
  /// which must match. Values are normalized: memory in MiB, smp a plain
  /// number, cpu `default` for QEMU's default model.
  public var excludes: [[String: String]]
  /// The settings of each architecture in `architectures`, with its
  /// `key@arch` overrides applied.
  public var settings: [Architecture: ArchitectureSettings]
  /// The config file it was declared in.
  public var file: String
  /// The line of its section header.
  public var line: Int
}

/// A guest's settings on one architecture, every value parsed and checked.
public struct ArchitectureSettings: Sendable, Hashable {
  /// Accelerators (`accel`).
  public var accelerators: [Accelerator]
  /// CPU counts (`smp`).
  public var cpus: [Int]
  /// Guest RAM sizes in MiB (`memory`).
  public var memoryMiB: [Int]
  /// QEMU CPU models (`-cpu`); nil is QEMU's default model (`cpu = default`).
  public var cpuModels: [String?]
  /// QEMU machine types (`machine`, `-machine`); nil is the architecture's
  /// default (`machine = default`).
  public var machines: [String?] = [nil]
  /// The deadline before factors, in seconds (`timeout`).
  public var timeoutSeconds: Int
  /// Seconds without serial output after which a run is hung (`silence`).
  public var silenceSeconds: Int
  /// Deadline multiplier per accelerator (`tcg_factor`, `kvm_factor`) when
  /// set.
  public var timeoutFactors: [Accelerator: Double]
  /// The deadline of a cell per accelerator in `accelerators`: timeout ×
  /// that accelerator's factor, checked to be 1 s to one day.
  public var deadlines: [Accelerator: Duration]
  /// Extra QEMU argv words (`qemu_args`).
  public var qemuArguments: [String]
  /// Words appended to the guest command line (`guest_args`).
  public var guestArguments: [String]
  /// Whether an XPASS test (expected to fail, but passed) is allowed
  /// (`xpass = allow`): it then does not fail the cell, and the guest gets
  /// `harness.xpass=allow`. Default: an XPASS fails the cell (`xpass =
  /// fail`).
  public var xpassAllowed = false
  /// Whether the guest is live-migrated when it asks (`migrate = yes`;
  /// default `no`). Cell ids end in `.migrate`.
  public var migrate = false
  /// Whether the machine is reset when the guest asks (`reset = yes`;
  /// default `no`).
  public var reset = false
  /// Whether the expected outcome is a guest panic (`expect = panic`;
  /// default `exit`).
  public var expectPanic = false
  /// Most serial bytes kept from one run (`output_limit`).
  public var outputLimitBytes: Int
  /// QEMU builds (`qemu`): names; `system` is the QEMU on PATH.
  public var qemuBuilds: [String] = [LaunchSettings.systemQemu]
  /// Where named builds are (`qemu_builds = NAME=LOCATION ...`): a QEMU
  /// build directory holding `qemu-system-<arch>`, or a binary path in
  /// which `{arch}` stands for the architecture.
  public var qemuLocations: [String: String] = [:]
}

/// A configuration error, with the file and line at fault (line 0: the
/// whole file, such as one that cannot be read).
public struct ConfigError: Error, CustomStringConvertible, Sendable {
  /// The config file.
  public var file: String
  /// The line at fault, from 1; 0 for the whole file.
  public var line: Int
  /// What is wrong.
  public var message: String

  /// An error at `line` of `file` (0: the whole file).
  public init(file: String, line: Int, message: String) {
    self.file = file
    self.line = line
    self.message = message
  }

  /// `file:line: message`, or `file: message` for the whole file.
  public var description: String { line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)" }
}

/// Parser of the matrix config format (see configs/README.md):
///
///     [defaults]
///     arch = x86_64
///     [alloc]
///     memory = 256M 8G
///     exclude = accel=kvm memory=8G
///     timeout@s390x = 180
///
/// Every value is parsed with checked arithmetic and held to what QEMU
/// accepts (`ConfigLimits`); a `key@arch` override goes through the same
/// parser as the plain key, with that architecture's bounds.
public enum MatrixConfig {
  static let keys: Set<String> = [
    "arch", "accel", "smp", "memory", "cpu", "machine", "groups", "timeout", "silence",
    "qemu_args", "guest_args", "exclude", "tcg_factor", "kvm_factor", "output_limit", "qemu",
    "qemu_builds", "xpass", "migrate", "reset", "expect",
  ]
  static let overridable: Set<String> = [
    "accel", "smp", "memory", "cpu", "machine", "timeout", "silence", "qemu_args", "guest_args",
    "tcg_factor", "kvm_factor", "output_limit", "qemu", "xpass", "migrate", "reset", "expect",
  ]
  /// Keys of earlier versions, refused with what replaced them.
  static let removed: [String: String] = [
    "checks": "checks is gone: the plan is derived from the guest's registered tests"
  ]
  static let axes = ["arch", "accel", "smp", "memory", "cpu", "machine", "qemu"]

  /// Parses the file at `path`.
  public static func load(_ path: String) throws -> [GuestDeclaration] {
    let bytes: Data
    do {
      guard let handle = FileHandle(forReadingAtPath: path) else {
        throw ConfigError(file: path, line: 0, message: "cannot read the file")
      }
      defer { try? handle.close() }
      bytes = try handle.read(upToCount: ConfigLimits.maxFileBytes + 1) ?? Data()
    } catch let error as ConfigError {
      throw error
    } catch {
      throw ConfigError(file: path, line: 0, message: "cannot read the file (\(error.localizedDescription))")
    }
    if bytes.count > ConfigLimits.maxFileBytes {
      throw ConfigError(
        file: path, line: 0, message: "the file is larger than \(ConfigLimits.maxFileBytes) bytes, the most a config may be")
    }
    return try parse(bytes: bytes, file: path)
  }

  /// Parses config text; `file` names it in errors.
  public static func parse(_ text: String, file: String) throws -> [GuestDeclaration] {
    try parse(bytes: Array(text.utf8), file: file)
  }

  /// Parses config bytes (UTF-8, LF or CRLF line ends); `file` names it in
  /// errors. Every error is a `ConfigError`.
  public static func parse(bytes: some Collection<UInt8>, file: String) throws -> [GuestDeclaration] {
    let lines = try ConfigText.lines(Array(bytes), file: file)
    var defaults: [String: Entry] = [:]
    var sections: [Section] = []
    var names: Set<String> = []
    var current: Int?  // index into sections
    var inDefaults = false
    for (offset, rawLine) in lines.enumerated() {
      let number = offset + 1
      func fail(_ message: String) -> ConfigError { ConfigError(file: file, line: number, message: message) }
      var line = Substring(rawLine)
      if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
      let trimmed = ConfigText.trimmed(line)
      if trimmed.isEmpty { continue }
      if trimmed.hasPrefix("[") {
        guard trimmed.hasSuffix("]"), trimmed.count > 2 else {
          throw fail("malformed section header '\(ConfigValue.shown(trimmed))'")
        }
        let name = ConfigText.trimmed(trimmed.dropFirst().dropLast())
        guard !name.isEmpty, name.utf8.count <= 64, name.utf8.allSatisfy(isNameByte) else {
          throw fail("malformed section header '\(ConfigValue.shown(trimmed))': a name is 1-64 letters, digits, '_' or '-'")
        }
        if name == "defaults" {
          inDefaults = true
          current = nil
        } else {
          guard names.insert(name).inserted else { throw fail("guest '\(name)' declared twice") }
          guard sections.count < ConfigLimits.maxGuests else {
            throw fail("more than \(ConfigLimits.maxGuests) guest sections")
          }
          inDefaults = false
          sections.append(Section(name: name, line: number))
          current = sections.count - 1
        }
        continue
      }
      guard let equals = trimmed.firstIndex(of: "=") else {
        throw fail("expected 'key = value', got '\(ConfigValue.shown(trimmed))'")
      }
      let key = ConfigText.trimmed(trimmed[..<equals])
      let value = ConfigText.trimmed(trimmed[trimmed.index(after: equals)...])
      let parts = key.split(separator: "@", omittingEmptySubsequences: false).map(String.init)
      let baseKey = parts[0]
      guard !key.isEmpty else { throw fail("expected 'key = value', got '\(ConfigValue.shown(trimmed))'") }
      if let replaced = removed[baseKey] { throw fail(replaced) }
      guard keys.contains(baseKey) else {
        throw fail("unknown key '\(ConfigValue.shown(baseKey))'; known: \(keys.sorted().joined(separator: ", "))")
      }
      if parts.count > 1 {
        guard parts.count == 2, Architecture(rawValue: parts[1]) != nil else {
          throw fail("unknown architecture '\(ConfigValue.shown(parts.dropFirst().joined(separator: "@")))' in '\(ConfigValue.shown(key))'")
        }
        guard overridable.contains(baseKey) else {
          throw fail("'\(baseKey)' cannot be set per architecture")
        }
      }
      let entry = Entry(value: value, line: number)
      if inDefaults {
        if baseKey == "exclude" { throw fail("exclude belongs in a guest section") }
        if defaults[key] != nil { throw fail("'\(key)' set twice in [defaults]") }
        defaults[key] = entry
      } else if let index = current {
        if baseKey == "exclude" {
          guard sections[index].excludes.count < ConfigLimits.maxExcludesPerGuest else {
            throw fail("more than \(ConfigLimits.maxExcludesPerGuest) exclude lines in [\(sections[index].name)]")
          }
          sections[index].excludes.append(entry)
        } else {
          if sections[index].values[key] != nil {
            throw fail("'\(key)' set twice in [\(sections[index].name)]")
          }
          sections[index].values[key] = entry
        }
      } else {
        throw fail("setting outside a [section]")
      }
    }
    // [defaults] on its own, so its mistakes show even with no guest using them.
    for (key, entry) in defaults.sorted(by: { $0.value.line < $1.value.line }) {
      try ConfigReader(values: [key: entry], file: file).validate(key)
    }
    var declarations: [GuestDeclaration] = []
    var cellCount = 0
    for section in sections {
      var merged = defaults
      for (key, value) in section.values { merged[key] = value }
      let (declaration, cells) = try declaration(section, values: merged, file: file)
      cellCount += cells
      guard cellCount <= ConfigLimits.maxCells else {
        throw ConfigError(
          file: file, line: section.line,
          message: "with [\(section.name)] the matrix has more than \(ConfigLimits.maxCells) cells before excludes")
      }
      declarations.append(declaration)
    }
    return declarations
  }

  /// A setting's text and line.
  struct Entry {
    var value: String
    var line: Int
  }

  struct Section {
    var name: String
    var line: Int
    var values: [String: Entry] = [:]
    var excludes: [Entry] = []
  }

  private static func isNameByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, UInt8(ascii: "_"), UInt8(ascii: "-"): true
    default: false
    }
  }

  /// The declaration of one guest section, and its number of cells before
  /// excludes.
  private static func declaration(_ section: Section, values: [String: Entry], file: String) throws
    -> (GuestDeclaration, Int)
  {
    let reader = ConfigReader(values: values, file: file)
    let architectures = try reader.architectures()
    // Each setting on its own first, in line order, so the first mistake in
    // the file is the one reported: an override with its architecture's
    // bounds, a plain key with those of every architecture it applies to
    // (any architecture's when all of them override it).
    for (key, entry) in values.sorted(by: { $0.value.line < $1.value.line }) {
      let single = ConfigReader(values: [key: entry], file: file)
      if key.contains("@") {
        try single.validate(key)
      } else {
        let users = architectures.filter { values["\(key)@\($0.rawValue)"] == nil }
        if users.isEmpty { try single.validate(key) }
        for architecture in users { try single.validate(key, on: architecture) }
      }
    }
    var settings: [Architecture: ArchitectureSettings] = [:]
    var cellCount = 0
    for architecture in architectures {
      let archSettings = try reader.settings(for: architecture)
      settings[architecture] = archSettings
      var product = 1
      for count in [
        archSettings.accelerators.count, archSettings.cpus.count, archSettings.memoryMiB.count,
        archSettings.cpuModels.count, archSettings.machines.count, archSettings.qemuBuilds.count,
      ] {
        let (next, overflow) = product.multipliedReportingOverflow(by: count)
        product = overflow ? Int.max : next
      }
      cellCount = cellCount.addingReportingOverflow(product).overflow ? Int.max : cellCount + product
    }
    if cellCount > ConfigLimits.maxCellsPerGuest {
      throw ConfigError(
        file: file, line: section.line,
        message: "[\(section.name)] expands to \(cellCount == Int.max ? "too many" : String(cellCount)) cells before excludes; a guest has at most \(ConfigLimits.maxCellsPerGuest)")
    }
    var excludes: [[String: String]] = []
    for entry in section.excludes {
      excludes.append(try exclude(entry, file: file))
    }
    let declaration = GuestDeclaration(
      guest: section.name, architectures: architectures, groups: reader.words("groups") ?? [],
      excludes: excludes, settings: settings, file: file, line: section.line)
    return (declaration, cellCount)
  }

  /// One `exclude` line's conditions, values normalized as the cells'.
  private static func exclude(_ entry: Entry, file: String) throws -> [String: String] {
    func fail(_ message: String) -> ConfigError { ConfigError(file: file, line: entry.line, message: message) }
    let items = ConfigReader.split(entry.value)
    guard !items.isEmpty else { throw fail("'exclude' has no value") }
    var conditions: [String: String] = [:]
    for item in items {
      let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
      guard pair.count == 2, axes.contains(pair[0]) else {
        throw fail("exclude takes axis=value words (arch, accel, smp, memory, cpu, machine, qemu), got '\(ConfigValue.shown(item))'")
      }
      let (axis, text) = (pair[0], pair[1])
      guard conditions[axis] == nil else { throw fail("'\(axis)' appears twice in one exclude") }
      let normalized: String?
      switch axis {
      case "arch": normalized = Architecture(rawValue: text)?.rawValue
      case "accel": normalized = Accelerator(rawValue: text)?.rawValue
      case "smp":
        if case .value(let count) = ConfigValue.decimal(text) { normalized = String(count) } else { normalized = nil }
      case "memory":
        if case .value(let bytes) = ConfigValue.size(text, plainUnit: 1 << 20), bytes % (1 << 20) == 0 {
          normalized = String(bytes >> 20)
        } else {
          normalized = nil
        }
      case "qemu": normalized = ConfigValue.qemuName(text)
      case "machine":
        normalized = text == "default" || Architecture.allCases.contains { $0.machines.contains(text) } ? text : nil
      default: normalized = ConfigValue.cpuModel(text).map { $0 ?? "default" }
      }
      guard let normalized else { throw fail("'\(ConfigValue.shown(text))' is not a value of the \(axis) axis (in 'exclude')") }
      conditions[axis] = normalized
    }
    return conditions
  }

  /// `256M`, `8G`, `1T` or a plain number of MiB (no bounds but > 0);
  /// nil when malformed or too large.
  public static func parseMemory(_ text: String) -> Int? {
    guard case .value(let bytes) = ConfigValue.size(text, plainUnit: 1 << 20), bytes > 0,
      bytes % (1 << 20) == 0
    else { return nil }
    return bytes >> 20
  }

  /// A `cpu` axis value: `default` (QEMU's default model, `.some(nil)`) or
  /// a `-cpu` string of a model name and `+feature`/`-feature` words; nil
  /// when malformed.
  static func parseCPUModel(_ text: String) -> String?? { ConfigValue.cpuModel(text) }
}

/// Reads one guest's merged settings: `key@arch` first, then `key`, each
/// through the same parser, errors at the line of the entry used.
struct ConfigReader {
  var values: [String: MatrixConfig.Entry]
  var file: String

  /// Words of a value: split at spaces and tabs.
  static func split(_ text: String) -> [String] {
    text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
  }

  /// The entry for `key` on `architecture`, and the key it was set under.
  func entry(_ key: String, _ architecture: Architecture?) -> (name: String, entry: MatrixConfig.Entry)? {
    if let architecture, let entry = values["\(key)@\(architecture.rawValue)"] {
      return ("\(key)@\(architecture.rawValue)", entry)
    }
    return values[key].map { (key, $0) }
  }

  func error(
    _ key: String, _ name: String, _ entry: MatrixConfig.Entry, _ architecture: Architecture?,
    _ message: String
  ) -> ConfigError {
    if name != key, let architecture {
      return ConfigError(
        file: file, line: entry.line,
        message: "bad value '\(ConfigValue.shown(entry.value))' for '\(key)' on \(architecture): \(message) (in '\(name)')")
    }
    return ConfigError(file: file, line: entry.line, message: "\(message) (in '\(name)')")
  }

  /// Free words (`groups`, `qemu_args`, `guest_args`); nil when not set.
  func words(_ key: String, _ architecture: Architecture? = nil) -> [String]? {
    entry(key, architecture).map { Self.split($0.entry.value) }
  }

  /// A list of distinct values, each through `parse`.
  func list<T: Hashable>(
    _ key: String, _ architecture: Architecture?, default fallback: [T],
    _ parse: (String) throws(ValueProblem) -> T
  ) throws -> [T] {
    guard let (name, entry) = entry(key, architecture) else { return fallback }
    let items = Self.split(entry.value)
    guard !items.isEmpty else { throw error(key, name, entry, architecture, "'\(name)' has no value") }
    var seen: Set<T> = []
    var result: [T] = []
    for item in items {
      do {
        let value = try parse(item)
        guard seen.insert(value).inserted else {
          throw ValueProblem("'\(ConfigValue.shown(item))' is listed twice (as the same value)")
        }
        result.append(value)
      } catch let problem as ValueProblem {
        throw error(key, name, entry, architecture, problem.message)
      }
    }
    return result
  }

  /// One value through `parse`; `fallback` when not set.
  func single<T>(
    _ key: String, _ architecture: Architecture?, default fallback: T, noun: String = "number",
    _ parse: (String) throws(ValueProblem) -> T
  ) throws -> T {
    guard let (name, entry) = entry(key, architecture) else { return fallback }
    let items = Self.split(entry.value)
    guard !items.isEmpty else { throw error(key, name, entry, architecture, "'\(name)' has no value") }
    guard items.count == 1 else { throw error(key, name, entry, architecture, "'\(name)' takes one \(noun)") }
    do {
      return try parse(items[0])
    } catch let problem {
      throw error(key, name, entry, architecture, problem.message)
    }
  }

  func architectures() throws -> [Architecture] {
    try list("arch", nil, default: [.x86_64]) { text throws(ValueProblem) in
      guard let value = Architecture(rawValue: text) else {
        throw ValueProblem("'\(ConfigValue.shown(text))' is not an architecture (x86_64, s390x)")
      }
      return value
    }
  }

  func accelerators(_ architecture: Architecture?) throws -> [Accelerator] {
    try list("accel", architecture, default: [.tcg]) { text throws(ValueProblem) in
      guard let value = Accelerator(rawValue: text) else {
        throw ValueProblem("'\(ConfigValue.shown(text))' is not an accelerator (tcg, kvm)")
      }
      return value
    }
  }

  func cpus(_ architecture: Architecture?) throws -> [Int] {
    try list("smp", architecture, default: [1]) { text throws(ValueProblem) in
      try ConfigValue.cpus(text, architecture)
    }
  }

  func memory(_ architecture: Architecture?) throws -> [Int] {
    try list("memory", architecture, default: [256]) { text throws(ValueProblem) in
      try ConfigValue.memory(text, architecture)
    }
  }

  func cpuModels(_ architecture: Architecture?) throws -> [String?] {
    try list("cpu", architecture, default: [nil]) { text throws(ValueProblem) in
      guard let model = ConfigValue.cpuModel(text) else {
        throw ValueProblem("'\(ConfigValue.shown(text))' is not a CPU model like qemu64,+x2apic or 'default'")
      }
      return model
    }
  }

  /// `machine`: `default` (the architecture's own, `.some(nil)`) or a
  /// machine type the architecture's runtime boots on (`pc`, `q35`).
  func machines(_ architecture: Architecture?) throws -> [String?] {
    try list("machine", architecture, default: [nil]) { text throws(ValueProblem) -> String? in
      if text == "default" { return nil }
      let known = architecture.map { [$0] } ?? Architecture.allCases
      guard known.contains(where: { $0.machines.contains(text) }) else {
        let names = known.flatMap(\.machines).joined(separator: ", ")
        throw ValueProblem(
          "'\(ConfigValue.shown(text))' is not a machine type\(architecture.map { " of \($0)" } ?? "") (default, \(names))")
      }
      return text
    }
  }

  func qemuBuilds(_ architecture: Architecture?) throws -> [String] {
    try list("qemu", architecture, default: [LaunchSettings.systemQemu]) { text throws(ValueProblem) in
      guard let name = ConfigValue.qemuName(text) else {
        throw ValueProblem("'\(ConfigValue.shown(text))' is not a QEMU build name (1-32 letters, digits, '_', '-'; 'system' is the QEMU on PATH)")
      }
      return name
    }
  }

  /// `qemu_builds`: NAME=LOCATION words.
  func qemuLocations() throws -> [String: String] {
    guard let (name, entry) = entry("qemu_builds", nil) else { return [:] }
    var result: [String: String] = [:]
    for word in Self.split(entry.value) {
      let pair = word.split(separator: "=", maxSplits: 1).map(String.init)
      guard pair.count == 2, let build = ConfigValue.qemuName(pair[0]), build != LaunchSettings.systemQemu,
        !pair[1].isEmpty
      else {
        throw error(
          "qemu_builds", name, entry, nil,
          "'\(ConfigValue.shown(word))' is not NAME=LOCATION (a build name other than 'system', and a QEMU build directory or a binary path with {arch})")
      }
      guard result[build] == nil else {
        throw error("qemu_builds", name, entry, nil, "build '\(build)' is named twice")
      }
      result[build] = pair[1]
    }
    return result
  }

  func seconds(_ key: String, _ architecture: Architecture?, default fallback: Int) throws -> Int {
    try single(key, architecture, default: fallback, ConfigValue.seconds)
  }

  /// `xpass = fail|allow`: whether an XPASS test is allowed.
  func xpassAllowed(_ architecture: Architecture?) throws -> Bool {
    try single("xpass", architecture, default: false, noun: "value") { text throws(ValueProblem) in
      switch text {
      case "fail": return false
      case "allow": return true
      default:
        throw ValueProblem("'\(ConfigValue.shown(text))' is not fail or allow (what an XPASS test does to its cell)")
      }
    }
  }

  /// `migrate = yes|no`: whether the cell live-migrates its guest on
  /// request.
  func migrates(_ architecture: Architecture?) throws -> Bool {
    try single("migrate", architecture, default: false, noun: "value") { text throws(ValueProblem) in
      switch text {
      case "no": return false
      case "yes": return true
      default:
        throw ValueProblem("'\(ConfigValue.shown(text))' is not yes or no (whether the cell live-migrates its guest on request)")
      }
    }
  }

  /// `reset = yes|no`: whether the cell resets the machine on the guest's
  /// request.
  func resets(_ architecture: Architecture?) throws -> Bool {
    try single("reset", architecture, default: false, noun: "value") { text throws(ValueProblem) in
      switch text {
      case "no": return false
      case "yes": return true
      default:
        throw ValueProblem("'\(ConfigValue.shown(text))' is not yes or no (whether the cell resets the machine on request)")
      }
    }
  }

  /// `expect = exit|panic`: the cell's expected outcome.
  func expectsPanic(_ architecture: Architecture?) throws -> Bool {
    try single("expect", architecture, default: false, noun: "value") { text throws(ValueProblem) in
      switch text {
      case "exit": return false
      case "panic": return true
      default:
        throw ValueProblem("'\(ConfigValue.shown(text))' is not exit or panic (the cell's expected outcome)")
      }
    }
  }

  func factor(_ accelerator: Accelerator, _ architecture: Architecture?) throws -> Double? {
    try single("\(accelerator.rawValue)_factor", architecture, default: nil) { text throws(ValueProblem) in
      try ConfigValue.factor(text)
    }
  }

  func outputLimit(_ architecture: Architecture?) throws -> Int {
    try single(
      "output_limit", architecture, default: LaunchSettings.defaultOutputLimitBytes, noun: "size",
      ConfigValue.outputLimit)
  }

  /// Checks the entry `key` (`base` or `base@arch`) alone: the same parser
  /// the cells use, with the bounds of `on` or the key's architecture (a
  /// plain key without `on`: the bounds of any architecture).
  func validate(_ key: String, on target: Architecture? = nil) throws {
    let parts = key.split(separator: "@").map(String.init)
    let architecture = target ?? (parts.count == 2 ? Architecture(rawValue: parts[1]) : nil)
    switch parts[0] {
    case "arch": _ = try architectures()
    case "accel": _ = try accelerators(architecture)
    case "smp": _ = try cpus(architecture)
    case "memory": _ = try memory(architecture)
    case "cpu": _ = try cpuModels(architecture)
    case "machine": _ = try machines(architecture)
    case "timeout": _ = try seconds("timeout", architecture, default: 60)
    case "silence": _ = try seconds("silence", architecture, default: 30)
    case "xpass": _ = try xpassAllowed(architecture)
    case "migrate": _ = try migrates(architecture)
    case "reset": _ = try resets(architecture)
    case "expect": _ = try expectsPanic(architecture)
    case "tcg_factor": _ = try factor(.tcg, architecture)
    case "kvm_factor": _ = try factor(.kvm, architecture)
    case "output_limit": _ = try outputLimit(architecture)
    case "qemu": _ = try qemuBuilds(architecture)
    case "qemu_builds": _ = try qemuLocations()
    default: break  // free words: groups, qemu_args, guest_args
    }
  }

  /// Every setting of one architecture, checked, with the deadline of each
  /// accelerator (timeout × factor) held to 1 s to one day.
  func settings(for architecture: Architecture) throws -> ArchitectureSettings {
    let used = try accelerators(architecture)
    let timeout = try seconds("timeout", architecture, default: 60)
    var factors: [Accelerator: Double] = [:]
    var deadlines: [Accelerator: Duration] = [:]
    for accelerator in Accelerator.allCases {
      let scale = try factor(accelerator, architecture)
      if let scale { factors[accelerator] = scale }
      guard used.contains(accelerator) else { continue }
      let seconds = Double(timeout) * (scale ?? 1)
      if seconds < 1 || seconds > Double(ConfigLimits.maxSeconds) {
        let key = "\(accelerator.rawValue)_factor"
        if let (name, entry) = entry(key, architecture) ?? entry("timeout", architecture) {
          throw error(
            key, name, entry, nil,
            "timeout \(timeout) s × \(key) \(scale ?? 1) is a deadline of \(seconds) s on \(architecture); a deadline is 1 s to one day (\(ConfigLimits.maxSeconds) s)")
        }
      }
      let milliseconds = min(max((seconds * 1000).rounded(), 1), Double(ConfigLimits.maxSeconds) * 1000)
      deadlines[accelerator] = .milliseconds(Int64(milliseconds))
    }
    var settings = ArchitectureSettings(
      accelerators: used, cpus: try cpus(architecture), memoryMiB: try memory(architecture),
      cpuModels: try cpuModels(architecture), timeoutSeconds: timeout,
      silenceSeconds: try seconds("silence", architecture, default: 30), timeoutFactors: factors,
      deadlines: deadlines, qemuArguments: words("qemu_args", architecture) ?? [],
      guestArguments: words("guest_args", architecture) ?? [],
      outputLimitBytes: try outputLimit(architecture))
    settings.xpassAllowed = try xpassAllowed(architecture)
    settings.machines = try machines(architecture)
    settings.migrate = try migrates(architecture)
    settings.reset = try resets(architecture)
    settings.expectPanic = try expectsPanic(architecture)
    settings.qemuBuilds = try qemuBuilds(architecture)
    settings.qemuLocations = try qemuLocations()
    if architecture == .s390x {
      // The longest command line of any cell: largest numbers, longest model.
      var longest = LaunchSettings(
        architecture: architecture, accelerator: .tcg, cpus: settings.cpus.max() ?? 1,
        memoryMiB: settings.memoryMiB.max() ?? 1, guestArguments: settings.guestArguments,
        cpuModel: settings.cpuModels.max { ($0?.utf8.count ?? 0) < ($1?.utf8.count ?? 0) } ?? nil)
      longest.xpassAllowed = settings.xpassAllowed
      longest.migrate = settings.migrate
      longest.reset = settings.reset
      longest.expectPanic = settings.expectPanic
      longest.guestArguments.append("")
      let bytes =
        longest.commandLine.utf8.count + ConfigLimits.commandLineReserveBytes
        + ConfigLimits.qemuVersionReserveBytes
      if bytes > ConfigLimits.s390xCommandLineBytes,
        let (name, entry) = entry("guest_args", architecture) ?? entry("cpu", architecture)
      {
        throw error(
          "guest_args", name, entry, nil,
          "the s390x guest command line would need \(bytes) bytes with the harness's own words; QEMU 7.2 takes at most \(ConfigLimits.s390xCommandLineBytes) there")
      }
    }
    return settings
  }
}
