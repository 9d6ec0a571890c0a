// Package localapi is intercomd's technician debug socket: a small HTTP/JSON
// API over a Unix socket, and the typed Client that intercomctl uses.
//
// Concepts:
//
//   - Backend is the daemon seen from the socket. cmd/intercomd implements it
//     with the real parts; localapitest.Backend is a fake with exported fields.
//     Every request type, response type and endpoint path is defined here, so
//     the client and the server cannot drift apart.
//   - Listen owns the socket file: it refuses to start beside a live server,
//     removes a stale socket left by a crash, never removes anything that is
//     not a socket, and leaves the socket 0660 with the configured group.
//   - Peers are identified by SO_PEERCRED, taken when the connection is
//     accepted. A peer is allowed if it is root, the daemon's own uid, or in
//     the configured group (primary or supplementary). Everything else gets
//     403, counts in Stats.Denied and emits a (rate-limited) audit event.
//   - Read-only calls are open to allowed peers. Control calls (relay, resync,
//     log level, lockdown, simulated inputs) and the sensitive reads (explain,
//     camera snapshot) are audited as access.EventAudit events carrying the
//     caller's uid before they run; if the audit cannot be recorded, the call
//     is refused. An audit event never carries a credential value.
//   - Explain is rate-limited (429): it tests secrets without the keypad's
//     brute-force lockout, so it must not be a faster way to guess PINs.
//   - Abuse limits: request bodies are capped (413), headers and bodies must
//     arrive within ReadTimeout (slowloris), connections are capped, idle
//     connections are closed, and a reader that stops reading is cut off.
//   - events -f is a stream of NDJSON access.Event lines; a blank line is a
//     heartbeat. It ends when either side goes away or the server stops.
//
// Secrets: credential values (explain, sim pin/card/qr) travel only in
// request bodies, are never logged, audited or echoed back.
package localapi
