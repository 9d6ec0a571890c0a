package store

import (
	"testing"

	"go.uber.org/goleak"
)

// The committer goroutine must stop with Close: no test may leak it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
