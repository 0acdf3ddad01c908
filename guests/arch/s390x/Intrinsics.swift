// Swift declarations of the assembly helpers in boot.S and cpu.S.

@_extern(c, "s390_servc") func s390_servc(_ command: UInt32, _ sccb: UInt64) -> UInt32
@_extern(c, "s390_wait_service_signal") func s390_wait_service_signal()
@_extern(c, "s390_sigp") func s390_sigp(
  _ cpu: UInt16, _ order: UInt8, _ parameter: UInt64, _ status: UnsafeMutablePointer<UInt32>
) -> UInt32
@_extern(c, "s390_cpu_address") func s390_cpu_address() -> UInt16
@_extern(c, "s390_stop_self") func s390_stop_self_raw()
@_extern(c, "s390_disabled_wait") func s390_disabled_wait_raw()
@_extern(c, "s390_read_prefix") func s390_read_prefix() -> UInt64
@_extern(c, "s390_read_cr0") func s390_read_cr0() -> UInt64
@_extern(c, "s390_read_cr1") func s390_read_cr1() -> UInt64
@_extern(c, "s390_enable_dat") func s390_enable_dat(_ asce: UInt64)
@_extern(c, "s390_ipte") func s390_ipte(_ entry: UInt64, _ virtual: UInt64)
@_extern(c, "s390_psw_mask") func s390_psw_mask() -> UInt64
@_extern(c, "s390_operation_exception") func s390_operation_exception()
@_extern(c, "s390_divide_exception") func s390_divide_exception()
@_extern(c, "s390_specification_exception") func s390_specification_exception()
@_extern(c, "s390_load") func s390_load(_ address: UInt64) -> UInt64
@_extern(c, "s390_read_sp") func s390_read_sp() -> UInt64
@_extern(c, "s390_lowcore_load64") func s390_lowcore_load64(_ offset: UInt64) -> UInt64
@_extern(c, "s390_lowcore_store64") func s390_lowcore_store64(_ offset: UInt64, _ value: UInt64)
@_extern(c, "s390_lowcore_load16") func s390_lowcore_load16(_ offset: UInt64) -> UInt64
@_extern(c, "s390_copy_lowcore_psws") func s390_copy_lowcore_psws(_ destination: UInt64)
@_extern(c, "s390_secondary_entry_address") func s390_secondary_entry_address() -> UInt64
@_extern(c, "s390_sccb_address") func s390_sccb_address() -> UInt64
@_extern(c, "s390_boot_storage_address") func s390_boot_storage_address() -> UInt64
@_extern(c, "s390_image_end") func s390_image_end() -> UInt64
@_extern(c, "s390_console_lock_address") func s390_console_lock_address() -> UInt64
@_extern(c, "s390_try") func s390_try(
  _ body: @convention(c) (UnsafeMutableRawPointer?) -> Void, _ context: UnsafeMutableRawPointer?
) -> UInt64
@_extern(c, "s390_try_resume_address") func s390_try_resume_address() -> UInt64
@_extern(c, "s390_try_armed_sp") func s390_try_armed_sp() -> UInt64

/// The address of the end of the guest image (page aligned): RAM above it
/// is free for the allocators.
func imageEnd() -> UInt64 { s390_image_end() }

/// Stops this CPU with SIGP STOP (never returns).
func s390_stop_self() -> Never {
  while true { s390_stop_self_raw() }
}

/// Stops this CPU in a disabled wait: a guest panic for QEMU.
func s390_disabled_wait() -> Never {
  while true { s390_disabled_wait_raw() }
}
