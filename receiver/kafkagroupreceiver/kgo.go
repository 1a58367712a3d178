package kafkagroupreceiver // import "github.com/sluicelogs/sluice/receiver/kafkagroupreceiver"

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// commitError returns the request error or the first partition error of an
// offset commit.
func commitError(resp *kmsg.OffsetCommitResponse, err error) error {
	if err != nil {
		return err
	}
	if resp == nil {
		return nil
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if perr := kerr.ErrorForCode(p.ErrorCode); perr != nil {
				return fmt.Errorf("commit %s[%d]: %w", t.Topic, p.Partition, perr)
			}
		}
	}
	return nil
}

// kgoLogger routes franz-go's log lines to the collector's logger; its info
// level is chatty (every connection), so it is logged at debug.
type kgoLogger struct{ l *zap.Logger }

func (k kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelInfo }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	fields := make([]zap.Field, 0, len(keyvals)/2)
	for i := 0; i+1 < len(keyvals); i += 2 {
		fields = append(fields, zap.Any(fmt.Sprint(keyvals[i]), keyvals[i+1]))
	}
	switch level {
	case kgo.LogLevelError:
		k.l.Error("franz-go: "+msg, fields...)
	case kgo.LogLevelWarn:
		k.l.Warn("franz-go: "+msg, fields...)
	default:
		k.l.Debug("franz-go: "+msg, fields...)
	}
}
