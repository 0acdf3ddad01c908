import Foundation

/// A built guest: the ELF with symbols and the image QEMU boots.
public struct Payload: Sendable {
  /// The guest program it was built from.
  public var program: GuestProgram
  /// Its architecture.
  public var architecture: Architecture
  /// The linked ELF with symbols (for the symbolizer and gdb).
  public var elf: String
  /// The file passed to QEMU's `-kernel`.
  public var bootImage: String
  /// Guest source file for each `#fileID` the guest can report.
  public var sources: [String: String]
  /// Whether it came from the cache without compiling.
  public var cached: Bool

  /// Size in bytes of the boot image.
  public var bootImageSize: Int {
    ((try? FileManager.default.attributesOfItem(atPath: bootImage))?[.size] as? Int) ?? 0
  }
}

/// Builds guest payloads: the guest library, the architecture runtime and
/// one test program are compiled as one Embedded Swift module, the boot code
/// is assembled with clang, and ld.lld links them with the runtime's linker
/// script. Results are cached by a SHA-256 of every input and flag, so an
/// unchanged guest is never compiled twice.
public struct PayloadBuilder: Sendable {
  /// The guests/ tree.
  public var workspace: GuestWorkspace
  /// The tools.
  public var toolchain: Toolchain
  /// Where payloads are cached (`.build/guests` in the package by default).
  public var cacheDirectory: String

  /// A builder for `workspace`.
  public init(workspace: GuestWorkspace, toolchain: Toolchain, cacheDirectory: String? = nil) {
    self.workspace = workspace
    self.toolchain = toolchain
    self.cacheDirectory = cacheDirectory ?? workspace.root + "/.build/guests"
  }

  /// Flags of the Swift compile for `architecture`.
  public static func swiftFlags(for architecture: Architecture) -> [String] {
    var flags = [
      "-enable-experimental-feature", "Embedded",
      "-enable-experimental-feature", "Extern",
      "-target", architecture.targetTriple,
      "-wmo", "-parse-as-library", "-Osize", "-g",
      "-enforce-exclusivity=unchecked",
      "-Xfrontend", "-disable-stack-protector",
    ]
    if architecture == .x86_64 {
      // Kernel code model: no SSE/MMX (KVM flavours such as PVM cannot run
      // guest SSE) and no red zone expectations in C-imported code.
      flags += ["-Xcc", "-mno-sse", "-Xcc", "-mno-sse2", "-Xcc", "-mno-mmx", "-Xcc", "-mno-red-zone"]
    }
    return flags
  }

  /// Flags added to the Swift compiles when the minimal core module
  /// (`guests/core`) stands in for a missing Embedded stdlib: no implicit
  /// imports of modules the core does not provide.
  public static let coreClientFlags = [
    "-Xfrontend", "-disable-implicit-concurrency-module-import",
    "-Xfrontend", "-disable-implicit-string-processing-module-import",
  ]

  /// Whether payloads for `architecture` are built against the project's
  /// minimal core module instead of the toolchain's Embedded stdlib.
  public func usesCoreModule(for architecture: Architecture) -> Bool {
    !toolchain.hasEmbeddedStdlib(for: architecture)
  }

  /// Swift sources of the core module (`Swift`) and of its `Synchronization`.
  func coreSources() -> (swift: [String], synchronization: [String]) {
    let directory = workspace.root + "/guests/core"
    return (
      workspace.swiftFiles(in: directory, recursive: false),
      workspace.swiftFiles(in: directory + "/Synchronization", recursive: false)
    )
  }

  /// The cache key of the core module for `architecture`: its sources, the
  /// flags and the compiler's identity.
  func coreCacheKey(_ architecture: Architecture) throws -> String {
    var hash = SHA256()
    hash.update(field: "core-v1")
    hash.update(field: architecture.rawValue)
    for flag in Self.swiftFlags(for: architecture) + Self.coreClientFlags { hash.update(field: flag) }
    hash.update(field: toolchain.swiftc)
    let attributes = try? FileManager.default.attributesOfItem(atPath: toolchain.swiftc)
    hash.update(field: "\(attributes?[.size] ?? 0)-\(attributes?[.modificationDate] ?? "")")
    let sources = coreSources()
    for path in sources.swift + ["--"] + sources.synchronization {
      hash.update(field: path.replacingOccurrences(of: workspace.root, with: ""))
      if path == "--" { continue }
      guard let data = FileManager.default.contents(atPath: path) else {
        throw HarnessError.layout("cannot read \(path)")
      }
      hash.update(data)
      hash.update([0])
    }
    return hash.finalizeHex()
  }

  /// Builds (once per cache key) the minimal core module for
  /// `architecture`: `Swift.swiftmodule` and `Synchronization.swiftmodule`
  /// with their objects, in a directory passed to the payload compile as
  /// `-I`. Returns that directory.
  func buildCoreModule(for architecture: Architecture, guest program: GuestProgram) async throws
    -> String
  {
    let key = try coreCacheKey(architecture)
    let directory = "\(cacheDirectory)/core/\(architecture)-\(key.prefix(20))"
    if FileManager.default.fileExists(atPath: directory + "/Synchronization.o") { return directory }
    let staging = directory + ".tmp-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: staging) }
    let sources = coreSources()
    let flags = Self.swiftFlags(for: architecture) + Self.coreClientFlags
    try await step(
      program, "swiftc (core)",
      [toolchain.swiftc, "-parse-stdlib", "-module-name", "Swift"] + flags + [
        "-emit-module", "-emit-module-path", staging + "/Swift.swiftmodule",
        "-c", "-o", staging + "/Swift.o",
      ] + sources.swift)
    try await step(
      program, "swiftc (core Synchronization)",
      [toolchain.swiftc, "-parse-stdlib", "-module-name", "Synchronization"] + flags + [
        "-enable-experimental-feature", "RawLayout", "-I", staging,
        "-emit-module", "-emit-module-path", staging + "/Synchronization.swiftmodule",
        "-c", "-o", staging + "/Synchronization.o",
      ] + sources.synchronization)
    do {
      try FileManager.default.moveItem(atPath: staging, toPath: directory)
    } catch {
      guard FileManager.default.fileExists(atPath: directory + "/Synchronization.o") else {
        throw error
      }
    }
    return directory
  }

  /// Swift sources of a payload: library, runtime, program.
  func swiftSources(_ program: GuestProgram, _ architecture: Architecture) -> [String] {
    workspace.librarySources
      + workspace.swiftFiles(in: workspace.root + "/guests/arch/common", recursive: false)
      + workspace.swiftFiles(in: workspace.runtimeDirectory(architecture), recursive: false)
      + workspace.swiftFiles(in: program.directory, recursive: true)
  }

  /// Assembly sources of the runtime.
  func assemblySources(_ architecture: Architecture) -> [String] {
    workspace.files(in: workspace.runtimeDirectory(architecture), recursive: false) {
      $0.hasSuffix(".S")
    }
  }

  /// The `#fileID` → path map of a payload's Swift sources.
  public func sourceMap(_ program: GuestProgram, _ architecture: Architecture) -> [String: String]
  {
    var map: [String: String] = [:]
    for path in swiftSources(program, architecture) {
      map[program.name + "/" + URL(fileURLWithPath: path).lastPathComponent] = path
    }
    return map
  }

  /// The cache key of a payload: every input's path and content, every flag,
  /// and the compiler's identity.
  func cacheKey(_ program: GuestProgram, _ architecture: Architecture) throws -> String {
    var hash = SHA256()
    hash.update(field: "payload-v1")
    hash.update(field: architecture.rawValue)
    hash.update(field: program.name)
    for flag in Self.swiftFlags(for: architecture) { hash.update(field: flag) }
    if architecture != .x86_64 {
      // The boot image's name (and how it is made) is part of the payload.
      hash.update(field: bootImageName(architecture))
    }
    if usesCoreModule(for: architecture) {
      hash.update(field: "core")
      hash.update(field: try coreCacheKey(architecture))
    }
    for tool in [toolchain.swiftc, toolchain.clang, toolchain.lld, toolchain.objcopy] {
      hash.update(field: tool)
      let attributes = try? FileManager.default.attributesOfItem(atPath: tool)
      hash.update(field: "\(attributes?[.size] ?? 0)-\(attributes?[.modificationDate] ?? "")")
    }
    let linkerScript = workspace.runtimeDirectory(architecture) + "/linker.ld"
    for path in swiftSources(program, architecture) + assemblySources(architecture) + [linkerScript] {
      hash.update(field: path.replacingOccurrences(of: workspace.root, with: ""))
      guard let data = FileManager.default.contents(atPath: path) else {
        throw HarnessError.layout("cannot read \(path)")
      }
      hash.update(data)
      hash.update([0])
    }
    return hash.finalizeHex()
  }

  /// Builds (or takes from the cache) the payload of `program`.
  public func build(_ program: GuestProgram, for architecture: Architecture) async throws -> Payload {
    guard program.name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }),
      let first = program.name.first, !first.isNumber
    else {
      throw HarnessError.layout(
        "guest directory name '\(program.name)' must be a Swift identifier (it is the module name)")
    }
    if usesCoreModule(for: architecture) {
      guard !coreSources().swift.isEmpty else {
        throw HarnessError.toolNotFound(
          "Embedded Swift stdlib for \(architecture.targetTriple)",
          hint: "this toolchain does not ship one and guests/core (the minimal core module) is missing")
      }
    }
    let key = try cacheKey(program, architecture)
    let directory = "\(cacheDirectory)/\(architecture)/\(program.name)-\(key.prefix(20))"
    let sources = sourceMap(program, architecture)
    func payload(cached: Bool) -> Payload {
      Payload(
        program: program, architecture: architecture, elf: directory + "/guest.elf",
        bootImage: directory + "/" + bootImageName(architecture), sources: sources, cached: cached)
    }
    if FileManager.default.fileExists(atPath: directory + "/" + bootImageName(architecture)) {
      return payload(cached: true)
    }
    let staging = directory + ".tmp-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: staging) }
    try await compile(program, architecture, into: staging)
    do {
      try FileManager.default.moveItem(atPath: staging, toPath: directory)
    } catch {
      // Another build of the same inputs finished first; its result is identical.
      guard FileManager.default.fileExists(atPath: directory + "/" + bootImageName(architecture))
      else { throw error }
    }
    return payload(cached: false)
  }

  private func bootImageName(_ architecture: Architecture) -> String {
    switch architecture {
    case .x86_64: "guest.multiboot.elf"
    case .s390x: "guest.boot.elf"
    }
  }

  private func compile(_ program: GuestProgram, _ architecture: Architecture, into staging: String)
    async throws
  {
    let runtime = workspace.runtimeDirectory(architecture)
    var objects: [String] = []
    var coreFlags: [String] = []
    if usesCoreModule(for: architecture) {
      let core = try await buildCoreModule(for: architecture, guest: program)
      coreFlags = Self.coreClientFlags + ["-I", core]
      objects += [core + "/Swift.o", core + "/Synchronization.o"]
    }
    try await step(
      program, "swiftc",
      [toolchain.swiftc] + Self.swiftFlags(for: architecture) + coreFlags + [
        "-module-name", program.name, "-c", "-o", staging + "/guest.o",
      ] + swiftSources(program, architecture))
    objects.insert(staging + "/guest.o", at: 0)
    for source in assemblySources(architecture) {
      let object = staging + "/" + URL(fileURLWithPath: source).deletingPathExtension()
        .lastPathComponent + ".S.o"
      try await step(
        program, "clang",
        [toolchain.clang, "-target", architecture.targetTriple, "-c", source, "-o", object])
      objects.append(object)
    }
    try await step(
      program, "ld.lld",
      [toolchain.lld, "-T", runtime + "/linker.ld", "--gc-sections", "-o", staging + "/guest.elf"]
        + objects)
    if architecture == .x86_64 {
      // QEMU's Multiboot loader takes only 32-bit ELF files.
      try await step(
        program, "llvm-objcopy",
        [
          toolchain.objcopy, "-O", "elf32-i386", "--strip-debug", staging + "/guest.elf",
          staging + "/guest.multiboot.elf",
        ])
    }
    if architecture == .s390x {
      // QEMU loads the big-endian ELF by its program headers (entry 0x10000);
      // the boot image drops only the debug information.
      try await step(
        program, "llvm-objcopy",
        [
          toolchain.objcopy, "--strip-debug", staging + "/guest.elf",
          staging + "/guest.boot.elf",
        ])
    }
  }

  private func step(_ program: GuestProgram, _ name: String, _ command: [String]) async throws {
    let outcome = try await ToolRunner.run(command[0], Array(command.dropFirst()), in: workspace.root)
    guard outcome.exitCode == 0 else {
      throw HarnessError.buildFailed(
        guest: program.name, step: name, command: command, output: outcome.output)
    }
  }
}
