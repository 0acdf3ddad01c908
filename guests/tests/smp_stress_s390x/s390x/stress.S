// Lock, counter and litmus-test code whose exact instruction order matters
// (the compiler must not move these loads and stores).
        .machine z13
        .text

// stress_lock(lock, owner): spins with CSG until *lock goes 0 -> owner.
        .globl stress_lock, stress_unlock
stress_lock:
1:      lghi    %r0, 0
        csg     %r0, %r3, 0(%r2)
        jnz     1b
        br      %r14
// stress_unlock(lock): a plain store of 0 (stores are seen in order).
stress_unlock:
        mvghi   0(%r2), 0
        br      %r14

// stress_critical(counter, lock, owner) -> 1 when the lock word was not
// `owner` inside the section: a non-atomic increment (load, add, store).
        .globl stress_critical
stress_critical:
        lg      %r1, 0(%r2)
        aghi    %r1, 1
        stg     %r1, 0(%r2)
        lghi    %r0, 0
        cg      %r4, 0(%r3)
        je      2f
        lghi    %r0, 1
2:      lgr     %r2, %r0
        br      %r14

// stress_cs_add(word, count): count increments of *word with a CS loop.
        .globl stress_cs_add
stress_cs_add:
        ltgr    %r3, %r3
        jz      4f
3:      lg      %r0, 0(%r2)
5:      lgr     %r1, %r0
        aghi    %r1, 1
        csg     %r0, %r1, 0(%r2)
        jnz     5b                           // r0 reloaded by CSG
        brctg   %r3, 3b
4:      br      %r14

// stress_laa_add(word, count): count increments with LOAD AND ADD.
        .globl stress_laa_add
stress_laa_add:
        ltgr    %r3, %r3
        jz      7f
        lghi    %r1, 1
6:      laag    %r0, %r1, 0(%r2)
        brctg   %r3, 6b
7:      br      %r14

// litmus_sb(mine, other, fence, delay) -> value of *other: stores 1 to
// *mine, then (fence 1: BCR 15,0; 2: BCR 14,0; else nothing), then spins
// `delay` times (a wide window for the other CPU's store and load), then
// loads *other.
        .globl litmus_sb
litmus_sb:
        mvhi    0(%r2), 1
        chi     %r4, 1
        jne     10f
        bcr     15, 0
        j       13f
10:     chi     %r4, 2
        jne     13f
        bcr     14, 0
13:     ltgr    %r5, %r5
        jz      14f
15:     brctg   %r5, 15b
14:     l       %r2, 0(%r3)
        llgfr   %r2, %r2
        br      %r14

// litmus_write2(first, second): *first = 1, then *second = 1.
        .globl litmus_write2, litmus_read2, litmus_write1, litmus_lb
litmus_write2:
        mvhi    0(%r2), 1
        mvhi    0(%r3), 1
        br      %r14
// litmus_read2(first, second) -> (*first << 1) | *second, read in order.
litmus_read2:
        l       %r0, 0(%r2)
        l       %r1, 0(%r3)
        sll     %r0, 1
        or      %r0, %r1
        llgfr   %r2, %r0
        br      %r14
// litmus_write1(word): *word = 1.
litmus_write1:
        mvhi    0(%r2), 1
        br      %r14
// litmus_lb(load, store) -> *load, read before storing 1 to *store.
litmus_lb:
        l       %r0, 0(%r2)
        mvhi    0(%r3), 1
        llgfr   %r2, %r0
        br      %r14
