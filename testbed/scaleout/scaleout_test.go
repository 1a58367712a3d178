package scaleout

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/sluicelogs/sluice/testbed/backend"
	"github.com/sluicelogs/sluice/testbed/loadgen"
	"github.com/sluicelogs/sluice/testbed/validate"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Shortened for CI; the longer runs in docs/benchmarks.md set
// SLUICE_SCALEOUT_REQUESTS and SLUICE_SCALEOUT_RATE.
const (
	partitions     = 6
	failureRate    = 0.2
	samplePercent  = 30
	decisionWait   = 3 * time.Second
	sessionTimeout = 6 * time.Second
)

// load returns the requests to send and their rate (per second); the
// gateway is killed a third of the way through.
func load(t *testing.T) (requests int, rate float64) {
	requests, rate = 2400, 120 // a 20 s run
	if v := os.Getenv("SLUICE_SCALEOUT_REQUESTS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "SLUICE_SCALEOUT_REQUESTS")
		requests = n
	}
	if v := os.Getenv("SLUICE_SCALEOUT_RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		require.NoError(t, err, "SLUICE_SCALEOUT_RATE")
		rate = r
	}
	return requests, rate
}

// TestKafkaScaleOutSurvivesGatewayKill: one agent publishes to Kafka, two
// gateways consume it as one group; one gateway is killed with SIGKILL
// mid-run, with requests still undecided in its tail-sampling buffer, and
// restarted once the other has taken over (partitions move twice). Every
// acknowledged record of a kept request must reach OpenSearch and the
// Parquet archive, every failed request must be kept, and no request may be
// kept in part.
func TestKafkaScaleOutSurvivesGatewayKill(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run with four servers")
	}
	kafka := backend.KafkaFor(t)
	search := backend.OpenSearchFor(t)
	minio := backend.MinIOFor(t)
	prom := backend.PrometheusFor(t)
	bin := backend.SluiceBinary(t)

	run := loadgen.NewRunID()
	topic, group, bucket := "sluice-otlp-"+run, "gw-"+run, "archive-"+run
	createTopic(t, kafka.Brokers, topic, partitions)
	minio.CreateBucket(t, bucket)
	startedAt := time.Now()

	gateway := func(name string) *collector {
		return newCollector(t, bin, name, "gateway.yaml", map[string]string{
			"SLUICE_OTLP_GRPC_ENDPOINT":          "127.0.0.1:" + strconv.Itoa(freePort(t)),
			"SLUICE_OTLP_HTTP_ENDPOINT":          "127.0.0.1:" + strconv.Itoa(freePort(t)),
			"SLUICE_ES_BULK_ENDPOINT":            "127.0.0.1:" + strconv.Itoa(freePort(t)),
			"SLUICE_KAFKA_BROKERS":               strings.Join(kafka.Brokers, ","),
			"SLUICE_KAFKA_TOPIC":                 topic,
			"SLUICE_KAFKA_GROUP":                 group,
			"SLUICE_KAFKA_SESSION_TIMEOUT":       sessionTimeout.String(),
			"SLUICE_DECISION_WAIT":               decisionWait.String(),
			"SLUICE_SAMPLE_PERCENT":              strconv.Itoa(samplePercent),
			"SLUICE_ERROR_RATE_WINDOW":           "5s",
			"OPENSEARCH_URL":                     search.URL,
			"SLUICE_INDEX_PREFIX":                run,
			"SLUICE_ARCHIVE_BUCKET":              bucket,
			"SLUICE_S3_ENDPOINT":                 minio.Endpoint,
			"AWS_REGION":                         minio.Region,
			"AWS_ACCESS_KEY_ID":                  minio.AccessKey,
			"AWS_SECRET_ACCESS_KEY":              minio.SecretKey,
			"SLUICE_PROMETHEUS_REMOTE_WRITE_URL": prom.RemoteWriteURL,
			"SLUICE_WRITER_ID":                   name,
			"SLUICE_STATE_DIR":                   filepath.Join(t.TempDir(), name),
		})
	}
	gwA, gwB := gateway("gateway-a"), gateway("gateway-b")
	agentOTLP := "127.0.0.1:" + strconv.Itoa(freePort(t))
	agent := newCollector(t, bin, "agent", "agent.yaml", map[string]string{
		"SLUICE_FORWARD":            "kafka",
		"SLUICE_KAFKA_BROKERS":      strings.Join(kafka.Brokers, ","),
		"SLUICE_KAFKA_TOPIC":        topic,
		"SLUICE_OTLP_GRPC_ENDPOINT": agentOTLP,
		"SLUICE_OTLP_HTTP_ENDPOINT": "127.0.0.1:" + strconv.Itoa(freePort(t)),
		"SLUICE_TAIL_INCLUDE":       filepath.Join(t.TempDir(), "none", "*.log"),
		"SLUICE_STATE_DIR":          filepath.Join(t.TempDir(), "agent"),
	})
	gwA.start(t)
	gwB.start(t)
	waitForMembers(t, kafka.Brokers, group, 2)
	agent.start(t)

	// Load; kill gateway A a quarter of the way through, and once gateway B
	// has taken over its partitions, restart A on its state directory (as
	// Kubernetes restarts a killed pod): the group gives A partitions back,
	// so B gives up records it holds undecided, and A reads them again.
	requests, requestRate := load(t)
	runFor := time.Duration(float64(requests) / requestRate * float64(time.Second))
	killAfter, restartAfter := runFor/4, runFor*3/4
	type result struct {
		res *loadgen.SDKResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := loadgen.RunSDK(context.Background(), loadgen.SDKConfig{
			Endpoint: agentOTLP, Requests: requests, Rate: requestRate, FailureRate: failureRate, Seed: 7, RunID: run,
		})
		done <- result{res, err}
	}()
	time.Sleep(killAfter)
	gwA.kill(t)
	killedAt := time.Now()
	t.Logf("killed %s after %s", gwA.name, killAfter)
	waitForMembers(t, kafka.Brokers, group, 1)
	t.Logf("%s took over after %s", gwB.name, time.Since(killedAt).Round(100*time.Millisecond))
	if wait := restartAfter - killAfter - time.Since(killedAt); wait > 0 {
		time.Sleep(wait)
	}
	gwA.start(t)
	waitForMembers(t, kafka.Brokers, group, 2)
	assert.True(t, gwB.logContains(t, "kafka_group: partitions revoked"), "%s gave no partitions back", gwB.name)
	t.Logf("restarted %s; it holds partitions again %s after the kill", gwA.name, time.Since(killedAt).Round(100*time.Millisecond))
	r := <-done
	require.NoError(t, r.err)
	res := r.res
	require.Zero(t, res.ExportErrors, "the agent refused records")
	t.Logf("sent %d requests: %d logs, %d spans acknowledged by the agent", len(res.Failed), res.Logs.Distinct(), res.Spans.Distinct())

	// Wait until every failed request is complete in OpenSearch (they must
	// all be kept), then until the counts settle.
	logIndex, spanIndex := run+"_logs-*", run+"_traces-*"
	var logs, spans *validate.Multiset
	deadline := time.Now().Add(3 * time.Minute)
	lastTotal, stableSince := -1, time.Now()
	for {
		logs, spans = validate.NewMultiset(res.Logs.Prefix()), validate.NewMultiset(res.Spans.Prefix())
		readIndex(t, search.URL, logIndex, logs)
		readIndex(t, search.URL, spanIndex, spans)
		missing := missingFromFailed(res, logs, spans)
		total := int(logs.Total() + spans.Total())
		if total != lastTotal {
			lastTotal, stableSince = total, time.Now()
		}
		if missing == 0 && time.Since(stableSince) > 2*decisionWait+3*time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Logf("gave up waiting: %d records of failed requests still missing", missing)
			break
		}
		time.Sleep(2 * time.Second)
	}

	// The verdict, per request.
	v := judge(res, logs, spans)
	t.Logf("requests: %d failed (all must be kept), %d ok of which %d kept (%.1f%%, policy %d%%); partial %d; records lost %d; duplicates %d",
		v.failed, v.ok, v.okKept, 100*float64(v.okKept)/float64(max(v.ok, 1)), samplePercent, v.partial, v.lost, v.duplicates)
	assert.Zero(t, v.lost, "acknowledged records of kept requests missing from OpenSearch, e.g. %v", v.lostExamples)
	assert.Zero(t, v.partial, "requests kept in part, e.g. %v", v.partialExamples)
	assert.Zero(t, v.failedDropped, "failed requests not kept, e.g. %v", v.failedDroppedExamples)
	// The kept share of ok requests follows the policy (a lost buffer of
	// undecided requests would show here too).
	share := float64(v.okKept) / float64(max(v.ok, 1))
	assert.InDelta(t, samplePercent/100.0, share, 0.08, "kept share of ok requests")

	// Error-rate metrics reached Prometheus through remote write.
	assert.Eventually(t, func() bool { return promHasSeries(prom.URL, `sluice_error_rate_errors_total`, startedAt) },
		60*time.Second, 2*time.Second, "no sluice_error_rate series in Prometheus")

	// The archive: stop both gateways (they publish their open files; the
	// restarted one has also recovered and published what the killed process
	// had staged).
	gwB.stop(t)
	gwA.stop(t)
	agent.stop(t)
	archived := validate.NewMultiset(res.Logs.Prefix())
	dir := downloadBucket(t, minio, bucket)
	n, err := validate.ReadParquet(context.Background(), filepath.Join(dir, "otel", "logs"), "attributes."+validate.IDAttribute, archived)
	require.NoError(t, err)
	t.Logf("archive: %d log rows in %s, %d duplicates of kept logs", n, bucket, archived.Total()-uint64(archived.Distinct()))
	archivedSpans := validate.NewMultiset(res.Spans.Prefix())
	n, err = validate.ReadParquet(context.Background(), filepath.Join(dir, "otel", "traces"), "attributes."+validate.IDAttribute, archivedSpans)
	require.NoError(t, err)
	t.Logf("archive: %d span rows", n)
	var lostArchive []string
	check := func(byTrace map[string][]string, acked, got *validate.Multiset) {
		for tr, ids := range byTrace {
			if !v.kept[tr] {
				continue
			}
			for _, id := range ids {
				if acked.Count(id) > 0 && got.Count(id) == 0 {
					lostArchive = append(lostArchive, id)
				}
			}
		}
	}
	check(res.LogsByTrace, res.Logs, archived)
	check(res.SpansByTrace, res.Spans, archivedSpans)
	assert.Empty(t, lostArchive, "records of kept requests missing from the Parquet archive")
}

type verdict struct {
	failed, ok, okKept, partial, failedDropped int
	lost, duplicates                           int
	kept                                       map[string]bool
	lostExamples, partialExamples              []string
	failedDroppedExamples                      []string
}

// judge classifies every request: kept (some record delivered) or dropped;
// a kept request must have all its acknowledged records delivered.
func judge(res *loadgen.SDKResult, logs, spans *validate.Multiset) verdict {
	v := verdict{kept: map[string]bool{}}
	for tr, failed := range res.Failed {
		var present, total int
		var missing []string
		count := func(ids []string, acked, got *validate.Multiset) {
			for _, id := range ids {
				if acked.Count(id) == 0 {
					continue // not acknowledged by the agent: not owed
				}
				total++
				c := got.Count(id)
				if c > 0 {
					present++
					v.duplicates += int(c) - 1
				} else {
					missing = append(missing, id)
				}
			}
		}
		count(res.LogsByTrace[tr], res.Logs, logs)
		count(res.SpansByTrace[tr], res.Spans, spans)
		kept := present > 0
		v.kept[tr] = kept
		if failed {
			v.failed++
		} else {
			v.ok++
			if kept {
				v.okKept++
			}
		}
		switch {
		case failed && !kept:
			v.failedDropped++
			if len(v.failedDroppedExamples) < 5 {
				v.failedDroppedExamples = append(v.failedDroppedExamples, tr)
			}
			v.lost += total
		case kept && present < total:
			v.partial++
			v.lost += len(missing)
			if len(v.partialExamples) < 5 {
				v.partialExamples = append(v.partialExamples, tr)
			}
			if len(v.lostExamples) < 10 {
				v.lostExamples = append(v.lostExamples, missing...)
			}
		}
	}
	return v
}

func missingFromFailed(res *loadgen.SDKResult, logs, spans *validate.Multiset) int {
	missing := 0
	for tr, failed := range res.Failed {
		if !failed {
			continue
		}
		for _, id := range res.LogsByTrace[tr] {
			if res.Logs.Count(id) > 0 && logs.Count(id) == 0 {
				missing++
			}
		}
		for _, id := range res.SpansByTrace[tr] {
			if res.Spans.Count(id) > 0 && spans.Count(id) == 0 {
				missing++
			}
		}
	}
	return missing
}

func readIndex(t *testing.T, baseURL, index string, into *validate.Multiset) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := validate.ReadOpenSearch(ctx, baseURL, index, "attributes."+validate.IDAttribute, into)
	if err != nil && !strings.Contains(err.Error(), "index_not_found") && !strings.Contains(err.Error(), "404") {
		require.NoError(t, err)
	}
}

func createTopic(t *testing.T, brokers []string, topic string, parts int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, parts, 1, nil, topic)
	require.NoError(t, err)
	require.NoError(t, resp.Err)
}

// waitForMembers waits until the group is stable with n members holding
// partitions, so the kill hits a gateway that owns requests.
func waitForMembers(t *testing.T, brokers []string, group string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		groups, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return false
		}
		g, ok := groups[group]
		if !ok || g.State != "Stable" || len(g.Members) != n {
			return false
		}
		for _, m := range g.Members {
			if a, ok := m.Assigned.AsConsumer(); !ok || len(a.Topics) == 0 {
				return false
			}
		}
		return true
	}, 90*time.Second, 250*time.Millisecond, "group %s never had %d members with partitions", group, n)
}

func promHasSeries(base, metric string, since time.Time) bool {
	q := url.Values{"query": {fmt.Sprintf("count(%s)", metric)}, "time": {strconv.FormatInt(time.Now().Unix(), 10)}}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(base + "/api/v1/query?" + q.Encode())
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	body, _ := io.ReadAll(resp.Body)
	_ = since
	return json.Unmarshal(body, &out) == nil && len(out.Data.Result) > 0
}

// downloadBucket copies every object of bucket into a temporary directory.
func downloadBucket(t *testing.T, m *backend.MinIO, bucket string) string {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := m.S3Client()
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		for _, obj := range page.Contents {
			out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: obj.Key})
			require.NoError(t, err)
			path := filepath.Join(dir, filepath.FromSlash(*obj.Key))
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			f, err := os.Create(path)
			require.NoError(t, err)
			_, err = io.Copy(f, out.Body)
			out.Body.Close()
			require.NoError(t, f.Close())
			require.NoError(t, err)
		}
	}
	return dir
}
