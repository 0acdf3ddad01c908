import Foundation

/// The cache keys of the modules a payload of one architecture links.
struct ModuleKeys: Sendable {
  /// The minimal core module's, when the toolchain has no Embedded stdlib.
  var core: String?
  /// `GuestLib`'s (covers the core's).
  var library: String
  /// `GuestArch`'s (covers GuestLib's).
  var runtime: String
}

/// The built modules of one architecture: where they are and what a
/// program compile and link need of them.
struct BuiltModules: Sendable {
  /// The core module's directory (`Swift`, `Synchronization`), if used.
  var core: String?
  /// The directory of `GuestLib.swiftmodule` and `GuestLib.o`.
  var library: String
  /// The directory of `GuestArch.swiftmodule`, `GuestArch.o` and the
  /// runtime's assembly objects.
  var runtime: String
  /// The runtime's assembly objects (`boot.S.o`, `cpu.S.o`).
  var assemblyObjects: [String]

  /// Flags of a compile that imports the modules.
  var clientFlags: [String] {
    (core.map { PayloadBuilder.coreClientFlags + ["-I", $0] } ?? []) + [
      "-I", library, "-I", runtime,
    ]
  }

  /// The objects a payload links besides its program's.
  var objects: [String] {
    [runtime + "/GuestArch.o", library + "/GuestLib.o"]
      + (core.map { [$0 + "/Swift.o", $0 + "/Synchronization.o"] } ?? []) + assemblyObjects
  }
}

/// Module builds in progress in this process: concurrent payload builds
/// that need the same module wait for one compile of it instead of each
/// running their own (builds in other processes are kept apart by the
/// staging directory and the atomic rename).
actor ModuleBuildQueue {
  static let shared = ModuleBuildQueue()

  private var running: [String: Task<Void, any Error>] = [:]

  /// Runs `body` for `directory` unless a run for it is in progress, in
  /// which case it waits for that one (and shares its error).
  func once(_ directory: String, _ body: @escaping @Sendable () async throws -> Void) async throws {
    if let task = running[directory] {
      try await task.value
      return
    }
    let task = Task { try await body() }
    running[directory] = task
    defer { running[directory] = nil }
    try await task.value
  }
}

extension PayloadBuilder {
  /// Module name of guests/lib in the guests.
  public static let libraryModule = "GuestLib"
  /// Module name of the architecture runtime in the guests.
  public static let runtimeModule = "GuestArch"

  /// Swift sources of the core module (`Swift`) and of its `Synchronization`.
  func coreSources() -> (swift: [String], synchronization: [String]) {
    let directory = workspace.root + "/guests/core"
    return (
      workspace.swiftFiles(in: directory, recursive: false),
      workspace.swiftFiles(in: directory + "/Synchronization", recursive: false)
    )
  }

  /// Swift sources of `GuestLib`: guests/lib, recursively.
  func librarySources() -> [String] { workspace.librarySources }

  /// Swift sources of `GuestArch`: guests/arch/common and guests/arch/<arch>.
  func runtimeSources(_ architecture: Architecture) -> [String] {
    workspace.swiftFiles(in: workspace.root + "/guests/arch/common", recursive: false)
      + workspace.swiftFiles(in: workspace.runtimeDirectory(architecture), recursive: false)
  }

  /// Assembly sources of the runtime.
  func assemblySources(_ architecture: Architecture) -> [String] {
    workspace.files(in: workspace.runtimeDirectory(architecture), recursive: false) {
      $0.hasSuffix(".S")
    }
  }

  /// The cache key of the core module for `architecture`: its sources, the
  /// flags and the compiler's identity.
  func coreCacheKey(_ architecture: Architecture) throws -> String {
    var hash = ContentHash()
    hash.update(field: "core-v2")
    hash.update(field: architecture.rawValue)
    for flag in Self.swiftFlags(for: architecture) + Self.coreClientFlags {
      hash.update(field: flag)
    }
    updateIdentity(&hash, of: toolchain.swiftc)
    let sources = coreSources()
    try updateContents(&hash, of: sources.swift)
    hash.update(field: "--")
    try updateContents(&hash, of: sources.synchronization)
    return hash.finalizeHex()
  }

  /// The cache keys of the modules of `architecture`; each covers the
  /// sources, flags and compiler of its module and the keys below it.
  func moduleKeys(_ architecture: Architecture) throws -> ModuleKeys {
    var core: String?
    if usesCoreModule(for: architecture) {
      guard !coreSources().swift.isEmpty else {
        throw HarnessError.toolNotFound(
          "Embedded Swift stdlib for \(architecture.targetTriple)",
          hint:
            "this toolchain does not ship one and guests/core (the minimal core module) is missing")
      }
      core = try coreCacheKey(architecture)
    }
    var library = ContentHash()
    library.update(field: "guestlib-v1")
    library.update(field: architecture.rawValue)
    for flag in Self.swiftFlags(for: architecture) { library.update(field: flag) }
    library.update(field: core.map { "core " + $0 } ?? "stdlib")
    updateIdentity(&library, of: toolchain.swiftc)
    try updateContents(&library, of: librarySources())
    let libraryKey = library.finalizeHex()

    var runtime = ContentHash()
    runtime.update(field: "guestarch-v1")
    runtime.update(field: architecture.rawValue)
    for flag in Self.swiftFlags(for: architecture) { runtime.update(field: flag) }
    runtime.update(field: "GuestLib " + libraryKey)
    updateIdentity(&runtime, of: toolchain.swiftc)
    updateIdentity(&runtime, of: toolchain.clang)
    try updateContents(&runtime, of: runtimeSources(architecture))
    runtime.update(field: "assembly")
    try updateContents(&runtime, of: assemblySources(architecture))
    return ModuleKeys(core: core, library: libraryKey, runtime: runtime.finalizeHex())
  }

  /// Cache directory of a module.
  func moduleDirectory(_ module: String, _ architecture: Architecture, key: String) -> String {
    "\(cacheDirectory)/modules/\(architecture)/\(module)-\(key.prefix(20))"
  }

  /// Cache directory of the core module.
  func coreDirectory(_ architecture: Architecture, key: String) -> String {
    "\(cacheDirectory)/core/\(architecture)-\(key.prefix(20))"
  }

  /// Builds the modules of `architecture` that are not cached yet (for
  /// `guest`, whose build needs them) and returns where they are.
  func buildModules(_ architecture: Architecture, keys: ModuleKeys, guest: String) async throws
    -> BuiltModules
  {
    let core = keys.core.map { coreDirectory(architecture, key: $0) }
    if let core {
      try await buildOnce(core, complete: "Synchronization.o") { staging in
        try await compileCore(architecture, guest: guest, into: staging)
      }
    }
    let library = moduleDirectory(Self.libraryModule, architecture, key: keys.library)
    try await buildOnce(library, complete: "GuestLib.o") { staging in
      try await step(
        guest, architecture, "swiftc (GuestLib)",
        [toolchain.swiftc] + libraryArguments(architecture, core: core, into: staging))
    }
    let runtime = moduleDirectory(Self.runtimeModule, architecture, key: keys.runtime)
    let assembly = assemblySources(architecture)
    try await buildOnce(runtime, complete: "GuestArch.o") { staging in
      try await step(
        guest, architecture, "swiftc (GuestArch)",
        [toolchain.swiftc]
          + runtimeArguments(architecture, core: core, library: library, into: staging))
      for source in assembly {
        let name = URL(fileURLWithPath: source).lastPathComponent
        try await step(
          guest, architecture, "clang (\(name))",
          [
            toolchain.clang, "-target", architecture.targetTriple, "-c", source,
            "-o", staging + "/" + Self.assemblyObjectName(source),
          ])
      }
    }
    return BuiltModules(
      core: core, library: library, runtime: runtime,
      assemblyObjects: assembly.map { runtime + "/" + Self.assemblyObjectName($0) })
  }

  /// `boot.S` → `boot.S.o`.
  static func assemblyObjectName(_ source: String) -> String {
    URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent + ".S.o"
  }

  /// The swiftc arguments (after `swiftc`) of the `GuestLib` compile.
  func libraryArguments(_ architecture: Architecture, core: String?, into directory: String)
    -> [String]
  {
    Self.swiftFlags(for: architecture)
      + (core.map { Self.coreClientFlags + ["-I", $0] } ?? []) + [
        "-module-name", Self.libraryModule,
        "-emit-module", "-emit-module-path", directory + "/GuestLib.swiftmodule",
        "-c", "-o", directory + "/GuestLib.o",
      ] + librarySources()
  }

  /// The swiftc arguments (after `swiftc`) of the `GuestArch` compile.
  func runtimeArguments(
    _ architecture: Architecture, core: String?, library: String, into directory: String
  ) -> [String] {
    Self.swiftFlags(for: architecture)
      + (core.map { Self.coreClientFlags + ["-I", $0] } ?? []) + [
        "-I", library,
        "-module-name", Self.runtimeModule,
        "-emit-module", "-emit-module-path", directory + "/GuestArch.swiftmodule",
        "-c", "-o", directory + "/GuestArch.o",
      ] + runtimeSources(architecture)
  }

  /// Compiles the minimal core module (`Swift` and `Synchronization`) into
  /// `directory`.
  private func compileCore(_ architecture: Architecture, guest: String, into directory: String)
    async throws
  {
    let sources = coreSources()
    let flags = Self.swiftFlags(for: architecture) + Self.coreClientFlags
    try await step(
      guest, architecture, "swiftc (core)",
      [toolchain.swiftc, "-parse-stdlib", "-module-name", "Swift"] + flags + [
        "-emit-module", "-emit-module-path", directory + "/Swift.swiftmodule",
        "-c", "-o", directory + "/Swift.o",
      ] + sources.swift)
    try await step(
      guest, architecture, "swiftc (core Synchronization)",
      [toolchain.swiftc, "-parse-stdlib", "-module-name", "Synchronization"] + flags + [
        "-enable-experimental-feature", "RawLayout", "-I", directory,
        "-emit-module", "-emit-module-path", directory + "/Synchronization.swiftmodule",
        "-c", "-o", directory + "/Synchronization.o",
      ] + sources.synchronization)
  }

  /// Makes cached `directory` once: unless it holds `complete` already,
  /// `produce` fills a staging directory next to it, which is then renamed
  /// to it (a build that loses the race to another process keeps the
  /// winner's identical result).
  private func buildOnce(
    _ directory: String, complete: String,
    _ produce: @escaping @Sendable (String) async throws -> Void
  ) async throws {
    let marker = directory + "/" + complete
    if FileManager.default.fileExists(atPath: marker) { return }
    try await ModuleBuildQueue.shared.once(directory) {
      if FileManager.default.fileExists(atPath: marker) { return }
      let staging = directory + ".tmp-\(UUID().uuidString)"
      try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
      defer { try? FileManager.default.removeItem(atPath: staging) }
      try await produce(staging)
      do {
        try FileManager.default.moveItem(atPath: staging, toPath: directory)
      } catch {
        guard FileManager.default.fileExists(atPath: marker) else { throw error }
      }
    }
  }
}
