// Package relay drives the door relay and watches the door inputs.
//
// Concepts:
//   - A Door owns one output (gpio.PinOut) that energises the lock relay at
//     its active level (High unless ActiveLow). Its state is kept in memory
//     and never read back from the pin.
//   - Unlock opens the door for the unlock time (default 10 s, 1-60 s); a new
//     grant extends the unlock to that long from now. A timer relocks it.
//     Pulse unlocks for a given time (technician relay test); Lock ends an
//     unlock at once.
//   - Lockdown locks at once and makes every unlock fail with ErrLockdown.
//   - Run watches two optional inputs, with a positive timeout on every wait
//     (periph/host#78) and a debounce: the door-position input (DPI) raises
//     door.forced (opened while locked), door.opened, door.held (open longer
//     than the held-open time) and door.closed; the request-to-exit input
//     (REX) raises door.rex and unlocks. Every output change raises
//     relay.changed. Events go to an injected callback.
//
// Fail-secure. New drives the locked level before returning and never drives
// the unlocked one, so the lock does not pulse at boot. Halt locks whatever
// the state. The daemon's order is:
//
//	door, err := relay.New(cfg, out, dpi, rex, emit, log) // locked from here on
//	defer door.Halt()                                      // runs after the deferred recover below
//	defer door.HaltOnPanic()                               // halt, then re-panic
//	... start the readers, the engine, door.Run ...
//	// shutdown: stop the inputs (cancel ctx, wait), door.Halt(), flush the
//	// outbox, close the store.
//
// A panic in another goroutine does not run main's defers: goroutines that
// can unlock should `defer door.HaltOnPanic()` too.
package relay
