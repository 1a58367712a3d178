package otlpwire

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

var errTruncated = errors.New("truncated field")

// Parse is the tests' reference for the encoders: it splits data, a
// LogsData or TracesData marshaled by pdata, into the scopes and records the
// encoders must produce. Records alias data; headers are copies.
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
	b       *Batch
	headers *[]byte
}

func (p *parser) parse(data []byte) error {
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
		if err := p.parseResource(res); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) parseResource(res []byte) error {
	b := p.b
	hdr, err := p.header(res)
	if err != nil {
		return fmt.Errorf("resource: %w", err)
	}
	return eachChild(res, func(scope []byte) error {
		scopeHdr, err := p.header(scope)
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
