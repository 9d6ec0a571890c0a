package store

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
)

var recordCases = []struct {
	name string
	r    record
}{
	{"minimal", record{Visit: access.Visit{ID: "a"}}},
	{"full", record{Visit: access.Visit{ID: "visit-1", Version: 1<<40 + 3, Start: t0, End: t0.Add(time.Hour),
		Days: 0x7f, DailyFrom: 1439, DailyTo: 1440, Intercoms: []string{"a", "bb", ""}, SingleUse: true},
		Creds: []access.Hash{testHash(1, 1), testHash(1, 2)}}},
	{"tombstone", record{Visit: access.Visit{ID: "gone", Version: 9, Deleted: true, End: t0}, DeletedAt: t0.Add(time.Minute)}},
	{"nanos and far times", record{Visit: access.Visit{ID: "n", Start: time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC),
		End: time.Date(3000, 1, 1, 0, 0, 0, 999999999, time.UTC)}}},
}

func TestRecordRoundTrip(t *testing.T) {
	for _, tc := range recordCases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := encodeRecord(nil, &tc.r)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeRecord(tc.r.ID, b, true)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !sameRecord(got, tc.r) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, tc.r)
			}
			// Without credentials: everything else equal, no hashes.
			lite, err := decodeRecord(tc.r.ID, b, false)
			if err != nil || lite.Creds != nil || lite.Version != tc.r.Version {
				t.Errorf("decode without creds: %+v, %v", lite, err)
			}
			// Every strict prefix is an error, never a panic or a success.
			for i := 0; i < len(b); i++ {
				if _, err := decodeRecord("x", b[:i], true); !errors.Is(err, ErrBadRecord) {
					t.Errorf("prefix %d/%d: err = %v, want ErrBadRecord", i, len(b), err)
				}
			}
		})
	}
}

func sameRecord(a, b record) bool {
	ta, tb := a, b
	ta.Start, ta.End, ta.DeletedAt = time.Time{}, time.Time{}, time.Time{}
	tb.Start, tb.End, tb.DeletedAt = time.Time{}, time.Time{}, time.Time{}
	if len(ta.Intercoms) == 0 && len(tb.Intercoms) == 0 {
		ta.Intercoms, tb.Intercoms = nil, nil
	}
	if len(ta.Creds) == 0 && len(tb.Creds) == 0 {
		ta.Creds, tb.Creds = nil, nil
	}
	return reflect.DeepEqual(ta, tb) && a.Start.Equal(b.Start) && a.End.Equal(b.End) && a.DeletedAt.Equal(b.DeletedAt)
}

func TestRecordRejects(t *testing.T) {
	good, _ := encodeRecord(nil, &recordCases[1].r)
	bad := map[string][]byte{
		"empty":         {},
		"format 2":      append([]byte{2}, good[1:]...),
		"trailing byte": append(append([]byte(nil), good...), 0),
		"unknown flag":  {1, 0, 0x80},
	}
	for name, b := range bad {
		if _, err := decodeRecord("x", b, true); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: err = %v, want ErrBadRecord", name, err)
		}
	}
	r := record{Visit: access.Visit{ID: "x", DailyFrom: 1440}}
	if _, err := encodeRecord(nil, &r); !errors.Is(err, ErrInvalid) {
		t.Errorf("encode daily from 1440: err = %v, want ErrInvalid", err)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, tc := range recordCases {
		b, _ := encodeRecord(nil, &tc.r)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord("id", b, true)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes.
		again, err := encodeRecord(nil, &r)
		if err != nil {
			t.Fatalf("re-encode of a decoded record: %v", err)
		}
		r2, err := decodeRecord("id", again, true)
		if err != nil || !sameRecord(r, r2) {
			t.Fatalf("re-decode: %+v %v, want %+v", r2, err, r)
		}
		if d := isDeleted(b); d != r.Deleted {
			t.Fatalf("isDeleted = %v, record says %v", d, r.Deleted)
		}
	})
}

func FuzzDecodeUse(f *testing.F) {
	f.Add(encodeUse(t0))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := decodeUse(b)
		if err != nil {
			if len(b) == 8 {
				t.Fatalf("8 bytes rejected: %v", err)
			}
			return
		}
		if got := encodeUse(u); string(got) != string(b) {
			t.Fatalf("round trip %x → %x", b, got)
		}
	})
}

func FuzzDecodeQuarantine(f *testing.F) {
	f.Add(encodeQuarantine(7, "broker rejected", []byte(`{"id":"x"}`)))
	f.Add(encodeQuarantine(0, "", nil))
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := decodeQuarantine(b)
		if err != nil {
			return
		}
		if got := encodeQuarantine(q.Seq, q.Why, q.Data); len(got) > len(b) {
			t.Fatalf("re-encoding grew: %x → %x", b, got)
		}
	})
}

func FuzzDecodeChunk(f *testing.F) {
	c, _ := encodeChunk([]Upsert{testVisit(1, 1), testVisit(2, 5)})
	f.Add(c)
	e, _ := encodeChunk(nil)
	f.Add(e)
	f.Add([]byte{5, 1, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		items, err := decodeChunk(b)
		if err != nil {
			return
		}
		for _, it := range items {
			if it.Visit.ID == "" {
				t.Fatal("decoded an item with an empty id")
			}
		}
	})
}

func FuzzDecodeLockout(f *testing.F) {
	b, _ := json.Marshal([]access.LockoutState{{Reader: "keypad0", Failures: []time.Time{t0}, Until: t0, Strikes: 2}})
	f.Add(b)
	f.Add([]byte(`null`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := decodeLockout(b)
		if err != nil && !errors.Is(err, ErrBadRecord) {
			t.Fatalf("error not ErrBadRecord: %v", err)
		}
	})
}

func FuzzParseMeta(f *testing.F) {
	// Seeds: both meta pages of a real store, and junk.
	path := f.TempDir() + "/seed.db"
	db, err := Open(path, Options{})
	if err != nil {
		f.Fatal(err)
	}
	db.Close()
	real, err := os.ReadFile(path)
	if err != nil || len(real) < 8192 {
		f.Fatalf("seed store: %d bytes, %v", len(real), err)
	}
	if _, ok := parseMeta(real); !ok {
		f.Fatal("parseMeta rejects a real meta page")
	}
	f.Add(real[:4096])
	f.Add(real[4096:8192])
	f.Add(make([]byte, 80))
	f.Add([]byte("not a bolt file at all, just some text that is long enough to read meta from it"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, ok := parseMeta(b)
		if ok && (m.pageSize < 512 || m.pageSize&(m.pageSize-1) != 0) {
			t.Fatalf("accepted page size %d", m.pageSize)
		}
	})
}
