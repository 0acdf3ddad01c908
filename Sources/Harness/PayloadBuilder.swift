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

/// Builds guest payloads from per-architecture modules compiled once:
///
/// - `GuestLib`: every Swift file under guests/lib, one Embedded Swift module;
/// - `GuestArch`: guests/arch/common and guests/arch/<arch> (importing
///   GuestLib), with the runtime's assembly objects;
/// - (s390x) the minimal core module of guests/core standing in for the
///   Embedded stdlib the toolchain lacks.
///
/// Each is cached under `cacheDirectory` by a SHA-256 of its sources, flags,
/// compiler identity and the keys of the modules below it. A payload then
/// compiles only its program (guests/tests/<name> or guests/negative/<name>)
/// with the entry the builder generates (`GuestEntry`), and ld.lld links it
/// with the modules' objects and the runtime's linker script. Payloads are
/// cached by a SHA-256 of the program's sources, the module keys, the flags
/// and the tools, so an unchanged guest is never compiled twice, and editing
/// a program recompiles that program alone.
public struct PayloadBuilder: Sendable {
  /// The guests/ tree.
  public var workspace: GuestWorkspace
  /// The tools.
  public var toolchain: Toolchain
  /// Where payloads and modules are cached (`.build/guests` in the package
  /// by default).
  public var cacheDirectory: String
  /// Every compile, assembly and link step this builder (and its copies) ran.
  public let log = BuildLog()

  /// A builder for `workspace`.
  public init(workspace: GuestWorkspace, toolchain: Toolchain, cacheDirectory: String? = nil) {
    self.workspace = workspace
    self.toolchain = toolchain
    self.cacheDirectory = cacheDirectory ?? workspace.root + "/.build/guests"
  }

  /// Flags of every Swift compile (modules and programs) for `architecture`.
  ///
  /// `-function-sections` gives each function its own section, so that
  /// `--gc-sections` drops what a payload does not use from the module
  /// objects (and the copies Embedded Swift emits into each client).
  public static func swiftFlags(for architecture: Architecture) -> [String] {
    var flags = [
      "-enable-experimental-feature", "Embedded",
      "-enable-experimental-feature", "Extern",
      "-target", architecture.targetTriple,
      "-wmo", "-parse-as-library", "-Osize", "-g",
      "-enforce-exclusivity=unchecked",
      "-Xfrontend", "-disable-stack-protector",
      "-Xfrontend", "-function-sections",
    ]
    if architecture == .x86_64 {
      // Kernel code model: no SSE/MMX (KVM flavours such as PVM cannot run
      // guest SSE) and no red zone expectations in C-imported code.
      flags += [
        "-Xcc", "-mno-sse", "-Xcc", "-mno-sse2", "-Xcc", "-mno-mmx", "-Xcc", "-mno-red-zone",
      ]
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

  /// Swift sources of `program` (its directory, recursively).
  func programSources(_ program: GuestProgram) -> [String] {
    workspace.swiftFiles(in: program.directory, recursive: true)
  }

  /// The program's own assembly for `architecture`: the `.S` files of
  /// `guests/tests/<name>/<arch>/` (instruction stubs Swift cannot express,
  /// such as one instruction under test with its operands and flags in
  /// registers). Each is assembled with `-g`, so the symbolizer names its
  /// lines, and linked into this program alone.
  public func programAssemblySources(_ program: GuestProgram, _ architecture: Architecture)
    -> [String]
  {
    workspace.files(
      in: program.directory + "/" + architecture.runtimeDirectory, recursive: false
    ) { $0.hasSuffix(".S") }
  }

  /// The `#fileID` → path map of a payload's Swift sources: the program's
  /// files as `<program>/<file>`, the modules' as `GuestLib/<file>` and
  /// `GuestArch/<file>`.
  public func sourceMap(_ program: GuestProgram, _ architecture: Architecture) -> [String: String] {
    var map: [String: String] = [:]
    func add(_ module: String, _ paths: [String]) {
      for path in paths { map[module + "/" + URL(fileURLWithPath: path).lastPathComponent] = path }
    }
    add(Self.libraryModule, librarySources())
    add(Self.runtimeModule, runtimeSources(architecture))
    add(program.name, programSources(program))
    return map
  }

  /// The cache key of a payload: the program's sources and generated entry,
  /// the key of the modules it links (which covers theirs), every flag, the
  /// linker script and the tools' identities.
  func cacheKey(_ program: GuestProgram, _ architecture: Architecture, modules: ModuleKeys) throws
    -> String
  {
    var hash = ContentHash()
    hash.update(field: "payload-v2")
    // The debug information names the sources by absolute path: a payload
    // built in another checkout would symbolize to that checkout's files.
    hash.update(field: workspace.root)
    hash.update(field: architecture.rawValue)
    hash.update(field: program.name)
    for flag in Self.swiftFlags(for: architecture) + Self.programFlags { hash.update(field: flag) }
    if architecture != .x86_64 {
      // The boot image's name (and how it is made) is part of the payload.
      hash.update(field: bootImageName(architecture))
    }
    hash.update(field: "modules")
    hash.update(field: modules.runtime)
    for tool in [toolchain.swiftc, toolchain.clang, toolchain.lld, toolchain.objcopy] {
      updateIdentity(&hash, of: tool)
    }
    hash.update(field: GuestEntry.source(for: program))
    let linkerScript = workspace.runtimeDirectory(architecture) + "/linker.ld"
    try updateContents(&hash, of: programSources(program) + [linkerScript])
    hash.update(field: "assembly")
    try updateContents(&hash, of: programAssemblySources(program, architecture))
    return hash.finalizeHex()
  }

  /// Builds (or takes from the cache) the payload of `program`: the modules
  /// when they are not cached yet, then the program, the link and the boot
  /// image.
  public func build(_ program: GuestProgram, for architecture: Architecture) async throws -> Payload
  {
    guard program.name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }),
      let first = program.name.first, !first.isNumber
    else {
      throw HarnessError.layout(
        "guest directory name '\(program.name)' must be a Swift identifier (it is the module name)")
    }
    guard
      ![Self.libraryModule, Self.runtimeModule, "Swift", "Synchronization"].contains(program.name)
    else {
      throw HarnessError.layout(
        "guest directory name '\(program.name)' is the name of a module the guests use")
    }
    let sources = programSources(program)
    if let clash = sources.first(where: { $0.hasSuffix("/" + GuestEntry.fileName) }) {
      throw HarnessError.layout(
        "\(clash): the payload builder generates a file of this name into every guest program; rename it"
      )
    }
    // Hashing every source (in a debug build, a CPU's work for a moment)
    // stays off the cooperative pool.
    let builder = self
    let (keys, key) = try await BlockingWork.run {
      let keys = try builder.moduleKeys(architecture)
      return (keys, try builder.cacheKey(program, architecture, modules: keys))
    }
    let directory = "\(cacheDirectory)/\(architecture)/\(program.name)-\(key.prefix(20))"
    let map = sourceMap(program, architecture)
    func payload(cached: Bool) -> Payload {
      Payload(
        program: program, architecture: architecture, elf: directory + "/guest.elf",
        bootImage: directory + "/" + bootImageName(architecture), sources: map, cached: cached)
    }
    if FileManager.default.fileExists(atPath: directory + "/" + bootImageName(architecture)) {
      return payload(cached: true)
    }
    let modules = try await buildModules(architecture, keys: keys, guest: program.name)
    let staging = directory + ".tmp-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: staging) }
    try await compile(program, architecture, modules: modules, into: staging, final: directory)
    do {
      try FileManager.default.moveItem(atPath: staging, toPath: directory)
    } catch {
      // Another build of the same inputs finished first; its result is identical.
      guard FileManager.default.fileExists(atPath: directory + "/" + bootImageName(architecture))
      else { throw error }
    }
    return payload(cached: false)
  }

  func bootImageName(_ architecture: Architecture) -> String {
    switch architecture {
    case .x86_64: "guest.multiboot.elf"
    case .s390x: "guest.boot.elf"
    }
  }

  /// The swiftc arguments (after `swiftc`) of the compile of `program`
  /// with its generated `entry` file, against `modules`, into `object`.
  func programArguments(
    _ program: GuestProgram, _ architecture: Architecture, modules: BuiltModules, entry: String,
    object: String
  ) -> [String] {
    Self.swiftFlags(for: architecture) + Self.programFlags + modules.clientFlags + [
      "-module-name", program.name, "-c", "-o", object,
    ] + programSources(program) + [entry]
  }

  /// Flags of a program's compile on top of `swiftFlags`: no SIL
  /// performance passes (inlining, specialization beyond what Embedded
  /// Swift requires, which still runs; LLVM still optimizes for size). The
  /// program compile is what a guest writer waits for after an edit; these
  /// passes were 35-40 % of it (x86_64 selftest 0.75 → 0.46 s, s390x
  /// 0.45 → 0.27 s) for a program object 5-8 % larger. The modules'
  /// functions keep their fully optimized strong definitions in
  /// `GuestLib.o` and `GuestArch.o`, which the linker prefers to the copies
  /// Embedded Swift emits into the program.
  public static let programFlags = ["-Xfrontend", "-disable-sil-perf-optzns"]

  /// Compiles the program with its entry, links it with the modules'
  /// objects and makes the boot image, in `staging` (renamed to `final`).
  private func compile(
    _ program: GuestProgram, _ architecture: Architecture, modules: BuiltModules,
    into staging: String, final: String
  ) async throws {
    let entry = staging + "/" + GuestEntry.fileName
    try GuestEntry.source(for: program).write(toFile: entry, atomically: false, encoding: .utf8)
    try await step(
      program.name, architecture, "swiftc",
      [toolchain.swiftc]
        + programArguments(
          program, architecture, modules: modules, entry: entry, object: staging + "/guest.o")
        // The entry's debug information names the directory it ends up in.
        + ["-debug-prefix-map", staging + "=" + final])
    var assemblyObjects: [String] = []
    for source in programAssemblySources(program, architecture) {
      let object = staging + "/" + Self.assemblyObjectName(source)
      let name = URL(fileURLWithPath: source).lastPathComponent
      try await step(
        program.name, architecture, "clang (\(name))",
        [
          toolchain.clang, "-target", architecture.targetTriple, "-g", "-c", source, "-o", object,
          "-fdebug-prefix-map=" + staging + "=" + final,
        ])
      assemblyObjects.append(object)
    }
    let runtime = workspace.runtimeDirectory(architecture)
    try await step(
      program.name, architecture, "ld.lld",
      [toolchain.lld, "-T", runtime + "/linker.ld", "--gc-sections", "-o", staging + "/guest.elf"]
        + [staging + "/guest.o"] + assemblyObjects + modules.objects)
    if architecture == .x86_64 {
      // QEMU's Multiboot loader takes only 32-bit ELF files.
      try await step(
        program.name, architecture, "llvm-objcopy",
        [
          toolchain.objcopy, "-O", "elf32-i386", "--strip-debug", staging + "/guest.elf",
          staging + "/guest.multiboot.elf",
        ])
    }
    if architecture == .s390x {
      // QEMU loads the big-endian ELF by its program headers (entry 0x10000);
      // the boot image drops only the debug information.
      try await step(
        program.name, architecture, "llvm-objcopy",
        [
          toolchain.objcopy, "--strip-debug", staging + "/guest.elf",
          staging + "/guest.boot.elf",
        ])
    }
  }

  /// Runs one build step for `guest`, records it in the log and turns a
  /// failure into `HarnessError.buildFailed` with the tool's output.
  func step(_ guest: String, _ architecture: Architecture, _ name: String, _ command: [String])
    async throws
  {
    let clock = ContinuousClock()
    let start = clock.now
    let outcome = try await ToolRunner.run(
      command[0], Array(command.dropFirst()), in: workspace.root)
    log.append(
      BuildStep(
        guest: guest, architecture: architecture, step: name,
        seconds: (clock.now - start).seconds, succeeded: outcome.exitCode == 0))
    guard outcome.exitCode == 0 else {
      throw HarnessError.buildFailed(
        guest: guest, step: name, command: command, output: outcome.output)
    }
  }

  /// Adds a tool's path, size and modification date to `hash`.
  func updateIdentity(_ hash: inout ContentHash, of tool: String) {
    hash.update(field: tool)
    let attributes = try? FileManager.default.attributesOfItem(atPath: tool)
    hash.update(field: "\(attributes?[.size] ?? 0)-\(attributes?[.modificationDate] ?? "")")
  }

  /// Adds each file's path (relative to the workspace) and contents to `hash`.
  func updateContents(_ hash: inout ContentHash, of paths: [String]) throws {
    for path in paths {
      hash.update(field: path.replacingOccurrences(of: workspace.root, with: ""))
      guard let data = FileManager.default.contents(atPath: path) else {
        throw HarnessError.layout("cannot read \(path)")
      }
      hash.update(data)
      hash.update([0])
    }
  }
}
