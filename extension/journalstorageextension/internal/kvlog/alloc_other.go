//go:build !linux

package kvlog

import (
	"errors"
	"os"
)

// allocate: without fallocate, no space is held back for a full disk.
func allocate(*os.File, int64) error { return errors.ErrUnsupported }
