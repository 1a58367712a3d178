package archive

import (
	"context"
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/sluicelogs/sluice/internal/logarchive"
)

// FileInfo is what a query needs from one file's footer, parsed once.
type FileInfo struct {
	// Meta is the parsed Parquet footer.
	Meta *metadata.FileMetaData
	// Schema is the Arrow schema stored in the file.
	Schema *arrow.Schema
	// Promoted lists the promoted attribute columns of this file.
	Promoted []logarchive.PromotedColumn
	// leaves maps a top-level column name to its Parquet leaf indices.
	leaves map[string][]int
}

// Leaves returns the Parquet leaf column indices of a top-level column
// (two for a map column), or nil when the file has no such column.
func (fi *FileInfo) Leaves(column string) []int { return fi.leaves[column] }

// Leaf returns the single leaf index of a primitive column, or -1.
func (fi *FileInfo) Leaf(column string) int {
	l := fi.leaves[column]
	if len(l) != 1 {
		return -1
	}
	return l[0]
}

func newFileInfo(md *metadata.FileMetaData) (*FileInfo, error) {
	sc, err := pqarrow.FromParquet(md.Schema, &pqarrow.ArrowReadProperties{}, md.KeyValueMetadata())
	if err != nil {
		return nil, fmt.Errorf("arrow schema: %w", err)
	}
	promoted, err := logarchive.PromotedFromSchema(sc)
	if err != nil {
		return nil, err
	}
	fi := &FileInfo{Meta: md, Schema: sc, Promoted: promoted, leaves: make(map[string][]int)}
	for i := 0; i < md.Schema.NumColumns(); i++ {
		path := md.Schema.Column(i).ColumnPath()
		if len(path) == 0 {
			continue
		}
		fi.leaves[path[0]] = append(fi.leaves[path[0]], i)
	}
	return fi, nil
}

// FooterCache keeps parsed footers of recently read files. Archive files
// never change once visible, so an entry is valid as long as key and size
// match. The cache holds at most its capacity; when full, an arbitrary entry
// is evicted (footers are small and re-reading one is a single ranged read).
type FooterCache struct {
	mu       sync.Mutex
	capacity int
	entries  map[Object]*FileInfo
}

// NewFooterCache returns a cache of at most capacity footers (0 disables it).
func NewFooterCache(capacity int) *FooterCache {
	return &FooterCache{capacity: capacity, entries: make(map[Object]*FileInfo)}
}

// Open opens obj and returns a Parquet reader using the cached footer when
// there is one. The caller closes the reader, which closes the object.
func (c *FooterCache) Open(ctx context.Context, s Store, obj Object) (*file.Reader, *FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	ra, err := s.Open(ctx, obj)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	fi := c.entries[obj]
	c.mu.Unlock()
	var opts []file.ReadOption
	if fi != nil {
		opts = append(opts, file.WithMetadata(fi.Meta))
	}
	rdr, err := file.NewParquetReader(ra, opts...)
	if err != nil {
		ra.Close()
		return nil, nil, fmt.Errorf("read parquet footer of %s: %w", obj.Key, err)
	}
	if fi == nil {
		fi, err = newFileInfo(rdr.MetaData())
		if err != nil {
			rdr.Close()
			return nil, nil, fmt.Errorf("file %s: %w", obj.Key, err)
		}
		c.put(obj, fi)
	}
	return rdr, fi, nil
}

func (c *FooterCache) put(obj Object, fi *FileInfo) {
	if c.capacity <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Concurrent readers of one file may both parse its footer: the second
	// replaces the first rather than evicting another entry.
	if _, ok := c.entries[obj]; !ok && len(c.entries) >= c.capacity {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[obj] = fi
}

// Len returns the number of cached footers.
func (c *FooterCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
