// Class instances: the Embedded Swift heap-object runtime (allocation,
// strong reference counting, deallocation) over the C `posix_memalign` and
// `free` the guest runtime provides. An object starts with its metadata
// pointer and a reference count word; the second metadata word is the
// object's destroyer, which the guest runtime calls with the object as
// Swift's self argument (`_swift_embedded_invoke_heap_object_destroy`).

@usableFromInline @_extern(c, "posix_memalign")
func _corePosixMemalign(
  _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ alignment: Int, _ size: Int
) -> Int32
@usableFromInline @_extern(c, "free") func _coreFree(_ pointer: UnsafeMutableRawPointer?)
@usableFromInline @_extern(c, "_swift_embedded_invoke_heap_object_destroy")
func _coreInvokeDestroy(_ object: UnsafeMutableRawPointer)

/// The header of every class instance.
@frozen public struct HeapObject {
  @usableFromInline var metadata: UnsafeRawPointer
  @usableFromInline var refcount: Int

  /// Set for objects on the stack: never freed.
  @usableFromInline static var doNotFreeBit: Int { Int(bitPattern: UInt(1) << 63) }
  @usableFromInline static var refcountMask: Int { Int(bitPattern: ~(UInt(1) << 63)) }
  /// A count that is never decremented (objects being destroyed, statics).
  @usableFromInline static var immortalRefCount: Int { Int.max & refcountMask }
}

/// Memory for `size` bytes aligned to `alignment` (a power of two), or a trap.
@usableFromInline func _coreAllocate(size: Int, alignment: Int) -> UnsafeMutableRawPointer {
  var result: UnsafeMutableRawPointer? = nil
  let minimum = MemoryLayout<Int>.size
  let status = _corePosixMemalign(
    UnsafeMutablePointer(Builtin.addressof(&result)), alignment < minimum ? minimum : alignment,
    size)
  if status != 0 || result == nil {
    _fatalErrorMessage("Fatal error", "out of memory", file: #file, line: #line)
  }
  return result.unsafelyUnwrapped
}

@_cdecl("swift_allocObject")
public func swift_allocObject(
  _ metadata: UnsafeRawPointer, _ requiredSize: Int, _ requiredAlignmentMask: Int
) -> UnsafeMutableRawPointer {
  let object = _coreAllocate(size: requiredSize, alignment: requiredAlignmentMask + 1)
  object.storeBytes(of: metadata, as: UnsafeRawPointer.self)
  object.storeBytes(of: 1, toByteOffset: 8, as: Int.self)
  return object
}

@_cdecl("swift_initStackObject")
public func swift_initStackObject(
  _ metadata: UnsafeRawPointer, _ object: UnsafeMutableRawPointer
) -> UnsafeMutableRawPointer {
  object.storeBytes(of: metadata, as: UnsafeRawPointer.self)
  object.storeBytes(of: 1 | HeapObject.doNotFreeBit, toByteOffset: 8, as: Int.self)
  return object
}

@_cdecl("swift_initStaticObject")
public func swift_initStaticObject(
  _ metadata: UnsafeRawPointer, _ object: UnsafeMutableRawPointer
) -> UnsafeMutableRawPointer {
  object.storeBytes(of: metadata, as: UnsafeRawPointer.self)
  object.storeBytes(of: HeapObject.immortalRefCount | HeapObject.doNotFreeBit, toByteOffset: 8, as: Int.self)
  return object
}

@_cdecl("swift_deallocClassInstance")
public func swift_deallocClassInstance(
  _ object: UnsafeMutableRawPointer, _ allocatedSize: Int, _ allocatedAlignMask: Int
) {
  if _refcountAddress(object).load(as: Int.self) & HeapObject.doNotFreeBit != 0 { return }
  _coreFree(object)
}

@_cdecl("swift_deallocObject")
public func swift_deallocObject(
  _ object: UnsafeMutableRawPointer, _ allocatedSize: Int, _ allocatedAlignMask: Int
) {
  swift_deallocClassInstance(object, allocatedSize, allocatedAlignMask)
}

@_cdecl("swift_deallocPartialClassInstance")
public func swift_deallocPartialClassInstance(
  _ object: UnsafeMutableRawPointer, _ metadata: UnsafeRawPointer, _ allocatedSize: Int,
  _ allocatedAlignMask: Int
) {
  swift_deallocClassInstance(object, allocatedSize, allocatedAlignMask)
}

@_cdecl("swift_setDeallocating")
public func swift_setDeallocating(_ object: UnsafeMutableRawPointer) {}

@_cdecl("swift_dynamicCastClass")
public func swift_dynamicCastClass(_ object: UnsafeMutableRawPointer, _ targetMetadata: UnsafeRawPointer)
  -> UnsafeMutableRawPointer?
{
  var metadata: UnsafeRawPointer? = object.load(as: UnsafeRawPointer.self)
  while let current = metadata {
    if current == targetMetadata { return object }
    metadata = current.load(as: UnsafeRawPointer?.self)
  }
  return nil
}

@usableFromInline func _refcountAddress(_ object: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
  object + 8
}

@_cdecl("swift_isUniquelyReferenced_nonNull_native")
public func swift_isUniquelyReferenced_nonNull_native(_ object: UnsafeMutableRawPointer) -> Bool {
  Int(Builtin.atomicload_acquire_Int64(_refcountAddress(object)._rawValue)) & HeapObject.refcountMask == 1
}

@_cdecl("swift_isUniquelyReferenced_native")
public func swift_isUniquelyReferenced_native(_ object: UnsafeMutableRawPointer?) -> Bool {
  guard let object else { return false }
  return swift_isUniquelyReferenced_nonNull_native(object)
}

@_cdecl("swift_retain")
public func swift_retain(_ object: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
  swift_retain_n(object, 1)
}

@_cdecl("swift_retain_n")
public func swift_retain_n(_ object: UnsafeMutableRawPointer?, _ n: UInt32)
  -> UnsafeMutableRawPointer?
{
  guard let object else { return nil }
  let address = _refcountAddress(object)._rawValue
  var current = Int(Builtin.atomicload_monotonic_Int64(address))
  while true {
    if current & HeapObject.refcountMask == HeapObject.immortalRefCount { return object }
    let next = current &+ Int(n)
    let (old, won) = Builtin.cmpxchg_monotonic_monotonic_Int64(address, Int64(current)._value, Int64(next)._value)
    if Bool(won) { return object }
    current = Int(Int64(old))
  }
}

@_cdecl("swift_release")
public func swift_release(_ object: UnsafeMutableRawPointer?) {
  swift_release_n(object, 1)
}

@_cdecl("swift_release_n")
public func swift_release_n(_ object: UnsafeMutableRawPointer?, _ n: UInt32) {
  guard let object else { return }
  let address = _refcountAddress(object)._rawValue
  var current = Int(Builtin.atomicload_monotonic_Int64(address))
  while true {
    if current & HeapObject.refcountMask == HeapObject.immortalRefCount { return }
    let next = current &- Int(n)
    let (old, won) = Builtin.cmpxchg_acqrel_monotonic_Int64(address, Int64(current)._value, Int64(next)._value)
    if Bool(won) {
      if next & HeapObject.refcountMask == 0 {
        // Immortal while it is destroyed: retains and releases inside
        // deinit must not destroy it again.
        Builtin.atomicstore_monotonic_Int64(
          address, Int64(HeapObject.immortalRefCount | (next & HeapObject.doNotFreeBit))._value)
        _coreInvokeDestroy(object)
      }
      return
    }
    current = Int(Int64(old))
  }
}

@_cdecl("swift_bridgeObjectRetain")
public func swift_bridgeObjectRetain(_ object: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
  swift_retain(object)
}

@_cdecl("swift_bridgeObjectRelease")
public func swift_bridgeObjectRelease(_ object: UnsafeMutableRawPointer?) {
  swift_release(object)
}

/// Whether `object` is the only strong reference to its instance.
@inlinable public func isKnownUniquelyReferenced<T: AnyObject>(_ object: inout T) -> Bool {
  Bool(Builtin.isUnique(&object))
}
/// Whether `object` is non-nil and the only strong reference to its instance.
@inlinable public func isKnownUniquelyReferenced<T: AnyObject>(_ object: inout T?) -> Bool {
  Bool(Builtin.isUnique(&object))
}
