// A latency histogram in microseconds: exact below 1024 us, then 512
// buckets per power of two (every value within 0.2% of its bucket's floor),
// up to 2^40 us. One per connection, so recording takes no lock; merged at
// the end.

package main

import "math/bits"

const (
	subBits  = 10
	exact    = 1 << subBits      // values below this have a bucket each
	half     = exact / 2         // buckets per power of two above that
	nBuckets = exact + 31*half   // enough for values below 2^40 us
	maxValue = uint64(1)<<40 - 1 // larger values are clamped
)

type hist struct {
	count [nBuckets]uint64
	n     uint64
	max   uint64
}

func bucketOf(v uint64) int {
	if v < exact {
		return int(v)
	}
	shift := bits.Len64(v) - subBits
	return exact + (shift-1)*half + int(v>>shift) - half
}

// floorOf is the smallest value that falls in bucket i.
func floorOf(i int) uint64 {
	if i < exact {
		return uint64(i)
	}
	shift := (i-exact)/half + 1
	top := uint64((i-exact)%half + half)
	return top << shift
}

func (h *hist) record(us uint64) {
	if us > maxValue {
		us = maxValue
	}
	h.count[bucketOf(us)]++
	h.n++
	if us > h.max {
		h.max = us
	}
}

func (h *hist) merge(o *hist) {
	for i, c := range o.count {
		h.count[i] += c
	}
	h.n += o.n
	if o.max > h.max {
		h.max = o.max
	}
}

// percentile returns the value of rank floor((n-1)*p) in sorted order (the
// rank `dubbo bench` reports), as its bucket's floor.
func (h *hist) percentile(p float64) uint64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(float64(h.n-1) * p)
	var seen uint64
	for i, c := range h.count {
		seen += c
		if seen > rank {
			return floorOf(i)
		}
	}
	return h.max
}
