import CLibvirt
import Foundation
import Harness

/// A libvirt domain's control channel: QEMU monitor commands passed through
/// libvirt (`virDomainQemuMonitorCommand`, libvirt-qemu), QMP by default or
/// the human monitor. libvirt marks a domain it passed commands to as
/// tainted (`custom-monitor`); the harness's domains are transient anyway.
struct LibvirtMonitorControl: MachineControl {
  let domain: LibvirtDomain

  /// Sends `text` (a QMP JSON command, or a human-monitor line with
  /// `human`) and returns the reply.
  func send(_ text: String, human: Bool = false) throws -> String {
    var reply: UnsafeMutablePointer<CChar>?
    let flags = human ? UInt32(VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP.rawValue) : 0
    guard virDomainQemuMonitorCommand(domain.pointer, text, &reply, flags) == 0, let reply else {
      throw LibvirtError.last("virDomainQemuMonitorCommand")
    }
    defer { free(reply) }
    return String(cString: reply)
  }

  func execute(_ command: String, arguments: String?) async throws -> String {
    let escaped = command.replacingOccurrences(of: "\\", with: "\\\\")
      .replacingOccurrences(of: "\"", with: "\\\"")
    let json = "{\"execute\":\"\(escaped)\"" + (arguments.map { ",\"arguments\":\($0)" } ?? "") + "}"
    return try await BlockingWork.run { try send(json) }
  }

  func triage(architecture: Architecture) async -> TriageCapture {
    await BlockingWork.run { capture(architecture: architecture) }
  }

  /// Stops the vCPUs and reads their registers (blocking).
  private func capture(architecture: Architecture) -> TriageCapture {
    var transcript: [String] = []
    do {
      // Stop the vCPUs first, so the registers are a consistent picture.
      let stop = "{\"execute\":\"stop\"}"
      transcript.append("-> \(stop)")
      transcript.append("<- " + (try send(stop)))
      let command = "info registers -a"
      transcript.append("-> (human) \(command)")
      let text = try send(command, human: true)
      transcript.append("<- (\(text.utf8.count) bytes of registers)")
      var positions = VcpuTriage.parse(text, architecture: architecture)
      if architecture == .x86_64 {
        // The word at each CPU's RSP (a leaf helper's return address), as
        // that CPU sees memory: QMP's human-monitor-command with cpu-index.
        for index in positions.indices {
          guard let word = VcpuTriage.stackWordCommand(positions[index]) else { continue }
          let json =
            "{\"execute\":\"human-monitor-command\",\"arguments\":"
            + QmpClient.humanArguments(word, cpu: positions[index].cpu) + "}"
          transcript.append("-> \(json)")
          guard let reply = try? send(json) else { continue }
          transcript.append("<- \(reply)")
          let object = try? JSONSerialization.jsonObject(with: Data(reply.utf8)) as? [String: Any]
          positions[index].returnAddress = (object?["return"] as? String).flatMap(VcpuTriage.parseMemoryWord)
        }
      }
      return TriageCapture(positions: positions, transcript: transcript)
    } catch {
      transcript.append("monitor passthrough: \(error)")
      return TriageCapture(positions: [], transcript: transcript)
    }
  }
}
