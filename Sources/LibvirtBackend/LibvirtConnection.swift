import CLibvirt
import Foundation
import Harness
import Synchronization

/// What a libvirt host offers, read from its capabilities and node info.
public struct HostCapacity: Sendable {
  /// Logical CPUs and memory of the host.
  public var cpus: Int
  public var memoryMiB: Int
  /// Guest architectures it can run, and with which accelerators.
  public var accelerators: [Architecture: Set<Accelerator>]
}

/// A connection to one libvirt daemon (local or remote URI). All libvirt
/// calls of the harness go through this type, `LibvirtDomain` and
/// `LibvirtStream`.
public final class LibvirtConnection: @unchecked Sendable {
  let pointer: virConnectPtr
  /// The URI it was opened with.
  public let uri: String
  /// Target directory of the harness's storage pool (payloads, console
  /// logs) on the daemon's host.
  public let payloadDirectory: String
  /// Whether the daemon's QEMU and the harness read each other's files at
  /// the same paths (a local session daemon, the harness's private one).
  /// Otherwise payloads go up and console logs come back through storage
  /// volumes, as with a remote host.
  public let sharesFiles: Bool
  /// Lifecycle watches by domain name, and the id of the one C callback.
  /// Serializes this connection's storage work (the pool's creation, a
  /// payload's lookup, creation and upload): two cells starting at once
  /// both found no pool and both created it, and the second failed (CI,
  /// stop 21); a cell could also find a volume another was still uploading.
  let storage = Mutex(())
  private let watches = Mutex<(byName: [String: LifecycleWatch], callbackID: Int32, closeWatched: Bool)>(
    ([:], -1, false))

  /// libvirt's close callback (a lost daemon, a keepalive timeout): every
  /// watched domain learns that its connection is gone. Event-driven; no
  /// machine polls the connection.
  private static let closeCallback: virConnectCloseFunc = { _, _, opaque in
    Unmanaged<LibvirtConnection>.fromOpaque(opaque!).takeUnretainedValue().closed()
  }

  /// Opens `uri` (e.g. `qemu:///session`, `qemu+tcp://10.0.0.2/system`,
  /// `test:///default`). Starts the event loop first, as libvirt requires.
  /// `payloadDirectory` is where the harness's storage pool lives on the
  /// daemon's host (default: `defaultPayloadDirectory(for:)`); `sharesFiles`
  /// whether the daemon's QEMU and the harness read each other's files at
  /// the same paths (default: a local daemon other than a system one).
  public init(uri: String, payloadDirectory: String? = nil, sharesFiles: Bool? = nil) throws {
    try LibvirtEventLoop.start()
    guard let pointer = virConnectOpen(uri) else {
      throw LibvirtError.last("virConnectOpen(\(uri))")
    }
    self.pointer = pointer
    self.uri = uri
    self.payloadDirectory = payloadDirectory ?? Self.defaultPayloadDirectory(for: uri)
    self.sharesFiles = sharesFiles ?? Self.sharesFilesByDefault(uri: uri)
    virConnectSetKeepAlive(pointer, 5, 3)
  }

  deinit {
    let (id, closeWatched) = watches.withLock { ($0.callbackID, $0.closeWatched) }
    if id >= 0 { virConnectDomainEventDeregisterAny(pointer, id) }
    if closeWatched { virConnectUnregisterCloseCallback(pointer, Self.closeCallback) }
    virConnectClose(pointer)
  }

  /// Routes lifecycle events of `watch.domainName` to `watch`; registers the
  /// connection's lifecycle callback on first use.
  func addWatch(_ watch: LifecycleWatch) throws {
    try watches.withLock { state in
      state.byName[watch.domainName] = watch
      guard state.callbackID < 0 else { return }
      let callback: @convention(c) (
        virConnectPtr?, virDomainPtr?, Int32, Int32, UnsafeMutableRawPointer?
      ) -> Int32 = { _, domain, event, detail, opaque in
        let connection = Unmanaged<LibvirtConnection>.fromOpaque(opaque!).takeUnretainedValue()
        if let domain, let name = virDomainGetName(domain) {
          connection.deliver(String(cString: name), event, detail)
        }
        return 0
      }
      // Unretained: the connection deregisters the callback before it goes.
      let opaque = Unmanaged.passUnretained(self).toOpaque()
      let id = virConnectDomainEventRegisterAny(
        pointer, nil, Int32(VIR_DOMAIN_EVENT_ID_LIFECYCLE.rawValue),
        unsafeBitCast(callback, to: virConnectDomainEventGenericCallback.self), opaque, nil)
      guard id >= 0 else {
        state.byName[watch.domainName] = nil
        throw LibvirtError.last("virConnectDomainEventRegisterAny")
      }
      state.callbackID = id
      // Unretained too: unregistered before the connection goes.
      state.closeWatched = virConnectRegisterCloseCallback(pointer, Self.closeCallback, opaque, nil) == 0
    }
  }

  /// The connection closed: every watched domain hears it once.
  private func closed() {
    for watch in watches.withLock({ Array($0.byName.values) }) { watch.connectionLost() }
  }

  func removeWatch(_ watch: LifecycleWatch) {
    watches.withLock { state in
      if state.byName[watch.domainName] === watch { state.byName[watch.domainName] = nil }
    }
  }

  private func deliver(_ name: String, _ event: Int32, _ detail: Int32) {
    watches.withLock { $0.byName[name] }?.record(event, detail)
  }

  /// Whether the connection is still alive.
  public var isAlive: Bool { virConnectIsAlive(pointer) == 1 }

  /// The host's capabilities XML.
  public func capabilitiesXML() throws -> String {
    guard let text = virConnectGetCapabilities(pointer) else {
      throw LibvirtError.last("virConnectGetCapabilities")
    }
    defer { free(text) }
    return String(cString: text)
  }

  /// CPUs, memory, and per architecture the accelerators (domain types
  /// `qemu` = TCG, `kvm`) the host offers.
  public func capacity() throws -> HostCapacity {
    var info = virNodeInfo()
    guard virNodeGetInfo(pointer, &info) == 0 else { throw LibvirtError.last("virNodeGetInfo") }
    let xml = try capabilitiesXML()
    var accelerators: [Architecture: Set<Accelerator>] = [:]
    // <guest> ... <arch name='x86_64'> ... <domain type='qemu'/> <domain type='kvm'/>
    for guest in xml.components(separatedBy: "<guest>").dropFirst() {
      guard let archRange = guest.range(of: "<arch name='"),
        let end = guest[archRange.upperBound...].firstIndex(of: "'"),
        let architecture = Architecture(rawValue: String(guest[archRange.upperBound..<end]))
      else { continue }
      var set: Set<Accelerator> = []
      if guest.contains("<domain type='qemu'") { set.insert(.tcg) }
      if guest.contains("<domain type='kvm'") { set.insert(.kvm) }
      accelerators[architecture, default: []].formUnion(set)
    }
    return HostCapacity(
      cpus: Int(info.cpus), memoryMiB: totalMemoryKiB().map { $0 / 1024 } ?? Int(info.memory / 1024),
      accelerators: accelerators)
  }

  /// The host's total memory over all NUMA cells (virNodeGetMemoryStats),
  /// or nil where the driver has no such call. virNodeGetInfo's figure can
  /// be one cell's: on a VM with hot-added memory it read 12 of 24 GiB.
  private func totalMemoryKiB() -> Int? {
    let allCells: Int32 = -1  // VIR_NODE_MEMORY_STATS_ALL_CELLS
    var count: Int32 = 0
    guard virNodeGetMemoryStats(pointer, allCells, nil, &count, 0) == 0, count > 0 else {
      return nil
    }
    var stats = [virNodeMemoryStats](repeating: virNodeMemoryStats(), count: Int(count))
    guard virNodeGetMemoryStats(pointer, allCells, &stats, &count, 0) == 0 else { return nil }
    for var stat in stats.prefix(Int(count)) {
      let field = withUnsafeBytes(of: &stat.field) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
      }
      if field == "total" { return Int(stat.value) }
    }
    return nil
  }

  /// Starts a transient domain from `xml`, paused, with `autodestroy`
  /// destroyed automatically when this connection closes (a killed runner
  /// leaves nothing running; libvirt refuses to migrate such a domain).
  public func createPausedTransientDomain(_ xml: String, autodestroy: Bool = true) throws
    -> LibvirtDomain
  {
    var flags = VIR_DOMAIN_START_PAUSED.rawValue
    if autodestroy { flags |= VIR_DOMAIN_START_AUTODESTROY.rawValue }
    guard let domain = virDomainCreateXML(pointer, xml, flags) else {
      throw LibvirtError.last("virDomainCreateXML")
    }
    return LibvirtDomain(pointer: domain, connection: self)
  }

  /// Names of the running domains.
  public func runningDomainNames() throws -> [String] {
    var domains: UnsafeMutablePointer<virDomainPtr?>?
    let count = virConnectListAllDomains(pointer, &domains, UInt32(VIR_CONNECT_LIST_DOMAINS_ACTIVE.rawValue))
    guard count >= 0, let domains else { throw LibvirtError.last("virConnectListAllDomains") }
    defer { free(domains) }
    var names: [String] = []
    for index in 0..<Int(count) {
      if let domain = domains[index] {
        if let name = virDomainGetName(domain) { names.append(String(cString: name)) }
        virDomainFree(domain)
      }
    }
    return names
  }
}
