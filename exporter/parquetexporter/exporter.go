package parquetexporter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/bufpool"
	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/journal"
	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/metadata"
	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/pqbuild"
	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/rowenc"
	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/store"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

// errStagingFull is returned (retryable) while staged data exceeds
// staging.max_size, pushing back on the queue until uploads catch up.
var errStagingFull = errors.New("parquet staging is full; uploads are behind")

// builtSuffix ends a Parquet file being built in staging from a journal.
const builtSuffix = ".parquet.build"

// tracesStagingSubdir holds span journals inside an instance's staging directory.
const tracesStagingSubdir = "traces"

// failedStagingSubdir holds dead-lettered journals: ones that can never be
// published (their file name is taken by a different file, or their path is
// too long for the store). They are kept for an operator, not retried.
const failedStagingSubdir = "failed"

// arrowMem allocates the Arrow buffers the exporter owns (encoded batches,
// journal read-back, sorted copies), recycling them across batches; every
// one is released before the data it holds is handed on. Shared by all
// instances so logs and traces reuse the same buffers.
var arrowMem memory.Allocator = bufpool.New()

// openFile is a partition's journal accepting rows.
type openFile struct {
	mu      sync.Mutex
	w       *journal.Writer
	path    string
	key     string // partition path
	created time.Time
	sealed  bool
}

// parquetExporter stages rows of one signal into per-partition journals and
// publishes sealed journals as Parquet files. A collector running the
// exporter in a logs and a traces pipeline gets one instance per signal,
// each with its own layout, staging directory and file sequence.
type parquetExporter struct {
	cfg       *Config
	logger    *zap.Logger
	tsettings component.TelemetrySettings
	id        component.ID
	now       func() time.Time
	mem       memory.Allocator
	signal    string // logarchive.SignalLogs or logarchive.SignalTraces
	layout    *logarchive.Layout
	schema    *arrow.Schema
	logEnc    *rowenc.Encoder     // signal logs
	spanEnc   *rowenc.SpanEncoder // signal traces
	pqOpts    pqbuild.Options

	// set in start
	tb         *metadata.TelemetryBuilder
	store      store.Store
	local      *store.Local
	stagingDir string
	writerID   string

	mu      sync.Mutex
	open    map[string]*openFile // by partition path
	seq     uint64
	seqEnd  uint64          // sequence numbers below seqEnd are durably reserved
	staged  int64           // bytes in journals not yet published
	sealed  []string        // journal paths waiting to be published, FIFO
	failed  map[string]bool // journals whose last publish attempt failed
	started bool
	stopped bool

	wake chan struct{} // nudges the publisher
	stop chan struct{}
	// bgCtx bounds background publishing; canceled at shutdown, which then
	// publishes the rest under its own deadline.
	bgCtx    context.Context
	bgCancel context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
	// publishMu serializes publishing between the background publisher and
	// Shutdown's final flush.
	publishMu sync.Mutex
}

// newExporter returns the exporter of one signal (logarchive.SignalLogs or
// logarchive.SignalTraces); now is the clock (nil: time.Now).
func newExporter(cfg *Config, set exporter.Settings, signal string, now func() time.Time) (*parquetExporter, error) {
	if now == nil {
		now = time.Now
	}
	mem := arrowMem
	e := &parquetExporter{
		cfg: cfg, logger: set.Logger, tsettings: set.TelemetrySettings, id: set.ID, now: now, mem: mem, signal: signal,
		pqOpts: pqbuild.Options{
			CompressionLevel: cfg.Parquet.CompressionLevel,
			RowGroupRows:     cfg.Parquet.RowGroupRows,
			DataPageSize:     cfg.Parquet.DataPageSize,
			PageIndex:        cfg.Parquet.PageIndex,
			BloomFilter:      cfg.Parquet.BloomFilter.Enabled,
			BloomFilterNDV:   cfg.Parquet.BloomFilter.NDV,
			BloomFilterFPP:   cfg.Parquet.BloomFilter.FPP,
			MapDictionary:    cfg.Parquet.MapDictionary,
		},
		open:   map[string]*openFile{},
		failed: map[string]bool{},
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
	}
	var err error
	switch signal {
	case logarchive.SignalLogs:
		if e.layout, err = logarchive.NewLayout(cfg.PathTemplate); err != nil {
			return nil, fmt.Errorf("path_template: %w", err)
		}
		if e.logEnc, err = rowenc.NewEncoder(promotedColumns(cfg.PromotedAttributes), e.layout, mem); err != nil {
			return nil, fmt.Errorf("promoted_attributes: %w", err)
		}
		e.schema = e.logEnc.Schema()
	case logarchive.SignalTraces:
		if e.layout, err = logarchive.NewLayout(cfg.Traces.PathTemplate); err != nil {
			return nil, fmt.Errorf("traces.path_template: %w", err)
		}
		if e.spanEnc, err = rowenc.NewSpanEncoder(promotedColumns(cfg.Traces.PromotedAttributes), e.layout, mem); err != nil {
			return nil, fmt.Errorf("traces.promoted_attributes: %w", err)
		}
		e.schema = e.spanEnc.Schema()
	default:
		return nil, fmt.Errorf("unsupported signal %q", signal)
	}
	return e, nil
}

var unsafePathChars = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// defaultWriterID derives a file-name-safe id from the host name.
func defaultWriterID() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "sluice"
	}
	id := strings.TrimLeft(unsafePathChars.ReplaceAllString(h, "_"), ".-")
	if len(id) > 128 {
		id = id[:128]
	}
	if logarchive.ValidateWriterID(id) != nil {
		return "sluice"
	}
	return id
}

func (e *parquetExporter) start(ctx context.Context, _ component.Host) error {
	tb, err := metadata.NewTelemetryBuilder(e.tsettings)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	e.tb = tb
	writer := e.cfg.WriterID
	if writer == "" {
		writer = defaultWriterID()
	}
	e.writerID = instanceWriterID(writer, e.id)
	switch e.cfg.Storage.Type {
	case StorageS3:
		s := e.cfg.Storage.S3
		st, err := store.NewS3(ctx, store.S3Options{
			Bucket: s.Bucket, Prefix: s.Prefix, Region: s.Region, Endpoint: s.Endpoint,
			ForcePathStyle: s.ForcePathStyle, AccessKeyID: s.AccessKeyID,
			SecretAccessKey: string(s.SecretAccessKey), SessionToken: string(s.SessionToken),
			MultipartThreshold: s.MultipartThreshold, PartSize: s.PartSize,
			ConditionalWrites: s.ConditionalWrites, MaxAttempts: s.MaxAttempts,
		})
		if err != nil {
			return err
		}
		e.store = st
	default:
		l, err := store.NewLocal(e.cfg.Storage.Local.Path)
		if err != nil {
			return err
		}
		e.store, e.local = l, l
	}
	// One subdirectory per exporter instance: two parquet exporters must
	// not recover each other's journals. Spans stage in a "traces"
	// subdirectory of it; log journals stay where they always were.
	e.stagingDir = filepath.Join(e.cfg.Staging.Directory, unsafePathChars.ReplaceAllString(e.id.String(), "_"))
	if e.signal == logarchive.SignalTraces {
		e.stagingDir = filepath.Join(e.stagingDir, tracesStagingSubdir)
	}
	if err := os.MkdirAll(e.stagingDir, 0o755); err != nil {
		return fmt.Errorf("create staging directory: %w", err)
	}
	if err := e.recover(ctx); err != nil {
		return err
	}
	e.mu.Lock()
	e.started = true
	e.mu.Unlock()
	e.bgCtx, e.bgCancel = context.WithCancel(context.WithoutCancel(ctx))
	e.wg.Add(2)
	go e.rollLoop()
	go e.publishLoop()
	if e.cfg.Retention.MaxAge > 0 && e.local != nil {
		e.wg.Add(1)
		go e.retentionLoop()
	}
	if st, ok := e.store.(*store.S3); ok {
		e.wg.Add(1)
		go e.checkBucket(st)
	}
	e.nudge()
	return nil
}

// checkBucket reports a missing or forbidden bucket once, in the background
// (Start must not wait on the network): uploads are retried anyway, but
// without this the first sign is a failed publish minutes after start.
func (e *parquetExporter) checkBucket(st *store.S3) {
	defer e.wg.Done()
	ctx, cancel := context.WithTimeout(e.bgCtx, 30*time.Second)
	defer cancel()
	if err := st.CheckBucket(ctx); err != nil && e.bgCtx.Err() == nil {
		e.logger.Error("Parquet archive bucket check failed", zap.String("archive", st.String()), zap.Error(err))
	}
}

// recover queues journals left by an earlier run and removes half-built
// Parquet files; it also moves the file sequence past every name in use:
// past the persisted reservation and every staged journal, and to the clock
// when that is later (names then keep sorting in time order).
func (e *parquetExporter) recover(ctx context.Context) error {
	entries, err := os.ReadDir(e.stagingDir)
	if err != nil {
		return fmt.Errorf("read staging directory: %w", err)
	}
	reserved, err := readSequence(e.stagingDir)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq = max(uint64(max(e.now().UnixMicro(), 0)), reserved)
	for _, de := range entries {
		name := de.Name()
		switch {
		case strings.HasSuffix(name, builtSuffix):
			_ = os.Remove(filepath.Join(e.stagingDir, name))
		case strings.HasSuffix(name, journal.Extension):
			seq, err := strconv.ParseUint(strings.TrimSuffix(name, journal.Extension), 10, 64)
			if err == nil && seq >= e.seq {
				e.seq = seq + 1
			}
			info, err := de.Info()
			if err != nil {
				continue
			}
			e.sealed = append(e.sealed, filepath.Join(e.stagingDir, name))
			e.staged += info.Size()
			e.tb.ExporterParquetStagingSize.Add(ctx, info.Size())
			e.tb.ExporterParquetRecoveredJournals.Add(ctx, 1)
		}
	}
	if err := e.reserveSequence(); err != nil {
		return err
	}
	if n := len(e.sealed); n > 0 {
		e.logger.Info("Recovered staged journals from an earlier run; publishing them", zap.Int("journals", n), zap.String("staging", e.stagingDir))
	}
	return nil
}

// reserveSequence durably reserves the next block of sequence numbers
// before any of them names a file. Called with e.mu held.
func (e *parquetExporter) reserveSequence() error {
	end := e.seq + sequenceBlock
	if err := writeSequence(e.stagingDir, end); err != nil {
		return err
	}
	e.seqEnd = end
	return nil
}

func (e *parquetExporter) nudge() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// pushLogs stages ld durably; it returns only once every row is in an
// fsynced journal (or with a retryable error).
func (e *parquetExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	if ld.LogRecordCount() == 0 {
		return nil
	}
	if e.stagingFull() {
		return errStagingFull
	}
	batches, err := e.logEnc.Encode(ld, logarchive.SignalLogs, e.now())
	if err != nil {
		return fmt.Errorf("encode logs: %w", err)
	}
	return e.stage(ctx, batches)
}

// pushTraces stages td durably, one row per span, like pushLogs.
func (e *parquetExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	if td.SpanCount() == 0 {
		return nil
	}
	if e.stagingFull() {
		return errStagingFull
	}
	batches, err := e.spanEnc.Encode(td, e.now())
	if err != nil {
		return fmt.Errorf("encode spans: %w", err)
	}
	return e.stage(ctx, batches)
}

func (e *parquetExporter) stagingFull() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.staged >= e.cfg.Staging.MaxSize
}

// stage appends every batch to its partition's journal and releases them.
func (e *parquetExporter) stage(ctx context.Context, batches []rowenc.Batch) error {
	defer func() {
		for _, b := range batches {
			b.Record.Release()
		}
	}()
	for _, b := range batches {
		if err := e.appendBatch(ctx, b); err != nil {
			return err
		}
		e.tb.ExporterParquetRowsStaged.Add(ctx, b.Record.NumRows())
	}
	return nil
}

// appendBatch appends one partition's rows to its open journal, opening
// one if needed and sealing it when a roll limit is reached.
func (e *parquetExporter) appendBatch(ctx context.Context, b rowenc.Batch) error {
	key := e.layout.Path(b.Partition)
	for {
		of, err := e.openFor(ctx, key, b.Partition)
		if err != nil {
			return err
		}
		of.mu.Lock()
		if of.sealed {
			of.mu.Unlock()
			continue // sealed between lookup and lock: take the new one
		}
		before := of.w.Size()
		err = of.w.Append(b.Record)
		grown := of.w.Size() - before
		roll := of.w.Broken() || of.w.Rows() >= e.cfg.Roll.MaxRows || of.w.Size() >= e.cfg.Roll.MaxBytes
		of.mu.Unlock()
		e.mu.Lock()
		e.staged += grown
		e.mu.Unlock()
		e.tb.ExporterParquetStagingSize.Add(ctx, grown)
		if roll {
			e.seal(of)
		}
		if err != nil {
			return fmt.Errorf("stage partition %s: %w", key, err)
		}
		return nil
	}
}

func (e *parquetExporter) openFor(ctx context.Context, key string, p logarchive.Partition) (*openFile, error) {
	e.mu.Lock()
	if of := e.open[key]; of != nil {
		e.mu.Unlock()
		return of, nil
	}
	if e.stopped {
		e.mu.Unlock()
		return nil, errors.New("parquet exporter is shut down")
	}
	var evict *openFile
	if len(e.open) >= e.cfg.Roll.MaxOpenFiles {
		for _, of := range e.open {
			if evict == nil || of.created.Before(evict.created) {
				evict = of
			}
		}
		delete(e.open, evict.key)
	}
	if e.seq >= e.seqEnd {
		if err := e.reserveSequence(); err != nil {
			e.mu.Unlock()
			if evict != nil {
				e.seal(evict)
			}
			return nil, err
		}
	}
	seq := e.seq
	e.seq++
	path := filepath.Join(e.stagingDir, fmt.Sprintf("%020d%s", seq, journal.Extension))
	created := e.now()
	w, err := journal.Create(path, journal.Header{
		File:            e.layout.Path(p) + "/" + logarchive.FileName(e.writerID, seq),
		CreatedUnixNano: created.UnixNano(),
	}, e.schema, e.mem, e.cfg.Staging.Fsync)
	if err != nil {
		e.mu.Unlock()
		if evict != nil {
			e.seal(evict)
		}
		return nil, err
	}
	// The header's size, read before of is published: from then on other
	// pushes may append to w under of.mu.
	headerSize := w.Size()
	of := &openFile{w: w, path: path, key: key, created: created}
	e.open[key] = of
	e.staged += headerSize
	e.mu.Unlock()
	e.tb.ExporterParquetStagingSize.Add(ctx, headerSize)
	if evict != nil {
		e.seal(evict)
	}
	return of, nil
}

// seal closes of for appends and queues it for publishing.
func (e *parquetExporter) seal(of *openFile) {
	e.mu.Lock()
	if e.open[of.key] == of {
		delete(e.open, of.key)
	}
	e.mu.Unlock()
	of.mu.Lock()
	if of.sealed {
		of.mu.Unlock()
		return
	}
	of.sealed = true
	if err := of.w.Close(); err != nil {
		e.logger.Warn("Closing staging journal failed; its synced rows are still published", zap.String("journal", of.path), zap.Error(err))
	}
	of.mu.Unlock()
	e.mu.Lock()
	e.sealed = append(e.sealed, of.path)
	e.mu.Unlock()
	e.nudge()
}

// rollExpired seals every open file older than roll.max_age at now.
func (e *parquetExporter) rollExpired(now time.Time) {
	e.mu.Lock()
	var due []*openFile
	for _, of := range e.open {
		if !now.Before(of.created.Add(e.cfg.Roll.MaxAge)) {
			due = append(due, of)
		}
	}
	e.mu.Unlock()
	for _, of := range due {
		e.seal(of)
	}
}

// sealAll seals every open file.
func (e *parquetExporter) sealAll() {
	e.mu.Lock()
	all := make([]*openFile, 0, len(e.open))
	for _, of := range e.open {
		all = append(all, of)
	}
	e.mu.Unlock()
	for _, of := range all {
		e.seal(of)
	}
}

func (e *parquetExporter) rollLoop() {
	defer e.wg.Done()
	t := time.NewTicker(e.cfg.Roll.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			e.rollExpired(e.now())
		}
	}
}

func (e *parquetExporter) retentionLoop() {
	defer e.wg.Done()
	t := time.NewTicker(e.cfg.Retention.CheckInterval)
	defer t.Stop()
	e.applyRetention(e.now())
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			e.applyRetention(e.now())
		}
	}
}

// applyRetention deletes local partitions that ended before now - max_age.
func (e *parquetExporter) applyRetention(now time.Time) {
	n, err := e.local.DeleteBefore(e.layout, e.signal, now.Add(-e.cfg.Retention.MaxAge))
	if n > 0 {
		e.tb.ExporterParquetPartitionsDeleted.Add(context.Background(), int64(n))
		e.logger.Info("Retention deleted old partitions", zap.Int("partitions", n))
	}
	if err != nil {
		e.logger.Warn("Retention failed", zap.Error(err))
	}
}

// publishLoop publishes sealed journals, retrying failures with backoff.
func (e *parquetExporter) publishLoop() {
	defer e.wg.Done()
	ctx := e.bgCtx
	backoff := e.cfg.UploadRetry.InitialInterval
	for {
		if err := e.publishPending(ctx); err != nil {
			e.logger.Debug("Retrying unpublished journals", zap.Duration("retry_in", backoff))
			t := time.NewTimer(backoff)
			select {
			case <-e.stop:
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, e.cfg.UploadRetry.MaxInterval)
			continue
		}
		backoff = e.cfg.UploadRetry.InitialInterval
		select {
		case <-e.stop:
			return
		case <-e.wake:
		}
	}
}

// publishPending tries every sealed journal once, in order, including ones
// sealed meanwhile; a failure does not stop the others (a failed journal
// moves to the back of the queue). Journals that can never be published are
// dead-lettered. It returns the failures, joined.
func (e *parquetExporter) publishPending(ctx context.Context) error {
	e.publishMu.Lock()
	defer e.publishMu.Unlock()
	tried := map[string]bool{}
	var errs []error
	for {
		if err := ctx.Err(); err != nil && len(errs) > 0 {
			return errors.Join(append(errs, err)...)
		}
		e.mu.Lock()
		i := slices.IndexFunc(e.sealed, func(p string) bool { return !tried[p] })
		if i < 0 {
			e.mu.Unlock()
			return errors.Join(errs...)
		}
		path := e.sealed[i]
		retry := e.failed[path]
		e.mu.Unlock()
		tried[path] = true
		if retry {
			e.tb.ExporterParquetUploadRetries.Add(ctx, 1)
		}
		size, err := e.publish(ctx, path)
		if err != nil && store.Permanent(err) {
			size, err = e.deadLetter(ctx, path, err)
		}
		if err != nil {
			e.tb.ExporterParquetFlushErrors.Add(ctx, 1)
			e.mu.Lock()
			e.failed[path] = true
			// Move it behind the others so one bad journal cannot hold up
			// every later file.
			if i := slices.Index(e.sealed, path); i >= 0 {
				e.sealed = append(slices.Delete(e.sealed, i, i+1), path)
			}
			e.mu.Unlock()
			if ctx.Err() == nil {
				e.logger.Warn("Publishing a Parquet file failed; its journal stays staged and is retried",
					zap.String("journal", path), zap.Error(err))
			}
			errs = append(errs, fmt.Errorf("journal %s: %w", filepath.Base(path), err))
			continue
		}
		e.mu.Lock()
		delete(e.failed, path)
		e.sealed = slices.DeleteFunc(e.sealed, func(p string) bool { return p == path })
		e.staged -= size
		e.mu.Unlock()
		e.tb.ExporterParquetStagingSize.Add(ctx, -size)
	}
}

// deadLetter moves a journal that can never be published (cause) into the
// failed subdirectory, where it no longer counts against staging.max_size
// or blocks anything, and returns its size. It fails only when the move does.
func (e *parquetExporter) deadLetter(ctx context.Context, path string, cause error) (int64, error) {
	info, err := os.Stat(path)
	if err != nil {
		return 0, errors.Join(cause, fmt.Errorf("dead-letter journal: %w", err))
	}
	dir := filepath.Join(e.stagingDir, failedStagingSubdir)
	dst := filepath.Join(dir, filepath.Base(path))
	err = os.MkdirAll(dir, 0o755)
	if err == nil {
		err = os.Rename(path, dst)
	}
	if err == nil {
		err = errors.Join(store.SyncDir(dir), store.SyncDir(e.stagingDir))
	}
	if err != nil {
		return 0, errors.Join(cause, fmt.Errorf("dead-letter journal: %w", err))
	}
	e.tb.ExporterParquetJournalsDeadLettered.Add(ctx, 1)
	e.logger.Error("A staged journal can never be published; moved it aside, its rows are NOT in the archive",
		zap.String("journal", dst), zap.Error(cause))
	return info.Size(), nil
}

// publish builds the Parquet file of one journal, hands it to the store and
// deletes the journal once the store confirmed. It returns the journal size.
func (e *parquetExporter) publish(ctx context.Context, path string) (int64, error) {
	info, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("stat journal: %w", err)
	}
	contents, err := journal.Read(path, e.mem)
	if errors.Is(err, journal.ErrNoHeader) {
		// Created but its header never reached the disk: no row in it was
		// ever acknowledged.
		e.logger.Warn("Removing staging journal without a valid header", zap.String("journal", path))
		return info.Size(), os.Remove(path)
	}
	if err != nil {
		return 0, err
	}
	defer contents.Release()
	if contents.Torn {
		e.logger.Warn("Staging journal had a torn tail (crash during an unacknowledged append); publishing its complete rows",
			zap.String("journal", path), zap.Int64("rows", contents.Rows))
	}
	if contents.Rows == 0 {
		return info.Size(), os.Remove(path)
	}
	built := strings.TrimSuffix(path, journal.Extension) + builtSuffix
	defer os.Remove(built)
	f, err := os.OpenFile(built, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("create build file: %w", err)
	}
	res, err := pqbuild.Write(ctx, f, contents.Schema, contents.Records, e.pqOpts, e.mem)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("build %s: %w", contents.Header.File, err)
	}
	bi, err := os.Stat(built)
	if err != nil {
		return 0, fmt.Errorf("stat build file: %w", err)
	}
	if err := e.store.Put(ctx, contents.Header.File, built, bi.Size()); err != nil {
		return 0, err
	}
	if err := os.Remove(path); err != nil {
		return 0, fmt.Errorf("remove published journal: %w", err)
	}
	e.tb.ExporterParquetRowsWritten.Add(ctx, res.Rows)
	e.tb.ExporterParquetFilesWritten.Add(ctx, 1)
	e.tb.ExporterParquetBytesWritten.Add(ctx, bi.Size())
	e.logger.Debug("Published Parquet file", zap.String("file", contents.Header.File), zap.Int64("rows", res.Rows), zap.Int64("bytes", bi.Size()))
	return info.Size(), nil
}

// shutdown stops background work, seals every open file and publishes what
// it can before ctx ends. Unpublished journals stay staged for the next start.
func (e *parquetExporter) shutdown(ctx context.Context) error {
	e.stopOnce.Do(func() {
		e.mu.Lock()
		e.stopped = true
		started := e.started
		e.mu.Unlock()
		if !started {
			return
		}
		close(e.stop)
		e.bgCancel()
		e.wg.Wait()
		e.sealAll()
		if perr := e.publishPending(ctx); perr != nil {
			e.mu.Lock()
			left := len(e.sealed)
			e.mu.Unlock()
			e.logger.Warn("Shutdown left staged journals unpublished; they are published on the next start",
				zap.Int("journals", left), zap.String("staging", e.stagingDir))
		}
		e.store.Close()
		e.tb.Shutdown()
	})
	return nil
}
