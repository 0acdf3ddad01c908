import Foundation

/// Turns the `rip` of a guest crash record into the guest function and
/// source line, with `llvm-symbolizer` run against the payload's ELF (which
/// keeps its debug info) and `swift-demangle` for Swift names.
public struct CrashSymbolizer: Sendable {
  /// Path of `llvm-symbolizer`.
  public var symbolizer: String
  /// Path of `swift-demangle`, if found.
  public var demangler: String?
  /// Paths under this directory are reported relative to it.
  public var root: String?

  /// A symbolizer using the given tools.
  public init(symbolizer: String, demangler: String?, root: String?) {
    self.symbolizer = symbolizer
    self.demangler = demangler
    self.root = root
  }

  /// Finds `llvm-symbolizer` (and `swift-demangle`) next to `swiftc` first,
  /// then on `PATH`; nil when there is no symbolizer.
  public static func find(
    swiftc: String?, root: String?,
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> CrashSymbolizer? {
    var directories: [String] = []
    if let swiftc {
      directories.append(
        URL(fileURLWithPath: swiftc).resolvingSymlinksInPath().deletingLastPathComponent().path)
    }
    directories += (environment["PATH"] ?? "").split(separator: ":").map(String.init)
    func search(_ name: String) -> String? {
      directories.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
    guard let symbolizer = search("llvm-symbolizer") else { return nil }
    return CrashSymbolizer(symbolizer: symbolizer, demangler: search("swift-demangle"), root: root)
  }

  /// The crash address of a record: the faulting instruction, `rip` on
  /// x86_64 and `ip` on s390x (where `psw` may point past it); nil when
  /// missing or malformed.
  public static func address(of crash: CrashRecord) -> UInt64? {
    guard var text = crash.instructionAddress else { return nil }
    if text.hasPrefix("0x") || text.hasPrefix("0X") { text.removeFirst(2) }
    return UInt64(text, radix: 16)
  }

  /// The frames at `address` in `elf`, innermost first; empty when the
  /// address has no line information.
  public func frames(at address: UInt64, in elf: String) async -> [CrashFrame] {
    guard
      let outcome = try? await ToolRunner.run(
        symbolizer,
        ["--obj=\(elf)", "--inlines", "--functions=linkage", "--no-demangle", String(format: "0x%llx", address)])
    else { return [] }
    let frames = Self.parse(outcome.output, address: address, root: root)
    return await demangled(frames)
  }

  /// The function (symbol) at `address` in `elf`, also where there is no
  /// line information (assembly helpers); nil when unknown.
  public func function(at address: UInt64, in elf: String) async -> String? {
    guard
      let outcome = try? await ToolRunner.run(
        symbolizer, ["--obj=\(elf)", "--functions=linkage", String(format: "0x%llx", address)])
    else { return nil }
    let name = outcome.output.split(separator: "\n").first.map(String.init) ?? "??"
    guard name != "??", !name.isEmpty else { return nil }
    // A Swift symbol (a closure of the runtime, say) reads better demangled.
    return await demangled([CrashFrame(address: address, function: name, file: "", line: 0, column: 0)])
      .first?.function ?? name
  }

  /// Symbolizes `crash` against `elf` (a copy with `frames` filled in).
  public func symbolize(_ crash: CrashRecord, elf: String) async -> CrashRecord {
    guard let address = Self.address(of: crash) else { return crash }
    var record = crash
    record.frames = await frames(at: address, in: elf)
    return record
  }

  /// Parses llvm-symbolizer's default output: pairs of `function` and
  /// `file:line:column` lines, one pair per (inlined) frame.
  static func parse(_ output: String, address: UInt64, root: String?) -> [CrashFrame] {
    let lines = output.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    var frames: [CrashFrame] = []
    var index = 0
    while index + 1 < lines.count {
      let function = lines[index]
      let place = lines[index + 1]
      index += 2
      let parts = place.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
      guard parts.count >= 3, let line = Int(parts[parts.count - 2]), let column = Int(parts[parts.count - 1])
      else { continue }
      var file = parts.dropLast(2).joined(separator: ":")
      if file == "??" || line == 0 { continue }
      if let root, file.hasPrefix(root + "/") { file.removeFirst(root.count + 1) }
      frames.append(
        CrashFrame(
          address: address, function: function == "??" ? "?" : function, file: file, line: line,
          column: column))
    }
    return frames
  }

  private func demangled(_ frames: [CrashFrame]) async -> [CrashFrame] {
    let mangled = frames.map(\.function).filter { $0.hasPrefix("$") }
    guard let demangler, !mangled.isEmpty,
      let outcome = try? await ToolRunner.run(demangler, ["--simplified"] + mangled),
      outcome.exitCode == 0
    else { return frames }
    var names: [String: String] = [:]
    for line in outcome.output.split(separator: "\n") {
      let pair = line.components(separatedBy: " ---> ")
      if pair.count == 2 { names[pair[0]] = pair[1] }
    }
    return frames.map { frame in
      var frame = frame
      frame.function = names[frame.function] ?? frame.function
      return frame
    }
  }
}
