/// A reset the guest asked for, on bare QEMU (argv with `-no-reboot`: a
/// reset the guest causes by itself ends QEMU): `ResetConversation` over
/// the machine's QMP socket.
extension QemuMachine: ResettableMachine {
  func reset() async throws {
    guard let current, !state.withLock({ $0.destroyed }) else {
      throw QmpError("the machine is gone")
    }
    let socket = current.socket
    try await BlockingWork.run {
      let client = try QmpClient(path: socket, timeout: .seconds(5))
      for (command, arguments) in ResetConversation.commands {
        try client.execute(command, arguments: arguments)
      }
    }
  }
}
