// Package qrtest synthesises camera-like frames holding QR codes, for the QR
// reader's and the camera's tests and for building benchmark sets of a make
// other than the shared one.
//
// A Scene describes one frame: a textured background with shapes and text
// (edges that look like finder patterns to a careless detector), zero or more
// codes on phone-like screens placed with rotation and perspective, and the
// camera's faults: dim or washed-out contrast, glare, blur and sensor noise.
// Random draws a scene from a seeded generator, so a set is reproducible.
// Rendering needs OpenCV; without cgo the functions return qr.ErrNoCamera.
package qrtest
