import Foundation

/// One guest's declaration in a matrix config file: every axis may list
/// several values, and the guest's cells are their cross product.
public struct GuestDeclaration: Sendable, Hashable {
  /// Guest program name (the section name).
  public var guest: String
  /// Axis values.
  public var architectures: [Architecture]
  public var accelerators: [Accelerator]
  public var cpus: [Int]
  public var memoryMiB: [Int]
  /// QEMU CPU models (`-cpu`); nil is QEMU's default model (`cpu = default`).
  public var cpuModels: [String?] = [nil]
  /// Groups/tags for `--group`.
  public var groups: [String]
  /// Per-cell deadline and silence timeout in seconds (per-arch overrides
  /// in `overrides`).
  public var timeoutSeconds: Int
  public var silenceSeconds: Int
  /// Deadline multiplier per accelerator (`tcg_factor`, `kvm_factor`;
  /// 1 when not set): a cell's deadline is `timeout` × its accelerator's
  /// factor.
  public var timeoutFactors: [Accelerator: Double] = [:]
  /// Extra QEMU arguments and guest arguments.
  public var qemuArguments: [String]
  public var guestArguments: [String]
  /// The number of checks a complete run makes, if declared.
  public var expectedChecks: Int?
  /// Cells to leave out: each a set of `axis=value` conditions, all of
  /// which must match.
  public var excludes: [[String: String]]
  /// `key@arch = value` settings, applied to that architecture's cells.
  public var overrides: [Architecture: [String: String]]
  /// Where it was declared.
  public var file: String
  public var line: Int
}

/// A configuration error, with the file and line at fault.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
  public var file: String
  public var line: Int
  public var message: String
  public var description: String { "\(file):\(line): \(message)" }
}

/// Parser of the matrix config format (see configs/README.md):
///
///     [defaults]
///     arch = x86_64
///     [alloc]
///     memory = 256M 8G
///     exclude = accel=kvm memory=8G
///     timeout@s390x = 180
public enum MatrixConfig {
  static let keys: Set<String> = [
    "arch", "accel", "smp", "memory", "cpu", "groups", "timeout", "silence", "qemu_args",
    "guest_args", "checks", "exclude", "tcg_factor", "kvm_factor",
  ]
  static let overridable: Set<String> = [
    "accel", "smp", "memory", "cpu", "timeout", "silence", "qemu_args", "guest_args", "checks",
    "tcg_factor", "kvm_factor",
  ]

  /// A deadline factor: a positive decimal number such as `1`, `2.5`.
  static func parseFactor(_ text: String) -> Double? {
    guard let value = Double(text), value.isFinite, value > 0, value <= 1000 else { return nil }
    return value
  }

  /// Parses the file at `path`.
  public static func load(_ path: String) throws -> [GuestDeclaration] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw ConfigError(file: path, line: 0, message: "cannot read the file")
    }
    return try parse(text, file: path)
  }

  /// Parses config text; `file` names it in errors.
  public static func parse(_ text: String, file: String) throws -> [GuestDeclaration] {
    var defaults: [String: (String, Int)] = [:]
    var sections: [(name: String, line: Int, values: [String: (String, Int)], excludes: [(String, Int)])] = []
    var current: Int?  // index into sections, nil = defaults
    var inDefaults = false
    for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let number = offset + 1
      var line = Substring(rawLine)
      if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if trimmed.isEmpty { continue }
      if trimmed.hasPrefix("[") {
        guard trimmed.hasSuffix("]"), trimmed.count > 2 else {
          throw ConfigError(file: file, line: number, message: "malformed section header '\(trimmed)'")
        }
        let name = String(trimmed.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
        if name == "defaults" {
          inDefaults = true
          current = nil
        } else {
          if sections.contains(where: { $0.name == name }) {
            throw ConfigError(file: file, line: number, message: "guest '\(name)' declared twice")
          }
          inDefaults = false
          sections.append((name, number, [:], []))
          current = sections.count - 1
        }
        continue
      }
      guard let equals = trimmed.firstIndex(of: "=") else {
        throw ConfigError(file: file, line: number, message: "expected 'key = value', got '\(trimmed)'")
      }
      let key = trimmed[..<equals].trimmingCharacters(in: .whitespaces)
      let value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
      let baseKey = key.split(separator: "@").first.map(String.init) ?? key
      guard keys.contains(baseKey) else {
        throw ConfigError(
          file: file, line: number,
          message: "unknown key '\(baseKey)'; known: \(keys.sorted().joined(separator: ", "))")
      }
      if key.contains("@") {
        let arch = String(key.split(separator: "@").last ?? "")
        guard Architecture(rawValue: arch) != nil else {
          throw ConfigError(file: file, line: number, message: "unknown architecture '\(arch)' in '\(key)'")
        }
        guard overridable.contains(baseKey) else {
          throw ConfigError(file: file, line: number, message: "'\(baseKey)' cannot be set per architecture")
        }
      }
      if inDefaults || current == nil {
        guard inDefaults else {
          throw ConfigError(file: file, line: number, message: "setting outside a [section]")
        }
        if baseKey == "exclude" {
          throw ConfigError(file: file, line: number, message: "exclude belongs in a guest section")
        }
        defaults[key] = (value, number)
      } else if let index = current {
        if baseKey == "exclude" {
          sections[index].excludes.append((value, number))
        } else {
          if sections[index].values[key] != nil {
            throw ConfigError(file: file, line: number, message: "'\(key)' set twice in [\(sections[index].name)]")
          }
          sections[index].values[key] = (value, number)
        }
      }
    }
    return try sections.map { section in
      var merged = defaults
      for (key, value) in section.values { merged[key] = value }
      return try declaration(
        section.name, line: section.line, values: merged, excludes: section.excludes, file: file)
    }
  }

  private static func declaration(
    _ guest: String, line: Int, values: [String: (String, Int)], excludes: [(String, Int)],
    file: String
  ) throws -> GuestDeclaration {
    func words(_ key: String) -> (values: [String], line: Int)? {
      values[key].map { ($0.0.split(separator: " ").map(String.init), $0.1) }
    }
    func list<T>(_ key: String, _ fallback: [T], _ convert: (String) -> T?, _ what: String) throws -> [T] {
      guard let (items, line) = words(key) else { return fallback }
      guard !items.isEmpty else {
        throw ConfigError(file: file, line: line, message: "'\(key)' has no value")
      }
      return try items.map { item in
        guard let value = convert(item) else {
          throw ConfigError(file: file, line: line, message: "'\(item)' is not \(what) (in '\(key)')")
        }
        return value
      }
    }
    func single(_ key: String, _ fallback: Int) throws -> Int {
      try list(key, [fallback], { Int($0).flatMap { $0 > 0 ? $0 : nil } }, "a positive integer").first!
    }
    var overrides: [Architecture: [String: String]] = [:]
    for (key, value) in values where key.contains("@") {
      let parts = key.split(separator: "@")
      overrides[Architecture(rawValue: String(parts[1]))!, default: [:]][String(parts[0])] = value.0
      _ = try validate(String(parts[0]), value.0, line: value.1, file: file)
    }
    var factors: [Accelerator: Double] = [:]
    for accelerator in Accelerator.allCases {
      let key = "\(accelerator.rawValue)_factor"
      let values = try list(key, [Double](), parseFactor, "a positive number like 1 or 2.5")
      if values.count > 1, let line = words(key)?.line {
        throw ConfigError(file: file, line: line, message: "'\(key)' takes one number")
      }
      if let factor = values.first { factors[accelerator] = factor }
    }
    var parsedExcludes: [[String: String]] = []
    for (text, number) in excludes {
      var conditions: [String: String] = [:]
      for item in text.split(separator: " ") {
        let pair = item.split(separator: "=", maxSplits: 1).map(String.init)
        guard pair.count == 2, ["arch", "accel", "smp", "memory", "cpu"].contains(pair[0]) else {
          throw ConfigError(
            file: file, line: number,
            message: "exclude takes axis=value words (arch, accel, smp, memory, cpu), got '\(item)'")
        }
        conditions[pair[0]] = pair[0] == "memory" ? parseMemory(pair[1]).map(String.init) ?? pair[1] : pair[1]
      }
      parsedExcludes.append(conditions)
    }
    return GuestDeclaration(
      guest: guest,
      architectures: try list("arch", [.x86_64], Architecture.init(rawValue:), "an architecture (x86_64, s390x)"),
      accelerators: try list("accel", [.tcg], Accelerator.init(rawValue:), "an accelerator (tcg, kvm)"),
      cpus: try list("smp", [1], { Int($0).flatMap { (1...64).contains($0) ? $0 : nil } }, "a CPU count 1-64"),
      memoryMiB: try list("memory", [256], parseMemory, "a memory size like 256M or 8G"),
      cpuModels: try list("cpu", [nil], parseCPUModel, "a CPU model like qemu64,+x2apic or 'default'"),
      groups: words("groups")?.values ?? [],
      timeoutSeconds: try single("timeout", 60),
      silenceSeconds: try single("silence", 30),
      timeoutFactors: factors,
      qemuArguments: words("qemu_args")?.values ?? [],
      guestArguments: words("guest_args")?.values ?? [],
      expectedChecks: values["checks"] == nil ? nil : try single("checks", 1),
      excludes: parsedExcludes, overrides: overrides, file: file, line: line)
  }

  /// Checks an override's value the same way as the plain key.
  private static func validate(_ key: String, _ value: String, line: Int, file: String) throws -> Bool {
    let items = value.split(separator: " ").map(String.init)
    let ok: Bool
    switch key {
    case "accel": ok = items.allSatisfy { Accelerator(rawValue: $0) != nil }
    case "smp", "timeout", "silence", "checks": ok = items.allSatisfy { (Int($0) ?? 0) > 0 }
    case "memory": ok = items.allSatisfy { parseMemory($0) != nil }
    case "cpu": ok = items.allSatisfy { parseCPUModel($0) != nil }
    case "tcg_factor", "kvm_factor": ok = items.count == 1 && parseFactor(items[0]) != nil
    default: ok = true
    }
    if !ok { throw ConfigError(file: file, line: line, message: "bad value '\(value)' for '\(key)'") }
    return ok
  }

  /// A `cpu` axis value: `default` (QEMU's default model, `.some(nil)`) or
  /// a `-cpu` string of a model name and `+feature`/`-feature` words; nil
  /// when malformed.
  static func parseCPUModel(_ text: String) -> String?? {
    if text == "default" { return .some(nil) }
    let parts = text.split(separator: ",", omittingEmptySubsequences: false)
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
    guard let name = parts.first, !name.isEmpty, name.allSatisfy(allowed.contains) else { return nil }
    for feature in parts.dropFirst() {
      guard feature.count > 1, feature.first == "+" || feature.first == "-",
        feature.dropFirst().allSatisfy(allowed.contains)
      else { return nil }
    }
    return .some(text)
  }

  /// `256M`, `8G` or a plain number of MiB.
  public static func parseMemory(_ text: String) -> Int? {
    let upper = text.uppercased()
    if upper.hasSuffix("G"), let value = Int(upper.dropLast()), value > 0 { return value * 1024 }
    if upper.hasSuffix("M"), let value = Int(upper.dropLast()), value > 0 { return value }
    if let value = Int(upper), value > 0 { return value }
    return nil
  }
}
