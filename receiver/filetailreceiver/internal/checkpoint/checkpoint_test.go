package checkpoint

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/goleak"

	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/fingerprint"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func sample() []Entry {
	return []Entry{
		{Fingerprint: fingerprint.Of([]byte("line one\n")), Offset: 9, Read: 20, Path: "/var/log/a.log", Dev: 1, Ino: 2, Updated: 1700000000},
		{Fingerprint: fingerprint.Of([]byte("other\n")), Offset: 0, Read: 0, Path: "/var/log/b.log", Dev: 1, Ino: 3, Updated: 1700000001},
	}
}

func TestFileStoreRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested")
	s, err := NewFile(dir, "file_tail")
	require.NoError(t, err)
	ctx := context.Background()

	got, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Empty(t, got, "nothing saved yet")

	require.NoError(t, s.Save(ctx, sample()))
	got, err = s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, sample(), got)

	require.NoError(t, s.Save(ctx, sample()[:1]))
	got, err = s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, sample()[:1], got)

	names, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, names, 1, "no temp files are left behind")
	require.NoError(t, s.Close(ctx))
}

func TestFileStoreCorrupt(t *testing.T) {
	dir := t.TempDir()
	s, err := NewFile(dir, "x")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(s.Path(), []byte("{not json"), 0o600))
	_, err = s.Load(context.Background())
	require.ErrorContains(t, err, "decode checkpoints")
}

// mapClient is an in-memory storage.Client.
type mapClient struct{ m map[string][]byte }

func (c *mapClient) Get(_ context.Context, k string) ([]byte, error) { return c.m[k], nil }
func (c *mapClient) Set(_ context.Context, k string, v []byte) error {
	c.m[k] = append([]byte(nil), v...)
	return nil
}

func (c *mapClient) Delete(_ context.Context, k string) error           { delete(c.m, k); return nil }
func (c *mapClient) Batch(context.Context, ...*storage.Operation) error { return nil }
func (c *mapClient) Close(context.Context) error                        { return nil }

func TestClientStoreRoundTrip(t *testing.T) {
	c := &mapClient{m: map[string][]byte{}}
	s := NewClient(c)
	ctx := context.Background()
	got, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Empty(t, got)
	require.NoError(t, s.Save(ctx, sample()))
	assert.Contains(t, c.m, StorageKey)
	got, err = s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, sample(), got)
	require.NoError(t, s.Close(ctx))
}

func TestMemoryStore(t *testing.T) {
	var s Memory
	ctx := context.Background()
	require.NoError(t, s.Save(ctx, sample()))
	got, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, sample(), got)
}

func TestDecodeRejects(t *testing.T) {
	for _, bad := range []string{
		`{"version":2,"files":[]}`,
		`{"version":1,"files":[{"fp":"bad"}]}`,
		`{"version":1,"files":[{"fp":"` + fingerprint.Of([]byte("x")).String() + `","offset":5,"read":2}]}`,
		`[]`,
	} {
		_, err := Decode([]byte(bad))
		assert.Error(t, err, bad)
	}
}

func FuzzDecode(f *testing.F) {
	b, _ := Encode(sample())
	f.Add(b)
	f.Add([]byte(`{"version":1,"files":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := Decode(data)
		if err != nil {
			return
		}
		enc, err := Encode(entries)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Decode(enc)
		if err != nil || len(again) != len(entries) {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}
