// The runtime entry points the compiler calls in Embedded Swift code that
// the core supports: lazy global initialisation and the trap for deleted
// methods.

/// Runs `fn(context)` once per `predicate` (a word that starts at 0): global
/// variables with non-constant initial values. Safe with several CPUs: the
/// first one to claim the predicate runs the initializer, others wait.
@_cdecl("swift_once")
public func swift_once(
  _ predicate: UnsafeMutablePointer<Int>,
  _ fn: @convention(c) (UnsafeMutableRawPointer?) -> Void,
  _ context: UnsafeMutableRawPointer?
) {
  let address = predicate._rawValue
  let done = 2
  if Int(Builtin.atomicload_acquire_Int64(address)) == done { return }
  let (_, claimed) = Builtin.cmpxchg_seqcst_seqcst_Int64(address, Int64(0)._value, Int64(1)._value)
  if Bool(claimed) {
    fn(context)
    Builtin.atomicstore_release_Int64(address, Int64(2)._value)
    return
  }
  while Int(Builtin.atomicload_acquire_Int64(address)) != done {}
}

/// Called through a vtable or witness-table slot of a deleted method.
@_cdecl("swift_deletedMethodError")
public func swift_deletedMethodError() -> Never {
  _fatalErrorMessage("Fatal error", "Call of deleted method", file: #file, line: #line)
}
