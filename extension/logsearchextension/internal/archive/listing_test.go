package archive

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelogs/sluice/internal/logarchive"
)

// fakeS3 is an in-memory bucket answering ListObjectsV2 like S3 (pages of
// at most 1,000 keys or common prefixes) and counting the requests and the
// entries they returned.
type fakeS3 struct {
	S3API
	keys []string // sorted

	mu       sync.Mutex
	requests int
	entries  int
}

func (f *fakeS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	prefix, delim := aws.ToString(in.Prefix), aws.ToString(in.Delimiter)
	start := sort.SearchStrings(f.keys, prefix)
	if tok := aws.ToString(in.ContinuationToken); tok != "" {
		start, _ = strconv.Atoi(tok)
	}
	out := &s3.ListObjectsV2Output{}
	n, i := 0, start
	for ; i < len(f.keys) && strings.HasPrefix(f.keys[i], prefix) && n < 1000; i++ {
		k := f.keys[i]
		if j := strings.Index(k[len(prefix):], delim); delim != "" && j >= 0 {
			cp := k[:len(prefix)+j+1]
			out.CommonPrefixes = append(out.CommonPrefixes, types.CommonPrefix{Prefix: aws.String(cp)})
			for i+1 < len(f.keys) && strings.HasPrefix(f.keys[i+1], cp) {
				i++
			}
		} else {
			out.Contents = append(out.Contents, types.Object{Key: aws.String(k), Size: aws.Int64(100)})
		}
		n++
	}
	if i < len(f.keys) && strings.HasPrefix(f.keys[i], prefix) {
		out.IsTruncated = aws.Bool(true)
		out.NextContinuationToken = aws.String(strconv.Itoa(i))
	}
	f.mu.Lock()
	f.requests++
	f.entries += n
	f.mu.Unlock()
	return out, nil
}

func (f *fakeS3) take() (requests, entries int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	requests, entries = f.requests, f.entries
	f.requests, f.entries = 0, 0
	return requests, entries
}

const (
	archiveDays     = 14
	archiveServices = 8
)

var archiveStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// bigArchive returns one file per hour of archiveDays days for each of
// archiveServices services (one with a name too long for a path segment),
// plus foreign and temporary keys, under the S3 key prefix "root/".
func bigArchive(t testing.TB, layout *logarchive.Layout) (*fakeS3, []string) {
	t.Helper()
	services := []string{"", strings.Repeat("long", 60)}
	for i := len(services); i < archiveServices; i++ {
		services = append(services, fmt.Sprintf("svc-%02d", i))
	}
	var keys []string
	for _, svc := range services {
		for h := 0; h < archiveDays*24; h++ {
			p := layout.PartitionFor(logarchive.SignalLogs, svc, archiveStart.Add(time.Duration(h)*time.Hour))
			keys = append(keys, "root/"+layout.FilePath(logarchive.ArchiveFile{Partition: p, Writer: "w", Seq: uint64(h)}))
		}
	}
	keys = append(keys, "root/logs/README", "root/logs/.staging/x/w-00000000000000000001.parquet", "root/traces/x")
	keys = append(keys, "root/"+layout.Path(layout.PartitionFor(logarchive.SignalLogs, "svc-03", archiveStart.Add(30*time.Hour)))+"/.w-1.parquet.tmp")
	sort.Strings(keys)
	keys = slices.Compact(keys) // without {service}, services share files
	return &fakeS3{keys: keys}, services
}

// The narrowed listing finds exactly the files the full listing finds, for
// every template shape, and its cost follows the query, not the archive.
func TestListingFollowsTheRangeNotTheArchive(t *testing.T) {
	ctx := context.Background()
	for _, tmpl := range []string{
		logarchive.DefaultTemplate,
		"{signal}/dt={date}/service={service}/hour={hour}",
		"{signal}/{year}/{month}/{day}/{service}",
		"{signal}/dt={date}/hour={hour}",
		"{signal}/service={service}/{year}-{month}-{day}",
		"{signal}/hour={hour}/dt={date}/service={service}", // not narrowed
	} {
		t.Run(tmpl, func(t *testing.T) {
			layout, err := logarchive.NewLayout(tmpl)
			require.NoError(t, err)
			bucket, services := bigArchive(t, layout)
			store := NewS3Store(bucket, "b", "root")
			narrow := &Catalog{Store: store, Layout: layout, Signal: logarchive.SignalLogs}
			full := &Catalog{Store: store, Layout: layout, Signal: logarchive.SignalLogs, listAll: true}
			rng := rand.New(rand.NewPCG(1, 2))
			sels := []Selection{{}, {From: archiveStart.Add(-time.Hour), To: archiveStart.Add(1000 * 24 * time.Hour)}}
			for range 12 {
				from := archiveStart.Add(time.Duration(rng.IntN((archiveDays+2)*24*60)-24*60) * time.Minute)
				sel := Selection{From: from, To: from.Add(time.Duration(1+rng.IntN(4*24*60)) * time.Minute)}
				switch rng.IntN(4) {
				case 0:
					sel.From = time.Time{}
				case 1, 2:
					sel.Service, sel.HasService = services[rng.IntN(len(services))], true
				}
				sels = append(sels, sel)
			}
			for _, sel := range sels {
				want, err := full.Select(ctx, sel)
				require.NoError(t, err)
				got, err := narrow.Select(ctx, sel)
				require.NoError(t, err)
				require.Equal(t, want.Files, got.Files, "%+v", sel)
			}

			// Two days, no service: a LIST of the service directories, then
			// one per service and day (or one per day when the date comes
			// first), each a page.
			sel := Selection{From: archiveStart.Add(10*24*time.Hour + 5*time.Hour), To: archiveStart.Add(12 * 24 * time.Hour)}
			bucket.take()
			_, err = full.Select(ctx, sel)
			require.NoError(t, err)
			fullReq, fullEntries := bucket.take()
			res, err := narrow.Select(ctx, sel)
			require.NoError(t, err)
			req, entries := bucket.take()
			t.Logf("2-day query: %d LIST requests, %d entries listed (full listing: %d requests, %d entries)", req, entries, fullReq, fullEntries)
			assert.GreaterOrEqual(t, fullEntries, len(bucket.keys)-4)
			if strings.HasPrefix(tmpl, "{signal}/hour=") {
				assert.Equal(t, fullReq, req)
				return
			}
			assert.LessOrEqual(t, req, 1+archiveServices*2)
			assert.LessOrEqual(t, entries, archiveServices*(1+2*24+2))
			assert.NotEmpty(t, res.Files)

			// One service, one hour: one LIST of one day.
			sel = Selection{From: archiveStart.Add(3 * time.Hour), To: archiveStart.Add(4 * time.Hour), Service: "svc-07", HasService: true}
			_, err = narrow.Select(ctx, sel)
			require.NoError(t, err)
			req, entries = bucket.take()
			if layout.ByService() && strings.Index(tmpl, "{service}") < strings.Index(tmpl, "{d") && strings.Index(tmpl, "{service}") < strings.Index(tmpl, "{y") {
				assert.Equal(t, 1, req)
				assert.LessOrEqual(t, entries, 24)
			} else {
				assert.LessOrEqual(t, req, 1)
				assert.LessOrEqual(t, entries, archiveServices*24+1)
			}
		})
	}
}

// Past maxListPrefixes the per-service, per-day listings would cost more
// requests than one listing of the subtree: the subtree is listed instead,
// with the same files found.
func TestManyServicesAndDaysListTheSubtree(t *testing.T) {
	ctx := context.Background()
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	require.NoError(t, err)
	bucket, _ := bigArchive(t, layout)
	store := NewS3Store(bucket, "b", "root")
	narrow := &Catalog{Store: store, Layout: layout, Signal: logarchive.SignalLogs}
	full := &Catalog{Store: store, Layout: layout, Signal: logarchive.SignalLogs, listAll: true}
	sel := Selection{From: archiveStart.Add(10 * 24 * time.Hour), To: archiveStart.Add(12 * 24 * time.Hour)}

	bucket.take()
	want, err := full.Select(ctx, sel)
	require.NoError(t, err)
	fullReq, _ := bucket.take()

	saved := maxListPrefixes
	maxListPrefixes = archiveServices // fewer than services × 2 days
	t.Cleanup(func() { maxListPrefixes = saved })
	got, err := narrow.Select(ctx, sel)
	require.NoError(t, err)
	req, _ := bucket.take()
	assert.Equal(t, want.Files, got.Files)
	assert.Equal(t, fullReq+1, req, "the one-level listing of the services, then the subtree")
}
