// Package otlpwire splits a marshaled OTLP LogsData or TracesData message
// into its records without decoding them, and reassembles records into a new
// message. Both messages share one shape:
//
//	Data     { repeated Resource resource_x = 1; }
//	Resource { resource = 1; repeated Scope scope_x = 2; schema_url = 3; }
//	Scope    { scope = 1; repeated Record records = 2; schema_url = 3; }
//
// Keeping records as bytes lets the tail sampler buffer them at their wire
// size (a few hundred bytes) instead of as pdata objects (several times more,
// and full of pointers for the garbage collector to scan).
package otlpwire // import "github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/otlpwire"

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// childField is the field number of the repeated child message at every level
// (resource_x in Data, scope_x in Resource, records in Scope).
const childField protowire.Number = 2

// dataField is the field number of the repeated resource message in Data.
const dataField protowire.Number = 1

// Scope is one (resource, scope) pair of a parsed message and the index range
// of its records in Batch.Records.
type Scope struct {
	// Resource holds every field of the resource message except its scopes.
	Resource []byte
	// Scope holds every field of the scope message except its records.
	Scope []byte
	// First and End delimit the scope's records in Batch.Records: [First, End).
	First, End int
}

// Batch is the result of Parse. Its slices are reused by the next Parse, and
// Records alias the parsed buffer.
type Batch struct {
	Scopes  []Scope
	Records [][]byte
	headers []byte
}

var errTruncated = errors.New("truncated field")

// Parse splits data, a marshaled LogsData or TracesData, into scopes and
// records. Records are listed in message order, which is also pdata's
// iteration order.
func (b *Batch) Parse(data []byte) error {
	b.Scopes = b.Scopes[:0]
	b.Records = b.Records[:0]
	b.headers = b.headers[:0]
	// Header bytes are copied into b.headers; reserve enough so that the
	// slices handed out stay valid (no reallocation while parsing).
	if cap(b.headers) < len(data) {
		b.headers = make([]byte, 0, len(data))
	}
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return fmt.Errorf("data: %w", protowire.ParseError(n))
		}
		data = data[n:]
		if num != dataField || typ != protowire.BytesType {
			m := protowire.ConsumeFieldValue(num, typ, data)
			if m < 0 {
				return fmt.Errorf("data field %d: %w", num, protowire.ParseError(m))
			}
			data = data[m:]
			continue
		}
		res, m := protowire.ConsumeBytes(data)
		if m < 0 {
			return fmt.Errorf("resource: %w", protowire.ParseError(m))
		}
		data = data[m:]
		if err := b.parseResource(res); err != nil {
			return err
		}
	}
	return nil
}

func (b *Batch) parseResource(res []byte) error {
	hdr, err := b.header(res)
	if err != nil {
		return fmt.Errorf("resource: %w", err)
	}
	return eachChild(res, func(scope []byte) error {
		scopeHdr, err := b.header(scope)
		if err != nil {
			return fmt.Errorf("scope: %w", err)
		}
		first := len(b.Records)
		if err := eachChild(scope, func(rec []byte) error {
			b.Records = append(b.Records, rec)
			return nil
		}); err != nil {
			return fmt.Errorf("record: %w", err)
		}
		b.Scopes = append(b.Scopes, Scope{Resource: hdr, Scope: scopeHdr, First: first, End: len(b.Records)})
		return nil
	})
}

// header copies every field of msg except the child field into b.headers and
// returns the copy.
func (b *Batch) header(msg []byte) ([]byte, error) {
	start := len(b.headers)
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, msg[n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		if num != childField {
			b.headers = append(b.headers, msg[:n+m]...)
		}
		msg = msg[n+m:]
	}
	return b.headers[start:len(b.headers):len(b.headers)], nil
}

// eachChild calls fn with the payload of every child field (number 2,
// length-delimited) of msg.
func eachChild(msg []byte, fn func([]byte) error) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return protowire.ParseError(n)
		}
		msg = msg[n:]
		if num == childField && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(msg)
			if m < 0 {
				return protowire.ParseError(m)
			}
			if err := fn(v); err != nil {
				return err
			}
			msg = msg[m:]
			continue
		}
		if num == childField {
			return fmt.Errorf("child field has wire type %d: %w", typ, errTruncated)
		}
		m := protowire.ConsumeFieldValue(num, typ, msg)
		if m < 0 {
			return protowire.ParseError(m)
		}
		msg = msg[m:]
	}
	return nil
}

// AppendResource appends to dst one resource entry of a Data message holding
// a single scope with the given records. Concatenating such entries yields a
// valid LogsData or TracesData message.
func AppendResource(dst, resource, scope []byte, records [][]byte) []byte {
	scopeSize := len(scope)
	for _, r := range records {
		scopeSize += sizeOfField(len(r))
	}
	resSize := len(resource) + sizeOfField(scopeSize)
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

// sizeOfField is the encoded size of a length-delimited field with a
// one-byte tag (field numbers 1 and 2) and a payload of n bytes.
func sizeOfField(n int) int {
	return 1 + protowire.SizeVarint(uint64(n)) + n
}
