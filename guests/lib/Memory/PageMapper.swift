/// Maps single 4 KiB pages of virtual address space to physical pages, for
/// `VirtualAllocator`. Guest runtimes implement it with their page tables;
/// host tests implement it with host memory.
///
/// Addresses are page aligned. Implementations that need page-table pages
/// may take them from a `PageAllocator` themselves.
public protocol PageMapper {
  /// Maps the page at `virtual` to the physical page at `physical` with
  /// read/write access. Returns `false` if the mapping cannot be made.
  func map(virtual: UInt, physical: UInt) -> Bool
  /// Removes the mapping of the page at `virtual` (including any TLB
  /// invalidation) and returns the physical address it was mapped to, or
  /// `nil` if it was not mapped.
  func unmap(virtual: UInt) -> UInt?
  /// The physical address `virtual` is mapped to, or `nil` if unmapped.
  func translate(_ virtual: UInt) -> UInt?
}

/// A `PageMapper` that maps nothing, for heaps without a virtual allocator
/// (`GuestHeap<NoPageMapper>`).
public struct NoPageMapper: PageMapper, Sendable {
  /// Creates the mapper.
  public init() {}
  /// Always fails.
  public func map(virtual: UInt, physical: UInt) -> Bool { false }
  /// Always `nil`.
  public func unmap(virtual: UInt) -> UInt? { nil }
  /// Always `nil`.
  public func translate(_ virtual: UInt) -> UInt? { nil }
}
