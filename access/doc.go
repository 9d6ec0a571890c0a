// Package access is intercomd's decision engine: the only place that grants.
//
// Every credential, whatever its source (camera, keypad, Wiegand, MQTT),
// becomes a Credential{Kind, Value, Reader, At}. Engine.Decide hashes its
// normalised value with the per-site key, finds the owning visit through a
// Lookup (implemented by the store), applies the rules in a fixed order and
// returns a Decision with a stable Reason and the Events to commit durably
// before the door moves.
//
// The package is pure: it imports nothing from the rest of the module and
// nothing that touches hardware, storage or the network. A dependency test
// (internal/deptest) keeps it that way.
package access
