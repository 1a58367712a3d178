package queueitem

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.uber.org/goleak"

	"github.com/sluicelogs/sluice/internal/snappyframe"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func logsBody(t *testing.T, perScope ...int) ([]byte, int) {
	t.Helper()
	ld := plog.NewLogs()
	for i, n := range perScope {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", "svc")
		rl.SetSchemaUrl("https://example.com/schema")
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName("scope")
		for j := 0; j < n; j++ {
			lr := sl.LogRecords().AppendEmpty()
			lr.Body().SetStr("héllo wörld ✓")
			lr.Attributes().PutInt("i", int64(i*100+j))
		}
		// An empty scope: counts nothing, must still parse.
		rl.ScopeLogs().AppendEmpty()
	}
	b, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	require.NoError(t, err)
	return b, ld.LogRecordCount()
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	body, n := logsBody(t, 5, 2)
	item := mustEncode(t, SignalLogs, n, body)
	got, gotBody, err := Decode(item, SignalLogs)
	require.NoError(t, err)
	assert.Equal(t, n, got)
	assert.Equal(t, body, gotBody)

	// An empty request (no resources) is valid too.
	got, gotBody, err = Decode(mustEncode(t, SignalTraces, 0, nil), SignalTraces)
	require.NoError(t, err)
	assert.Equal(t, 0, got)
	assert.Empty(t, gotBody)
}

func TestDecodeRejects(t *testing.T) {
	body, n := logsBody(t, 4)
	good := mustEncode(t, SignalLogs, n, body)

	withVersion := func(v byte) []byte {
		b := append([]byte(nil), good...)
		b[4] = v
		return b
	}
	tests := []struct {
		name string
		item []byte
		want Signal
		err  string
	}{
		{name: "empty", item: nil, want: SignalLogs, err: "not an otlp_forward queue item (bad magic)"},
		{name: "core queue item", item: body, want: SignalLogs, err: "not an otlp_forward queue item (bad magic)"},
		{name: "future version", item: withVersion(3), want: SignalLogs, err: "otlp_forward queue item format version 3 is not supported (this build reads versions 1 and 2)"},
		{name: "version zero", item: withVersion(0), want: SignalLogs, err: "otlp_forward queue item format version 0 is not supported (this build reads versions 1 and 2)"},
		{name: "wrong signal", item: good, want: SignalTraces, err: "otlp_forward queue item holds logs, expected traces"},
		{name: "no count", item: []byte("SLFW\x01\x01"), want: SignalLogs, err: "otlp_forward queue item: bad record count"},
		{name: "count mismatch", item: mustEncode(t, SignalLogs, n+1, body), want: SignalLogs, err: "otlp_forward queue item: header says 5 records, body holds 4"},
		{name: "truncated body", item: good[:len(good)-3], want: SignalLogs, err: "otlp_forward queue item body: s2: corrupt input"},
		{name: "truncated message", item: mustEncode(t, SignalLogs, n, body[:len(body)-3]), want: SignalLogs, err: "otlp_forward queue item body: field 1: unexpected EOF"},
		// A snappy block header claiming 1 GiB: refused before any allocation.
		{name: "oversized body", item: []byte("SLFW\x01\x01\x00\x80\x80\x80\x80\x04"), want: SignalLogs, err: "otlp_forward queue item body: 1073741824 bytes decompressed, over the 268435456-byte limit"},
		{name: "wrong wire type", item: mustEncode(t, SignalLogs, 0, []byte{0x08, 0x01}), want: SignalLogs, err: "otlp_forward queue item body: field 1 has wire type 0, expected a length-delimited message"},
		{name: "bad tag", item: mustEncode(t, SignalLogs, 0, []byte{0xff}), want: SignalLogs, err: "otlp_forward queue item body: bad field tag: unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Decode(tt.item, tt.want)
			require.Error(t, err)
			assert.Equal(t, tt.err, err.Error())
		})
	}
}

func mustEncode(t *testing.T, signal Signal, records int, body []byte) []byte {
	t.Helper()
	item, err := Encode(signal, records, body)
	require.NoError(t, err)
	return item
}

// TestEncodeRefusesOversizedBody: what Decode would refuse is not written.
func TestEncodeRefusesOversizedBody(t *testing.T) {
	defer func(old int) { maxBody = old }(maxBody)
	maxBody = 16
	_, err := Encode(SignalLogs, 0, make([]byte, 17))
	require.EqualError(t, err, "otlp_forward request of 17 bytes is over the 16-byte queue item limit")
	_, err = Encode(SignalLogs, 0, make([]byte, 16))
	require.NoError(t, err)
}

// A version 2 item decodes to the same body and count as a version 1 item,
// and DecodeFramed hands out the stored stream without decoding it.
func TestFramedItems(t *testing.T) {
	body, n := logsBody(t, 5, 2)
	framed := snappyframe.Append(nil, body)
	item, err := EncodeFramed(SignalLogs, n, len(body), framed)
	require.NoError(t, err)

	got, gotBody, err := Decode(item, SignalLogs)
	require.NoError(t, err)
	assert.Equal(t, n, got)
	assert.Equal(t, body, gotBody)

	got, bodyLen, gotFramed, err := DecodeFramed(item, SignalLogs)
	require.NoError(t, err)
	assert.Equal(t, n, got)
	assert.Equal(t, len(body), bodyLen)
	assert.Equal(t, framed, gotFramed)

	// A version 1 item read for a snappy connection is framed on the way out.
	got, bodyLen, gotFramed, err = DecodeFramed(mustEncode(t, SignalLogs, n, body), SignalLogs)
	require.NoError(t, err)
	assert.Equal(t, n, got)
	assert.Equal(t, len(body), bodyLen)
	back, err := snappyframe.AppendDecoded(nil, gotFramed, len(body))
	require.NoError(t, err)
	assert.Equal(t, body, back)

	// The checks Decode makes on a version 2 body.
	_, _, err = Decode(item[:len(item)-2], SignalLogs)
	require.Error(t, err)
	wrongLen, err := EncodeFramed(SignalLogs, n, len(body)+1, framed)
	require.NoError(t, err)
	_, _, err = Decode(wrongLen, SignalLogs)
	require.EqualError(t, err, fmt.Sprintf("otlp_forward queue item body: %d bytes, the header says %d", len(body), len(body)+1))
	_, _, _, err = DecodeFramed(append(item[:len(item)-len(framed)], body...), SignalLogs)
	require.EqualError(t, err, "otlp_forward queue item body: snappy framed stream: no stream identifier")
}
