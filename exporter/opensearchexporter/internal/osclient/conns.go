package osclient

import (
	"context"
	"net"
	"net/http/httptrace"
	"sync"
)

// maxTrackedConns bounds the connection set; older entries are usually long
// closed by then and closing them again is harmless.
const maxTrackedConns = 256

// connTracker remembers the connections requests used so Close can shut them
// at exporter shutdown. confighttp wraps the transport in round trippers that
// do not pass CloseIdleConnections on, so http.Client cannot do it.
type connTracker struct {
	once  sync.Once
	mu    sync.Mutex
	conns []net.Conn
	trace *httptrace.ClientTrace
}

func (t *connTracker) withTrace(ctx context.Context) context.Context {
	t.once.Do(func() {
		t.trace = &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
			if info.Reused {
				return
			}
			t.mu.Lock()
			if len(t.conns) >= maxTrackedConns {
				t.conns = t.conns[1:]
			}
			t.conns = append(t.conns, info.Conn)
			t.mu.Unlock()
		}}
	})
	return httptrace.WithClientTrace(ctx, t.trace)
}

func (t *connTracker) closeAll() {
	t.mu.Lock()
	conns := t.conns
	t.conns = nil
	t.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}
