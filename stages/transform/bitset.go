package transform

import "sync/atomic"

// bitSet is a set of integers from 0 to a bound fixed when it is made, a bit each. Its methods
// are safe for concurrent use.
type bitSet []uint64

// newBitSet returns an empty set for the integers 0 to n-1.
func newBitSet(n int) bitSet { return make(bitSet, n/64+1) }

// set adds i to the set. It writes only when i is not in the set yet, so that goroutines finding
// the same members over and over do not contend for the cache line.
func (s bitSet) set(i int) {
	w, bit := &s[i/64], uint64(1)<<(i%64)
	if atomic.LoadUint64(w)&bit == 0 {
		atomic.OrUint64(w, bit)
	}
}

// has reports whether i is in the set.
func (s bitSet) has(i int) bool { return atomic.LoadUint64(&s[i/64])&(1<<(i%64)) != 0 }
