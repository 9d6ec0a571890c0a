package store

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/intercomd/intercomd/access"
)

// record is a visit as stored in the visits bucket: the visit, the hashes of
// its credentials (so that an upsert or a purge can remove them from the
// creds index) and, for a tombstone, when it was deleted (for GC).
type record struct {
	access.Visit
	Creds     []access.Hash
	DeletedAt time.Time
}

// Record format version 1, all integers varint/uvarint:
//
//	byte    format (1)
//	uvarint version
//	byte    flags: 1 single-use, 2 deleted
//	varint  start seconds, uvarint start nanos
//	varint  end seconds, uvarint end nanos
//	byte    weekdays
//	uvarint daily from, uvarint daily to
//	uvarint n intercoms, each uvarint len + bytes
//	uvarint n creds, each 32 bytes
//	if deleted: varint deleted-at seconds, uvarint nanos
const (
	recordFormat     = 1
	flagSingleUse    = 1
	flagDeleted      = 2
	maxIntercoms     = 1024
	maxIntercomLen   = 256
	maxCredsPerVisit = 4096
)

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// encodeRecord appends the binary form of r to b.
func encodeRecord(b []byte, r *record) ([]byte, error) {
	if len(r.Intercoms) > maxIntercoms {
		return nil, fmt.Errorf("store: visit %q: %d intercoms: %w", r.ID, len(r.Intercoms), ErrInvalid)
	}
	if len(r.Creds) > maxCredsPerVisit {
		return nil, fmt.Errorf("store: visit %q: %d credentials: %w", r.ID, len(r.Creds), ErrInvalid)
	}
	if r.DailyFrom < 0 || r.DailyFrom > 1439 || r.DailyTo < 0 || r.DailyTo > 1440 {
		return nil, fmt.Errorf("store: visit %q: daily window %d-%d: %w", r.ID, r.DailyFrom, r.DailyTo, ErrInvalid)
	}
	b = append(b, recordFormat)
	b = binary.AppendUvarint(b, r.Version)
	var flags byte
	if r.SingleUse {
		flags |= flagSingleUse
	}
	if r.Deleted {
		flags |= flagDeleted
	}
	b = append(b, flags)
	b = appendTime(b, r.Start)
	b = appendTime(b, r.End)
	b = append(b, byte(r.Days))
	b = binary.AppendUvarint(b, uint64(r.DailyFrom))
	b = binary.AppendUvarint(b, uint64(r.DailyTo))
	b = binary.AppendUvarint(b, uint64(len(r.Intercoms)))
	for _, ic := range r.Intercoms {
		if len(ic) > maxIntercomLen {
			return nil, fmt.Errorf("store: visit %q: intercom id of %d bytes: %w", r.ID, len(ic), ErrInvalid)
		}
		b = binary.AppendUvarint(b, uint64(len(ic)))
		b = append(b, ic...)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Creds)))
	for i := range r.Creds {
		b = append(b, r.Creds[i][:]...)
	}
	if r.Deleted {
		b = appendTime(b, r.DeletedAt)
	}
	return b, nil
}

// decoder reads a record; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrBadRecord, what)
	}
}

func (d *decoder) byte(what string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail("short " + what)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad " + what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad " + what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) time(what string) time.Time {
	s := d.varint(what)
	ns := d.uvarint(what)
	if d.err != nil {
		return time.Time{}
	}
	if ns >= 1e9 {
		d.fail(what + " nanoseconds out of range")
		return time.Time{}
	}
	return time.Unix(s, int64(ns)).UTC()
}

// decodeRecord decodes a visit record stored under id. With creds false the
// credential list is skipped without allocating (the lookup path).
func decodeRecord(id string, b []byte, creds bool) (record, error) {
	var r record
	d := decoder{b: b}
	if f := d.byte("format"); d.err == nil && f != recordFormat {
		return r, fmt.Errorf("%w: visit %q: record format %d", ErrBadRecord, id, f)
	}
	r.ID = id
	r.Version = d.uvarint("version")
	flags := d.byte("flags")
	if flags&^(flagSingleUse|flagDeleted) != 0 {
		d.fail("unknown flags")
	}
	r.SingleUse = flags&flagSingleUse != 0
	r.Deleted = flags&flagDeleted != 0
	r.Start = d.time("start")
	r.End = d.time("end")
	r.Days = access.Weekdays(d.byte("weekdays"))
	from, to := d.uvarint("daily from"), d.uvarint("daily to")
	if from > 1439 || to > 1440 {
		d.fail("daily window out of range")
	}
	r.DailyFrom, r.DailyTo = int(from), int(to)
	n := d.uvarint("intercom count")
	if n > maxIntercoms || n > uint64(len(d.b)) {
		d.fail("intercom count out of range")
	}
	if d.err == nil && n > 0 {
		r.Intercoms = make([]string, 0, n)
		for i := uint64(0); i < n && d.err == nil; i++ {
			l := d.uvarint("intercom length")
			if l > maxIntercomLen || l > uint64(len(d.b)) {
				d.fail("intercom length out of range")
				break
			}
			r.Intercoms = append(r.Intercoms, string(d.b[:l]))
			d.b = d.b[l:]
		}
	}
	nc := d.uvarint("credential count")
	if nc > maxCredsPerVisit || nc*32 > uint64(len(d.b)) {
		d.fail("credential count out of range")
	}
	if d.err == nil {
		if creds && nc > 0 {
			r.Creds = make([]access.Hash, nc)
			for i := range r.Creds {
				copy(r.Creds[i][:], d.b[i*32:])
			}
		}
		d.b = d.b[nc*32:]
	}
	if r.Deleted {
		r.DeletedAt = d.time("deleted at")
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return record{}, fmt.Errorf("store: visit %q: %w", id, d.err)
	}
	return r, nil
}

// A first-use mark is the Unix time in nanoseconds, 8 bytes big-endian.
func encodeUse(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))
}

func decodeUse(b []byte) (time.Time, error) {
	if len(b) != 8 {
		return time.Time{}, fmt.Errorf("%w: first-use mark of %d bytes", ErrBadRecord, len(b))
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC(), nil
}

// A quarantined outbox entry: uvarint original seq, uvarint len(why), why,
// then the event bytes.
func encodeQuarantine(seq uint64, why string, data []byte) []byte {
	b := binary.AppendUvarint(nil, seq)
	b = binary.AppendUvarint(b, uint64(len(why)))
	b = append(b, why...)
	return append(b, data...)
}

// QuarantinedEntry is an outbox entry that could not be sent.
type QuarantinedEntry struct {
	Seq  uint64 // its sequence number in the outbox
	Why  string
	Data []byte // the event JSON as it was in the outbox
}

func decodeQuarantine(b []byte) (QuarantinedEntry, error) {
	d := decoder{b: b}
	var q QuarantinedEntry
	q.Seq = d.uvarint("seq")
	n := d.uvarint("reason length")
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail("reason length out of range")
	}
	if d.err != nil {
		return QuarantinedEntry{}, fmt.Errorf("store: quarantine entry: %w", d.err)
	}
	q.Why = string(d.b[:n])
	q.Data = append([]byte(nil), d.b[n:]...)
	return q, nil
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func decodeU64(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: counter of %d bytes", ErrBadRecord, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}
