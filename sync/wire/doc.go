// Package wire is the MQTT sync protocol between an intercom and the cloud,
// as pure codecs: topic names, message types, and their Decode/Encode
// functions. docs/protocol.md is its prose form, and a test round-trips every
// example in that document through these decoders so that the two cannot
// drift.
//
// Concepts:
//   - Every message is JSON with "v": 1. A payload larger than MaxPayload, of
//     another version, malformed or failing validation is rejected with an
//     error that wraps one of ErrTooLarge, ErrVersion, ErrMalformed or
//     ErrInvalid (Class names it, for counters).
//   - Key updates are Deltas with a per-device monotonic revision (Rev) and
//     the revision they follow (PrevRev), or Snapshot chunks of one complete
//     set at one revision. Each visit carries its own version; a tombstone
//     (Tombstone) carries the version at which the visit was deleted.
//   - Credentials travel only as keyed hashes (access.Hash, hex), never as
//     secrets. The one exception is the web unlock command, which carries the
//     visitor's web token so that the device can hash and check it.
//   - Commands carry a request id, issued_at and expires_at; results echo the
//     request id.
//
// Nothing here does I/O; the client that moves these bytes is
// sync/mqttsync, and the cloud stand-in is sync/cloudsim.
package wire
