// Package chaos is intercomd's fault-injection harness: `make chaos` runs it
// (through chaosrun) for ITERATIONS rounds, and a three-round version runs in
// plain `go test`.
//
// Concepts:
//   - The world: a private mosquitto on a loopback port, the cloud stand-in
//     (sync/cloudsim) holding a few hundred visits, and the real intercomd
//     binary in simulation mode as a child process, driven through its debug
//     socket.
//   - An iteration drives load (the cloud creates and deletes visits, PINs
//     are typed, doors open and close, so events flow) and then SIGKILLs the
//     daemon at a random moment of one Phase: snapshot apply, delta apply,
//     single-use consumption or outbox drain. Some iterations also kill and
//     restart the broker, or freeze it with SIGSTOP for up to MaxPause.
//   - After each kill the database must open (outside the daemon, before the
//     restart); the ids of the events still in its outbox are noted as
//     committed. After the restart the cache must converge to the cloud's
//     state visit by visit (id, version, deletion), and every committed event
//     must reach the cloud. Duplicates are allowed only as the same event
//     under the same id. A single-use visit is never granted outside its
//     window after the first use, and every relay unlock the daemon reports
//     has a grant, a REX press or an audited control command behind it.
//   - Report carries the figures printed as BENCH lines: iterations,
//     failures, events lost and events duplicated.
//   - Soak (`make soak`, chaosrun -soak) runs mixed traffic for a duration
//     and samples the daemon's RssAnon and goroutines; SoakReport fits a line
//     to the second half of the samples and fails on growth.
package chaos
