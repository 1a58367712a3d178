package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// do sends one request without keep-alive and returns status and body.
func do(t *testing.T, method, u, contentType string, body []byte) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Close = true
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", method, u, err)
	}
	return resp.StatusCode, out
}

func TestOpenSearchIndexAndSearch(t *testing.T) {
	t.Parallel()
	os := OpenSearchFor(t)
	index := fmt.Sprintf("backend-test-%d", time.Now().UnixNano())
	status, body := do(t, http.MethodPut, os.URL+"/"+index+"/_doc/doc-1?refresh=true", "application/json",
		[]byte(`{"message":"hello sluice","sluice.test.id":"id-42"}`))
	if status != http.StatusCreated {
		t.Fatalf("index doc: HTTP %d %s", status, body)
	}
	status, body = do(t, http.MethodPost, os.URL+"/"+index+"/_search", "application/json",
		[]byte(`{"query":{"match":{"message":"sluice"}}}`))
	if status != http.StatusOK {
		t.Fatalf("search: HTTP %d %s", status, body)
	}
	var res struct {
		Hits struct {
			Hits []struct {
				ID     string          `json:"_id"`
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("decode search response: %v: %s", err, body)
	}
	if len(res.Hits.Hits) != 1 || res.Hits.Hits[0].ID != "doc-1" || !strings.Contains(string(res.Hits.Hits[0].Source), "id-42") {
		t.Fatalf("search found %s, want doc-1", body)
	}
}

func TestKafkaProduceAndConsume(t *testing.T) {
	t.Parallel()
	k := KafkaFor(t)
	topic := fmt.Sprintf("backend-test-%d", time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	producer, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	want := []string{"first", "second", "third"}
	for _, v := range want {
		if err := producer.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce %q: %v", v, err)
		}
	}

	consumer, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	var got []string
	for len(got) < len(want) {
		fetches := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %v before timeout, want %v", got, want)
		}
		fetches.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fetches.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("consumed %v, want %v", got, want)
	}
}

func TestMinIOPutAndGet(t *testing.T) {
	t.Parallel()
	m := MinIOFor(t)
	bucket := fmt.Sprintf("backend-test-%d", time.Now().UnixNano())
	m.CreateBucket(t, bucket)
	m.CreateBucket(t, bucket) // idempotent for our own bucket

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := m.S3Client()
	payload := []byte("parquet-bytes-stand-in")
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("dt=2026-01-01/part-0.bin"), Body: bytes.NewReader(payload),
	}); err != nil {
		t.Fatalf("put object: %v", err)
	}
	// A conditional create of the same key must be refused: exporters rely on it.
	_, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("dt=2026-01-01/part-0.bin"), Body: bytes.NewReader(payload),
		IfNoneMatch: aws.String("*"),
	})
	if err == nil || !strings.Contains(err.Error(), "PreconditionFailed") {
		t.Fatalf("conditional put over an existing key: err = %v, want PreconditionFailed", err)
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("dt=2026-01-01/part-0.bin")})
	if err != nil {
		t.Fatalf("get object: %v", err)
	}
	defer out.Body.Close()
	got, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("got %q, want %q", got, payload)
	}
}

func TestPrometheusRemoteWriteAndQuery(t *testing.T) {
	t.Parallel()
	p := PrometheusFor(t)
	metric := fmt.Sprintf("sluice_backend_test_%d", time.Now().UnixNano())
	wr := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: metric}, {Name: "job", Value: "backend_test"}},
		Samples: []prompb.Sample{{Value: 42, Timestamp: time.Now().UnixMilli()}},
	}}}
	raw, err := wr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.RemoteWriteURL, bytes.NewReader(snappy.Encode(nil, raw)))
	if err != nil {
		t.Fatal(err)
	}
	req.Close = true
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("remote write: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		t.Fatalf("remote write: HTTP %d %s", resp.StatusCode, body)
	}

	status, body := do(t, http.MethodGet, p.URL+"/api/v1/query?query="+url.QueryEscape(metric), "", nil)
	if status != http.StatusOK {
		t.Fatalf("query: HTTP %d %s", status, body)
	}
	var res struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("decode query response: %v: %s", err, body)
	}
	if len(res.Data.Result) != 1 || len(res.Data.Result[0].Value) != 2 || res.Data.Result[0].Value[1] != "42" {
		t.Fatalf("query returned %s, want one series with value 42", body)
	}
}
