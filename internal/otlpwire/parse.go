package otlpwire // import "github.com/sluicelogs/sluice/internal/otlpwire"

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Parse splits data, a LogsData or TracesData message (equally an
// Export*ServiceRequest), into its scopes and records, resources numbered in
// order. It is also the tests' reference for the encoders: for data
// marshaled by pdata it gives the scopes and records they must produce.
// Records alias data; headers are copies.
func (b *Batch) Parse(data []byte) error {
	b.Scopes = b.Scopes[:0]
	b.Records = b.Records[:0]
	// Reserve enough so that the header slices handed out stay valid.
	headers := make([]byte, 0, len(data))
	p := parser{b: b, headers: &headers}
	return p.parse(data)
}

// parser holds Parse's header copies (Batch has no field for them).
type parser struct {
	b         *Batch
	headers   *[]byte
	resources int
}

func (p *parser) parse(data []byte) error {
	return eachField(data, dataField, p.parseResource)
}

func (p *parser) parseResource(res []byte) error {
	b := p.b
	hdr, err := p.header(res)
	if err != nil {
		return fmt.Errorf("resource: %w", err)
	}
	err = eachField(res, childField, func(scope []byte) error {
		scopeHdr, err := p.header(scope)
		if err != nil {
			return fmt.Errorf("scope: %w", err)
		}
		first := len(b.Records)
		if err := eachField(scope, childField, func(rec []byte) error {
			b.Records = append(b.Records, rec)
			return nil
		}); err != nil {
			return fmt.Errorf("record: %w", err)
		}
		b.Scopes = append(b.Scopes, Scope{Resource: hdr, Scope: scopeHdr, First: first, End: len(b.Records), ResourceIndex: p.resources})
		return nil
	})
	p.resources++
	return err
}

// header copies every field of msg except the child field and returns the
// copy.
func (p *parser) header(msg []byte) ([]byte, error) {
	start := len(*p.headers)
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
			*p.headers = append(*p.headers, msg[:n+m]...)
		}
		msg = msg[n+m:]
	}
	h := *p.headers
	return h[start:len(h):len(h)], nil
}
