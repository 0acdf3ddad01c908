/// A reset the guest asked for, on bare QEMU. Its argv has `-no-reboot`
/// (a reset the guest causes by itself ends QEMU), under which QMP
/// `system_reset` would end QEMU too; so the reboot action is `reset` for
/// the one request (QMP `set-action`, QEMU 6.0 and later) and `shutdown`
/// again right after. QEMU decides between reset and shutdown when the
/// request is made, so the reset already asked for stays a reset.
extension QemuMachine: ResettableMachine {
  func reset() async throws {
    guard let current, !state.withLock({ $0.destroyed }) else {
      throw QmpError("the machine is gone")
    }
    let socket = current.socket
    try await BlockingWork.run {
      let client = try QmpClient(path: socket, timeout: .seconds(5))
      try client.execute("set-action", arguments: "{\"reboot\": \"reset\"}")
      try client.execute("system_reset")
      try client.execute("set-action", arguments: "{\"reboot\": \"shutdown\"}")
    }
  }
}
