// Package qr reads visit keys from camera frames: frame → preprocessing →
// gozxing → payload parse → dedupe → access.Credential.
//
// Concepts:
//   - Gray and Frame: 8-bit grayscale pixels with a stride, as the camera
//     delivers them. gozxing reads them in place through a planar luminance
//     source; no image.Image is built per frame.
//   - Decoder: a cascade of attempts, cheapest first (Stage). The whole frame
//     is scanned at half and three-quarter resolution; the costly attempts
//     (full-resolution crops at several scales with both binarizers, CLAHE,
//     the full frame) run only where a cheaper scan saw finder-like points
//     (or, for CLAHE, on a low-contrast frame), so a frame without a code
//     stays cheap. OpenCV localisation with a rectified crop exists as
//     StageLocate but is off by default (see DefaultStages). Each
//     attempt tries both polarities (dark-mode screens) on one binarization.
//     The region of the last code is tried first on the next frame. A
//     Decoder is single-goroutine; Reader runs one per worker.
//   - ParsePayload: "VK1:" + 32 lowercase hex digits (docs/protocol.md). Any
//     other code is counted as not_visit_key and never becomes a credential.
//   - Dedupe: a token seen again within the hold-off (default 3 s, restarted
//     by every sighting) is not decided again.
//   - Reader: Run(ctx, Source, out) with a pool of decoders; Stats counts
//     frames, decoded, not_visit_key, decode_errors, duplicates and
//     credentials. Tokens are never logged.
//   - Snapshot: a JPEG of a frame with the codes outlined, for technicians.
//
// The OpenCV parts (scaling, CLAHE, localisation, image files, Snapshot) are
// built with cgo and without the nocamera tag. Otherwise a pure-Go fallback
// decodes with gozxing alone and Snapshot returns ErrNoCamera.
package qr
