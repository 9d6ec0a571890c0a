package mqttsync_test

import (
	"context"
	"log/slog"

	"github.com/intercomd/intercomd/store"
	"github.com/intercomd/intercomd/sync/mqttsync"
)

// How the daemon wires the client: the store is the cache and the outbox,
// the handler (the daemon) decides and acts, and Run lives as long as the
// daemon. After committing events elsewhere, the daemon calls Kick.
func Example() {
	run := func(ctx context.Context, db *store.DB, h mqttsync.Handler, log *slog.Logger) error {
		tlsCfg, err := mqttsync.TLSFiles("/etc/intercomd/ca.pem", "/etc/intercomd/device.pem", "/etc/intercomd/device.key")
		if err != nil {
			return err
		}
		c, err := mqttsync.New(mqttsync.Options{
			Device:     "front-door",
			Broker:     "ssl://mqtt.example.com:8883",
			TLS:        tlsCfg,
			Store:      db,
			Handler:    h,
			Logger:     log,
			ReplayFile: "/var/lib/intercomd/replay.json",
		})
		if err != nil {
			return err
		}
		return c.Run(ctx) // nil when ctx ends
	}
	_ = run
}
