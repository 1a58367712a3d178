package query

import (
	"context"
	"sync"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/archive"
)

// DefaultFooterConcurrency is the number of file footers one query reads at
// once when Options.FooterConcurrency is not set: on S3 each is a ranged
// GET of tens of milliseconds, so reading them one after another dominates
// queries over many files.
const DefaultFooterConcurrency = 16

// footerPrefetch reads the footers of a list of files ahead of a caller
// that takes them in order: take(i) starts the reads of files i … i+window-1
// that ahead allows and waits for file i's. At most window reads run at a
// time, and only files the caller has not taken yet are read ahead.
type footerPrefetch struct {
	e      *Engine
	ctx    context.Context
	cancel context.CancelFunc
	files  []archive.File
	f      *Filter
	// ahead reports whether file j may be read while the caller waits for
	// file i (j > i).
	ahead   func(i, j int) bool
	window  int
	slots   []footerSlot // file j in slots[j%window]
	started int          // files [0, started) have been started
	taken   int          // files [0, taken) have been taken
	wg      sync.WaitGroup
}

type footerSlot struct {
	done chan struct{} // closed when res is set
	res  footerRead
}

// prefetchFooters returns a prefetcher over files; the caller must call
// close, which stops the reads still running and waits for them.
func (e *Engine) prefetchFooters(ctx context.Context, files []archive.File, f *Filter, ahead func(i, j int) bool) *footerPrefetch {
	ctx, cancel := context.WithCancel(ctx)
	window := max(1, min(e.footerConcurrency, len(files)))
	return &footerPrefetch{e: e, ctx: ctx, cancel: cancel, files: files, f: f, ahead: ahead, window: window, slots: make([]footerSlot, window)}
}

// take returns the footer of file i; files must be taken in order, each
// once, starting at 0 (files may be left untaken at the end).
func (fp *footerPrefetch) take(i int) footerRead {
	if i != fp.taken {
		panic("footerPrefetch: files taken out of order")
	}
	fp.taken++
	for fp.started < len(fp.files) && fp.started < i+fp.window && (fp.started == i || fp.ahead(i, fp.started)) {
		fp.start(fp.started)
		fp.started++
	}
	s := &fp.slots[i%fp.window]
	<-s.done
	r := s.res
	s.res = footerRead{}
	return r
}

func (fp *footerPrefetch) start(j int) {
	s := &fp.slots[j%fp.window]
	s.done = make(chan struct{})
	fp.wg.Add(1)
	go func() {
		defer fp.wg.Done()
		s.res = fp.e.readFooter(fp.ctx, fp.files[j], fp.f)
		close(s.done)
	}()
}

// close cancels the reads still running (their results are dropped) and
// waits for them.
func (fp *footerPrefetch) close() {
	fp.cancel()
	fp.wg.Wait()
}
