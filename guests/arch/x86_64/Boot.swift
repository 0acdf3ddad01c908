/// The Swift entry called by boot.S once in long mode: sets up the console,
/// keeps the boot information, starts the heap, runs the guest's tests and
/// exits with their status.
@_cdecl("x86_boot_main")
public func x86BootMain(_ magic: UInt32, _ info: UInt32) {
  Serial.initialize()
  Console.sink = { Serial.write($0) }
  Console.write(byte: 10)
  BootInfo.capture(magic: magic, info: info)
  GuestMemory.setUp()
  SMP.initializeBootCPU()
  guestMain()
  exitGuest(finishTests())
}
