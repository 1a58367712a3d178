package archive

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/sluicelogs/sluice/internal/logarchive"
)

// File is an archive file together with the partition its path names.
type File struct {
	Object
	logarchive.ArchiveFile
	// End is the exclusive end of the partition's time range.
	End time.Time
}

// Selection is what partition pruning can use from a query.
type Selection struct {
	// From and To bound the time range [From, To); zero means unbounded.
	From, To time.Time
	// Service restricts to one service.name when HasService is set.
	Service    string
	HasService bool
}

// Catalog lists the files of one signal of an archive.
type Catalog struct {
	Store  Store
	Layout *logarchive.Layout
	Signal string
}

// ListResult is the outcome of Catalog.Select.
type ListResult struct {
	// Files overlap the selection, ordered by key.
	Files []File
	// Skipped counts files whose partition path excludes them.
	Skipped int
}

// Select lists the archive and keeps the files whose partition overlaps sel.
// Keys that do not parse as archive files of this layout (other signals,
// foreign files, temporaries) are ignored and not counted.
func (c *Catalog) Select(ctx context.Context, sel Selection) (ListResult, error) {
	objs, err := c.Store.List(ctx, c.listPrefix(sel))
	if err != nil {
		return ListResult{}, err
	}
	var res ListResult
	for _, o := range objs {
		if logarchive.IsTemporary(o.Key) {
			continue
		}
		af, err := c.Layout.ParseFilePath(o.Key)
		if err != nil || af.Partition.Signal != c.Signal && strings.Contains(c.Layout.Template(), logarchive.PlaceholderSignal) {
			continue
		}
		f := File{Object: o, ArchiveFile: af, End: c.Layout.End(af.Partition)}
		if !sel.From.IsZero() && !f.End.After(sel.From) ||
			!sel.To.IsZero() && !f.Partition.Start.Before(sel.To) ||
			sel.HasService && c.Layout.ByService() && !f.Partition.MatchesService(sel.Service) {
			res.Skipped++
			continue
		}
		res.Files = append(res.Files, f)
	}
	sort.Slice(res.Files, func(i, j int) bool { return res.Files[i].Key < res.Files[j].Key })
	return res, nil
}

// listPrefix is the literal directory prefix of the template once {signal}
// (and {service}, when the query names one) are filled in, so a listing
// walks only the directories that can match.
func (c *Catalog) listPrefix(sel Selection) string {
	t := c.Layout.Template()
	t = strings.ReplaceAll(t, logarchive.PlaceholderSignal, c.Signal)
	// A value too long for one segment is stored under a bounded segment
	// (and, by writers older than the bound, possibly under its full
	// escape), so its listing stops above the service level.
	if esc := logarchive.EscapeValue(sel.Service); sel.HasService && !logarchive.IsBoundedValue(esc) {
		t = strings.ReplaceAll(t, logarchive.PlaceholderService, esc)
	}
	segs := strings.Split(t, "/")
	var b strings.Builder
	for _, s := range segs {
		if strings.Contains(s, "{") {
			break
		}
		b.WriteString(s)
		b.WriteByte('/')
	}
	return b.String()
}
