package filetailreceiver // import "github.com/sluicelogs/sluice/receiver/filetailreceiver"

import (
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/internal/lognormalize"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/metadata"
)

// group is the records of one file (and one service.name) in a batch.
type group struct {
	file    *tailedFile
	service string
	records plog.LogRecordSlice
}

// batch collects records for one ConsumeLogs call, one ResourceLogs per file
// (and per service.name found in the file's JSON lines).
type batch struct {
	logs    plog.Logs
	groups  []group
	last    int // index of the group used last (the common case repeats it)
	records int
	bytes   int
}

func newBatch() *batch { return &batch{logs: plog.NewLogs(), last: -1} }

func (b *batch) empty() bool { return b.records == 0 }

// add moves lr into the group of file f and service (empty for none).
func (b *batch) add(f *tailedFile, service string, lr plog.LogRecord, size int) {
	g := b.group(f, service)
	lr.MoveTo(g.AppendEmpty())
	b.records++
	b.bytes += size
}

func (b *batch) group(f *tailedFile, service string) plog.LogRecordSlice {
	if b.last >= 0 {
		if g := &b.groups[b.last]; g.file == f && g.service == service {
			return g.records
		}
	}
	for i := range b.groups {
		if g := &b.groups[i]; g.file == f && g.service == service {
			b.last = i
			return g.records
		}
	}
	rl := b.logs.ResourceLogs().AppendEmpty()
	f.resource.CopyTo(rl.Resource().Attributes())
	if service != "" {
		rl.Resource().Attributes().PutStr(lognormalize.AttrServiceName, service)
	}
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	b.groups = append(b.groups, group{file: f, service: service, records: sl.LogRecords()})
	b.last = len(b.groups) - 1
	return b.groups[b.last].records
}

// take returns the collected logs and resets the batch.
func (b *batch) take() plog.Logs {
	logs := b.logs
	*b = batch{logs: plog.NewLogs(), groups: b.groups[:0], last: -1}
	return logs
}

// Record attribute names (OpenTelemetry semantic conventions).
const (
	attrFilePath = "log.file.path"
	attrFileName = "log.file.name"
	attrIOStream = "log.iostream"
)

// setFileAttrs sets the attributes every record of a file carries.
func setFileAttrs(lr plog.LogRecord, path, name, stream string) {
	attrs := lr.Attributes()
	attrs.PutStr(attrFilePath, path)
	attrs.PutStr(attrFileName, name)
	if stream != "" {
		attrs.PutStr(attrIOStream, stream)
	}
}
