package otlpforwardexporter // import "github.com/sluicelogs/sluice/exporter/otlpforwardexporter"

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
)

// preEncoded is a request message that is already protobuf: the codec writes it as is.
type preEncoded []byte

// protoDecoder is what pdata's OTLP response types offer (e.g. *plogotlp.ExportResponse).
type protoDecoder interface {
	UnmarshalProto([]byte) error
}

// passThroughCodec writes pre-encoded request bytes unchanged and decodes responses with
// pdata's own protobuf decoder. It is forced per call, so it replaces gRPC's proto codec only
// for this exporter's Export calls. Its name keeps the content-type application/grpc+proto.
type passThroughCodec struct{}

var _ encoding.CodecV2 = passThroughCodec{}

func (passThroughCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.(preEncoded)
	if !ok {
		return nil, fmt.Errorf("otlp_forward codec: cannot marshal %T", v)
	}
	// SliceBuffer does not return the bytes to a pool: the request may be retried.
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (passThroughCodec) Unmarshal(data mem.BufferSlice, v any) error {
	d, ok := v.(protoDecoder)
	if !ok {
		return fmt.Errorf("otlp_forward codec: cannot unmarshal into %T", v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return d.UnmarshalProto(buf.ReadOnlyData())
}

func (passThroughCodec) Name() string { return "proto" }
