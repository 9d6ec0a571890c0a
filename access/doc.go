// Package access is intercomd's decision engine: the only place that grants.
//
// Every credential, whatever its source (camera, keypad, Wiegand, MQTT),
// becomes a Credential{Kind, Value, Reader, At}. Engine.Decide hashes its
// normalised value with the per-site key, finds the owning visit through a
// Lookup (implemented by the store), applies the rules in a fixed order and
// returns a Decision with a stable Reason and the Events to commit durably
// before the door moves.
//
// Concepts:
//   - Engine: configuration behind an atomic pointer (replaced at runtime by
//     SetConfig) plus the per-keypad PIN brute-force state (LockoutState),
//     which Decide updates and RestoreLockout reloads after a restart.
//   - Rules: evaluated in order, the first refusal decides; each has one
//     Reason. Every evaluated rule leaves a Verdict in Decision.Trace. The
//     order and the reasons are documented in docs/decisions.md.
//   - Explain: the same rules as a dry run (Decision.DryRun): no events, no
//     state change, never to be acted on.
//   - Clock: decisions take the time as input with its trust (ClockTrust), so
//     the package never reads the wall clock for a rule; only Decision.Took
//     is measured.
//   - Restrictions are wall-clock rules in the site time zone (see window.go
//     for DST handling).
//
// The package is pure: it imports nothing from the rest of the module and
// nothing that touches hardware, storage or the network. A dependency test
// (internal/deptest) keeps it that way. accesstest holds an in-memory Lookup
// for other packages' tests.
package access
