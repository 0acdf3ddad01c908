// swift-tools-version: 6.1
// Host side of the bare-metal guest test harness. The guest library in
// `guests/lib` is compiled twice: here, as the `GuestLib` host module that
// Swift Testing tests directly, and into every Embedded Swift guest payload by
// the payload builder (`Sources/Harness/PayloadBuilder.swift`).

import PackageDescription

let package = Package(
  name: "swift-guest-harness",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "runner", targets: ["runner"]),
    .library(name: "Harness", targets: ["Harness"]),
    .library(name: "LibvirtBackend", targets: ["LibvirtBackend"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.0"),
    .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
  ],
  targets: [
    // Plain Swift shared by host and guests: report protocol, allocators.
    .target(
      name: "GuestLib",
      path: "guests/lib"
    ),
    // Host pipeline: build payloads, launch QEMU, parse serial, results.
    // The protocol grammar (guests/lib/Protocol/KTAPGrammar.swift) is
    // GuestLib's: the host parses with the code the guests write with.
    .target(
      name: "Harness",
      dependencies: [
        "GuestLib",
        .product(name: "Subprocess", package: "swift-subprocess"),
        // SHA-256 of the cache keys (`ContentHash`).
        .product(name: "Crypto", package: "swift-crypto"),
      ]
    ),
    // libvirt's C API (its headers: libvirt-dev); every call goes through
    // LibvirtBackend. libvirt itself is loaded on first use
    // (Sources/CLibvirt/LibvirtLoader.c), not linked: a run without the
    // libvirt backend does not pay for loading it.
    .target(
      name: "CLibvirt",
      linkerSettings: [.linkedLibrary("dl")]
    ),
    .target(
      name: "LibvirtBackend",
      dependencies: ["CLibvirt", "Harness"]
    ),
    .executableTarget(
      name: "runner",
      dependencies: [
        "Harness",
        "LibvirtBackend",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .executableTarget(
      name: "alloc-bench",
      dependencies: ["GuestLib"]
    ),
    // Harness too: the KTAP conformance tests feed the guest writer's output
    // to the host parser and the reports.
    .testTarget(name: "GuestLibTests", dependencies: ["GuestLib", "Harness"]),
    .testTarget(
      name: "HarnessTests",
      dependencies: [
        "Harness",
        // The runner tests start the built `runner` binary as a child.
        .product(name: "Subprocess", package: "swift-subprocess"),
      ]),
    .testTarget(name: "GuestTests", dependencies: ["Harness"]),
    .testTarget(
      name: "LibvirtTests",
      dependencies: [
        "LibvirtBackend", "Harness",
        .product(name: "Subprocess", package: "swift-subprocess"),
      ]),
  ],
  swiftLanguageModes: [.v6]
)
