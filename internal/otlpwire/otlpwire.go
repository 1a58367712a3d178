// Package otlpwire holds OTLP logs and spans in their protobuf wire form: it
// encodes a pdata batch record by record, each record apart from its resource
// and scope headers (EncodeTraces, EncodeLogs), and assembles records into a
// LogsData or TracesData message (AppendResource for the tail sampler's
// regrouped records, Batch.AppendData for a whole batch as encoded, which is
// also an Export*ServiceRequest for OTLP/gRPC). Both messages share one
// shape:
//
//	Data     { repeated Resource resource_x = 1; }
//	Resource { resource = 1; repeated Scope scope_x = 2; schema_url = 3; }
//	Scope    { scope = 1; repeated Record records = 2; schema_url = 3; }
//
// Keeping records as bytes lets the tail sampler buffer them at their wire
// size (a few hundred bytes) instead of as pdata objects (several times more,
// and full of pointers for the garbage collector to scan); the otlp_forward
// exporter encodes its requests here because it is several times cheaper
// than pdata's marshaler.
package otlpwire // import "github.com/sluicelogs/sluice/internal/otlpwire"

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// childField is the field number of the repeated child message at every level
// (resource_x in Data, scope_x in Resource, records in Scope).
const childField protowire.Number = 2

// dataField is the field number of the repeated resource message in Data.
const dataField protowire.Number = 1

// Scope is one (resource, scope) pair of an encoded batch and the index range
// of its records in Batch.Records.
type Scope struct {
	// Resource holds every field of the resource message except its scopes.
	Resource []byte
	// Scope holds every field of the scope message except its records.
	Scope []byte
	// First and End delimit the scope's records in Batch.Records: [First, End).
	First, End int
	// ResourceIndex numbers the batch's resources: scopes with the same
	// index came from one resource.
	ResourceIndex int
}

// Batch is one encoded batch. Its memory is reused by the next encoding:
// the slices it hands out are valid until then.
type Batch struct {
	Scopes  []Scope
	Records [][]byte
	// Encoding state, reused across calls.
	buf       []byte
	scopeOffs []scopeOffs
	res       [2]int // header of the current resource
	resources int    // resources added so far
}

// AppendResource appends to dst one resource entry of a Data message holding
// a single scope with the given records. Concatenating such entries yields a
// valid LogsData or TracesData message.
func AppendResource(dst, resource, scope []byte, records [][]byte) []byte {
	scopeSize, resSize := resourceSizes(resource, scope, records)
	dst = protowire.AppendTag(dst, dataField, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(resSize))
	dst = append(dst, resource...)
	dst = protowire.AppendTag(dst, childField, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(scopeSize))
	dst = append(dst, scope...)
	for _, r := range records {
		dst = protowire.AppendTag(dst, childField, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(len(r)))
		dst = append(dst, r...)
	}
	return dst
}

// ResourceSize returns the bytes AppendResource appends.
func ResourceSize(resource, scope []byte, records [][]byte) int {
	_, resSize := resourceSizes(resource, scope, records)
	return sizeOfField(resSize)
}

// resourceSizes returns the payload sizes of the scope and resource
// messages AppendResource writes.
func resourceSizes(resource, scope []byte, records [][]byte) (scopeLen, resLen int) {
	scopeLen = scopeSize(scope, records)
	return scopeLen, len(resource) + sizeOfField(scopeLen)
}

// sizeOfField is the encoded size of a length-delimited field with a
// one-byte tag (field numbers 1 and 2) and a payload of n bytes.
func sizeOfField(n int) int {
	return 1 + protowire.SizeVarint(uint64(n)) + n
}

// DataSize returns the bytes AppendData appends.
func (b *Batch) DataSize() int {
	n := 0
	b.eachResource(func(scopes []Scope) {
		n += sizeOfField(b.resourceSize(scopes))
	})
	return n
}

// AppendData appends the batch as the body of a LogsData or TracesData
// message — equally an ExportLogsServiceRequest or ExportTraceServiceRequest
// — with the scopes of one resource under one resource entry, as encoded. A
// resource without scopes carries no records and is left out.
func (b *Batch) AppendData(dst []byte) []byte {
	b.eachResource(func(scopes []Scope) {
		resSize := b.resourceSize(scopes)
		dst = protowire.AppendTag(dst, dataField, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(resSize))
		dst = append(dst, scopes[0].Resource...)
		for _, sc := range scopes {
			records := b.Records[sc.First:sc.End]
			dst = protowire.AppendTag(dst, childField, protowire.BytesType)
			dst = protowire.AppendVarint(dst, uint64(scopeSize(sc.Scope, records)))
			dst = append(dst, sc.Scope...)
			for _, r := range records {
				dst = protowire.AppendTag(dst, childField, protowire.BytesType)
				dst = protowire.AppendVarint(dst, uint64(len(r)))
				dst = append(dst, r...)
			}
		}
	})
	return dst
}

// eachResource calls fn with the scopes of each resource in turn.
func (b *Batch) eachResource(fn func(scopes []Scope)) {
	for i := 0; i < len(b.Scopes); {
		j := i + 1
		for j < len(b.Scopes) && b.Scopes[j].ResourceIndex == b.Scopes[i].ResourceIndex {
			j++
		}
		fn(b.Scopes[i:j])
		i = j
	}
}

// resourceSize returns the payload size of the resource message holding
// scopes. Sizes are computed up front: nothing is written twice.
func (b *Batch) resourceSize(scopes []Scope) int {
	n := len(scopes[0].Resource)
	for _, sc := range scopes {
		n += sizeOfField(scopeSize(sc.Scope, b.Records[sc.First:sc.End]))
	}
	return n
}

// scopeSize is the payload size of a scope message with its records.
func scopeSize(scope []byte, records [][]byte) int {
	n := len(scope)
	for _, r := range records {
		n += sizeOfField(len(r))
	}
	return n
}

// Held returns the bytes of encoding buffer the batch keeps for reuse, so a
// pool of batches can let one that encoded an unusually large batch go.
func (b *Batch) Held() int { return cap(b.buf) }

// CountRecords walks data, a LogsData or TracesData message (equally an
// Export*ServiceRequest), and returns the number of records in it, or an
// error when its framing down to the records is not well-formed protobuf.
// Other fields are skipped after their framing is checked; records are not
// decoded.
func CountRecords(data []byte) (int, error) {
	count := 0
	err := eachField(data, dataField, func(resource []byte) error {
		return eachField(resource, childField, func(scope []byte) error {
			return eachField(scope, childField, func([]byte) error {
				count++
				return nil
			})
		})
	})
	return count, err
}

// eachField calls fn with the value of every length-delimited field num of
// msg, in order, and returns an error when msg is not well-formed protobuf or
// field num is not length-delimited.
func eachField(msg []byte, num protowire.Number, fn func([]byte) error) error {
	for len(msg) > 0 {
		n, typ, tagLen := protowire.ConsumeTag(msg)
		if tagLen < 0 {
			return fmt.Errorf("bad field tag: %w", protowire.ParseError(tagLen))
		}
		msg = msg[tagLen:]
		if n == num {
			if typ != protowire.BytesType {
				return fmt.Errorf("field %d has wire type %d, expected a length-delimited message", n, typ)
			}
			v, vLen := protowire.ConsumeBytes(msg)
			if vLen < 0 {
				return fmt.Errorf("field %d: %w", n, protowire.ParseError(vLen))
			}
			if err := fn(v); err != nil {
				return err
			}
			msg = msg[vLen:]
			continue
		}
		vLen := protowire.ConsumeFieldValue(n, typ, msg)
		if vLen < 0 {
			return fmt.Errorf("field %d: %w", n, protowire.ParseError(vLen))
		}
		msg = msg[vLen:]
	}
	return nil
}
