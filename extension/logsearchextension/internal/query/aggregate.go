package query

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/parquet/metadata"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/archive"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

// SeverityClasses are the histogram series, from OTel severity number
// ranges (1-4 trace, 5-8 debug, 9-12 info, 13-16 warn, 17-20 error,
// 21-24 fatal; 0 unspecified).
var SeverityClasses = []string{"unspecified", "trace", "debug", "info", "warn", "error", "fatal"}

func severityClass(n int32) int {
	if n <= 0 || n > 24 {
		return 0
	}
	return int((n-1)/4) + 1
}

// Bucket is one histogram interval [Start, Start+width).
type Bucket struct {
	Start time.Time `json:"start"`
	// Counts has one count per SeverityClasses entry.
	Counts []int64 `json:"counts"`
}

// HistogramResult counts matches over time per severity class.
type HistogramResult struct {
	From, To time.Time
	// WidthMillis is the exact bucket width in milliseconds (a
	// time.Duration would saturate for ranges past the year 2262).
	WidthMillis float64
	Buckets     []Bucket
	Total       int64
	Stats       Stats
}

// HistogramResolution is the smallest bucket width: the resolution of the
// timestamp column the buckets are counted on.
const HistogramResolution = time.Microsecond

// Histogram counts records matching f in n equal buckets over [f.From,
// f.To); both bounds are required and must be at least HistogramResolution
// apart. n is reduced so that no bucket is narrower than that.
func (e *Engine) Histogram(ctx context.Context, f Filter, n int) (*HistogramResult, error) {
	if f.From.IsZero() || f.To.IsZero() || !f.From.Before(f.To) {
		return nil, errors.New("histogram needs from < to")
	}
	if n <= 0 {
		return nil, errors.New("bucket count must be positive")
	}
	// Sub saturates at about 292 years, which is fine for these small
	// comparisons; the bucket arithmetic below does not use it.
	span := f.To.Sub(f.From)
	if span < HistogramResolution {
		return nil, fmt.Errorf("histogram range must be at least %v", HistogramResolution)
	}
	if span < time.Duration(n)*HistogramResolution {
		n = int(span / HistogramResolution)
	}
	b := newBucketBounds(f.From, f.To, n)
	res := &HistogramResult{From: f.From, To: f.To, WidthMillis: b.widthMillis, Buckets: make([]Bucket, n)}
	for i := range res.Buckets {
		res.Buckets[i] = Bucket{Start: b.starts[i], Counts: make([]int64, len(SeverityClasses))}
	}
	p, err := e.plan(ctx, &f, &res.Stats)
	if err != nil {
		return nil, err
	}
	km := newKeywordMatcher(f.Keyword)
	// Row groups are counted in any order, several at once: on S3 each is a
	// few ranged GETs, and one at a time the round trips add up. Each call
	// counts into a tally taken from a free list, so there are at most as
	// many tallies as workers; they are summed at the end.
	classes := len(SeverityClasses)
	var (
		mu      sync.Mutex
		tallies [][]int64
	)
	take := func() []int64 {
		mu.Lock()
		defer mu.Unlock()
		if k := len(tallies); k > 0 {
			t := tallies[k-1]
			tallies = tallies[:k-1]
			return t
		}
		return make([]int64, n*classes)
	}
	err = e.forEach(ctx, p, len(p.groups), min(histogramWorkers, e.footerConcurrency), &res.Stats, func(ctx context.Context, gi int, fc *fileCursor, st *Stats) error {
		tally := take()
		defer func() {
			mu.Lock()
			tallies = append(tallies, tally)
			mu.Unlock()
		}()
		return e.scanRowGroup(ctx, fc, p.groups[gi], &f, km, st, func(bt *batch, i int, _ int64) error {
			sev := int32(0)
			if bt.severity != nil {
				sev = bt.severity.Value(i)
			}
			tally[b.index(bt.timeMicros(i))*classes+severityClass(sev)]++
			return nil
		}, logarchive.ColSeverityNumber, logarchive.ColTimestamp)
	})
	if err != nil {
		return nil, err
	}
	for _, t := range tallies {
		for i := range res.Buckets {
			for c, v := range t[i*classes : (i+1)*classes] {
				res.Buckets[i].Counts[c] += v
				res.Total += v
			}
		}
	}
	return res, nil
}

// histogramWorkers bounds the row groups one histogram reads at once (also
// bounded by footer_concurrency, the operator's bound on one query's
// requests in flight). Its scans mostly wait for reads on object storage
// and keep only a tally each, so it exceeds maxWorkers.
const histogramWorkers = 8

// bucketBounds splits [from, to) into n buckets of exactly (to-from)/n
// nanoseconds (a whole number of microseconds or not).
type bucketBounds struct {
	starts []time.Time
	// micros[i] is the first timestamp-column value (µs, floored like the
	// row filter's bounds) of bucket i; micros[n] is the end of the last.
	micros      []int64
	scale       float64 // buckets per microsecond, for a first guess
	widthMillis float64
}

// newBucketBounds computes the bucket starts once per query in
// arbitrary precision: a range in nanoseconds overflows int64 past 292
// years, and i*range before the division overflows much sooner.
func newBucketBounds(from, to time.Time, n int) *bucketBounds {
	const nsPerSec = int64(time.Second)
	span := new(big.Int).Mul(big.NewInt(to.Unix()-from.Unix()), big.NewInt(nsPerSec))
	span.Add(span, big.NewInt(int64(to.Nanosecond()-from.Nanosecond())))
	b := &bucketBounds{starts: make([]time.Time, n), micros: make([]int64, n+1)}
	bn := big.NewInt(int64(n))
	width, _ := new(big.Rat).SetFrac(span, new(big.Int).Mul(bn, big.NewInt(int64(time.Millisecond)))).Float64()
	b.widthMillis = width
	off, q, r := new(big.Int), new(big.Int), new(big.Int)
	for i := 0; i <= n; i++ {
		var start time.Time
		if i == n {
			start = to
		} else {
			off.Mul(span, big.NewInt(int64(i)))
			off.Quo(off, bn)
			q.QuoRem(off, big.NewInt(nsPerSec), r)
			start = time.Unix(from.Unix()+q.Int64(), int64(from.Nanosecond())+r.Int64()).UTC()
			b.starts[i] = start
		}
		b.micros[i] = start.UnixMicro()
	}
	b.scale = float64(n) / float64(b.micros[n]-b.micros[0])
	return b
}

// index returns the bucket of a timestamp-column value. The float guess is
// corrected against the exact bounds, and the result is clamped, so a row
// the filter let through can never index outside the buckets.
func (b *bucketBounds) index(ts int64) int {
	last := len(b.starts) - 1
	k := int(float64(ts-b.micros[0]) * b.scale)
	k = max(0, min(k, last))
	for k < last && ts >= b.micros[k+1] {
		k++
	}
	for k > 0 && ts < b.micros[k] {
		k--
	}
	return k
}

// ServicesResult lists service names seen in a time range.
type ServicesResult struct {
	Services []string
	Stats    Stats
}

// Services returns the distinct service.name values of records in [from,
// to), at most limit of them. With {service} in the layout they come from
// partition paths alone; otherwise from row-group statistics, reading the
// service_name column only where a row group holds several services.
func (e *Engine) Services(ctx context.Context, from, to time.Time, limit int) (*ServicesResult, error) {
	res := &ServicesResult{}
	seen := map[string]bool{}
	add := func(s string) error {
		if seen[s] {
			return nil
		}
		if len(seen) >= limit {
			return errTooMany("services", limit)
		}
		seen[s] = true
		return nil
	}
	fromPaths := e.layout.ByService()
	if fromPaths {
		lr, err := e.catalog.Select(ctx, archive.Selection{From: from, To: to})
		if err != nil {
			return nil, err
		}
		// A bounded path segment names only a prefix of a long service
		// name: then the names come from the files instead.
		fromPaths = !slices.ContainsFunc(lr.Files, func(f archive.File) bool { return f.Partition.ServiceDigest != "" })
		if fromPaths {
			res.Stats.FilesSkippedPartition = lr.Skipped
			for _, f := range lr.Files {
				if err := add(f.Partition.Service); err != nil {
					return nil, err
				}
			}
		}
	}
	if !fromPaths {
		f := Filter{From: from, To: to}
		p, err := e.plan(ctx, &f, &res.Stats)
		if err != nil {
			return nil, err
		}
		fc := &fileCursor{e: e, p: p, size: e.batchSize}
		defer fc.close()
		for _, ref := range p.groups {
			fi := p.infos[ref.file]
			leaf := fi.Leaf(logarchive.ColServiceName)
			st, ok := columnStats(fi.Meta.RowGroup(ref.rg), leaf).(*metadata.ByteArrayStatistics)
			inRange := (from.IsZero() || ref.minTS >= from.UnixMicro()) && (to.IsZero() || ref.maxTS < to.UnixMicro())
			if ok && inRange && st.HasMinMax() && string(st.Min()) == string(st.Max()) && st.NullCount() == 0 {
				if err := add(string(st.Min())); err != nil {
					return nil, err
				}
				continue
			}
			err := e.scanRowGroup(ctx, fc, ref, &f, nil, &res.Stats, func(b *batch, i int, _ int64) error {
				s := b.str(b.service, i)
				if seen[s] {
					return nil
				}
				return add(string([]byte(s)))
			}, logarchive.ColServiceName)
			if err != nil {
				return nil, err
			}
		}
	}
	for s := range seen {
		res.Services = append(res.Services, s)
	}
	sort.Strings(res.Services)
	return res, nil
}
