package mqttsync

import (
	"context"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/sync/wire"
)

// flight is one published event batch awaiting its PUBACK.
type flight struct {
	tok  mqtt.Token
	seqs []uint64
}

// drain sends the outbox on connection cl until ctx ends or a publish
// fails. It keeps up to InFlight batches in flight and acknowledges entries
// in the store strictly in order, only once the broker has acknowledged
// them; a failure returns, leaving the unacknowledged entries to be sent
// again on the next connection (paho's own success after a reconnect is
// never trusted: each connection is a new paho client).
func (c *Client) drain(ctx context.Context, cl mqtt.Client) error {
	var (
		q    []flight
		last uint64 // last sequence number taken from the outbox
		buf  []byte
	)
	poll := time.NewTimer(c.opt.OutboxPoll)
	defer poll.Stop()
	for {
		for len(q) < c.opt.InFlight {
			f, n, err := c.nextBatch(cl, &last, &buf)
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
			if f.tok != nil { // nil: only quarantined entries
				q = append(q, f)
			}
		}
		if len(q) == 0 {
			poll.Reset(c.opt.OutboxPoll)
			select {
			case <-ctx.Done():
				return nil
			case <-c.kick:
			case <-poll.C:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-q[0].tok.Done():
		}
		var acked []uint64
		i := 0
		for ; i < len(q) && done(q[i].tok); i++ {
			if err := q[i].tok.Error(); err != nil {
				return fmt.Errorf("mqttsync: publish events: %w", err)
			}
			acked = append(acked, q[i].seqs...)
		}
		if err := c.opt.Store.Ack(acked...); err != nil {
			return fmt.Errorf("mqttsync: ack outbox: %w", err)
		}
		c.stats.add(func(s *Stats) { s.EventsSent += uint64(len(acked)); s.EventBatches += uint64(i) })
		q = q[i:]
	}
}

func done(t mqtt.Token) bool {
	select {
	case <-t.Done():
		return true
	default:
		return false
	}
}

// nextBatch reads entries after *last and publishes as many as fit in one
// message; entries that can never be sent are quarantined. n is the number
// of entries consumed (sent or quarantined); 0 means the outbox is empty.
func (c *Client) nextBatch(cl mqtt.Client, last *uint64, buf *[]byte) (flight, int, error) {
	entries, err := c.opt.Store.PeekAfter(*last, c.opt.BatchEvents)
	if err != nil {
		return flight{}, 0, fmt.Errorf("mqttsync: read outbox: %w", err)
	}
	var (
		f     flight
		evs   [][]byte
		size  = wire.BatchOverhead
		taken int
	)
	for _, e := range entries {
		if err := wire.CheckEvent(e.Data); err != nil {
			if qerr := c.opt.Store.Quarantine(e.Seq, err.Error()); qerr != nil {
				return flight{}, 0, fmt.Errorf("mqttsync: quarantine outbox entry %d: %w", e.Seq, qerr)
			}
			c.stats.add(func(s *Stats) { s.Quarantined++ })
			c.log.Error("outbox entry quarantined", "seq", e.Seq, "err", err)
			c.event(context.Background(), access.Event{Type: access.EventSync, Reader: "outbox",
				Detail: fmt.Sprintf("outbox entry %d quarantined: %v", e.Seq, err)})
			*last = e.Seq
			taken++
			continue
		}
		if size+len(e.Data)+1 > wire.MaxPayload {
			break
		}
		size += len(e.Data) + 1
		evs = append(evs, e.Data)
		f.seqs = append(f.seqs, e.Seq)
		*last = e.Seq
		taken++
	}
	if len(evs) > 0 {
		*buf = wire.AppendBatch((*buf)[:0], c.opt.Device, evs)
		// paho keeps the payload until the PUBACK: give it its own copy.
		f.tok = cl.Publish(wire.TopicEvents.Name(c.opt.Device), 1, false, append([]byte(nil), *buf...))
	}
	return f, taken, nil
}
