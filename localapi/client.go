package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/intercomd/intercomd/access"
)

// maxResponse caps a non-streaming response: a snapshot JPEG at most.
const maxResponse = 32 << 20

// Client calls the local API over the socket at Path (DefaultPath if empty).
// It is safe for concurrent use; every call takes a context.
type Client struct {
	Path string

	once sync.Once
	hc   *http.Client
}

// APIError is a non-2xx answer from the server. It matches the package's
// sentinels with errors.Is (403 is ErrPermission, 404 ErrNotFound, …).
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return e.Message }

// Unwrap maps the status back to the sentinel the server chose it from.
func (e *APIError) Unwrap() error {
	switch e.Status {
	case http.StatusForbidden:
		return ErrPermission
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		return ErrNotSim
	case http.StatusRequestEntityTooLarge:
		return ErrTooLarge
	case http.StatusBadRequest:
		return ErrBadRequest
	case http.StatusServiceUnavailable:
		return ErrUnavailable
	case http.StatusTooManyRequests:
		return ErrRateLimited
	}
	return nil
}

func (c *Client) path() string {
	if c.Path == "" {
		return DefaultPath
	}
	return c.Path
}

func (c *Client) client() *http.Client {
	c.once.Do(func() {
		path := c.path()
		var d net.Dialer
		c.hc = &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return d.DialContext(ctx, "unix", path)
			},
			MaxIdleConns:          2,
			IdleConnTimeout:       30 * time.Second,
			ResponseHeaderTimeout: 0, // per call, by ctx
			DisableCompression:    true,
		}}
	})
	return c.hc
}

// dialError explains the two failures a technician meets first.
func (c *Client) dialError(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("localapi: no socket at %s (is intercomd running? set --socket or INTERCOMD_SOCKET): %w", c.path(), fs.ErrNotExist)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("localapi: %s: permission denied (run as root or join the socket's group): %w", c.path(), ErrPermission)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("localapi: %s: nothing listens (stale socket: is intercomd running?): %w", c.path(), syscall.ECONNREFUSED)
	}
	// Drop net/http's "Get "http://local/…": dial unix …" wrapping.
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	return fmt.Errorf("localapi: %s: %w", c.path(), err)
}

// send makes a request and returns the response if it is 2xx.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("localapi: encode %s: %w", path, err)
		}
		body = bytes.NewReader(b)
	}
	u := "http://local" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("localapi: %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("localapi: %s %s: %w", method, path, ctx.Err())
		}
		return nil, c.dialError(err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var e Error
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("localapi: %s %s: %s", method, path, resp.Status)
		}
		return nil, &APIError{Status: resp.StatusCode, Message: e.Error}
	}
	return resp, nil
}

// call makes a request and decodes a JSON answer into out (nil: none).
func (c *Client) call(ctx context.Context, method, path string, q url.Values, in, out any) error {
	resp, err := c.send(ctx, method, path, q, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(out); err != nil {
		return fmt.Errorf("localapi: decode %s: %w", path, err)
	}
	return nil
}

// Status reports the daemon's health.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.call(ctx, http.MethodGet, PathStatus, nil, nil, &st)
	return st, err
}

// Keys lists cached visits (f.ID is ignored: use Key).
func (c *Client) Keys(ctx context.Context, f KeyFilter) ([]Key, error) {
	q := url.Values{}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.After != "" {
		q.Set("after", f.After)
	}
	if f.Deleted {
		q.Set("deleted", "1")
	}
	var keys []Key
	err := c.call(ctx, http.MethodGet, PathKeys, q, nil, &keys)
	return keys, err
}

// Key shows one visit, or an error matching ErrNotFound.
func (c *Client) Key(ctx context.Context, id string) (Key, error) {
	var k Key
	err := c.call(ctx, http.MethodGet, PathKeys+"/"+url.PathEscape(id), nil, nil, &k)
	return k, err
}

// Events calls fn with up to n recent events (0: none), then, with follow, with live
// events until ctx is done (which returns nil), the server goes away, or fn
// returns an error.
func (c *Client) Events(ctx context.Context, n int, follow bool, fn func(access.Event) error) error {
	q := url.Values{"n": {strconv.Itoa(max(n, 0))}}
	if follow {
		q.Set("follow", "1")
	}
	resp, err := c.send(ctx, http.MethodGet, PathEvents, q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	stop := context.AfterFunc(ctx, func() { resp.Body.Close() })
	defer stop()
	dec := json.NewDecoder(resp.Body)
	for {
		var ev access.Event
		if err := dec.Decode(&ev); err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("localapi: events: %w", err)
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
}

// Explain asks for a dry-run decision. The value travels in the body only.
func (c *Client) Explain(ctx context.Context, r ExplainRequest) (Explanation, error) {
	var e Explanation
	err := c.call(ctx, http.MethodPost, PathExplain, nil, r, &e)
	return e, err
}

// Relay drives the relay; d is the pulse length (zero: the default).
func (c *Client) Relay(ctx context.Context, a RelayAction, d time.Duration) error {
	return c.call(ctx, http.MethodPost, PathRelay, nil, RelayRequest{Action: a, For: Duration(d)}, nil)
}

// WiegandLast returns up to n recent raw frames, newest last.
func (c *Client) WiegandLast(ctx context.Context, n int) ([]WiegandFrame, error) {
	q := url.Values{}
	if n > 0 {
		q.Set("n", strconv.Itoa(n))
	}
	var fs []WiegandFrame
	err := c.call(ctx, http.MethodGet, PathWiegand, q, nil, &fs)
	return fs, err
}

// KeypadStats reports each keypad's serial link.
func (c *Client) KeypadStats(ctx context.Context) ([]KeypadStats, error) {
	var st []KeypadStats
	err := c.call(ctx, http.MethodGet, PathKeypad, nil, nil, &st)
	return st, err
}

// CameraSnapshot returns a JPEG of the camera's current frame.
func (c *Client) CameraSnapshot(ctx context.Context) ([]byte, error) {
	resp, err := c.send(ctx, http.MethodGet, PathSnapshot, nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("localapi: snapshot: %w", err)
	}
	return b, nil
}

// Resync asks the daemon to fetch a full snapshot from the cloud.
func (c *Client) Resync(ctx context.Context) error {
	return c.call(ctx, http.MethodPost, PathResync, nil, nil, nil)
}

// SetLogLevel changes the daemon's log level.
func (c *Client) SetLogLevel(ctx context.Context, l slog.Level) error {
	return c.call(ctx, http.MethodPost, PathLogLevel, nil, LogLevelRequest{Level: l.String()}, nil)
}

// SetLockdown turns lockdown on or off.
func (c *Client) SetLockdown(ctx context.Context, on bool) error {
	return c.call(ctx, http.MethodPost, PathLockdown, nil, LockdownRequest{On: on}, nil)
}

// Sim injects a simulated input (simulation mode only: ErrNotSim otherwise).
func (c *Client) Sim(ctx context.Context, r SimRequest) error {
	return c.call(ctx, http.MethodPost, PathSim, nil, r, nil)
}

// Close releases the client's idle connections.
func (c *Client) Close() {
	if c.hc != nil {
		c.hc.CloseIdleConnections()
	}
}
