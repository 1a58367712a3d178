package otlpwire // import "github.com/sluicelogs/sluice/internal/otlpwire"

import (
	"errors"
	"fmt"
)

// ErrMalformed is returned by SplitRequest for bytes that are not an OTLP
// export request.
var ErrMalformed = errors.New("otlpwire: malformed export request")

// maxLengthPrefix is the most bytes a length prefix takes (lengths < 2^35).
const maxLengthPrefix = 5

// SplitRequest splits an encoded ExportLogsServiceRequest or
// ExportTraceServiceRequest into requests of at most maxBytes each, in
// order, every record or span under its own resource and scope. A record
// larger than maxBytes on its own becomes a request alone (over the limit).
// Resource and scope entries without records are left out. The parts are
// new memory.
func SplitRequest(body []byte, maxBytes int) ([][]byte, error) {
	var all Batch
	if err := all.Parse(body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(body) <= maxBytes {
		if len(all.Records) == 0 {
			return nil, nil
		}
		return [][]byte{all.AppendData(make([]byte, 0, all.DataSize()))}, nil
	}
	var (
		parts     [][]byte
		part      Batch
		size      int // an upper bound of part's encoded size
		lastScope = -1
	)
	flush := func() {
		if len(part.Records) > 0 {
			parts = append(parts, part.AppendData(make([]byte, 0, part.DataSize())))
		}
		part.Scopes, part.Records, size, lastScope = part.Scopes[:0], part.Records[:0], 0, -1
	}
	// cost bounds what adding rec of scope si adds to part: the record's
	// field, and the header, tag and (longest) length prefix of each entry
	// it opens.
	cost := func(si int, rec []byte) int {
		n := sizeOfField(len(rec))
		if si == lastScope {
			return n
		}
		sc := all.Scopes[si]
		n += len(sc.Scope) + 1 + maxLengthPrefix
		if k := len(part.Scopes); k == 0 || part.Scopes[k-1].ResourceIndex != sc.ResourceIndex {
			n += len(sc.Resource) + 1 + maxLengthPrefix
		}
		return n
	}
	for si, sc := range all.Scopes {
		for _, rec := range all.Records[sc.First:sc.End] {
			add := cost(si, rec)
			if len(part.Records) > 0 && size+add > maxBytes {
				flush()
				add = cost(si, rec)
			}
			if si != lastScope {
				part.Scopes = append(part.Scopes, Scope{Resource: sc.Resource, Scope: sc.Scope, First: len(part.Records), End: len(part.Records), ResourceIndex: sc.ResourceIndex})
				lastScope = si
			}
			part.Records = append(part.Records, rec)
			part.Scopes[len(part.Scopes)-1].End++
			size += add
		}
	}
	flush()
	return parts, nil
}
