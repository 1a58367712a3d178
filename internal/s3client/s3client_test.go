package s3client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestPathStyleEndpointAndClose sends a real request to a local server: the bucket is in the path (MinIO
// style), the request is signed with the static key, and Close leaves no connection goroutine behind
// (goleak checks after the test).
func TestPathStyleEndpointAndClose(t *testing.T) {
	var gotPath, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth = r.URL.Path, r.Header.Get("Authorization")
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	c, err := New(context.Background(), Options{
		Region: "us-east-1", Endpoint: srv.URL, ForcePathStyle: true,
		AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret", MaxAttempts: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("archive"), Key: aws.String("logs/x.parquet")}); err != nil {
		t.Fatal(err)
	}
	if gotPath != "/archive/logs/x.parquet" {
		t.Errorf("path = %q, want the bucket in the path", gotPath)
	}
	if len(gotAuth) < 30 || gotAuth[:16] != "AWS4-HMAC-SHA256" {
		t.Errorf("request not SigV4-signed: %q", gotAuth)
	}
}
