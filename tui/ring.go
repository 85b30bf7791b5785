package tui

// ring is a fixed-capacity buffer that keeps the newest items. Every item
// gets a sequence number that never repeats, so a paused view can keep its
// place by number while new items arrive and old ones fall off the front.
type ring[T any] struct {
	buf  []T
	head int    // index of the oldest item in buf
	n    int    // items held
	next uint64 // sequence number of the next item appended
}

func newRing[T any](capacity int) *ring[T] {
	if capacity < 1 {
		capacity = 1
	}
	return &ring[T]{buf: make([]T, capacity)}
}

// Len returns how many items the ring holds.
func (r *ring[T]) Len() int { return r.n }

// Cap returns the most items the ring holds.
func (r *ring[T]) Cap() int { return len(r.buf) }

// Push appends v, dropping the oldest item when full.
func (r *ring[T]) Push(v T) {
	if r.n < len(r.buf) {
		r.buf[(r.head+r.n)%len(r.buf)] = v
		r.n++
	} else {
		r.buf[r.head] = v
		r.head = (r.head + 1) % len(r.buf)
	}
	r.next++
}

// At returns the i-th held item, 0 being the oldest.
func (r *ring[T]) At(i int) T { return r.buf[(r.head+i)%len(r.buf)] }

// Set replaces the i-th held item.
func (r *ring[T]) Set(i int, v T) { r.buf[(r.head+i)%len(r.buf)] = v }

// FirstSeq returns the sequence number of the oldest held item.
func (r *ring[T]) FirstSeq() uint64 { return r.next - uint64(r.n) }

// NextSeq returns the sequence number the next pushed item will get.
func (r *ring[T]) NextSeq() uint64 { return r.next }

// Index returns the position of sequence number seq, clamped to what the
// ring still holds.
func (r *ring[T]) Index(seq uint64) int {
	switch {
	case r.n == 0:
		return 0
	case seq < r.FirstSeq():
		return 0
	case seq >= r.next:
		return r.n - 1
	}
	return int(seq - r.FirstSeq())
}
