package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/localapi"
)

// Human output. Times are shown in the local zone; ages are measured against
// the daemon's clock (Status.Now), not the technician's laptop.

const timeFormat = "2006-01-02 15:04:05 MST"

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 8, 2, ' ', 0) }

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(timeFormat)
}

// ago is how long before now t was, to the second.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		return "in " + (-d).String()
	}
	return d.String() + " ago"
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// dash shows an empty field as "-" and neutralises control characters:
// free text from the daemon (device errors, event details) must not move
// the cursor, recolour or forge lines on the technician's terminal.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}

func printStatus(w io.Writer, st localapi.Status) error {
	tw := table(w)
	line := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	mode := "hardware"
	if st.Sim {
		mode = "simulation (sim inputs accepted)"
	}
	line("daemon", "%s, schema %d, %s, up %v", st.Versions.Daemon, st.Versions.Schema, st.Versions.Go, st.Now.Sub(st.Started).Round(time.Second))
	line("mode", "%s, log level %s", mode, dash(st.LogLevel))
	mqtt := st.MQTT.State
	if st.MQTT.Broker != "" {
		mqtt += " to " + st.MQTT.Broker
	}
	if !st.MQTT.Since.IsZero() {
		mqtt += ", since " + ago(st.Now, st.MQTT.Since)
	}
	line("mqtt", "%s", mqtt)
	sync := fmt.Sprintf("revision %d, last sync %s", st.Sync.Revision, ago(st.Now, st.Sync.LastSync))
	if st.Sync.Error != "" {
		sync += ", error: " + dash(st.Sync.Error)
	}
	line("sync", "%s", sync)
	line("cache", "%d visits, %d credentials, %d tombstones", st.Cache.Visits, st.Cache.Credentials, st.Cache.Tombstones)
	line("outbox", "%d queued, %d dropped, %d quarantined", st.Outbox.Depth, st.Outbox.Dropped, st.Outbox.Quarantined)
	door := fmt.Sprintf("relay %s, door %s", st.Door.Relay, st.Door.Door)
	if !st.Door.UnlockUntil.IsZero() {
		door += fmt.Sprintf(", locks in %v", st.Door.UnlockUntil.Sub(st.Now).Round(time.Second))
	}
	line("door", "%s", door)
	line("lockdown", "%s", onOff(st.Lockdown))
	clock := "trusted"
	if !st.Clock.Trusted {
		clock = "UNTRUSTED: " + dash(st.Clock.Why) + " (time-bound keys are refused)"
	}
	line("clock", "%s, now %s", clock, when(st.Now))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = table(w)
	fmt.Fprintln(tw, "READER\tKIND\tSTATE\tLAST ACTIVITY\tERRORS\tDETAIL")
	for _, r := range st.Readers {
		state := "offline"
		if r.Online {
			state = "online"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", dash(r.ID), dash(r.Kind), state, ago(st.Now, r.LastActivity), r.Errors, dash(r.Detail))
	}
	return tw.Flush()
}

func keyUse(k localapi.Key) string {
	if k.SingleUse {
		return "single"
	}
	return "multi"
}

func keyState(k localapi.Key) string {
	if k.Deleted {
		return "deleted"
	}
	return "live"
}

func creds(k localapi.Key) string {
	var parts []string
	for _, c := range k.Credentials {
		parts = append(parts, dash(c.Kind)+":"+dash(c.HashPrefix))
	}
	return dash(strings.Join(parts, " "))
}

func printKeys(w io.Writer, keys []localapi.Key) error {
	tw := table(w)
	fmt.Fprintln(tw, "ID\tVER\tSTART\tEND\tUSE\tFIRST USE\tSTATE\tCREDENTIALS (kind:hash prefix)")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", dash(k.ID), k.Version, when(k.Start), when(k.End), keyUse(k), when(k.FirstUse), keyState(k), creds(k))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(keys) == 0 {
		fmt.Fprintln(w, "(no keys)")
	}
	return nil
}

func printKey(w io.Writer, k localapi.Key) error {
	tw := table(w)
	line := func(key, v string) { fmt.Fprintf(tw, "%s\t%s\n", key, v) }
	line("id", dash(k.ID))
	line("version", fmt.Sprint(k.Version))
	line("state", keyState(k))
	line("window", when(k.Start)+" to "+when(k.End))
	days := k.Days
	if days == "" {
		days = "every day"
	}
	daily := k.Daily
	if daily == "" {
		daily = "all day"
	}
	line("restrictions", dash(days)+", "+dash(daily)+" (only for visits spanning several days)")
	line("intercoms", dash(strings.Join(k.Intercoms, ", ")))
	line("use", keyUse(k))
	line("first use", when(k.FirstUse))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = table(w)
	fmt.Fprintln(tw, "KIND\tHASH PREFIX")
	for _, c := range k.Credentials {
		fmt.Fprintf(tw, "%s\t%s\n", dash(c.Kind), dash(c.HashPrefix))
	}
	return tw.Flush()
}

// Events stream, so their columns are fixed widths rather than a tabwriter.
const eventFormat = "%-23s  %-15s  %-21s  %-5s  %-12s  %-10s  %s"

var eventHeader = strings.TrimRight(fmt.Sprintf(eventFormat, "TIME", "TYPE", "REASON", "KIND", "READER", "VISIT", "DETAIL"), " ")

func eventLine(ev access.Event) string {
	detail := ev.Detail
	if ev.UID != nil {
		detail = strings.TrimSpace(fmt.Sprintf("uid=%d %s", *ev.UID, detail))
	}
	if detail != "" {
		detail = dash(detail)
	}
	if ev.TookUS > 0 {
		detail = strings.TrimSpace(fmt.Sprintf("%s took=%dus", detail, ev.TookUS))
	}
	return strings.TrimRight(fmt.Sprintf(eventFormat, when(ev.At), ev.Type, dash(string(ev.Reason)), dash(ev.Kind), dash(ev.Reader), dash(ev.VisitID), detail), " ")
}

func printExplanation(w io.Writer, e localapi.Explanation) error {
	tw := table(w)
	fmt.Fprintln(tw, "#\tRULE\tVERDICT\tDETAIL")
	for i, v := range e.Trace {
		verdict := "pass"
		if !v.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", i+1, dash(v.Rule), verdict, dash(v.Detail))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	result := "DENY"
	if e.Grant {
		result = "GRANT"
	}
	visit := ""
	if e.VisitID != "" {
		visit = ", visit " + dash(e.VisitID)
	}
	_, err := fmt.Fprintf(w, "\nresult: %s (%s)%s, %s on %s, decided in %dus\ndry run: the door was not opened and nothing was recorded\n",
		result, dash(string(e.Reason)), visit, dash(e.Kind), dash(e.Reader), e.TookUS)
	return err
}

func printFrames(w io.Writer, frames []localapi.WiegandFrame) error {
	tw := table(w)
	fmt.Fprintln(tw, "TIME\tREADER\tLEN\tFORMAT\tBITS\tERROR")
	for _, f := range frames {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", when(f.At), dash(f.Reader), len(f.Bits), dash(f.Format), groupBits(f.Bits), dash(f.Error))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(frames) == 0 {
		fmt.Fprintln(w, "(no frames)")
	}
	return nil
}

// groupBits splits a bit string into groups of four for reading aloud.
func groupBits(bits string) string {
	var b strings.Builder
	for i := 0; i < len(bits); i++ {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteByte(bits[i])
	}
	return dash(b.String())
}

func printKeypads(w io.Writer, st []localapi.KeypadStats) error {
	tw := table(w)
	fmt.Fprintln(tw, "READER\tPORT\tSTATE\tFRAMES\tBAD CRC\tRESYNCS\tTIMEOUTS\tRECONNECTS\tLAST HEARTBEAT")
	for _, k := range st {
		state := "offline"
		if k.Online {
			state = "online"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", dash(k.Reader), dash(k.Port), state, k.Frames, k.BadCRC, k.Resyncs, k.Timeouts, k.Reconnects, when(k.LastHeartbeat))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(st) == 0 {
		fmt.Fprintln(w, "(no keypads)")
	}
	return nil
}
