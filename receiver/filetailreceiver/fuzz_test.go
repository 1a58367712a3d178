package filetailreceiver

import (
	"bytes"
	"context"
	"testing"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/checkpoint"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/metadata"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/multiline"
)

// FuzzLinePipeline runs arbitrary file content through the whole per-line
// pipeline (envelope detection, partial joining, multiline framing, payload
// parsing) for every format and preset: no panic, valid UTF-8 bodies,
// bounded records, and checkpoints that never pass the content read.
func FuzzLinePipeline(f *testing.F) {
	f.Add([]byte("2024-05-01T12:00:00Z stdout P a\n2024-05-01T12:00:00Z stdout F b\n"), uint8(0), uint8(0))
	f.Add([]byte(`{"log":"{\"level\":\"info\",\"msg\":\"x\"}\n","stream":"stdout","time":"2024-05-01T12:00:00Z"}`+"\n"), uint8(0), uint8(1))
	f.Add([]byte("level=info msg=\"q\" k=v\nERROR x\n\tat a.b(c)\nTraceback (most recent call last):\n  x\nE: y\n"), uint8(0), uint8(2))
	f.Add([]byte("panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/x.go:1\n\xff\xfe{\"a\":[1,2,{\"b\":null}]}\n"), uint8(1), uint8(3))
	f.Add([]byte(`{"@timestamp":"2024-05-01T12:00:00Z","message":"m","service":{"name":"s"}}`+"\nno newline"), uint8(4), uint8(4))
	presets := append([]string{""}, multiline.PresetNames()...)
	f.Fuzz(func(t *testing.T, data []byte, format, preset uint8) {
		cfg := createDefaultConfig().(*Config)
		cfg.Include = []string{"/x/*.log"}
		cfg.Format = validFormats[int(format)%len(validFormats)]
		cfg.Multiline.Preset = presets[int(preset)%len(presets)]
		cfg.MaxRecordSize = 64
		cfg.MaxBatchBytes = 1 << 20
		tb, err := metadata.NewTelemetryBuilder(componenttest.NewNopTelemetrySettings())
		if err != nil {
			t.Fatal(err)
		}
		sink := &recordingSink{}
		tl, err := newTailer(cfg, zap.NewNop(), sink, tb, &checkpoint.Memory{})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(1_700_000_000, 0)
		tl.observed = now
		file := tl.newFile(bytes.NewReader(data), "/var/log/pods/ns_pod_uid/c/0.log", fileKey{}, nil, 0, int64(len(data)), now)
		for {
			line, ok, err := file.rd.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			tl.processLine(file, line)
			if off := file.safeOffset(); off > line.End || off < 0 {
				t.Fatalf("safe offset %d beyond the line end %d", off, line.End)
			}
		}
		if line, ok := file.rd.Remainder(); ok {
			tl.processLine(file, line)
		}
		tl.flushPending(file)
		b, err := tl.deliver(context.Background(), tl.batch.take(), 0, &pendingDelivery{})
		if err != nil {
			t.Fatal(err)
		}
		if b != nil {
			b.Release(nil)
		}
		for _, lr := range sink.records {
			checkRecord(t, lr, cfg.MaxRecordSize)
		}
		if len(data) > 0 && bytes.Count(data, []byte("\n")) > 0 && len(sink.records) == 0 && cfg.Format != FormatCRI && cfg.Format != FormatDocker && cfg.Multiline.Preset == "" {
			t.Fatalf("lines produced no records")
		}
	})
}

func checkRecord(t *testing.T, lr plog.LogRecord, maxSize int) {
	t.Helper()
	if lr.Body().Type() != 0 && lr.Body().Str() != "" {
		body := lr.Body().Str()
		if !utf8.ValidString(body) {
			t.Fatalf("invalid UTF-8 body %q", body)
		}
		if len(body) > 3*maxSize { // U+FFFD may replace one byte with three
			t.Fatalf("body of %d bytes over max %d", len(body), maxSize)
		}
	}
}
