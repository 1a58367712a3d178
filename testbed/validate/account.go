package validate

import (
	"fmt"
	"strings"
)

// maxExamples bounds the ids quoted in a report.
const maxExamples = 10

// Outcome is where the sent records ended.
type Outcome struct {
	// Delivered holds ids found at the destination(s).
	Delivered *Multiset
	// SampledOut holds ids the pipeline dropped on purpose, when it names them.
	SampledOut *Multiset
	// DeadLettered holds ids the pipeline dead-lettered, when it names them.
	DeadLettered *Multiset
	// SampledOutReported and DeadLetteredReported are counts the pipeline
	// reports (self-metrics) when it does not name the ids: that many missing
	// ids are then explained rather than lost.
	SampledOutReported   uint64
	DeadLetteredReported uint64
}

// Report is the accounting of one run.
type Report struct {
	Sent         uint64 // distinct ids sent (acknowledged by the receiver)
	Delivered    uint64 // occurrences of sent ids at the destination
	SampledOut   uint64 // named + reported
	DeadLettered uint64 // named + reported
	Missing      uint64 // sent ids found nowhere
	Lost         uint64 // Missing minus the reported-but-unnamed sampled/dead-lettered counts
	Duplicates   uint64 // extra occurrences beyond one per sent id
	Unexpected   uint64 // occurrences of ids never sent
	// Named counts the sampled-out/dead-lettered occurrences identified by id.
	Named uint64
	// Examples of missing, duplicated and unexpected ids.
	MissingIDs, DuplicateIDs, UnexpectedIDs []string
}

// Account compares what was sent with where it ended.
func Account(sent *Multiset, out Outcome) Report {
	empty := NewMultiset("")
	if out.Delivered == nil {
		out.Delivered = empty
	}
	if out.SampledOut == nil {
		out.SampledOut = empty
	}
	if out.DeadLettered == nil {
		out.DeadLettered = empty
	}
	var r Report
	sent.Each(func(id string, _ uint32) {
		r.Sent++
		d, s, x := out.Delivered.Count(id), out.SampledOut.Count(id), out.DeadLettered.Count(id)
		r.Delivered += uint64(d)
		r.SampledOut += uint64(s)
		r.DeadLettered += uint64(x)
		r.Named += uint64(s) + uint64(x)
		switch total := d + s + x; {
		case total == 0:
			r.Missing++
			if len(r.MissingIDs) < maxExamples {
				r.MissingIDs = append(r.MissingIDs, id)
			}
		case total > 1:
			r.Duplicates += uint64(total - 1)
			if len(r.DuplicateIDs) < maxExamples {
				r.DuplicateIDs = append(r.DuplicateIDs, fmt.Sprintf("%s×%d", id, total))
			}
		}
	})
	for _, m := range []*Multiset{out.Delivered, out.SampledOut, out.DeadLettered} {
		m.Each(func(id string, c uint32) {
			if sent.Count(id) == 0 {
				r.Unexpected += uint64(c)
				if len(r.UnexpectedIDs) < maxExamples {
					r.UnexpectedIDs = append(r.UnexpectedIDs, id)
				}
			}
		})
	}
	explained := out.SampledOutReported + out.DeadLetteredReported
	r.SampledOut += out.SampledOutReported
	r.DeadLettered += out.DeadLetteredReported
	if r.Missing > explained {
		r.Lost = r.Missing - explained
	}
	return r
}

// Err is nil when every sent id is accounted for exactly once (duplicates
// tolerated when allowDuplicates, e.g. at-least-once after a crash).
func (r Report) Err(allowDuplicates bool) error {
	var problems []string
	if r.Lost > 0 {
		problems = append(problems, fmt.Sprintf("%d lost (e.g. %s)", r.Lost, strings.Join(r.MissingIDs, ", ")))
	}
	if reported := r.SampledOut + r.DeadLettered - r.namedDropped(); reported > 0 && r.Missing < reported {
		problems = append(problems, fmt.Sprintf("pipeline reports %d sampled out/dead-lettered without ids but only %d ids are missing", reported, r.Missing))
	}
	if r.Duplicates > 0 && !allowDuplicates {
		problems = append(problems, fmt.Sprintf("%d duplicates (e.g. %s)", r.Duplicates, strings.Join(r.DuplicateIDs, ", ")))
	}
	if r.Unexpected > 0 {
		problems = append(problems, fmt.Sprintf("%d records with ids never sent (e.g. %s)", r.Unexpected, strings.Join(r.UnexpectedIDs, ", ")))
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("accounting failed: sent %d, delivered %d, sampled out %d, dead-lettered %d: %s",
		r.Sent, r.Delivered, r.SampledOut, r.DeadLettered, strings.Join(problems, "; "))
}

func (r Report) namedDropped() uint64 { return r.Named }

// String is a one-line summary.
func (r Report) String() string {
	return fmt.Sprintf("sent %d, delivered %d, sampled out %d, dead-lettered %d, lost %d, duplicates %d, unexpected %d",
		r.Sent, r.Delivered, r.SampledOut, r.DeadLettered, r.Lost, r.Duplicates, r.Unexpected)
}
