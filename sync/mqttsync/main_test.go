package mqttsync

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves goroutines behind: every
// client, paho connection and loop must end with its context. The cloud
// stand-in uses paho's own auto-reconnect, whose reconnect goroutine may
// still be in its backoff sleep (up to a second) when Close returns; it
// ends by itself, so it is ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/eclipse/paho%2emqtt%2egolang.(*client).reconnect"),
		goleak.IgnoreAnyFunction("github.com/eclipse/paho%2emqtt%2egolang.(*client).Disconnect.func1"),
	)
}
