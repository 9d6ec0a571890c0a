package main

import (
	"context"
	"sync"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/localapi"
)

// serveSocket starts the technician socket. Control calls are audited: their
// event is durable before the action runs.
func (d *daemon) serveSocket(ctx context.Context, wg *sync.WaitGroup, goRun func(*sync.WaitGroup, string, func() error)) error {
	gid := -1
	if g := d.cfg.Debug.Group; g != "" {
		id, err := localapi.LookupGroup(g)
		if err != nil {
			return err
		}
		gid = id
	} else if id, err := localapi.LookupGroup("intercom"); err == nil {
		gid = id
	}
	srv := &localapi.Server{
		Path:    d.cfg.Debug.Socket,
		Group:   gid,
		Backend: backend{d},
		Logger:  d.log.With("part", "localapi"),
		Audit: func(ctx context.Context, ev access.Event) error {
			if err := d.db.Append(ctx, ev); err != nil {
				return err
			}
			d.bus.publish(ev)
			return nil
		},
	}
	ln, err := srv.Listen()
	if err != nil {
		return err
	}
	d.socket = srv
	goRun(wg, "localapi", func() error { return srv.Serve(ctx, ln) })
	return nil
}
