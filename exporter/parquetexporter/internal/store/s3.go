package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/sluicelogs/sluice/internal/s3client"
)

// S3Options configure an S3 store.
type S3Options struct {
	Bucket          string
	Prefix          string
	Region          string
	Endpoint        string
	ForcePathStyle  bool
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// MultipartThreshold: files larger than this use a multipart upload.
	MultipartThreshold int64
	// PartSize is the multipart part size (≥ 5 MiB except on the last part).
	PartSize int64
	// ConditionalWrites sends If-None-Match: * so an existing key is never
	// overwritten; on a 412 the object's size tells an earlier attempt of
	// ours (success) from another writer's object (ErrConflict).
	ConditionalWrites bool
	// MaxAttempts bounds the SDK's own retries per request (5xx, throttling,
	// transport errors).
	MaxAttempts int
}

// S3 stores the archive in an S3-compatible bucket.
type S3 struct {
	client *s3client.Client
	o      S3Options
}

// NewS3 builds the client. Credentials come from the options when set,
// otherwise from the default AWS chain (environment, shared files, IMDS).
func NewS3(ctx context.Context, o S3Options) (*S3, error) {
	client, err := s3client.New(ctx, s3client.Options{
		Region: o.Region, Endpoint: o.Endpoint, ForcePathStyle: o.ForcePathStyle,
		AccessKeyID: o.AccessKeyID, SecretAccessKey: o.SecretAccessKey, SessionToken: o.SessionToken,
		MaxAttempts: o.MaxAttempts,
	})
	if err != nil {
		return nil, err
	}
	return &S3{client: client, o: o}, nil
}

// Close implements Store: it closes idle connections so none outlive the exporter.
func (s *S3) Close() { s.client.Close() }

// Client exposes the SDK client (tests and the retention docs use it).
func (s *S3) Client() *s3.Client { return s.client.Client }

// String implements Store.
func (s *S3) String() string { return "s3://" + path.Join(s.o.Bucket, s.o.Prefix) }

// ObjectKey returns the object key of an archive-relative key.
func (s *S3) ObjectKey(key string) string {
	if s.o.Prefix == "" {
		return key
	}
	return path.Join(s.o.Prefix, key)
}

// Put uploads src with a single PUT, or a multipart upload above the
// threshold.
func (s *S3) Put(ctx context.Context, key, src string, size int64) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("open staged file: %w", err)
	}
	defer f.Close()
	objKey := s.ObjectKey(key)
	if size <= s.o.MultipartThreshold {
		err = s.putSingle(ctx, objKey, f, size)
	} else {
		err = s.putMultipart(ctx, objKey, f, size)
	}
	if err != nil && isStatus(err, 412) {
		// The key is taken: by an earlier attempt of ours (same size), or
		// by another writer, whose object must stay.
		return s.checkExisting(ctx, key, objKey, size)
	}
	if err != nil {
		return fmt.Errorf("upload s3://%s/%s: %w", s.o.Bucket, objKey, err)
	}
	return nil
}

// checkExisting compares the object under a taken key with the file that
// was to be published there.
func (s *S3) checkExisting(ctx context.Context, key, objKey string, size int64) error {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.o.Bucket), Key: aws.String(objKey)})
	if err != nil {
		return fmt.Errorf("upload s3://%s/%s: key exists (412) and checking it failed: %w", s.o.Bucket, objKey, err)
	}
	if have := aws.ToInt64(out.ContentLength); have != size {
		return fmt.Errorf("publish %s (%d bytes): existing object s3://%s/%s has %d bytes: %w", key, size, s.o.Bucket, objKey, have, ErrConflict)
	}
	return nil
}

// CheckBucket tells whether the bucket exists and these credentials reach
// it, so a missing bucket is reported at start rather than at the first
// upload, minutes later.
func (s *S3) CheckBucket(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.o.Bucket)})
	switch {
	case err == nil:
		return nil
	case isStatus(err, 404):
		return fmt.Errorf("bucket %q does not exist: create it (aws s3 mb, mc mb); until then every upload fails and files wait in staging", s.o.Bucket)
	case isStatus(err, 403):
		return fmt.Errorf("bucket %q is not accessible with these credentials (403): uploads will fail", s.o.Bucket)
	}
	return fmt.Errorf("checking bucket %q: %w", s.o.Bucket, err)
}

func (s *S3) ifNoneMatch() *string {
	if s.o.ConditionalWrites {
		return aws.String("*")
	}
	return nil
}

func (s *S3) putSingle(ctx context.Context, key string, f *os.File, size int64) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.o.Bucket),
		Key:           aws.String(key),
		Body:          io.NewSectionReader(f, 0, size),
		ContentLength: aws.Int64(size),
		ContentType:   aws.String("application/vnd.apache.parquet"),
		IfNoneMatch:   s.ifNoneMatch(),
	})
	return err
}

func (s *S3) putMultipart(ctx context.Context, key string, f *os.File, size int64) (err error) {
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:      aws.String(s.o.Bucket),
		Key:         aws.String(key),
		ContentType: aws.String("application/vnd.apache.parquet"),
	})
	if err != nil {
		return fmt.Errorf("create multipart upload: %w", err)
	}
	defer func() {
		if err == nil {
			return
		}
		// Abort with a fresh context: ctx may be the reason we failed.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(s.o.Bucket), Key: aws.String(key), UploadId: created.UploadId,
		})
	}()
	var parts []types.CompletedPart
	for off, n := int64(0), int32(1); off < size; n++ {
		partLen := min(s.o.PartSize, size-off)
		out, perr := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket:        aws.String(s.o.Bucket),
			Key:           aws.String(key),
			UploadId:      created.UploadId,
			PartNumber:    aws.Int32(n),
			Body:          io.NewSectionReader(f, off, partLen),
			ContentLength: aws.Int64(partLen),
		})
		if perr != nil {
			return fmt.Errorf("upload part %d: %w", n, perr)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
		off += partLen
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.o.Bucket),
		Key:             aws.String(key),
		UploadId:        created.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		IfNoneMatch:     s.ifNoneMatch(),
	})
	if err != nil {
		return fmt.Errorf("complete multipart upload: %w", err)
	}
	return nil
}

// isStatus reports whether err carries the HTTP status code.
func isStatus(err error, code int) bool {
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == code
}
