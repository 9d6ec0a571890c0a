package qr

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: Run's
// workers must end with it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
