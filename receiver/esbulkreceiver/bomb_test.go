package esbulkreceiver

import (
	"bytes"
	"compress/zlib"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/sluicelogs/sluice/receiver/esbulkreceiver/internal/metadatatest"
)

// Every Content-Encoding the server accepts stops decompressing at
// max_request_body_size: 16 MiB of bulk lines, small on the wire, against a
// 1 MiB limit are refused with 413 once about the limit was read (gzip:
// TestDecompressionBomb).
func TestDecompressionBombsEveryEncoding(t *testing.T) {
	line := []byte("{\"create\":{\"_index\":\"i\"}}\n{\"message\":\"" + strings.Repeat("A", 4000) + "\"}\n")
	encoders := map[string]func(io.Writer) io.WriteCloser{
		"zstd": func(w io.Writer) io.WriteCloser {
			zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
			require.NoError(t, err)
			return zw
		},
		"lz4":             func(w io.Writer) io.WriteCloser { return lz4.NewWriter(w) },
		"x-snappy-framed": func(w io.Writer) io.WriteCloser { return snappy.NewBufferedWriter(w) },
		// HTTP's "deflate" is the zlib format (RFC 9110).
		"deflate": func(w io.Writer) io.WriteCloser {
			zw, err := zlib.NewWriterLevel(w, zlib.BestCompression)
			require.NoError(t, err)
			return zw
		},
	}
	for encoding, newWriter := range encoders {
		t.Run(encoding, func(t *testing.T) {
			var wire bytes.Buffer
			w := newWriter(&wire)
			for written := 0; written < 16<<20; written += len(line) {
				_, err := w.Write(line)
				require.NoError(t, err)
			}
			require.NoError(t, w.Close())
			require.Less(t, wire.Len(), 2<<20, "the bomb is small on the wire")

			assertBombRefused(t, wire.Bytes(), encoding)
		})
	}
}

// assertBombRefused posts body, which inflates far past it, to a receiver
// with max_request_body_size 1 MiB: 413, nothing forwarded, and reading
// stopped at about the limit.
func assertBombRefused(t *testing.T, body []byte, encoding string) {
	t.Helper()
	sink := new(consumertest.LogsSink)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.ServerConfig.MaxRequestBodySize = 1 << 20
	r, err := newReceiver(cfg, metadatatest.NewSettings(tel), sink)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })

	resp := post(t, "http://"+r.addr.String()+"/_bulk", body, encoding)
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.Zero(t, sink.LogRecordCount(), "nothing from a refused request is forwarded")
	m, err := tel.GetMetric("otelcol_es_bulk_request_body_size")
	require.NoError(t, err)
	read := m.Data.(metricdata.Sum[int64]).DataPoints[0].Value
	assert.LessOrEqual(t, read, int64(1<<20)+64<<10, "reading stops at the limit")
}
