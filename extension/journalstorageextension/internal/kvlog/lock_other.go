//go:build !unix

package kvlog

import "os"

// Without flock, two processes sharing a directory are not detected.
func lockDir(string) (*os.File, error) { return nil, nil }

func unlockDir(*os.File) error { return nil }

func syncDir(string) error { return nil }
