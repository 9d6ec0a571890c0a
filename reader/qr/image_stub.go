//go:build !cgo || nocamera

package qr

import (
	"fmt"
	"image"
	_ "image/jpeg" // frames and test fixtures are JPEG or PNG
	_ "image/png"
	"os"
)

// ReadImage reads a JPEG or PNG file as grayscale (pure Go; the OpenCV build
// reads more formats, faster).
func ReadImage(path string) (Gray, error) {
	f, err := os.Open(path)
	if err != nil {
		return Gray{}, fmt.Errorf("qr: read image: %w", err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return Gray{}, fmt.Errorf("qr: read image %s: %w", path, err)
	}
	return FromImage(img), nil
}

// Snapshot needs OpenCV to draw and encode.
func Snapshot(g Gray) ([]byte, error) { return nil, ErrNoCamera }
