// Package camera captures grayscale frames for the QR reader.
//
// Concepts:
//   - Source kinds (Kind): a V4L2 device (/dev/videoN, opened with the V4L2
//     API, MJPG, one driver buffer), an RTSP or HTTP URL (FFmpeg), a video
//     file, and a directory of images (simulation). Frames are converted to
//     8-bit gray (qr.Frame), the format the decoder reads in place.
//   - The latest-frame slot: the capture loop overwrites the one pending
//     frame, so a decoder that falls behind gets the newest frame and stale
//     ones are dropped (and counted), never queued. Next hands each frame to
//     exactly one caller, so several decoders can share a camera.
//   - Run owns the capture. The OpenCV capture is used by one goroutine only
//     and closed by it after its last Read: closing during a Read (an RTSP
//     read can block for FFmpeg's 30 s timeout) is a use-after-free. When the
//     source is lost (open fails, Read returns no frame) it is closed and
//     reopened with exponential backoff; OnState reports the transitions.
//   - Inject and InjectFile push a frame "into the camera" for the daemon's
//     simulation (sim qr FILE): it goes through the same slot and reader.
//   - Every Mat this package creates is closed; a test checks a counter of
//     live Mats, and gocv's MatProfile under -tags matprofile.
//
// Device, URL and video-file sources need OpenCV (cgo, no nocamera tag);
// without it they fail with ErrNoCamera, while directories and injected
// frames still work through qr.ReadImage's pure-Go decoder.
package camera
