package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/intercomd/intercomd/sync/cloudsim"
	"github.com/intercomd/intercomd/sync/wire"
)

// Cloud is what the script asks of the cloud stand-in.
type Cloud interface {
	// Create creates a visit with generated PIN, QR, card and web
	// credentials on intercom, valid from a minute ago for two hours.
	Create(ctx context.Context, intercom string) (id string, s cloudsim.Secrets, err error)
	Delete(ctx context.Context, id string) error
	// WebUnlock sends the visit's web unlock to device and returns the
	// device's answer in a few words.
	WebUnlock(ctx context.Context, device, id, token string) (string, error)
}

// InProcess drives sync/cloudsim directly (the end-to-end test).
type InProcess struct{ C *cloudsim.Cloud }

func (c InProcess) Create(ctx context.Context, intercom string) (string, cloudsim.Secrets, error) {
	now := time.Now()
	v, err := c.C.Create(cloudsim.Spec{
		FirstName: "Ada", Email: "ada@example.com", Intercoms: []string{intercom},
		Start: now.Add(-time.Minute), End: now.Add(2 * time.Hour),
		GenPIN: true, GenQR: true, GenWeb: true, GenCard: true,
	})
	if err != nil {
		return "", cloudsim.Secrets{}, err
	}
	return v.ID, v.Secrets, nil
}

func (c InProcess) Delete(ctx context.Context, id string) error { return c.C.Delete(id) }

func (c InProcess) WebUnlock(ctx context.Context, device, id, token string) (string, error) {
	res, err := c.C.Command(ctx, device, wire.Command{Type: wire.CmdWebUnlock, VisitID: id, Token: token})
	if err != nil {
		return "", err
	}
	return string(res.Status) + " " + res.Reason, nil
}

// CLI drives the visitctl binary, as an operator would (make demo).
type CLI struct {
	Bin    string   // path of visitctl
	Global []string // --state, --site-key-file, --broker
}

func (c CLI) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.Bin, append(append([]string(nil), c.Global...), args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("visitctl %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func (c CLI) Create(ctx context.Context, intercom string) (string, cloudsim.Secrets, error) {
	out, err := c.run(ctx, "create", "--name", "Ada", "--email", "ada@example.com", "--intercom", intercom,
		"--start", time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "--end", "+2h",
		"--pin", "--qr", "--web", "--card", "--json")
	if err != nil {
		return "", cloudsim.Secrets{}, err
	}
	var v struct {
		VisitID  string `json:"visit_id"`
		PIN      string `json:"pin"`
		QRToken  string `json:"qr_token"`
		WebToken string `json:"web_token"`
		Card     string `json:"card"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return "", cloudsim.Secrets{}, fmt.Errorf("visitctl create --json: %w", err)
	}
	return v.VisitID, cloudsim.Secrets{PIN: v.PIN, QRToken: v.QRToken, WebToken: v.WebToken, Card: v.Card}, nil
}

func (c CLI) Delete(ctx context.Context, id string) error {
	_, err := c.run(ctx, "delete", id)
	return err
}

func (c CLI) WebUnlock(ctx context.Context, device, id, token string) (string, error) {
	out, err := c.run(ctx, "unlock", "--device", device, id)
	var res wire.Result
	if jerr := json.Unmarshal(bytes.TrimSpace(out), &res); jerr == nil && res.Status != "" {
		// A refused unlock is the device's answer, not a failure of the demo.
		return string(res.Status) + " " + res.Reason, nil
	}
	if err != nil {
		return "", err
	}
	return strings.Join(strings.Fields(string(out)), " "), nil
}
