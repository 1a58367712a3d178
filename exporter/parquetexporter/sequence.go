package parquetexporter

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/component"

	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/store"
)

// sequenceFile in an instance's staging directory holds the lowest file
// sequence number not yet reserved, so names never repeat even when the
// clock reads earlier than in a previous run.
const sequenceFile = "sequence"

// sequenceBlock is how many sequence numbers one durable write reserves:
// the file is rewritten (and fsynced) once per this many journals.
const sequenceBlock = 1024

// readSequence returns the persisted sequence reservation (0 if none).
func readSequence(dir string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, sequenceFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read file sequence: %w", err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("file sequence %s is corrupt (remove it only if no file of this writer id can have a higher sequence): %w", filepath.Join(dir, sequenceFile), err)
	}
	return n, nil
}

// writeSequence durably records that every sequence below next may be in use.
func writeSequence(dir string, next uint64) error {
	tmp := filepath.Join(dir, "."+sequenceFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("write file sequence: %w", err)
	}
	_, err = f.WriteString(strconv.FormatUint(next, 10) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, sequenceFile))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write file sequence: %w", err)
	}
	return store.SyncDir(dir)
}

// instanceWriterID is the writer part of file names of one exporter
// instance. The default instance (parquet) uses the writer id as is; a named
// one (parquet/x) appends ".x", so several instances of one collector never
// share names. Names are sanitized, with a digest when that changed them or
// the result would exceed 128 characters, so distinct names stay distinct.
func instanceWriterID(writer string, id component.ID) string {
	name := id.Name()
	if name == "" {
		return writer
	}
	safe := unsafePathChars.ReplaceAllString(name, "_")
	if safe != name {
		safe += "_" + shortDigest(name)
	}
	w := writer + "." + safe
	if len(w) > maxWriterIDLen {
		w = w[:maxWriterIDLen-len(shortDigest(""))-1] + "_" + shortDigest(w)
	}
	return w
}

// maxWriterIDLen is the longest writer id logarchive.ValidateWriterID accepts.
const maxWriterIDLen = 128

func shortDigest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}
