// Command visitctl is a stand-in for the cloud: it creates and deletes
// visits, publishes them to intercoms over MQTT, answers their snapshot
// requests, follows their events and sends them commands. It is the
// reference implementation of docs/protocol.md (the logic lives in
// sync/cloudsim) and drives the demo and the tests.
//
// State (visits, per-device revisions, and, as a stand-in for what a cloud
// shows its visitors, each visit's secrets) is a JSON file (--state) shared
// by concurrent invocations under a file lock. Only credential hashes
// (HMAC-SHA256 with the site key from --site-key-file) are published.
//
// Publishing: create, update and delete publish the delta and the retained
// head themselves when --broker is given. Without it they only change the
// state file; a running `visitctl serve` notices the new revision within a
// second and republishes the head, and the intercoms then ask for a
// snapshot. `serve` answers every snapshot request from the state file.
//
// Usage:
//
//	visitctl [global flags] create --name Ada --email ada@example.com --intercom front-door --pin --qr [--web] [--card[=FC:CN]] [--plate ABC123] [--single-use] [--start RFC3339|+1h] [--end RFC3339|+4h] [--days mon,tue] [--daily 09:00-17:00] [--png file] [--json]
//	visitctl [global flags] update ID [--start T] [--end T] [--days mon,tue|all] [--daily 09:00-17:00|all] [--pin P] [--plate P]
//	visitctl [global flags] delete ID
//	visitctl [global flags] list [--json]
//	visitctl [global flags] events [--follow] [--device D] [--json]
//	visitctl [global flags] unlock ID [--device D]
//	visitctl [global flags] lockdown on|off --device D
//	visitctl [global flags] config --device D [--unlock-seconds N] [--visit-keys-enabled=true|false] [--door-mode normal|third_party] [--time-zone Europe/Berlin] [--single-use-window 5m]
//	visitctl [global flags] resync --device D
//	visitctl [global flags] serve
//
// Global flags: --state (default ./visitctl-state.json), --site-key-file,
// --broker (tcp://host:port or ssl://host:port), --tls-ca, --tls-cert,
// --tls-key, --username, --password, --timeout.
package main
