// Package window holds the bucket arithmetic behind tumbling and sliding
// windows. Time is cut into buckets of one step aligned to the Unix epoch; a
// window is the last Size/Step buckets, so a tumbling window is one bucket and
// a sliding window of size 5m and step 1m is five. Bucket i covers
// [i*step, (i+1)*step) and may be closed once the clock has passed its end by
// the allowed lateness.
package window // import "github.com/sluicelogs/sluice/connector/errorrateconnector/internal/window"

import (
	"fmt"
	"time"
)

// Spec describes a window layout.
type Spec struct {
	// Size is the window length; a multiple of Step.
	Size time.Duration
	// Step is how often a window closes (Size for tumbling windows).
	Step time.Duration
	// Lateness is how long after its end a bucket stays open for late records.
	Lateness time.Duration
}

// Validate reports a layout the arithmetic cannot serve.
func (s Spec) Validate() error {
	if s.Step <= 0 || s.Size <= 0 {
		return fmt.Errorf("window size %v and step %v must be positive", s.Size, s.Step)
	}
	if s.Size%s.Step != 0 {
		return fmt.Errorf("window size %v must be a multiple of step %v", s.Size, s.Step)
	}
	if s.Lateness < 0 {
		return fmt.Errorf("allowed lateness %v must not be negative", s.Lateness)
	}
	return nil
}

// Buckets is the number of buckets in one window.
func (s Spec) Buckets() int { return int(s.Size / s.Step) }

// RingLen is how many buckets a group must keep: one window of closed buckets
// plus every bucket that can still be open because of lateness.
func (s Spec) RingLen() int {
	open := int((s.Lateness + s.Step - 1) / s.Step)
	return s.Buckets() + open + 1
}

// Bucket returns the index of the bucket holding t.
func (s Spec) Bucket(t time.Time) int64 { return s.BucketOf(t.UnixNano()) }

// BucketOf returns the index of the bucket holding Unix time n (nanoseconds).
func (s Spec) BucketOf(n int64) int64 {
	step := int64(s.Step)
	if n < 0 {
		return (n - step + 1) / step
	}
	return n / step
}

// Start returns the start of bucket i.
func (s Spec) Start(i int64) time.Time { return time.Unix(0, i*int64(s.Step)) }

// End returns the end (exclusive) of bucket i.
func (s Spec) End(i int64) time.Time { return time.Unix(0, (i+1)*int64(s.Step)) }

// WindowStart returns the start of the window that ends with bucket i.
func (s Spec) WindowStart(i int64) time.Time { return s.Start(i - int64(s.Buckets()) + 1) }

// LastClosable returns the newest bucket whose end plus lateness is not after now.
func (s Spec) LastClosable(now time.Time) int64 {
	return s.Bucket(now.Add(-s.Lateness)) - 1
}
