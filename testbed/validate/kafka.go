package validate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/plog"
)

// KafkaEncoding says how records on a topic are encoded.
type KafkaEncoding string

const (
	// KafkaOTLPProto is the kafka exporter's default: one ExportLogsServiceRequest per message.
	KafkaOTLPProto KafkaEncoding = "otlp_proto"
	// KafkaOTLPJSON is the same request as OTLP JSON.
	KafkaOTLPJSON KafkaEncoding = "otlp_json"
)

// ReadKafkaLogs consumes topic from the start until no record arrived for
// idle (or ctx ends) and adds every log record id to into.
func ReadKafkaLogs(ctx context.Context, brokers []string, topic string, enc KafkaEncoding, idle time.Duration, into *Multiset) (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return 0, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	var decode func([]byte) (plog.Logs, error)
	switch enc {
	case KafkaOTLPProto:
		decode = (&plog.ProtoUnmarshaler{}).UnmarshalLogs
	case KafkaOTLPJSON:
		decode = (&plog.JSONUnmarshaler{}).UnmarshalLogs
	default:
		return 0, fmt.Errorf("unknown kafka encoding %q (allowed: %s, %s)", enc, KafkaOTLPProto, KafkaOTLPJSON)
	}
	messages := 0
	for {
		pollCtx, cancel := context.WithTimeout(ctx, idle)
		fetches := cl.PollFetches(pollCtx)
		cancel()
		var decodeErr error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				decodeErr = fmt.Errorf("fetch %s/%d: %w", t, p, err)
			}
		})
		if decodeErr != nil {
			return messages, decodeErr
		}
		got := 0
		fetches.EachRecord(func(r *kgo.Record) {
			got++
			ld, err := decode(r.Value)
			if err != nil {
				decodeErr = fmt.Errorf("decode message at %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
				return
			}
			EachLogID(ld, into.Add)
		})
		messages += got
		if decodeErr != nil {
			return messages, decodeErr
		}
		if got == 0 {
			return messages, ctx.Err()
		}
	}
}
