package query

import (
	"context"
	"errors"
	"slices"
	"sort"
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
	Width    time.Duration
	Buckets  []Bucket
	Total    int64
	Stats    Stats
}

// Histogram counts records matching f in n equal buckets over [f.From,
// f.To); both bounds are required.
func (e *Engine) Histogram(ctx context.Context, f Filter, n int) (*HistogramResult, error) {
	if f.From.IsZero() || f.To.IsZero() || !f.From.Before(f.To) {
		return nil, errors.New("histogram needs from < to")
	}
	if n <= 0 {
		return nil, errors.New("bucket count must be positive")
	}
	width := f.To.Sub(f.From) / time.Duration(n)
	if width < time.Microsecond {
		width = time.Microsecond
		n = int(f.To.Sub(f.From) / width)
	}
	res := &HistogramResult{From: f.From, To: f.To, Width: width, Buckets: make([]Bucket, n)}
	for i := range res.Buckets {
		res.Buckets[i] = Bucket{Start: f.From.Add(time.Duration(i) * width).UTC(), Counts: make([]int64, len(SeverityClasses))}
	}
	p, err := e.plan(ctx, &f, &res.Stats)
	if err != nil {
		return nil, err
	}
	km := newKeywordMatcher(f.Keyword)
	fc := &fileCursor{e: e, p: p, size: e.batchSize}
	defer fc.close()
	fromMicros, widthMicros := f.From.UnixMicro(), width.Microseconds()
	for _, ref := range p.groups {
		err := e.scanRowGroup(ctx, fc, ref, &f, km, &res.Stats, func(b *batch, i int, _ int64) error {
			k := int((b.timeMicros(i) - fromMicros) / widthMicros)
			if k >= n {
				k = n - 1
			}
			sev := int32(0)
			if b.severity != nil {
				sev = b.severity.Value(i)
			}
			res.Buckets[k].Counts[severityClass(sev)]++
			res.Total++
			return nil
		}, logarchive.ColSeverityNumber, logarchive.ColTimestamp)
		if err != nil {
			return nil, err
		}
	}
	return res, nil
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
