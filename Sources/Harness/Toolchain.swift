import Foundation

/// The compilers and binutils the payload builder runs: the Swift toolchain
/// the user runs (`swiftc` on PATH, or next to `swift`), with clang,
/// ld.lld and llvm-objcopy taken from the same directory when present.
public struct Toolchain: Sendable {
  /// Path of `swiftc`.
  public var swiftc: String
  /// Path of `clang` (assembles the boot code).
  public var clang: String
  /// Path of `ld.lld`.
  public var lld: String
  /// Path of `llvm-objcopy`.
  public var objcopy: String

  /// Finds the toolchain; `SWIFTC` in the environment overrides the search.
  public static func find(environment: [String: String] = ProcessInfo.processInfo.environment)
    throws -> Toolchain
  {
    let path = (environment["PATH"] ?? "").split(separator: ":").map(String.init)
    func search(_ name: String, preferring directory: String?) -> String? {
      var candidates: [String] = []
      if let directory { candidates.append(directory + "/" + name) }
      candidates += path.map { $0 + "/" + name }
      return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
    let swiftc: String
    if let explicit = environment["SWIFTC"] {
      guard FileManager.default.isExecutableFile(atPath: explicit) else {
        throw HarnessError.toolNotFound(explicit, hint: "SWIFTC does not name an executable")
      }
      swiftc = explicit
    } else if let found = search("swiftc", preferring: nil) {
      swiftc = found
    } else if let swift = search("swift", preferring: nil) {
      let sibling = (URL(fileURLWithPath: swift).resolvingSymlinksInPath()
        .deletingLastPathComponent().path) + "/swiftc"
      guard FileManager.default.isExecutableFile(atPath: sibling) else {
        throw HarnessError.toolNotFound("swiftc", hint: "not next to \(swift)")
      }
      swiftc = sibling
    } else {
      throw HarnessError.toolNotFound("swiftc", hint: "put a Swift 6.x toolchain on PATH")
    }
    let directory = URL(fileURLWithPath: swiftc).resolvingSymlinksInPath()
      .deletingLastPathComponent().path
    func tool(_ name: String) throws -> String {
      guard let found = search(name, preferring: directory) else {
        throw HarnessError.toolNotFound(name, hint: "expected next to \(swiftc) or on PATH")
      }
      return found
    }
    return Toolchain(
      swiftc: swiftc, clang: try tool("clang"), lld: try tool("ld.lld"),
      objcopy: try tool("llvm-objcopy"))
  }

  /// Whether the toolchain ships an Embedded Swift standard library for
  /// `architecture` (otherwise the project's minimal core module is used).
  public func hasEmbeddedStdlib(for architecture: Architecture) -> Bool {
    let root = URL(fileURLWithPath: swiftc).resolvingSymlinksInPath()
      .deletingLastPathComponent().deletingLastPathComponent()
    let module = root.appendingPathComponent(
      "lib/swift/embedded/Swift.swiftmodule/\(architecture.targetTriple).swiftmodule")
    return FileManager.default.fileExists(atPath: module.path)
  }
}
