// A minimal `Array`: a copy-on-write buffer of elements in one heap
// allocation owned by a class instance. Supports literals, `append`,
// `count`, `isEmpty`, `capacity`, subscripting, `removeAll`, `removeLast`,
// and iteration; out-of-range indices trap as in the standard library.

/// The shared storage of an array: the count and capacity, followed by
/// the elements in the same allocation (the compiler writes array literals
/// through `ref_tail_addr` of this object).
@usableFromInline final class _ArrayStorage<Element> {
  @usableFromInline var count: Int
  @usableFromInline var capacity: Int

  @usableFromInline init() {
    count = 0
    capacity = 0
  }

  /// A storage object with room for `capacity` elements, none initialized.
  @inlinable static func create(capacity: Int) -> _ArrayStorage<Element> {
    let storage: _ArrayStorage<Element> = Builtin.allocWithTailElems_1(
      _ArrayStorage<Element>.self, capacity._builtinWordValue, Element.self)
    storage.count = 0
    storage.capacity = capacity
    return storage
  }

  /// The first element.
  @usableFromInline var elements: UnsafeMutablePointer<Element> {
    UnsafeMutablePointer(Builtin.projectTailElems(self, Element.self))
  }

  deinit {
    elements.deinitialize(count: count)
  }
}

/// An ordered, random-access collection of values.
@frozen
public struct Array<Element>: ExpressibleByArrayLiteral {
  @usableFromInline var _storage: _ArrayStorage<Element>

  @inlinable init(_storage: _ArrayStorage<Element>) { self._storage = _storage }

  /// An empty array (its storage has room for no element).
  @inlinable public init() { _storage = _ArrayStorage<Element>.create(capacity: 0) }

  /// An array of the literal's elements.
  @inlinable public init(arrayLiteral elements: Element...) { self = elements }

  /// An array of `count` copies of `repeatedValue`.
  @inlinable public init(repeating repeatedValue: Element, count: Int) {
    precondition(count >= 0, "Can't construct Array with count < 0")
    self.init()
    reserveCapacity(count)
    var index = 0
    while index < count {
      append(repeatedValue)
      index &+= 1
    }
  }

  /// The number of elements.
  public var count: Int { @inlinable get { _storage.count } }
  /// Whether there are no elements.
  public var isEmpty: Bool { @inlinable get { count == 0 } }
  /// How many elements fit without reallocating.
  public var capacity: Int { @inlinable get { _storage.capacity } }

  /// Makes the storage unique and able to hold `minimumCapacity` elements.
  @inlinable public mutating func reserveCapacity(_ minimumCapacity: Int) {
    let unique = isKnownUniquelyReferenced(&_storage)
    if unique && capacity >= minimumCapacity { return }
    let old = _storage
    let count = self.count
    let grown = _ArrayStorage<Element>.create(capacity: max(minimumCapacity, count))
    if unique {
      grown.elements.moveInitialize(from: old.elements, count: count)
      old.count = 0
    } else {
      var index = 0
      while index < count {
        (grown.elements + index).initialize(to: old.elements[index])
        index &+= 1
      }
    }
    grown.count = count
    _storage = grown
  }

  /// Adds `newElement` at the end.
  @inlinable public mutating func append(_ newElement: Element) {
    let count = self.count
    if !isKnownUniquelyReferenced(&_storage) || capacity == count {
      reserveCapacity(count < 4 ? 4 : count * 2)
    }
    let storage = _storage
    (storage.elements + count).initialize(to: newElement)
    storage.count = count + 1
  }

  /// Removes and returns the last element; traps when empty.
  @inlinable @discardableResult public mutating func removeLast() -> Element {
    precondition(count > 0, "Can't remove last element from an empty collection")
    reserveCapacity(count)
    let storage = _storage
    storage.count -= 1
    return (storage.elements + storage.count).move()
  }

  /// Removes every element.
  @inlinable public mutating func removeAll() { self = Array() }

  /// The element at `index`; traps when out of range.
  @inlinable public subscript(index: Int) -> Element {
    get {
      precondition(index >= 0 && index < count, "Index out of range")
      return _storage.elements[index]
    }
    set {
      precondition(index >= 0 && index < count, "Index out of range")
      reserveCapacity(count)
      _storage.elements[index] = newValue
    }
  }

  /// The first and last element, or nil when empty.
  public var first: Element? { @inlinable get { isEmpty ? nil : self[0] } }
  public var last: Element? { @inlinable get { isEmpty ? nil : self[count - 1] } }
}

extension Array: Sequence {
  /// Iterates over a snapshot of the array.
  @frozen public struct Iterator: IteratorProtocol {
    @usableFromInline let array: Array<Element>
    @usableFromInline var index: Int

    @inlinable init(array: Array<Element>) {
      self.array = array
      index = 0
    }

    @inlinable public mutating func next() -> Element? {
      if index == array.count { return nil }
      let element = array[index]
      index &+= 1
      return element
    }
  }

  @inlinable public func makeIterator() -> Iterator { Iterator(array: self) }
}

/// A type that can be initialized with an array literal.
public protocol ExpressibleByArrayLiteral {
  associatedtype ArrayLiteralElement
  init(arrayLiteral elements: ArrayLiteralElement...)
}

extension UnsafeMutablePointer {
  /// Moves `count` values from `source` into this uninitialized memory.
  @inlinable public func moveInitialize(from source: UnsafeMutablePointer<Pointee>, count: Int) {
    var index = 0
    while index < count {
      (self + index).initialize(to: (source + index).move())
      index &+= 1
    }
  }
}

/// Used by the compiler for array literals and variadic arguments: an array
/// of `builtinCount` uninitialized elements and the address of the first.
@inlinable public func _allocateUninitializedArray<Element>(_ builtinCount: Builtin.Word)
  -> (Array<Element>, Builtin.RawPointer)
{
  let count = Int(_builtinWord: builtinCount)
  let storage = _ArrayStorage<Element>.create(capacity: count)
  storage.count = count
  return (Array(_storage: storage), storage.elements._rawValue)
}

/// Used by the compiler after it initialized the elements of a literal.
@inlinable public func _finalizeUninitializedArray<Element>(_ array: __owned Array<Element>)
  -> Array<Element>
{
  array
}

/// Used by the compiler when initializing a literal's elements failed.
@inlinable public func _deallocateUninitializedArray<Element>(_ array: __owned Array<Element>) {
  array._storage.count = 0
}
