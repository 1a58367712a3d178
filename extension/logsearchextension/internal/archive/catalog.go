package archive

import (
	"context"
	"slices"
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

	// listAll lists the whole signal whatever the query (tests compare
	// with it).
	listAll bool
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
//
// With a bounded time range the listing covers only the day directories of
// the range (see listPrefixes); the result is the same as listing the whole
// signal, except that Skipped then counts only the files listed.
func (c *Catalog) Select(ctx context.Context, sel Selection) (ListResult, error) {
	prefixes, err := c.listPrefixes(ctx, sel)
	if err != nil {
		return ListResult{}, err
	}
	var res ListResult
	seen := make(map[string]struct{})
	for _, prefix := range prefixes {
		objs, err := c.Store.List(ctx, prefix)
		if err != nil {
			return ListResult{}, err
		}
		res.add(c, sel, objs, seen)
	}
	sort.Slice(res.Files, func(i, j int) bool { return res.Files[i].Key < res.Files[j].Key })
	return res, nil
}

func (res *ListResult) add(c *Catalog, sel Selection, objs []Object, seen map[string]struct{}) {
	for _, o := range objs {
		if _, dup := seen[o.Key]; dup || logarchive.IsTemporary(o.Key) {
			continue
		}
		seen[o.Key] = struct{}{}
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

// maxListDays bounds the day directories a listing enumerates; a longer
// range lists the subtree above the date instead.
const maxListDays = 366

// maxListPrefixes bounds the per-service, per-day listings of one query.
// They run one after another, and each costs at least one LIST request on
// S3: 50 services over a week would be 350 requests where one listing of
// the subtree takes one per 1,000 objects. Past the bound the subtree is
// listed instead.
var maxListPrefixes = 128 // a variable for tests

// listPrefixes returns the prefixes to list for sel. With a bounded time
// range and a template whose date segments (day-level placeholders only)
// can be reached through literal and {service} segments, it returns one
// prefix per service directory and day of the range: {service} is filled
// in from the query or, without one (or for a bounded long-name segment),
// from a one-level listing of the service directories (stores implementing
// DirLister). Otherwise it returns the single listPrefix.
func (c *Catalog) listPrefixes(ctx context.Context, sel Selection) ([]string, error) {
	fallback := []string{c.listPrefix(sel)}
	if c.listAll || sel.From.IsZero() || sel.To.IsZero() || !sel.From.Before(sel.To) {
		return fallback, nil
	}
	var days []time.Time
	for d := sel.From.UTC().Truncate(24 * time.Hour); d.Before(sel.To); d = d.Add(24 * time.Hour) {
		if len(days) == maxListDays {
			return fallback, nil
		}
		days = append(days, d)
	}
	segs := strings.Split(strings.ReplaceAll(c.Layout.Template(), logarchive.PlaceholderSignal, c.Signal), "/")
	first := slices.IndexFunc(segs, isDaySegment)
	if first < 0 {
		return fallback, nil
	}
	lister, canListDirs := c.Store.(DirLister)
	prefixes := []string{""}
	for _, seg := range segs[:first] {
		switch {
		case !strings.Contains(seg, "{"):
			for i := range prefixes {
				prefixes[i] += seg + "/"
			}
		case isServiceSegment(seg):
			esc := logarchive.EscapeValue(sel.Service)
			if sel.HasService && !logarchive.IsBoundedValue(esc) {
				val := strings.Replace(seg, logarchive.PlaceholderService, esc, 1)
				for i := range prefixes {
					prefixes[i] += val + "/"
				}
				continue
			}
			if !canListDirs {
				return fallback, nil
			}
			var next []string
			for _, prefix := range prefixes {
				dirs, err := lister.ListDirs(ctx, prefix)
				if err != nil {
					return nil, err
				}
				for _, d := range dirs {
					if serviceDirMatches(seg, d, sel) {
						next = append(next, prefix+d+"/")
					}
				}
			}
			prefixes = next
		default:
			return fallback, nil
		}
	}
	// The run of day-level segments, rendered once per day of the range.
	last := first
	for last < len(segs) && isDaySegment(segs[last]) {
		last++
	}
	var rendered []string
	for _, d := range days {
		r := renderDay(strings.Join(segs[first:last], "/"), d) + "/"
		if len(rendered) == 0 || rendered[len(rendered)-1] != r {
			rendered = append(rendered, r)
		}
	}
	if len(prefixes)*len(rendered) > maxListPrefixes {
		return fallback, nil
	}
	out := make([]string, 0, len(prefixes)*len(rendered))
	for _, prefix := range prefixes {
		for _, r := range rendered {
			out = append(out, prefix+r)
		}
	}
	return out, nil
}

var dayPlaceholders = []string{logarchive.PlaceholderDate, logarchive.PlaceholderYear, logarchive.PlaceholderMonth, logarchive.PlaceholderDay}

// isDaySegment reports a segment with day-level placeholders and no other.
func isDaySegment(seg string) bool {
	rest := seg
	for _, ph := range dayPlaceholders {
		rest = strings.ReplaceAll(rest, ph, "")
	}
	return rest != seg && !strings.ContainsAny(rest, "{}")
}

// isServiceSegment reports a segment whose only placeholder is {service}.
func isServiceSegment(seg string) bool {
	rest := strings.Replace(seg, logarchive.PlaceholderService, "", 1)
	return rest != seg && !strings.ContainsAny(rest, "{}")
}

// serviceDirMatches reports whether directory name dir can be the segment
// seg (with {service}) of a partition sel selects. It errs on the side of
// keeping: Select checks every listed file's partition anyway.
func serviceDirMatches(seg, dir string, sel Selection) bool {
	before, after, _ := strings.Cut(seg, logarchive.PlaceholderService)
	if len(dir) <= len(before)+len(after) || !strings.HasPrefix(dir, before) || !strings.HasSuffix(dir, after) {
		return false
	}
	if !sel.HasService {
		return true
	}
	val := dir[len(before) : len(dir)-len(after)]
	if logarchive.IsBoundedValue(val) {
		// Only a long name is stored under a bounded segment.
		return logarchive.IsBoundedValue(logarchive.EscapeValue(sel.Service))
	}
	s, err := logarchive.UnescapeValue(val)
	return err != nil || s == sel.Service
}

func renderDay(s string, d time.Time) string {
	return strings.NewReplacer(
		logarchive.PlaceholderDate, d.Format("2006-01-02"),
		logarchive.PlaceholderYear, d.Format("2006"),
		logarchive.PlaceholderMonth, d.Format("01"),
		logarchive.PlaceholderDay, d.Format("02"),
	).Replace(s)
}
