package qr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/intercomd/intercomd/access"
)

// Source delivers camera frames. Next blocks until a frame newer than the
// last one it returned is available, or ctx is done; a source that falls
// behind drops frames rather than queueing them. It must be safe for
// concurrent use, as every worker calls it.
type Source interface {
	Next(ctx context.Context) (Frame, error)
}

// Config configures a Reader. Zero values mean the documented defaults.
type Config struct {
	ID      string        // reader id in credentials and events; default "camera0"
	HoldOff time.Duration // dedupe hold-off; default DefaultHoldOff (3 s)
	Workers int           // decoders working on frames in parallel; default 1
	Logger  *slog.Logger  // default: discard
}

// Stats counts what the reader saw. Counters only grow.
type Stats struct {
	Frames       uint64 `json:"frames"`        // frames decoded
	Decoded      uint64 `json:"decoded"`       // QR codes decoded
	NotVisitKey  uint64 `json:"not_visit_key"` // codes ignored: not a visit key
	DecodeErrors uint64 `json:"decode_errors"` // frames that could not be decoded (bad image, decoder fault)
	Duplicates   uint64 `json:"duplicates"`    // visit keys suppressed by the hold-off
	Credentials  uint64 `json:"credentials"`   // credentials emitted
}

// Reader turns camera frames into visit-key credentials: frame, decoder
// cascade, payload parse, dedupe, credential. It is safe for concurrent use.
type Reader struct {
	cfg    Config
	log    *slog.Logger
	dedupe Dedupe
	stats  struct {
		frames, decoded, notVisitKey, decodeErrors, duplicates, credentials atomic.Uint64
	}
}

// New returns a Reader; it does no I/O.
func New(cfg Config) *Reader {
	if cfg.ID == "" {
		cfg.ID = "camera0"
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reader{cfg: cfg, log: log.With("reader", cfg.ID), dedupe: Dedupe{HoldOff: cfg.HoldOff}}
}

// Stats returns the counters so far.
func (r *Reader) Stats() Stats {
	return Stats{
		Frames:       r.stats.frames.Load(),
		Decoded:      r.stats.decoded.Load(),
		NotVisitKey:  r.stats.notVisitKey.Load(),
		DecodeErrors: r.stats.decodeErrors.Load(),
		Duplicates:   r.stats.duplicates.Load(),
		Credentials:  r.stats.credentials.Load(),
	}
}

// Run decodes frames from src with cfg.Workers decoders and sends one
// credential per fresh visit key to out, until ctx is done (it then returns
// nil) or src fails. Each send waits for the receiver or ctx.
func (r *Reader) Run(ctx context.Context, src Source, out chan<- access.Credential) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, r.cfg.Workers)
	for range r.cfg.Workers {
		wg.Go(func() {
			if err := r.work(ctx, src, out); err != nil {
				errc <- err
				cancel()
			}
		})
	}
	wg.Wait()
	close(errc)
	return <-errc // nil when every worker stopped on cancellation
}

func (r *Reader) work(ctx context.Context, src Source, out chan<- access.Credential) error {
	d := NewDecoder()
	defer d.Close()
	for {
		f, err := src.Next(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("qr: %s: next frame: %w", r.cfg.ID, err)
		}
		sent := true
		r.process(d, f, func(c access.Credential) {
			if !sent {
				return
			}
			select {
			case out <- c:
			case <-ctx.Done():
				sent = false
			}
		})
		if !sent {
			return nil
		}
	}
}

// Process decodes one frame with d and returns the credentials it yields:
// one per visit key not seen within the hold-off. Anything else is counted
// and dropped. The token is never logged.
func (r *Reader) Process(d *Decoder, f Frame) []access.Credential {
	var creds []access.Credential
	r.process(d, f, func(c access.Credential) { creds = append(creds, c) })
	return creds
}

// process emits the first code's credential before looking for more codes.
func (r *Reader) process(d *Decoder, f Frame, emit func(access.Credential)) {
	r.stats.frames.Add(1)
	syms, err := safeDecode(d, f.Gray, nil)
	if err != nil {
		r.decodeError(f, err)
		return
	}
	if len(syms) == 0 {
		return
	}
	at := f.At
	if at.IsZero() {
		at = time.Now()
	}
	r.credentials(f, syms, at, emit)
	more, err := safeDecode(d, f.Gray, syms)
	if err != nil {
		r.decodeError(f, err)
		return
	}
	r.credentials(f, more, at, emit)
}

func (r *Reader) decodeError(f Frame, err error) {
	r.stats.decodeErrors.Add(1)
	r.log.Warn("qr: frame not decoded", "seq", f.Seq, "err", err)
}

func (r *Reader) credentials(f Frame, syms []Symbol, at time.Time, emit func(access.Credential)) {
	for _, s := range syms {
		r.stats.decoded.Add(1)
		tok, err := ParsePayload(s.Text)
		if err != nil {
			r.stats.notVisitKey.Add(1)
			r.log.Debug("qr: ignored code", "seq", f.Seq, "len", len(s.Text), "why", err)
			continue
		}
		if !r.dedupe.Fresh(tok, at) {
			r.stats.duplicates.Add(1)
			continue
		}
		r.stats.credentials.Add(1)
		emit(access.Credential{Kind: access.KindQR, Value: tok, Reader: r.cfg.ID, At: at})
	}
}

// errDecoderFault reports a panic inside the decoder on a hostile image.
var errDecoderFault = errors.New("qr: decoder fault")

// safeDecode runs Decode, or DecodeMore when found is not empty, turning a
// panic in gozxing (bad geometry from a hostile image) into an error: bad
// input must not stop the reader.
func safeDecode(d *Decoder, g Gray, found []Symbol) (syms []Symbol, err error) {
	defer func() {
		if p := recover(); p != nil {
			d.Reset()
			syms, err = nil, fmt.Errorf("%w: %v", errDecoderFault, p)
		}
	}()
	if len(found) > 0 {
		return d.DecodeMore(g, found), nil
	}
	return d.Decode(g)
}
