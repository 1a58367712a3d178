package archivetest

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/sluicelogs/sluice/internal/logarchive"
)

// Spec describes a synthetic archive: Records spread evenly over
// [Start, Start+Span) across Services, TraceEvery records per trace (a
// trace's records go to different services), and every KeywordEvery-th
// body containing Keyword.
type Spec struct {
	Records      int
	Start        time.Time
	Span         time.Duration
	Services     []string
	TraceEvery   int
	Keyword      string
	KeywordEvery int
}

// TraceID returns the id of trace number n of a generated archive.
func TraceID(n int) [16]byte {
	// Real trace ids are random: mix n into 16 pseudo-random bytes, so
	// neither statistics nor compression see any structure.
	var id [16]byte
	binary.BigEndian.PutUint64(id[:8], mix64(uint64(n)+1))
	binary.BigEndian.PutUint64(id[8:], mix64(uint64(n)+0x632BE59BD9B4E019))
	return id
}

// mix64 is the splitmix64 finalizer: a bijective, well-spread hash.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	x ^= x >> 31
	return x
}

// Row returns generated record number i of s.
func (s Spec) Row(i int) Row {
	step := s.Span / time.Duration(max(s.Records, 1))
	t := s.Start.Add(time.Duration(i) * step)
	svc := s.Services[i%len(s.Services)]
	sev := int32(9) // INFO
	text := "INFO"
	switch {
	case i%50 == 0:
		sev, text = 17, "ERROR"
	case i%10 == 0:
		sev, text = 13, "WARN"
	case i%7 == 0:
		sev, text = 5, "DEBUG"
	}
	body := fmt.Sprintf("request %d handled by %s in %d ms", i, svc, i%997)
	if s.KeywordEvery > 0 && i%s.KeywordEvery == 0 {
		body = fmt.Sprintf("payment %s for order %d", s.Keyword, i)
	}
	r := Row{
		Time: t, Observed: t.Add(time.Millisecond), Severity: sev, SeverityText: text, Body: body,
		Service: svc, ScopeName: "app",
		Attributes: map[string]string{"http.route": fmt.Sprintf("/api/v%d", i%3), "user.id": fmt.Sprintf("u%d", i%100)},
		Resource:   map[string]string{"host.name": "node-1"},
	}
	if s.TraceEvery > 0 {
		r.TraceID = TraceID(i / s.TraceEvery)
		binary.BigEndian.PutUint64(r.SpanID[:], mix64(uint64(i)+1))
	}
	return r
}

// Rows returns all generated records of s.
func (s Spec) Rows() []Row {
	out := make([]Row, s.Records)
	for i := range out {
		out[i] = s.Row(i)
	}
	return out
}

// WriteSpec writes the archive of s under root one partition-granularity
// slice of time at a time, so memory stays bounded for large archives. It
// returns the number of files written.
func WriteSpec(root string, layout *logarchive.Layout, s Spec, o Options) (int, error) {
	files := 0
	var seq uint64 = 1
	chunk := make([]Row, 0, 1024)
	var chunkStart time.Time
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		paths, err := WriteArchive(root, layout, chunk, seq, o)
		if err != nil {
			return err
		}
		seq += uint64(len(paths))
		files += len(paths)
		chunk = chunk[:0]
		return nil
	}
	for i := 0; i < s.Records; i++ {
		r := s.Row(i)
		start := r.Time.UTC().Truncate(layout.Granularity())
		if !start.Equal(chunkStart) {
			if err := flush(); err != nil {
				return files, err
			}
			chunkStart = start
		}
		chunk = append(chunk, r)
	}
	return files, flush()
}
