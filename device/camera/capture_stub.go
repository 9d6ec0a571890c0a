//go:build !cgo || nocamera

package camera

const cvAvailable = false

func openCV(cfg Config) (capture, error) { return nil, ErrNoCamera }
