import Foundation

/// A guest program: one directory of Swift files under `guests/tests` (the
/// guest test suite) or `guests/negative` (guests that fail on purpose, used
/// by the harness's own tests).
public struct GuestProgram: Sendable, Hashable, CustomStringConvertible {
  /// Directory name, also the Swift module name of the payload.
  public var name: String
  /// Absolute directory path.
  public var directory: String
  /// Whether it belongs to the regular suite or is a negative guest.
  public var isNegative: Bool

  public var description: String { name }

  /// The program `name` in `directory`.
  public init(name: String, directory: String, isNegative: Bool) {
    self.name = name
    self.directory = directory
    self.isNegative = isNegative
  }
}

/// The `guests/` tree of a package checkout.
public struct GuestWorkspace: Sendable {
  /// The package root (the directory holding Package.swift and guests/).
  public var root: String

  /// The workspace rooted at `root`, checked for a `guests/` directory.
  public init(root: String) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: root + "/guests/lib", isDirectory: &isDirectory),
      isDirectory.boolValue
    else {
      throw HarnessError.layout("\(root) has no guests/lib directory")
    }
    self.root = root
  }

  /// Finds the package root by walking up from `start` (the current
  /// directory by default) to the first directory with Package.swift and
  /// guests/.
  public static func locate(from start: String = FileManager.default.currentDirectoryPath)
    throws -> GuestWorkspace
  {
    var url = URL(fileURLWithPath: start).standardizedFileURL
    while true {
      let path = url.path
      if FileManager.default.fileExists(atPath: path + "/Package.swift"),
        FileManager.default.fileExists(atPath: path + "/guests/lib")
      {
        return try GuestWorkspace(root: path)
      }
      let parent = url.deletingLastPathComponent()
      if parent.path == path {
        throw HarnessError.layout(
          "no package with guests/ found above \(start); run from the project checkout")
      }
      url = parent
    }
  }

  /// Guest programs, sorted by name; negative ones only when asked.
  public func programs(includeNegative: Bool = false) throws -> [GuestProgram] {
    var result = try programs(in: "guests/tests", negative: false)
    if includeNegative { result += try programs(in: "guests/negative", negative: true) }
    return result
  }

  /// The program called `name` (regular or negative).
  public func program(named name: String) throws -> GuestProgram {
    let all = try programs(includeNegative: true)
    guard let found = all.first(where: { $0.name == name }) else {
      throw HarnessError.unknownGuest(name, available: all.map(\.name))
    }
    return found
  }

  private func programs(in relative: String, negative: Bool) throws -> [GuestProgram] {
    let base = root + "/" + relative
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: base) else {
      return []
    }
    return names.sorted().compactMap { name in
      let directory = base + "/" + name
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory),
        isDirectory.boolValue, !swiftFiles(in: directory, recursive: false).isEmpty
      else { return nil }
      return GuestProgram(name: name, directory: directory, isNegative: negative)
    }
  }

  /// Swift files below `directory`, sorted, as absolute paths.
  func swiftFiles(in directory: String, recursive: Bool) -> [String] {
    files(in: directory, recursive: recursive) { $0.hasSuffix(".swift") }
  }

  /// Files below `directory` matching `include`, sorted, as absolute paths.
  func files(in directory: String, recursive: Bool, include: (String) -> Bool) -> [String] {
    let manager = FileManager.default
    let names: [String]
    if recursive {
      names = (manager.enumerator(atPath: directory)?.allObjects as? [String]) ?? []
    } else {
      names = (try? manager.contentsOfDirectory(atPath: directory)) ?? []
    }
    return names.filter(include).sorted().map { directory + "/" + $0 }
  }

  /// The shared guest library (compiled into every guest and for the host).
  var librarySources: [String] { swiftFiles(in: root + "/guests/lib", recursive: true) }

  /// The runtime directory of `architecture`.
  func runtimeDirectory(_ architecture: Architecture) -> String {
    root + "/guests/arch/" + architecture.runtimeDirectory
  }
}
