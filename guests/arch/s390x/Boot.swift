/// The Swift entry called by boot.S: sets up the SCLP console (whole lines
/// serialised across CPUs by `ConsoleLock`), reads the
/// machine information and the command line, starts the heap, runs the
/// guest's tests and exits with their status.
@_cdecl("s390_boot_main")
public func s390BootMain() {
  Sclp.initialize()
  Console.sink = { Sclp.write($0) }
  Console.lineLock = { ConsoleLock.lock() }
  Console.lineUnlock = { ConsoleLock.unlock() }
  Console.write(byte: 10)
  BootInfo.capture()
  GuestMemory.setUp()
  guestMain()
  exitGuest(finishTests())
}
