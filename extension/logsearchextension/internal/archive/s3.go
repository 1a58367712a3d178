package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3API is the part of the S3 client the store uses.
type S3API interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// tailSize is how much of an object's end is fetched at once: the Parquet
// reader's two footer reads (8-byte tail, then the footer) become one GET.
const tailSize = 64 << 10

// S3Store is an archive in an S3-compatible bucket under a key prefix.
type S3Store struct {
	client S3API
	bucket string
	prefix string // "" or ends with '/'
}

// NewS3Store returns a store over bucket/prefix.
func NewS3Store(client S3API, bucket, prefix string) *S3Store {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &S3Store{client: client, bucket: bucket, prefix: prefix}
}

// List pages through ListObjectsV2 under prefix; keys of in-progress
// temporaries (last element starting with '.') are skipped.
func (s *S3Store) List(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix + prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s%s: %w", s.bucket, s.prefix, prefix, err)
		}
		for _, o := range page.Contents {
			key := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			if key == "" || IsHidden(key) {
				continue
			}
			out = append(out, Object{Key: key, Size: aws.ToInt64(o.Size)})
		}
	}
	return out, nil
}

// ListDirs pages through ListObjectsV2 with delimiter "/" under prefix
// and returns the names of the common prefixes (one per subdirectory);
// hidden ones are skipped.
func (s *S3Store) ListDirs(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	full := s.prefix + prefix
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket:    aws.String(s.bucket),
		Prefix:    aws.String(full),
		Delimiter: aws.String("/"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", s.bucket, full, err)
		}
		for _, cp := range page.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), full), "/")
			if name == "" || strings.Contains(name, "/") || strings.HasPrefix(name, ".") {
				continue
			}
			out = append(out, name)
		}
	}
	return out, nil
}

// IsHidden reports whether any element of a '/'-separated key starts with
// '.', i.e. belongs to a temporary the writer has not published.
func IsHidden(key string) bool {
	for _, el := range strings.Split(key, "/") {
		if strings.HasPrefix(el, ".") {
			return true
		}
	}
	return false
}

// Open returns a reader doing ranged GETs; ctx bounds every request.
func (s *S3Store) Open(ctx context.Context, obj Object) (ReadAtCloser, error) {
	return &s3Object{ctx: ctx, s: s, key: s.prefix + obj.Key, size: obj.Size}, nil
}

type s3Object struct {
	ctx  context.Context
	s    *S3Store
	key  string
	size int64

	mu      sync.Mutex
	pos     int64
	tail    []byte
	tailOff int64
}

func (o *s3Object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("s3 read at negative offset")
	}
	if off >= o.size {
		return 0, io.EOF
	}
	want := int64(len(p))
	short := false
	if off+want > o.size {
		want, short = o.size-off, true
	}
	if off >= o.size-tailSize {
		tail, tailOff, err := o.loadTail()
		if err != nil {
			return 0, err
		}
		n := copy(p[:want], tail[off-tailOff:])
		if short {
			return n, io.EOF
		}
		return n, nil
	}
	n, err := o.get(p[:want], off)
	if err == nil && short {
		err = io.EOF
	}
	return n, err
}

func (o *s3Object) loadTail() ([]byte, int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.tail == nil {
		off := max(0, o.size-tailSize)
		buf := make([]byte, o.size-off)
		if _, err := o.get(buf, off); err != nil {
			return nil, 0, err
		}
		o.tail, o.tailOff = buf, off
	}
	return o.tail, o.tailOff, nil
}

func (o *s3Object) get(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	out, err := o.s.client.GetObject(o.ctx, &s3.GetObjectInput{
		Bucket: aws.String(o.s.bucket),
		Key:    aws.String(o.key),
		Range:  aws.String(fmt.Sprintf("bytes=%d-%d", off, off+int64(len(p))-1)),
	})
	if err != nil {
		if isNotFound(err) {
			// Deleted since it was listed (retention): let callers treat it
			// like a vanished local file.
			err = fmt.Errorf("%w: %w", fs.ErrNotExist, err)
		}
		return 0, fmt.Errorf("get s3://%s/%s range %d+%d: %w", o.s.bucket, o.key, off, len(p), err)
	}
	defer out.Body.Close()
	n, err := io.ReadFull(out.Body, p)
	if err != nil {
		return n, fmt.Errorf("read s3://%s/%s range %d+%d: %w", o.s.bucket, o.key, off, len(p), err)
	}
	return n, nil
}

// isNotFound reports an S3 error for a missing object: NoSuchKey, or a bare
// 404 (some servers send no error code for ranged GETs).
func isNotFound(err error) bool {
	if _, ok := errors.AsType[*types.NoSuchKey](err); ok {
		return true
	}
	re, ok := errors.AsType[*awshttp.ResponseError](err)
	return ok && re.HTTPStatusCode() == http.StatusNotFound
}

func (o *s3Object) Seek(offset int64, whence int) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += o.pos
	case io.SeekEnd:
		offset += o.size
	default:
		return 0, fmt.Errorf("seek: invalid whence %d", whence)
	}
	if offset < 0 {
		return 0, errors.New("seek before start of object")
	}
	o.pos = offset
	return offset, nil
}

func (o *s3Object) Close() error { return nil }
