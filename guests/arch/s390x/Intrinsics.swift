// Swift declarations of the assembly helpers in boot.S and cpu.S.

import GuestLib

@_extern(c, "s390_servc") public func s390_servc(_ command: UInt32, _ sccb: UInt64) -> UInt32
@_extern(c, "s390_wait_service_signal") public func s390_wait_service_signal()
@_extern(c, "s390_sigp") public func s390_sigp(
  _ cpu: UInt16, _ order: UInt8, _ parameter: UInt64, _ status: UnsafeMutablePointer<UInt32>
) -> UInt32
@_extern(c, "s390_cpu_address") public func s390_cpu_address() -> UInt16
@_extern(c, "s390_stop_self") public func s390_stop_self_raw()
@_extern(c, "s390_disabled_wait") public func s390_disabled_wait_raw()
@_extern(c, "s390_read_prefix") public func s390_read_prefix() -> UInt64
@_extern(c, "s390_read_cr0") public func s390_read_cr0() -> UInt64
@_extern(c, "s390_read_cr1") public func s390_read_cr1() -> UInt64
@_extern(c, "s390_enable_dat") public func s390_enable_dat(_ asce: UInt64)
@_extern(c, "s390_ipte") public func s390_ipte(_ entry: UInt64, _ virtual: UInt64)
@_extern(c, "s390_psw_mask") public func s390_psw_mask() -> UInt64
@_extern(c, "s390_operation_exception") public func s390_operation_exception()
@_extern(c, "s390_divide_exception") public func s390_divide_exception()
@_extern(c, "s390_specification_exception") public func s390_specification_exception()
@_extern(c, "s390_load") public func s390_load(_ address: UInt64) -> UInt64
@_extern(c, "s390_read_sp") public func s390_read_sp() -> UInt64
@_extern(c, "s390_lowcore_load64") public func s390_lowcore_load64(_ offset: UInt64) -> UInt64
@_extern(c, "s390_lowcore_store64") public func s390_lowcore_store64(_ offset: UInt64, _ value: UInt64)
@_extern(c, "s390_lowcore_load16") public func s390_lowcore_load16(_ offset: UInt64) -> UInt64
@_extern(c, "s390_copy_lowcore_psws") public func s390_copy_lowcore_psws(_ destination: UInt64)
@_extern(c, "s390_secondary_entry_address") public func s390_secondary_entry_address() -> UInt64
@_extern(c, "s390_sccb_address") public func s390_sccb_address() -> UInt64
@_extern(c, "s390_boot_storage_address") public func s390_boot_storage_address() -> UInt64
@_extern(c, "s390_image_end") public func s390_image_end() -> UInt64
@_extern(c, "s390_console_lock_address") public func s390_console_lock_address() -> UInt64
@_extern(c, "s390_try") public func s390_try(
  _ body: @convention(c) (UnsafeMutableRawPointer?) -> Void, _ context: UnsafeMutableRawPointer?
) -> UInt64
@_extern(c, "s390_try_resume_address") public func s390_try_resume_address() -> UInt64
@_extern(c, "s390_try_armed_sp") public func s390_try_armed_sp() -> UInt64

/// The address of the end of the guest image (page aligned): RAM above it
/// is free for the allocators.
public func imageEnd() -> UInt64 { s390_image_end() }

/// Stops this CPU with SIGP STOP (never returns).
public func s390_stop_self() -> Never {
  while true { s390_stop_self_raw() }
}

/// Stops this CPU in a disabled wait: a guest panic for QEMU.
public func s390_disabled_wait() -> Never {
  while true { s390_disabled_wait_raw() }
}

/// STORE FACILITY LIST EXTENDED: stores at most `doublewords` doublewords of
/// facility bits at `list` (8-byte aligned); returns how many the machine has.
@_extern(c, "s390_stfle") public func s390_stfle(
  _ list: UnsafeMutablePointer<UInt64>, _ doublewords: UInt64) -> UInt64
