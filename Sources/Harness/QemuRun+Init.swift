extension QemuRun {
  /// A run made by another backend (e.g. libvirt), judged like a QEMU one.
  public init(
    stream: ParsedStream, serialLog: String, stderr: String, exitCode: Int32?, signal: Int32?,
    timeout: TimeoutKind?, duration: Duration, command: [String], processID: Int32
  ) {
    self.stream = stream
    self.serialLog = serialLog
    self.stderr = stderr
    self.exitCode = exitCode
    self.signal = signal
    self.timeout = timeout
    self.duration = duration
    self.command = command
    self.processID = processID
  }
}
