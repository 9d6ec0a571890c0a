// Package mqttsync keeps an intercom's key cache in step with the cloud and
// sends its events, over MQTT (paho), speaking the protocol of sync/wire and
// docs/protocol.md.
//
// Concepts:
//   - Client.Run is the whole component: it connects (client id = device id,
//     clean session off, last will = retained "offline" status), reconnects
//     with exponential backoff and jitter, and returns nil when its context
//     ends. Each connection is a fresh paho client, so nothing of a dead
//     connection (tokens, in-flight publishes) leaks into the next one.
//   - Keys: deltas are applied through the Store in one transaction each, in
//     revision order. Out-of-order deltas are held; a gap that does not close
//     within Options.GapWait, a start, a lost broker session, a resync or a
//     head revision ahead of the cache triggers a chunked snapshot request.
//     Chunks are staged durably and committed atomically when all have
//     arrived; a snapshot whose chunks stop arriving is discarded and asked
//     for again. Nothing is ever half-applied.
//   - Events: the outbox (in the Store) is drained in order, in batches, with
//     many QoS 1 publishes in flight; entries are acknowledged in the Store
//     only on PUBACK, in order, and whatever was not acknowledged is sent
//     again on the next connection. An entry that can never be sent is
//     quarantined.
//   - Commands, plate reads and face reads are checked (expiry, replay,
//     age, confidence) and handed to the Handler, which the daemon
//     implements; results are published and recorded as events.
//   - Bad input is rejected with a clear error, counted in Stats by topic and
//     class, and reported as an input.rejected event. Nothing crashes.
//   - Server times in cloud messages are recorded (Store.ObserveServerTime)
//     for clock trust.
package mqttsync
