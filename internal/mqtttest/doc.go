// Package mqtttest runs a real mosquitto broker for tests, demos and chaos
// runs: one private broker per test (or program) on a free 127.0.0.1 port,
// from a generated config, which can be killed, stopped, restarted on the
// same port and paused (SIGSTOP) to simulate a hung broker.
//
// Concepts:
//   - Start(t, opt) is the test form: it fails the test if mosquitto cannot
//     start and stops the broker in t.Cleanup. StartBroker is the same for
//     programs without a *testing.T; the caller must Close it.
//   - The broker process gets SIGKILL when its parent dies (Pdeathsig), so a
//     crashed test leaves no mosquitto behind.
//   - Options.TLS makes the listener TLS-only with require_certificate and
//     use_identity_as_username. The CA, the server certificate and client
//     certificates are generated at run time with crypto/x509 (CA).
//   - Options.Persist turns mosquitto persistence on, so that a graceful Stop
//     or Restart keeps sessions and queued messages (a Kill loses what was
//     not saved, as a real crash would).
package mqtttest
