package otlpforwardexporter

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
)

// pingCounter is a TCP proxy in front of an OTLP server that reads the HTTP/2 frames
// the client sends and counts its pings (not the acknowledgements of the server's).
type pingCounter struct {
	addr  string
	pings atomic.Int64
}

func startPingCounter(t *testing.T, upstream string) *pingCounter {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &pingCounter{addr: lis.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c ...net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		conns = append(conns, c...)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			client, err := lis.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", upstream)
			if err != nil {
				client.Close()
				continue
			}
			track(client, server)
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(client, server)
			}()
			go func() {
				defer wg.Done()
				p.relayClientFrames(client, server)
			}()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return p
}

// relayClientFrames copies the client's bytes to the server while parsing them as the
// HTTP/2 connection preface followed by frames.
func (p *pingCounter) relayClientFrames(client, server net.Conn) {
	r := io.TeeReader(client, server)
	if _, err := io.ReadFull(r, make([]byte, len(http2.ClientPreface))); err != nil {
		return
	}
	fr := http2.NewFramer(io.Discard, r)
	fr.SetMaxReadFrameSize(1 << 24)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			// Keep relaying whatever the framer could not read (nothing once the
			// client has gone).
			_, _ = io.Copy(server, client)
			return
		}
		if ping, ok := f.(*http2.PingFrame); ok && !ping.IsAck() {
			p.pings.Add(1)
		}
	}
}

// The exporter sends no pings of its own: gRPC's bandwidth-delay estimator, which would
// ping after every response, is off (receiveWindow), saving a write and a wake-up for
// the reply per request.
func TestClientSendsNoBandwidthPings(t *testing.T) {
	srv := startOTLPServer(t, "127.0.0.1:0")
	proxy := startPingCounter(t, srv.addr)
	consumeLogs := startLogs(t, testConfig(proxy.addr), nil)
	const requests = 20
	for range requests {
		require.NoError(t, consumeLogs(context.Background(), sampleLogs(200)))
	}
	_, _, calls := srv.snapshot()
	require.Equal(t, requests, calls)
	assert.Zero(t, proxy.pings.Load(), "pings sent by the client")
}
