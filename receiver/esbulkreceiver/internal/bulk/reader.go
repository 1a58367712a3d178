// Package bulk reads the NDJSON body of an Elasticsearch/OpenSearch _bulk
// request as a stream of items (action line + document line), one at a time,
// without holding the whole body in memory.
package bulk // import "github.com/sluicelogs/sluice/receiver/esbulkreceiver/internal/bulk"

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/valyala/fastjson"
)

// Op is a bulk action.
type Op uint8

// Bulk actions. OpInvalid marks an action line whose action is not recognised.
const (
	OpInvalid Op = iota
	OpIndex
	OpCreate
	OpUpdate
	OpDelete
)

// String returns the action name used as the key of a response item.
func (o Op) String() string {
	switch o {
	case OpIndex:
		return "index"
	case OpCreate:
		return "create"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	}
	return "index" // Elasticsearch reports unreadable actions under "index" too
}

// hasSource reports whether the action is followed by a document line.
func (o Op) hasSource() bool { return o == OpIndex || o == OpCreate || o == OpUpdate }

// Error types used in per-item errors, as Elasticsearch names them.
const (
	ErrTypeIllegalArgument = "illegal_argument_exception"
	ErrTypeValidation      = "action_request_validation_exception"
)

// ErrorKind classifies item errors for metrics.
type ErrorKind uint8

// Item error kinds.
const (
	// KindMalformedAction: the action line is not a single-action JSON object.
	KindMalformedAction ErrorKind = iota
	// KindInvalidMetadata: a well-formed action with a missing index or bad _index/_id.
	KindInvalidMetadata
	// KindMissingDocument: the body ended after an action that needs a document.
	KindMissingDocument
)

// ItemError is a problem with one item; the rest of the request goes on.
type ItemError struct {
	Kind   ErrorKind
	Type   string
	Reason string
}

// Item is one bulk action. Byte slices are valid until the next call to Next.
type Item struct {
	Op     Op
	Index  []byte // metadata _index, or the path's default index
	ID     []byte // metadata _id; nil when absent
	Source []byte // document line; nil for delete or on error
	Err    *ItemError
}

// defaultBufferSize is the read buffer; longer lines are assembled in a
// growing buffer bounded only by the request body limit.
const defaultBufferSize = 64 << 10

// Reader reads items from a bulk body. Reuse it with Reset.
type Reader struct {
	br           *bufio.Reader
	defaultIndex []byte
	parser       fastjson.Parser
	lineNo       int

	actionBuf  []byte // current action line (copied: the document read reuses br's buffer)
	sourceBuf  []byte // document lines longer than br's buffer
	pending    []byte // a line read ahead after a malformed action line
	hasPending bool
	pendingNo  int
}

// NewReader returns a Reader over body; defaultIndex is the index of the
// request path (/{index}/_bulk), used when an action names none.
func NewReader(body io.Reader, defaultIndex string) *Reader {
	r := &Reader{br: bufio.NewReaderSize(body, defaultBufferSize)}
	r.Reset(body, defaultIndex)
	return r
}

// Reset makes r read a new body.
func (r *Reader) Reset(body io.Reader, defaultIndex string) {
	r.br.Reset(body)
	r.defaultIndex = append(r.defaultIndex[:0], defaultIndex...)
	r.lineNo = 0
	r.hasPending = false
}

// Next reads the next item into it. It returns io.EOF after the last item and
// any other error when the body cannot be read (e.g. *http.MaxBytesError);
// syntax problems are reported per item in it.Err, never as an error.
func (r *Reader) Next(it *Item) error {
	line, lineNo, err := r.nextLine()
	if err != nil {
		return err
	}
	r.actionBuf = append(r.actionBuf[:0], line...)
	*it = Item{}
	ierr := r.parseAction(r.actionBuf, lineNo, it)
	if ierr != nil && ierr.Kind == KindMalformedAction {
		it.Err = ierr
		return r.resync()
	}
	if !it.Op.hasSource() {
		it.Err = ierr
		return nil
	}
	// A well-formed action with invalid metadata still owns its document line.
	src, _, err := r.nextLine()
	switch {
	case errors.Is(err, io.EOF):
		if ierr == nil {
			ierr = &ItemError{Kind: KindMissingDocument, Type: ErrTypeIllegalArgument, Reason: fmt.Sprintf("action/metadata line [%d] is not followed by a document line", lineNo)}
		}
		it.Err = ierr
		return nil
	case err != nil:
		return err
	}
	if ierr != nil {
		it.Err = ierr
		return nil
	}
	it.Source = src
	return nil
}

// resync runs after a malformed action line: the following line is taken as
// its document unless it is itself a valid action line, which is kept for
// the next call. This keeps one bad line from shifting every later item.
func (r *Reader) resync() error {
	line, lineNo, err := r.nextLine()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return err
	}
	var probe Item
	if perr := r.parseAction(line, lineNo, &probe); perr == nil || perr.Kind != KindMalformedAction {
		r.pending = append(r.pending[:0], line...)
		r.pendingNo = lineNo
		r.hasPending = true
	}
	return nil
}

// nextLine returns the next non-blank line without its line ending.
func (r *Reader) nextLine() ([]byte, int, error) {
	if r.hasPending {
		r.hasPending = false
		return r.pending, r.pendingNo, nil
	}
	for {
		line, err := r.readLine()
		if len(line) == 0 && err != nil {
			return nil, 0, err
		}
		r.lineNo++
		if len(bytes.TrimSpace(line)) > 0 {
			return line, r.lineNo, nil
		}
		if err != nil {
			return nil, 0, err
		}
	}
}

// readLine reads one line; the last line may lack its newline. A non-nil
// error with a non-empty line means the line is complete and the body ended.
func (r *Reader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		r.sourceBuf = append(r.sourceBuf[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = r.br.ReadSlice('\n')
			r.sourceBuf = append(r.sourceBuf, line...)
		}
		line = r.sourceBuf
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if errors.Is(err, io.EOF) {
		if len(line) == 0 {
			return nil, io.EOF
		}
		return line, io.EOF
	}
	return line, nil
}

// parseAction reads an action/metadata line such as
// {"index":{"_index":"logs","_id":"1","_type":"_doc"}}. Unknown metadata keys
// (routing, pipeline, _type, …) are accepted and ignored.
func (r *Reader) parseAction(line []byte, lineNo int, it *Item) *ItemError {
	v, err := r.parser.ParseBytes(line)
	if err != nil {
		return &ItemError{Kind: KindMalformedAction, Type: ErrTypeIllegalArgument, Reason: fmt.Sprintf("Malformed action/metadata line [%d], expected a JSON object", lineNo)}
	}
	obj, err := v.Object()
	if err != nil || obj.Len() != 1 {
		return &ItemError{Kind: KindMalformedAction, Type: ErrTypeIllegalArgument, Reason: fmt.Sprintf("Malformed action/metadata line [%d], expected an object with a single action key", lineNo)}
	}
	var (
		op   Op
		meta *fastjson.Value
	)
	obj.Visit(func(k []byte, mv *fastjson.Value) {
		switch string(k) {
		case "index":
			op = OpIndex
		case "create":
			op = OpCreate
		case "update":
			op = OpUpdate
		case "delete":
			op = OpDelete
		}
		meta = mv
	})
	if op == OpInvalid {
		return &ItemError{Kind: KindMalformedAction, Type: ErrTypeIllegalArgument, Reason: fmt.Sprintf("Malformed action/metadata line [%d], unknown action (expected index, create, update or delete)", lineNo)}
	}
	// Set before the metadata check so the response names the action the
	// client used, as Elasticsearch does ({"create":"oops"} is a create item).
	it.Op = op
	if meta.Type() != fastjson.TypeObject {
		return &ItemError{Kind: KindMalformedAction, Type: ErrTypeIllegalArgument, Reason: fmt.Sprintf("Malformed action/metadata line [%d], expected the metadata to be an object", lineNo)}
	}
	// From here on the line is a well-formed action: its document line follows.
	it.Index = r.defaultIndex
	if idx := meta.Get("_index"); idx != nil {
		if idx.Type() != fastjson.TypeString {
			return &ItemError{Kind: KindInvalidMetadata, Type: ErrTypeIllegalArgument, Reason: fmt.Sprintf("Malformed action/metadata line [%d], _index must be a string", lineNo)}
		}
		it.Index = idx.GetStringBytes()
	}
	if id := meta.Get("_id"); id != nil {
		switch id.Type() {
		case fastjson.TypeString:
			it.ID = id.GetStringBytes()
			if len(it.ID) == 0 { // Elasticsearch refuses it rather than generating an id
				return &ItemError{Kind: KindInvalidMetadata, Type: ErrTypeValidation, Reason: "Validation Failed: 1: if _id is specified it must not be empty;"}
			}
		case fastjson.TypeNumber:
			it.ID = id.MarshalTo(nil)
		case fastjson.TypeNull:
		default:
			return &ItemError{Kind: KindInvalidMetadata, Type: ErrTypeIllegalArgument, Reason: fmt.Sprintf("Malformed action/metadata line [%d], _id must be a string", lineNo)}
		}
	}
	if len(it.Index) == 0 {
		return &ItemError{Kind: KindInvalidMetadata, Type: ErrTypeValidation, Reason: "Validation Failed: 1: index is missing;"}
	}
	if len(it.ID) > MaxIDBytes {
		return &ItemError{Kind: KindInvalidMetadata, Type: ErrTypeValidation, Reason: "Validation Failed: 1: id [" + strconv.Quote(string(it.ID[:32])) + "...] is too long, must be no longer than 512 bytes but was: " + strconv.Itoa(len(it.ID)) + ";"}
	}
	return nil
}

// MaxIDBytes is Elasticsearch's limit on document ids.
const MaxIDBytes = 512
