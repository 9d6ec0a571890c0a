package store

import "errors"

// Sentinel errors. Every error the package returns wraps one of these where a
// caller may want to branch; match them with errors.Is.
var (
	// ErrLocked: another process (or another DB in this process) holds the
	// file lock. The error names the file and, when it can be found in
	// /proc/locks, the holder's pid and command.
	ErrLocked = errors.New("store: database is locked")

	// ErrCorrupt: the file is not a readable bbolt database (garbage,
	// truncated, bad checksum). The file is left untouched.
	ErrCorrupt = errors.New("store: database file is corrupt")

	// ErrForeign: the file is a valid bbolt database but not an intercomd
	// store (it has buckets but no intercomd meta). The file is left untouched.
	ErrForeign = errors.New("store: not an intercomd store")

	// ErrSchemaTooNew: the file was written by a newer intercomd whose schema
	// this build does not know. It is refused rather than misread.
	ErrSchemaTooNew = errors.New("store: schema version too new")

	// ErrNotFound: no such visit or credential. Find returns
	// access.ErrNotFound (which this wraps nothing of) so that the engine can
	// match it; Visit returns ErrNotFound.
	ErrNotFound = errors.New("store: not found")

	// ErrClosed: the DB has been closed.
	ErrClosed = errors.New("store: database closed")

	// ErrBadRecord: a stored record could not be decoded. Reading code
	// reports it with the key; it never crashes.
	ErrBadRecord = errors.New("store: bad record")

	// ErrSnapshotIncomplete: CommitSnapshot was asked to commit a snapshot
	// with missing chunks. Nothing was changed.
	ErrSnapshotIncomplete = errors.New("store: snapshot incomplete")

	// ErrInvalid: an argument was rejected (empty visit id, bad chunk
	// number, ...). Nothing was changed.
	ErrInvalid = errors.New("store: invalid argument")
)
