package esbulkreceiver

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
)

// errInFlightBudget is returned by a body read that would take the bodies
// being processed past max_in_flight_bytes; the request is answered 429.
var errInFlightBudget = errors.New("max_in_flight_bytes reached")

// inFlightBudget bounds the decompressed request-body bytes being processed
// at once, across all connections (Elasticsearch's indexing pressure). It
// never waits: a reservation is made at once or refused.
type inFlightBudget struct {
	limit int64 // 0: no limit
	used  atomic.Int64
}

// tryAcquire reserves n more bytes for a request that already holds held.
// It fails when the total would exceed the limit, except for a request that
// is the only one holding bytes: a single request larger than the budget
// (up to max_request_body_size) still goes through when nothing else is in
// flight, so the bound is max(max_in_flight_bytes, max_request_body_size).
func (b *inFlightBudget) tryAcquire(n, held int64) bool {
	for {
		cur := b.used.Load()
		if cur+n > b.limit && cur != held {
			return false
		}
		if b.used.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// budgetReader counts the (decompressed) body bytes read and, when a budget
// is set, reserves them before handing them on: first the Content-Length,
// then whatever is read beyond it (compressed or chunked bodies).
type budgetReader struct {
	r      io.Reader
	budget *inFlightBudget // nil: no limit
	n      int64           // bytes read
	held   int64           // bytes reserved from budget
}

// newBudgetReader wraps req's body. It reports false, having reserved and
// read nothing, when the announced Content-Length does not fit.
func (r *esBulkReceiver) newBudgetReader(req *http.Request) (*budgetReader, bool) {
	br := &budgetReader{r: req.Body}
	if r.budget.limit <= 0 {
		return br, true
	}
	br.budget = &r.budget
	if n := req.ContentLength; n > 0 {
		if maxBody := r.cfg.ServerConfig.MaxRequestBodySize; maxBody > 0 {
			n = min(n, maxBody) // a larger body gets 413 anyway
		}
		if !br.budget.tryAcquire(n, 0) {
			return br, false
		}
		br.held = n
	}
	return br, true
}

func (c *budgetReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.held && c.budget != nil {
		need := c.n - c.held
		if !c.budget.tryAcquire(need, c.held) {
			return 0, errInFlightBudget
		}
		c.held += need
	}
	return n, err
}

// release gives the reservation back once the request has been answered.
func (c *budgetReader) release() {
	if c.held > 0 {
		c.budget.used.Add(-c.held)
		c.held = 0
	}
}

// refuseInFlight answers 429, as Elasticsearch's indexing pressure does,
// without reading further.
func (r *esBulkReceiver) refuseInFlight(w http.ResponseWriter, req *http.Request) {
	r.telemetry.EsBulkInFlightRefusals.Add(req.Context(), 1)
	r.writeError(w, http.StatusTooManyRequests, errTypeRejected,
		"rejected execution of coordinating operation: max_in_flight_bytes ("+
			strconv.FormatInt(r.budget.limit, 10)+" bytes) of request bodies are being processed, retry later")
}
