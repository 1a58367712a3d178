package journalstorageextension

import (
	"errors"
	"fmt"
	"os"
)

// Defaults.
const (
	defaultSegmentSize = 32 << 20
	defaultInlineMax   = 1 << 10
	minSegmentSize     = 64 << 10
	maxSegmentSize     = 512 << 20
	maxInlineMax       = 64 << 10

	onCorruptionRecreate = "recreate"
	onCorruptionFail     = "fail"
)

// Config is the journal_storage extension configuration.
type Config struct {
	// Directory holds one subdirectory per client (component and storage
	// name), each with its segment files. Required.
	Directory string `mapstructure:"directory"`
	// CreateDirectory creates Directory (mode 0750) when it does not exist.
	CreateDirectory bool `mapstructure:"create_directory"`
	// FSync syncs every write to disk before it is acknowledged. Off, a
	// write survives the process being killed (it is in the page cache) but
	// not a power loss or kernel crash; on, it survives both, at the cost
	// of a disk flush per queue operation.
	FSync bool `mapstructure:"fsync"`
	// SegmentSize is the size at which a segment file is closed and a new
	// one started; closed segments are compacted away oldest first.
	SegmentSize int64 `mapstructure:"segment_size"`
	// InlineMax is the largest value also held in memory; larger values
	// are read back from their segment (the page cache, normally).
	InlineMax int `mapstructure:"inline_max"`
	// OnCorruption is what a client does when its journal is damaged.
	// "recreate" skips a damaged frame that valid frames follow, and moves
	// the directory aside and starts empty when a segment other than the
	// newest does not end in a whole frame; "fail" fails the component's
	// start in both cases.
	OnCorruption string `mapstructure:"on_corruption"`
}

// Validate checks the configuration, naming the YAML key at fault.
func (c *Config) Validate() error {
	if c.Directory == "" {
		return errors.New("directory: must be set")
	}
	if !c.CreateDirectory {
		st, err := os.Stat(c.Directory)
		if err != nil {
			return fmt.Errorf("directory: %w (set create_directory: true to create it)", err)
		}
		if !st.IsDir() {
			return fmt.Errorf("directory: %s is not a directory", c.Directory)
		}
	}
	if c.SegmentSize < minSegmentSize || c.SegmentSize > maxSegmentSize {
		return fmt.Errorf("segment_size: must be between %d and %d bytes, got %d", minSegmentSize, maxSegmentSize, c.SegmentSize)
	}
	if c.InlineMax < 0 || c.InlineMax > maxInlineMax {
		return fmt.Errorf("inline_max: must be between 0 and %d bytes, got %d", maxInlineMax, c.InlineMax)
	}
	if c.OnCorruption != onCorruptionRecreate && c.OnCorruption != onCorruptionFail {
		return fmt.Errorf("on_corruption: must be %q or %q, got %q", onCorruptionRecreate, onCorruptionFail, c.OnCorruption)
	}
	return nil
}
