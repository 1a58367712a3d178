package query

import (
	"context"
	"runtime"
	"sync"
)

// maxWorkers bounds the goroutines one query uses to read row groups in
// parallel (trace lookups and row materialization, where a few independent
// row groups dominate latency).
func maxWorkers() int { return min(runtime.GOMAXPROCS(0), 4) }

// forEach runs fn(i) for i in [0, n) on up to workers goroutines, each with
// its own Stats (summed into st) and file cursor. The first error cancels
// the context given to the other calls; forEach waits for every started call.
func (e *Engine) forEach(ctx context.Context, p *plan, n, workers int, st *Stats, fn func(ctx context.Context, i int, fc *fileCursor, st *Stats) error) error {
	workers = max(1, min(workers, n))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		next     int
		firstErr error
		wg       sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local Stats
			fc := &fileCursor{e: e, p: p, size: e.batchSize}
			defer fc.close()
			for {
				mu.Lock()
				if firstErr != nil || next >= n {
					st.add(local)
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				if err := fn(ctx, i, fc, &local); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func (s *Stats) add(o Stats) {
	s.FilesScanned += o.FilesScanned
	s.FilesSkippedPartition += o.FilesSkippedPartition
	s.FilesSkippedStatistics += o.FilesSkippedStatistics
	s.RowGroupsScanned += o.RowGroupsScanned
	s.RowGroupsSkippedStatistics += o.RowGroupsSkippedStatistics
	s.RowGroupsSkippedBloom += o.RowGroupsSkippedBloom
	s.RowGroupsSkippedLimit += o.RowGroupsSkippedLimit
	s.RowsScanned += o.RowsScanned
	s.FilesSkippedMissing += o.FilesSkippedMissing
	s.FilesSkippedLimit += o.FilesSkippedLimit
}
