// Package otlpwire holds OTLP logs and spans in their protobuf wire form for
// the tail sampler: it encodes a pdata batch record by record, each record
// apart from its resource and scope headers (EncodeTraces, EncodeLogs), and
// reassembles records into a LogsData or TracesData message
// (AppendResource). Both messages share one shape:
//
//	Data     { repeated Resource resource_x = 1; }
//	Resource { resource = 1; repeated Scope scope_x = 2; schema_url = 3; }
//	Scope    { scope = 1; repeated Record records = 2; schema_url = 3; }
//
// Keeping records as bytes lets the tail sampler buffer them at their wire
// size (a few hundred bytes) instead of as pdata objects (several times more,
// and full of pointers for the garbage collector to scan).
package otlpwire // import "github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/otlpwire"

import "google.golang.org/protobuf/encoding/protowire"

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
}

// Batch is one encoded batch. Its memory is reused by the next encoding:
// the slices it hands out are valid until then.
type Batch struct {
	Scopes  []Scope
	Records [][]byte
	// Encoding state, reused across calls.
	buf       []byte
	recOffs   [][2]int
	scopeOffs []scopeOffs
	res       [2]int // header of the current resource
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
func resourceSizes(resource, scope []byte, records [][]byte) (scopeSize, resSize int) {
	scopeSize = len(scope)
	for _, r := range records {
		scopeSize += sizeOfField(len(r))
	}
	return scopeSize, len(resource) + sizeOfField(scopeSize)
}

// sizeOfField is the encoded size of a length-delimited field with a
// one-byte tag (field numbers 1 and 2) and a payload of n bytes.
func sizeOfField(n int) int {
	return 1 + protowire.SizeVarint(uint64(n)) + n
}
