package cloudsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// File is a State persisted as JSON at a path, shared by processes through
// an exclusive flock on path + ".lock".
type File struct{ Path string }

// View calls fn with the current state under a shared lock.
func (f File) View(fn func(*State) error) error {
	return f.locked(syscall.LOCK_SH, func() error {
		st, err := f.load()
		if err != nil {
			return err
		}
		return fn(st)
	})
}

// Update calls fn with the current state under an exclusive lock and saves
// the state if fn returns nil.
func (f File) Update(fn func(*State) error) error {
	return f.locked(syscall.LOCK_EX, func() error {
		st, err := f.load()
		if err != nil {
			return err
		}
		if err := fn(st); err != nil {
			return err
		}
		return f.save(st)
	})
}

func (f File) locked(how int, fn func() error) error {
	lf, err := os.OpenFile(f.Path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("cloudsim: lock %s: %w", f.Path, err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), how); err != nil {
		return fmt.Errorf("cloudsim: lock %s: %w", f.Path, err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	return fn()
}

func (f File) load() (*State, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return NewState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("cloudsim: read state: %w", err)
	}
	st := NewState()
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("cloudsim: state file %s: %w", f.Path, err)
	}
	st.init()
	return st, nil
}

func (f File) save(st *State) error {
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return fmt.Errorf("cloudsim: encode state: %w", err)
	}
	tmp := f.Path + ".tmp"
	// The state holds the stand-in's secrets: owner only.
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("cloudsim: write state: %w", err)
	}
	if err := os.Rename(tmp, f.Path); err != nil {
		return fmt.Errorf("cloudsim: write state: %w", err)
	}
	return nil
}
