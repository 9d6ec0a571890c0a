// Package cloudsim is a stand-in for the cloud side of the sync protocol,
// and its reference implementation: visitctl is a thin CLI over it, and the
// sync tests use it as the cloud whose state the device must converge to.
//
// Concepts:
//   - State is the cloud's data: visits (live and deleted) and one revision
//     per device. A device is an intercom: a visit is part of the key set of
//     every device named in its Intercoms. Every change bumps the revision of
//     each device it concerns and yields one wire.Delta per device.
//   - The stand-in keeps each visit's secrets (PIN, QR token, web token,
//     card, plate) in its state so that it can show them again, as a real
//     cloud shows a visitor their keys. Only hashes ever leave it.
//   - File persists State as JSON under an exclusive flock, so that several
//     visitctl invocations (serve, create, delete) can share one state file.
//   - Cloud publishes deltas and heads, answers snapshot requests in chunks,
//     sends commands and waits for their results, over MQTT.
package cloudsim
